//! Graceful stops: a rolling restart and a restart before OOM, drained or
//! abrupt. What users lose is what the mechanisms make of it: with a
//! drain, nothing; without, what the instance held and what its balancer
//! sent it before health checks noticed.

use std::path::PathBuf;

use faultline::base::ErrorClass;
use faultline::observe::events::StateChange;
use faultline::spec::Source;
use faultline::topology::Topology;

use crate::common::{SECOND, run_with_faults};

/// Four api instances behind health checks, restarted by their supervisor
/// with a 2 s boot; `extra` is spliced into the api service.
fn fleet(extra: &str) -> String {
    format!(
        r#"{{
        "name": "fleet", "zones": ["z"],
        "services": {{
            "api": {{ "instances": {{ "per_zone": 4 }}, "workers": 32, "queue": 64,
                "restart": {{ "delay": "0s", "boot": "2s" }},
                "load_balancer": {{ "policy": "round_robin",
                    "health_check": {{ "endpoint": "health", "interval": "1s", "timeout": "500ms",
                                       "unhealthy_after": 2, "healthy_after": 1 }} }},
                {extra}
                "endpoints": {{ "health": {{ "work": {{ "constant": "1ms" }} }},
                               "get": {{ "work": {{ "exponential": {{ "mean": "20ms" }} }} }} }} }}
        }},
        "workload": {{ "w": {{ "endpoint": "api.get", "rate": "400/s" }} }}
    }}"#
    )
}

const ROLL: &str = r#"{ "deploy": { "kind": "rolling_restart", "target": "api", "at": "20s" } }"#;

fn count(events: &[faultline::observe::events::StateEvent], name: &str) -> usize {
    events.iter().filter(|e| e.change.name() == name).count()
}

#[test]
fn a_drained_rolling_restart_loses_nothing_and_an_abrupt_one_does() {
    let (_, abrupt, abrupt_rec) = run_with_faults(&fleet(""), ROLL, 3, 60, 10);
    let (_, drained, rec) = run_with_faults(&fleet(r#""drain": "10s","#), ROLL, 3, 60, 10);
    // Every instance restarted once, in turn, either way.
    for events in [&abrupt_rec.events, &rec.events] {
        assert_eq!(count(events, "instance_stopped"), 4);
        assert_eq!(count(events, "instance_ready"), 4);
    }
    // Drained: each stopped holding nothing, and no user saw an error.
    for e in &rec.events {
        if let StateChange::InstanceStopped { drained, reset, .. } = e.change {
            assert!(drained);
            assert_eq!(reset, 0);
        }
    }
    assert_eq!(drained.entries[0].error_count(), 0);
    // Abrupt: what each held was reset, and the balancer kept sending each
    // stopped instance its share until two probes failed.
    let refused = abrupt.entries[0].errors[ErrorClass::Refused as usize];
    assert!(
        refused > 4 * 100,
        "{refused} refused in an abrupt rolling restart"
    );
    assert_eq!(abrupt.entries[0].error_count(), refused);
}

#[test]
fn a_roll_restarts_one_batch_at_a_time_and_a_drain_ends_when_the_instance_is_idle() {
    let (_, _, rec) = run_with_faults(&fleet(r#""drain": "30s","#), ROLL, 4, 60, 10);
    let mut draining = Vec::new();
    let mut stopped = Vec::new();
    let mut readmitted = Vec::new();
    for e in &rec.events {
        match e.change {
            StateChange::InstanceDraining { instance, fault } => {
                assert_eq!(fault, Some(0));
                draining.push((e.time, instance));
            }
            StateChange::InstanceStopped { instance, .. } => stopped.push((e.time, instance)),
            StateChange::Readmitted { instance } => readmitted.push((e.time, instance)),
            _ => {}
        }
    }
    assert_eq!(draining.len(), 4);
    for (k, &(at, instance)) in draining.iter().enumerate() {
        // It holds a few 20 ms requests: its drain ends within a second,
        // not at 30 s.
        let (stop, stopped_instance) = stopped[k];
        assert_eq!(stopped_instance, instance);
        assert!(stop - at < SECOND, "drained for {} ns", stop - at);
        // The next batch starts only once this one is back in the balancer.
        if let Some(&(next, _)) = draining.get(k + 1) {
            let back = readmitted
                .iter()
                .find(|(t, i)| *i == instance && *t > stop)
                .expect("readmitted after its restart")
                .0;
            assert!(
                next >= back,
                "next batch at {next}, this one back at {back}"
            );
        }
    }
}

/// An api whose instance 0 leaks 20 MiB/s into a 1 GiB limit from 10 s.
fn leaking(memory_extra: &str) -> String {
    fleet(&format!(
        r#""drain": "10s",
        "memory": {{ "baseline": "200MiB", "limit": "1GiB" {memory_extra} }},"#
    ))
}

const LEAK: &str = r#"{ "leak": { "kind": "memory_leak", "target": "api-z-1", "rate": "20MiB/s", "at": "10s", "for": "50s" } }"#;

#[test]
fn restarting_before_oom_trades_a_kill_for_a_drain() {
    let (_, killed, killed_rec) = run_with_faults(&leaking(""), LEAK, 5, 60, 5);
    let (_, restarted, rec) = run_with_faults(&leaking(r#", "restart_at": 0.8"#), LEAK, 5, 60, 5);
    // 824 MiB to fill at 20 MiB/s: an OOM kill about every 41 s (plus the
    // boot), losing what the instance held and what was sent it meanwhile.
    assert!(count(&killed_rec.events, "oom_killed") >= 1);
    assert!(killed.entries[0].error_count() > 0);
    // At 80 % (619 MiB of leak, about 31 s) it drains and restarts instead.
    assert_eq!(count(&rec.events, "oom_killed"), 0);
    let drains: Vec<u64> = rec
        .events
        .iter()
        .filter(|e| matches!(e.change, StateChange::InstanceDraining { fault: None, .. }))
        .map(|e| e.time)
        .collect();
    assert_eq!(drains.len(), 1, "{drains:?}");
    let expected = 10.0 + (0.8 * 1024.0 - 200.0) / 20.0;
    let at = drains[0] as f64 / 1e9;
    assert!(
        (at - expected).abs() < 0.1,
        "drained at {at} s, expected {expected}"
    );
    assert_eq!(restarted.entries[0].error_count(), 0);
}

fn problems(model: &str, scenario_faults: &str) -> String {
    let source = Source {
        path: PathBuf::from("m.json"),
        text: model.to_string(),
    };
    if let Err(e) = Topology::from_source(&source) {
        return e.to_string();
    }
    let scenario = format!(
        r#"{{"name": "t", "model": "m.json", "duration": "60s", "warmup": "1s", "seed": 1, "faults": {scenario_faults}}}"#
    );
    match faultline::plan::Plan::from_texts(
        Source {
            path: PathBuf::from("s.json"),
            text: scenario,
        },
        source,
    ) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn graceful_stops_are_checked_where_they_are_written() {
    let no_restart = leaking(r#", "restart_at": 0.8"#)
        .replace(r#""restart": { "delay": "0s", "boot": "2s" },"#, "");
    assert!(
        problems(&no_restart, "{}").contains("needs the service's `restart`"),
        "{}",
        problems(&no_restart, "{}")
    );
    let at_limit = leaking(r#", "restart_at": 1.0"#);
    assert!(problems(&at_limit, "{}").contains("memory.restart_at"));
    let zero = fleet(r#""drain": "0s","#);
    assert!(problems(&zero, "{}").contains("services.api.drain"));
    let on_instance = problems(
        &fleet(""),
        r#"{ "d": { "kind": "rolling_restart", "target": "api-z-1", "at": "5s" } }"#,
    );
    assert!(on_instance.contains("faults.d.target"), "{on_instance}");
    let no_batch = problems(
        &fleet(""),
        r#"{ "d": { "kind": "rolling_restart", "target": "api", "batch": 0, "at": "5s" } }"#,
    );
    assert!(no_batch.contains("faults.d.batch"), "{no_batch}");
}

/// front calls back with a 100 ms timeout and passes its deadline down;
/// back's work is exponential (mean `mean`); `extra` goes into back.
fn cancelled(extra: &str, workers: u32, mean: &str, rate: &str) -> String {
    format!(
        r#"{{
        "name": "cancel", "zones": ["z"],
        "services": {{
            "front": {{ "workers": 2000, "queue": 0,
                "endpoints": {{ "e": {{ "work": {{ "constant": "1ms" }},
                    "calls": {{ "c": {{ "to": "back.e", "timeout": "100ms", "propagate_deadline": true }} }} }} }} }},
            "back": {{ "workers": {workers}, "queue": 200, {extra}
                "endpoints": {{ "e": {{ "work": {mean} }} }} }}
        }},
        "workload": {{ "w": {{ "endpoint": "front.e", "rate": "{rate}" }} }}
    }}"#
    )
}

#[test]
fn abandoned_work_holds_a_worker_for_the_deadline_plus_the_cost_at_most() {
    // Unqueued, back's work X ~ Exp(60 ms) starts when the call is sent, so
    // cut at 100 + 5 ms it holds a worker E[min(X, 105 ms)] =
    // 60 (1 − e^(−105/60)) = 49.6 ms on average instead of 60.
    let exponential = r#"{ "exponential": { "mean": "60ms" } }"#;
    let busy_per_request = |extra: &str| {
        let t = crate::common::topology(&cancelled(extra, 2000, exponential, "200/s"));
        let (summary, rec) = crate::common::run(&t, 9, 210, 10);
        let back = crate::common::service(&t, "back");
        let rows: Vec<_> = rec
            .rows
            .iter()
            .filter(|r| r.component == back && r.window_start >= 10 * SECOND)
            .collect();
        let busy: f64 = rows.iter().map(|r| r.busy.0).sum();
        let started: u64 = rows.iter().map(|r| r.started).sum();
        (busy / started as f64 * 1e3, summary)
    };
    let (kept, _) = busy_per_request("");
    let (cut, summary) = busy_per_request(r#""abandon_expired_work": "5ms","#);
    let expected = 60.0 * (1.0 - (-105.0f64 / 60.0).exp());
    assert!(
        (kept - 60.0).abs() < 1.5,
        "{kept:.2} ms held without abandoning"
    );
    assert!(
        (cut - expected).abs() < 1.5,
        "{cut:.2} ms held, {expected:.2} expected"
    );
    // The users' view is the same: a timeout at 100 ms for P(X > 100 ms).
    let share = summary.entries[0].errors[ErrorClass::Timeout as usize] as f64
        / summary.entries[0].arrivals as f64;
    assert!(((-100.0f64 / 60.0).exp() - share).abs() < 0.01, "{share}");
}

#[test]
fn abandoning_expired_work_keeps_an_overloaded_callee_serving() {
    // 450/s of Exp(20 ms) on 8 workers: 112 % of capacity. Expired queued
    // requests are dropped either way (the deadline travels); what differs
    // is the work already started: kept, the workers spend a share of
    // their time on answers nobody waits for.
    let exponential = r#"{ "exponential": { "mean": "20ms" } }"#;
    let goodput = |extra: &str| {
        let t = crate::common::topology(&cancelled(extra, 8, exponential, "450/s"));
        let (summary, _) = crate::common::run(&t, 2, 130, 10);
        summary.entries[0].ok as f64 / 120.0
    };
    let kept = goodput("");
    let cut = goodput(r#""abandon_expired_work": "1ms","#);
    // Measured: about 190/s kept, 390/s cut (of 400/s the workers can do).
    assert!(
        cut > 1.5 * kept && cut > 350.0,
        "{cut:.1}/s served with abandoning, {kept:.1}/s without"
    );
}
