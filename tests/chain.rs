//! The cascade chain on scenarios built for what it used to get wrong
//! (issue 11): several faults each root their own damage, a callee whose
//! workers are all busy comes before its callers, the stragglers of a split
//! flag no innocent service, damage no mechanism repairs is not called
//! metastable, detection is timed from the act it answers, and a busy
//! system's blips are not relapses. The numbers are the ones these runs
//! produce; every link comes from the mechanisms, none from the scenario.

use std::path::PathBuf;

use faultline::analysis::{Analysis, RecoveryKind, Step, StepKind};
use faultline::experiment::{Evaluation, evaluate};
use faultline::sim::Budget;
use faultline::spec::Source;

use crate::common::*;

/// A scenario (its `faults` and times) over a model, both as JSON text.
fn evaluated(model: &str, scenario: &str, seed: u64) -> Evaluation {
    let plan = faultline::plan::Plan::from_texts(
        Source {
            path: PathBuf::from("test-scenario.json"),
            text: scenario.to_string(),
        },
        Source {
            path: PathBuf::from("test-model.json"),
            text: model.to_string(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    evaluate(&plan, seed, Budget::DEFAULT).unwrap()
}

fn scenario(duration: &str, faults: &str) -> String {
    format!(
        r#"{{ "name": "t", "model": "test-model.json", "duration": "{duration}",
             "warmup": "30s", "seed": 1, "faults": {faults} }}"#
    )
}

fn steps<'a>(a: &'a Analysis, component: &str) -> Vec<&'a Step> {
    a.chain
        .iter()
        .filter(|s| s.component == component)
        .collect()
}

fn step<'a>(a: &'a Analysis, component: &str) -> &'a Step {
    steps(a, component)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("{component} not in the chain: {}", a.chain_text))
}

/// Every link names a fault or a component placed before it, and comes no
/// earlier than it.
fn links_follow_their_cause(a: &Analysis) {
    for (k, s) in a.chain.iter().enumerate() {
        if s.kind == StepKind::Fault {
            continue;
        }
        let via = s
            .via
            .as_deref()
            .unwrap_or_else(|| panic!("{} unlinked", s.component));
        let cause = a.chain[..k]
            .iter()
            .rev()
            .find(|c| c.component == via)
            .unwrap_or_else(|| {
                panic!("{} via {via}, not before it: {}", s.component, a.chain_text)
            });
        assert!(cause.onset_s <= s.onset_s, "{}", a.chain_text);
    }
}

const MULTI: &str = r#"{
  "name": "multi", "zones": ["az-a", "az-b"],
  "services": {
    "app": { "instances": { "per_zone": 1 }, "workers": 16, "queue": 64,
      "load_balancer": { "policy": "least_outstanding",
        "health_check": { "endpoint": "health", "interval": "2s", "timeout": "500ms",
                          "unhealthy_after": 2, "healthy_after": 2 } },
      "endpoints": {
        "health": { "work": { "constant": "1ms" } },
        "handle": { "work": { "exponential": { "mean": "2ms" } },
          "calls": { "query": { "to": "db.query", "timeout": "1s",
                                "pool": { "size": 16, "acquire_timeout": "100ms" } } } } } },
    "db": { "kind": "database", "instances": { "placement": { "az-a": 1 } },
      "workers": 16, "queue": 128,
      "endpoints": { "query": { "work": { "exponential": { "mean": "5ms" } } } } } },
  "workload": { "users": { "endpoint": "app.handle", "rate": "800/s", "timeout": "5s" } }
}"#;

#[test]
fn each_fault_roots_the_damage_it_does_and_not_the_first_one_all() {
    let faults = r#"{
        "gc-pause":  { "kind": "instance_freeze", "target": "app-az-a-1", "at": "60s", "for": "8s" },
        "db-cpu":    { "kind": "cpu_stress", "target": "db", "factor": 4, "at": "90s", "for": "40s" },
        "db-errors": { "kind": "errors", "target": "db", "fraction": 0.2, "at": "100s", "for": "30s" } }"#;
    let run = evaluated(MULTI, &scenario("180s", faults), 1);
    let a = &run.analysis;
    let roots: Vec<(&str, f64)> = a
        .chain
        .iter()
        .filter(|s| s.kind == StepKind::Fault)
        .map(|s| (s.component.as_str(), s.onset_s))
        .collect();
    assert_eq!(
        roots,
        [("gc-pause", 60.0), ("db-cpu", 90.0), ("db-errors", 100.0)]
    );
    links_follow_their_cause(a);
    // The freeze: the frozen instance's requests finish 8 s late (seen at
    // 68 s), so the app was hit when it froze; users time out at 65 s.
    let app = step(a, "app");
    assert_eq!(app.via.as_deref(), Some("gc-pause"));
    assert!(
        (60.0..61.0).contains(&app.onset_s) && app.observed_s == 68.0,
        "{app:?}"
    );
    let users = step(a, "users");
    assert_eq!((users.onset_s, users.via.as_deref()), (65.0, Some("app")));
    // The database's trouble is its own fault's, not the freeze's: it was
    // never out of band before the CPU stress.
    let db = steps(a, "db");
    assert_eq!(db.len(), 1, "{}", a.chain_text);
    assert_eq!(db[0].via.as_deref(), Some("db-cpu"));
    assert_eq!(db[0].root.as_deref(), Some("db-cpu"));
    assert_eq!((db[0].onset_s, db[0].distance), (90.0, Some(0)));
    // And it drags the app and its users down again, from the new root.
    for (component, via) in [("app", "db"), ("users", "app")] {
        let again = steps(a, component)[1];
        assert_eq!(again.via.as_deref(), Some(via), "{}", a.chain_text);
        assert_eq!(again.root.as_deref(), Some("db-cpu"));
        assert_eq!(again.onset_s, 90.0);
    }
    // The ejection of the frozen instance 2.5 s after the freeze.
    let detected = a.times.detected.as_ref().unwrap();
    assert_eq!(detected.fault.as_deref(), Some("gc-pause"));
    assert_eq!(detected.after_fault_s, 2.5);
    assert!(
        detected.by.contains("ejected app-az-a-1"),
        "{}",
        detected.by
    );
    // Users saw the database's faults for as long as they lasted.
    assert!(a.times.mitigated.is_none());
    assert_eq!(a.recovery, RecoveryKind::Recovered);
    assert_eq!(a.times.time_to_recover_s, Some(0.0));
}

const SYNC: &str = r#"{
  "name": "sync", "zones": ["az-a"],
  "services": {
    "a": { "instances": { "count": 2 }, "workers": 32, "queue": 64,
      "endpoints": { "go": { "work": { "exponential": { "mean": "2ms" } },
        "calls": { "b": { "to": "b.go", "timeout": "10s" } } } } },
    "b": { "instances": { "count": 2 }, "workers": 16, "queue": 64,
      "endpoints": { "go": { "work": { "exponential": { "mean": "2ms" } },
        "calls": { "c": { "to": "c.go", "timeout": "10s" } } } } },
    "c": { "instances": { "count": 2 }, "workers": 16, "queue": 64,
      "endpoints": { "go": { "work": { "exponential": { "mean": "2ms" } },
        "calls": { "ext": { "to": "ext.call", "timeout": "10s" } } } } },
    "ext": { "kind": "external",
      "endpoints": { "call": { "work": { "lognormal": { "mean": "50ms", "p99": "200ms" } } } } } },
  "workload": { "users": { "endpoint": "a.go", "rate": "100/s", "timeout": "15s" } }
}"#;

#[test]
fn a_callee_with_every_worker_busy_comes_before_its_callers() {
    let faults = r#"{ "ext-slow": { "kind": "latency", "target": "ext",
                                    "add": { "constant": "8s" }, "at": "60s", "for": "60s" } }"#;
    let run = evaluated(SYNC, &scenario("180s", faults), 1);
    let a = &run.analysis;
    let order: Vec<&str> = a.chain.iter().map(|s| s.component.as_str()).collect();
    assert_eq!(order, ["ext-slow", "ext", "c", "b", "a", "users"]);
    links_follow_their_cause(a);
    let vias: Vec<Option<&str>> = a.chain[1..].iter().map(|s| s.via.as_deref()).collect();
    assert_eq!(
        vias,
        [
            Some("ext-slow"),
            Some("ext"),
            Some("c"),
            Some("b"),
            Some("a")
        ]
    );
    // The external's first slow answers come back at 68 s; they left at 60.
    let ext = step(a, "ext");
    assert_eq!((ext.onset_s, ext.observed_s), (60.0, 68.0));
    // c waits on it with every worker and no queue to speak of: out of
    // band at 61 s, before the callers it holds up.
    let c = step(a, "c");
    assert_eq!((c.onset_s, c.observed_s), (61.0, 61.0));
    assert_eq!(c.reason, "every worker busy (32.0 of 32)");
    for (s, d) in a.chain[1..].iter().zip(0..) {
        assert_eq!(s.distance, Some(d), "{}", a.chain_text);
        assert_eq!(s.root.as_deref(), Some("ext-slow"));
    }
    assert!(step(a, "b").onset_s >= c.onset_s);
    assert_eq!(a.recovery, RecoveryKind::Recovered);
    assert_eq!(a.times.time_to_recover_s, Some(5.0));
}

#[test]
fn the_stragglers_of_a_split_flag_no_innocent_service() {
    let plan = shipped_plan("network-split.json", |_| {}, |_| {});
    let run = evaluate(&plan, 5, Budget::DEFAULT).unwrap();
    let a = &run.analysis;
    // Payment and its card processor receive nothing across the split; the
    // few answers still finishing at 60 s are the slow tail of the traffic
    // they had, not a slowdown of theirs.
    for innocent in ["payment", "card-processor"] {
        assert!(steps(a, innocent).is_empty(), "{}", a.chain_text);
        let report = a
            .components
            .iter()
            .find(|c| c.component == innocent)
            .unwrap();
        assert_eq!(report.onset_s, None);
    }
    links_follow_their_cause(a);
    let orders = step(a, "orders");
    assert_eq!(orders.via.as_deref(), Some("split"));
    assert_eq!(orders.onset_s, 61.0);
    assert_eq!(step(a, "checkout").via.as_deref(), Some("gateway"));
    assert!(
        a.chain.iter().all(|s| s.onset_s >= 60.0),
        "{}",
        a.chain_text
    );
    let checkout = a
        .blast_radius
        .entries
        .iter()
        .find(|e| e.entry == "checkout")
        .unwrap();
    assert_eq!((checkout.from_s, checkout.to_s), (60.0, 122.0));
    assert_eq!(checkout.failed, 5871);
}

const REPLICAS: &str = r#"{
  "name": "replica", "zones": ["az-a", "az-b", "az-c"],
  "services": {
    "api": { "instances": { "per_zone": 1 }, "workers": 64, "queue": 128,
      "endpoints": { "get": { "work": { "exponential": { "mean": "1ms" } },
        "calls": { "read": { "to": "search.read", "timeout": "2s" } } } } },
    "search": { "instances": { "per_zone": 1 }, "workers": 8, "queue": 64,
      "load_balancer": { "policy": "least_outstanding",
        "health_check": { "interval": "2s", "timeout": "500ms",
                          "unhealthy_after": 2, "healthy_after": 2 } },
      "endpoints": { "read": { "work": { "exponential": { "mean": "10ms" } } } } } },
  "workload": { "users": { "endpoint": "api.get", "rate": "1700/s", "timeout": "5s" } }
}"#;

#[test]
fn a_replica_killed_without_restart_is_lasting_damage_not_metastability() {
    let faults =
        r#"{ "kill-one": { "kind": "instance_kill", "target": "search-az-a-1", "at": "60s" } }"#;
    let run = evaluated(REPLICAS, &scenario("180s", faults), 1);
    let a = &run.analysis;
    // Two replicas cannot carry the load three did: out of band to the end.
    assert!(!a.recovered);
    assert!(!a.metastable, "{}", a.recovery_text);
    assert_eq!(a.recovery, RecoveryKind::Unrepaired);
    assert!(
        a.recovery_text
            .contains("search-az-a-1 killed and never back")
            && a.recovery_text.contains("no restart policy"),
        "{}",
        a.recovery_text
    );
    let detected = a.times.detected.as_ref().unwrap();
    assert_eq!(detected.after_fault_s, 2.0);
    assert!(a.times.mitigated.is_none());
    assert!(
        a.summary().contains("users still see the faults"),
        "{}",
        a.summary()
    );

    // With a supervisor that restarts it, the same kill heals.
    let restarting = REPLICAS.replace(
        r#""workers": 8,"#,
        r#""workers": 8, "restart": { "delay": "5s", "boot": "5s" },"#,
    );
    let run = evaluated(&restarting, &scenario("180s", faults), 1);
    let a = &run.analysis;
    assert_eq!(a.recovery, RecoveryKind::Recovered, "{}", a.recovery_text);
    assert!(a.recovered && !a.metastable);
}

#[test]
fn a_chaos_monkey_is_timed_from_its_kills_not_from_its_schedule() {
    let plan = faultline::plan::Plan::from_texts(
        Source {
            path: repo().join("scenarios/monkey.json"),
            text: r#"{ "name": "monkey", "model": "../models/web-tier.json", "duration": "240s",
                       "warmup": "30s", "seed": 1,
                       "faults": { "monkey": { "kind": "chaos_monkey", "target": "app",
                                               "mean_interval": "40s", "at": "40s", "for": "150s" } } }"#
                .to_string(),
        },
        Source {
            path: repo().join("models/web-tier.json"),
            text: std::fs::read_to_string(repo().join("models/web-tier.json")).unwrap(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let run = evaluate(&plan, 1, Budget::DEFAULT).unwrap();
    let a = &run.analysis;
    // Its schedule starts at 40 s; its first kill comes at 52.985 s.
    assert_eq!(a.chain[0].component, "monkey");
    assert_eq!(a.chain[0].onset_s, 52.985);
    assert!(
        a.chain.iter().all(|s| s.onset_s >= 52.985),
        "{}",
        a.chain_text
    );
    // The health check ejects the killed instance at 55.5 s.
    let detected = a.times.detected.as_ref().unwrap();
    assert_eq!((detected.at_s, detected.after_fault_s), (55.5, 2.515));
    assert!(
        detected.by.contains("ejected app-az-b-2"),
        "{}",
        detected.by
    );
    // Users are spared from the third kill's ejection on, while its
    // instance restarts.
    let mitigated = a.times.mitigated.as_ref().unwrap();
    assert_eq!((mitigated.at_s, mitigated.after_fault_s), (128.0, 4.48));
    assert!(mitigated.by.contains("until 148.5 s"), "{}", mitigated.by);
    assert_eq!(a.recovery, RecoveryKind::Recovered);
}

#[test]
fn users_who_saw_the_whole_fault_were_not_spared() {
    let plan = shipped_plan("slow-database.json", |_| {}, |_| {});
    let run = evaluate(&plan, 42, Budget::DEFAULT).unwrap();
    let a = &run.analysis;
    // The entries come back a second after the 120 s slowdown ends: that is
    // recovery, not mitigation.
    assert!(a.times.mitigated.is_none());
    let summary = a.summary();
    assert!(
        summary.contains("mitigated: no — users saw the faults for as long as they acted"),
        "{summary}"
    );
    assert!(
        summary.contains("recovered: 1.0 s after the last fault ended"),
        "{summary}"
    );
    // A leak that lasts to the end is not judged as a recovery.
    let plan = shipped_plan("memory-leak.json", |_| {}, |_| {});
    let leak = evaluate(&plan, 42, Budget::DEFAULT).unwrap();
    assert_eq!(leak.analysis.recovery, RecoveryKind::FaultLasts);
    assert!(
        leak.analysis
            .recovery_text
            .starts_with("not judged: leak lasts to the end"),
        "{}",
        leak.analysis.recovery_text
    );
}

const BUSY: &str = r#"{
  "name": "busy", "zones": ["az-a"],
  "services": { "api": { "instances": { "count": 1 }, "workers": 8, "queue": 512,
      "endpoints": { "get": { "work": { "exponential": { "mean": "10ms" } } } } } },
  "workload": { "users": { "endpoint": "api.get", "rate": "720/s" } }
}"#;

#[test]
fn a_busy_system_that_recovered_is_not_called_metastable_for_a_blip() {
    // Utilisation 0.9: windows with every worker busy, or a slow median,
    // come and go in its steady state.
    let faults = r#"{ "blip": { "kind": "latency", "target": "api",
                                "add": { "constant": "5ms" }, "at": "60s", "for": "10s" } }"#;
    for seed in 1..=21 {
        let run = evaluated(BUSY, &scenario("180s", faults), seed);
        let a = &run.analysis;
        assert!(a.recovered && !a.metastable, "seed {seed}: {}", a.summary());
        let back = a.times.time_to_recover_s.unwrap();
        assert!(back <= 10.0, "seed {seed}: back {back} s after the fault");
    }
}

#[test]
fn a_fault_inside_the_warm_up_is_not_learned_as_steady() {
    let faults = r#"{ "early": { "kind": "latency", "target": "db",
                                 "add": { "constant": "200ms" }, "at": "10s", "for": "40s" } }"#;
    let run = evaluated(MULTI, &scenario("120s", faults), 1);
    let a = &run.analysis;
    assert!(
        a.steady_to_s <= 10.0,
        "{} – {}",
        a.steady_from_s,
        a.steady_to_s
    );
    assert_eq!(step(a, "db").via.as_deref(), Some("early"));
    // With no window before it, nothing is learned and latency is not
    // judged: the run says so rather than comparing against zero.
    let faults = r#"{ "at-once": { "kind": "latency", "target": "db",
                                   "add": { "constant": "200ms" }, "at": "0s", "for": "40s" } }"#;
    let run = evaluated(MULTI, &scenario("120s", faults), 1);
    let a = &run.analysis;
    assert_eq!((a.steady_from_s, a.steady_to_s), (0.0, 0.0));
    assert!(a.summary().contains("no steady windows"), "{}", a.summary());
}
