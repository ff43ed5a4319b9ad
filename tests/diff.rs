//! `faultline diff`: the same run twice is identical, another seed parts at
//! the first random draw, a variant on the baseline's seed parts where its
//! change first acts, and runs that cannot be set side by side are refused.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{faultline_in, repo};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs the binary from the project root (where the runs' inputs are
/// found), asserting the exit code; returns stdout + stderr.
fn expect(args: &[&str], code: i32) -> String {
    let output = faultline_in(&repo(), args);
    let all = text(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "faultline {args:?}:\n{all}"
    );
    all
}

/// Runs `scenario` (a variant, a seed) into `out`; returns its run
/// directory.
fn run(out: &Path, scenario: &str, variant: &str, seed: u64) -> PathBuf {
    let seed_arg = seed.to_string();
    let output = faultline_in(
        &repo(),
        &[
            "run",
            scenario,
            "--variant",
            variant,
            "--seed",
            &seed_arg,
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
    );
    // A scenario whose hypothesis fails by design exits 1: still a run.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        text(&output)
    );
    let name = Path::new(scenario).file_stem().unwrap();
    out.join(name).join(variant).join(format!("seed-{seed}"))
}

fn diff(a: &Path, b: &Path, out: &Path, code: i32) -> String {
    expect(
        &[
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        code,
    )
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

const SLOW_DB: &str = "scenarios/slow-database.json";

#[test]
fn diff_of_a_run_and_its_twin_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(&tmp.path().join("one"), SLOW_DB, "baseline", 42);
    let b = run(&tmp.path().join("two"), SLOW_DB, "baseline", 42);
    let out = tmp.path().join("d");
    let said = diff(&a, &b, &out, 0);
    assert!(said.contains("identical"), "{said}");
    let d = json(&out.join("diff.json"));
    assert_eq!(d["identical"], true);
    assert!(d["divergence"].is_null());
    assert!(d["health"].as_array().unwrap().is_empty());
    assert!(d["top_windows"].as_array().unwrap().is_empty());
    let csv = fs::read_to_string(out.join("diff.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let deltas: Vec<usize> = (0..header.len())
        .filter(|&k| header[k].ends_with("_delta"))
        .collect();
    assert_eq!(deltas.len(), 6);
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        for &k in &deltas {
            assert!(
                cells[k].is_empty() || cells[k].parse::<f64>().unwrap() == 0.0,
                "{} is {} in {line}",
                header[k],
                cells[k]
            );
        }
        rows += 1;
    }
    // A row per window of each entry, service and pool of A's metrics.
    let metrics = fs::read_to_string(a.join("metrics.csv")).unwrap();
    let compared = metrics
        .lines()
        .skip(1)
        .filter(|l| {
            [",entry,", ",service,", ",pool,"]
                .iter()
                .any(|k| l.contains(k))
        })
        .count();
    assert_eq!(rows, compared);
    assert!(out.join("diff.svg").is_file() && out.join("diff.png").is_file());
}

#[test]
fn diff_of_two_seeds_parts_at_the_first_random_draw() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), SLOW_DB, "baseline", 42);
    let b = run(tmp.path(), SLOW_DB, "baseline", 7);
    let out = tmp.path().join("d");
    let said = diff(&a, &b, &out, 0);
    let d = json(&out.join("diff.json"));
    let div = &d["divergence"];
    assert_eq!(div["trace"], "engine_events", "{said}");
    // Nothing is drawn before the first arrival: the first events of each
    // run are its arrivals, timed by the seed's arrival stream.
    let time = div["time_s"].as_f64().unwrap();
    assert!(time < 0.1, "parts at {time} s: {said}");
    assert!(div["index"].as_u64().unwrap() <= 3, "{said}");
    for side in ["a", "b"] {
        assert_eq!(div[side]["event"], "an arrival", "{said}");
    }
    assert!(said.contains("first divergence at 0.0"), "{said}");
    assert_eq!(d["identical"], false);
}

#[test]
fn diff_of_a_variant_parts_when_its_change_first_acts() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), SLOW_DB, "baseline", 42);
    let b = run(tmp.path(), SLOW_DB, "short-timeouts", 42);
    let out = tmp.path().join("d");
    let said = diff(&a, &b, &out, 0);
    assert!(
        said.contains("model differs: variant baseline vs short-timeouts"),
        "{said}"
    );
    let d = json(&out.join("diff.json"));
    // Paired streams: the same arrivals and work times until the database
    // slows down at 60 s and the shorter timeouts start to fire.
    let time = d["divergence"]["time_s"].as_f64().unwrap();
    assert!(time >= 60.0, "parted at {time} s, before the fault: {said}");
    let events_a = json(&a.join("run.json"))["engine"]["events"]
        .as_u64()
        .unwrap();
    assert!(d["divergence"]["index"].as_u64().unwrap() < events_a);
    // Every component whose worst state differs is named, with the run's
    // own spans.
    let health: Vec<&str> = d["health"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["component"].as_str().unwrap())
        .collect();
    let worst = |dir: &Path| -> Vec<(String, String)> {
        json(&dir.join("analysis.json"))["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["component"].as_str().unwrap().to_string(),
                    c["worst"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (wa, wb) = (worst(&a), worst(&b));
    let differing: Vec<&String> = wa
        .iter()
        .filter(|c| !wb.contains(c))
        .map(|(name, _)| name)
        .collect();
    assert!(!differing.is_empty());
    for name in differing {
        assert!(health.contains(&name.as_str()), "{name} not named: {said}");
        assert!(said.contains(&format!("  {name} (")), "{name}: {said}");
    }
    for h in d["health"].as_array().unwrap() {
        assert!(h["differs_from_s"].as_f64().unwrap() >= 60.0, "{h}");
    }
    // The entries' errors in the table are the runs' own.
    let top = &d["top_windows"][0];
    let errors_a = top["a"]["errors"].as_u64().unwrap();
    let errors_b = top["b"]["errors"].as_u64().unwrap();
    assert_ne!(errors_a, errors_b);
    let start = top["window_start_s"].as_f64().unwrap();
    let component = top["component"].as_str().unwrap();
    let metrics = fs::read_to_string(a.join("metrics.csv")).unwrap();
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let row: Vec<&str> = metrics
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| {
            r[col("component")] == component
                && r[col("window_start_s")].parse::<f64>().ok() == Some(start)
        })
        .unwrap();
    assert_eq!(row[col("errors")].parse::<u64>().unwrap(), errors_a);
}

#[test]
fn diff_refuses_what_is_not_a_run_and_runs_of_other_models() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), SLOW_DB, "baseline", 42);
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = tmp.path().join("d");
    let said = diff(&a, &empty, &out, 2);
    assert!(said.contains("run.json"), "{said}");
    assert!(!out.exists(), "nothing written");
    // Another model, the same variant name.
    let other = run(tmp.path(), "scenarios/kill-app-server.json", "baseline", 42);
    let said = diff(&a, &other, &out, 2);
    assert!(
        said.contains(&format!("{}", other.join("run.json").display())),
        "{said}"
    );
    assert!(said.contains("a different model"), "{said}");
    assert!(!out.exists(), "nothing written");
    // A variant that adds a service: the windows cannot be paired.
    let queued = run(tmp.path(), SLOW_DB, "enqueue-fallback", 42);
    let said = diff(&a, &queued, &out, 2);
    assert!(said.contains("only in B: order-queue (service)"), "{said}");
    assert!(!out.exists(), "nothing written");
}
