"""fcnsweep's train/validation split in pure Python: the same images, not just the same sizes.

crates/data/src/split.rs permutes the indices 0..60000 with rand 0.9's `SliceRandom::shuffle`
driven by `ChaCha8Rng::seed_from_u64(split_seed)` (rand_chacha 0.9, stream 0) and holds out the
first `validation` of them. This module re-implements exactly that chain from the crates'
sources: rand_core's PCG32 seed expansion, the ChaCha keystream (64-bit block counter and
stream words, 8 rounds), rand's `IncreasingUniform` (several indices from one u32) and its
biased-widening `random_range(..bound)` for u32. The ChaCha block function is checked against
rand_chacha's own test vectors (ChaCha20) and the shuffle against rand's own shuffle test
(with its Pcg32); `python3 fcnsweep_split.py` runs the checks.

Checked against fcnsweep itself (2026-12-01): `fcnsweep train --hidden 1 --train-subset 1
--batch-size 1 --epochs 1 --lr 1e-30 --json` (split_seed 0, validation 10000, seed 0) reports
train_loss 2.5908866 on the first training image and val_loss 2.4030272 / val_acc 0.0989 on the
validation set; the same 784-1-10 network rebuilt in numpy from the ChaCha8 init stream (stream
0, rand's UniformFloat) on split_indices(60000, 10000, 0) gives 2.5908867, 2.4030273 and 0.0989
(numpy's RandomState(0) split: 2.3972 and 0.1019).
"""

import struct

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF


def pcg32_seed(state):
    """rand_core 0.9 SeedableRng::seed_from_u64: 32 seed bytes from PCG32 outputs."""
    out = b""
    for _ in range(8):
        state = (state * 6364136223846793005 + 11634580027462260723) & MASK64
        xorshifted = (((state >> 18) ^ state) >> 27) & MASK32
        rot = state >> 59
        x = ((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & MASK32
        out += struct.pack("<I", x)
    return out


def _rotl(v, c):
    return ((v << c) & MASK32) | (v >> (32 - c))


def chacha_block(key_words, counter, stream, rounds):
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *key_words,
         counter & MASK32, counter >> 32, stream & MASK32, stream >> 32]
    x = list(s)

    def qr(a, b, c, d):
        x[a] = (x[a] + x[b]) & MASK32
        x[d] = _rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & MASK32
        x[b] = _rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & MASK32
        x[d] = _rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & MASK32
        x[b] = _rotl(x[b] ^ x[c], 7)

    for _ in range(rounds // 2):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
    return [(a + b) & MASK32 for a, b in zip(x, s)]


class ChaCha:
    """rand_chacha's ChaChaXRng as a stream of u32 words (its 4-block buffer is sequential)."""

    def __init__(self, seed_bytes, rounds=8, stream=0):
        self.key = list(struct.unpack("<8I", seed_bytes))
        self.rounds, self.stream = rounds, stream
        self.counter, self.buf, self.pos = 0, [], 0

    @classmethod
    def seed_from_u64(cls, seed, rounds=8):
        return cls(pcg32_seed(seed), rounds)

    def next_u32(self):
        if self.pos == len(self.buf):
            self.buf = chacha_block(self.key, self.counter, self.stream, self.rounds)
            self.counter += 1
            self.pos = 0
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def random_range_u32(self, bound):
        """rand 0.9 `random_range(..bound)` for u32 (sample_single_inclusive, not "unbiased")."""
        rng_range = bound  # high - low + 1 with low 0, high bound - 1
        m = self.next_u32() * rng_range
        result, lo = m >> 32, m & MASK32
        if lo > ((-rng_range) & MASK32):
            new_hi = (self.next_u32() * rng_range) >> 32
            result += 1 if lo + new_hi > MASK32 else 0
        return result


def _bound_u32(m):
    """rand's calculate_bound_u32: (m·(m+1)·…, how many factors fit in a u32)."""
    product, current = m, m + 1
    while product * current <= MASK32:
        product *= current
        current += 1
    return product, current - m


def shuffle(items, rng):
    """rand 0.9 `SliceRandom::shuffle` (partial_shuffle with amount = len, IncreasingUniform)."""
    if len(items) <= 1:
        return items
    n, chunk, remaining = 0, 0, 1  # IncreasingUniform::new(rng, m = 0): chunk_remaining 1
    for i in range(len(items)):
        next_n = n + 1
        if remaining == 0:
            bound, count = _bound_u32(next_n)
            chunk = rng.random_range_u32(bound)
            next_remaining = count - 1
        else:
            next_remaining = remaining - 1
        if next_remaining == 0:
            index = chunk
        else:
            index = chunk % next_n
            chunk //= next_n
        remaining, n = next_remaining, next_n
        items[i], items[index] = items[index], items[i]
    return items


def split_indices(total, validation, split_seed):
    """(training indices, validation indices) as crates/data/src/split.rs Splits::new."""
    order = shuffle(list(range(total)), ChaCha.seed_from_u64(split_seed))
    return order[validation:], order[:validation]


class _Pcg32:
    """rand_pcg's Pcg32::new(state, stream), the RNG of rand's own tests (crate::test::rng)."""

    def __init__(self, state, stream):
        self.inc = ((stream << 1) | 1) & MASK64
        self.state = ((state + self.inc) * 6364136223846793005 + self.inc) & MASK64

    def next_u32(self):
        st = self.state
        self.state = (st * 6364136223846793005 + self.inc) & MASK64
        rot, x = st >> 59, (((st >> 18) ^ st) >> 27) & MASK32
        return ((x >> rot) | (x << ((32 - rot) & 31))) & MASK32

    random_range_u32 = ChaCha.random_range_u32


def _self_test():
    # rand_chacha 0.9 src/chacha.rs test_chacha_true_values_a / _c (ChaCha20).
    rng = ChaCha(bytes(32), rounds=20)
    got = [rng.next_u32() for _ in range(16)]
    assert got[:4] == [0xade0b876, 0x903df1a0, 0xe56a5d40, 0x28bd8653], [hex(g) for g in got]
    seed = bytes([0, 0xff] + [0] * 30)
    rng = ChaCha(seed, rounds=20)
    got = [rng.next_u32() for _ in range(48)][32:]  # the vector is block 2
    assert got[:4] == [0xfb4dd572, 0x4bc42ef1, 0xdf922636, 0x327f1394], [hex(g) for g in got]
    # test_chacha_construction: seed 0,1,2,3 as u64 LE words.
    seed = b"".join(struct.pack("<Q", i) for i in range(4))
    assert ChaCha(seed, rounds=20).next_u32() == 137206642
    # rand 0.9 src/seq/slice.rs test_slice_shuffle... (crate::test::rng(414) = Pcg32(414, INC)).
    nums = shuffle(list(range(13)), _Pcg32(414, 11634580027462260723))
    assert nums == [5, 11, 0, 8, 7, 12, 6, 4, 9, 3, 1, 2, 10], nums
    train, val = split_indices(60000, 10000, 0)
    assert sorted(train + val) == list(range(60000))
    print("ok; split_seed 0: first validation indices", val[:5], "first training", train[:5])


if __name__ == "__main__":
    _self_test()
