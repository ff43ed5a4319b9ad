//! The discrete-event core: virtual time, the event queue, random streams and
//! the engine loop. No I/O, no serde, no wall clock: a run is a pure function
//! of the topology, the run configuration and the seed.

mod activation;
mod active;
pub mod broker;
pub mod caches;
pub mod clients;
mod drain;
pub mod engine;
pub mod event;
pub mod guards;
mod lifecycle;
mod meters;
pub mod queue;
mod steps;
mod timers;

pub use crate::plan::RunConfig;
pub use engine::{Engine, Exhausted, RunSummary};

use crate::faults::Fault;
use crate::observe::Observer;
use crate::plan::Guard;
use crate::topology::Topology;

/// What one run may consume before it is stopped: a model that validates
/// can still ask for more than a machine has (a million hour-long requests
/// a second, a monkey every nanosecond), and a run must end either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Events handled.
    pub max_events: u64,
    /// Requests (activations) in the system at once: what memory grows with.
    pub max_in_flight: u64,
}

impl Budget {
    /// Generous: about a minute of wall clock at this engine's speed, and
    /// about a gigabyte of memory.
    pub const DEFAULT: Budget = Budget {
        max_events: 1_000_000_000,
        max_in_flight: 10_000_000,
    };
    pub const UNLIMITED: Budget = Budget {
        max_events: u64::MAX,
        max_in_flight: u64::MAX,
    };
}

impl Default for Budget {
    fn default() -> Self {
        Budget::DEFAULT
    }
}

/// Runs one simulation to its end, with the given faults, within the
/// default budget.
pub fn simulate<O: Observer>(
    topology: &Topology,
    faults: &[Fault],
    config: RunConfig,
    observer: O,
) -> (RunSummary, O) {
    simulate_within(topology, faults, config, Budget::DEFAULT, observer)
}

/// Runs one simulation to its end or until it exhausts `budget`
/// (`RunSummary::exhausted` says which).
pub fn simulate_within<O: Observer>(
    topology: &Topology,
    faults: &[Fault],
    config: RunConfig,
    budget: Budget,
    observer: O,
) -> (RunSummary, O) {
    simulate_guarded(topology, faults, &[], config, budget, observer)
}

/// Runs one simulation watched by stop guards (none: the experiment runs
/// as scheduled), to its end or until it exhausts `budget`.
pub fn simulate_guarded<O: Observer>(
    topology: &Topology,
    faults: &[Fault],
    guards: &[Guard],
    config: RunConfig,
    budget: Budget,
    observer: O,
) -> (RunSummary, O) {
    Engine::new(topology, faults, config, observer)
        .guarded(guards)
        .within(budget)
        .run()
}
