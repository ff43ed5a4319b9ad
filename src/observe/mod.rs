//! What a run shows: per-window metrics, state-change events and the trace
//! digest. `metrics`, `events` and `digest` are pure data fed by the engine;
//! `sink` turns them into `metrics.csv` and `events.jsonl`.

pub mod digest;
pub mod events;
pub mod latencies;
pub mod metrics;
pub mod sink;
pub mod steps;
pub mod trace;

use crate::topology::Component;
use crate::topology::Topology;
use events::StateEvent;
use latencies::Latencies;
use metrics::Row;
use trace::TraceEvent;

/// Receives what the engine observes, as it happens. Static dispatch: the
/// engine is generic over it, so a benchmark's null observer costs nothing.
pub trait Observer {
    /// A metrics window closed; `rows` holds one row per component.
    fn window(&mut self, topology: &Topology, rows: &[Row]);
    /// A component changed state.
    fn state_change(&mut self, topology: &Topology, event: &StateEvent);
    /// The latencies of a component's successful requests over the window
    /// that just closed, and of its failed ones (time to failure: entries
    /// only), for components with any, before `window` sees its rows: what
    /// a percentile over many windows needs.
    fn latencies(&mut self, _component: Component, _ok: &Latencies, _failed: &Latencies) {}

    /// Whether this observer wants the request-level trace. The engine
    /// emits trace events only under `if O::TRACES`, a constant, so the
    /// hot loop of an observer that leaves it `false` does not contain them.
    const TRACES: bool = false;
    /// A request-level happening (only if `TRACES`).
    fn trace(&mut self, _event: &TraceEvent) {}

    /// Whether this observer wants every engine event. Like `TRACES`, a
    /// constant: the engine names an event's subject only under
    /// `if O::STEPS`, so other observers' loops carry none of it.
    const STEPS: bool = false;
    /// An engine event handled (only if `STEPS`). Timer lanes' wake-ups are
    /// bookkeeping that a timeout's length moves; a timer that fires on a
    /// live request is a step of its own instead.
    fn step(&mut self, _step: &steps::Step) {}
}

/// Discards everything (benchmarks, tests that read only the summary).
#[derive(Debug, Default)]
pub struct NullObserver;

impl Observer for NullObserver {
    fn window(&mut self, _: &Topology, _: &[Row]) {}
    fn state_change(&mut self, _: &Topology, _: &StateEvent) {}
}

/// Keeps everything in memory (tests that inspect windows and events).
#[derive(Debug, Default)]
pub struct Recorder {
    pub rows: Vec<Row>,
    pub events: Vec<StateEvent>,
}

impl Observer for Recorder {
    fn window(&mut self, _: &Topology, rows: &[Row]) {
        self.rows.extend_from_slice(rows);
    }
    fn state_change(&mut self, _: &Topology, event: &StateEvent) {
        self.events.push(*event);
    }
}
