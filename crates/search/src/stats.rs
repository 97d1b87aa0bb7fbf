//! Small-sample statistics for comparing runs across seeds: means with Student's t
//! confidence intervals, and Welch's unequal-variance t-test.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean and sample standard deviation of a set of measurements (e.g. one metric over seeds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of measurements.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor `n - 1`); `None` when `n < 2`.
    pub sd: Option<f64>,
}

impl Summary {
    /// Summarizes `xs`; `None` when it is empty.
    pub fn of(xs: &[f64]) -> Option<Summary> {
        if xs.is_empty() {
            return None;
        }
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let sd = sample_variance(xs, mean).map(f64::sqrt);
        Some(Summary { n, mean, sd })
    }

    /// Standard error of the mean, `sd / sqrt(n)`; `None` when `n < 2`.
    pub fn sem(&self) -> Option<f64> {
        self.sd.map(|sd| sd / (self.n as f64).sqrt())
    }

    /// Two-sided 95% confidence interval of the mean, `mean ± t(0.975, n-1) * sem`.
    ///
    /// `None` when `n < 2` (no spread to estimate).
    pub fn ci95(&self) -> Option<(f64, f64)> {
        let sem = self.sem()?;
        let t = t_quantile(0.975, (self.n - 1) as f64)?;
        Some((self.mean - t * sem, self.mean + t * sem))
    }

    /// [`Summary::ci95`] cut to `[lo, hi]`, the values the quantity can take (an accuracy's
    /// interval with 2 seeds, t = 12.7, easily reaches past 0 or 1).
    pub fn ci95_within(&self, lo: f64, hi: f64) -> Option<(f64, f64)> {
        self.ci95().map(|(a, b)| (a.max(lo), b.min(hi)))
    }
}

/// Result of Welch's two-sample t-test (unequal variances), as in
/// `scipy.stats.ttest_ind(a, b, equal_var=False)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchTest {
    /// `mean(a) - mean(b)`.
    pub diff: f64,
    /// The t statistic, `diff / sqrt(var(a)/n_a + var(b)/n_b)`.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Welch's t-test of whether `a` and `b` have the same mean; `None` when either has fewer
/// than two values.
///
/// When both samples have zero variance the test is degenerate: `df` is then
/// `n_a + n_b - 2`, and equal means give `t = 0, p = 1` while different means give
/// `t = ±inf` (the sign of `diff`) and `p = 0`.
pub fn welch(a: &[f64], b: &[f64]) -> Option<WelchTest> {
    let sa = Summary::of(a)?;
    let sb = Summary::of(b)?;
    let (va, vb) = (sa.sd? * sa.sd?, sb.sd? * sb.sd?);
    let (na, nb) = (sa.n as f64, sb.n as f64);
    let diff = sa.mean - sb.mean;
    let (wa, wb) = (va / na, vb / nb);
    let se2 = wa + wb;
    if se2 == 0.0 {
        let df = na + nb - 2.0;
        return Some(if diff == 0.0 {
            WelchTest {
                diff,
                t: 0.0,
                df,
                p: 1.0,
            }
        } else {
            WelchTest {
                diff,
                t: f64::INFINITY.copysign(diff),
                df,
                p: 0.0,
            }
        });
    }
    let t = diff / se2.sqrt();
    let df = se2 * se2 / (wa * wa / (na - 1.0) + wb * wb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    // The survival function keeps precision for tiny p-values, unlike `1 - cdf`.
    let p = (2.0 * dist.sf(t.abs())).min(1.0);
    Some(WelchTest { diff, t, df, p })
}

/// Sample variance (divisor `n - 1`) around `mean`; `None` when `xs` has fewer than 2 values.
fn sample_variance(xs: &[f64], mean: f64) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    Some(ss / (xs.len() - 1) as f64)
}

/// Quantile `p` of the standard Student's t distribution with `df` degrees of freedom;
/// `None` when `df` is not positive.
fn t_quantile(p: f64, df: f64) -> Option<f64> {
    StudentsT::new(0.0, 1.0, df)
        .ok()
        .map(|dist| dist.inverse_cdf(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() <= tol,
            "{actual} differs from {expected} by more than {tol}"
        );
    }

    // Reference values below were computed with SciPy 1.17.1 / NumPy:
    // np.mean, np.std(ddof=1), scipy.stats.sem, scipy.stats.t.ppf,
    // scipy.stats.t.interval and scipy.stats.ttest_ind(a, b, equal_var=False).
    const SAMPLE: [f64; 8] = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];

    #[test]
    fn summary_of_a_small_sample() {
        let s = Summary::of(&SAMPLE).unwrap();
        assert_eq!(s.n, 8);
        close(s.mean, 5.0, 1e-12);
        close(s.sd.unwrap(), 2.138089935299395, 1e-12);
        close(s.sem().unwrap(), 0.7559289460184544, 1e-12);
    }

    #[test]
    fn t_quantiles_match_tables() {
        // scipy.stats.t.ppf(0.975, 4) and (0.975, 7).
        close(t_quantile(0.975, 4.0).unwrap(), 2.7764451051977934, 1e-8);
        close(t_quantile(0.975, 7.0).unwrap(), 2.364624251592784, 1e-8);
        assert!(t_quantile(0.975, 0.0).is_none());
    }

    #[test]
    fn ci95_of_a_small_sample() {
        // scipy.stats.t.interval(0.95, 7, loc=5.0, scale=sem).
        let (lo, hi) = Summary::of(&SAMPLE).unwrap().ci95().unwrap();
        close(lo, 3.21251208176379, 1e-8);
        close(hi, 6.787487918236209, 1e-8);
    }

    #[test]
    fn summary_degenerate_cases() {
        assert!(Summary::of(&[]).is_none());
        let one = Summary::of(&[0.9]).unwrap();
        assert_eq!((one.n, one.mean, one.sd), (1, 0.9, None));
        assert!(one.sem().is_none());
        assert!(one.ci95().is_none());
        let flat = Summary::of(&[0.5, 0.5, 0.5]).unwrap();
        assert_eq!(flat.sd, Some(0.0));
        assert_eq!(flat.ci95(), Some((0.5, 0.5)));
        // Two accuracies far apart: the raw interval leaves [0, 1], the bounded one does not.
        let wide = Summary::of(&[0.2, 0.9]).unwrap();
        let (lo, hi) = wide.ci95().unwrap();
        assert!(lo < 0.0 && hi > 1.0, "{lo} {hi}");
        assert_eq!(wide.ci95_within(0.0, 1.0), Some((0.0, 1.0)));
    }

    #[test]
    fn welch_matches_scipy() {
        let a = [0.8567, 0.8612, 0.8590, 0.8641, 0.8575];
        let b = [0.8502, 0.8533, 0.8489, 0.8551, 0.8540, 0.8497];
        let w = welch(&a, &b).unwrap();
        close(w.diff, 0.00783333333333347, 1e-12);
        close(w.t, 4.59347238348149, 1e-8);
        close(w.df, 8.022181029654181, 1e-8);
        close(w.p, 0.0017577894337995445, 1e-6);
        let r = welch(&b, &a).unwrap();
        close(r.t, -4.59347238348149, 1e-8);
        close(r.p, w.p, 1e-15);

        let w = welch(&[1.0, 2.0, 3.0], &[1.5, 2.5, 3.5, 10.0]).unwrap();
        close(w.t, -1.18518743694843, 1e-8);
        close(w.df, 3.524402511497195, 1e-8);
        close(w.p, 0.30965760203847703, 1e-6);
    }

    #[test]
    fn welch_degenerate_cases() {
        assert!(welch(&[1.0], &[1.0, 2.0]).is_none());
        assert!(welch(&[1.0, 2.0], &[]).is_none());

        let same = welch(&[0.5, 0.5], &[0.5, 0.5, 0.5]).unwrap();
        assert_eq!((same.diff, same.t, same.df, same.p), (0.0, 0.0, 3.0, 1.0));

        let apart = welch(&[0.4, 0.4], &[0.5, 0.5, 0.5]).unwrap();
        assert_eq!(apart.t, f64::NEG_INFINITY);
        assert_eq!((apart.df, apart.p), (3.0, 0.0));
        let apart = welch(&[0.5, 0.5, 0.5], &[0.4, 0.4]).unwrap();
        assert_eq!(apart.t, f64::INFINITY);

        // Only one sample constant: the ordinary formula applies.
        let one_flat = welch(&[0.5, 0.5, 0.5], &[0.4, 0.6]).unwrap();
        assert_eq!(one_flat.t, 0.0);
        close(one_flat.p, 1.0, 1e-12);
    }
}
