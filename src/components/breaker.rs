//! A circuit breaker of one caller instance for one call site: closed while
//! the share of failed calls in its sliding window stays under the threshold,
//! open (calls fail at once, unsent) for a while when it does not, then
//! half-open to let a few calls test the callee.

use std::collections::VecDeque;

use crate::base::SimTime;

use crate::topology::BreakerPolicy;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Until the given virtual time.
    Open {
        until: SimTime,
    },
    /// `admitted` test calls let through, `succeeded` of them answered
    /// well and `failed` not (counted only under the failure-rate rule: the
    /// other opens on the first).
    HalfOpen {
        admitted: u32,
        succeeded: u32,
        failed: u32,
    },
}

/// A change of state, for `events.jsonl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Opened,
    HalfOpened,
    Closed,
}

#[derive(Clone, Debug)]
pub struct Breaker {
    pub state: BreakerState,
    /// Outcomes of the calls in the window: when, and whether it failed.
    window: VecDeque<(SimTime, bool)>,
    failures: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: BreakerState::Closed,
            window: VecDeque::new(),
            failures: 0,
        }
    }
}

impl Breaker {
    /// Whether a call may be sent now. An open breaker whose time is up turns
    /// half-open here, lazily, on the first call that asks.
    pub fn admit(&mut self, now: SimTime, policy: &BreakerPolicy) -> (bool, Option<Transition>) {
        match self.state {
            BreakerState::Closed => (true, None),
            BreakerState::Open { until } if now < until => (false, None),
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen {
                    admitted: 1,
                    succeeded: 0,
                    failed: 0,
                };
                (true, Some(Transition::HalfOpened))
            }
            BreakerState::HalfOpen {
                admitted,
                succeeded,
                failed,
            } => {
                if admitted < policy.half_open_calls {
                    self.state = BreakerState::HalfOpen {
                        admitted: admitted + 1,
                        succeeded,
                        failed,
                    };
                    (true, None)
                } else {
                    (false, None)
                }
            }
        }
    }

    /// Records the outcome of a call that was sent.
    pub fn record(
        &mut self,
        now: SimTime,
        policy: &BreakerPolicy,
        failed: bool,
    ) -> Option<Transition> {
        match self.state {
            // A call sent before the breaker opened, answering late.
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen {
                admitted,
                succeeded,
                failed: failures,
            } => {
                let (succeeded, failures) = (succeeded + !failed as u32, failures + failed as u32);
                let reopen = if policy.half_open_by_rate {
                    // Judged once every test call has answered.
                    if succeeded + failures < policy.half_open_calls {
                        None
                    } else {
                        Some(failures as f64 >= policy.failure_rate * policy.half_open_calls as f64)
                    }
                } else if failed {
                    Some(true)
                } else {
                    (succeeded >= policy.half_open_calls).then_some(false)
                };
                match reopen {
                    Some(true) => {
                        self.trip(now, policy);
                        Some(Transition::Opened)
                    }
                    Some(false) => {
                        self.state = BreakerState::Closed;
                        self.window.clear();
                        self.failures = 0;
                        Some(Transition::Closed)
                    }
                    None => {
                        self.state = BreakerState::HalfOpen {
                            admitted,
                            succeeded,
                            failed: failures,
                        };
                        None
                    }
                }
            }
            BreakerState::Closed => {
                match policy.window_time {
                    Some(span) => {
                        // Calls older than the window slide out of it.
                        while let Some(&(at, old)) = self.window.front()
                            && at + span <= now
                        {
                            self.window.pop_front();
                            self.failures -= old as u32;
                        }
                    }
                    None => {
                        if self.window.len() as u32 == policy.window
                            && let Some((_, old)) = self.window.pop_front()
                        {
                            self.failures -= old as u32;
                        }
                    }
                }
                self.window.push_back((now, failed));
                self.failures += failed as u32;
                let calls = self.window.len() as u32;
                if calls >= policy.min_calls
                    && self.failures as f64 >= policy.failure_rate * calls as f64
                {
                    self.trip(now, policy);
                    Some(Transition::Opened)
                } else {
                    None
                }
            }
        }
    }

    fn trip(&mut self, now: SimTime, policy: &BreakerPolicy) {
        self.state = BreakerState::Open {
            until: now + policy.open_for,
        };
        self.window.clear();
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failure_rate: 0.5,
            window: 10,
            window_time: None,
            min_calls: 4,
            slow_call: None,
            open_for: 100,
            half_open_calls: 2,
            half_open_by_rate: false,
            first: 0,
        }
    }

    #[test]
    fn opens_at_the_failure_rate_then_half_opens_and_closes() {
        let p = policy();
        let mut b = Breaker::default();
        for failed in [false, true, false] {
            assert_eq!(b.record(SimTime(0), &p, failed), None);
        }
        // 2 failures in 4 calls reaches 50 %.
        assert_eq!(b.record(SimTime(5), &p, true), Some(Transition::Opened));
        assert_eq!(b.admit(SimTime(50), &p), (false, None));
        assert_eq!(
            b.admit(SimTime(105), &p),
            (true, Some(Transition::HalfOpened))
        );
        assert_eq!(b.admit(SimTime(106), &p), (true, None));
        assert_eq!(
            b.admit(SimTime(107), &p),
            (false, None),
            "only two test calls"
        );
        assert_eq!(b.record(SimTime(110), &p, false), None);
        assert_eq!(b.record(SimTime(111), &p, false), Some(Transition::Closed));
        assert_eq!(b.admit(SimTime(112), &p), (true, None));
    }

    #[test]
    fn a_failed_test_call_opens_it_again() {
        let p = policy();
        let mut b = Breaker::default();
        for _ in 0..4 {
            b.record(SimTime(0), &p, true);
        }
        assert!(b.admit(SimTime(100), &p).0);
        assert_eq!(b.record(SimTime(120), &p, true), Some(Transition::Opened));
        assert_eq!(
            b.state,
            BreakerState::Open {
                until: SimTime(220)
            }
        );
    }

    #[test]
    fn a_time_window_forgets_failures_older_than_its_span() {
        let p = BreakerPolicy {
            window_time: Some(1000),
            ..policy()
        };
        let mut b = Breaker::default();
        // Three failures early on, under min_calls (4): nothing yet.
        for t in [0, 10, 20] {
            assert_eq!(b.record(SimTime(t), &p, true), None);
        }
        // A second later they are gone: four successes, no failure in view.
        for t in [1100, 1110, 1120, 1130] {
            assert_eq!(b.record(SimTime(t), &p, false), None);
        }
        assert_eq!(b.failures, 0);
        // Two failures among six calls within the span: 2/6 < 50 %...
        assert_eq!(b.record(SimTime(1140), &p, true), None);
        // ...and the fourth makes it 4/8 = 50 %: open.
        assert_eq!(b.record(SimTime(1150), &p, true), None);
        assert_eq!(b.record(SimTime(1160), &p, true), None);
        assert_eq!(b.record(SimTime(1170), &p, true), Some(Transition::Opened));
    }

    #[test]
    fn old_failures_slide_out_of_the_window() {
        let p = policy();
        let mut b = Breaker::default();
        // Under the threshold all along: 1 in 4, then 2 in 5.
        for failed in [true, false, false, false, true] {
            assert_eq!(b.record(SimTime(0), &p, failed), None);
        }
        // Ten successes push both failures out of the ten-call window.
        for _ in 0..10 {
            assert_eq!(b.record(SimTime(0), &p, false), None);
        }
        assert_eq!(b.failures, 0);
    }

    #[test]
    fn under_the_failure_rate_rule_the_half_open_calls_are_judged_together() {
        let p = BreakerPolicy {
            half_open_calls: 4,
            half_open_by_rate: true,
            ..policy()
        };
        let half_open = |b: &mut Breaker| {
            b.trip(SimTime(0), &p);
            assert_eq!(b.admit(SimTime(100), &p).1, Some(Transition::HalfOpened));
            for t in 101..104 {
                assert_eq!(b.admit(SimTime(t), &p), (true, None));
            }
        };
        // One failure in four is under the 50 % rate: it closes, where the
        // all-succeed rule would have opened on that failure.
        let mut b = Breaker::default();
        half_open(&mut b);
        assert_eq!(b.record(SimTime(110), &p, true), None, "not judged yet");
        for t in 111..113 {
            assert_eq!(b.record(SimTime(t), &p, false), None);
        }
        assert_eq!(b.record(SimTime(113), &p, false), Some(Transition::Closed));
        // Two in four reaches it: open again, once the fourth has answered.
        let mut b = Breaker::default();
        half_open(&mut b);
        for (t, failed) in [(110, true), (111, false), (112, true)] {
            assert_eq!(b.record(SimTime(t), &p, failed), None);
        }
        assert_eq!(b.record(SimTime(113), &p, false), Some(Transition::Opened));
        assert!(matches!(b.state, BreakerState::Open { until } if until == SimTime(213)));
    }
}
