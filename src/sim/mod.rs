//! The discrete-event core: virtual time, the event queue, random streams and
//! the engine loop. No I/O, no serde, no wall clock: a run is a pure function
//! of the topology, the run configuration and the seed.

mod activation;
mod active;
pub mod broker;
mod clients;
pub mod engine;
pub mod event;
mod lifecycle;
mod meters;
pub mod queue;
mod timers;

pub use crate::plan::RunConfig;
pub use engine::{Engine, RunSummary};

use crate::faults::Fault;
use crate::observe::Observer;
use crate::topology::Topology;

/// Runs one simulation to its end, with the given faults.
pub fn simulate<O: Observer>(
    topology: &Topology,
    faults: &[Fault],
    config: RunConfig,
    observer: O,
) -> (RunSummary, O) {
    Engine::new(topology, faults, config, observer).run()
}
