//! Helpers shared by the integration tests: build a topology from JSON text,
//! run it through the library, drive the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use faultline::observe::Recorder;
use faultline::sim::{RunConfig, RunSummary, simulate};
use faultline::spec::{Source, parse_model};
use faultline::topology::Topology;

pub const SECOND: u64 = 1_000_000_000;

/// Parses, validates and compiles a model given as JSON text.
pub fn topology(json: &str) -> Topology {
    let source = Source {
        path: PathBuf::from("test-model.json"),
        text: json.to_string(),
    };
    let model = parse_model(&source).unwrap_or_else(|e| panic!("test model invalid: {e}"));
    Topology::compile(&model)
}

/// Runs a topology for `duration_s` virtual seconds (1 s windows), keeping
/// every metrics row and state event in memory.
pub fn run(
    topology: &Topology,
    seed: u64,
    duration_s: u64,
    warmup_s: u64,
) -> (RunSummary, Recorder) {
    simulate(
        topology,
        &[],
        RunConfig {
            seed,
            duration: duration_s * SECOND,
            warmup: warmup_s * SECOND,
            window: SECOND,
        },
        Recorder::default(),
    )
}

/// The faultline binary built for these tests.
pub fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// Runs the binary in `dir` with `args`.
pub fn faultline_in(dir: &Path, args: &[&str]) -> Output {
    faultline()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the faultline binary runs")
}

/// The repository root (where `models/` and `scenarios/` live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
