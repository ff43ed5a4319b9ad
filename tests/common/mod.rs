//! Helpers shared by the integration tests: build a topology from JSON text,
//! run it through the library, drive the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use faultline::base::{ERROR_CLASSES, ErrorClass};
use faultline::observe::Recorder;
use faultline::observe::metrics::Row;
use faultline::sim::{RunConfig, RunSummary, simulate};
use faultline::spec::Source;
use faultline::topology::Component;
use faultline::topology::Topology;
use serde_json::Value;

pub(crate) const SECOND: u64 = 1_000_000_000;

/// Parses, validates and compiles a model given as JSON text.
pub(crate) fn topology(json: &str) -> Topology {
    let source = Source {
        path: PathBuf::from("test-model.json"),
        text: json.to_string(),
    };
    Topology::from_source(&source).unwrap_or_else(|e| panic!("test model invalid: {e}"))
}

/// Runs a topology for `duration_s` virtual seconds (1 s windows), keeping
/// every metrics row and state event in memory.
pub(crate) fn run(
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
            per_instance: false,
            precision: Default::default(),
        },
        Recorder::default(),
    )
}

/// The faultline binary built for these tests.
pub(crate) fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// Runs the binary in `dir` with `args`.
pub(crate) fn faultline_in(dir: &Path, args: &[&str]) -> Output {
    faultline()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the faultline binary runs")
}

/// The stdout of a command that must have succeeded; its output in full
/// when it did not.
pub(crate) fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `dir/kill.json`: the web tier (four app servers over two zones behind
/// least-outstanding balancing) with one crash at 40 s, a hypothesis that
/// its users see fewer errors than `error_rate`, and `members` (further
/// members of the scenario object, such as its variants).
pub(crate) fn crash_scenario(dir: &Path, error_rate: &str, members: &str) -> PathBuf {
    let path = dir.join("kill.json");
    std::fs::write(
        &path,
        format!(
            r#"{{
  "name": "kill",
  "model": "{}",
  "duration": "100s", "warmup": "20s", "seed": 3,
  "faults": {{
    "crash-1": {{ "kind": "instance_kill", "target": "app-az-a-1", "mode": "crash", "at": "40s" }}
  }},
  "hypothesis": {{ "served": {{ "probe": "users", "error_rate_below": "{error_rate}" }} }},
  {members}
}}"#,
            repo().join("models/web-tier.json").display()
        ),
    )
    .unwrap();
    path
}

/// The repository root (where `models/` and `scenarios/` live).
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a model under the faults of a scenario (the `faults` object of a
/// scenario file, as JSON text), keeping rows and events in memory. Returns
/// the topology too, for looking ids up by name.
pub(crate) fn run_with_faults(
    model_json: &str,
    faults_json: &str,
    seed: u64,
    duration_s: u64,
    warmup_s: u64,
) -> (Topology, RunSummary, Recorder) {
    run_scenario(
        model_json,
        faults_json,
        seed,
        RunConfig {
            seed,
            duration: duration_s * SECOND,
            warmup: warmup_s * SECOND,
            window: SECOND,
            per_instance: false,
            precision: Default::default(),
        },
    )
}

/// As `run_with_faults`, with any run configuration (windows finer than a
/// second, durations in nanoseconds).
pub(crate) fn run_scenario(
    model_json: &str,
    faults_json: &str,
    seed: u64,
    config: RunConfig,
) -> (Topology, RunSummary, Recorder) {
    // The scenario is valid only if its duration covers the faults; it is
    // written in nanoseconds so that any configuration round-trips.
    let scenario = format!(
        r#"{{"name": "test", "model": "test-model.json", "duration": "{}ns",
            "warmup": "{}ns", "seed": {seed}, "faults": {faults_json}}}"#,
        config.duration, config.warmup
    );
    let plan = faultline::plan::Plan::from_texts(
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
    let (summary, recorder) = simulate(&plan.topology, &plan.faults, config, Recorder::default());
    (plan.topology, summary, recorder)
}

// ----- lookups and sums over recorded rows ------------------------------------

pub(crate) fn all_errors(rows: &[&Row]) -> [u64; ERROR_CLASSES] {
    let mut total = [0; ERROR_CLASSES];
    for r in rows {
        total.iter_mut().zip(r.errors).for_each(|(a, b)| *a += b);
    }
    total
}

pub(crate) fn endpoint(t: &Topology, full_name: &str) -> Component {
    Component::Endpoint(endpoint_id(t, full_name))
}

pub(crate) fn endpoint_id(t: &Topology, full_name: &str) -> u32 {
    t.endpoints
        .iter()
        .position(|e| e.full_name == full_name)
        .unwrap_or_else(|| panic!("no endpoint {full_name}")) as u32
}

pub(crate) fn errors(rows: &[&Row], class: ErrorClass) -> u64 {
    sum(rows, |r| r.errors[class as usize])
}

/// Time-average of a level over the rows (all windows are 1 s long).
pub(crate) fn mean_level(rows: &[&Row], f: impl Fn(&Row) -> f64) -> f64 {
    rows.iter().map(|r| f(r)).sum::<f64>() / rows.len() as f64
}

pub(crate) fn only_class(errors: &[u64; ERROR_CLASSES], class: ErrorClass) -> bool {
    errors
        .iter()
        .enumerate()
        .all(|(i, n)| i == class as usize || *n == 0)
}

pub(crate) fn service(t: &Topology, name: &str) -> Component {
    Component::Service(service_id(t, name))
}

pub(crate) fn service_id(t: &Topology, name: &str) -> u32 {
    t.services
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}")) as u32
}

pub(crate) fn sum(rows: &[&Row], f: impl Fn(&Row) -> u64) -> u64 {
    rows.iter().map(|r| f(r)).sum()
}

/// A shipped scenario and its model, each patched in memory first (the
/// model is reported as `patched-model.json`).
pub(crate) fn shipped_plan(
    scenario: &str,
    patch_model: impl FnOnce(&mut serde_json::Value),
    patch_scenario: impl FnOnce(&mut serde_json::Value),
) -> faultline::plan::Plan {
    let scenario_path = repo().join("scenarios").join(scenario);
    let mut scenario_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&scenario_path).unwrap()).unwrap();
    let model_path = scenario_path
        .parent()
        .unwrap()
        .join(scenario_json["model"].as_str().unwrap());
    let mut model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model_path).unwrap()).unwrap();
    patch_model(&mut model);
    patch_scenario(&mut scenario_json);
    faultline::plan::Plan::from_texts(
        Source {
            path: scenario_path,
            text: scenario_json.to_string(),
        },
        Source {
            path: PathBuf::from("patched-model.json"),
            text: model.to_string(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The shipped scenarios (the benchmarks, minutes long, aside).
pub fn shipped_scenarios() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 9, "{names:?}");
    names
}

/// One step into a JSON document.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// The paths of every node below the root, parents before children.
pub(crate) fn node_paths(value: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                at.push(Step::Key(key.clone()));
                out.push(at.clone());
                node_paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Step::Index(i));
                out.push(at.clone());
                node_paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

pub(crate) fn node_mut<'v>(value: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(value, |node, step| match step {
        Step::Key(key) => &mut node[key.as_str()],
        Step::Index(i) => &mut node[*i],
    })
}

/// Runs one line of shell as the documentation shows it, in `dir`, with
/// the faultline binary first on the PATH and `dir` as HOME; fails the
/// test unless it exits 0 (or 1 for `faultline run`: a hypothesis may fail
/// by design). Returns its output.
pub(crate) fn documented_line(dir: &Path, line: &str) -> Output {
    let binary = Path::new(env!("CARGO_BIN_EXE_faultline"));
    let path = std::env::join_paths(
        std::iter::once(binary.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir)
        .output()
        .unwrap();
    let allowed: &[i32] = if line.starts_with("faultline run ") {
        &[0, 1]
    } else {
        &[0]
    };
    let code = output.status.code().unwrap_or(-1);
    assert!(
        allowed.contains(&code),
        "`{line}` exited {code}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The state changes of kind `kind` in a run directory's `events.jsonl`.
pub(crate) fn events_of_kind(run_dir: &Path, kind: &str) -> Vec<Value> {
    std::fs::read_to_string(run_dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == kind)
        .collect()
}
