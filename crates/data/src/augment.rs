//! Training-time data augmentation: random translations and horizontal flips of each image,
//! drawn anew every epoch, as torchvision's `RandomCrop(size, padding=shift)` followed by
//! `RandomHorizontalFlip(p=0.5)`.
//!
//! It works on the [0, 1] pixels before any standardization, so the pixels shifted in are
//! black (0), as torchvision's zero padding. Validation and test images are never augmented.

use rand::Rng;

/// Which augmentations a run trains with; the default changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Augment {
    /// Largest translation in pixels, along each axis independently (0: none).
    pub shift: usize,
    /// Mirror each image left-right with probability 1/2.
    pub flip: bool,
}

impl Augment {
    /// True when this augmentation leaves every image as it is.
    pub fn is_identity(&self) -> bool {
        self.shift == 0 && !self.flip
    }

    /// Augments one `rows` x `cols` image (row-major) in place, drawing from `rng`: a crop
    /// offset for each axis in `0..=2*shift` (when shifting), then a coin for the flip (when
    /// flipping). `scratch` must hold `rows * cols` values; its contents are overwritten.
    pub fn apply(
        &self,
        image: &mut [f32],
        rows: usize,
        cols: usize,
        scratch: &mut [f32],
        rng: &mut impl Rng,
    ) {
        debug_assert_eq!(image.len(), rows * cols);
        if self.shift > 0 {
            // torchvision: pad by `shift`, crop at (top, left) in 0..=2*shift, so the output's
            // pixel (r, c) is the input's (r + top - shift, c + left - shift). Drawn as u32,
            // whose sampling is the same on every platform.
            let span = u32::try_from(2 * self.shift).unwrap_or(u32::MAX);
            let s = self.shift as isize;
            let dy = rng.random_range(0..=span) as isize - s;
            let dx = rng.random_range(0..=span) as isize - s;
            translate(image, rows, cols, dy, dx, scratch);
        }
        if self.flip && rng.random_bool(0.5) {
            for row in image.chunks_exact_mut(cols) {
                row.reverse();
            }
        }
    }
}

/// Sets `image[r][c]` to the old `image[r + dy][c + dx]`, 0 outside the image.
fn translate(image: &mut [f32], rows: usize, cols: usize, dy: isize, dx: isize, out: &mut [f32]) {
    if dy == 0 && dx == 0 {
        return;
    }
    let out = &mut out[..rows * cols];
    out.fill(0.0);
    let (rows_i, cols_i) = (rows as isize, cols as isize);
    // Output columns whose source column c + dx lies inside the image.
    let c0 = (-dx).clamp(0, cols_i) as usize;
    let c1 = (cols_i - dx).clamp(0, cols_i) as usize;
    if c0 < c1 {
        for r in 0..rows_i {
            let src = r + dy;
            if !(0..rows_i).contains(&src) {
                continue;
            }
            let (r, src) = (r as usize, src as usize);
            // The source column of output column c0 is c0 + dx, inside the image.
            let from = src * cols + (c0 as isize + dx) as usize;
            out[r * cols + c0..r * cols + c1].copy_from_slice(&image[from..from + (c1 - c0)]);
        }
    }
    image.copy_from_slice(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A 3x4 image whose pixel (r, c) is 1 + 4r + c.
    fn image() -> Vec<f32> {
        (0..12).map(|i| 1.0 + i as f32).collect()
    }

    #[test]
    fn translation_moves_content_and_fills_with_black() {
        let mut img = image();
        let mut scratch = vec![f32::NAN; 12];
        // Output (r, c) = input (r + 1, c - 1): content moves up one row and right one column.
        translate(&mut img, 3, 4, 1, -1, &mut scratch);
        #[rustfmt::skip]
        let want = [
            0.0, 5.0, 6.0, 7.0,
            0.0, 9.0, 10.0, 11.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(img, want);
    }

    #[test]
    fn translation_beyond_the_image_leaves_it_black() {
        let mut img = image();
        let mut scratch = vec![0.0; 12];
        translate(&mut img, 3, 4, 0, 4, &mut scratch);
        assert!(img.iter().all(|&x| x == 0.0), "{img:?}");
        let mut img = image();
        translate(&mut img, 3, 4, -3, 0, &mut scratch);
        assert!(img.iter().all(|&x| x == 0.0), "{img:?}");
    }

    #[test]
    fn identity_changes_nothing_and_draws_nothing() {
        let aug = Augment::default();
        assert!(aug.is_identity());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut img = image();
        aug.apply(&mut img, 3, 4, &mut [0.0; 12], &mut rng);
        assert_eq!(img, image());
        assert_eq!(rng.get_word_pos(), 0);
    }

    #[test]
    fn flips_mirror_rows_about_half_the_time() {
        let aug = Augment {
            shift: 0,
            flip: true,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mirrored: Vec<f32> = image()
            .chunks(4)
            .flat_map(|r| r.iter().rev().copied())
            .collect();
        let mut flipped = 0;
        for _ in 0..1000 {
            let mut img = image();
            aug.apply(&mut img, 3, 4, &mut [0.0; 12], &mut rng);
            if img == mirrored {
                flipped += 1;
            } else {
                assert_eq!(img, image());
            }
        }
        // Binomial(1000, 1/2): 5 standard deviations is +-79.
        assert!((421..=579).contains(&flipped), "{flipped} flips of 1000");
    }

    #[test]
    fn shifts_cover_every_offset_uniformly_and_keep_pixels() {
        let aug = Augment {
            shift: 1,
            flip: false,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..9000 {
            // One lit pixel in the middle of a 3x3 image shows the offset.
            let mut img = vec![0.0; 9];
            img[4] = 1.0;
            aug.apply(&mut img, 3, 3, &mut [0.0; 9], &mut rng);
            let at = img
                .iter()
                .position(|&x| x == 1.0)
                .expect("the pixel stays inside");
            assert_eq!(img.iter().sum::<f32>(), 1.0);
            *seen.entry(at).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 9, "{seen:?}");
        // Each of the 9 offsets: Binomial(9000, 1/9), SD 29.8; 5 SDs either side of 1000.
        assert!(
            seen.values().all(|&n| (851..=1149).contains(&n)),
            "{seen:?}"
        );
    }

    #[test]
    fn the_same_stream_gives_the_same_images() {
        let aug = Augment {
            shift: 2,
            flip: true,
        };
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..20)
                .map(|_| {
                    let mut img = image();
                    aug.apply(&mut img, 3, 4, &mut [0.0; 12], &mut rng);
                    img
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }
}
