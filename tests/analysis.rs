//! Cascade analysis and steady-state hypotheses, on the shipped experiments:
//! the chain starts at the real root cause, detection and recovery are
//! timed from the events, a metastable failure is told from one that heals,
//! and every verdict carries the value it was judged on.

use serde_json::{Value, json};

use crate::common::*;
use faultline::analysis::{Analysis, Health};
use faultline::experiment::{Evaluation, evaluate};
use faultline::sim::Budget;

fn evaluated(
    scenario: &str,
    seed: u64,
    patch_model: impl FnOnce(&mut Value),
    patch_scenario: impl FnOnce(&mut Value),
) -> Evaluation {
    let plan = shipped_plan(scenario, patch_model, patch_scenario);
    evaluate(&plan, seed, Budget::DEFAULT).unwrap()
}

fn step<'a>(analysis: &'a Analysis, component: &str) -> &'a faultline::analysis::Step {
    analysis
        .chain
        .iter()
        .find(|s| s.component == component)
        .unwrap_or_else(|| panic!("{component} not in the chain: {}", analysis.chain_text))
}

fn backoff_jitter_budget(model: &mut Value) {
    model["services"]["api"]["endpoints"]["handle"]["calls"]["query"]["retry"] = json!({
        "max_attempts": 4, "backoff": "50ms", "max_backoff": "2s",
        "jitter": "full", "budget": { "ratio": 0.1 }
    });
}

#[test]
fn the_slow_database_chain_starts_at_the_database_and_climbs_to_the_users() {
    for seed in [42, 1, 2] {
        let run = evaluated("slow-database.json", seed, |_| {}, |_| {});
        let a = &run.analysis;
        assert_eq!(a.chain[0].kind, faultline::analysis::StepKind::Fault);
        assert_eq!(a.chain[0].component, "db-slow");
        // The database itself comes first, at the fault's start, though its
        // slow answers show only when they finish a second later.
        assert_eq!(a.chain[1].component, "orders-db", "{}", a.chain_text);
        assert_eq!(a.chain[1].onset_s, 60.0);
        assert!(a.chain[1].observed_s >= 60.0 && a.chain[1].observed_s <= 62.0);
        assert_eq!(a.chain[1].via.as_deref(), Some("db-slow"));
        // Every later link is reached through an adjacent component that
        // was already out of band.
        let mut seen = vec!["db-slow".to_string(), "orders-db".to_string()];
        for s in &a.chain[2..] {
            let via = s
                .via
                .as_deref()
                .unwrap_or_else(|| panic!("{} has no link", s.component));
            assert!(
                seen.iter().any(|x| x == via),
                "{} via {via} before it",
                s.component
            );
            assert!(s.onset_s >= 60.0);
            seen.push(s.component.clone());
        }
        let gateway = step(a, "gateway");
        let orders = step(a, "orders");
        assert!(orders.onset_s <= gateway.onset_s);
        // Product pages never call the database; they fail because the
        // gateway's workers are held by checkouts.
        let product = step(a, "product");
        assert_eq!(product.via.as_deref(), Some("gateway"));
        assert!(product.onset_s >= gateway.onset_s);
        assert!(a.blast_radius.entries.iter().all(|e| e.affected));
        // It heals once the database is fast again.
        assert!(a.recovered && !a.metastable);
        let recover = a.times.time_to_recover_s.unwrap();
        assert!(recover <= 10.0, "recovered {recover} s after the fault");
    }
}

#[test]
fn immediate_retries_are_flagged_metastable_and_backoff_with_a_budget_is_not() {
    for seed in [3, 4] {
        let storm = evaluated("retry-storm.json", seed, |_| {}, |_| {});
        let a = &storm.analysis;
        assert!(!a.recovered, "{}", a.summary());
        assert!(a.metastable, "{}", a.summary());
        assert_eq!(a.times.time_to_recover_s, None);
        assert_eq!(a.chain[1].component, "db");
        assert!(a.chain.iter().any(|s| s.component == "users"));

        // The shipped mitigation, as a variant patches it in.
        let shipped = shipped_plan("retry-storm.json", |_| {}, |_| {})
            .with_variant("backoff-jitter-budget")
            .unwrap();
        let calm = evaluate(&shipped, seed, Budget::DEFAULT).unwrap();
        let a = &calm.analysis;
        assert_eq!(calm.manifest.variant, "backoff-jitter-budget");
        assert_eq!(calm.hypothesis_passed(), Some(true));
        assert!(a.recovered && !a.metastable, "{}", a.summary());
        let recover = a.times.time_to_recover_s.unwrap();
        assert!(recover < 10.0, "recovered {recover} s after the trigger");
        // The same policy written by hand into the model: the same run.
        let by_hand = evaluated("retry-storm.json", seed, backoff_jitter_budget, |_| {});
        assert_eq!(
            by_hand.summary.trace_digest, calm.summary.trace_digest,
            "a variant is exactly its patch"
        );
    }
}

#[test]
fn a_shorter_grace_calls_a_slow_recovery_metastable_only_when_it_outlasts_it() {
    // The storm is still raging at the end, 160 s after the trigger: a
    // grace longer than what is left of the run cannot call it.
    let patient = evaluated(
        "retry-storm.json",
        3,
        |_| {},
        |s| s["analysis"] = json!({ "metastable_after": "170s" }),
    );
    assert!(!patient.analysis.recovered && !patient.analysis.metastable);
    let strict = evaluated(
        "retry-storm.json",
        3,
        |_| {},
        |s| s["analysis"] = json!({ "metastable_after": "150s" }),
    );
    assert!(strict.analysis.metastable);
}

#[test]
fn a_crashed_server_is_detected_by_its_health_check_and_users_recover_after_ejection() {
    let run = evaluated("kill-app-server.json", 7, |_| {}, |_| {});
    let a = &run.analysis;
    let detected = a.times.detected.as_ref().expect("the health check notices");
    assert!(
        detected.by.contains("ejected app-az-a-1"),
        "{}",
        detected.by
    );
    // Probes every 2 s, two failures eject: between 2 and 4 s.
    assert!(
        (2.0..=4.0).contains(&detected.after_fault_s),
        "{}",
        detected.after_fault_s
    );
    let mitigated = a
        .times
        .mitigated
        .as_ref()
        .expect("ejection stops the errors");
    assert!(mitigated.after_fault_s <= detected.after_fault_s + 1.0);
    // The kill is an instant: recovery is timed from it.
    assert!(a.recovered);
    assert!(a.times.time_to_recover_s.unwrap() <= 5.0);
    // Counted from the kill until the restarted instance is ready (15 s
    // delay, 10 s boot), not over the quiet rest of the run.
    let users = &a.blast_radius.entries[0];
    assert_eq!((users.from_s, users.to_s), (60.0, 85.0));
    assert!(users.affected && users.failed > 0 && users.failed_share < 0.05);
}

#[test]
fn a_steady_run_has_no_cascade_and_no_false_alarm() {
    // The demo's shop, with a fault that touches nothing the traffic uses
    // late in the run: every component must stay inside its band.
    for seed in 1..=4 {
        let run = evaluated(
            "shop-steady.json",
            seed,
            |_| {},
            |s| {
                s["faults"] = json!({ "noop": { "kind": "cpu_stress", "target": "gateway",
                                                "factor": 1.0, "at": "60s", "for": "10s" } })
            },
        );
        let a = &run.analysis;
        assert_eq!(a.chain.len(), 1, "seed {seed}: {}", a.chain_text);
        assert!(a.components.iter().all(|c| c.worst == Health::Healthy));
        assert!(a.recovered && !a.metastable);
        assert_eq!(a.times.time_to_recover_s, Some(0.0));
        assert!(a.blast_radius.entries.iter().all(|e| !e.affected));
    }
}

#[test]
fn a_failover_counts_its_lost_writes_in_the_blast_radius() {
    let run = evaluated("replication-failover.json", 11, |_| {}, |_| {});
    let a = &run.analysis;
    let lost: u64 = run.summary.lost_writes.iter().sum();
    assert!(lost > 2500, "lost {lost}");
    assert_eq!(a.blast_radius.lost_writes, lost);
    // The replica stalls from 60 s; the primary dies at 90 s and the health
    // check notices 2 s later (the engine's record of the death is not a
    // detection).
    let detected = a.times.detected.as_ref().unwrap();
    assert!(
        detected.by.contains("ejected orders-db-az-a-1"),
        "{}",
        detected.by
    );
    assert_eq!(detected.fault.as_deref(), Some("primary-dies"));
    assert_eq!(detected.after_fault_s, 2.0);
    let db = a.chain.iter().find(|s| s.component == "orders-db").unwrap();
    assert_eq!(db.via.as_deref(), Some("primary-dies"));
}

// ----- hypotheses ---------------------------------------------------------

fn with_hypothesis(hypothesis: Value) -> impl FnOnce(&mut Value) {
    move |s: &mut Value| s["hypothesis"] = hypothesis
}

#[test]
fn verdicts_carry_the_values_measured_in_their_phase() {
    let run = evaluated(
        "slow-database.json",
        42,
        |_| {},
        with_hypothesis(json!({
            "fast-before": { "probe": "checkout", "phase": "before", "p99_below": "500ms",
                             "error_rate_below": "0.1%" },
            "product-during": { "probe": "gateway.product", "phase": "during",
                                "availability_above": "99%" },
            "heals": { "probe": "checkout", "recover_within": "30s" },
            "whole-p99": { "probe": "checkout", "p99_below": "1h" }
        })),
    );
    let verdicts = &run.manifest.hypothesis;
    assert_eq!(verdicts.len(), 4);
    let before = &verdicts[0];
    assert!(before.passed, "{before:?}");
    assert_eq!((before.from_s, before.to_s), (30.0, 60.0));
    let check = |name: &str| {
        before
            .checks
            .iter()
            .find(|c| c.check.name() == name)
            .unwrap()
    };
    let p99 = check("p99_below").measured.unwrap();
    assert!(p99 > 1.0 && p99 < 500.0, "p99 {p99} ms");
    assert_eq!(check("error_rate_below").measured, Some(0.0));
    // During the slowdown product pages fail though they never touch the
    // database: the verdict fails, with the availability it saw.
    let during = &verdicts[1];
    assert!(!during.passed);
    assert_eq!((during.from_s, during.to_s), (60.0, 180.0));
    let availability = during.checks[0].measured.unwrap();
    assert!(availability < 0.9, "{availability}");
    assert!(verdicts[2].passed, "{:?}", verdicts[2]);
    assert!(verdicts[2].checks[0].measured.unwrap() <= 30.0);
    // The whole-run percentile (of all requests, as the check defaults to)
    // is the one run.json reports for the entry's requests, to a bucket of
    // the histogram: the check reads the windows after the warm-up (what
    // ended there), run.json the requests that arrived after it.
    let whole = verdicts[3].checks[0].measured.unwrap();
    let reported = run.manifest.entries["checkout"].latency_all_ms.p99;
    assert!(
        (whole / reported - 1.0).abs() < 0.01,
        "{whole} vs {reported}"
    );
    assert_eq!(run.hypothesis_passed(), Some(false));
}

#[test]
fn the_error_rate_of_a_verdict_is_the_share_in_the_metrics_of_its_phase() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.json");
    let mut json: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("scenarios/slow-database.json")).unwrap(),
    )
    .unwrap();
    json["model"] = json!(repo().join("models/checkout.json").display().to_string());
    json["hypothesis"] = json!({
        "product-during": { "probe": "product", "phase": "during", "error_rate_below": "1%" }
    });
    std::fs::write(&scenario, json.to_string()).unwrap();
    let out = faultline_in(dir.path(), &["run", "s.json", "--out", "out"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed hypothesis fails the run"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL  product-during"), "{stdout}");
    let run_dir = dir.path().join("out/slow-database/baseline/seed-42");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    let measured = manifest["hypothesis"][0]["checks"][0]["measured"]
        .as_f64()
        .unwrap();
    // Recount from metrics.csv: the product entry's rows from 60 s to 180 s.
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (start, component, ok, errs) = (
        col("window_start_s"),
        col("component"),
        col("ok"),
        col("errors"),
    );
    let error_cols: Vec<usize> = (0..header.len())
        .filter(|k| header[*k].starts_with("err_"))
        .collect();
    let (mut oks, mut errors) = (0u64, 0u64);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let t: f64 = f[start].parse().unwrap();
        if f[component] == "product" && (60.0..180.0).contains(&t) {
            oks += f[ok].parse::<u64>().unwrap();
            let by_class: u64 = error_cols
                .iter()
                .map(|k| f[*k].parse::<u64>().unwrap())
                .sum();
            assert_eq!(by_class, f[errs].parse::<u64>().unwrap());
            errors += by_class;
        }
    }
    let expected = errors as f64 / (oks + errors) as f64;
    assert!(
        (measured - expected).abs() < 1e-6,
        "{measured} vs {expected}"
    );
    assert!(run_dir.join("analysis.json").is_file());
}

#[test]
fn a_passing_hypothesis_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = faultline()
        .current_dir(repo())
        .args(["run", "scenarios/kill-app-server.json", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(stdout.contains("cascade"), "{stdout}");
}

#[test]
fn bad_hypotheses_are_reported_with_their_paths() {
    let cases = [
        (
            json!({ "h": { "probe": "chekout", "error_rate_below": "1%" } }),
            "hypothesis.h.probe",
            "did you mean `checkout`",
        ),
        (
            json!({ "h": { "probe": "checkout" } }),
            "hypothesis.h",
            "at least one check",
        ),
        (
            json!({ "h": { "probe": "checkout", "lost_writes_at_most": 0 } }),
            "hypothesis.h.lost_writes_at_most",
            "replicated database",
        ),
        (
            json!({ "h": { "probe": "checkout", "error_rate_below": "120%" } }),
            "hypothesis.h.error_rate_below",
            "between 0% and 100%",
        ),
        (
            json!({ "h": { "probe": "checkout", "phase": "durin", "p99_below": "1s" } }),
            "hypothesis.h.phase",
            "during",
        ),
    ];
    for (hypothesis, path, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut json: Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join("scenarios/slow-database.json")).unwrap(),
        )
        .unwrap();
        json["model"] = json!(repo().join("models/checkout.json").display().to_string());
        json["hypothesis"] = hypothesis;
        std::fs::write(
            dir.path().join("s.json"),
            serde_json::to_string_pretty(&json).unwrap(),
        )
        .unwrap();
        let out = faultline_in(dir.path(), &["run", "s.json", "--out", "out"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("s.json"), "{stderr}");
        assert!(stderr.contains(path), "{path}: {stderr}");
        assert!(stderr.contains(message), "{message}: {stderr}");
        assert!(!dir.path().join("out/slow-database").exists());
    }
}

#[test]
fn an_instant_fault_has_no_during_phase_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut json: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("scenarios/kill-app-server.json")).unwrap(),
    )
    .unwrap();
    json["model"] = json!(repo().join("models/web-tier.json").display().to_string());
    json["hypothesis"] =
        json!({ "h": { "probe": "users", "phase": "during", "error_rate_below": "1%" } });
    std::fs::write(dir.path().join("s.json"), json.to_string()).unwrap();
    let out = faultline_in(dir.path(), &["validate", "s.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("phase `during` is empty"), "{stderr}");
}

#[test]
fn relative_thresholds_compare_a_phase_with_the_steady_state_before_the_first_fault() {
    let run = evaluated(
        "slow-database.json",
        42,
        |_| {},
        with_hypothesis(json!({
            "checkout-relative": { "probe": "checkout", "phase": "during",
                                   "p99_rise_at_most": "20%", "error_rate_rise_at_most": "0.1%",
                                   "throughput_at_least": "90%" },
            "checkout-absolute": { "probe": "checkout", "phase": "before", "p99_below": "1h",
                                   "error_rate_below": "100%" },
            "checkout-during": { "probe": "checkout", "phase": "during", "p99_below": "1h",
                                 "error_rate_below": "100%" },
            "after-recovered": { "probe": "product", "phase": "after",
                                 "throughput_at_least": "90%", "error_rate_rise_at_most": "2%" }
        })),
    );
    let verdicts = &run.manifest.hypothesis;
    let measured = |v: usize, name: &str| {
        verdicts[v]
            .checks
            .iter()
            .find(|c| c.check.name() == name)
            .unwrap()
            .measured
    };
    // The relative figures are the absolute ones of the two phases,
    // compared: p99 during / p99 before − 1, and error rate during −
    // error rate before.
    let (steady_p99, p99) = (
        measured(1, "p99_below").unwrap(),
        measured(2, "p99_below").unwrap(),
    );
    let rise = measured(0, "p99_rise_at_most").unwrap();
    assert!((rise - (p99 / steady_p99 - 1.0)).abs() < 1e-3, "{rise}");
    assert!(
        rise > 1.0,
        "a one-second slowdown more than doubles the p99: {rise}"
    );
    let (steady_errors, errors) = (
        measured(1, "error_rate_below").unwrap(),
        measured(2, "error_rate_below").unwrap(),
    );
    let added = measured(0, "error_rate_rise_at_most").unwrap();
    assert!((added - (errors - steady_errors)).abs() < 1e-6);
    // Checkouts that fail are not served: throughput falls below 90 % of
    // the steady state's, and the verdict says so.
    let throughput = measured(0, "throughput_at_least").unwrap();
    assert!(throughput < 0.9 && throughput > 0.0, "{throughput}");
    assert!(!verdicts[0].passed);
    // After the slowdown product pages serve about as before (the first
    // seconds still fail 0.9 % of them, the backlog timing out): both
    // relative checks hold, the throughput near the steady state's.
    assert!(verdicts[3].passed, "{:?}", verdicts[3]);
    let after = measured(3, "throughput_at_least").unwrap();
    assert!((after - 1.0).abs() < 0.05, "{after}");
}

#[test]
fn a_relative_threshold_needs_a_steady_state_to_compare_with() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, at: &str, phase: &str| {
        let path = d.join(name);
        std::fs::write(
            &path,
            json!({
                "name": "rel", "model": repo().join("models/checkout.json").display().to_string(),
                "duration": "2m", "warmup": "30s",
                "faults": { "slow": { "kind": "latency", "target": "orders-db",
                                      "add": { "constant": "100ms" }, "at": at, "for": "30s" } },
                "hypothesis": { "h": { "probe": "checkout", "phase": phase,
                                       "p99_rise_at_most": "20%" } }
            })
            .to_string(),
        )
        .unwrap();
        path
    };
    let at_warmup_end = write("a.json", "30s", "during");
    let out = faultline_in(d, &["validate", at_warmup_end.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hypothesis.h.p99_rise_at_most")
            && err.contains("the first fault starts when the warm-up ends"),
        "{err}"
    );
    let itself = write("b.json", "60s", "before");
    let out = faultline_in(d, &["validate", itself.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the `before` phase itself"));
}
