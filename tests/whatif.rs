//! What-ifs (`run --set PATH=VALUE`): a value placed into the scenario or
//! the model before they are parsed, recorded in run.json and applied
//! again by replay; and the refusals of settings that reach nothing.

use std::path::Path;

use crate::common::*;
use serde_json::Value;

fn run_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

fn first_event(dir: &Path, event: &str) -> Value {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == event)
        .unwrap_or_else(|| panic!("no {event}"))
}

#[test]
fn a_set_moves_a_fault_and_resizes_a_service_and_replays_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = repo().join("scenarios/kill-app-server.json");
    let scenario = scenario.to_str().unwrap();
    let plain = faultline_in(d, &["run", scenario, "--out", "plain", "-q"]);
    assert!(plain.status.code().is_some_and(|c| c <= 1));
    let out = faultline_in(
        d,
        &[
            "run",
            scenario,
            "--set",
            "faults.crash-app-1.at=45s",
            "--set",
            "workload.users.rate=300/s",
            "--out",
            "what-if",
            "-q",
        ],
    );
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = d.join("what-if/kill-app-server/baseline/seed-7");
    let base = d.join("plain/kill-app-server/baseline/seed-7");
    // The fault starts when the setting says, not when the file does.
    assert_eq!(first_event(&base, "instance_killed")["time_s"], 60.0);
    assert_eq!(first_event(&run, "instance_killed")["time_s"], 45.0);
    // Half the file's 600/s arrive.
    let (m, b) = (run_json(&run), run_json(&base));
    assert_eq!(
        m["set"],
        serde_json::json!(["faults.crash-app-1.at=45s", "workload.users.rate=300/s"])
    );
    assert!(b.get("set").is_none());
    let requests = |j: &Value| j["entries"]["users"]["requests"].as_f64().unwrap();
    let ratio = requests(&m) / requests(&b);
    assert!((ratio - 0.5).abs() < 0.02, "{ratio}");
    // The file hashes are the files'; the parsed hashes are what ran.
    assert_eq!(m["model"]["file_sha256"], b["model"]["file_sha256"]);
    assert_ne!(m["model"]["sha256"], b["model"]["sha256"]);
    assert_ne!(m["scenario"]["sha256"], b["scenario"]["sha256"]);
    // Replay applies the recorded settings again: identical.
    let replay = faultline_in(d, &["replay", run.to_str().unwrap()]);
    assert!(
        replay.status.success(),
        "{}{}",
        String::from_utf8_lossy(&replay.stdout),
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(String::from_utf8_lossy(&replay.stdout).contains("identical"));
}

#[test]
fn a_set_that_reaches_nothing_or_breaks_a_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = repo().join("scenarios/kill-app-server.json");
    let scenario = scenario.to_str().unwrap();
    for (set, expected) in [
        ("services.ap.workers=8", "there is no `ap` here"),
        ("services.ap.workers=8", "did you mean `app`?"),
        (
            "faults.crash-app-1.at=1h",
            "with --set faults.crash-app-1.at=1h",
        ),
        ("faults.crash-app-1.at=1h", "the run ends at 3m"),
        ("services.app.workers=-1", "expected u32"),
        ("services.app.workers", "expected PATH=VALUE"),
        ("duration=soon", "expected a duration"),
    ] {
        let out = faultline_in(d, &["run", scenario, "--set", set, "--out", "out"]);
        assert_eq!(out.status.code(), Some(2), "{set}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{set}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!d.join("out").exists(), "nothing written on bad input");
}

#[test]
fn a_comparison_under_a_what_if_records_it_and_shards_of_other_what_ifs_do_not_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = repo().join("scenarios/kill-app-server.json");
    let scenario = scenario.to_str().unwrap();
    let compare = |set: &str, extra: &[&str]| {
        let mut args = vec!["compare", scenario, "--seeds", "2", "--set", set];
        args.extend_from_slice(extra);
        faultline_in(d, &args)
    };
    let table = succeeded(&compare("workload.users.rate=300/s", &["--out", "whole"]));
    assert!(
        table.contains("what-if: --set workload.users.rate=300/s"),
        "{table}"
    );
    let c: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("whole/kill-app-server/compare/compare.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(c["set"], serde_json::json!(["workload.users.rate=300/s"]));
    // Half the file's load reaches every variant alike.
    for v in c["variants"].as_array().unwrap() {
        let requests = v["requests"].as_f64().unwrap() / 2.0;
        let expected = 300.0 * (180.0 - 30.0);
        assert!(
            (requests / expected - 1.0).abs() < 0.02,
            "{}: {requests}",
            v["name"]
        );
    }
    succeeded(&compare(
        "workload.users.rate=300/s",
        &["--shard", "0/2", "--out", "parts"],
    ));
    succeeded(&compare(
        "workload.users.rate=400/s",
        &["--shard", "1/2", "--out", "parts"],
    ));
    let out = faultline_in(d, &["merge", "parts/kill-app-server", "--out", "merged"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("different what-ifs"), "{err}");
}
