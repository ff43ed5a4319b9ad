//! Retry backoff with jitter, and the retry budget of a call site.

use rand::{Rng, RngExt};

use crate::base::SimTime;
use crate::topology::Jitter;
use crate::topology::RetryPolicy;

/// Sleep before retry number `retry` (1 for the first retry), in ns.
/// `previous` is the sleep before the previous retry (decorrelated jitter
/// grows from it).
pub fn backoff<R: Rng + ?Sized>(
    policy: &RetryPolicy,
    retry: u32,
    previous: u64,
    rng: &mut R,
) -> u64 {
    let exponential = policy.backoff as f64 * policy.multiplier.powi(retry as i32 - 1);
    let base = exponential.min(policy.max_backoff as f64) as u64;
    match policy.jitter {
        Jitter::None => base,
        Jitter::Full => rng.random_range(0..=base),
        Jitter::Equal => base / 2 + rng.random_range(0..=base - base / 2),
        Jitter::Decorrelated => {
            // The first retry grows from the base, as if the base had been
            // slept before it (AWS's `sleep = base` start).
            let low = policy.backoff;
            let previous = if previous == 0 { low } else { previous };
            let high = previous.saturating_mul(3).max(low);
            rng.random_range(low..=high).min(policy.max_backoff)
        }
    }
}

const BUCKETS: usize = 10;
const BUCKET_NS: u64 = 1_000_000_000;

/// First attempts and retries of a call site over the last ten seconds, in
/// one-second buckets.
#[derive(Clone, Debug, Default)]
pub struct RetryBudget {
    /// (second, first attempts, retries)
    buckets: [(u64, u32, u32); BUCKETS],
}

impl RetryBudget {
    fn bucket(&mut self, now: SimTime) -> &mut (u64, u32, u32) {
        let second = now.ns() / BUCKET_NS;
        let bucket = &mut self.buckets[(second % BUCKETS as u64) as usize];
        if bucket.0 != second {
            *bucket = (second, 0, 0);
        }
        bucket
    }

    pub fn note_first_attempt(&mut self, now: SimTime) {
        self.bucket(now).1 += 1;
    }

    /// Spends a retry if the budget allows one now.
    pub fn try_spend(&mut self, now: SimTime, ratio: f64, min_per_s: f64) -> bool {
        let oldest = (now.ns() / BUCKET_NS).saturating_sub(BUCKETS as u64 - 1);
        let (firsts, retries) = self
            .buckets
            .iter()
            .filter(|b| b.0 >= oldest && (b.1 > 0 || b.2 > 0))
            .fold((0u64, 0u64), |(f, r), b| (f + b.1 as u64, r + b.2 as u64));
        let allowed = ratio * firsts as f64 + min_per_s * BUCKETS as f64;
        if (retries + 1) as f64 <= allowed {
            self.bucket(now).2 += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::rng::stream;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            backoff: 100,
            multiplier: 2.0,
            max_backoff: 1000,
            jitter,
            on: u16::MAX,
            budget: None,
            budget_index: 0,
            quota: None,
            honor_retry_after: true,
        }
    }

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let mut rng = stream(1, "t");
        let p = policy(Jitter::None);
        let sleeps: Vec<u64> = (1..=6).map(|n| backoff(&p, n, 0, &mut rng)).collect();
        assert_eq!(sleeps, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_in_its_range_and_spreads() {
        let mut rng = stream(1, "t");
        for (jitter, low, high) in [(Jitter::Full, 0, 400), (Jitter::Equal, 200, 400)] {
            let p = policy(jitter);
            let draws: Vec<u64> = (0..2000).map(|_| backoff(&p, 3, 0, &mut rng)).collect();
            assert!(draws.iter().all(|d| (low..=high).contains(d)), "{jitter:?}");
            let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
            assert!(
                (mean - (low + high) as f64 / 2.0).abs() < 10.0,
                "{jitter:?} mean {mean}"
            );
        }
        let p = policy(Jitter::Decorrelated);
        let d = backoff(&p, 2, 250, &mut rng);
        assert!((100..=750).contains(&d));
    }

    #[test]
    fn the_budget_caps_retries_to_a_share_of_first_attempts() {
        let mut budget = RetryBudget::default();
        for _ in 0..100 {
            budget.note_first_attempt(SimTime::ZERO);
        }
        // 20 % of 100 plus 0 per second: twenty retries, then none.
        let granted = (0..50)
            .filter(|_| budget.try_spend(SimTime::ZERO, 0.2, 0.0))
            .count();
        assert_eq!(granted, 20);
        // Ten seconds later the window has forgotten them.
        budget.note_first_attempt(SimTime(11 * BUCKET_NS));
        assert!(!budget.try_spend(SimTime(11 * BUCKET_NS), 0.2, 0.0));
        assert!(budget.try_spend(SimTime(11 * BUCKET_NS), 0.2, 1.0));
    }
}
