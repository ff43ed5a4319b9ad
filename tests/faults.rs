//! Faults and the mechanisms that meet them, asserted on numbers a run
//! produced: crashed and vanished instances, health checks that eject and
//! readmit them, restarts, zone outages, injected latency, errors and CPU
//! stress, deep health checks, the fault events, the validation of fault
//! files, and determinism under faults. Models are small and inline; every
//! run is seeded, so each assertion is deterministic, and statistical
//! tolerances are several standard deviations wide.

use std::path::PathBuf;

use faultline::base::ErrorClass;
use faultline::observe::Recorder;
use faultline::observe::events::{StateChange, StateEvent};
use faultline::observe::metrics::Row;
use faultline::sim::RunSummary;
use faultline::spec::Source;
use faultline::topology::Component;
use faultline::topology::Topology;

use crate::common::*;

// ----- helpers ----------------------------------------------------------------

const MS: u64 = 1_000_000;

fn instance_id(t: &Topology, name: &str) -> u32 {
    t.instances
        .iter()
        .position(|i| i.name == name)
        .unwrap_or_else(|| panic!("no instance {name}")) as u32
}

fn entry(t: &Topology, workload: &str) -> Component {
    Component::Entry(
        t.workloads
            .iter()
            .position(|w| w.name == workload)
            .unwrap_or_else(|| panic!("no workload {workload}")) as u32,
    )
}

/// The rows of one component whose window starts in `[from, to)` (ns).
fn rows_between(rows: &[Row], component: Component, from: u64, to: u64) -> Vec<&Row> {
    rows.iter()
        .filter(|r| r.component == component && r.window_start >= from && r.window_start < to)
        .collect()
}

/// The rows of one component whose window starts in `[from_s, to_s)`.
fn rows_s(rows: &[Row], component: Component, from_s: u64, to_s: u64) -> Vec<&Row> {
    rows_between(rows, component, from_s * SECOND, to_s * SECOND)
}

fn error_count(rows: &[&Row]) -> u64 {
    all_errors(rows).iter().sum()
}

/// Share of the rows' arrivals that failed with `class`.
fn share(rows: &[&Row], class: ErrorClass) -> f64 {
    errors(rows, class) as f64 / sum(rows, |r| r.arrivals) as f64
}

/// Share of finished requests that succeeded over the rows.
fn availability(rows: &[&Row]) -> f64 {
    let ok = sum(rows, |r| r.ok);
    ok as f64 / (ok + error_count(rows)) as f64
}

/// Exact mean latency of the successes over the rows (ns).
fn mean_latency(rows: &[&Row]) -> f64 {
    let weighted: f64 = rows.iter().map(|r| r.latency.mean * r.ok as f64).sum();
    weighted / sum(rows, |r| r.ok) as f64
}

fn max_latency(rows: &[&Row]) -> u64 {
    rows.iter().map(|r| r.latency.max).max().unwrap_or(0)
}

/// Times of the events that match.
fn times(rec: &Recorder, matches: impl Fn(&StateChange) -> bool) -> Vec<u64> {
    rec.events
        .iter()
        .filter(|e| matches(&e.change))
        .map(|e| e.time)
        .collect()
}

/// Time of the only event equal to `change`.
fn only_time(rec: &Recorder, change: StateChange) -> u64 {
    let found = times(rec, |c| *c == change);
    assert_eq!(found.len(), 1, "{change:?}: {found:?}");
    found[0]
}

fn count(rec: &Recorder, matches: impl Fn(&StateChange) -> bool) -> usize {
    times(rec, matches).len()
}

/// The first whole second at or after `t` (ns).
fn ceil_s(t: u64) -> u64 {
    t.div_ceil(SECOND)
}

fn secs(t: u64) -> f64 {
    t as f64 / SECOND as f64
}

fn ms(t: f64) -> f64 {
    t / MS as f64
}

// ----- models -----------------------------------------------------------------

/// front (1 ms of work, unlimited workers) calls `api.get` with a 1 s
/// timeout from two endpoints: `strict` fails when the call fails, `soft`
/// degrades and succeeds without the answer. api has one instance in each of
/// zones a, b, c (`api-a-1`, `api-b-1`, `api-c-1`), 4 workers each,
/// exponential 20 ms of work. Offered 200/s strict + 100/s soft: each
/// instance is about half busy.
fn api_model(policy: &str, health_check: Option<&str>, restart: Option<&str>) -> String {
    let hc = health_check.map_or(String::new(), |h| format!(r#", "health_check": {h}"#));
    let restart = restart.map_or(String::new(), |r| format!(r#""restart": {r},"#));
    format!(
        r#"{{
            "name": "api", "zones": ["a", "b", "c"],
            "services": {{
                "front": {{ "workers": 10000, "endpoints": {{
                    "strict": {{ "work": {{ "constant": "1ms" }},
                        "calls": {{ "api": {{ "to": "api.get", "timeout": "1s" }} }} }},
                    "soft": {{ "work": {{ "constant": "1ms" }},
                        "calls": {{ "api": {{ "to": "api.get", "timeout": "1s",
                                              "fallback": "degrade" }} }} }} }} }},
                "api": {{ "workers": 4, "instances": {{ "per_zone": 1 }},
                    "load_balancer": {{ "policy": "{policy}"{hc} }},
                    {restart}
                    "endpoints": {{ "get": {{ "work": {{ "exponential": {{ "mean": "20ms" }} }} }} }} }}
            }},
            "workload": {{
                "strict": {{ "endpoint": "front.strict", "rate": "200/s" }},
                "soft": {{ "endpoint": "front.soft", "rate": "100/s" }}
            }}
        }}"#
    )
}

/// Health checks every second, probe timeout 500 ms, 3 failures eject, 2
/// successes readmit.
const HC: &str = r#"{ "interval": "1s", "timeout": "500ms", "unhealthy_after": 3,
    "healthy_after": 2 }"#;
const HC_INTERVAL: u64 = SECOND;
const HC_UNHEALTHY: u64 = 3;
const HC_HEALTHY: u64 = 2;

/// Kills `api-b-1` at 20.25 s (off the probe and window grid).
const KILL_AT: u64 = 20_250 * MS;

fn kill_b(mode: &str) -> String {
    format!(
        r#"{{ "kill": {{ "kind": "instance_kill", "target": "api-b-1", "mode": "{mode}",
                        "at": "20250ms" }} }}"#
    )
}

/// Holding time of a front worker per request, by Little's law: busy
/// time-average over the request rate (s).
fn front_holding(t: &Topology, rec: &Recorder, from_s: u64, to_s: u64) -> f64 {
    let busy = mean_level(&rows_s(&rec.rows, service(t, "front"), from_s, to_s), |r| {
        r.busy.0
    });
    let front = rows_s(&rec.rows, service(t, "front"), from_s, to_s);
    let rate = sum(&front, |r| r.arrivals) as f64 / front.len() as f64;
    busy / rate
}

// ----- 1. a crashed instance without health checks ----------------------------

#[test]
fn a_crashed_instance_refuses_at_once_and_least_outstanding_pours_traffic_into_it() {
    let (t, _, rec) = run_with_faults(
        &api_model("least_outstanding", None, None),
        &kill_b("crash"),
        1,
        60,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    assert_eq!(
        only_time(
            &rec,
            StateChange::InstanceKilled {
                instance: b,
                fault: 0,
                host_down: false
            }
        ),
        KILL_AT
    );
    let strict = entry(&t, "strict");
    let api = endpoint(&t, "api.get");

    // Before the kill nothing fails.
    assert_eq!(error_count(&rows_s(&rec.rows, strict, 0, 20)), 0);
    assert_eq!(error_count(&rows_s(&rec.rows, api, 0, 20)), 0);

    // After it, callers fail with `refused` only: the host answers, the
    // connection is refused, nobody waits for a timer.
    let after = rows_s(&rec.rows, strict, 21, 60);
    assert!(
        only_class(&all_errors(&after), ErrorClass::Refused),
        "{:?}",
        all_errors(&after)
    );
    // The balancer does not know: the dead instance has nothing queued or
    // in service (its outstanding count is 0), so least-outstanding picks
    // it whenever the live ones have work. Far more than a third of the
    // calls go to the corpse.
    let api_after = rows_s(&rec.rows, api, 21, 60);
    let lo_share = share(&api_after, ErrorClass::Refused);
    let strict_share = share(&after, ErrorClass::Refused);
    eprintln!("least_outstanding: refused share api {lo_share:.3}, strict {strict_share:.3}");
    assert!(lo_share > 0.5, "refused share {lo_share}");
    assert!((strict_share - lo_share).abs() < 0.05);

    // Fail fast: the soft endpoint degrades at once on a refusal, so no
    // answer waited anywhere near the 1 s call timeout, and the front holds
    // its workers for less time than before (a refusal is quicker than an
    // answer).
    let soft = rows_s(&rec.rows, entry(&t, "soft"), 21, 60);
    let degraded = sum(&soft, |r| r.degraded);
    assert!(
        degraded as f64 > 0.4 * sum(&soft, |r| r.ok) as f64,
        "{degraded}"
    );
    assert!(max_latency(&soft) < 300 * MS, "{}", max_latency(&soft));
    let (before, during) = (
        front_holding(&t, &rec, 5, 20),
        front_holding(&t, &rec, 21, 60),
    );
    eprintln!(
        "front holding before {:.2} ms, after crash {:.2} ms",
        before * 1e3,
        during * 1e3
    );
    assert!(during < before, "{during} vs {before}");
    assert_eq!(
        errors(&rows_s(&rec.rows, strict, 0, 60), ErrorClass::Timeout),
        0
    );

    // Round robin sends exactly every third call to each instance.
    let (t, _, rec) = run_with_faults(
        &api_model("round_robin", None, None),
        &kill_b("crash"),
        1,
        60,
        0,
    );
    let api_after = rows_s(&rec.rows, endpoint(&t, "api.get"), 21, 60);
    let rr_share = share(&api_after, ErrorClass::Refused);
    eprintln!("round_robin: refused share {rr_share:.4}");
    assert!((rr_share - 1.0 / 3.0).abs() < 0.005, "{rr_share}");
    assert!(lo_share > rr_share + 0.15);
}

#[test]
fn killing_a_count_of_a_service_picks_distinct_running_instances() {
    let faults = r#"{ "kill": { "kind": "instance_kill", "target": "api", "count": 2,
                                "at": "20250ms" } }"#;
    let (t, _, rec) = run_with_faults(&api_model("round_robin", None, None), faults, 3, 40, 0);
    let victims: Vec<u32> = rec
        .events
        .iter()
        .filter_map(|e| match e.change {
            StateChange::InstanceKilled {
                instance,
                fault: 0,
                host_down: false,
            } if e.time == KILL_AT => Some(instance),
            _ => None,
        })
        .collect();
    assert_eq!(victims.len(), 2, "{victims:?}");
    assert_ne!(victims[0], victims[1]);
    let api = &t.services[service_id(&t, "api") as usize];
    assert!(victims.iter().all(|v| api.instances.contains(v)));
    // Two of three dead: round robin refuses two calls in three.
    let after = rows_s(&rec.rows, endpoint(&t, "api.get"), 21, 40);
    let refused = share(&after, ErrorClass::Refused);
    assert!((refused - 2.0 / 3.0).abs() < 0.005, "{refused}");
}

// ----- 2. health checks eject a crashed instance ------------------------------

#[test]
fn health_checks_eject_a_crashed_instance_and_the_errors_stop() {
    let (t, _, rec) = run_with_faults(
        &api_model("least_outstanding", Some(HC), None),
        &kill_b("crash"),
        2,
        60,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    let ejected = only_time(&rec, StateChange::Ejected { instance: b });
    let detection = ejected - KILL_AT;
    eprintln!("ejected {:.3} s after the kill", secs(detection));
    // The first probe after the kill fails at once (the host refuses it);
    // `unhealthy_after` failures in a row, one interval apart, eject.
    assert!(detection <= HC_INTERVAL * (HC_UNHEALTHY + 1), "{detection}");
    assert!(detection >= HC_INTERVAL * (HC_UNHEALTHY - 1), "{detection}");
    // No other instance is ejected, none comes back.
    assert_eq!(count(&rec, |c| matches!(c, StateChange::Ejected { .. })), 1);
    assert_eq!(
        count(&rec, |c| matches!(c, StateChange::Readmitted { .. })),
        0
    );

    let strict = entry(&t, "strict");
    // Until the ejection, least-outstanding sends it traffic: refusals.
    let exposed = rows_between(&rec.rows, strict, KILL_AT - 250 * MS, ejected);
    let refused = errors(&exposed, ErrorClass::Refused);
    assert!(refused > 100, "{refused}");
    assert!(only_class(&all_errors(&exposed), ErrorClass::Refused));
    // From the window after the ejection on, two instances carry the load
    // and nothing fails.
    let healed = rows_s(&rec.rows, strict, ceil_s(ejected), 60);
    assert_eq!(error_count(&healed), 0, "{:?}", all_errors(&healed));
    assert!(sum(&healed, |r| r.ok) > 30 * 190);
    let api = rows_s(&rec.rows, endpoint(&t, "api.get"), ceil_s(ejected), 60);
    assert_eq!(error_count(&api), 0);
}

// ----- 3. restarts ------------------------------------------------------------

#[test]
fn a_restarted_instance_boots_and_is_readmitted_after_healthy_probes() {
    let restart = r#"{ "delay": "3s", "boot": "2s" }"#;
    let (t, _, rec) = run_with_faults(
        &api_model("round_robin", Some(HC), Some(restart)),
        &kill_b("crash"),
        4,
        60,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    let restarting = only_time(&rec, StateChange::InstanceRestarting { instance: b });
    let ready = only_time(&rec, StateChange::InstanceReady { instance: b });
    let ejected = only_time(&rec, StateChange::Ejected { instance: b });
    let readmitted = only_time(&rec, StateChange::Readmitted { instance: b });
    eprintln!(
        "killed {} s, ejected {} s, restarting {} s, ready {} s, readmitted {} s",
        secs(KILL_AT),
        secs(ejected),
        secs(restarting),
        secs(ready),
        secs(readmitted)
    );
    assert_eq!(restarting, KILL_AT + 3 * SECOND);
    assert_eq!(ready, KILL_AT + 5 * SECOND);
    // Ejected while dead (probes of a booting process fail too), readmitted
    // after `healthy_after` successful probes of the booted one.
    assert!(ejected > KILL_AT && ejected < ready);
    assert!(readmitted > ready);
    assert!(readmitted - ready >= HC_INTERVAL * (HC_HEALTHY - 1));
    assert!(readmitted - ready <= HC_INTERVAL * HC_HEALTHY);
    // The events come in that order and only for api-b-1.
    let order: Vec<&StateEvent> = rec
        .events
        .iter()
        .filter(|e| !matches!(e.change, StateChange::FaultStarted { .. }))
        .collect();
    assert_eq!(order.len(), 5, "{order:?}");
    assert!(matches!(
        order[0].change,
        StateChange::InstanceKilled { .. }
    ));
    assert!(matches!(order[1].change, StateChange::Ejected { .. }));
    assert!(matches!(
        order[2].change,
        StateChange::InstanceRestarting { .. }
    ));
    assert!(matches!(order[3].change, StateChange::InstanceReady { .. }));
    assert!(matches!(order[4].change, StateChange::Readmitted { .. }));

    // Errors only between the kill and the ejection; none once it is out of
    // rotation, and none once it is back in (it serves its share again).
    let strict = entry(&t, "strict");
    assert!(
        errors(
            &rows_s(&rec.rows, strict, 20, ceil_s(ejected)),
            ErrorClass::Refused
        ) > 50
    );
    assert_eq!(
        error_count(&rows_s(&rec.rows, strict, ceil_s(ejected), 60)),
        0
    );
    let api = endpoint(&t, "api.get");
    assert_eq!(error_count(&rows_s(&rec.rows, api, ceil_s(ejected), 60)), 0);
}

#[test]
fn without_health_checks_a_restarted_instance_refuses_until_it_has_booted() {
    // Round robin, no health checks: every third call is refused from the
    // kill (20.25 s) through the restart (23.25 s) and the boot until the
    // instance is ready (25.25 s), then none.
    let restart = r#"{ "delay": "3s", "boot": "2s" }"#;
    let (t, _, rec) = run_with_faults(
        &api_model("round_robin", None, Some(restart)),
        &kill_b("crash"),
        5,
        40,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    assert_eq!(
        only_time(&rec, StateChange::InstanceReady { instance: b }),
        KILL_AT + 5 * SECOND
    );
    let api = endpoint(&t, "api.get");
    let down = rows_s(&rec.rows, api, 21, 25);
    let refused = share(&down, ErrorClass::Refused);
    assert!((refused - 1.0 / 3.0).abs() < 0.01, "{refused}");
    assert!(only_class(&all_errors(&down), ErrorClass::Refused));
    assert_eq!(error_count(&rows_s(&rec.rows, api, 26, 40)), 0);
    assert_eq!(error_count(&rows_s(&rec.rows, api, 0, 20)), 0);
}

#[test]
fn without_a_restart_policy_a_killed_instance_stays_dead() {
    let (t, summary, rec) = run_with_faults(
        &api_model("round_robin", Some(HC), None),
        &kill_b("crash"),
        6,
        60,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    assert_eq!(
        count(&rec, |c| matches!(
            c,
            StateChange::InstanceRestarting { .. } | StateChange::InstanceReady { .. }
        )),
        0
    );
    let ejected = only_time(&rec, StateChange::Ejected { instance: b });
    assert_eq!(
        count(&rec, |c| matches!(c, StateChange::Readmitted { .. })),
        0
    );
    // Ejected for good: two instances serve to the end, without errors.
    assert_eq!(
        error_count(&rows_s(&rec.rows, entry(&t, "strict"), ceil_s(ejected), 60)),
        0
    );
    assert!(summary.in_flight_at_end < 50);

    // And without health checks, every third call is refused to the end.
    let (t, _, rec) = run_with_faults(
        &api_model("round_robin", None, None),
        &kill_b("crash"),
        6,
        60,
        0,
    );
    let api = endpoint(&t, "api.get");
    for from in [21, 40, 55] {
        let rows = rows_s(&rec.rows, api, from, from + 5);
        let refused = share(&rows, ErrorClass::Refused);
        assert!((refused - 1.0 / 3.0).abs() < 0.02, "{from} s: {refused}");
    }
}

// ----- 4. a host that vanished ------------------------------------------------

#[test]
fn a_vanished_host_makes_callers_wait_for_their_timeout() {
    let (t, _, rec) = run_with_faults(
        &api_model("round_robin", None, None),
        &kill_b("host_down"),
        7,
        60,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    assert_eq!(
        only_time(
            &rec,
            StateChange::InstanceKilled {
                instance: b,
                fault: 0,
                host_down: true
            }
        ),
        KILL_AT
    );
    // Nothing answers: the calls routed to it fail with `timeout`, never
    // `refused`, one in three under round robin.
    let strict = rows_s(&rec.rows, entry(&t, "strict"), 22, 60);
    let errs = all_errors(&strict);
    assert!(only_class(&errs, ErrorClass::Timeout), "{errs:?}");
    let timeouts = share(&strict, ErrorClass::Timeout);
    eprintln!("host_down: timeout share {timeouts:.3}");
    assert!((timeouts - 1.0 / 3.0).abs() < 0.03, "{timeouts}");
    let front = rows_s(&rec.rows, endpoint(&t, "front.strict"), 22, 60);
    assert!(only_class(&all_errors(&front), ErrorClass::Timeout));

    // And they wait the whole timeout: a degraded answer (the soft
    // endpoint gave up on the call) comes 1 ms of work + 1 s later.
    let soft = rows_s(&rec.rows, entry(&t, "soft"), 22, 60);
    let degraded = sum(&soft, |r| r.degraded) as f64 / sum(&soft, |r| r.ok) as f64;
    assert!((degraded - 1.0 / 3.0).abs() < 0.04, "{degraded}");
    let slowest = max_latency(&soft) as f64;
    eprintln!("host_down: slowest degraded answer {:.1} ms", ms(slowest));
    assert!(
        (slowest / (1001.0 * MS as f64) - 1.0).abs() < 0.01,
        "{slowest}"
    );
    // A third of the requests hold a front worker for the full second.
    let holding = front_holding(&t, &rec, 22, 60);
    eprintln!("host_down: front holding {:.1} ms", holding * 1e3);
    assert!(
        (holding - (0.001 + 1.0 / 3.0 + 2.0 / 3.0 * 0.021)).abs() < 0.03,
        "{holding}"
    );
}

#[test]
fn least_outstanding_pours_traffic_into_a_vanished_host_too() {
    // Requests swallowed by a vanished host hold no worker and sit in no
    // queue, so its outstanding count stays 0: least-outstanding keeps
    // picking it, and every such call waits its full timeout.
    let (t, _, rec) = run_with_faults(
        &api_model("least_outstanding", None, None),
        &kill_b("host_down"),
        7,
        60,
        0,
    );
    let strict = rows_s(&rec.rows, entry(&t, "strict"), 22, 60);
    assert!(only_class(&all_errors(&strict), ErrorClass::Timeout));
    let timeouts = share(&strict, ErrorClass::Timeout);
    eprintln!("host_down, least_outstanding: timeout share {timeouts:.3}");
    assert!(timeouts > 0.5, "{timeouts}");
}

#[test]
fn health_checks_eject_a_vanished_host_after_probe_timeouts() {
    let (t, _, rec) = run_with_faults(
        &api_model("least_outstanding", Some(HC), None),
        &kill_b("host_down"),
        7,
        60,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    let ejected = only_time(&rec, StateChange::Ejected { instance: b });
    let detection = ejected - KILL_AT;
    eprintln!("host_down: ejected {:.3} s after the kill", secs(detection));
    // Each probe of a silent host fails only when its timeout (500 ms)
    // expires.
    let timeout = 500 * MS;
    assert!(
        detection <= HC_INTERVAL * HC_UNHEALTHY + timeout,
        "{detection}"
    );
    assert!(
        detection >= HC_INTERVAL * (HC_UNHEALTHY - 1) + timeout,
        "{detection}"
    );
    let strict = entry(&t, "strict");
    let exposed = rows_between(&rec.rows, strict, 21 * SECOND, ejected + SECOND);
    assert!(errors(&exposed, ErrorClass::Timeout) > 100);
    assert!(only_class(&all_errors(&exposed), ErrorClass::Timeout));
    // The last calls sent to it before the ejection time out 1 s later;
    // after that nothing fails.
    let healed = rows_s(&rec.rows, strict, ceil_s(ejected + SECOND), 60);
    assert_eq!(error_count(&healed), 0, "{:?}", all_errors(&healed));
}

#[test]
fn a_probe_timeout_equal_to_the_interval_still_probes_every_interval() {
    let hc = r#"{ "interval": "1s", "timeout": "1s", "unhealthy_after": 3,
        "healthy_after": 2 }"#;
    let (t, _, rec) = run_with_faults(
        &api_model("round_robin", Some(hc), None),
        &kill_b("host_down"),
        7,
        40,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    let detection = only_time(&rec, StateChange::Ejected { instance: b }) - KILL_AT;
    eprintln!(
        "timeout = interval: ejected {:.3} s after the kill",
        secs(detection)
    );
    // Probes at 20.333 s, 21.333 s and 22.333 s each time out 1 s later:
    // ejected at 23.333 s, 3.083 s after the kill.
    assert!(
        detection <= HC_INTERVAL * HC_UNHEALTHY + SECOND,
        "{detection}"
    );
}

/// Clients call api directly (3 instances, round robin) and wait for ever.
fn direct_model(restart: Option<&str>) -> String {
    let restart = restart.map_or(String::new(), |r| format!(r#""restart": {r},"#));
    format!(
        r#"{{
            "name": "direct", "zones": ["a", "b", "c"],
            "services": {{
                "api": {{ "workers": 4, "instances": {{ "per_zone": 1 }}, {restart}
                    "endpoints": {{ "get": {{ "work": {{ "exponential": {{ "mean": "20ms" }} }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "api.get", "rate": "150/s" }} }}
        }}"#
    )
}

#[test]
fn a_client_without_a_timeout_hangs_on_a_vanished_host_until_it_is_replaced() {
    // No restart: the requests routed to the vanished host are never
    // answered, neither success nor error. They are still in flight when
    // the run ends.
    let (t, summary, rec) = run_with_faults(&direct_model(None), &kill_b("host_down"), 8, 40, 0);
    let w = entry(&t, "w");
    let all = rows_s(&rec.rows, w, 0, 40);
    let unanswered = sum(&all, |r| r.arrivals) - sum(&all, |r| r.ok) - error_count(&all);
    assert_eq!(error_count(&all), 0);
    // Every request is accounted for: answered in some window or in flight.
    assert_eq!(unanswered, summary.in_flight_at_end);
    let after = sum(&rows_between(&rec.rows, w, KILL_AT, 40 * SECOND), |r| {
        r.arrivals
    });
    eprintln!("vanished host: {unanswered} of ~{after} later arrivals hang");
    assert!(
        (unanswered as f64 / (after as f64 / 3.0) - 1.0).abs() < 0.05,
        "{unanswered} of {after}"
    );

    // With a supervisor that replaces the host 5 s later, the hung
    // connections are reset at that instant: each fails with `refused`.
    let (t, summary, rec) = run_with_faults(
        &direct_model(Some(r#"{ "delay": "5s" }"#)),
        &kill_b("host_down"),
        8,
        40,
        0,
    );
    let w = entry(&t, "w");
    let b = instance_id(&t, "api-b-1");
    let restart = only_time(&rec, StateChange::InstanceRestarting { instance: b });
    assert_eq!(restart, KILL_AT + 5 * SECOND);
    // Boot 0: ready at once.
    assert_eq!(
        only_time(&rec, StateChange::InstanceReady { instance: b }),
        restart
    );
    let refused: Vec<u64> = rows_s(&rec.rows, w, 0, 40)
        .iter()
        .map(|r| r.errors[ErrorClass::Refused as usize])
        .collect();
    let burst = refused[25];
    eprintln!("replaced host: {burst} hung requests reset at 25.25 s");
    assert_eq!(refused.iter().sum::<u64>(), burst, "{refused:?}");
    assert!(
        (burst as f64 / (5.0 * 150.0 / 3.0) - 1.0).abs() < 0.2,
        "{burst}"
    );
    assert!(only_class(
        &all_errors(&rows_s(&rec.rows, w, 0, 40)),
        ErrorClass::Refused
    ));
    assert!(
        summary.in_flight_at_end < 20,
        "{}",
        summary.in_flight_at_end
    );
}

// ----- 5. zone outage ---------------------------------------------------------

/// api behind health checks (probe timeout 300 ms, 2 failures eject, 2
/// successes readmit), clients with a 1 s timeout at 100/s.
fn zone_model(instances: &str) -> String {
    format!(
        r#"{{
            "name": "zones", "zones": ["a", "b", "c"],
            "services": {{
                "api": {{ "workers": 10, "instances": {instances},
                    "load_balancer": {{ "policy": "round_robin", "health_check": {{
                        "interval": "1s", "timeout": "300ms",
                        "unhealthy_after": 2, "healthy_after": 2 }} }},
                    "endpoints": {{ "get": {{ "work": {{ "exponential": {{ "mean": "10ms" }} }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "api.get", "rate": "100/s", "timeout": "1s" }} }}
        }}"#
    )
}

const OUTAGE: &str =
    r#"{ "lose-a": { "kind": "zone_outage", "zone": "a", "at": "20100ms", "for": "20s" } }"#;
const OUTAGE_AT: u64 = 20_100 * MS;
const OUTAGE_END: u64 = 40_100 * MS;

#[test]
fn a_zone_outage_spares_a_service_spread_over_zones() {
    let (t, _, rec) = run_with_faults(&zone_model(r#"{ "per_zone": 1 }"#), OUTAGE, 9, 60, 0);
    let a = instance_id(&t, "api-a-1");
    assert_eq!(
        only_time(
            &rec,
            StateChange::InstanceUnreachable {
                instance: a,
                fault: 0
            }
        ),
        OUTAGE_AT
    );
    assert_eq!(
        only_time(&rec, StateChange::InstanceReachable { instance: a }),
        OUTAGE_END
    );
    // Probes of a vanished host time out: 2 timeouts eject.
    let ejected = only_time(&rec, StateChange::Ejected { instance: a });
    eprintln!(
        "zone outage: ejected {:.3} s after",
        secs(ejected - OUTAGE_AT)
    );
    assert!(ejected - OUTAGE_AT <= 3 * SECOND + 300 * MS);
    assert!(ejected - OUTAGE_AT >= SECOND + 300 * MS);
    let readmitted = only_time(&rec, StateChange::Readmitted { instance: a });
    assert!(readmitted > OUTAGE_END && readmitted <= OUTAGE_END + 2 * SECOND);
    assert_eq!(count(&rec, |c| matches!(c, StateChange::Ejected { .. })), 1);

    let w = entry(&t, "w");
    // Until the ejection, a third of the requests hang on the lost zone and
    // their clients time out 1 s later.
    let exposed = rows_between(&rec.rows, w, OUTAGE_AT, ejected + SECOND);
    assert!(errors(&exposed, ErrorClass::Timeout) > 20);
    assert!(only_class(&all_errors(&exposed), ErrorClass::Timeout));
    // After it, two zones serve everything, through the outage and after.
    let served = rows_s(&rec.rows, w, ceil_s(ejected + SECOND), 60);
    assert_eq!(availability(&served), 1.0, "{:?}", all_errors(&served));
    assert!(sum(&served, |r| r.ok) > 30 * 90);
    assert_eq!(availability(&rows_s(&rec.rows, w, 0, 20)), 1.0);
}

#[test]
fn a_zone_outage_takes_down_a_service_placed_in_that_zone() {
    let (t, _, rec) = run_with_faults(
        &zone_model(r#"{ "placement": { "a": 3 } }"#),
        OUTAGE,
        10,
        60,
        0,
    );
    let w = entry(&t, "w");
    let names = ["api-a-1", "api-a-2", "api-a-3"];
    let mut last_ejected = 0;
    let mut last_readmitted = 0;
    for name in names {
        let i = instance_id(&t, name);
        assert_eq!(
            only_time(
                &rec,
                StateChange::InstanceUnreachable {
                    instance: i,
                    fault: 0
                }
            ),
            OUTAGE_AT
        );
        assert_eq!(
            only_time(&rec, StateChange::InstanceReachable { instance: i }),
            OUTAGE_END
        );
        last_ejected = last_ejected.max(only_time(&rec, StateChange::Ejected { instance: i }));
        last_readmitted =
            last_readmitted.max(only_time(&rec, StateChange::Readmitted { instance: i }));
    }
    eprintln!(
        "one zone: all ejected by {:.3} s, all readmitted by {:.3} s",
        secs(last_ejected),
        secs(last_readmitted)
    );
    assert!(last_ejected - OUTAGE_AT <= 3 * SECOND + 300 * MS);
    assert!(last_readmitted > OUTAGE_END && last_readmitted <= OUTAGE_END + 2 * SECOND);

    // During the outage nothing succeeds: requests time out while the
    // balancer still routes to the lost zone, then meet no instance at all.
    let out = rows_between(&rec.rows, w, OUTAGE_AT + SECOND, OUTAGE_END);
    assert_eq!(availability(&out), 0.0, "{:?}", all_errors(&out));
    let errs = all_errors(&out);
    assert!(errs[ErrorClass::Timeout as usize] > 50, "{errs:?}");
    assert!(
        errs[ErrorClass::NoHealthyInstance as usize] > 1500,
        "{errs:?}"
    );
    assert_eq!(
        errs[ErrorClass::Timeout as usize] + errs[ErrorClass::NoHealthyInstance as usize],
        error_count(&out)
    );
    // Once all are ejected, every request fails at once with
    // `no_healthy_instance`, until they are readmitted.
    let none = rows_between(&rec.rows, w, last_ejected + SECOND, OUTAGE_END);
    assert_eq!(
        errors(&none, ErrorClass::NoHealthyInstance),
        sum(&none, |r| r.arrivals)
    );
    // After the outage the zone boots and serves again.
    let back = rows_s(&rec.rows, w, ceil_s(last_readmitted), 60);
    assert_eq!(availability(&back), 1.0, "{:?}", all_errors(&back));
    assert!(sum(&back, |r| r.ok) > 15 * 90);
}

#[test]
fn a_zone_coming_back_boots_its_instances() {
    // No health checks, clients without a timeout, a supervisor whose
    // processes take 3 s to boot. While zone b is out, a third of the
    // requests hang; when it comes back (15 s) the hung connections are
    // reset (`refused`), the host boots and refuses until it is ready
    // (18 s), then serves.
    let faults =
        r#"{ "lose-b": { "kind": "zone_outage", "zone": "b", "at": "10s", "for": "5s" } }"#;
    let (t, summary, rec) = run_with_faults(
        &direct_model(Some(r#"{ "delay": "1s", "boot": "3s" }"#)),
        faults,
        21,
        30,
        0,
    );
    let b = instance_id(&t, "api-b-1");
    assert_eq!(
        only_time(&rec, StateChange::InstanceReachable { instance: b }),
        15 * SECOND
    );
    assert_eq!(
        only_time(&rec, StateChange::InstanceReady { instance: b }),
        18 * SECOND
    );
    // A zone coming back is not a restart by the supervisor.
    assert_eq!(
        count(&rec, |c| matches!(
            c,
            StateChange::InstanceRestarting { .. }
        )),
        0
    );
    let w = entry(&t, "w");
    let out = rows_s(&rec.rows, w, 10, 15);
    assert_eq!(error_count(&out), 0, "the hung requests are not answered");
    let reset = rows_s(&rec.rows, w, 15, 16)[0].errors[ErrorClass::Refused as usize];
    let booting = rows_s(&rec.rows, w, 16, 18);
    let refused = share(&booting, ErrorClass::Refused);
    eprintln!("zone back: {reset} hung requests reset, refused share while booting {refused:.3}");
    assert!(
        (reset as f64 / (5.0 * 150.0 / 3.0) - 1.0).abs() < 0.2,
        "{reset}"
    );
    assert!((refused - 1.0 / 3.0).abs() < 0.01, "{refused}");
    assert_eq!(error_count(&rows_s(&rec.rows, w, 18, 30)), 0);
    assert!(summary.in_flight_at_end < 20);
}

// ----- 6. latency fault -------------------------------------------------------

/// front (1 ms) calls db.query (constant 5 ms); unlimited workers, 50/s.
fn db_model(call_timeout: Option<&str>) -> String {
    let timeout = call_timeout.map_or(String::new(), |t| format!(r#", "timeout": "{t}""#));
    format!(
        r#"{{
            "name": "db", "zones": ["z"],
            "services": {{
                "front": {{ "workers": 10000, "endpoints": {{ "get": {{
                    "work": {{ "constant": "1ms" }},
                    "calls": {{ "q": {{ "to": "db.query"{timeout} }} }} }} }} }},
                "db": {{ "kind": "database", "workers": 10000, "endpoints": {{
                    "query": {{ "work": {{ "constant": "5ms" }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "front.get", "rate": "50/s" }} }}
        }}"#
    )
}

const SLOW_DB: &str = r#"{ "slow": { "kind": "latency", "target": "db.query",
    "add": { "constant": "1000ms" }, "at": "20s", "for": "10s" } }"#;

#[test]
fn a_latency_fault_slows_the_callers_while_it_lasts() {
    let (t, _, rec) = run_with_faults(&db_model(None), SLOW_DB, 11, 45, 0);
    let w = entry(&t, "w");
    let base = mean_latency(&rows_s(&rec.rows, w, 2, 20));
    let slow = mean_latency(&rows_s(&rec.rows, w, 21, 30));
    let after = mean_latency(&rows_s(&rec.rows, w, 31, 45));
    eprintln!(
        "latency: before {:.2} ms, during {:.2} ms, after {:.2} ms",
        ms(base),
        ms(slow),
        ms(after)
    );
    // Constant work: exactly 6 ms, then exactly 1006 ms for every request
    // whose db work started during the fault, then 6 ms again.
    assert!((ms(base) - 6.0).abs() < 1e-6);
    assert!((ms(slow) - 1006.0).abs() < 1e-6);
    assert!((ms(after) - 6.0).abs() < 1e-6);
    assert_eq!(
        error_count(&rows_s(&rec.rows, w, 0, 45)),
        0,
        "no timeouts: nothing fails"
    );
    let db = rows_s(&rec.rows, endpoint(&t, "db.query"), 21, 30);
    assert!(
        db.iter()
            .all(|r| r.latency.max >= 1000 * MS && r.latency.max < 1010 * MS)
    );

    // With a 300 ms timeout on the call, the front gives up on every call
    // made during the fault: `timeout`, 301 ms after arrival.
    let (t, _, rec) = run_with_faults(&db_model(Some("300ms")), SLOW_DB, 11, 45, 0);
    let w = entry(&t, "w");
    let during = rows_s(&rec.rows, w, 21, 30);
    assert_eq!(sum(&during, |r| r.ok), 0);
    assert_eq!(
        errors(&during, ErrorClass::Timeout),
        error_count(&during),
        "{:?}",
        all_errors(&during)
    );
    let failed = errors(&during, ErrorClass::Timeout);
    eprintln!("latency with 300 ms timeout: {failed} timeouts in 9 s");
    assert!(failed > 9 * 40);
    // Outside the fault, no failures and the baseline latency.
    let calm = [
        rows_s(&rec.rows, w, 0, 20),
        rows_between(&rec.rows, w, 30 * SECOND + 301 * MS, 45 * SECOND),
    ];
    for rows in &calm {
        assert_eq!(error_count(rows), 0);
        assert!((ms(mean_latency(rows)) - 6.0).abs() < 1e-6);
    }
    let recovered = rows_s(&rec.rows, w, 31, 45);
    assert_eq!(error_count(&recovered), 0);
    assert!((ms(mean_latency(&recovered)) - 6.0).abs() < 1e-6);
}

/// db with two instances behind round robin, for faults on one instance.
fn two_db_model() -> String {
    r#"{
        "name": "two-db", "zones": ["a", "b"],
        "services": {
            "front": { "workers": 10000, "endpoints": { "get": {
                "work": { "constant": "1ms" },
                "calls": { "q": { "to": "db.query" } } } } },
            "db": { "kind": "database", "workers": 10000, "instances": { "per_zone": 1 },
                "endpoints": { "query": { "work": { "constant": "5ms" } } } }
        },
        "workload": { "w": { "endpoint": "front.get", "rate": "100/s" } }
    }"#
    .to_string()
}

#[test]
fn a_latency_fault_on_one_instance_slows_only_that_instance() {
    // Round robin over db-a-1 and db-b-1; +1 s on db-a-1 only: half the
    // requests take 1006 ms, half 6 ms, so the mean is 506 ms.
    let faults = r#"{ "slow": { "kind": "latency", "target": "db-a-1",
        "add": { "constant": "1000ms" }, "at": "10s", "for": "10s" } }"#;
    let (t, _, rec) = run_with_faults(&two_db_model(), faults, 12, 30, 0);
    let w = entry(&t, "w");
    let during = rows_s(&rec.rows, w, 12, 20);
    let mean = ms(mean_latency(&during));
    eprintln!("latency fault on one instance: mean {mean:.1} ms");
    assert!((mean - 506.0).abs() < 20.0, "mean latency {mean} ms");
}

#[test]
fn an_errors_fault_on_one_instance_fails_only_its_share() {
    let faults = r#"{ "flaky": { "kind": "errors", "target": "db-a-1", "fraction": 1.0,
        "at": "10s", "for": "10s" } }"#;
    let (t, _, rec) = run_with_faults(&two_db_model(), faults, 12, 30, 0);
    let during = rows_s(&rec.rows, endpoint(&t, "db.query"), 11, 20);
    let injected = share(&during, ErrorClass::Injected);
    eprintln!("errors fault on one instance: injected share {injected:.3}");
    assert!((injected - 0.5).abs() < 0.02, "injected share {injected}");
}

// ----- 7. errors fault --------------------------------------------------------

#[test]
fn an_errors_fault_fails_its_share_and_travels_up_as_downstream() {
    // gateway → app → db.query; 30 % of db.query fails from 10 s to 30 s.
    let model = r#"{
        "name": "errors", "zones": ["z"],
        "services": {
            "gateway": { "workers": 10000, "endpoints": { "get": {
                "work": { "constant": "1ms" },
                "calls": { "app": { "to": "app.get" } } } } },
            "app": { "workers": 10000, "endpoints": { "get": {
                "work": { "constant": "2ms" },
                "calls": { "db": { "to": "db.query" } } } } },
            "db": { "kind": "database", "workers": 10000, "endpoints": {
                "query": { "work": { "constant": "3ms" } } } }
        },
        "workload": { "w": { "endpoint": "gateway.get", "rate": "200/s" } }
    }"#;
    let faults = r#"{ "flaky": { "kind": "errors", "target": "db.query", "fraction": 0.3,
        "at": "10s", "for": "20s" } }"#;
    let (t, _, rec) = run_with_faults(model, faults, 13, 40, 0);
    let db = rows_s(&rec.rows, endpoint(&t, "db.query"), 10, 30);
    let injected = share(&db, ErrorClass::Injected);
    eprintln!(
        "errors fault: injected share {injected:.4} of {} calls",
        sum(&db, |r| r.arrivals)
    );
    // ~4000 calls: σ of the share ≈ 0.007.
    assert!((injected - 0.3).abs() < 0.03, "{injected}");
    assert!(only_class(&all_errors(&db), ErrorClass::Injected));
    let n = errors(&db, ErrorClass::Injected);

    // The direct caller's call sees the injected error itself (as it would
    // a refusal); everyone above sees that a callee failed: `downstream`.
    // The failure travels up at once, so even window by window the counts
    // agree.
    let app = rows_s(&rec.rows, endpoint(&t, "app.get"), 0, 40);
    let gateway = rows_s(&rec.rows, endpoint(&t, "gateway.get"), 0, 40);
    let w = rows_s(&rec.rows, entry(&t, "w"), 0, 40);
    let db_all = rows_s(&rec.rows, endpoint(&t, "db.query"), 0, 40);
    for (k, r) in db_all.iter().enumerate() {
        let e = r.errors[ErrorClass::Injected as usize];
        assert_eq!(
            app[k].errors[ErrorClass::Injected as usize],
            e,
            "window {k}"
        );
        assert_eq!(
            gateway[k].errors[ErrorClass::Downstream as usize],
            e,
            "window {k}"
        );
        assert_eq!(
            w[k].errors[ErrorClass::Downstream as usize],
            e,
            "window {k}"
        );
    }
    assert!(only_class(&all_errors(&app), ErrorClass::Injected));
    assert!(only_class(&all_errors(&gateway), ErrorClass::Downstream));
    assert!(only_class(&all_errors(&w), ErrorClass::Downstream));
    assert_eq!(errors(&w, ErrorClass::Downstream), n);
    // Injected errors are answered at once: the db does no work for them.
    let db_ok = sum(&db, |r| r.ok);
    assert!(db_ok + n + 5 >= sum(&db, |r| r.arrivals));
    // Outside the fault: nothing fails.
    assert_eq!(error_count(&rows_s(&rec.rows, entry(&t, "w"), 0, 10)), 0);
    assert_eq!(error_count(&rows_s(&rec.rows, entry(&t, "w"), 30, 40)), 0);
}

// ----- 8. CPU stress ----------------------------------------------------------

fn cpu_model() -> String {
    r#"{
        "name": "cpu", "zones": ["a", "b"],
        "services": {
            "s": { "workers": 50, "instances": { "per_zone": 1 },
                "endpoints": { "e": { "work": { "constant": "10ms" } } } }
        },
        "workload": { "w": { "endpoint": "s.e", "rate": "100/s" } }
    }"#
    .to_string()
}

fn cpu_fault(target: &str) -> String {
    format!(
        r#"{{ "hot": {{ "kind": "cpu_stress", "target": "{target}", "factor": 3,
            "at": "20s", "for": "20s" }} }}"#
    )
}

#[test]
fn cpu_stress_multiplies_work_times_while_it_lasts() {
    let (t, _, rec) = run_with_faults(&cpu_model(), &cpu_fault("s"), 14, 60, 0);
    let s = service(&t, "s");
    // Busy per request started: exactly the work time, 10 ms then 30 ms.
    let holding = |from: u64, to: u64| {
        let rows = rows_s(&rec.rows, s, from, to);
        let started = sum(&rows_s(&rec.rows, endpoint(&t, "s.e"), from, to), |r| {
            r.arrivals
        });
        mean_level(&rows, |r| r.busy.0) * rows.len() as f64 / started as f64
    };
    let (before, during, after) = (holding(2, 20), holding(21, 40), holding(41, 60));
    eprintln!(
        "cpu stress ×3: busy per request {:.2} / {:.2} / {:.2} ms",
        before * 1e3,
        during * 1e3,
        after * 1e3
    );
    assert!((before - 0.010).abs() < 0.0005, "{before}");
    assert!((during - 0.030).abs() < 0.0015, "{during}");
    assert!((after - 0.010).abs() < 0.0005, "{after}");
    let busy = |from, to| mean_level(&rows_s(&rec.rows, s, from, to), |r| r.busy.0);
    let ratio = busy(21, 40) / busy(2, 20);
    eprintln!("cpu stress ×3: busy time-average ratio {ratio:.3}");
    assert!((ratio - 3.0).abs() < 0.3, "{ratio}");
    assert!((busy(41, 60) / busy(2, 20) - 1.0).abs() < 0.15);
    // Latency follows exactly (no queueing with workers to spare).
    let w = entry(&t, "w");
    assert!((ms(mean_latency(&rows_s(&rec.rows, w, 21, 40))) - 30.0).abs() < 1e-6);
    assert!((ms(mean_latency(&rows_s(&rec.rows, w, 41, 60))) - 10.0).abs() < 1e-6);

    // On one instance of two (round robin): half the requests take 30 ms.
    let (t, _, rec) = run_with_faults(&cpu_model(), &cpu_fault("s-a-1"), 14, 60, 0);
    let mean = ms(mean_latency(&rows_s(&rec.rows, entry(&t, "w"), 21, 40)));
    eprintln!("cpu stress on one instance: mean latency {mean:.2} ms");
    assert!((mean - 20.0).abs() < 0.1, "{mean}");
}

#[test]
fn overlapping_faults_compose() {
    // Two latency faults on db.query add up where they overlap; two CPU
    // stresses on front multiply, and the factor comes back to exactly 1.
    let faults = r#"{
        "slow-1": { "kind": "latency", "target": "db.query", "add": { "constant": "100ms" },
                    "at": "10s", "for": "10s" },
        "slow-2": { "kind": "latency", "target": "db", "add": { "constant": "200ms" },
                    "at": "15s", "for": "10s" },
        "hot-1":  { "kind": "cpu_stress", "target": "front", "factor": 2,
                    "at": "30s", "for": "10s" },
        "hot-2":  { "kind": "cpu_stress", "target": "front", "factor": 3,
                    "at": "35s", "for": "10s" }
    }"#;
    let (t, _, rec) = run_with_faults(&db_model(None), faults, 22, 50, 0);
    let w = entry(&t, "w");
    let latency = |from, to| ms(mean_latency(&rows_s(&rec.rows, w, from, to)));
    let expected = [
        ((2, 10), 6.0),
        ((11, 15), 106.0),
        ((16, 20), 306.0),
        ((21, 25), 206.0),
        ((26, 30), 6.0),
        ((30, 35), 7.0),
        ((35, 40), 11.0),
        ((40, 45), 8.0),
        ((45, 50), 6.0),
    ];
    for ((from, to), want) in expected {
        let got = latency(from, to);
        eprintln!("overlap [{from}, {to}) s: {got:.3} ms");
        assert!(
            (got - want).abs() < 1e-6,
            "[{from}, {to}): {got} ms, not {want}"
        );
    }
}

// ----- 9. deep vs shallow health checks ---------------------------------------

/// api (3 instances) serves `get` without the db; its `health` endpoint
/// may call db.ping (a deep check).
fn health_model(deep: bool) -> String {
    let endpoint = if deep {
        r#", "endpoint": "health""#
    } else {
        ""
    };
    format!(
        r#"{{
            "name": "health", "zones": ["a", "b", "c"],
            "services": {{
                "api": {{ "workers": 20, "instances": {{ "per_zone": 1 }},
                    "load_balancer": {{ "policy": "round_robin", "health_check": {{
                        "interval": "1s", "timeout": "500ms",
                        "unhealthy_after": 2, "healthy_after": 2{endpoint} }} }},
                    "endpoints": {{
                        "get": {{ "work": {{ "constant": "2ms" }} }},
                        "health": {{ "work": {{ "constant": "1ms" }},
                            "calls": {{ "db": {{ "to": "db.ping" }} }} }} }} }},
                "db": {{ "kind": "database", "workers": 10, "endpoints": {{
                    "ping": {{ "work": {{ "constant": "1ms" }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "api.get", "rate": "100/s" }} }}
        }}"#
    )
}

const KILL_DB: &str = r#"{ "db-dies": { "kind": "instance_kill", "target": "db", "at": "20s" } }"#;
const SLOW_PING: &str = r#"{ "db-slow": { "kind": "latency", "target": "db",
    "add": { "constant": "2s" }, "at": "20s", "for": "15s" } }"#;

#[test]
fn a_deep_health_check_ejects_every_instance_when_the_database_dies() {
    let (t, _, rec) = run_with_faults(&health_model(true), KILL_DB, 15, 45, 0);
    let w = entry(&t, "w");
    assert_eq!(error_count(&rows_s(&rec.rows, w, 0, 20)), 0);
    // api.get never touches the db, yet every api instance fails its probe
    // (the probe's call is refused) and is ejected.
    let ejections = times(&rec, |c| matches!(c, StateChange::Ejected { .. }));
    assert_eq!(ejections.len(), 3, "{ejections:?}");
    let last = *ejections.iter().max().unwrap();
    eprintln!(
        "deep check, db dead: all api ejected by {:.3} s",
        secs(last)
    );
    assert!(
        ejections
            .iter()
            .all(|e| *e > 20 * SECOND && *e <= 23 * SECOND)
    );
    // From then on nothing is routable: every request fails at once.
    let dark = rows_s(&rec.rows, w, ceil_s(last), 45);
    assert_eq!(sum(&dark, |r| r.ok), 0);
    assert_eq!(
        errors(&dark, ErrorClass::NoHealthyInstance),
        sum(&dark, |r| r.arrivals)
    );

    // With a shallow check (the process answers), the same db death leaves
    // api.get untouched.
    let (t, _, rec) = run_with_faults(&health_model(false), KILL_DB, 15, 45, 0);
    assert_eq!(count(&rec, |c| matches!(c, StateChange::Ejected { .. })), 0);
    let w = rows_s(&rec.rows, entry(&t, "w"), 0, 45);
    assert_eq!(error_count(&w), 0);
    assert_eq!(availability(&w), 1.0);
}

#[test]
fn a_deep_health_check_ejects_every_instance_while_the_database_is_slow() {
    // The db answers pings 2 s late; the probe times out at 500 ms. Every
    // api instance is ejected until the slowness ends, then readmitted.
    let (t, _, rec) = run_with_faults(&health_model(true), SLOW_PING, 16, 50, 0);
    let w = entry(&t, "w");
    let ejections = times(&rec, |c| matches!(c, StateChange::Ejected { .. }));
    let readmissions = times(&rec, |c| matches!(c, StateChange::Readmitted { .. }));
    assert_eq!(ejections.len(), 3, "{ejections:?}");
    assert_eq!(readmissions.len(), 3, "{readmissions:?}");
    let (last_out, last_in) = (
        *ejections.iter().max().unwrap(),
        *readmissions.iter().max().unwrap(),
    );
    eprintln!(
        "deep check, db slow: ejected by {:.3} s, readmitted by {:.3} s",
        secs(last_out),
        secs(last_in)
    );
    assert!(last_out <= 23 * SECOND + 500 * MS);
    assert!(readmissions.iter().all(|r| *r > 35 * SECOND));
    assert!(last_in <= 35 * SECOND + 2 * SECOND + 2 * SECOND);
    let dark = rows_s(&rec.rows, w, ceil_s(last_out), 35);
    assert_eq!(sum(&dark, |r| r.ok), 0);
    assert_eq!(
        errors(&dark, ErrorClass::NoHealthyInstance),
        sum(&dark, |r| r.arrivals)
    );
    assert_eq!(
        availability(&rows_s(&rec.rows, w, ceil_s(last_in), 50)),
        1.0
    );

    // Shallow: the slow db is invisible to api.get.
    let (t, _, rec) = run_with_faults(&health_model(false), SLOW_PING, 16, 50, 0);
    assert_eq!(count(&rec, |c| matches!(c, StateChange::Ejected { .. })), 0);
    let w = rows_s(&rec.rows, entry(&t, "w"), 0, 50);
    assert_eq!(error_count(&w), 0);
    assert!((ms(mean_latency(&w)) - 2.0).abs() < 1e-6);
}

// ----- 10. fault events -------------------------------------------------------

#[test]
fn every_fault_starts_and_ends_on_the_virtual_clock() {
    let faults = r#"{
        "kill":    { "kind": "instance_kill", "target": "api-a-1", "at": "5s" },
        "slow":    { "kind": "latency", "target": "api.get",
                     "add": { "constant": "10ms" }, "at": "6s", "for": "4s" },
        "flaky":   { "kind": "errors", "target": "api", "fraction": 0.1,
                     "at": "7500ms", "for": "3s" },
        "hot":     { "kind": "cpu_stress", "target": "api", "factor": 2,
                     "at": "8s", "for": "1500ms" },
        "lose-c":  { "kind": "zone_outage", "zone": "c", "at": "12s", "for": "5s" },
        "forever": { "kind": "latency", "target": "front", "add": { "constant": "1ms" },
                     "at": "20s" },
        "too-long": { "kind": "cpu_stress", "target": "front", "factor": 2,
                      "at": "25s", "for": "1h" }
    }"#;
    let (t, _, rec) = run_with_faults(&api_model("round_robin", None, None), faults, 17, 30, 0);
    let spans: [(u64, Option<u64>); 7] = [
        (5_000, None),
        (6_000, Some(10_000)),
        (7_500, Some(10_500)),
        (8_000, Some(9_500)),
        (12_000, Some(17_000)),
        (20_000, None),
        (25_000, None), // ends after the run
    ];
    for (f, (start, end)) in spans.iter().enumerate() {
        let fault = f as u32;
        assert_eq!(
            only_time(&rec, StateChange::FaultStarted { fault }),
            start * MS,
            "fault {f}"
        );
        match end {
            Some(end) => assert_eq!(
                only_time(&rec, StateChange::FaultEnded { fault }),
                end * MS,
                "fault {f}"
            ),
            None => assert_eq!(
                count(&rec, |c| *c == StateChange::FaultEnded { fault }),
                0,
                "fault {f}"
            ),
        }
    }
    let a = instance_id(&t, "api-a-1");
    let c = instance_id(&t, "api-c-1");
    // The kill is an instant: killed when it starts, no end.
    assert_eq!(
        only_time(
            &rec,
            StateChange::InstanceKilled {
                instance: a,
                fault: 0,
                host_down: false
            }
        ),
        5 * SECOND
    );
    // The outage takes the zone's instances away and gives them back.
    assert_eq!(
        only_time(
            &rec,
            StateChange::InstanceUnreachable {
                instance: c,
                fault: 4
            }
        ),
        12 * SECOND
    );
    assert_eq!(
        only_time(&rec, StateChange::InstanceReachable { instance: c }),
        17 * SECOND
    );
    // Each fault-started event precedes the effects of its fault at the
    // same instant.
    let started = rec
        .events
        .iter()
        .position(|e| e.change == StateChange::FaultStarted { fault: 0 })
        .unwrap();
    let killed = rec
        .events
        .iter()
        .position(|e| matches!(e.change, StateChange::InstanceKilled { .. }))
        .unwrap();
    assert!(started < killed);
    // Nothing else happened: no health checks, no restart policy.
    let other = count(&rec, |c| {
        !matches!(
            c,
            StateChange::FaultStarted { .. }
                | StateChange::FaultEnded { .. }
                | StateChange::InstanceKilled { .. }
                | StateChange::InstanceUnreachable { .. }
                | StateChange::InstanceReachable { .. }
                | StateChange::InstanceReady { .. }
        )
    });
    assert_eq!(other, 0, "{:?}", rec.events);
}

// ----- 11. bad fault files ----------------------------------------------------

/// The error message of a scenario with these faults over the api model.
fn rejected(faults: &str) -> String {
    let scenario = format!(
        r#"{{"name": "bad", "model": "test-model.json", "duration": "60s", "seed": 1,
            "faults": {faults}}}"#
    );
    let result = faultline::plan::Plan::from_texts(
        Source {
            path: PathBuf::from("bad-scenario.json"),
            text: scenario,
        },
        Source {
            path: PathBuf::from("test-model.json"),
            text: api_model("round_robin", None, None),
        },
    );
    match result {
        Ok(_) => panic!("faults {faults} were accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_fault_files_are_rejected_with_the_path_and_a_fix() {
    let message =
        rejected(r#"{ "typo": { "kind": "instance_kill", "target": "api-b-l", "at": "10s" } }"#);
    eprintln!("{message}");
    assert!(message.contains("bad-scenario.json"), "{message}");
    assert!(message.contains("faults.typo.target"), "{message}");
    assert!(message.contains("unknown target `api-b-l`"), "{message}");
    assert!(message.contains("did you mean `api-b-1`?"), "{message}");

    let message = rejected(
        r#"{ "typo": { "kind": "latency", "target": "apii.get",
        "add": { "constant": "1s" }, "at": "10s" } }"#,
    );
    assert!(message.contains("faults.typo.target"), "{message}");
    assert!(message.contains("did you mean `api.get`?"), "{message}");

    let message = rejected(r#"{ "out": { "kind": "zone_outage", "zone": "d", "at": "10s" } }"#);
    eprintln!("{message}");
    assert!(message.contains("faults.out.zone"), "{message}");
    assert!(message.contains("unknown zone `d`"), "{message}");
    assert!(message.contains("zones: a, b, c"), "{message}");
    let message = rejected(r#"{ "out": { "kind": "zone_outage", "zone": "bb", "at": "10s" } }"#);
    assert!(message.contains("did you mean `b`?"), "{message}");

    let message = rejected(
        r#"{ "flaky": { "kind": "errors", "target": "api", "fraction": 1.5, "at": "10s" } }"#,
    );
    eprintln!("{message}");
    assert!(message.contains("faults.flaky.fraction"), "{message}");
    assert!(message.contains("1.5"), "{message}");

    let message = rejected(
        r#"{ "massacre": { "kind": "instance_kill", "target": "api", "count": 5, "at": "10s" } }"#,
    );
    eprintln!("{message}");
    assert!(message.contains("faults.massacre.count"), "{message}");
    assert!(
        message.contains("expected 1 to 3 instances to kill, found 5"),
        "{message}"
    );

    // An endpoint is no target for a kill or CPU stress.
    let message =
        rejected(r#"{ "k": { "kind": "instance_kill", "target": "api.get", "at": "10s" } }"#);
    assert!(message.contains("faults.k"), "{message}");
    let message = rejected(
        r#"{ "hot": { "kind": "cpu_stress", "target": "api.get", "factor": 2, "at": "10s" } }"#,
    );
    assert!(message.contains("faults.hot.target"), "{message}");

    // Every problem at once, each at its own path.
    let message = rejected(
        r#"{
            "late": { "kind": "cpu_stress", "target": "api", "factor": 0, "at": "90s" },
            "never": { "kind": "latency", "target": "api", "add": { "constant": "1s" },
                       "at": "10s", "for": "0s" }
        }"#,
    );
    eprintln!("{message}");
    for path in ["faults.late.at", "faults.late.factor", "faults.never.for"] {
        assert!(message.contains(path), "{path}: {message}");
    }
    assert!(message.contains("3 problems found"), "{message}");
}

// ----- 12. determinism and common random numbers ------------------------------

#[test]
fn runs_with_faults_are_deterministic() {
    let faults = r#"{
        "kill":  { "kind": "instance_kill", "target": "api", "mode": "host_down", "at": "5s" },
        "slow":  { "kind": "latency", "target": "api.get",
                   "add": { "exponential": { "mean": "30ms" } }, "at": "8s", "for": "5s" },
        "flaky": { "kind": "errors", "target": "api", "fraction": 0.2, "at": "10s", "for": "5s" },
        "lose":  { "kind": "zone_outage", "zone": "c", "at": "15s", "for": "5s" }
    }"#;
    let model = api_model(
        "power_of_two_choices",
        Some(HC),
        Some(r#"{ "delay": "2s", "boot": "1s" }"#),
    );
    let digest = |seed: u64| -> (String, RunSummary, Recorder) {
        let (_, summary, rec) = run_with_faults(&model, faults, seed, 30, 0);
        (summary.trace_digest.clone(), summary, rec)
    };
    let (d1, s1, r1) = digest(18);
    let (d2, s2, r2) = digest(18);
    assert_eq!(d1, d2);
    assert_eq!(s1.events, s2.events);
    assert_eq!(r1.events, r2.events);
    assert_eq!(s1.entries[0].errors, s2.entries[0].errors);
    assert!(s1.entries[0].error_count() > 0);
    let (d3, _, _) = digest(19);
    assert_ne!(d1, d3);
}

#[test]
fn a_fault_downstream_does_not_move_the_arrival_stream() {
    let arrivals = |faults: &str| -> Vec<u64> {
        let (t, _, rec) = run_with_faults(&db_model(None), faults, 20, 40, 0);
        rows_s(&rec.rows, entry(&t, "w"), 0, 40)
            .iter()
            .map(|r| r.arrivals)
            .collect()
    };
    let calm = arrivals("{}");
    let slow = arrivals(
        r#"{ "slow": { "kind": "latency", "target": "db.query",
            "add": { "exponential": { "mean": "500ms" } }, "at": "10s", "for": "20s" } }"#,
    );
    let flaky = arrivals(
        r#"{ "flaky": { "kind": "errors", "target": "db", "fraction": 0.5,
            "at": "10s", "for": "20s" } }"#,
    );
    assert_eq!(calm.len(), 40);
    assert_eq!(calm, slow);
    assert_eq!(calm, flaky);

    // The faults did change the runs.
    let (t, _, rec) = run_with_faults(
        &db_model(None),
        r#"{ "slow": { "kind": "latency", "target": "db.query",
            "add": { "exponential": { "mean": "500ms" } }, "at": "10s", "for": "20s" } }"#,
        20,
        40,
        0,
    );
    assert!(mean_latency(&rows_s(&rec.rows, entry(&t, "w"), 12, 30)) > 300.0 * MS as f64);
}

// ----- a lossy link ---------------------------------------------------------

#[test]
fn a_lossy_link_drops_its_share_of_calls_and_retries_win_them_back() {
    // 10 % of the calls from front to back are lost for a minute: each
    // hangs until the 100 ms timeout. Without retries a tenth of requests
    // fail; with three attempts, about 0.1^3 of them.
    let model = |retry: &str| {
        format!(
            r#"{{
            "name": "lossy", "zones": ["z"],
            "services": {{
                "front": {{ "workers": 200, "endpoints": {{ "op": {{ "work": {{ "constant": "1ms" }},
                    "calls": {{ "c": {{ "to": "back.op", "timeout": "100ms" {retry} }} }} }} }} }},
                "back": {{ "workers": 200, "endpoints": {{ "op": {{ "work": {{ "constant": "2ms" }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "front.op", "rate": "500/s" }} }}
        }}"#
        )
    };
    let faults = r#"{"lossy": {"kind": "network_partition", "between": [["front"], ["back"]],
                                "mode": "drop", "share": 0.1, "at": "10s", "for": "60s"}}"#;
    let failed_share = |retry: &str| {
        let (t, _, rec) = run_with_faults(&model(retry), faults, 2, 70, 10);
        let rows = rows_s(&rec.rows, entry(&t, "w"), 11, 70);
        1.0 - availability(&rows)
    };
    let once = failed_share("");
    assert!((once - 0.1).abs() < 0.01, "without retries {once}");
    let thrice = failed_share(r#", "retry": { "max_attempts": 3 }"#);
    assert!(thrice < 0.003, "with three attempts {thrice}");
    // A share of 1 (the default) is the cut link of before.
    let (t, _, rec) = run_with_faults(
        &model(""),
        &faults.replace(r#""share": 0.1, "#, ""),
        2,
        70,
        10,
    );
    assert_eq!(
        availability(&rows_s(&rec.rows, entry(&t, "w"), 11, 70)),
        0.0
    );
}

/// front calls back (two instances behind a health-checked balancer) with
/// a 500 ms timeout; back's balancer is down from 20 to 30 s.
fn balancer_out(mode: &str) -> (Topology, RunSummary, Recorder) {
    let model = r#"{
        "name": "lb", "zones": ["z"],
        "services": {
            "front": { "workers": 500, "queue": 0,
                "endpoints": { "e": { "work": { "constant": "1ms" },
                    "calls": { "c": { "to": "back.e", "timeout": "500ms" } } } } },
            "back": { "instances": { "per_zone": 2 }, "workers": 50,
                "load_balancer": { "health_check": { "interval": "1s", "timeout": "200ms",
                                   "unhealthy_after": 2, "healthy_after": 1 } },
                "endpoints": { "e": { "work": { "constant": "5ms" } } } }
        },
        "workload": { "w": { "endpoint": "front.e", "rate": "100/s" } }
    }"#;
    let faults = format!(
        r#"{{ "lb": {{ "kind": "load_balancer_outage", "target": "back", "mode": "{mode}", "at": "20s", "for": "10s" }} }}"#
    );
    run_with_faults(model, &faults, 7, 40, 5)
}

#[test]
fn a_load_balancer_outage_stops_what_passes_through_it_and_nothing_else() {
    for (mode, class) in [
        ("drop", ErrorClass::Timeout),
        ("refuse", ErrorClass::Refused),
    ] {
        let (t, summary, rec) = balancer_out(mode);
        let back = service(&t, "back");
        let during: u64 = rec
            .rows
            .iter()
            .filter(|r| {
                r.component == back && r.window_start >= 20 * SECOND && r.window_start < 30 * SECOND
            })
            .map(|r| r.arrivals)
            .sum();
        // Nothing reaches the instances, which are fine: no ejection, since
        // the balancer's probes paused with it.
        assert_eq!(during, 0, "{mode}");
        assert!(
            !rec.events.iter().any(|e| e.change.name() == "ejected"),
            "{mode}"
        );
        // Every request of those ten seconds fails the way the mode says,
        // and none before or after.
        let entry = &summary.entries[0];
        let failed = entry.errors[class as usize];
        assert!((900..=1100).contains(&failed), "{mode}: {failed} failed");
        assert_eq!(entry.error_count(), failed, "{mode}");
    }
}
