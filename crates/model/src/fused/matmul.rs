//! A safe, bounds-checked front end to the `gemm` crate's raw-pointer matrix product, and the
//! choice of its threading.
//!
//! This is the only module of the crate that uses `unsafe` (the workspace denies it): `gemm`
//! takes raw pointers and strides, so every call checks here that each matrix view lies inside
//! its slice before handing the pointers over.
#![allow(unsafe_code)]

pub use gemm::Parallelism;

/// A read-only strided view of a `rows × cols` matrix: element `(i, j)` is
/// `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatRef<'a> {
    /// The storage the view lies in.
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between consecutive rows.
    pub rs: usize,
    /// Distance between consecutive columns.
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows × cols` matrix stored contiguously at the start of `data`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of this view (no copy: the strides swap).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Panics unless every element of the view is inside `data`.
    fn check(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(
                last < self.data.len(),
                "matrix view {}x{} (rs {}, cs {}) exceeds its {} elements",
                self.rows,
                self.cols,
                self.rs,
                self.cs,
                self.data.len()
            );
        }
    }
}

/// The parallelism `gemm` should use for this process: single-threaded when candle's thread
/// count (`RAYON_NUM_THREADS`, else the available cores) is 1, else that many rayon threads.
pub fn default_parallelism() -> Parallelism {
    let n = candle_core::utils::get_num_threads();
    if n <= 1 {
        Parallelism::None
    } else {
        Parallelism::Rayon(n)
    }
}

/// The gemm threading for a thread count: `None` = the process default
/// ([`default_parallelism`]), `Some(1)` (or 0) = single-threaded, `Some(n)` = n rayon threads.
pub fn parallelism_for(threads_hint: Option<usize>) -> Parallelism {
    match threads_hint {
        None => default_parallelism(),
        Some(0 | 1) => Parallelism::None,
        Some(n) => Parallelism::Rayon(n),
    }
}

/// `dst = scale · lhs · rhs` (or `dst += scale · lhs · rhs` when `accumulate`), with `dst`
/// the row-major `lhs.rows × rhs.cols` matrix at the start of the slice.
///
/// # Panics
/// If the inner dimensions differ or a matrix does not fit in its slice.
pub(crate) fn matmul(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    scale: f32,
    parallelism: Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions of a matrix product differ");
    assert!(
        dst.len() >= m * n,
        "destination of a matrix product too small"
    );
    lhs.check();
    rhs.check();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: `dst` holds the m×n row-major destination (checked above) and is borrowed
    // mutably, so it cannot alias `lhs` or `rhs`; every element (i, p) of lhs and (p, j) of
    // rhs that gemm reads lies inside its slice (`check`). gemm reads the destination only
    // when `read_dst` is true, and then all of it was initialized (it is a `&mut [f32]`).
    // Strides fit in isize because the slices are allocations of at most isize::MAX bytes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f64;
                for p in 0..a.cols {
                    s += f64::from(a.data[i * a.rs + p * a.cs])
                        * f64::from(b.data[p * b.rs + j * b.cs]);
                }
                out[i * b.cols + j] = s as f32;
            }
        }
        out
    }

    #[test]
    fn strided_products_match_naive() {
        let a: Vec<f32> = (0..35).map(|i| ((i * 7 % 13) as f32 - 6.0) / 4.0).collect();
        let b: Vec<f32> = (0..20).map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0).collect();
        // a as 5x7, b as 4x5 transposed (5x4).
        let am = MatRef::row_major(&a, 5, 7);
        let bm = MatRef::row_major(&b, 4, 5).t();
        let amt = am.t(); // 7x5
        let expect = naive(amt, bm); // 7x4
        for par in [Parallelism::None, Parallelism::Rayon(2)] {
            let mut dst = vec![1.0f32; 28];
            matmul(&mut dst, amt, bm, false, 1.0, par);
            for (g, e) in dst.iter().zip(&expect) {
                assert!((g - e).abs() < 1e-5, "{g} vs {e}");
            }
            matmul(&mut dst, amt, bm, true, -0.5, par);
            for (g, e) in dst.iter().zip(&expect) {
                assert!((g - 0.5 * e).abs() < 1e-4, "{g} vs {e}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn out_of_bounds_view_panics() {
        let a = vec![0.0f32; 10];
        let mut dst = vec![0.0f32; 16];
        matmul(
            &mut dst,
            MatRef::row_major(&a, 4, 4),
            MatRef::row_major(&a, 4, 2),
            false,
            1.0,
            Parallelism::None,
        );
    }
}
