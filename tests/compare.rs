//! `compare` and `merge` end to end: output bytes that do not depend on the
//! thread count or on how the grid was sharded, clear refusals of bad
//! input, and the shipped mitigations beating their baselines.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;
use faultline::compare::{self, Seeds, report};
use faultline::plan::Plan;
use faultline::record::compare::RankVerdict;
use faultline::sim::Budget;

/// A short retry storm (40 s) with a baseline and one cure, in `dir`:
/// small enough to run a grid in a test, and with a difference to find.
fn small_scenario(dir: &Path, extra_variant: &str) -> PathBuf {
    let model = repo().join("models/retry-storm.json");
    let path = dir.join("storm.json");
    std::fs::write(
        &path,
        format!(
            r#"{{
  "name": "storm",
  "model": "{}",
  "duration": "40s",
  "warmup": "5s",
  "seed": 11,
  "faults": {{
    "hiccup": {{ "kind": "latency", "target": "db", "add": {{ "constant": "30ms" }}, "at": "10s", "for": "10s" }}
  }},
  "variants": {{
    "budget": {{ "services": {{ "api": {{ "endpoints": {{ "handle": {{ "calls": {{ "query": {{ "retry": {{
      "backoff": "50ms", "jitter": "full", "budget": {{ "ratio": 0.1 }} }} }} }} }} }} }} }} }}{extra_variant}
  }}
}}"#,
            model.display()
        ),
    )
    .unwrap();
    path
}

fn failed_with_2(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file of a comparison: the data and the report drawn from it.
const FILES: [&str; 11] = [
    "compare.json",
    "compare.csv",
    "runs.csv",
    "report.html",
    "report.md",
    "intervals.svg",
    "intervals.png",
    "differences.svg",
    "differences.png",
    "latency.svg",
    "latency.png",
];

fn read_outputs(out: &Path) -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|f| std::fs::read(out.join("storm/compare").join(f)).unwrap())
        .collect()
}

fn compare(dir: &Path, scenario: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "compare",
        scenario.to_str().unwrap(),
        "--seeds",
        "3",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    faultline_in(dir, &args)
}

#[test]
fn output_bytes_do_not_depend_on_threads_or_shards() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = small_scenario(dir.path(), "");
    let one = compare(dir.path(), &scenario, "one", &["--jobs", "1"]);
    let table = succeeded(&one);
    assert!(
        table.contains("budget") && table.contains("baseline"),
        "{table}"
    );
    succeeded(&compare(dir.path(), &scenario, "two", &["--jobs", "2"]));
    let reference = read_outputs(&dir.path().join("one"));
    assert_eq!(reference, read_outputs(&dir.path().join("two")));

    // Three shards into one directory, one of them on two threads, then
    // merged: the same bytes as the unsharded run.
    for (shard, jobs) in [("0/3", "1"), ("1/3", "2"), ("2/3", "1")] {
        let text = succeeded(&compare(
            dir.path(),
            &scenario,
            "shards",
            &["--shard", shard, "--jobs", jobs],
        ));
        assert!(text.contains("partial.json"), "{text}");
    }
    assert!(!dir.path().join("shards/storm/compare").exists());
    succeeded(&faultline_in(
        dir.path(),
        &["merge", "shards/storm", "--out", "merged"],
    ));
    assert_eq!(reference, read_outputs(&dir.path().join("merged")));

    // The files say what was compared.
    let json: serde_json::Value = serde_json::from_slice(&reference[0]).unwrap();
    assert_eq!(json["seeds"]["first"], 11);
    assert_eq!(json["seeds"]["count"], 3);
    assert_eq!(json["baseline"], "baseline");
    assert_eq!(json["variants"].as_array().unwrap().len(), 2);
    assert_eq!(json["variants"][1]["vs_baseline"]["availability"]["n"], 3);
    // The cascade analysis times every seed's recovery from the fault.
    assert_eq!(json["variants"][0]["metrics"]["recovery_s"]["n"], 3);
    assert!(json["variants"][0]["metrics"]["recovery_s"]["mean"].is_f64());
    assert_eq!(json["variants"][0]["metrics"]["metastable_rate"]["n"], 3);
    assert_eq!(
        json["variants"][0]["latency_ms"].as_array().unwrap().len(),
        json["latency_quantiles"].as_array().unwrap().len()
    );
    let runs = String::from_utf8(reference[2].clone()).unwrap();
    assert_eq!(runs.lines().count(), 1 + 2 * 3);
    assert!(
        runs.lines().nth(4).unwrap().starts_with("budget,11,"),
        "{runs}"
    );
}

#[test]
fn merge_refuses_partials_that_do_not_make_one_grid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = small_scenario(d, "");
    succeeded(&compare(
        d,
        &scenario,
        "a",
        &["--shard", "0/2", "--jobs", "2"],
    ));
    succeeded(&compare(
        d,
        &scenario,
        "a",
        &["--shard", "1/2", "--jobs", "2"],
    ));
    let shard0 = "a/storm/compare-shard-0-of-2";
    let shard1 = "a/storm/compare-shard-1-of-2";

    // A missing shard.
    let err = failed_with_2(&faultline_in(d, &["merge", shard0, "--out", "m"]));
    assert!(err.contains("shards missing: 1/2"), "{err}");
    // The same shard twice.
    let err = failed_with_2(&faultline_in(d, &["merge", shard0, shard0, "--out", "m"]));
    assert!(err.contains("shard 0/2 is given twice"), "{err}");
    // A shard of another split.
    succeeded(&compare(
        d,
        &scenario,
        "b",
        &["--shard", "1/3", "--jobs", "2"],
    ));
    let err = failed_with_2(&faultline_in(
        d,
        &[
            "merge",
            shard0,
            "b/storm/compare-shard-1-of-3",
            "--out",
            "m",
        ],
    ));
    assert!(err.contains("split into 2"), "{err}");
    // A shard of other inputs: more seeds, and an edited scenario.
    succeeded(&faultline_in(
        d,
        &[
            "compare",
            scenario.to_str().unwrap(),
            "--seeds",
            "4",
            "--shard",
            "1/2",
            "--out",
            "c",
        ],
    ));
    let err = failed_with_2(&faultline_in(
        d,
        &[
            "merge",
            shard0,
            "c/storm/compare-shard-1-of-2",
            "--out",
            "m",
        ],
    ));
    assert!(err.contains("different seeds"), "{err}");
    assert!(
        err.contains("compare-shard-1-of-2/partial.json: inputs"),
        "{err}"
    );
    small_scenario(d, r#", "none": {}"#);
    succeeded(&compare(d, &scenario, "e", &["--shard", "1/2"]));
    let err = failed_with_2(&faultline_in(
        d,
        &[
            "merge",
            shard0,
            "e/storm/compare-shard-1-of-2",
            "--out",
            "m",
        ],
    ));
    assert!(err.contains("different scenarios"), "{err}");
    // A tampered partial: a cell where another belongs.
    let path = d.join(shard1).join("partial.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let cells = text.find("\"cells\"").unwrap();
    let tampered = format!(
        "{}{}",
        &text[..cells],
        text[cells..].replacen("\"index\": 1,", "\"index\": 0,", 1)
    );
    assert_ne!(tampered, text);
    std::fs::write(&path, tampered).unwrap();
    let err = failed_with_2(&faultline_in(d, &["merge", shard0, shard1, "--out", "m"]));
    assert!(err.contains("partial.json: cells: shard 1/2"), "{err}");
    // Not a partial at all.
    let err = failed_with_2(&faultline_in(
        d,
        &["merge", scenario.to_str().unwrap(), "--out", "m"],
    ));
    assert!(err.contains("not a partial comparison"), "{err}");
    // Nothing was written by any refused merge.
    assert!(!d.join("m").exists());
}

#[test]
fn bad_shard_specs_and_bad_variants_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = small_scenario(d, "");
    for bad in ["3/3", "1", "x/2", "0/0"] {
        let err = failed_with_2(&compare(d, &scenario, "out", &["--shard", bad]));
        assert!(err.contains("INDEX/COUNT"), "{bad}: {err}");
    }
    let err = failed_with_2(&faultline_in(
        d,
        &["compare", scenario.to_str().unwrap(), "--seeds", "0"],
    ));
    assert!(err.contains("--seeds"), "{err}");

    // A variant that patches a service the model does not have: caught by
    // validate, by run and by compare, naming the scenario file and the
    // JSON path of the patch, with the close name.
    let typo = small_scenario(
        d,
        r#", "typo": { "services": { "apl": { "workers": 512 } } }"#,
    );
    for args in [
        vec!["validate", typo.to_str().unwrap()],
        vec!["run", typo.to_str().unwrap(), "--out", "out"],
        vec![
            "compare",
            typo.to_str().unwrap(),
            "--seeds",
            "2",
            "--out",
            "out",
        ],
    ] {
        let err = failed_with_2(&faultline_in(d, &args));
        assert!(
            err.contains("storm.json: variants.typo.services.apl (line")
                && err.contains("did you mean `api`?"),
            "{args:?}: {err}"
        );
    }
    // A field that does not exist, and a patch that breaks the model.
    let bad_field = small_scenario(
        d,
        r#", "typo": { "services": { "api": { "endpoints": { "handle": { "calls": { "query": { "retyr": { "max_attempts": 2 } } } } } } } }"#,
    );
    let err = failed_with_2(&faultline_in(d, &["validate", bad_field.to_str().unwrap()]));
    assert!(
        err.contains("variants.typo.services.api.endpoints.handle.calls.query.retyr")
            && err.contains("did you mean `retry`?"),
        "{err}"
    );
    let breaks = small_scenario(d, r#", "no-db": { "services": { "db": null } }"#);
    let err = failed_with_2(&faultline_in(d, &["validate", breaks.to_str().unwrap()]));
    assert!(
        err.contains("variants.no-db") && err.contains("unknown service `db`"),
        "{err}"
    );
    // An unknown variant name on the command line.
    let scenario = small_scenario(d, "");
    let err = failed_with_2(&faultline_in(
        d,
        &[
            "run",
            scenario.to_str().unwrap(),
            "--variant",
            "budgte",
            "--out",
            "out",
        ],
    ));
    assert!(
        err.contains("no variant `budgte`") && err.contains("did you mean `budget`?"),
        "{err}"
    );
    assert!(!d.join("out").exists(), "nothing written on bad input");
}

#[test]
fn run_variant_writes_its_own_directory_with_the_patched_model_hash() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = small_scenario(d, "");
    succeeded(&faultline_in(
        d,
        &[
            "run",
            scenario.to_str().unwrap(),
            "--variant",
            "budget",
            "--out",
            "out",
        ],
    ));
    succeeded(&faultline_in(
        d,
        &["run", scenario.to_str().unwrap(), "--out", "out"],
    ));
    let manifest = |v: &str| -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(d.join(format!("out/storm/{v}/seed-11/run.json"))).unwrap(),
        )
        .unwrap()
    };
    let (base, budget) = (manifest("baseline"), manifest("budget"));
    assert_eq!(budget["variant"], "budget");
    assert_ne!(base["model"]["sha256"], budget["model"]["sha256"]);
    // The model file is the same; only the patched model differs.
    assert_eq!(base["model"]["file_sha256"], budget["model"]["file_sha256"]);
    succeeded(&compare(d, &scenario, "out", &["--jobs", "2"]));
    let cmp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("out/storm/compare/compare.json")).unwrap())
            .unwrap();
    assert_eq!(
        cmp["variants"][1]["model_sha256"],
        budget["model"]["sha256"]
    );
    assert_eq!(cmp["variants"][0]["model_sha256"], base["model"]["sha256"]);
}

/// Compares the given variants of a shipped scenario over `seeds` seeds in
/// memory, as `compare` does.
fn compare_shipped(scenario: &str, names: &[&str], seeds: u64) -> report::Comparison {
    let plan = Plan::load(&repo().join("scenarios").join(scenario)).unwrap();
    let variants: Vec<_> = names
        .iter()
        .map(|n| plan.with_variant(n).unwrap())
        .collect();
    let seeds = Seeds {
        first: plan.config.seed,
        count: seeds,
    };
    let inputs = report::Inputs::from_variants(&variants, seeds);
    let cells: Vec<u64> = (0..inputs.cells()).collect();
    let figures = compare::run_cells(&variants, seeds, &cells, 2, Budget::DEFAULT, &|| {}).unwrap();
    report::aggregate(&inputs, &figures)
}

/// Every named mitigation ranks above the baseline, with an availability
/// interval clear of the baseline's.
fn assert_mitigations_win(c: &report::Comparison, mitigations: &[&str]) {
    let rank = |name: &str| c.ranking.iter().find(|r| r.variant == name).unwrap();
    let baseline = rank("baseline");
    for m in mitigations {
        let r = rank(m);
        assert!(
            r.rank < baseline.rank
                && r.verdict == RankVerdict::Better
                && r.overlaps_baseline == Some(false),
            "{m}: {r:?} vs {baseline:?}\n{}",
            report::table(c)
        );
    }
}

#[test]
fn on_the_slow_database_every_mitigation_beats_the_baseline_at_20_seeds() {
    let c = compare_shipped(
        "slow-database.json",
        &[
            "baseline",
            "short-timeouts",
            "timeout-and-breaker",
            "enqueue-fallback",
        ],
        20,
    );
    assert_mitigations_win(
        &c,
        &["short-timeouts", "timeout-and-breaker", "enqueue-fallback"],
    );
    // Handing orders to a queue keeps every checkout: first place.
    assert_eq!(c.ranking[0].variant, "enqueue-fallback");
}

#[test]
fn on_the_retry_storm_a_retry_budget_or_a_database_queue_discipline_ends_the_storm() {
    let c = compare_shipped(
        "retry-storm.json",
        &[
            "baseline",
            "backoff-full-jitter",
            "backoff-jitter-budget",
            "db-adaptive-lifo",
            "db-codel",
        ],
        20,
    );
    assert_mitigations_win(
        &c,
        &["backoff-jitter-budget", "db-adaptive-lifo", "db-codel"],
    );
    // Backoff and jitter alone spread the retries out but do not cut them:
    // the database stays overloaded and the gain is a rounding error.
    let jitter = &c.variants[1].vs_baseline.as_ref().unwrap().availability;
    assert!(jitter.mean.unwrap() < 0.01, "{jitter:?}");
    // Cutting the retries ends it; so does a database that stops serving
    // the oldest requests first, retries and all.
    for k in 2..5 {
        let gain = &c.variants[k].vs_baseline.as_ref().unwrap().availability;
        assert!(
            gain.ci95_low.unwrap() > 0.5,
            "{}: {gain:?}",
            c.variants[k].name
        );
    }
}

#[test]
fn a_concurrency_limit_under_the_knee_ends_the_death_spiral() {
    let c = compare_shipped("death-spiral.json", &["baseline", "concurrency-limit"], 10);
    assert_mitigations_win(&c, &["concurrency-limit"]);
    let metastable = |k: usize| c.variants[k].metrics.metastable_rate.mean;
    assert_eq!(
        metastable(0),
        Some(1.0),
        "the baseline spirals on every seed"
    );
    assert_eq!(metastable(1), Some(0.0), "the limited one on none");
}

#[test]
fn round_robin_and_memory_aware_ejection_beat_their_baselines() {
    let c = compare_shipped("kill-app-server.json", &["baseline", "round-robin"], 10);
    assert_mitigations_win(&c, &["round-robin"]);
    let c = compare_shipped("memory-leak.json", &["baseline", "shed-and-eject"], 10);
    assert_mitigations_win(&c, &["shed-and-eject"]);
}

/// Issue 10, defect 1: the merged comparison's directory came from the
/// scenario name inside `partial.json`, unchecked, so `../` or an absolute
/// name wrote (and first deleted) a directory anywhere. Names read from a
/// partial pass the rule a scenario's names do, and nothing is written.
#[test]
fn merge_refuses_names_that_would_leave_the_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = small_scenario(d, "");
    succeeded(&compare(
        d,
        &scenario,
        "a",
        &["--shard", "0/1", "--jobs", "2"],
    ));
    let path = d.join("a/storm/compare-shard-0-of-1/partial.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let victim = d.join("victim");
    std::fs::create_dir_all(victim.join("compare")).unwrap();
    std::fs::write(victim.join("compare/keep.txt"), "mine").unwrap();
    for (name, field) in [
        ("../victim", "inputs.scenario.name"),
        (victim.to_str().unwrap(), "inputs.scenario.name"),
        ("x\u{1b}[2J", "inputs.scenario.name"),
    ] {
        let escaped = serde_json::to_string(name).unwrap();
        let tampered = original.replacen("\"name\": \"storm\"", &format!("\"name\": {escaped}"), 1);
        assert_ne!(tampered, original);
        std::fs::write(&path, tampered).unwrap();
        let err = failed_with_2(&faultline_in(d, &["merge", "a", "--out", "m"]));
        assert!(err.contains(field), "{name:?}: {err}");
        assert!(err.contains("must start with a letter or digit"), "{err}");
        assert!(
            !err.contains('\u{1b}'),
            "an escape sequence reached the terminal"
        );
        assert!(!d.join("m").exists(), "{name:?}: wrote under --out");
        assert_eq!(
            std::fs::read_to_string(victim.join("compare/keep.txt")).unwrap(),
            "mine"
        );
    }
    // A variant name is a directory too.
    let tampered = original.replacen("\"name\": \"budget\"", "\"name\": \"../../budget\"", 1);
    assert_ne!(tampered, original);
    std::fs::write(&path, tampered).unwrap();
    let err = failed_with_2(&faultline_in(d, &["merge", "a", "--out", "m"]));
    assert!(err.contains("inputs.variants[1].name"), "{err}");
}

/// A comparison compiles each variant once, when the scenario loads: the
/// plans come in comparison order (the baseline first) and are the plans
/// `with_variant` would compile.
#[test]
fn every_variant_is_compiled_once_at_load_in_comparison_order() {
    for scenario in shipped_scenarios() {
        let path = repo().join("scenarios").join(&scenario);
        let plans = Plan::load_all(&path).unwrap();
        let baseline = Plan::load(&path).unwrap();
        let names: Vec<String> = plans.iter().map(|p| p.experiment.variant.clone()).collect();
        assert_eq!(names, baseline.variant_names(), "{scenario}");
        for plan in &plans {
            let again = baseline.with_variant(&plan.experiment.variant).unwrap();
            assert_eq!(
                format!("{:?}", plan.topology),
                format!("{:?}", again.topology),
                "{scenario}: {}",
                plan.experiment.variant
            );
            assert_eq!(plan.faults.len(), again.faults.len());
        }
    }
}
