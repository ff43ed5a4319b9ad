//! Admission control: the token bucket of a rate limit (the callee's
//! side) and adaptive throttling (the caller's).

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

/// Slices of an adaptive throttle's window: the counts age out a tenth of
/// the window at a time.
const SLICES: usize = 10;

/// Client-side adaptive throttling (Beyer et al., *Site Reliability
/// Engineering*, ch. 21) of one call site at one caller instance: the
/// requests it made and the callee accepted over the last window, in
/// slices, with running totals so a call reads them in constant time.
#[derive(Clone, Copy, Debug, Default)]
pub struct AdaptiveThrottle {
    /// Per slice: (requests, accepts).
    slices: [(u32, u32); SLICES],
    /// The slice number (time / slice length) last written.
    current: u64,
    requests: u64,
    accepts: u64,
}

impl AdaptiveThrottle {
    /// Forgets the slices that have left the window by `now`.
    fn advance(&mut self, now: SimTime, window: u64) {
        let slice = now.ns() / (window / SLICES as u64).max(1);
        let stale = (slice - self.current).min(SLICES as u64);
        for step in 1..=stale {
            let i = ((self.current + step) % SLICES as u64) as usize;
            let (requests, accepts) = std::mem::take(&mut self.slices[i]);
            self.requests -= u64::from(requests);
            self.accepts -= u64::from(accepts);
        }
        self.current = slice;
    }

    /// The probability of rejecting the next request at `now`:
    /// max(0, (requests − k × accepts) / (requests + 1)).
    pub fn rejection(&mut self, now: SimTime, window: u64, k: f64) -> f64 {
        self.advance(now, window);
        let excess = self.requests as f64 - k * self.accepts as f64;
        (excess / (self.requests + 1) as f64).max(0.0)
    }

    /// A request made (sent or rejected here).
    pub fn note_request(&mut self) {
        self.slices[(self.current % SLICES as u64) as usize].0 += 1;
        self.requests += 1;
    }

    /// The callee accepted a request (at `now`, within the window).
    pub fn note_accept(&mut self, now: SimTime, window: u64) {
        self.advance(now, window);
        self.slices[(self.current % SLICES as u64) as usize].1 += 1;
        self.accepts += 1;
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

    #[test]
    fn adaptive_throttling_rejects_the_share_the_callee_does_not_accept() {
        let window = 120 * SECOND;
        let mut t = AdaptiveThrottle::default();
        // All accepted: never a rejection.
        for i in 0..1000 {
            let now = SimTime(i * SECOND / 100);
            assert_eq!(t.rejection(now, window, 2.0), 0.0);
            t.note_request();
            t.note_accept(now, window);
        }
        // The callee then accepts one in ten: the rejection probability
        // climbs toward (1 − k × 0.1) = 0.8 as the window fills.
        let mut p = 0.0;
        for i in 1000..30_000 {
            let now = SimTime(i * SECOND / 100);
            p = t.rejection(now, window, 2.0);
            t.note_request();
            if i % 10 == 0 {
                t.note_accept(now, window);
            }
        }
        assert!((p - 0.8).abs() < 0.01, "{p}");
        // A quiet window later it has forgotten everything.
        assert_eq!(t.rejection(SimTime(1000 * SECOND), window, 2.0), 0.0);
    }
}
