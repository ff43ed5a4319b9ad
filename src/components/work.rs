//! Sampling work times.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::topology::WorkTime;

/// Rounds a non-negative duration to whole nanoseconds. `f64::round` is a
/// libm call that does not inline; this is one add and one convert (the
/// `as` cast saturates, so no input can wrap).
#[inline]
pub fn nearest(nanos: f64) -> u64 {
    (nanos + 0.5) as u64
}

/// One work time in nanoseconds. Forced inline: once per activation, and
/// the match on the distribution folds into the caller's.
#[inline(always)]
pub fn sample<R: Rng + ?Sized>(work: WorkTime, rng: &mut R) -> u64 {
    match work {
        WorkTime::Constant(v) => v,
        WorkTime::Exponential { mean } => {
            let e: f64 = Exp1.sample(rng);
            nearest(e * mean)
        }
        WorkTime::Lognormal { mu, sigma } => {
            let z: f64 = StandardNormal.sample(rng);
            nearest((mu + sigma * z).exp())
        }
        WorkTime::Uniform { min, max } => rng.random_range(min..=max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::rng::stream;

    /// Kolmogorov–Smirnov distance between samples and a CDF.
    fn ks(mut samples: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
        samples.sort_by(f64::total_cmp);
        let n = samples.len() as f64;
        samples
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let f = cdf(*x);
                (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
            })
            .fold(0.0, f64::max)
    }

    // With n = 20 000 the 99.9 % critical value of the KS statistic is
    // 1.95/√n ≈ 0.0138.
    const N: usize = 20_000;
    const CRITICAL: f64 = 0.0138;

    #[test]
    fn exponential_passes_kolmogorov_smirnov() {
        let mut rng = stream(7, "test/exp");
        let mean = 2_000_000.0;
        let xs = (0..N)
            .map(|_| sample(WorkTime::Exponential { mean }, &mut rng) as f64)
            .collect();
        let d = ks(xs, |x| 1.0 - (-x / mean).exp());
        assert!(d < CRITICAL, "KS distance {d}");
    }

    #[test]
    fn uniform_passes_kolmogorov_smirnov() {
        let mut rng = stream(7, "test/uniform");
        let (min, max) = (1_000_000u64, 3_000_000u64);
        let xs = (0..N)
            .map(|_| sample(WorkTime::Uniform { min, max }, &mut rng) as f64)
            .collect();
        let d = ks(xs, |x| {
            ((x - min as f64) / (max - min) as f64).clamp(0.0, 1.0)
        });
        assert!(d < CRITICAL, "KS distance {d}");
    }

    #[test]
    fn lognormal_matches_its_mean_and_median() {
        let mut rng = stream(7, "test/lognormal");
        let (mu, sigma) = (15.0f64, 0.5f64);
        let mut xs: Vec<f64> = (0..N)
            .map(|_| sample(WorkTime::Lognormal { mu, sigma }, &mut rng) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / N as f64;
        let expected_mean = (mu + sigma * sigma / 2.0).exp();
        assert!(
            (mean / expected_mean - 1.0).abs() < 0.02,
            "{mean} vs {expected_mean}"
        );
        xs.sort_by(f64::total_cmp);
        let median = xs[N / 2];
        assert!((median / mu.exp() - 1.0).abs() < 0.02, "{median}");
    }
}
