//! Replication lag as an outcome: replicas that apply writes one at a time
//! fall behind a write load above their apply rate; reads they answer in
//! the meantime are stale; lag alerts and lag-aware promotion act on it.

use faultline::observe::events::StateChange;
use faultline::sim::RunSummary;

use crate::common::{run, run_with_faults, topology};

/// A primary and one replica (`replication` spliced in), written at
/// `writes` and read at 200/s (reads go to the replica).
fn database(replication: &str, writes: &str) -> String {
    format!(
        r#"{{
        "name": "replicated", "zones": ["a", "b"],
        "services": {{
            "db": {{ "kind": "database", "instances": {{ "per_zone": 1 }}, "workers": 500, "queue": 0,
                "replication": {replication},
                "endpoints": {{
                    "write": {{ "work": {{ "constant": "1ms" }}, "access": "write" }},
                    "read": {{ "work": {{ "constant": "1ms" }}, "access": "read" }} }} }}
        }},
        "workload": {{
            "writes": {{ "endpoint": "db.write", "rate": "{writes}" }},
            "reads": {{ "endpoint": "db.read", "rate": "200/s" }} }}
    }}"#
    )
}

fn stale_share(summary: &RunSummary) -> f64 {
    summary.stale_reads[0] as f64 / summary.reads[0] as f64
}

#[test]
fn a_replica_applying_at_its_rate_is_stale_as_often_as_an_m_d_1_queue_is_busy() {
    // Poisson writes at 60/s, applied one at a time in 10 ms: an M/D/1
    // queue at ρ = 0.6. Poisson reads see it as time does (PASTA): stale
    // exactly while a write waits or is being applied, a share ρ of the time.
    let t = topology(&database(r#"{ "apply_rate": "100/s" }"#, "60/s"));
    let (summary, _) = run(&t, 4, 400, 0);
    let share = stale_share(&summary);
    assert!(
        (share - 0.6).abs() < 0.02,
        "stale share {share:.4}, ρ = 0.6"
    );
    // Applying at once, a replica with no lag is never stale.
    let t = topology(&database(r#"{}"#, "60/s"));
    let (summary, _) = run(&t, 4, 100, 0);
    assert_eq!(summary.stale_reads[0], 0);
    assert!(summary.reads[0] > 19_000);
}

#[test]
fn a_write_load_above_the_apply_rate_makes_the_lag_grow_until_it_alerts() {
    // 60 writes/s against 50 applied/s: the backlog grows by 10/s, and the
    // write applied at time t was acknowledged at t/1.2, so the replica
    // is t/6 behind: 10 s after a minute.
    let t = topology(&database(
        r#"{ "apply_rate": "50/s", "lag_alert": "2s" }"#,
        "60/s",
    ));
    let (summary, rec) = run(&t, 5, 60, 0);
    let max = summary.max_staleness[0] as f64 / 1e9;
    assert!((max - 10.0).abs() < 1.0, "{max:.2} s behind after 60 s");
    let alerts: Vec<_> = rec
        .events
        .iter()
        .filter_map(|e| match e.change {
            StateChange::ReplicaLagging { lag_ms, .. } => Some((e.time, lag_ms)),
            _ => None,
        })
        .collect();
    // Raised once, at the first window's end past 2 s behind (t ≈ 12 s).
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let (at, lag_ms) = alerts[0];
    assert!((11..=14).contains(&(at / 1_000_000_000)), "{at}");
    assert!(lag_ms > 2000 && lag_ms < 2500, "{lag_ms}");
    assert_eq!(summary.lag_alerts[0], 1);
}

#[test]
fn lag_aware_promotion_trades_lost_writes_for_a_write_outage() {
    // The replica stops receiving at 20 s; the primary dies at 40 s. A
    // failover promotes the replica 20 s behind and loses those writes;
    // with `max_lag: 5s` it refuses to, and writes fail instead until the
    // primary is back (it restarts).
    let replication = |max_lag: &str| {
        format!(r#"{{ "failover": {{ "detection": "2s", "promotion": "1s" {max_lag} }} }}"#)
    };
    let faults = r#"{
        "stall": { "kind": "replication_lag", "target": "db-b-1", "grow": 1.0, "at": "20s", "for": "40s" },
        "dies": { "kind": "instance_kill", "target": "db-a-1", "at": "40s" } }"#;
    let with_restart = |model: String| {
        model.replace(
            r#""kind": "database","#,
            r#""kind": "database", "restart": { "delay": "10s", "boot": "2s" },"#,
        )
    };
    let (_, promoted, _) = run_with_faults(
        &with_restart(database(&replication(""), "60/s")),
        faults,
        6,
        80,
        5,
    );
    let (_, refused, rec) = run_with_faults(
        &with_restart(database(&replication(r#", "max_lag": "5s""#), "60/s")),
        faults,
        6,
        80,
        5,
    );
    // 20 s of writes at 60/s the replica never received.
    assert!(
        (1000..1400).contains(&promoted.lost_writes[0]),
        "{} lost",
        promoted.lost_writes[0]
    );
    assert_eq!(refused.lost_writes[0], 0);
    assert!(
        rec.events
            .iter()
            .any(|e| e.change.name() == "failover_failed")
    );
    // Refusing costs the writes of the outage: from the death at 40 s to
    // the restart at 52 s, about 12 s at 60/s fail; promoting, about 3 s.
    let failed = |s: &RunSummary| s.entries[0].error_count();
    assert!(failed(&refused) > failed(&promoted) + 400);
}

#[test]
fn the_run_records_and_reports_what_replicas_answered_stale() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = crate::common::repo().join("scenarios/replication-failover.json");
    let out = crate::common::faultline_in(
        dir.path(),
        &["run", scenario.to_str().unwrap(), "--out", "out", "-q"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let run_dir = dir.path().join("out/replication-failover/baseline/seed-13");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    let db = &manifest["databases"]["orders-db"];
    let (reads, stale) = (
        db["reads"].as_u64().unwrap(),
        db["stale_reads"].as_u64().unwrap(),
    );
    assert!(reads > 40_000 && stale > 0 && stale < reads, "{db}");
    // The replica stalled for 30 s before the primary died.
    assert!(db["max_lag_s"].as_f64().unwrap() > 29.0, "{db}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        report.contains(&format!(
            "Reads of orders-db answered stale by a replica (a write acknowledged before them not yet applied): {stale} of {reads}"
        )),
        "{report}"
    );
}
