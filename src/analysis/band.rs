//! The steady band: what each component looked like before the fault, and
//! each window judged against it.

use super::collect::{Collector, Sample};
use super::{Health, seconds};
use crate::base::ErrorClass;
use crate::topology::Component;

/// Successes a window needs before its median is judged.
const MEDIAN_SAMPLES: u64 = 5;
/// Successes a window needs to show its component's latency rather than a
/// few requests': fewer, and its median is judged only against the slowest
/// the steady windows showed, and sets no band.
const ENOUGH_SAMPLES: u64 = 20;
/// Successes a window needs before its 99th percentile is judged: with
/// fewer, it is one or two requests.
const TAIL_SAMPLES: u64 = 200;
/// A window whose arrivals fell below this share of the steady ones, or
/// that answered fewer than this share of its arrivals, no longer shows the
/// component's own latency: what finishes in it are the stragglers of the
/// traffic it used to get.
const REPRESENTATIVE_SHARE: f64 = 0.25;
/// Busy workers (or connections in use) at this share of the capacity,
/// averaged over a window, is all of them: a request that arrives waits.
const FULL: f64 = 0.98;
/// A component whose steady windows came this close to `FULL` (a busy one
/// at 90 % utilisation) fills up now and then in its steady state: for it,
/// full is out of band only with a queue that is.
const FULL_MARGIN: f64 = 0.1;
const MS: u64 = 1_000_000;

/// Why a window left the steady band.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reason {
    Errors {
        rate: f64,
        class: Option<u8>,
    },
    /// `median`: the median moved (else only the tail did).
    Latency {
        value: u64,
        steady: u64,
        median: bool,
    },
    Queue {
        average: f64,
        steady: f64,
    },
    /// Every worker busy all window long, with or without a queue.
    Saturated {
        busy: f64,
        capacity: u64,
    },
    PoolExhausted {
        refused: u64,
        waiting: f64,
    },
    /// Every connection of the pool in use all window long.
    PoolSaturated {
        in_use: f64,
        capacity: u64,
    },
    /// Requests arrived and few or none finished: it holds or swallows
    /// them.
    Unanswered {
        arrivals: u64,
        answered: u64,
    },
}

impl Reason {
    /// Which check it failed: a timeline span holds one kind.
    pub fn kind(&self) -> u8 {
        match self {
            Reason::Errors { .. } => 0,
            Reason::Latency { .. } => 1,
            Reason::Queue { .. } => 2,
            Reason::Saturated { .. } => 3,
            Reason::PoolExhausted { .. } => 4,
            Reason::PoolSaturated { .. } => 5,
            Reason::Unanswered { .. } => 6,
        }
    }

    /// How far out of band, comparable between reasons of one kind: a span
    /// is told by its worst window.
    pub fn magnitude(&self) -> f64 {
        match *self {
            Reason::Errors { rate, .. } => rate,
            Reason::Latency { value, .. } => value as f64,
            Reason::Queue { average, .. } => average,
            Reason::Saturated { busy, .. } => busy,
            Reason::PoolExhausted { refused, waiting } => refused as f64 + waiting,
            Reason::PoolSaturated { in_use, .. } => in_use,
            Reason::Unanswered { arrivals, answered } => (arrivals - answered) as f64,
        }
    }

    /// How long before the window it was seen in the trouble began: a slow
    /// request is measured when it finishes, `value` after it started.
    pub fn lag(&self) -> u64 {
        match *self {
            Reason::Latency { value, .. } => value,
            _ => 0,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Reason::Errors { rate, class } => {
                write!(f, "errors {:.1} %", rate * 100.0)?;
                if let Some(class) = class {
                    write!(f, " (mostly {})", ErrorClass::ALL[class as usize].name())?;
                }
                Ok(())
            }
            Reason::Latency {
                value,
                steady,
                median,
            } => {
                let what = if median { "median" } else { "p99" };
                write!(f, "{what} {} (steady {})", human(value), human(steady))
            }
            Reason::Queue { average, steady } => {
                write!(f, "queue {average:.0} waiting (steady {steady:.1})")
            }
            Reason::Saturated { busy, capacity } => {
                write!(f, "every worker busy ({busy:.1} of {capacity})")
            }
            Reason::PoolExhausted { refused, waiting } => {
                write!(
                    f,
                    "pool exhausted ({refused} refused, {waiting:.1} waiting)"
                )
            }
            Reason::PoolSaturated { in_use, capacity } => {
                write!(f, "every connection in use ({in_use:.1} of {capacity})")
            }
            Reason::Unanswered {
                arrivals,
                answered: 0,
            } => {
                write!(f, "none of {arrivals} arrivals answered")
            }
            Reason::Unanswered { arrivals, answered } => {
                write!(f, "only {answered} of {arrivals} arrivals answered")
            }
        }
    }
}

fn human(ns: u64) -> String {
    if ns >= 1_000_000_000 {
        format!("{:.2} s", ns as f64 / 1e9)
    } else if ns >= 1_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.0} µs", ns as f64 / 1e3)
    }
}

/// The steady band of one component, from the steady windows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Band {
    /// Steady windows it was learned from; 0: no baseline, so latency is
    /// not judged (there is nothing to compare it with).
    pub windows: u32,
    pub error_rate: f64,
    /// The highest window median, of windows with enough completions to
    /// have one (a window of five requests would widen it at random).
    pub p50: u64,
    pub p99: u64,
    /// The slowest a window's 99th percentile was: what a handful of
    /// completions can show without meaning anything.
    pub tail: u64,
    pub queue: f64,
    pub waiters: f64,
    /// Mean arrivals per window.
    pub arrivals: f64,
    /// Highest share of the workers (or a pool's connections) in use.
    pub busy_share: f64,
    /// Highest share of a pool's demand refused.
    pub refused_rate: f64,
}

impl Band {
    fn learn<'a>(samples: impl Iterator<Item = &'a Sample>) -> Band {
        let mut band = Band::default();
        let mut thin_p50 = 0;
        let mut arrivals = 0u64;
        for s in samples {
            band.windows += 1;
            arrivals += s.arrivals;
            if s.finished() >= 5 {
                band.error_rate = band.error_rate.max(s.error_rate());
            }
            if s.ok >= ENOUGH_SAMPLES {
                band.p50 = band.p50.max(s.p50);
            }
            if s.ok >= MEDIAN_SAMPLES {
                thin_p50 = thin_p50.max(s.p50);
                band.tail = band.tail.max(s.p99);
            }
            if s.ok >= TAIL_SAMPLES {
                band.p99 = band.p99.max(s.p99);
            }
            band.queue = band.queue.max(s.queue_avg);
            band.waiters = band.waiters.max(s.waiters_avg);
            band.busy_share = band.busy_share.max(share(s));
            if s.refused > 0 {
                band.refused_rate = band.refused_rate.max(refused_rate(s));
            }
        }
        if band.windows > 0 {
            band.arrivals = arrivals as f64 / f64::from(band.windows);
        }
        if band.p50 == 0 {
            // Thin traffic throughout: the few-request windows are all
            // there is.
            band.p50 = thin_p50;
        }
        band
    }

    /// Judges one window. Small counts are not judged on rates: a handful
    /// of requests says little.
    /// `window`: its length (ns).
    pub fn judge(&self, component: Component, s: &Sample, window: u64) -> (Health, Option<Reason>) {
        if let Component::Pool(_) = component {
            return self.judge_pool(s);
        }
        let rate = s.error_rate();
        if s.errors >= 3 && rate > self.error_rate + 0.01 {
            let health = if rate >= 0.5 {
                Health::Down
            } else {
                Health::Degraded
            };
            let reason = Reason::Errors {
                rate,
                class: s.main_error,
            };
            return (health, Some(reason));
        }
        if s.capacity > 0
            && s.queue_avg > (2.0 * self.queue).max(self.queue + 1.0)
            && s.busy_avg >= 0.9 * s.capacity as f64
        {
            let reason = Reason::Queue {
                average: s.queue_avg,
                steady: self.queue,
            };
            return (Health::Degraded, Some(reason));
        }
        // A queue is not needed: a caller held by a slow callee keeps every
        // worker waiting while its own queue may be short or absent.
        if s.capacity > 0 && share(s) >= FULL && self.busy_share < FULL - FULL_MARGIN {
            let reason = Reason::Saturated {
                busy: s.busy_avg,
                capacity: s.capacity,
            };
            return (Health::Degraded, Some(reason));
        }
        if self.unanswered(s, window) {
            let reason = Reason::Unanswered {
                arrivals: s.arrivals,
                answered: s.finished(),
            };
            return (Health::Degraded, Some(reason));
        }
        match self.slow(s) {
            Some(reason) => (Health::Degraded, Some(reason)),
            None => (Health::Healthy, None),
        }
    }

    /// Requests keep arriving and (almost) none is answered. Counts per
    /// window match only when answers take a small part of a window: a
    /// component that is slow in its steady state is judged on none at all.
    fn unanswered(&self, s: &Sample, window: u64) -> bool {
        if s.arrivals < MEDIAN_SAMPLES || self.arrivals < 1.0 || s.finished() > s.arrivals {
            return false;
        }
        s.finished() == 0
            || (self.windows > 0
                && self.tail.saturating_mul(4) < window
                && (s.finished() as f64) < REPRESENTATIVE_SHARE * s.arrivals as f64)
    }

    fn judge_pool(&self, s: &Sample) -> (Health, Option<Reason>) {
        let refused = s.refused >= 3 && refused_rate(s) > self.refused_rate + 0.01;
        if refused || s.waiters_avg > (2.0 * self.waiters).max(0.5) {
            let reason = Reason::PoolExhausted {
                refused: s.refused,
                waiting: s.waiters_avg,
            };
            return (Health::Degraded, Some(reason));
        }
        if s.capacity > 0 && share(s) >= FULL && self.busy_share < FULL - FULL_MARGIN {
            let reason = Reason::PoolSaturated {
                in_use: s.in_use_avg,
                capacity: s.capacity,
            };
            return (Health::Degraded, Some(reason));
        }
        (Health::Healthy, None)
    }

    /// A slowdown moves the median; noise moves only the tail, and a
    /// window's p99 rests on a handful of requests unless it has many. A
    /// window that receives a fraction of its steady traffic finishes
    /// mostly the stragglers of what came before: its median counts only
    /// when it is slower than anything the steady windows showed.
    fn slow(&self, s: &Sample) -> Option<Reason> {
        if self.windows == 0 || self.p50 == 0 || s.ok < MEDIAN_SAMPLES {
            return None;
        }
        let representative = s.ok >= ENOUGH_SAMPLES
            && s.arrivals as f64 >= REPRESENTATIVE_SHARE * self.arrivals
            && s.ok as f64 >= REPRESENTATIVE_SHARE * s.arrivals as f64;
        let median_limit = if representative {
            (2 * self.p50).max(self.p50 + MS)
        } else {
            (2 * self.p50).max(self.tail).max(self.p50 + MS)
        };
        if s.p50 > median_limit {
            return Some(Reason::Latency {
                value: s.p50,
                steady: self.p50,
                median: true,
            });
        }
        let slow_tail = representative
            && s.ok >= TAIL_SAMPLES
            && self.p99 > 0
            && s.p99 > (3 * self.p99).max(self.p99 + 5 * MS);
        slow_tail.then_some(Reason::Latency {
            value: s.p99,
            steady: self.p99,
            median: false,
        })
    }
}

/// Share of the workers (services) or connections (pools) in use: a row
/// has one of the two levels, the other is zero.
fn share(s: &Sample) -> f64 {
    if s.capacity == 0 {
        return 0.0;
    }
    (s.busy_avg + s.in_use_avg) / s.capacity as f64
}

/// Share of a pool's demand it refused; all of it when its caller received
/// nothing (retries, probes).
fn refused_rate(s: &Sample) -> f64 {
    s.refused as f64 / s.demand.max(s.refused).max(1) as f64
}

/// The steady windows and each component's band learned from them.
pub(super) struct Steady {
    /// The steady windows, `[from, to)` by index.
    pub from: usize,
    pub to: usize,
    /// By component index.
    pub bands: Vec<Band>,
}

impl Steady {
    pub(super) fn learn<O>(collector: &Collector<O>, warmup: u64, first_fault: u64) -> Steady {
        let (from, to) = steady_windows(&collector.windows, warmup, first_fault);
        let bands = (0..collector.components.len())
            .map(|c| Band::learn((from..to).map(|w| collector.sample(w, c))))
            .collect();
        Steady { from, to, bands }
    }

    /// The steady windows in seconds, `[from, to)`; 0 for an empty end.
    pub(super) fn seconds(&self, windows: &[(u64, u64)]) -> (f64, f64) {
        let from = windows.get(self.from).map_or(0.0, |w| seconds(w.0));
        let to = self
            .to
            .checked_sub(1)
            .and_then(|w| windows.get(w))
            .map_or(0.0, |w| seconds(w.1));
        (from, to)
    }
}

/// Steady windows: those of the warm-up, less the first (queues fill in
/// it) when enough remain; with a short warm-up, those before the first
/// fault. Never a window the fault reaches, even one inside the warm-up:
/// a band that holds the fault cannot see it. Empty when the fault starts
/// in the first window; the bands then know no latency (`Band::windows`).
fn steady_windows(windows: &[(u64, u64)], warmup: u64, first_fault: u64) -> (usize, usize) {
    let in_warmup = windows.iter().take_while(|w| w.1 <= warmup).count();
    let before_fault = windows.iter().take_while(|w| w.1 <= first_fault).count();
    let end = if in_warmup >= 3 {
        in_warmup.min(before_fault)
    } else {
        before_fault
    };
    let start = usize::from(end >= 3);
    (start, end)
}
