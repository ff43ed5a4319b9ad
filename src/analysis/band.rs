//! The steady band: what each component looked like before the fault, and
//! each window judged against it.

use super::collect::{Collector, Sample};
use super::{Health, seconds};
use crate::base::ErrorClass;
use crate::topology::Component;

/// Successes a window needs before its median is judged.
const MEDIAN_SAMPLES: u64 = 5;
/// Successes a window needs before its 99th percentile is judged: with
/// fewer, it is one or two requests.
const TAIL_SAMPLES: u64 = 200;
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
    PoolExhausted {
        refused: u64,
        waiting: f64,
    },
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
            Reason::PoolExhausted { refused, waiting } => {
                write!(
                    f,
                    "pool exhausted ({refused} refused, {waiting:.1} waiting)"
                )
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

/// The steady band of one component, from the warm-up windows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Band {
    pub error_rate: f64,
    pub p50: u64,
    pub p99: u64,
    pub queue: f64,
    pub waiters: f64,
}

impl Band {
    fn learn<'a>(samples: impl Iterator<Item = &'a Sample>) -> Band {
        let mut band = Band::default();
        for s in samples {
            if s.finished() >= 5 {
                band.error_rate = band.error_rate.max(s.error_rate());
            }
            if s.ok >= MEDIAN_SAMPLES {
                band.p50 = band.p50.max(s.p50);
            }
            if s.ok >= TAIL_SAMPLES {
                band.p99 = band.p99.max(s.p99);
            }
            band.queue = band.queue.max(s.queue_avg);
            band.waiters = band.waiters.max(s.waiters_avg);
        }
        band
    }

    /// Judges one window. Small counts are not judged on rates: a handful
    /// of requests says little.
    pub fn judge(&self, component: Component, s: &Sample) -> (Health, Option<Reason>) {
        if let Component::Pool(_) = component {
            if s.refused >= 3 || s.waiters_avg > (2.0 * self.waiters).max(0.5) {
                return (
                    Health::Degraded,
                    Some(Reason::PoolExhausted {
                        refused: s.refused,
                        waiting: s.waiters_avg,
                    }),
                );
            }
            return (Health::Healthy, None);
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
        // A slowdown moves the median; noise moves only the tail, and a
        // window's p99 rests on a handful of requests unless it has many.
        let slow_median =
            s.ok >= MEDIAN_SAMPLES && self.p50 > 0 && s.p50 > (2 * self.p50).max(self.p50 + MS);
        let slow_tail =
            s.ok >= TAIL_SAMPLES && self.p99 > 0 && s.p99 > (3 * self.p99).max(self.p99 + 5 * MS);
        if slow_median || slow_tail {
            let reason = if slow_median {
                Reason::Latency {
                    value: s.p50,
                    steady: self.p50,
                    median: true,
                }
            } else {
                Reason::Latency {
                    value: s.p99,
                    steady: self.p99,
                    median: false,
                }
            };
            return (Health::Degraded, Some(reason));
        }
        (Health::Healthy, None)
    }
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
/// fault.
fn steady_windows(windows: &[(u64, u64)], warmup: u64, first_fault: u64) -> (usize, usize) {
    let in_warmup = windows.iter().take_while(|w| w.1 <= warmup).count();
    let before_fault = windows.iter().take_while(|w| w.1 <= first_fault).count();
    let end = if in_warmup >= 3 {
        in_warmup
    } else {
        before_fault.max(in_warmup)
    };
    let start = usize::from(end >= 3);
    (start, end)
}
