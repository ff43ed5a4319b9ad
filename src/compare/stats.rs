//! Means with Student-t confidence intervals. Seeds are independent draws of
//! the same experiment, so the per-seed figures of one variant are a sample;
//! differences paired by seed cancel the noise the variants share (same
//! traffic, same fault timing) and get intervals of their own.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::record::compare::Estimate;

/// Two-sided confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// Mean and Student-t interval of `values`, summed in the order given (grid
/// order), so the bits do not depend on scheduling.
pub fn estimate(values: &[f64]) -> Estimate {
    let n = values.len();
    if n == 0 {
        return Estimate::default();
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Estimate {
            n,
            mean: Some(mean),
            ci95_low: None,
            ci95_high: None,
        };
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t_quantile(n - 1) * (variance / n as f64).sqrt();
    Estimate {
        n,
        mean: Some(mean),
        ci95_low: Some(mean - half),
        ci95_high: Some(mean + half),
    }
}

/// The two-sided 95 % quantile of Student's t with `df` degrees of freedom.
fn t_quantile(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .expect("positive degrees of freedom")
        .inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        assert!((t_quantile(1) - 12.706).abs() < 1e-3);
        assert!((t_quantile(19) - 2.093).abs() < 1e-3);
        assert!((t_quantile(1000) - 1.962).abs() < 1e-3);
    }

    #[test]
    fn interval_of_a_small_sample() {
        // mean 3, sd 1.5811, n 5: half width 2.776 * 1.5811 / sqrt 5.
        let e = estimate(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(e.n, 5);
        assert_eq!(e.mean, Some(3.0));
        let half = e.half_width().unwrap();
        assert!((half - 1.9632).abs() < 1e-3, "{half}");
        assert_eq!(e.sign(), Some(std::cmp::Ordering::Greater));
    }

    #[test]
    fn too_few_values_have_no_interval() {
        assert_eq!(estimate(&[]).mean, None);
        let one = estimate(&[0.5]);
        assert_eq!((one.mean, one.ci95_low), (Some(0.5), None));
        assert_eq!(one.sign(), None);
        assert_eq!(one.overlaps(&one), None);
        let flat = estimate(&[2.0, 2.0, 2.0]);
        assert_eq!((flat.ci95_low, flat.ci95_high), (Some(2.0), Some(2.0)));
    }

    #[test]
    fn overlap_and_sign_of_intervals() {
        let a = estimate(&[1.0, 1.1, 0.9]);
        let b = estimate(&[5.0, 5.1, 4.9]);
        assert_eq!(a.overlaps(&b), Some(false));
        assert_eq!(a.overlaps(&a), Some(true));
        let around_zero = estimate(&[-1.0, 1.0, 0.5]);
        assert_eq!(around_zero.sign(), None);
        assert_eq!(
            estimate(&[-1.0, -1.2, -1.1]).sign(),
            Some(std::cmp::Ordering::Less)
        );
    }
}
