//! Admission control: the token bucket of a rate limit.

use crate::base::SimTime;

/// One rate-limit bucket, kept as the generic cell rate algorithm keeps
/// it: the theoretical arrival time of the next request. It admits exactly
/// what a token bucket of `burst` tokens refilled every `interval` would,
/// in whole nanoseconds, so no rounding of fractional tokens can drift a
/// run; the refill is computed when a request comes: no timer, no event.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokenBucket {
    /// When the bucket would next hold a token had it started empty; at
    /// or before the start, it is full.
    due: u64,
}

impl TokenBucket {
    /// Takes a token if one has accrued by `now`. `interval`: ns per
    /// token; `tolerance`: (burst − 1) × interval.
    #[inline]
    pub fn take(&mut self, now: SimTime, interval: u64, tolerance: u64) -> bool {
        let now = now.ns();
        if now.saturating_add(tolerance) < self.due {
            return false;
        }
        self.due = self.due.max(now).saturating_add(interval);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_burst_then_the_rate() {
        // 10/s with a burst of 5: five at once, then one per 100 ms.
        let (interval, tolerance) = (SECOND / 10, 4 * SECOND / 10);
        let mut bucket = TokenBucket::default();
        let at_once = (0..20)
            .filter(|_| bucket.take(SimTime::ZERO, interval, tolerance))
            .count();
        assert_eq!(at_once, 5);
        // Offered 100/s for 10 s, it admits 10/s.
        let admitted = (1..=1000)
            .filter(|i| bucket.take(SimTime(i * SECOND / 100), interval, tolerance))
            .count();
        assert_eq!(admitted, 100);
        // A quiet minute refills it to the burst, not beyond.
        let t = SimTime(70 * SECOND);
        let after = (0..20)
            .filter(|_| bucket.take(t, interval, tolerance))
            .count();
        assert_eq!(after, 5);
    }
}
