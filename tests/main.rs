//! One integration binary, one module per concern.

mod analysis;
mod architecture;
mod cli;
mod common;
mod compare;
mod determinism;
mod faults;
mod mechanisms;
mod oracles;
mod record;
mod replay;
mod report;
mod resilience;
mod scenarios;
mod swarm;
