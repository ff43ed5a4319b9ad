//! faultline: a deterministic, seeded discrete-event simulator of service
//! architectures.
//!
//! Modules, in the order a run flows through them:
//! - [`spec`]: model and scenario files (serde), their file-level checks
//!   with JSON paths.
//! - [`topology`]: the compiled architecture: typed ids, flat arrays, the
//!   dependency graph; compiled in one pass that resolves every name of the
//!   model and returns the topology or every problem.
//! - [`sim`]: virtual clock, event queue, random streams, engine loop.
//! - [`components`]: instances, load balancers, pools, arrivals, work times.
//! - [`faults`]: a scenario's faults resolved against the topology.
//! - [`observe`]: per-window metrics, state-change events, trace digest, and
//!   the sinks that write them.
//! - [`lint`]: what a model that validates may do that its author did not
//!   mean (single points of failure, timeouts longer than their caller's,
//!   retries multiplying down a path, …), found without running it.
//! - [`import`]: a Chaos Toolkit experiment or an AWS FIS experiment
//!   template turned into a scenario over a model, with a table of what
//!   each item became.
//! - [`analysis`]: steady bands, the cascade chain, detection and recovery
//!   times, and the verdicts of the scenario's hypotheses.
//! - [`record`]: the JSON files a run and a comparison write, as the structs
//!   both the writers and the report use.
//! - [`experiment`]: one run end to end: output directory, `run.json`.
//! - [`report`]: charts (plotters) and the HTML and Markdown reports, drawn
//!   from a run directory's files.
//! - [`compare`]: variants x seeds in parallel, statistics, shards.
//! - [`search`]: the model's failure space searched for the smallest sets
//!   of faults that break a scenario's hypotheses.
//! - [`diff`]: two runs of one model side by side: where their traces
//!   first part, per-window differences, health that differs.
//! - [`cli`]: the command line.
//!
//! # Determinism contract
//! Virtual time is integer nanoseconds. Events are ordered by (time,
//! insertion sequence). Every random number comes from a ChaCha8 stream named
//! by (component, purpose) and seeded from the master seed, so a run is a pure
//! function of its inputs and seed, and one component's policy never moves
//! another's numbers. Simulation logic iterates only `Vec`s and `IndexMap`s,
//! never a `HashMap`, and never reads the wall clock.

pub mod analysis;
pub mod base;
pub mod cli;
pub mod compare;
pub mod components;
pub mod diff;
pub mod error;
pub mod experiment;
pub mod faults;
pub mod import;
pub mod lint;
pub mod observe;
pub mod plan;
pub mod record;
pub mod report;
pub mod search;
pub mod sim;
pub mod spec;
pub mod sweep;
pub mod topology;

pub use error::{Error, Result};
