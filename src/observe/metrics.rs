//! Per-window accumulators. Pure data, no I/O: the engine feeds them on every
//! state change and drains them into rows when a window closes, so memory is
//! fixed by the number of components, not by the length of the run.

use super::latencies::Latencies;

use crate::base::{ERROR_CLASSES, ErrorClass, SimTime};
use crate::topology::Component;

/// Request outcomes of one component over one window.
#[derive(Clone, Debug)]
pub struct Outcomes {
    pub arrivals: u64,
    pub ok: u64,
    pub errors: [u64; ERROR_CLASSES],
    /// Sum of latencies of successful requests (ns), for an exact mean.
    pub latency_sum: u128,
    /// Latencies of successful requests.
    pub latency: Latencies,
    /// Time to failure of failed requests where a user waits on the
    /// component (entries), and in a run's totals the age at the end of
    /// those never answered: with `latency`, the latency of all requests.
    pub failed: Latencies,
    /// Sum of `failed` (ns), for an exact mean.
    pub failed_sum: u128,
    /// In a run's totals: requests still waiting when the run ended, for
    /// longer than any request of the component that succeeded (younger
    /// ones may yet succeed: they are in flight, not judged).
    pub unanswered: u64,
    /// Requests that left the queue for a worker, and their total wait (ns).
    pub started: u64,
    pub wait_sum: u128,
    /// Retries this component's calls made.
    pub retries: u64,
    /// Successes that went without some call's answer (a fallback).
    pub degraded: u64,
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes {
            arrivals: 0,
            ok: 0,
            errors: [0; ERROR_CLASSES],
            latency_sum: 0,
            latency: Latencies::new(),
            failed: Latencies::new(),
            failed_sum: 0,
            unanswered: 0,
            started: 0,
            wait_sum: 0,
            retries: 0,
            degraded: 0,
        }
    }
}

impl Outcomes {
    #[inline]
    pub fn record_ok(&mut self, latency: u64) {
        self.ok += 1;
        self.latency_sum += latency as u128;
        self.latency.record(latency);
    }

    #[inline]
    pub fn record_error(&mut self, class: ErrorClass) {
        self.errors[class as usize] += 1;
    }

    /// A failure `latency` after the request arrived.
    #[inline]
    pub fn record_failure(&mut self, class: ErrorClass, latency: u64) {
        self.errors[class as usize] += 1;
        self.failed.record(latency);
        self.failed_sum += latency as u128;
    }

    /// A request still unanswered at the end, `age` after it arrived.
    pub fn record_unanswered(&mut self, age: u64) {
        self.unanswered += 1;
        self.failed.record(age);
        self.failed_sum += age as u128;
    }

    #[inline]
    pub fn record_start(&mut self, wait: u64) {
        self.started += 1;
        self.wait_sum += wait as u128;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Share of the requests judged that succeeded: errors and requests
    /// never answered count against it, those still in flight (young) at
    /// the end do not count. 1 when none was judged.
    pub fn served_share(&self) -> f64 {
        let judged = self.ok + self.error_count() + self.unanswered;
        if judged == 0 {
            1.0
        } else {
            self.ok as f64 / judged as f64
        }
    }

    /// Latency of every request that ended (successes and failures, each
    /// at the time it ended), and of those still unanswered at the age
    /// they reached, as recorded in `failed`.
    pub fn all_latencies(&self) -> Latencies {
        let mut all = self.latency.clone();
        all.add(&self.failed);
        all
    }

    /// Requests that arrived and had neither ended nor been judged
    /// unanswered when the run ended.
    pub fn in_flight(&self) -> u64 {
        self.arrivals
            .saturating_sub(self.ok + self.error_count() + self.unanswered)
    }

    pub fn add(&mut self, other: &Outcomes) {
        self.arrivals += other.arrivals;
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.latency_sum += other.latency_sum;
        self.latency.add(&other.latency);
        self.failed.add(&other.failed);
        self.failed_sum += other.failed_sum;
        self.unanswered += other.unanswered;
        self.started += other.started;
        self.wait_sum += other.wait_sum;
        self.retries += other.retries;
        self.degraded += other.degraded;
    }

    pub fn reset(&mut self) {
        self.arrivals = 0;
        self.ok = 0;
        self.errors = [0; ERROR_CLASSES];
        self.latency_sum = 0;
        self.latency.reset();
        self.failed.reset();
        self.failed_sum = 0;
        self.unanswered = 0;
        self.started = 0;
        self.wait_sum = 0;
        self.retries = 0;
        self.degraded = 0;
    }

    /// Latency of the successful requests.
    pub fn latency_summary(&self) -> LatencySummary {
        LatencySummary::of(&self.latency, self.latency_sum)
    }

    /// Latency of all requests: see `all_latencies`.
    pub fn all_latency_summary(&self) -> LatencySummary {
        LatencySummary::of(&self.all_latencies(), self.latency_sum + self.failed_sum)
    }

    pub fn mean_wait(&self) -> f64 {
        if self.started == 0 {
            0.0
        } else {
            self.wait_sum as f64 / self.started as f64
        }
    }
}

/// A latency distribution, in nanoseconds: percentiles to the histogram's
/// resolution (the top of a 1 % bucket), the mean and maximum exact
/// (values past an hour count as an hour).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencySummary {
    fn of(latencies: &Latencies, sum: u128) -> LatencySummary {
        if latencies.is_empty() {
            return LatencySummary::default();
        }
        let [p50, p90, p99, p999] = latencies.values_at_quantiles([0.50, 0.90, 0.99, 0.999]);
        LatencySummary {
            mean: sum as f64 / latencies.len() as f64,
            p50,
            p90,
            p99,
            p999,
            max: latencies.exact_max(),
        }
    }
}

/// A quantity that changes at instants (queue length, busy workers, pool
/// connections in use), integrated over time for an exact time-average.
#[derive(Clone, Copy, Debug, Default)]
pub struct Level {
    pub value: u64,
    area: u128,
    last: SimTime,
    max: u64,
}

impl Level {
    #[inline]
    fn settle(&mut self, now: SimTime) {
        self.area += self.value as u128 * (now - self.last) as u128;
        self.last = now;
    }

    #[inline]
    pub fn add(&mut self, now: SimTime, delta: u64) {
        self.settle(now);
        self.value += delta;
        self.max = self.max.max(self.value);
    }

    #[inline]
    pub fn sub(&mut self, now: SimTime, delta: u64) {
        self.settle(now);
        self.value -= delta;
    }

    /// Time-average and maximum since the last close; starts the next window.
    pub fn close(&mut self, now: SimTime, window_start: SimTime) -> (f64, u64) {
        self.settle(now);
        let span = now.ns().saturating_sub(window_start.ns());
        let average = if span == 0 {
            self.value as f64
        } else {
            self.area as f64 / span as f64
        };
        let max = self.max;
        self.area = 0;
        self.max = self.value;
        (average, max)
    }
}

/// One row of `metrics.csv`: one component over one window.
#[derive(Clone, Debug)]
pub struct Row {
    pub window_start: u64,
    pub window_end: u64,
    pub component: Component,
    pub arrivals: u64,
    pub ok: u64,
    pub errors: [u64; ERROR_CLASSES],
    pub retries: u64,
    pub degraded: u64,
    pub latency: LatencySummary,
    pub mean_wait: f64,
    /// Time-averaged and peak levels; zero where they do not apply.
    pub queue: (f64, u64),
    pub busy: (f64, u64),
    /// Worker slots (services: of the instances up at the window's end,
    /// their process running and their zone reachable) or connections
    /// (pools).
    pub capacity: u64,
    /// Largest instance memory at the window's end (services with memory).
    pub memory_max: u64,
    pub in_use: (f64, u64),
    pub waiters: (f64, u64),
}

impl Row {
    pub fn empty(window_start: u64, window_end: u64, component: Component) -> Row {
        Row {
            window_start,
            window_end,
            component,
            arrivals: 0,
            ok: 0,
            errors: [0; ERROR_CLASSES],
            retries: 0,
            degraded: 0,
            latency: LatencySummary::default(),
            mean_wait: 0.0,
            queue: (0.0, 0),
            busy: (0.0, 0),
            capacity: 0,
            memory_max: 0,
            in_use: (0.0, 0),
            waiters: (0.0, 0),
        }
    }

    pub fn with_outcomes(mut self, outcomes: &Outcomes) -> Row {
        self.arrivals = outcomes.arrivals;
        self.ok = outcomes.ok;
        self.errors = outcomes.errors;
        self.retries = outcomes.retries;
        self.degraded = outcomes.degraded;
        self.latency = outcomes.latency_summary();
        self.mean_wait = outcomes.mean_wait();
        self
    }

    /// Share of finished requests that succeeded; 1 when none finished.
    pub fn availability(&self) -> f64 {
        let finished = self.ok + self.errors.iter().sum::<u64>();
        if finished == 0 {
            1.0
        } else {
            self.ok as f64 / finished as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_time_average_weights_by_duration() {
        let mut level = Level::default();
        level.add(SimTime(0), 2); // 2 for 10 ns
        level.add(SimTime(10), 2); // 4 for 30 ns
        level.sub(SimTime(40), 4); // 0 for 60 ns
        let (average, max) = level.close(SimTime(100), SimTime(0));
        assert!((average - (2.0 * 10.0 + 4.0 * 30.0) / 100.0).abs() < 1e-12);
        assert_eq!(max, 4);
        let (average, max) = level.close(SimTime(200), SimTime(100));
        assert_eq!((average, max), (0.0, 0));
    }

    #[test]
    fn latency_summary_reads_the_histogram() {
        let mut o = Outcomes::default();
        for v in 1..=100u64 {
            o.record_ok(v * 1_000_000);
        }
        let s = o.latency_summary();
        assert!((s.mean - 50.5e6).abs() < 1.0);
        assert!((s.p50 as f64 - 50e6).abs() / 50e6 < 0.01);
        assert!((s.p99 as f64 - 99e6).abs() / 99e6 < 0.01);
    }
}
