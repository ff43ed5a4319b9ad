//! Stop guards: a trip rolls the experiment back at the instant it is
//! seen, the run goes on to show the recovery, and `run.json` says what the
//! guard spared against the same experiment unguarded on the same seed.

use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::{Value, json};

/// A shipped scenario copied into `dir` with `edit` applied to its tree
/// (the model path made absolute), written as `<name>.json`.
fn scenario(dir: &Path, shipped: &str, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let path = repo().join("scenarios").join(format!("{shipped}.json"));
    let mut tree: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let model = tree["model"].as_str().unwrap().to_string();
    tree["model"] = json!(repo().join("scenarios").join(model).to_str().unwrap());
    tree["name"] = json!(name);
    tree.as_object_mut().unwrap().remove("variants");
    tree.as_object_mut().unwrap().remove("expect");
    edit(&mut tree);
    let out = dir.join(format!("{name}.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&tree).unwrap()).unwrap();
    out
}

/// Runs `path` in `dir` (exit 0 or 1: a hypothesis may fail) and returns
/// its run directory (on the scenario's own seed) and what it printed.
fn run(dir: &Path, path: &Path, name: &str) -> (PathBuf, String) {
    let seed = json_of(
        path.parent().unwrap(),
        path.file_name().unwrap().to_str().unwrap(),
    )["seed"]
        .as_u64()
        .unwrap();
    let out = faultline_in(dir, &["run", path.to_str().unwrap(), "--out", "out"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        dir.join("out")
            .join(name)
            .join("baseline")
            .join(format!("seed-{seed}")),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json_of(dir: &Path, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_kind<'e>(events: &'e [Value], kind: &str) -> Vec<&'e Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// Failed and unanswered requests of every entry in a `run.json`.
fn failed(run: &Value) -> u64 {
    run["entries"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["errors"].as_u64().unwrap() + e["unanswered"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_tripped_guard_rolls_the_slowdown_back_and_spares_what_the_unguarded_run_loses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let guarded = scenario(d, "slow-database", "guarded", |t| {
        t["stop"] = json!({ "checkout-errors": {
            "probe": "checkout", "error_rate_above": "1%", "over": "5s" } });
    });
    let plain = scenario(d, "slow-database", "plain", |_| {});
    let (run_dir, said) = run(d, &guarded, "guarded");
    let (plain_dir, _) = run(d, &plain, "plain");
    let manifest = json_of(&run_dir, "run.json");
    let stop = &manifest["stop"];
    let trip = &stop["tripped"];
    assert_eq!(trip["guard"], "checkout-errors");
    assert_eq!(trip["check"], "error_rate_above");
    let at = trip["at_s"].as_f64().unwrap();
    // The slowdown starts at 60 s; the checkout's timeouts push its error
    // rate over 5 s past 1 % within seconds, seen at a window's end.
    assert!(at > 60.0 && at <= 70.0 && at.fract() == 0.0, "{trip}");
    assert!(trip["value"].as_f64().unwrap() > 0.01, "{trip}");
    assert_eq!(trip["rolled_back"], json!(["db-slow"]));
    assert_eq!(trip["cancelled"], json!([]));

    // The events say when, and the fault ends then, not on its schedule.
    let events = events(&run_dir);
    let stopped = of_kind(&events, "experiment_stopped");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0]["time_s"].as_f64().unwrap(), at);
    assert_eq!(stopped[0]["component"], "checkout-errors");
    let rolled = of_kind(&events, "fault_rolled_back");
    assert_eq!(rolled.len(), 1);
    assert_eq!(rolled[0]["component"], "db-slow");
    assert_eq!(rolled[0]["time_s"].as_f64().unwrap(), at);
    assert!(of_kind(&events, "fault_ended").is_empty());
    // The analysis goes by the faults as they happened.
    let analysis = json_of(&run_dir, "analysis.json");
    assert_eq!(analysis["faults"][0]["end_s"].as_f64().unwrap(), at);

    // The unguarded figures are those of the same scenario run without
    // the guard, and the guard spared most of its failures.
    let damage = &stop["damage"];
    let plain_run = json_of(&plain_dir, "run.json");
    assert_eq!(
        damage["unguarded"]["failed"].as_u64().unwrap(),
        failed(&plain_run)
    );
    assert_eq!(
        damage["guarded"]["failed"].as_u64().unwrap(),
        failed(&manifest)
    );
    assert!(
        failed(&plain_run) > 10 * failed(&manifest),
        "unguarded {} vs guarded {}",
        failed(&plain_run),
        failed(&manifest)
    );
    assert!(said.contains("TRIPPED checkout-errors"), "{said}");
    assert!(said.contains("spared"), "{said}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("### Stop guards"), "{report}");

    // A tripped run replays like any other.
    let out = faultline_in(d, &["replay", run_dir.to_str().unwrap()]);
    let replayed = succeeded(&out);
    assert!(replayed.contains("identical"), "{replayed}");
}

#[test]
fn a_p99_guard_trips_on_the_latency_of_every_request_over_its_span() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = scenario(d, "slow-database", "p99", |t| {
        t["stop"] = json!({ "slow-checkout": {
            "probe": "checkout", "p99_above": "500ms", "over": "3s" } });
    });
    let (run_dir, _) = run(d, &path, "p99");
    let trip = json_of(&run_dir, "run.json")["stop"]["tripped"].clone();
    assert_eq!(trip["check"], "p99_above");
    // In seconds, as run.json gives a p99.
    assert!(trip["value"].as_f64().unwrap() > 0.5, "{trip}");
    assert_eq!(trip["bound"].as_f64().unwrap(), 0.5);
    assert!(trip["at_s"].as_f64().unwrap() > 60.0, "{trip}");
}

#[test]
fn a_guard_that_never_trips_is_reported_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let guarded = scenario(d, "slow-database", "loose", |t| {
        t["stop"] = json!({ "loose": {
            "probe": "checkout", "error_rate_above": "99%", "over": "10s" } });
    });
    let plain = scenario(d, "slow-database", "plain", |_| {});
    let (run_dir, said) = run(d, &guarded, "loose");
    let (plain_dir, _) = run(d, &plain, "plain");
    let manifest = json_of(&run_dir, "run.json");
    let stop = &manifest["stop"];
    assert!(stop.get("tripped").is_none(), "{stop}");
    assert!(stop.get("damage").is_none(), "{stop}");
    let guard = &stop["guards"][0];
    assert_eq!(guard["tripped"], false);
    // Watched at every window end that saw the slowdown (60–180 s).
    assert_eq!(guard["evaluated_windows"], 121, "{guard}");
    assert_eq!(guard["watched_from_s"].as_f64().unwrap(), 61.0);
    assert_eq!(guard["watched_to_s"].as_f64().unwrap(), 181.0);
    let worst = guard["limits"][0]["worst"].as_f64().unwrap();
    assert!(worst > 0.1 && worst < 0.99, "{guard}");
    assert!(said.contains("would never have tripped"), "{said}");
    // Guards only read: the run is the unguarded one, event for event.
    let plain_run = json_of(&plain_dir, "run.json");
    assert_eq!(
        manifest["engine"]["trace_digest"],
        plain_run["engine"]["trace_digest"]
    );
}

#[test]
fn a_rolling_restart_halts_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let guarded = scenario(d, "rolling-deploy", "halted", |t| {
        t["stop"] = json!({ "users-errors": {
            "probe": "users", "error_rate_above": "1%", "over": "5s" } });
    });
    let plain = scenario(d, "rolling-deploy", "whole", |_| {});
    let (run_dir, _) = run(d, &guarded, "halted");
    let (plain_dir, _) = run(d, &plain, "whole");
    let trip = json_of(&run_dir, "run.json")["stop"]["tripped"].clone();
    assert_eq!(trip["rolled_back"], json!(["deploy"]));
    let at = trip["at_s"].as_f64().unwrap();
    let stopped = |dir: &Path| {
        of_kind(&events(dir), "instance_stopped")
            .iter()
            .map(|e| e["time_s"].as_f64().unwrap())
            .collect::<Vec<f64>>()
    };
    let (guarded_stops, all_stops) = (stopped(&run_dir), stopped(&plain_dir));
    assert_eq!(all_stops.len(), 4, "the whole deploy restarts every server");
    assert!(
        !guarded_stops.is_empty() && guarded_stops.len() < all_stops.len(),
        "{guarded_stops:?} of {all_stops:?}"
    );
    assert!(
        guarded_stops.iter().all(|t| *t <= at),
        "{guarded_stops:?}, trip at {at}"
    );
}

#[test]
fn a_trip_stops_the_monkey_thaws_the_frozen_and_cancels_what_is_to_come() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = scenario(d, "kill-app-server", "stopped", |t| {
        t["faults"] = json!({
            "slow-db": { "kind": "latency", "target": "db", "add": { "constant": "2s" }, "at": "40s", "for": "60s" },
            "freeze": { "kind": "instance_freeze", "target": "db", "at": "40s", "for": "2m" },
            "monkey": { "kind": "chaos_monkey", "target": "app", "mean_interval": "2s", "at": "40s", "for": "3m" },
            "later": { "kind": "latency", "target": "db", "add": { "constant": "1s" }, "at": "150s", "for": "10s" }
        });
        t.as_object_mut().unwrap().remove("hypothesis");
        t["stop"] = json!({ "users-errors": {
            "probe": "users", "error_rate_above": "5%", "over": "2s" } });
    });
    let (run_dir, _) = run(d, &path, "stopped");
    let trip = json_of(&run_dir, "run.json")["stop"]["tripped"].clone();
    let at = trip["at_s"].as_f64().unwrap();
    assert!(at > 40.0 && at < 100.0, "{trip}");
    assert_eq!(trip["rolled_back"], json!(["slow-db", "freeze", "monkey"]));
    assert_eq!(trip["cancelled"], json!(["later"]));
    let events = events(&run_dir);
    let after = |kind: &str| {
        of_kind(&events, kind)
            .into_iter()
            .filter(|e| e["time_s"].as_f64().unwrap() > at)
            .count()
    };
    // The monkey roams no more, and the fault still to come never starts.
    assert_eq!(after("instance_killed"), 0);
    assert_eq!(after("fault_started"), 0);
    assert!(
        of_kind(&events, "fault_started")
            .iter()
            .all(|e| e["component"] != "later")
    );
    // The frozen database thaws at the trip, not at its schedule's end.
    let thawed = of_kind(&events, "instance_thawed");
    assert_eq!(thawed.len(), 1, "{thawed:?}");
    assert_eq!(thawed[0]["time_s"].as_f64().unwrap(), at);
    // The analysis knows only the faults that happened.
    let analysis = json_of(&run_dir, "analysis.json");
    let names: Vec<&str> = analysis["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["slow-db", "freeze", "monkey"]);
}

#[test]
fn bad_guards_are_refused_with_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let check = |name: &str, stop: Value, faults: bool, expected: &[&str]| {
        let path = scenario(d, "slow-database", name, |t| {
            t["stop"] = stop;
            if !faults {
                t.as_object_mut().unwrap().remove("faults");
                t.as_object_mut().unwrap().remove("hypothesis");
            }
        });
        let out = faultline_in(d, &["run", path.to_str().unwrap(), "--out", "out"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&format!("{name}.json")), "{name}: {err}");
        for e in expected {
            assert!(err.contains(e), "{name}: expected `{e}` in: {err}");
        }
        assert!(
            !d.join("out").join(name).exists(),
            "{name}: nothing written"
        );
    };
    check(
        "file-level",
        json!({
            "empty": { "probe": "checkout" },
            "ragged": { "probe": "checkout", "error_rate_above": "5%", "over": "1500ms" },
            "never": { "probe": "checkout", "error_rate_above": "100%" }
        }),
        true,
        &[
            "stop.empty",
            "at least one threshold",
            "stop.ragged.over",
            "whole number of metrics windows",
            "stop.never.error_rate_above",
        ],
    );
    check(
        "resolved",
        json!({
            "typo": { "probe": "chekout", "error_rate_above": "5%" },
            "writes": { "probe": "checkout", "lost_writes_above": 0 }
        }),
        true,
        &[
            "stop.typo.probe",
            "did you mean `checkout`?",
            "stop.writes.lost_writes_above",
            "replicated database",
        ],
    );
    check(
        "faultless",
        json!({ "g": { "probe": "checkout", "error_rate_above": "5%" } }),
        false,
        &["stop", "has none"],
    );
}

#[test]
fn compare_says_which_variants_a_guard_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = repo().join("scenarios/rolling-deploy.json");
    let out = faultline_in(
        d,
        &[
            "compare",
            path.to_str().unwrap(),
            "--seeds",
            "2",
            "--out",
            "out",
        ],
    );
    let said = succeeded(&out);
    assert!(
        said.contains("stop guards ended the experiment early: halt-on-errors on 2 of 2 seeds"),
        "{said}"
    );
    let compare = json_of(&d.join("out/rolling-deploy/compare"), "compare.json");
    for v in compare["variants"].as_array().unwrap() {
        let expected = if v["name"] == "halt-on-errors" {
            Some(2)
        } else {
            None
        };
        assert_eq!(v["stopped"].as_u64(), expected, "{}", v["name"]);
    }
    let runs = std::fs::read_to_string(d.join("out/rolling-deploy/compare/runs.csv")).unwrap();
    let mut lines = runs.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "stopped_at_s").unwrap();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            cells[0] == "halt-on-errors",
            !cells[column].is_empty(),
            "{line}"
        );
    }
}
