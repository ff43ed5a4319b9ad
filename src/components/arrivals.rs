//! Open-loop Poisson arrivals with a piecewise rate: exact for steps (the
//! exponential is memoryless, so a draw that crosses a segment boundary is
//! restarted from it at the new rate) and by thinning for linear ramps.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1};

use crate::base::SimTime;
use crate::topology::RateSegment;

#[derive(Clone, Debug)]
pub struct ArrivalProcess {
    segment: usize,
    /// Continuous time of the last arrival (ns); rounded only when scheduled.
    t: f64,
}

impl ArrivalProcess {
    pub fn new() -> Self {
        ArrivalProcess { segment: 0, t: 0.0 }
    }

    /// Time of the next arrival in whole nanoseconds, or `None` if the rate
    /// stays zero for ever.
    // Forced inline: once per request, from the engine's arrival path.
    #[inline(always)]
    pub fn next<R: Rng + ?Sized>(
        &mut self,
        segments: &[RateSegment],
        rng: &mut R,
    ) -> Option<SimTime> {
        loop {
            let seg = segments.get(self.segment)?;
            let rate_max = seg.rate_start.max(seg.rate_end);
            if rate_max <= 0.0 {
                if seg.end == u64::MAX {
                    return None;
                }
                self.t = seg.end as f64;
                self.segment += 1;
                continue;
            }
            let gap: f64 = Exp1.sample(rng);
            let candidate = self.t + gap / rate_max;
            if seg.end != u64::MAX && candidate >= seg.end as f64 {
                self.t = seg.end as f64;
                self.segment += 1;
                continue;
            }
            self.t = candidate;
            if seg.rate_start != seg.rate_end {
                let span = (seg.end - seg.start) as f64;
                let rate = seg.rate_start
                    + (seg.rate_end - seg.rate_start) * (candidate - seg.start as f64) / span;
                if rng.random::<f64>() * rate_max > rate {
                    continue;
                }
            }
            return Some(SimTime(super::work::nearest(candidate)));
        }
    }
}

impl Default for ArrivalProcess {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::rng::stream;

    fn count_in(segments: &[RateSegment], from: u64, to: u64) -> usize {
        let mut rng = stream(1, "test/arrivals");
        let mut process = ArrivalProcess::new();
        let mut n = 0;
        while let Some(t) = process.next(segments, &mut rng) {
            let t = t.ns();
            if t >= to {
                break;
            }
            if t >= from {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn steps_and_ramps_produce_the_scheduled_counts() {
        const S: u64 = 1_000_000_000;
        let per_ns = 1e-9;
        let segments = [
            RateSegment {
                start: 0,
                end: 100 * S,
                rate_start: 1000.0 * per_ns,
                rate_end: 1000.0 * per_ns,
            },
            RateSegment {
                start: 100 * S,
                end: 200 * S,
                rate_start: 0.0,
                rate_end: 0.0,
            },
            RateSegment {
                start: 200 * S,
                end: 300 * S,
                rate_start: 0.0,
                rate_end: 2000.0 * per_ns,
            },
            RateSegment {
                start: 300 * S,
                end: u64::MAX,
                rate_start: 0.0,
                rate_end: 0.0,
            },
        ];
        // Poisson counts: mean 100 000 with sd ≈ 316; allow 5 sd.
        let first = count_in(&segments, 0, 100 * S) as f64;
        assert!((first - 100_000.0).abs() < 1_600.0, "{first}");
        assert_eq!(count_in(&segments, 100 * S, 200 * S), 0);
        // A ramp from 0 to 2000/s over 100 s carries 100 000 arrivals, three
        // quarters of them in its second half.
        let ramp = count_in(&segments, 200 * S, 300 * S) as f64;
        assert!((ramp - 100_000.0).abs() < 1_600.0, "{ramp}");
        let late = count_in(&segments, 250 * S, 300 * S) as f64;
        assert!((late - 75_000.0).abs() < 1_400.0, "{late}");
    }
}
