//! `sweep`: a scenario over a grid of settings × seeds. Its goodput curve
//! against the M/M/c/K loss formula, its metastable cells against the
//! retry storm's mechanism, and its bytes against the thread count and
//! the sharding.

use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::Value;

/// One service of `c` = 4 workers at Exp(10 ms) with room for 20 waiting
/// (K = 24 in the system): M/M/4/24 with Poisson arrivals.
fn loss_system(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("model.json"),
        r#"{
  "name": "mmck",
  "zones": ["z"],
  "services": {
    "svc": {
      "instances": { "count": 1 },
      "workers": 4,
      "queue": 20,
      "endpoints": { "work": { "work": { "exponential": { "mean": "10ms" } } } }
    }
  },
  "workload": { "users": { "endpoint": "svc.work", "rate": "100/s" } },
  "lint": { "allow": [
    { "rule": "single-instance", "at": "services.svc", "because": "a textbook queue" },
    { "rule": "single-zone", "at": "services.svc", "because": "a textbook queue" }
  ] }
}"#,
    )
    .unwrap();
    let path = dir.join("load.json");
    std::fs::write(
        &path,
        r#"{ "name": "load", "model": "model.json", "duration": "120s", "warmup": "10s", "seed": 1 }"#,
    )
    .unwrap();
    path
}

/// P(K in system) of M/M/c/K at offered load `a` = λ/μ: the share of
/// arrivals refused.
fn mmck_blocking(c: u32, k: u32, a: f64) -> f64 {
    let mut terms = Vec::new();
    let mut term = 1.0;
    for n in 0..=k {
        if n > 0 {
            term *= a / f64::from(n.min(c));
        }
        terms.push(term);
    }
    terms[k as usize] / terms.iter().sum::<f64>()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn goodput_along_a_swept_load_follows_the_mm4_24_loss_formula() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = loss_system(d);
    let rates = [200.0, 350.0, 400.0, 500.0, 700.0];
    let axis = format!(
        "workload.users.rate={}",
        rates.map(|r| format!("{r}/s")).join(",")
    );
    let out = faultline_in(
        d,
        &[
            "sweep",
            scenario.to_str().unwrap(),
            "--set",
            &axis,
            "--seeds",
            "3",
            "--metric",
            "goodput",
        ],
    );
    let table = succeeded(&out);
    assert!(table.contains("goodput"), "{table}");
    let sweep = read_json(&d.join("output/load/sweep/sweep.json"));
    let cells = sweep["cells"].as_array().unwrap();
    assert_eq!(cells.len(), rates.len());
    for (cell, rate) in cells.iter().zip(rates) {
        let blocking = mmck_blocking(4, 24, rate / 100.0);
        let expected = rate * (1.0 - blocking);
        let goodput = cell["goodput_per_s"]["mean"].as_f64().unwrap();
        let offered = cell["offered_per_s"]["mean"].as_f64().unwrap();
        assert!(
            (offered - rate).abs() / rate < 0.01,
            "{rate}: offered {offered}"
        );
        assert!(
            (goodput - expected).abs() / expected < 0.02,
            "{rate}/s: goodput {goodput}, M/M/4/24 says {expected} (blocking {blocking:.4})"
        );
    }
    // Past capacity (400/s) goodput saturates near it: the curve bends.
    let last = cells[4]["goodput_per_s"]["mean"].as_f64().unwrap();
    assert!(last > 390.0 && last < 401.0, "{last}");
    for file in [
        "sweep.csv",
        "runs.csv",
        "heatmap.svg",
        "heatmap.png",
        "goodput.svg",
        "goodput.png",
    ] {
        assert!(d.join("output/load/sweep").join(file).is_file(), "{file}");
    }
}

#[test]
fn a_retry_storm_is_marked_metastable_above_the_load_its_hiccup_tips_over() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = repo().join("scenarios/retry-storm.json");
    // The database serves 1000/s, 250/s during the 30 ms hiccup: at
    // 100/s the hiccup drains, at 700/s timed-out queries retried four
    // times keep it saturated for good.
    let out = faultline_in(
        d,
        &[
            "sweep",
            scenario.to_str().unwrap(),
            "--set",
            "workload.users.rate=100/s,700/s",
            "--seeds",
            "2",
        ],
    );
    let table = succeeded(&out);
    assert!(table.contains("M2/2"), "{table}");
    let sweep = read_json(&d.join("output/retry-storm/sweep/sweep.json"));
    let cells = sweep["cells"].as_array().unwrap();
    assert_eq!(cells[0]["metastable_rate"], 0.0);
    assert_eq!(cells[1]["metastable_rate"], 1.0);
    assert!(cells[0]["availability"]["mean"].as_f64().unwrap() > 0.99);
    assert!(cells[1]["availability"]["mean"].as_f64().unwrap() < 0.5);
}

#[test]
fn a_sweep_is_the_same_bytes_at_one_and_two_threads_and_sharded_then_merged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = loss_system(d);
    let s = scenario.to_str().unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "sweep",
            s,
            "--set",
            "workload.users.rate=300/s,450/s",
            "--set",
            "services.svc.queue=5,20",
            "--set",
            "duration=40s",
            "--seeds",
            "3",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        succeeded(&faultline_in(d, &a))
    };
    run(&["--jobs", "1", "--out", "one"]);
    run(&["--jobs", "2", "--out", "two"]);
    run(&["--shard", "0/2", "--out", "parts"]);
    run(&["--shard", "1/2", "--out", "parts"]);
    assert!(
        d.join("parts/load/sweep-shard-1-of-2/partial.json")
            .is_file()
    );
    let merged = succeeded(&faultline_in(
        d,
        &["merge", "parts/load", "--out", "merged"],
    ));
    assert!(merged.contains("merged 2 partial results"), "{merged}");
    for file in ["sweep.json", "sweep.csv", "runs.csv", "heatmap.svg"] {
        let one = std::fs::read(d.join("one/load/sweep").join(file)).unwrap();
        for other in ["two", "merged"] {
            let bytes = std::fs::read(d.join(other).join("load/sweep").join(file)).unwrap();
            assert!(one == bytes, "{file} differs in {other}");
        }
    }
    // A fixed setting holds in every cell; the grid is 2 × 2.
    let sweep = read_json(&d.join("one/load/sweep/sweep.json"));
    assert_eq!(sweep["fixed"], serde_json::json!(["duration=40s"]));
    assert_eq!(sweep["cells"].as_array().unwrap().len(), 4);
    // A smaller queue refuses more at the same load.
    let cells = sweep["cells"].as_array().unwrap();
    let avail = |k: usize| cells[k]["availability"]["mean"].as_f64().unwrap();
    assert!(avail(2) < avail(3), "{} {}", avail(2), avail(3));
}

#[test]
fn a_sweep_without_an_axis_or_with_a_setting_that_reaches_nothing_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = loss_system(d);
    let s = scenario.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["--set", "services.svc.queue=5"],
            "a sweep needs an axis",
        ),
        (
            vec![
                "--set",
                "services.svc.queue=5,6",
                "--set",
                "services.svc.workers=1,2",
                "--set",
                "duration=1m,2m",
            ],
            "at most two axes",
        ),
        (
            vec!["--set", "services.svx.queue=5,6"],
            "did you mean `svc`?",
        ),
        (vec!["--set", "services.svc.queue=5,-1"], "with --set"),
    ] {
        let mut all = vec!["sweep", s, "--seeds", "2", "--out", "out"];
        all.extend(args.iter().copied());
        let out = faultline_in(d, &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(!d.join("out").exists(), "nothing written on bad input");
}

#[test]
fn a_sweep_partial_whose_axes_do_not_make_its_cells_is_refused_not_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = loss_system(d);
    succeeded(&faultline_in(
        d,
        &[
            "sweep",
            scenario.to_str().unwrap(),
            "--set",
            "workload.users.rate=100/s,200/s",
            "--set",
            "duration=20s",
            "--seeds",
            "1",
            "--shard",
            "0/1",
            "--out",
            "parts",
        ],
    ));
    let file = d.join("parts/load/sweep-shard-0-of-1/partial.json");
    let written = std::fs::read_to_string(&file).unwrap();
    for (from, to, expected) in [
        (
            r#""100/s","#,
            r#""100/s", "150/s","#,
            "make the grid's 2 cells",
        ),
        (
            r#""metric": "availability""#,
            r#""metric": "p42""#,
            "expected one of availability",
        ),
    ] {
        let tampered = written.replacen(from, to, 1);
        assert_ne!(tampered, written, "{from}");
        std::fs::write(&file, tampered).unwrap();
        let out = faultline_in(d, &["merge", "parts/load", "--out", "merged"]);
        assert_eq!(out.status.code(), Some(2), "{to}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{err}");
        assert!(!err.contains("panicked"));
    }
    assert!(!d.join("merged").exists());
}
