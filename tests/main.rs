//! One integration binary, one module per concern.

mod cli;
mod common;
mod compare;
mod determinism;
mod faults;
mod mechanisms;
mod oracles;
mod resilience;
mod scenarios;
mod swarm;
