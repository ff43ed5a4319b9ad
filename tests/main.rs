//! One integration binary, one module per concern.

// A test binary has no public API: `pub` here only shares helpers between
// modules, which is what `unreachable_pub` would flag.
#![allow(unreachable_pub)]

mod accounting;
mod analysis;
mod architecture;
mod caches;
mod chain;
mod check;
mod cli;
mod common;
mod compare;
mod determinism;
mod diff;
mod faults;
mod guide;
mod hostile;
mod import;
mod mechanisms;
mod oracles;
mod queueing;
mod readme;
mod record;
mod replay;
mod replicas;
mod report;
mod resilience;
mod restarts;
mod scenarios;
mod search;
mod starting;
mod stop;
mod swarm;
mod sweep;
mod variants;
mod verdicts;
mod whatif;
mod yaml;
