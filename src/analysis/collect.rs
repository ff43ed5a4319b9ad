//! What the analysis keeps of a run while it happens: a compact sample per
//! component per window, the state changes, and the latency histograms of
//! the hypothesis probes per phase. It wraps the observer that writes the
//! files, so one simulation feeds both.

use crate::base::ErrorClass;
use crate::observe::Observer;
use crate::observe::events::{StateChange, StateEvent};
use crate::observe::latencies::Latencies;
use crate::observe::metrics::Row;
use crate::plan::{Phase, Phases};
use crate::topology::Component;
use crate::topology::Topology;

/// The part of a metrics row the analysis judges a window by.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub arrivals: u64,
    pub ok: u64,
    pub errors: u64,
    /// The error class seen most in the window (its index), if any.
    pub main_error: Option<u8>,
    pub p50: u64,
    pub p99: u64,
    pub queue_avg: f64,
    pub queue_max: u64,
    pub busy_avg: f64,
    pub capacity: u64,
    pub waiters_avg: f64,
    /// Pools: connections in use, time-averaged.
    pub in_use_avg: f64,
    /// Pools: calls refused for want of a connection.
    pub refused: u64,
    /// Pools: requests their caller service received in the window, the
    /// traffic their refusals are a share of (a pool row counts no calls).
    pub demand: u64,
}

impl Sample {
    fn of(row: &Row) -> Sample {
        let errors: u64 = row.errors.iter().sum();
        let main_error = (errors > 0).then(|| {
            let (class, _) = row
                .errors
                .iter()
                .enumerate()
                .max_by_key(|(k, n)| (**n, std::cmp::Reverse(*k)))
                .expect("error classes are not empty");
            class as u8
        });
        Sample {
            arrivals: row.arrivals,
            ok: row.ok,
            errors,
            main_error,
            p50: row.latency.p50,
            p99: row.latency.p99,
            queue_avg: row.queue.0,
            queue_max: row.queue.1,
            busy_avg: row.busy.0,
            capacity: row.capacity,
            waiters_avg: row.waiters.0,
            in_use_avg: row.in_use.0,
            refused: row.errors[ErrorClass::PoolExhausted as usize],
            demand: 0,
        }
    }

    pub fn finished(&self) -> u64 {
        self.ok + self.errors
    }

    pub fn error_rate(&self) -> f64 {
        if self.finished() == 0 {
            0.0
        } else {
            self.errors as f64 / self.finished() as f64
        }
    }
}

/// Per-phase latency histograms of one probe.
#[derive(Debug)]
pub struct ProbeLatency {
    pub component: Component,
    /// Per phase: the latencies of successes, and of all requests.
    pub ok: [Latencies; 4],
    pub all: [Latencies; 4],
}

/// An observer that keeps what the analysis needs and hands everything on
/// to `inner`.
#[derive(Debug)]
pub struct Collector<O> {
    pub inner: O,
    phases: Phases,
    /// Components in row order, fixed by the first window.
    pub components: Vec<Component>,
    /// `(start, end)` of each closed window.
    pub windows: Vec<(u64, u64)>,
    /// Window-major: `samples[w * components.len() + c]`.
    pub samples: Vec<Sample>,
    pub events: Vec<StateEvent>,
    pub probes: Vec<ProbeLatency>,
    window_start: u64,
    /// Per component: the row of the service whose traffic it serves (a
    /// pool's caller), fixed by the first window.
    callers: Vec<Option<usize>>,
}

impl<O: Observer> Collector<O> {
    pub fn new(inner: O, phases: Phases, probes: &[Component]) -> Self {
        let mut unique: Vec<Component> = Vec::new();
        for p in probes {
            if !unique.contains(p) {
                unique.push(*p);
            }
        }
        Collector {
            inner,
            phases,
            components: Vec::new(),
            windows: Vec::new(),
            samples: Vec::new(),
            events: Vec::new(),
            probes: unique
                .into_iter()
                .map(|component| ProbeLatency {
                    component,
                    ok: std::array::from_fn(|_| Latencies::new()),
                    all: std::array::from_fn(|_| Latencies::new()),
                })
                .collect(),
            window_start: 0,
            callers: Vec::new(),
        }
    }
}

impl<O> Collector<O> {
    pub fn sample(&self, window: usize, component: usize) -> &Sample {
        &self.samples[window * self.components.len() + component]
    }

    pub fn index_of(&self, component: Component) -> Option<usize> {
        self.components.iter().position(|c| *c == component)
    }
}

impl<O: Observer> Observer for Collector<O> {
    fn window(&mut self, topology: &Topology, rows: &[Row]) {
        // Client groups' rows and instance rows (`--per-instance`) come
        // last and go to the files, not to the cascade analysis: connections
        // are summarised on their own (`run.json` → `clients`), and the
        // analysis judges services, so it is the same with or without
        // instance rows.
        let all = rows;
        let judged = rows
            .iter()
            .position(|r| matches!(r.component, Component::Clients(_) | Component::Instance(_)))
            .unwrap_or(rows.len());
        let rows = &rows[..judged];
        if self.components.is_empty() {
            self.components = rows.iter().map(|r| r.component).collect();
            self.callers = self
                .components
                .iter()
                .map(|c| match c {
                    Component::Pool(g) => {
                        let caller = topology.pool_groups[*g as usize].caller.0;
                        self.components
                            .iter()
                            .position(|x| *x == Component::Service(caller))
                    }
                    _ => None,
                })
                .collect();
        }
        if let Some(first) = rows.first() {
            self.windows.push((first.window_start, first.window_end));
            self.window_start = first.window_end;
        }
        let first = self.samples.len();
        self.samples.extend(rows.iter().map(Sample::of));
        for (c, caller) in self.callers.iter().enumerate() {
            if let Some(caller) = caller {
                self.samples[first + c].demand = self.samples[first + caller].arrivals;
            }
        }
        self.inner.window(topology, all);
    }

    fn state_change(&mut self, topology: &Topology, event: &StateEvent) {
        // The windows from here on are the recovery, whatever the
        // schedule said.
        if let StateChange::ExperimentStopped { .. } = event.change {
            self.phases = self.phases.stopped_at(event.time);
        }
        self.events.push(*event);
        self.inner.state_change(topology, event);
    }

    fn latencies(&mut self, component: Component, ok: &Latencies, failed: &Latencies) {
        let start = self.window_start;
        for probe in self.probes.iter_mut().filter(|p| p.component == component) {
            for phase in Phase::ALL {
                if self.phases.contains(phase, start) {
                    let p = phase as usize;
                    probe.ok[p].add(ok);
                    probe.all[p].add(ok);
                    probe.all[p].add(failed);
                }
            }
        }
        self.inner.latencies(component, ok, failed);
    }
}
