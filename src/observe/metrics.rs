//! Per-window accumulators. Pure data, no I/O: the engine feeds them on every
//! state change and drains them into rows when a window closes, so memory is
//! fixed by the number of components, not by the length of the run.

use super::latencies::Latencies;

use crate::base::{ERROR_CLASSES, ErrorClass, Precision, SimTime};
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
    /// Waits for a worker of the requests that got one.
    pub waits: Waits,
    /// Retries this component's calls made.
    pub retries: u64,
    /// Successes that went without some call's answer (a fallback).
    pub degraded: u64,
    /// A cache endpoint with keys: lookups that found their key, and those
    /// that did not (coalesced misses included).
    pub hits: u64,
    pub misses: u64,
}

impl Default for Outcomes {
    fn default() -> Self {
        Self::with_precision(Precision::default())
    }
}

impl Outcomes {
    pub fn with_precision(precision: Precision) -> Outcomes {
        Outcomes {
            arrivals: 0,
            ok: 0,
            errors: [0; ERROR_CLASSES],
            latency_sum: 0,
            latency: Latencies::with_precision(precision),
            failed: Latencies::with_precision(precision),
            failed_sum: 0,
            unanswered: 0,
            waits: Waits::with_precision(precision),
            retries: 0,
            degraded: 0,
            hits: 0,
            misses: 0,
        }
    }

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

    /// A request got a worker `wait` after it reached the instance.
    #[inline(always)]
    pub fn record_start(&mut self, wait: u64) {
        self.waits.record(wait);
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
        self.waits.add(&other.waits);
        self.retries += other.retries;
        self.degraded += other.degraded;
        self.hits += other.hits;
        self.misses += other.misses;
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
        self.waits.reset();
        self.retries = 0;
        self.degraded = 0;
        self.hits = 0;
        self.misses = 0;
    }

    /// Latency of the successful requests.
    pub fn latency_summary(&self) -> LatencySummary {
        LatencySummary::of(&self.latency, self.latency_sum)
    }

    /// Latency of all requests: see `all_latencies`.
    pub fn all_latency_summary(&self) -> LatencySummary {
        LatencySummary::of(&self.all_latencies(), self.latency_sum + self.failed_sum)
    }

    /// Mean wait (ns) of the requests that got a worker; 0 when none did.
    pub fn mean_wait(&self) -> f64 {
        self.waits.mean()
    }
}

/// How long requests waited in an instance's queue before a worker took
/// them: every wait recorded, zeros included, so the histogram's count is
/// the number of requests that started and its zeros those that did not
/// wait at all. Requests that never got a worker (rejected, evicted with a
/// killed instance, still queued) are not in it.
#[derive(Clone, Debug, Default)]
pub struct Waits {
    /// Waits (ns), at the run's precision.
    pub histogram: Latencies,
    /// Their sum (ns), for an exact mean.
    pub sum: u128,
}

impl Waits {
    pub fn with_precision(precision: Precision) -> Waits {
        Waits {
            histogram: Latencies::with_precision(precision),
            sum: 0,
        }
    }

    // A histogram record and an add: the few instructions a start may
    // cost. Forced inline, as the request path's own recording is: a call
    // costs about as much as what it does.
    #[inline(always)]
    pub fn record(&mut self, wait: u64) {
        self.histogram.record(wait);
        self.sum += wait as u128;
    }

    /// Requests that got a worker.
    pub fn started(&self) -> u64 {
        self.histogram.len()
    }

    /// Requests that waited at all (queued before a worker took them).
    pub fn waited(&self) -> u64 {
        self.histogram.len() - self.histogram.zeros()
    }

    /// Share of the requests that got a worker that waited for it; 0 when
    /// none got one.
    pub fn waited_share(&self) -> f64 {
        match self.started() {
            0 => 0.0,
            started => self.waited() as f64 / started as f64,
        }
    }

    /// Mean wait (ns); 0 when no request got a worker.
    pub fn mean(&self) -> f64 {
        match self.started() {
            0 => 0.0,
            started => self.sum as f64 / started as f64,
        }
    }

    /// Mean, percentiles and maximum of the waits, as for latencies.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary::of(&self.histogram, self.sum)
    }

    pub fn add(&mut self, other: &Waits) {
        self.histogram.add(&other.histogram);
        self.sum += other.sum;
    }

    pub fn reset(&mut self) {
        self.histogram.reset();
        self.sum = 0;
    }
}

/// A service's queueing over the windows after the warm-up, for run.json.
#[derive(Clone, Debug, Default)]
pub struct ServiceQueueing {
    /// Waits of the requests that got a worker in those windows.
    pub waits: Waits,
    /// ∫ (queued + busy) dt over those windows (request·ns), and their
    /// length (ns).
    pub in_system_area: f64,
    pub span: u64,
    /// Most requests queued and busy at once in those windows.
    pub in_system_max: u64,
}

impl ServiceQueueing {
    pub fn with_precision(precision: Precision) -> ServiceQueueing {
        ServiceQueueing {
            waits: Waits::with_precision(precision),
            ..ServiceQueueing::default()
        }
    }

    /// Time-average of queued + busy; 0 over no time.
    pub fn in_system_mean(&self) -> f64 {
        if self.span == 0 {
            0.0
        } else {
            self.in_system_area / self.span as f64
        }
    }
}

/// A latency distribution, in nanoseconds: percentiles to the histogram's
/// precision (the top of a bucket, never above the maximum), the mean and
/// maximum exact
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

/// Requests at a service or an instance: queued for a worker, holding one
/// (their own work and their calls), and the two together, the *number in
/// system* of queueing theory (L in Little's law L = λW, W the time from
/// arrival at the instance to its answer). Requests an unreachable host
/// swallowed are in neither.
#[derive(Clone, Copy, Debug, Default)]
pub struct Occupancy {
    pub queued: Level,
    pub busy: Level,
    /// Highest queued + busy since the last close. The time-average of the
    /// sum is the sum of the two averages; its peak is not the sum of the
    /// peaks, so it is followed here, where either goes up.
    peak: u64,
}

/// Time-averages and peaks of an `Occupancy` over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Occupied {
    pub queue: (f64, u64),
    pub busy: (f64, u64),
    pub in_system: (f64, u64),
}

impl Occupancy {
    #[inline(always)]
    fn note_peak(&mut self) {
        self.peak = self.peak.max(self.queued.value + self.busy.value);
    }

    #[inline(always)]
    pub fn enqueue(&mut self, now: SimTime) {
        self.queued.add(now, 1);
        self.note_peak();
    }

    #[inline(always)]
    pub fn dequeue(&mut self, now: SimTime) {
        self.queued.sub(now, 1);
    }

    #[inline(always)]
    pub fn take_worker(&mut self, now: SimTime) {
        self.busy.add(now, 1);
        self.note_peak();
    }

    #[inline(always)]
    pub fn free_worker(&mut self, now: SimTime) {
        self.busy.sub(now, 1);
    }

    /// Averages and peaks since the last close; starts the next window.
    pub fn close(&mut self, now: SimTime, window_start: SimTime) -> Occupied {
        let queue = self.queued.close(now, window_start);
        let busy = self.busy.close(now, window_start);
        let peak = self.peak;
        self.peak = self.queued.value + self.busy.value;
        Occupied {
            queue,
            busy,
            in_system: (queue.0 + busy.0, peak),
        }
    }
}

/// What an instance was doing at a window's end, as its row says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Running, reachable, and routed to.
    Up,
    /// Running and reachable, but its balancer's health checks took it out
    /// of rotation.
    Ejected,
    /// Paused (a GC pause, a hung host): it queues, answers nothing.
    Frozen,
    /// Its process is dead, restarting or booting: connections refused.
    Down,
    /// Its host or zone is gone: connections unanswered.
    Unreachable,
    /// An autoscaler's slot not in the fleet.
    Spare,
}

impl InstanceStatus {
    pub fn name(self) -> &'static str {
        match self {
            InstanceStatus::Up => "up",
            InstanceStatus::Ejected => "ejected",
            InstanceStatus::Frozen => "frozen",
            InstanceStatus::Down => "down",
            InstanceStatus::Unreachable => "unreachable",
            InstanceStatus::Spare => "spare",
        }
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
    /// Cache lookups of a cache endpoint with keys (zero elsewhere).
    pub hits: u64,
    pub misses: u64,
    pub latency: LatencySummary,
    /// Requests that got a worker in the window, and how many of them
    /// waited for it (endpoint and service rows).
    pub started: u64,
    pub waited: u64,
    pub mean_wait: f64,
    /// 99th percentile of their waits (ns), to the histogram's resolution.
    pub wait_p99: u64,
    /// Time-averaged and peak levels; zero where they do not apply.
    pub queue: (f64, u64),
    pub busy: (f64, u64),
    /// Queued + busy (service and instance rows).
    pub in_system: (f64, u64),
    /// Worker slots (services: of the instances up at the window's end,
    /// their process running and their zone reachable) or connections
    /// (pools).
    pub capacity: u64,
    /// Largest instance memory at the window's end (services with memory).
    pub memory_max: u64,
    pub in_use: (f64, u64),
    pub waiters: (f64, u64),
    /// Instance rows: what the instance was doing at the window's end.
    pub status: Option<InstanceStatus>,
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
            hits: 0,
            misses: 0,
            latency: LatencySummary::default(),
            started: 0,
            waited: 0,
            mean_wait: 0.0,
            wait_p99: 0,
            queue: (0.0, 0),
            busy: (0.0, 0),
            in_system: (0.0, 0),
            capacity: 0,
            memory_max: 0,
            in_use: (0.0, 0),
            waiters: (0.0, 0),
            status: None,
        }
    }

    pub fn with_outcomes(mut self, outcomes: &Outcomes) -> Row {
        self.arrivals = outcomes.arrivals;
        self.ok = outcomes.ok;
        self.errors = outcomes.errors;
        self.retries = outcomes.retries;
        self.degraded = outcomes.degraded;
        self.hits = outcomes.hits;
        self.misses = outcomes.misses;
        self.latency = outcomes.latency_summary();
        self.started = outcomes.waits.started();
        self.waited = outcomes.waits.waited();
        self.mean_wait = outcomes.mean_wait();
        if self.started > 0 {
            self.wait_p99 = outcomes.waits.histogram.value_at_quantile(0.99);
        }
        self
    }

    /// The levels of an occupancy over the window.
    pub fn with_occupancy(mut self, occupied: Occupied) -> Row {
        self.queue = occupied.queue;
        self.busy = occupied.busy;
        self.in_system = occupied.in_system;
        self
    }

    /// Share of the requests that got a worker that waited for it; 0 when
    /// none got one.
    pub fn waited_share(&self) -> f64 {
        if self.started == 0 {
            0.0
        } else {
            self.waited as f64 / self.started as f64
        }
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
    fn waits_count_the_requests_that_queued_and_their_tail() {
        let mut o = Outcomes::default();
        // 60 started at once, 40 waited 1..=40 ms.
        for _ in 0..60 {
            o.record_start(0);
        }
        for ms in 1..=40u64 {
            o.record_start(ms * 1_000_000);
        }
        assert_eq!(o.waits.started(), 100);
        assert_eq!(o.waits.waited(), 40);
        assert!((o.waits.waited_share() - 0.4).abs() < 1e-12);
        // Mean over every start, zeros included: (1 + … + 40) ms / 100.
        assert!((o.mean_wait() - 8.2e6).abs() < 1.0);
        let row = Row::empty(0, 1, Component::Service(0)).with_outcomes(&o);
        assert_eq!((row.started, row.waited), (100, 40));
        assert!((row.waited_share() - 0.4).abs() < 1e-12);
        // The 99th of 100 values is 39 ms, to the histogram's 1 %.
        assert!(
            (row.wait_p99 as f64 - 39e6).abs() / 39e6 < 0.01,
            "{}",
            row.wait_p99
        );
        // Merged and reset like the rest of the outcomes.
        let mut merged = Outcomes::default();
        merged.add(&o);
        merged.add(&o);
        assert_eq!((merged.waits.started(), merged.waits.waited()), (200, 80));
        merged.reset();
        assert_eq!(merged.waits.started(), 0);
        assert_eq!(merged.waits.waited_share(), 0.0);
        assert_eq!(merged.mean_wait(), 0.0);
    }

    #[test]
    fn occupancy_follows_the_peak_of_the_sum_not_the_sum_of_peaks() {
        let mut o = Occupancy::default();
        // Two busy from 0; one queues at 10 and takes the worker freed at
        // 20; the last worker frees at 50. Queued peaks at 1 and busy at 2,
        // but never both at once past 3.
        o.take_worker(SimTime(0));
        o.take_worker(SimTime(0));
        o.enqueue(SimTime(10));
        o.free_worker(SimTime(20));
        o.dequeue(SimTime(20));
        o.take_worker(SimTime(20));
        o.free_worker(SimTime(50));
        o.free_worker(SimTime(60));
        let w = o.close(SimTime(100), SimTime(0));
        assert_eq!(w.queue, (10.0 / 100.0, 1));
        assert_eq!(w.busy.1, 2);
        // Busy: 2 over 0–50, 1 over 50–60 = 110.
        assert!((w.busy.0 - 1.1).abs() < 1e-12);
        assert_eq!(w.in_system, (w.queue.0 + w.busy.0, 3));
        // The next window starts from what is left: nothing.
        let next = o.close(SimTime(200), SimTime(100));
        assert_eq!(next.in_system, (0.0, 0));
    }

    #[test]
    fn service_queueing_averages_over_the_time_it_covers() {
        let mut q = ServiceQueueing::default();
        assert_eq!(q.in_system_mean(), 0.0);
        q.in_system_area = 3.0 * 1e9 + 1.0 * 1e9;
        q.span = 2_000_000_000;
        assert!((q.in_system_mean() - 2.0).abs() < 1e-12);
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
