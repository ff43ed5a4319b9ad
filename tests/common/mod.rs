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

/// Runs a model under the faults of a scenario (the `faults` object of a
/// scenario file, as JSON text), keeping rows and events in memory. Returns
/// the topology too, for looking ids up by name.
pub fn run_with_faults(
    model_json: &str,
    faults_json: &str,
    seed: u64,
    duration_s: u64,
    warmup_s: u64,
) -> (Topology, RunSummary, Recorder) {
    let scenario = format!(
        r#"{{"name": "test", "model": "test-model.json", "duration": "{duration_s}s",
            "warmup": "{warmup_s}s", "seed": {seed}, "faults": {faults_json}}}"#
    );
    let experiment = faultline::spec::experiment_from_texts(
        Source {
            path: PathBuf::from("test-scenario.json"),
            text: scenario,
        },
        Source {
            path: PathBuf::from("test-model.json"),
            text: model_json.to_string(),
        },
    )
    .unwrap_or_else(|e| panic!("test scenario invalid: {e}"));
    let topology = Topology::compile(&experiment.model);
    let faults = faultline::faults::compile(&experiment.scenario, &topology)
        .expect("faults resolve: checked when loading");
    let config = RunConfig {
        seed,
        duration: duration_s * SECOND,
        warmup: warmup_s * SECOND,
        window: SECOND,
    };
    let (summary, recorder) = simulate(&topology, &faults, config, Recorder::default());
    (topology, summary, recorder)
}
