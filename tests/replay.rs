//! `faultline replay`: identity of every shipped run, detection of changed
//! inputs and of edited outputs, and the request-level trace of a window.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use faultline::experiment::replay;
use faultline::observe::NullObserver;
use faultline::plan::Plan;
use faultline::sim::{Budget, simulate};
use serde_json::Value;

use crate::common::{faultline_in, repo, shipped_scenarios};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `args` in `dir`, asserting the exit code; returns stdout + stderr.
fn expect(dir: &Path, args: &[&str], code: i32) -> String {
    let output = faultline_in(dir, args);
    let all = text(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "faultline {args:?}:\n{all}"
    );
    all
}

/// The files a run directory holds, as its `run.json` lists them.
fn run_files(dir: &Path) -> Vec<String> {
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

/// The one run directory under `out` (`<scenario>/baseline/seed-<n>`).
fn run_dir_under(out: &Path) -> PathBuf {
    let mut found = Vec::new();
    for scenario in fs::read_dir(out).unwrap().flatten() {
        for seed in fs::read_dir(scenario.path().join("baseline"))
            .unwrap()
            .flatten()
        {
            found.push(seed.path());
        }
    }
    assert_eq!(found.len(), 1, "one run under {}", out.display());
    found.pop().unwrap()
}

fn run_json(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

#[test]
fn replay_proves_every_shipped_scenario_identical() {
    for name in shipped_scenarios() {
        let out = tempfile::tempdir().unwrap();
        let scenario = format!("scenarios/{name}");
        let out_arg = out.path().to_str().unwrap();
        // A scenario whose hypothesis fails by design exits 1: still a run.
        let ran = faultline_in(&repo(), &["run", &scenario, "--out", out_arg]);
        assert!(matches!(ran.status.code(), Some(0 | 1)), "{}", text(&ran));
        let dir = run_dir_under(out.path());
        let files = run_files(&dir);
        let before: Vec<Vec<u8>> = files
            .iter()
            .map(|f| fs::read(dir.join(f)).unwrap())
            .collect();
        let said = expect(&repo(), &["replay", dir.to_str().unwrap()], 0);
        let digest = run_json(&dir)["engine"]["trace_digest"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(said.contains("identical"), "{name}: {said}");
        assert!(said.contains(&digest), "{name}: prints the digest: {said}");
        // Replay remade the run elsewhere: the run directory is as it was.
        let after: Vec<Vec<u8>> = files
            .iter()
            .map(|f| fs::read(dir.join(f)).unwrap())
            .collect();
        assert!(before == after, "{name}: run directory untouched");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            files.len(),
            "{name}: no stray files"
        );
    }
}

#[test]
fn the_built_in_demo_replays_from_any_directory() {
    let (made_in, replayed_in) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    expect(made_in.path(), &["run"], 0);
    let dir = made_in.path().join("output/slow-database/baseline/seed-42");
    let said = expect(replayed_in.path(), &["replay", dir.to_str().unwrap()], 0);
    assert!(said.contains("identical"), "{said}");
    // A seed given on the command line is the one replayed.
    expect(made_in.path(), &["run", "--seed", "9"], 0);
    let dir = made_in.path().join("output/slow-database/baseline/seed-9");
    let said = expect(replayed_in.path(), &["replay", dir.to_str().unwrap()], 0);
    assert!(said.contains("replayed with seed 9"), "{said}");
}

/// Copies the retry-storm scenario and its model into `root` as they are
/// laid out in the project, and runs it there.
fn run_copy(root: &Path) -> PathBuf {
    for file in ["scenarios/retry-storm.json", "models/retry-storm.json"] {
        fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
        fs::copy(repo().join(file), root.join(file)).unwrap();
    }
    // Its hypothesis fails by design: exit 1, and still a run to replay.
    expect(root, &["run", "scenarios/retry-storm.json"], 1);
    root.join("output/retry-storm/baseline/seed-3")
}

#[test]
fn a_changed_input_is_reported_and_nothing_is_re_run() {
    let root = tempfile::tempdir().unwrap();
    let dir = run_copy(root.path());
    let recorded = run_json(&dir);
    let dir_arg = dir.to_str().unwrap();
    // Even a change that leaves every setting alone is a change of the bytes.
    let model = root.path().join("models/retry-storm.json");
    let mut bytes = fs::read(&model).unwrap();
    bytes.extend_from_slice(b"\n");
    fs::write(&model, &bytes).unwrap();
    let said = expect(root.path(), &["replay", dir_arg], 1);
    let recorded_sha = recorded["model"]["file_sha256"].as_str().unwrap();
    assert!(
        said.contains(&format!(
            "scenarios/../models/retry-storm.json changed since the run: sha256 recorded {recorded_sha}, now "
        )),
        "{said}"
    );
    assert!(
        !said.contains("scenarios/retry-storm.json changed"),
        "{said}"
    );
    assert!(!said.contains("identical"), "nothing re-run: {said}");

    // A missing input is bad input, with the rule for finding inputs.
    fs::remove_file(&model).unwrap();
    let said = expect(root.path(), &["replay", dir_arg], 2);
    assert!(said.contains("run.json: model.file"), "{said}");
    assert!(said.contains("working directory"), "{said}");
}

#[test]
fn an_edited_run_directory_is_a_mismatch_naming_the_first_difference() {
    let root = tempfile::tempdir().unwrap();
    let dir = run_copy(root.path());
    let dir_arg = dir.to_str().unwrap();
    let run_json_path = dir.join("run.json");
    let original = fs::read_to_string(&run_json_path).unwrap();
    let digest = run_json(&dir)["engine"]["trace_digest"]
        .as_str()
        .unwrap()
        .to_string();
    let forged = original.replace(&digest, "0123456789abcdef");
    assert_ne!(forged, original);
    fs::write(&run_json_path, &forged).unwrap();
    let said = expect(root.path(), &["replay", dir_arg], 1);
    assert!(
        said.contains(&format!(
            "trace digest recorded 0123456789abcdef, replayed {digest}"
        )),
        "{said}"
    );
    let line = original.lines().position(|l| l.contains(&digest)).unwrap() + 1;
    assert!(
        said.contains(&format!("run.json line {line} differs")),
        "{said}"
    );
    let shown = |side: &str| {
        said.lines()
            .find_map(|l| l.trim().strip_prefix(side))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {side} line: {said}"))
            .to_string()
    };
    assert_eq!(
        shown("recorded:"),
        "\"trace_digest\": \"0123456789abcdef\","
    );
    assert_eq!(
        shown("replayed:"),
        format!("\"trace_digest\": \"{digest}\",")
    );
    fs::write(&run_json_path, &original).unwrap();

    // One changed figure deep in the metrics, and a file gone.
    let metrics = dir.join("metrics.csv");
    let mut rows: Vec<String> = fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    rows[100].push('7');
    fs::write(&metrics, rows.join("\n") + "\n").unwrap();
    fs::remove_file(dir.join("events.jsonl")).unwrap();
    let said = expect(root.path(), &["replay", dir_arg], 1);
    assert!(
        said.contains("first difference: metrics.csv line 101 differs"),
        "{said}"
    );
    assert!(said.contains("also differ: events.jsonl"), "{said}");
    assert!(
        !said.contains("trace digest recorded"),
        "the digest matched: {said}"
    );
}

#[test]
fn a_missing_or_garbled_run_json_is_bad_input_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let said = expect(dir.path(), &["replay", "nowhere"], 2);
    assert!(said.contains("nowhere/run.json: cannot read"), "{said}");
    fs::write(dir.path().join("run.json"), "{\"tool\": {\"version\": 1}}").unwrap();
    let said = expect(dir.path(), &["replay", "."], 2);
    assert!(said.contains("./run.json: tool.version"), "{said}");
}

#[test]
fn a_window_outside_the_run_or_backwards_is_bad_input() {
    let root = tempfile::tempdir().unwrap();
    let dir = run_copy(root.path());
    let dir_arg = dir.to_str().unwrap();
    for window in [["70s", "60s"], ["60s", "60s"], ["3m", "5m"]] {
        let said = expect(
            root.path(),
            &["replay", dir_arg, "--from", window[0], "--to", window[1]],
            2,
        );
        assert!(
            said.contains("the window must start before it ends"),
            "{said}"
        );
    }
    let said = expect(
        root.path(),
        &["replay", dir_arg, "--from", "soon", "--to", "1m"],
        2,
    );
    assert!(said.contains("expected a duration"), "{said}");
    expect(root.path(), &["replay", dir_arg, "--from", "1m"], 2);
    assert!(!dir.join("trace.jsonl").exists());
}

fn seconds(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a time: {v}"))
}

#[test]
fn a_trace_window_shows_the_retry_storm_starting() {
    let root = tempfile::tempdir().unwrap();
    let dir = run_copy(root.path());
    let dir_arg = dir.to_str().unwrap();
    let args = ["replay", dir_arg, "--from", "59s", "--to", "1m 2s"];
    // What a replay killed while writing its trace left behind.
    let stale = dir.join(".trace.jsonl.partial-4000000000");
    fs::write(&stale, "{").unwrap();
    let said = expect(root.path(), &args, 0);
    assert!(!stale.exists(), "swept");
    let trace = dir.join("trace.jsonl");
    let first = fs::read(&trace).unwrap();
    let lines: Vec<Value> = String::from_utf8(first.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        said.contains(&format!("trace.jsonl ({} lines", lines.len())),
        "{said}"
    );
    // Deterministic: the same window gives the same bytes.
    expect(root.path(), &args, 0);
    assert_eq!(fs::read(&trace).unwrap(), first);
    // Nothing half-written is left beside it, and the run is still whole.
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), run_files(&dir).len() + 1, "{names:?}");
    expect(root.path(), &["replay", dir_arg], 0);

    let (from, to) = (59.0, 62.0);
    let mut hops = std::collections::BTreeMap::new();
    let (mut timeouts, mut retries, mut last_request) = (0, 0, 0);
    for hop in &lines {
        let request = hop["request"].as_u64().unwrap();
        assert!(
            request >= last_request,
            "grouped by request in arrival order"
        );
        last_request = request;
        let arrived = seconds(&hop["arrived_s"]);
        if hop["parent"].is_null() {
            assert!(!hop["source"].is_null());
            assert!(
                (from..to).contains(&arrived),
                "a request of the window: {hop}"
            );
        }
        if let Some(id) = hop["id"].as_str() {
            hops.insert(id.to_string(), hop);
        }
        for call in hop["calls"].as_array().unwrap() {
            let sent = seconds(&call["sent_s"]);
            let answered = seconds(&call["answered_s"]);
            assert!(arrived <= sent && sent <= answered, "{hop}");
            if call["outcome"] == "timeout" {
                timeouts += 1;
                // The model's database timeout is 200 ms.
                assert!((answered - sent - 0.2).abs() < 1e-6, "{call}");
            }
            if call["attempt"].as_u64().unwrap() > 1 {
                retries += 1;
                assert!((from..to + 1.0).contains(&sent), "{call}");
            }
        }
    }
    assert!(
        timeouts > 100 && retries > 100,
        "{timeouts} timeouts, {retries} retries"
    );
    // Every callee names its caller, arrives no earlier than it and is the
    // attempt's callee.
    let mut children = 0;
    for hop in hops.values() {
        let Some(parent) = hop["parent"].as_str() else {
            continue;
        };
        children += 1;
        let caller = hops[parent];
        assert_eq!(caller["request"], hop["request"]);
        assert!(seconds(&hop["arrived_s"]) >= seconds(&caller["arrived_s"]));
        assert!(
            caller["calls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["callee"] == hop["id"] && c["sent_s"] == hop["arrived_s"]),
            "{hop}\n{caller}"
        );
    }
    assert!(children > 1000, "{children}");
}

#[test]
fn tracing_a_whole_run_does_not_change_it() {
    for name in shipped_scenarios() {
        let path = repo().join("scenarios").join(&name);
        let plan = Plan::load(&path).unwrap();
        let config = plan.config;
        let (plain, _) = simulate(&plan.topology, &plan.faults, config, NullObserver);
        let (traced, tracer) =
            replay::trace_window(&plan, config.seed, 0, config.duration, Budget::DEFAULT).unwrap();
        assert_eq!(traced.trace_digest, plain.trace_digest, "{name}");
        assert_eq!(traced.events, plain.events, "{name}");
        // Every activation but the health probes' is a hop, and a hop ends
        // when its activation does.
        assert!(tracer.activations() > 0, "{name}");
        assert!(tracer.activations() as u64 <= plain.activations, "{name}");
        assert!(
            tracer.in_flight() as u64 <= plain.in_flight_at_end,
            "{name}"
        );
    }
}

#[test]
fn a_variant_run_replays_identical_with_its_patch() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let args = [
        "run",
        "scenarios/slow-database.json",
        "--variant",
        "timeout-and-breaker",
        "--out",
        out_arg,
    ];
    // Its hypothesis fails (checkouts are refused fast): exit 1, a run still.
    let ran = faultline_in(&repo(), &args);
    assert!(matches!(ran.status.code(), Some(0 | 1)), "{}", text(&ran));
    let dir = out.path().join("slow-database/timeout-and-breaker/seed-42");
    assert_eq!(run_json(&dir)["variant"], "timeout-and-breaker");
    let said = expect(&repo(), &["replay", dir.to_str().unwrap()], 0);
    assert!(said.contains("identical"), "{said}");
    // The same run directory with its variant renamed is another design:
    // replay says the run cannot be remade as recorded.
    let manifest = fs::read_to_string(dir.join("run.json")).unwrap();
    fs::write(
        dir.join("run.json"),
        manifest.replace("\"timeout-and-breaker\"", "\"short-timeouts\""),
    )
    .unwrap();
    let said = faultline_in(&repo(), &["replay", dir.to_str().unwrap()]);
    assert_eq!(said.status.code(), Some(1), "{}", text(&said));
}

/// Issue 10, defect 8: replay opened whatever `run.json`'s `files` named —
/// `../../secret.txt` was read and its first line printed, `/etc/passwd`
/// "replayed identical". Only plain names of files in the run directory are
/// accepted; anything else is bad input naming the entry, and nothing is
/// read or re-run.
#[test]
fn replay_reads_only_files_inside_the_run_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = run_copy(root.path());
    fs::write(root.path().join("secret.txt"), "the secret line\n").unwrap();
    let original = fs::read_to_string(dir.join("run.json")).unwrap();
    for bad in [
        "../../../../secret.txt",
        "/etc/passwd",
        "sub/metrics.csv",
        ".hidden",
        "..",
    ] {
        let mut manifest = run_json(&dir);
        manifest["files"][1] = Value::from(bad);
        fs::write(
            dir.join("run.json"),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
        let said = expect(root.path(), &["replay", dir.to_str().unwrap()], 2);
        assert!(said.contains("run.json: files[1]"), "{bad}: {said}");
        assert!(said.contains("plain name of a file"), "{said}");
        assert!(!said.contains("the secret line"), "{said}");
        assert!(!said.contains("identical"), "{said}");
    }
    fs::write(dir.join("run.json"), original).unwrap();
    expect(root.path(), &["replay", dir.to_str().unwrap()], 0);
}

/// Issue 10, defect 7: a device as an input (`/dev/zero`, `/dev/urandom`)
/// grew memory until killed, a FIFO blocked for ever — directly or through
/// a scenario's model path. Only regular files are read.
#[test]
fn special_files_are_refused_as_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"{ "name": "z", "model": "/dev/zero", "duration": "10s", "seed": 1 }"#;
    fs::write(dir.path().join("z.json"), scenario).unwrap();
    for args in [
        vec!["validate", "/dev/zero"],
        vec!["validate", "/dev/urandom"],
        vec!["run", "/dev/zero"],
        vec!["run", "z.json"],
    ] {
        let said = expect(dir.path(), &args, 2);
        assert!(said.contains("not a regular file"), "{args:?}: {said}");
    }
}
