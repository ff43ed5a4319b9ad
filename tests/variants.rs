//! Variants over faults and hypotheses: "start small" as one scenario,
//! compared over seeds like any design variant; and the typo guard that
//! lets legitimate additions through.

use std::path::{Path, PathBuf};

use crate::common::*;
use faultline::compare;
use faultline::plan::Plan;
use faultline::sim::Budget;
use serde_json::Value;

/// The crash scenario with `variants` (JSON members) over it.
fn scenario(dir: &Path, variants: &str) -> PathBuf {
    crash_scenario(dir, "2%", &format!(r#""variants": {{ {variants} }}"#))
}

#[test]
fn start_small_is_one_scenario_whose_variants_kill_one_two_then_three_servers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = scenario(
        d,
        r#""two": { "faults": { "crash-2": { "kind": "instance_kill", "target": "app-az-b-1", "mode": "crash", "at": "40s" } } },
           "three": { "faults": {
             "crash-2": { "kind": "instance_kill", "target": "app-az-b-1", "mode": "crash", "at": "40s" },
             "crash-3": { "kind": "instance_kill", "target": "app-az-a-2", "mode": "crash", "at": "40s" } } }"#,
    );
    // Each variant's run injects its own faults, and only those.
    for (variant, kills) in [("baseline", 1), ("two", 2), ("three", 3)] {
        let out = faultline_in(
            d,
            &[
                "run",
                path.to_str().unwrap(),
                "--variant",
                variant,
                "--out",
                "out",
                "-q",
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{variant}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run_dir = d.join("out/kill").join(variant).join("seed-3");
        let killed = events_of_kind(&run_dir, "instance_killed");
        assert_eq!(killed.len(), kills, "{variant}: {killed:?}");
    }

    // Compared over seeds: every server lost costs availability, paired.
    let plans = Plan::load_all(&path).unwrap();
    let names: Vec<&str> = plans
        .iter()
        .map(|p| p.experiment.variant.as_str())
        .collect();
    assert_eq!(names, ["baseline", "two", "three"]);
    let availability: Vec<Vec<f64>> = plans
        .iter()
        .map(|plan| {
            (3..7)
                .map(|seed| {
                    compare::measure(plan, seed, Budget::DEFAULT)
                        .unwrap()
                        .availability
                })
                .collect()
        })
        .collect();
    for (seed, ((one, two), three)) in availability[0]
        .iter()
        .zip(&availability[1])
        .zip(&availability[2])
        .enumerate()
    {
        assert!(one > two && two > three, "seed {seed}: {one} {two} {three}");
    }
}

#[test]
fn a_variant_may_place_in_a_declared_zone_and_add_a_call_named_like_another() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // `az-b` is one letter from `az-a`, `query2` close to `query`: both were
    // refused as typos when they are whole, legitimate additions.
    let path = scenario(
        d,
        r#""db-in-b": { "services": { "db": { "instances": { "placement": { "az-b": 1 } } } } },
           "second-query": { "services": { "app": { "endpoints": { "handle": { "calls": {
             "query2": { "to": "db.query", "timeout": "1s" } } } } } } }"#,
    );
    let plans = Plan::load_all(&path).unwrap_or_else(|e| panic!("{e}"));
    let db = |p: &Plan| {
        p.topology
            .services
            .iter()
            .position(|s| s.name == "db")
            .unwrap()
    };
    let instances = |p: &Plan| {
        p.topology
            .instances
            .iter()
            .filter(|i| i.service.index() == db(p))
            .count()
    };
    assert_eq!(instances(&plans[0]), 1);
    assert_eq!(instances(&plans[1]), 2);
    // The added call is made: the database answers twice per request.
    let calls = |p: &Plan| p.topology.calls.len();
    assert_eq!(calls(&plans[2]), calls(&plans[0]) + 1);

    // A misspelt fault or hypothesis (a partial entry beside a close name)
    // is still a typo, and the run's own settings are not a variant's.
    let typo = scenario(
        d,
        r#""late": { "faults": { "crash-l": { "at": "50s" } } },
           "loose": { "hypothesis": { "servd": { "error_rate_below": "5%" } } },
           "longer": { "duration": "10m" }"#,
    );
    let out = faultline_in(d, &["validate", typo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "variants.late.faults.crash-l (line",
        "there is no `crash-l` here; did you mean `crash-1`?",
        "variants.loose.hypothesis.servd",
        "did you mean `served`?",
        "variants.longer.duration",
        "the same for every variant",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn crash_against_host_loss_is_a_variant_and_a_stricter_bar_is_not_judged_as_worse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = scenario(
        d,
        r#""host-down": { "faults": { "crash-1": { "mode": "host_down" } } },
           "strict": { "hypothesis": { "served": { "error_rate_below": "0.01%" } } }"#,
    );
    let out = faultline_in(
        d,
        &[
            "compare",
            path.to_str().unwrap(),
            "--seeds",
            "3",
            "--out",
            "out",
            "-q",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("its pass rate is of its own checks"),
        "{table}"
    );
    let c: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("out/kill/compare/compare.json")).unwrap(),
    )
    .unwrap();
    let variant = |name: &str| {
        c["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    // A lost host answers nothing: its requests wait for their timeout,
    // where a crashed process refuses at once.
    let host = variant("host-down");
    assert!(host["verdicts"]["p99_ms"]["verdict"] == "worse", "{host}");
    assert!(
        host["metrics"]["p99_ms"]["mean"].as_f64().unwrap()
            > 10.0
                * variant("baseline")["metrics"]["p99_ms"]["mean"]
                    .as_f64()
                    .unwrap()
    );
    // Every seed fails the stricter check, and that is not the design's
    // fault: the verdict on it is n/a, the rest is judged as usual.
    let strict = variant("strict");
    assert_eq!(strict["own_hypotheses"], true);
    assert_eq!(strict["metrics"]["hypothesis_pass_rate"]["mean"], 0.0);
    assert_eq!(strict["verdicts"]["hypothesis_pass_rate"]["verdict"], "n/a");
    assert_eq!(
        strict["verdicts"]["availability"]["difference"]["mean"],
        0.0
    );
    assert!(variant("host-down").get("own_hypotheses").is_none());
}
