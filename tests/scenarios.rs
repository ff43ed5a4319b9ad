//! The classic experiments, run from the shipped scenario files: the
//! outcomes the chaos-engineering literature teaches must come out of the
//! mechanisms. A mitigation is the shipped model with one change, applied
//! here the way a variant will patch it.

use serde_json::{Value, json};

use crate::common::*;
use faultline::base::ErrorClass;
use faultline::observe::Recorder;
use faultline::observe::events::StateChange;
use faultline::observe::metrics::Row;
use faultline::sim::{RunSummary, simulate};
use faultline::topology::Component;
use faultline::topology::Topology;

struct Run {
    topology: Topology,
    summary: RunSummary,
    recorder: Recorder,
}

/// Runs a shipped scenario, with `patch` applied to its model first.
fn run_shipped(scenario: &str, patch: impl FnOnce(&mut Value)) -> Run {
    run_plan(shipped_plan(scenario, patch, |_| {}))
}

fn run_plan(plan: faultline::plan::Plan) -> Run {
    let (summary, recorder) = simulate(
        &plan.topology,
        &plan.faults,
        plan.config,
        Recorder::default(),
    );
    Run {
        topology: plan.topology,
        summary,
        recorder,
    }
}

impl Run {
    fn entry_rows(&self) -> Vec<&Row> {
        self.recorder
            .rows
            .iter()
            .filter(|r| r.component == Component::Entry(0))
            .collect()
    }

    /// Entry error rate over the windows in [from_s, to_s).
    fn error_rate(&self, from_s: u64, to_s: u64) -> f64 {
        let rows: Vec<&Row> = self
            .entry_rows()
            .into_iter()
            .filter(|r| r.window_start >= from_s * SECOND && r.window_start < to_s * SECOND)
            .collect();
        let errors: u64 = rows.iter().map(|r| r.errors.iter().sum::<u64>()).sum();
        let finished: u64 = rows.iter().map(|r| r.ok).sum::<u64>() + errors;
        errors as f64 / finished.max(1) as f64
    }

    fn p99_ms(&self, from_s: u64, to_s: u64) -> f64 {
        self.entry_rows()
            .into_iter()
            .filter(|r| r.window_start >= from_s * SECOND && r.window_start < to_s * SECOND)
            .map(|r| r.latency.p99 as f64 / 1e6)
            .fold(0.0, f64::max)
    }

    fn first_event(&self, wanted: impl Fn(&StateChange) -> bool) -> Option<f64> {
        self.recorder
            .events
            .iter()
            .find(|e| wanted(&e.change))
            .map(|e| e.time as f64 / 1e9)
    }

    fn instance(&self, name: &str) -> u32 {
        self.topology
            .instances
            .iter()
            .position(|i| i.name == name)
            .unwrap() as u32
    }
}

// ----- 1. kill one of several app servers ------------------------------------

#[test]
fn a_killed_app_server_is_ejected_restarted_and_readmitted() {
    let run = run_shipped("kill-app-server.json", |_| {});
    let victim = run.instance("app-az-a-1");
    let killed = run
        .first_event(
            |c| matches!(c, StateChange::InstanceKilled { instance, .. } if *instance == victim),
        )
        .unwrap();
    let ejected = run
        .first_event(|c| *c == StateChange::Ejected { instance: victim })
        .unwrap();
    // Probes every 2 s, ejected after 2 failures: at most interval ×
    // threshold after the kill (plus the probe phase, under one interval).
    assert!(
        ejected - killed <= 2.0 * 2.0 + 2.0,
        "ejected {:.3} s after the kill",
        ejected - killed
    );
    // Before the ejection the balancer still routes to the dead process:
    // users see refused connections, and with least-outstanding far more
    // than a quarter of them, since the corpse always looks idle.
    let during = run.error_rate(60, ejected.ceil() as u64);
    assert!(during > 0.4, "error rate before ejection {during:.3}");
    // After it, three servers carry the load: errors back to zero, p99 up
    // only modestly.
    assert_eq!(run.error_rate(ejected.ceil() as u64 + 1, 180), 0.0);
    let before = run.p99_ms(30, 60);
    let after = run.p99_ms(ejected.ceil() as u64 + 1, 75);
    assert!(
        after < 2.0 * before + 5.0,
        "p99 {before:.1} ms before, {after:.1} ms after"
    );
    // The supervisor restarts it after 15 s, it boots in 10 s, and two good
    // probes readmit it.
    let ready = run
        .first_event(|c| *c == StateChange::InstanceReady { instance: victim })
        .unwrap();
    assert!((ready - (killed + 25.0)).abs() < 1e-6, "ready at {ready}");
    let readmitted = run
        .first_event(|c| *c == StateChange::Readmitted { instance: victim })
        .unwrap();
    assert!(readmitted > ready && readmitted <= ready + 2.0 * 2.0 + 2.0);
    let entry = &run.summary.entries[0];
    assert_eq!(
        entry.errors[ErrorClass::Refused as usize],
        entry.error_count(),
        "every error is a refused connection"
    );
}

#[test]
fn round_robin_spreads_the_damage_of_a_dead_server_instead_of_concentrating_it() {
    let run = run_shipped("kill-app-server.json", |m| {
        m["services"]["app"]["load_balancer"]["policy"] = json!("round_robin");
    });
    let victim = run.instance("app-az-a-1");
    let ejected = run
        .first_event(|c| *c == StateChange::Ejected { instance: victim })
        .unwrap();
    // One server in four: about a quarter of the requests meet it.
    let during = run.error_rate(60, ejected.floor() as u64);
    assert!((0.18..0.32).contains(&during), "error rate {during:.3}");
}

// ----- 5. zone outage ---------------------------------------------------------

#[test]
fn a_three_zone_design_stays_available_when_a_zone_goes_dark() {
    let run = run_shipped("zone-outage.json", |_| {});
    // Requests already on their way to az-b are lost until the probes eject
    // its instances (within ~6 s); from then on, the other zones serve all.
    assert!(
        run.error_rate(70, 180) < 0.001,
        "error rate {}",
        run.error_rate(70, 180)
    );
    assert_eq!(run.error_rate(30, 60), 0.0);
    // After the zone is back its instances are readmitted and serve again.
    let b1 = run.instance("api-az-b-1");
    let back = run
        .first_event(|c| *c == StateChange::InstanceReachable { instance: b1 })
        .unwrap();
    assert!((back - 180.0).abs() < 1e-6);
    let readmitted = run
        .recorder
        .events
        .iter()
        .filter(|e| e.change == StateChange::Readmitted { instance: b1 })
        .map(|e| e.time as f64 / 1e9)
        .find(|t| *t >= back)
        .expect("readmitted after the outage");
    assert!(readmitted <= back + 6.0);
    assert!(run.error_rate(190, 240) < 0.001);
    // Clients give up after 5 s: the requests that hung on az-b count as
    // timeouts then, not as a burst of resets when the zone returns.
    let late = run.error_rate(70, 240);
    assert!(late < 0.001, "error rate {late:.4} from 70 s on");
    let entry = &run.summary.entries[0];
    assert!(entry.errors[ErrorClass::Timeout as usize] > 100);
    assert_eq!(entry.errors[ErrorClass::Refused as usize], 0);
}

#[test]
fn a_client_timeout_counts_the_failure_while_the_server_works_on() {
    let model = r#"{"name": "m", "zones": ["z"],
        "services": {"slow": {"workers": 100, "queue": 10,
            "endpoints": {"op": {"work": {"constant": "500ms"}}}}},
        "workload": {"w": {"endpoint": "slow.op", "rate": "20/s", "timeout": "100ms"}}}"#;
    let (_, summary, rec) = run_with_faults(model, "{}", 1, 30, 5);
    let entry = &summary.entries[0];
    assert_eq!(entry.ok, 0);
    assert_eq!(
        entry.error_count(),
        entry.errors[ErrorClass::Timeout as usize]
    );
    assert!(entry.error_count() > 400);
    // The server finished every request its clients abandoned.
    let served: u64 = rec
        .rows
        .iter()
        .filter(|r| r.component == Component::Endpoint(0) && r.window_start >= 5 * SECOND)
        .map(|r| r.ok)
        .sum();
    assert!(
        (served as i64 - entry.error_count() as i64).abs() < 30,
        "{served} served"
    );
}

#[test]
fn an_all_in_one_zone_design_fails_completely_when_that_zone_goes_dark() {
    let run = run_shipped("zone-outage.json", |m| {
        for service in ["api", "store"] {
            m["services"][service]["instances"] = json!({ "placement": { "az-b": 3 } });
        }
    });
    assert_eq!(run.error_rate(30, 60), 0.0);
    assert_eq!(
        run.error_rate(61, 180),
        1.0,
        "nothing answers while az-b is out"
    );
    // Once every instance is ejected, the balancer has nowhere to send.
    let entry = &run.summary.entries[0];
    assert!(entry.errors[ErrorClass::NoHealthyInstance as usize] > 50_000);
}

// ----- 7. retry storm -----------------------------------------------------------

#[test]
fn immediate_retries_keep_the_database_down_after_the_trigger_is_gone() {
    let run = run_shipped("retry-storm.json", |_| {});
    // Healthy before the 20 s slowdown at 60 s...
    assert_eq!(run.error_rate(30, 60), 0.0);
    // ...and still failing two and a half minutes after it ended: the
    // retries of requests that time out are more load than the database can
    // drain, so the queue stays full and every attempt times out (a
    // metastable failure).
    let after = run.error_rate(100, 240);
    assert!(after > 0.95, "error rate long after the trigger {after:.3}");
    let db = run
        .topology
        .services
        .iter()
        .position(|s| s.name == "db")
        .unwrap() as u32;
    let late: Vec<&Row> = run
        .recorder
        .rows
        .iter()
        .filter(|r| r.component == Component::Service(db) && r.window_start >= 200 * SECOND)
        .collect();
    let arrivals: u64 = late.iter().map(|r| r.arrivals).sum();
    // 700 requests/s arrive but the database sees about four times that.
    assert!(arrivals as f64 / late.len() as f64 > 2000.0);
}

#[test]
fn backoff_jitter_and_a_budget_let_the_database_recover() {
    let run = run_shipped("retry-storm.json", |m| {
        m["services"]["api"]["endpoints"]["handle"]["calls"]["query"]["retry"] = json!({
            "max_attempts": 4, "backoff": "50ms", "max_backoff": "2s",
            "jitter": "full", "budget": { "ratio": 0.1 }
        });
    });
    assert_eq!(run.error_rate(30, 60), 0.0);
    // Recovered within seconds of the trigger's end at 80 s.
    let after = run.error_rate(100, 240);
    assert!(after < 0.001, "error rate after recovery {after:.4}");
}

// ----- 2. slow database -------------------------------------------------------

fn entry_error_rate(run: &Run, workload: u32, from_s: u64, to_s: u64) -> f64 {
    let rows: Vec<&Row> = run
        .recorder
        .rows
        .iter()
        .filter(|r| {
            r.component == Component::Entry(workload)
                && r.window_start >= from_s * SECOND
                && r.window_start < to_s * SECOND
        })
        .collect();
    let errors: u64 = rows.iter().map(|r| r.errors.iter().sum::<u64>()).sum();
    let finished: u64 = rows.iter().map(|r| r.ok).sum::<u64>() + errors;
    errors as f64 / finished.max(1) as f64
}

#[test]
fn a_slow_database_with_long_timeouts_takes_down_pages_that_never_touch_it() {
    let run = run_shipped("slow-database.json", |_| {});
    let product = 0; // workload order in the model: product, checkout
    let checkout = 1;
    assert_eq!(entry_error_rate(&run, product, 30, 60), 0.0);
    // The cascade, in order: the database slows, the orders pool to it runs
    // dry, then the gateway's workers (held by waiting checkouts) run out
    // and it turns everything away — product pages included.
    let pool = run
        .first_event(|c| matches!(c, StateChange::PoolExhausted { .. }))
        .unwrap();
    let gateway_full = run
        .first_event(|c| matches!(c, StateChange::QueueFull { .. }))
        .unwrap();
    assert!(
        60.0 < pool && pool < gateway_full && gateway_full < 70.0,
        "{pool} {gateway_full}"
    );
    let product_errors = entry_error_rate(&run, product, 70, 180);
    assert!(
        product_errors > 0.5,
        "product pages failing: {product_errors:.3}"
    );
    assert!(entry_error_rate(&run, checkout, 70, 180) > 0.5);
    // The orders service's shallow health check (the process answers) keeps
    // passing: nothing is ejected, the balancer is not the problem.
    assert!(
        run.first_event(|c| matches!(c, StateChange::Ejected { .. }))
            .is_none()
    );
    // It heals when the database does.
    assert_eq!(entry_error_rate(&run, product, 185, 240), 0.0);
}

#[test]
fn query_timeouts_and_a_breaker_keep_the_pages_that_do_not_need_the_database() {
    let run = run_shipped("slow-database.json", |m| {
        let write = &mut m["services"]["orders"]["endpoints"]["place"]["calls"]["write"];
        write["timeout"] = json!("300ms");
        write["circuit_breaker"] = json!({ "failure_rate": 0.5, "window": 20, "open_for": "5s" });
        m["services"]["gateway"]["endpoints"]["checkout"]["calls"]["place"]["timeout"] =
            json!("1s");
    });
    let (product, checkout) = (0, 1);
    // Product pages never notice.
    assert_eq!(entry_error_rate(&run, product, 30, 240), 0.0);
    assert!(run.p99_ms(60, 180) < 50.0);
    // Checkouts fail during the slowdown — fast, mostly without even
    // reaching the database, because the breakers are open.
    assert!(entry_error_rate(&run, checkout, 62, 180) > 0.99);
    assert!(
        run.first_event(|c| matches!(c, StateChange::BreakerOpened { .. }))
            .is_some()
    );
    let place = endpoint(&run.topology, "orders.place");
    let rows: Vec<&Row> = run
        .recorder
        .rows
        .iter()
        .filter(|r| r.component == place)
        .collect();
    let unsent = errors(&rows, ErrorClass::CircuitOpen);
    let timed_out = errors(&rows, ErrorClass::Timeout);
    assert!(
        unsent > 5 * timed_out,
        "{unsent} unsent, {timed_out} timed out"
    );
    // And the breakers let checkouts through again once the database is
    // back.
    assert_eq!(entry_error_rate(&run, checkout, 190, 240), 0.0);
}

#[test]
fn a_degrade_fallback_turns_a_failed_call_into_a_degraded_success() {
    let model = |fallback: &str| {
        format!(
            r#"{{"name": "m", "zones": ["z"],
            "services": {{
              "page": {{"workers": 50, "endpoints": {{"render": {{"work": {{"constant": "1ms"}},
                "calls": {{"recs": {{"to": "recs.top", "timeout": "50ms", "fallback": "{fallback}"}}}}}}}}}},
              "recs": {{"workers": 50, "endpoints": {{"top": {{"work": {{"constant": "2ms"}}}}}}}}}},
            "workload": {{"w": {{"endpoint": "page.render", "rate": "100/s"}}}}}}"#
        )
    };
    let faults = r#"{"recs-down": {"kind": "errors", "target": "recs", "fraction": 1.0, "at": "10s", "for": "10s"}}"#;
    let (_, failing, _) = run_with_faults(&model("fail"), faults, 1, 30, 0);
    let (_, degrading, _) = run_with_faults(&model("degrade"), faults, 1, 30, 0);
    let f = &failing.entries[0];
    let d = &degrading.entries[0];
    // Same traffic; ten seconds of it meet the dead dependency.
    assert_eq!(f.arrivals, d.arrivals);
    assert!(
        (900..1100).contains(&f.error_count()),
        "{}",
        f.error_count()
    );
    assert_eq!(d.error_count(), 0);
    assert_eq!(d.degraded, f.error_count());
}

// ----- 4. network split ---------------------------------------------------------

fn pool_peak(run: &Run, name: &str, from_s: u64, to_s: u64) -> (u64, u64) {
    let g = run
        .topology
        .pool_groups
        .iter()
        .position(|g| {
            format!(
                "{}->{}",
                run.topology.services[g.caller.index()].name,
                run.topology.services[g.callee.index()].name
            ) == name
        })
        .unwrap() as u32;
    run.recorder
        .rows
        .iter()
        .filter(|r| {
            r.component == Component::Pool(g)
                && r.window_start >= from_s * SECOND
                && r.window_start < to_s * SECOND
        })
        .map(|r| (r.in_use.1, r.capacity))
        .max()
        .unwrap()
}

#[test]
fn a_dropping_split_hangs_callers_and_fills_their_pools() {
    let run = run_shipped("network-split.json", |_| {});
    let (browse, checkout) = (0, 1);
    assert_eq!(entry_error_rate(&run, checkout, 30, 60), 0.0);
    // Orders' calls to payment vanish: they hold their connections until
    // the 5 s timeout, so the pools run dry within seconds...
    let (in_use, capacity) = pool_peak(&run, "orders->payment", 61, 120);
    assert_eq!(in_use, capacity);
    // ...and checkouts fail for the length of the split, while browsing,
    // which never needs payment, does not notice.
    assert!(entry_error_rate(&run, checkout, 62, 120) > 0.99);
    assert_eq!(entry_error_rate(&run, browse, 30, 240), 0.0);
    // Healed, it drains: pools back to normal use, checkouts succeed.
    let (after, _) = pool_peak(&run, "orders->payment", 130, 240);
    assert!(after < capacity / 2);
    assert_eq!(entry_error_rate(&run, checkout, 130, 240), 0.0);
}

#[test]
fn a_refusing_split_fails_fast_and_leaves_the_pools_free() {
    // The same split, but the network answers with refusals.
    let model = std::fs::read_to_string(repo().join("models/shop.json")).unwrap();
    let faults = r#"{"split": {"kind": "network_partition", "between": [["orders"], ["payment"]],
                     "mode": "refuse", "at": "60s", "for": "1m"}}"#;
    let (topology, summary, recorder) = run_with_faults(&model, faults, 5, 240, 30);
    let refuse = Run {
        topology,
        summary,
        recorder,
    };
    let (in_use, capacity) = pool_peak(&refuse, "orders->payment", 61, 120);
    assert!(in_use < capacity / 2, "{in_use} of {capacity} in use");
    // Checkouts still fail, but at once: no latency piles up anywhere.
    assert!(entry_error_rate(&refuse, 1, 62, 120) > 0.99);
    let slowest_checkout_window = refuse
        .recorder
        .rows
        .iter()
        .filter(|r| r.component == Component::Entry(1) && r.window_start >= 62 * SECOND)
        .map(|r| r.latency.max)
        .max()
        .unwrap();
    assert!(slowest_checkout_window < 5_000_000_000);
    assert!(refuse.summary.entries[1].errors[ErrorClass::Downstream as usize] > 5000);
}

// ----- chaos monkey ---------------------------------------------------------------

#[test]
fn a_chaos_monkey_kills_at_its_rate_only_inside_its_window() {
    let model = std::fs::read_to_string(repo().join("models/web-tier.json")).unwrap();
    let faults = r#"{"monkey": {"kind": "chaos_monkey", "target": "app", "mean_interval": "20s",
                     "at": "100s", "for": "1000s"}}"#;
    let (topology, _, rec) = run_with_faults(&model, faults, 9, 1300, 0);
    let kills: Vec<f64> = rec
        .events
        .iter()
        .filter(|e| matches!(e.change, StateChange::InstanceKilled { .. }))
        .map(|e| e.time as f64 / 1e9)
        .collect();
    assert!(
        kills.iter().all(|t| (100.0..1100.0).contains(t)),
        "{kills:?}"
    );
    // About 1000 s / 20 s = 50 strikes; a strike finds nobody running only
    // if all four are down at once, which the 25 s restart makes rare.
    assert!((30..=70).contains(&kills.len()), "{} kills", kills.len());
    // Every victim was restarted: the supervisor is what keeps the service
    // alive under the monkey.
    let ready = rec
        .events
        .iter()
        .filter(|e| matches!(e.change, StateChange::InstanceReady { .. }))
        .count();
    assert_eq!(ready, kills.len());
    let app = topology
        .services
        .iter()
        .position(|s| s.name == "app")
        .unwrap();
    assert!(topology.services[app].restart.is_some());
}

// ----- 3. memory leak -----------------------------------------------------------------

#[test]
fn a_memory_leak_ends_in_an_oom_kill_that_takes_its_requests_with_it() {
    let run = run_shipped("memory-leak.json", |_| {});
    let victim = run.instance("api-az-a-1");
    let alert = |percent| {
        run.first_event(|c| {
            *c == StateChange::MemoryAlert {
                instance: victim,
                percent,
            }
        })
        .unwrap()
    };
    let oom = run
        .first_event(|c| *c == StateChange::OomKilled { instance: victim })
        .unwrap();
    // 768 MiB of headroom at 10 MiB/s from 60 s: the limit near 136.8 s
    // (a little sooner: requests in flight hold memory too). The alerts come
    // first, at 75 % and 87 % of the limit.
    assert!(alert(75) < alert(87) && alert(87) < oom);
    assert!((134.0..137.0).contains(&oom), "OOM at {oom:.2} s");
    // The kill fails what it held, and the balancer keeps sending to the
    // dead process until its probes eject it.
    let lost = run.error_rate(136, 141);
    assert!(lost > 0.15, "error rate around the OOM {lost:.3}");
    assert_eq!(run.error_rate(30, 136), 0.0);
    // The supervisor restarts it; the leak, still there, does it again.
    let ooms = run
        .recorder
        .events
        .iter()
        .filter(|e| e.change == StateChange::OomKilled { instance: victim })
        .count();
    assert_eq!(ooms, 2);
}

#[test]
fn shedding_and_a_memory_aware_health_check_divert_traffic_before_the_oom() {
    let run = run_shipped("memory-leak.json", |m| {
        let api = &mut m["services"]["api"];
        api["load_balancer"]["health_check"]["fail_above_memory"] = json!(0.8);
        api["load_shedding"] = json!({ "memory_above": 0.9 });
    });
    let victim = run.instance("api-az-a-1");
    let ejected = run
        .first_event(|c| *c == StateChange::Ejected { instance: victim })
        .unwrap();
    let oom = run
        .first_event(|c| *c == StateChange::OomKilled { instance: victim })
        .unwrap();
    // Out of the rotation well before memory runs out: the OOM kill, which
    // still comes (the leak is in the code), finds nothing to take with it.
    assert!(
        ejected + 10.0 < oom,
        "ejected {ejected:.1} s, OOM {oom:.1} s"
    );
    let errors = run.summary.entries[0].error_count();
    assert!(errors < 10, "{errors} errors over the whole run");
}

#[test]
fn load_shedding_turns_work_away_once_memory_passes_its_threshold() {
    let run = run_shipped("memory-leak.json", |m| {
        m["services"]["api"]["load_shedding"] = json!({ "memory_above": 0.8 });
    });
    let victim = run.instance("api-az-a-1");
    let alert75 = run
        .first_event(|c| {
            *c == StateChange::MemoryAlert {
                instance: victim,
                percent: 75,
            }
        })
        .unwrap();
    let oom = run
        .first_event(|c| *c == StateChange::OomKilled { instance: victim })
        .unwrap();
    let shed_windows: Vec<u64> = run
        .entry_rows()
        .into_iter()
        .filter(|r| r.errors[ErrorClass::Shed as usize] > 0)
        .map(|r| r.window_start / SECOND)
        .collect();
    // Shedding begins between the 75 % alert and the OOM (at 80 %), and
    // sheds about a third of the traffic: the victim's share.
    let first = *shed_windows.first().expect("something was shed") as f64;
    assert!(first > alert75 && first < oom, "first shed at {first}");
    let shed = run.summary.entries[0].errors[ErrorClass::Shed as usize];
    assert!(shed > 1000, "{shed} shed");
}

// ----- instance freeze ------------------------------------------------------------

#[test]
fn a_frozen_instance_queues_what_it_gets_and_answers_after_the_thaw() {
    let model = r#"{"name": "m", "zones": ["z"],
        "services": {
          "front": {"workers": 200, "endpoints": {"op": {"work": {"constant": "1ms"},
            "calls": {"back": {"to": "back.op"}}}}},
          "back": {"instances": {"count": 3}, "workers": 8, "queue": 50,
            "endpoints": {"op": {"work": {"constant": "5ms"}}}}},
        "workload": {"w": {"endpoint": "front.op", "rate": "300/s"}}}"#;
    let faults =
        r#"{"gc": {"kind": "instance_freeze", "target": "back-z-1", "at": "10s", "for": "4s"}}"#;
    let (t, summary, rec) = run_with_faults(model, faults, 3, 30, 0);
    let victim = t
        .instances
        .iter()
        .position(|i| i.name == "back-z-1")
        .unwrap() as u32;
    let time_of = |change: StateChange| {
        rec.events
            .iter()
            .find(|e| e.change == change)
            .map(|e| e.time as f64 / 1e9)
            .unwrap()
    };
    assert_eq!(
        time_of(StateChange::InstanceFrozen {
            instance: victim,
            fault: 0
        }),
        10.0
    );
    assert_eq!(
        time_of(StateChange::InstanceThawed { instance: victim }),
        14.0
    );
    // Round robin keeps sending it a third of the traffic: 100/s. Its queue
    // of 50 fills in half a second, and the rest is turned away.
    let entry: Vec<&Row> = rec
        .rows
        .iter()
        .filter(|r| r.component == Component::Entry(0))
        .collect();
    let during: u64 = entry[11..14]
        .iter()
        .map(|r| r.errors[ErrorClass::QueueFull as usize])
        .sum();
    assert!((250..=350).contains(&during), "{during} turned away");
    // What it had queued is answered after the thaw: the slowest requests of
    // the run waited out most of the freeze.
    let slowest = entry.iter().map(|r| r.latency.max).max().unwrap() as f64 / 1e9;
    assert!((3.5..4.2).contains(&slowest), "slowest {slowest:.2} s");
    // Nothing is lost: every request is answered, well or badly, but for
    // the few in flight when the run ends.
    assert!(summary.in_flight_at_end < 20);
    let e = &summary.entries[0];
    assert!(e.arrivals - (e.ok + e.error_count()) <= summary.in_flight_at_end);
}

#[test]
fn health_checks_eject_a_frozen_instance_and_readmit_it_after_the_thaw() {
    let model = r#"{"name": "m", "zones": ["z"],
        "services": {"api": {"instances": {"count": 3}, "workers": 8, "queue": 50,
          "load_balancer": {"policy": "round_robin",
            "health_check": {"interval": "1s", "timeout": "300ms", "unhealthy_after": 2, "healthy_after": 1}},
          "endpoints": {"op": {"work": {"constant": "5ms"}}}}},
        "workload": {"w": {"endpoint": "api.op", "rate": "300/s", "timeout": "1s"}}}"#;
    let faults =
        r#"{"gc": {"kind": "instance_freeze", "target": "api", "at": "10s", "for": "10s"}}"#;
    let (_, _, rec) = run_with_faults(model, faults, 3, 30, 0);
    let times: Vec<(&str, f64)> = rec
        .events
        .iter()
        .filter_map(|e| match e.change {
            StateChange::Ejected { .. } => Some(("ejected", e.time as f64 / 1e9)),
            StateChange::Readmitted { .. } => Some(("readmitted", e.time as f64 / 1e9)),
            _ => None,
        })
        .collect();
    assert_eq!(times.len(), 2, "{times:?}");
    // Two probes unanswered: ejected within about two intervals.
    assert_eq!(times[0].0, "ejected");
    assert!(times[0].1 > 10.0 && times[0].1 < 13.0, "{times:?}");
    // Readmitted at the first probe after the thaw.
    assert_eq!(times[1].0, "readmitted");
    assert!(times[1].1 >= 20.0 && times[1].1 < 21.5, "{times:?}");
}

// ----- latency on the network between two services ---------------------------------

#[test]
fn network_latency_delays_the_caller_without_holding_the_callee() {
    let model = r#"{"name": "m", "zones": ["z"],
        "services": {
          "front": {"workers": 200, "endpoints": {"op": {"work": {"constant": "1ms"},
            "calls": {"back": {"to": "back.op", "timeout": "1s"}}}}},
          "other": {"workers": 200, "endpoints": {"op": {"work": {"constant": "1ms"},
            "calls": {"back": {"to": "back.op", "timeout": "1s"}}}}},
          "back": {"workers": 50, "endpoints": {"op": {"work": {"constant": "4ms"}}}}},
        "workload": {"f": {"endpoint": "front.op", "rate": "100/s"},
                     "o": {"endpoint": "other.op", "rate": "100/s"}}}"#;
    let faults = r#"{"slow-link": {"kind": "latency", "from": "front", "target": "back",
                     "add": {"constant": "200ms"}, "at": "10s", "for": "10s"}}"#;
    let (t, _, rec) = run_with_faults(model, faults, 4, 30, 0);
    let mean_ms = |component: Component, from: u64, to: u64| {
        let rows: Vec<&Row> = rec
            .rows
            .iter()
            .filter(|r| {
                r.component == component
                    && r.window_start >= from * SECOND
                    && r.window_start < to * SECOND
            })
            .collect();
        let ok: u64 = rows.iter().map(|r| r.ok).sum();
        rows.iter()
            .map(|r| r.latency.mean * r.ok as f64)
            .sum::<f64>()
            / ok as f64
            / 1e6
    };
    // Only calls from front cross the slow link: +200 ms on front's
    // requests, nothing on other's.
    assert!((mean_ms(Component::Entry(0), 11, 20) - 205.0).abs() < 1.0);
    assert!((mean_ms(Component::Entry(1), 11, 20) - 5.0).abs() < 1.0);
    assert!((mean_ms(Component::Entry(0), 21, 30) - 5.0).abs() < 1.0);
    // The callee works as fast as ever and holds no worker for the delay.
    let back = t.services.iter().position(|s| s.name == "back").unwrap() as u32;
    assert!((mean_ms(Component::Service(back), 11, 20) - 4.0).abs() < 0.01);
    let busy: f64 = rec
        .rows
        .iter()
        .filter(|r| {
            r.component == Component::Service(back)
                && r.window_start >= 11 * SECOND
                && r.window_start < 20 * SECOND
        })
        .map(|r| r.busy.0)
        .sum::<f64>()
        / 9.0;
    assert!((busy - 200.0 * 0.004).abs() < 0.1, "busy {busy}");
}

// ----- caches ------------------------------------------------------------------------

#[test]
fn behind_a_lost_cache_every_read_goes_to_the_database() {
    let model = std::fs::read_to_string(repo().join("models/shop.json")).unwrap();
    let faults = r#"{"cache-gone": {"kind": "instance_kill", "target": "users-cache", "count": 3, "at": "60s"}}"#;
    let (t, summary, rec) = run_with_faults(&model, faults, 8, 120, 10);
    let endpoint = |name: &str| {
        Component::Endpoint(
            t.endpoints
                .iter()
                .position(|e| e.full_name == name)
                .unwrap() as u32,
        )
    };
    let arrivals = |component: Component, from: u64, to: u64| -> u64 {
        rec.rows
            .iter()
            .filter(|r| {
                r.component == component
                    && r.window_start >= from * SECOND
                    && r.window_start < to * SECOND
            })
            .map(|r| r.arrivals)
            .sum()
    };
    let profile = endpoint("users.profile");
    let db = endpoint("users-db.read");
    // A 90 % hit ratio: one read in ten reaches the database...
    let before = arrivals(db, 10, 60) as f64 / arrivals(profile, 10, 60) as f64;
    assert!((before - 0.1).abs() < 0.01, "{before:.3}");
    // ...and with the cache dead, every one (its failed calls degrade to
    // misses), while users still get their pages.
    let after = arrivals(db, 61, 120) as f64 / arrivals(profile, 61, 120) as f64;
    assert!(after > 0.99, "{after:.3}");
    let browse = &summary.entries[0];
    assert_eq!(browse.error_count(), 0);
    assert!(browse.degraded > 10_000);
}

// ----- 6. replication lag, then the primary dies ---------------------------------------

#[test]
fn failover_to_a_lagging_replica_loses_the_writes_it_never_received() {
    let run = run_shipped("replication-failover.json", |_| {});
    let replica = run.instance("orders-db-az-b-1");
    let promoted = run
        .recorder
        .events
        .iter()
        .find_map(|e| match e.change {
            StateChange::PrimaryPromoted {
                instance,
                lost_writes,
            } => Some((instance, lost_writes, e.time as f64 / 1e9)),
            _ => None,
        })
        .expect("a replica was promoted");
    // Detection 10 s + promotion 5 s after the primary died at 90 s.
    assert_eq!(promoted.0, replica);
    assert!((promoted.2 - 105.0).abs() < 1e-9);
    // Replication stalled at 60 s, so the replica lacked the last 30 s of
    // writes: about 100 writes/s × 30 s, all acknowledged, all lost.
    let lost = promoted.1 as f64;
    assert!((lost - 3000.0).abs() < 200.0, "{lost} lost");
    assert_eq!(
        run.summary.lost_writes.iter().sum::<u64>(),
        promoted.1 as u64
    );
    let place = 0;
    assert_eq!(entry_error_rate(&run, place, 30, 90), 0.0);
    assert!(
        entry_error_rate(&run, place, 91, 104) > 0.99,
        "writes fail until promotion"
    );
    assert_eq!(entry_error_rate(&run, place, 106, 180), 0.0);
}

#[test]
fn a_healthy_replica_loses_only_its_normal_lag_of_writes() {
    let model = std::fs::read_to_string(repo().join("models/replicated.json")).unwrap();
    let faults =
        r#"{"primary-dies": {"kind": "instance_kill", "target": "orders-db-az-a-1", "at": "90s"}}"#;
    let (_, summary, _) = run_with_faults(&model, faults, 13, 180, 30);
    // 20 ms of lag at 100 writes/s: a write or two.
    assert!(
        summary.lost_writes.iter().sum::<u64>() <= 8,
        "{:?}",
        summary.lost_writes
    );
}

#[test]
fn writers_with_a_fixed_primary_address_keep_failing_after_the_failover() {
    let run = run_shipped("replication-failover.json", |m| {
        m["services"]["orders-db"]["replication"]["failover"]["writers"] = json!("fixed_address");
    });
    assert!(
        run.first_event(|c| matches!(c, StateChange::PrimaryPromoted { .. }))
            .is_some()
    );
    // The promotion happened, but the writers never heard of it.
    assert!(entry_error_rate(&run, 0, 106, 180) > 0.99);
    // Reads, routed to whichever replica is up, never cared.
    assert!(entry_error_rate(&run, 1, 95, 180) < 0.001);
}

#[test]
fn writers_with_a_fixed_address_split_the_brain_when_the_deposed_primary_returns() {
    // Promoted at 105 s; the old primary restarts and serves from 115 s.
    let run = |writers: &str| {
        run_shipped("replication-failover.json", |m| {
            let db = &mut m["services"]["orders-db"];
            db["replication"]["failover"]["writers"] = json!(writers);
            db["restart"] = json!({ "delay": "20s", "boot": "5s" });
        })
    };
    let split = run("fixed_address");
    let divergent: u64 = split.summary.divergent_writes.iter().sum();
    // Every write from then on lands on the deposed primary and succeeds
    // there: about 100/s for 65 s, none of which the new primary has.
    assert!((6000..=7000).contains(&divergent), "{divergent}");
    assert_eq!(
        entry_error_rate(&split, 0, 116, 180),
        0.0,
        "users see success"
    );
    // Through a cluster endpoint the writers follow the promotion: the old
    // primary, back, takes no write.
    let follow = run("cluster_endpoint");
    assert_eq!(follow.summary.divergent_writes.iter().sum::<u64>(), 0);
    assert_eq!(entry_error_rate(&follow, 0, 106, 180), 0.0);
}

/// The replicated model with a slow failure detector and a supervisor that
/// brings a dead primary back `restart_s` + 5 s (boot) after it dies at 60 s.
fn primary_returns(detection: &str, restart_s: u64) -> Run {
    run_plan(shipped_plan(
        "replication-failover.json",
        |m| {
            m["services"]["orders-db"]["replication"]["failover"] =
                json!({ "detection": detection, "promotion": "5s" });
            m["services"]["orders-db"]["restart"] =
                json!({ "delay": format!("{restart_s}s"), "boot": "5s" });
        },
        |s| {
            s["faults"] = json!({"primary-dies": {"kind": "instance_kill",
                "target": "orders-db-az-a-1", "at": "60s"}});
        },
    ))
}

#[test]
fn a_primary_back_before_its_loss_is_detected_cancels_the_failover() {
    // Detection takes 60 s; the primary is back after 43 s, at 103 s.
    let run = primary_returns("60s", 38);
    let primary = run.instance("orders-db-az-a-1");
    assert!(
        run.first_event(|c| matches!(c, StateChange::PrimaryPromoted { .. }))
            .is_none(),
        "no replica is promoted"
    );
    let cancelled = run
        .first_event(|c| *c == StateChange::FailoverCancelled { instance: primary })
        .expect("the failover is called off");
    assert!((cancelled - 103.0).abs() < 1e-9, "at {cancelled}");
    assert_eq!(run.summary.lost_writes.iter().sum::<u64>(), 0);
    let place = 0;
    assert!(
        entry_error_rate(&run, place, 61, 102) > 0.99,
        "no primary meanwhile"
    );
    // Writes work again from the instant it is back: no outage until a
    // promotion that no longer has a reason.
    assert_eq!(entry_error_rate(&run, place, 104, 180), 0.0);
}

#[test]
fn a_primary_back_after_its_loss_is_detected_rejoins_as_a_replica() {
    // Detected at 70 s, promoted at 75 s; the old primary is back at 73 s.
    let run = primary_returns("10s", 8);
    let (old, replica) = (
        run.instance("orders-db-az-a-1"),
        run.instance("orders-db-az-b-1"),
    );
    assert!(
        run.first_event(|c| matches!(c, StateChange::FailoverCancelled { .. }))
            .is_none()
    );
    let promoted = run
        .recorder
        .events
        .iter()
        .find_map(|e| match e.change {
            StateChange::PrimaryPromoted { instance, .. } => Some((instance, e.time as f64 / 1e9)),
            _ => None,
        })
        .expect("the promotion goes on");
    assert_eq!(promoted, (replica, 75.0));
    assert_ne!(promoted.0, old);
    assert_eq!(entry_error_rate(&run, 0, 76, 180), 0.0);
}

#[test]
fn a_short_timeout_and_an_enqueue_fallback_accept_every_order_and_lose_none() {
    let run = run_shipped("network-split.json", |m| {
        let charge = &mut m["services"]["orders"]["endpoints"]["create"]["calls"]["charge"];
        charge["timeout"] = json!("3s");
        charge["fallback"] = json!({ "enqueue": "payment-queue" });
        // Orders now answer within about 3 s at worst: the gateway's pool to
        // them must hold 3 s of checkouts.
        let create =
            &mut m["services"]["gateway"]["endpoints"]["checkout"]["calls"]["create-order"];
        create["timeout"] = json!("10s");
        create["pool"]["size"] = json!(100);
        // And orders must have the workers to wait out 3 s per checkout:
        // 100 checkouts/s × 3 s over six instances.
        m["services"]["orders"]["workers"] = json!(96);
        // The queue's consumer runs beside orders, on its side of the split.
        m["services"]["payment-queue"] = json!({
            "kind": "queue",
            "instances": { "placement": { "az-a": 1 } },
            "consumer": { "concurrency": 16, "timeout": "5s", "retry_after": "2s" },
            "endpoints": {}
        });
    });
    let checkout = 1;
    // Users get an accepted response through the whole split...
    assert_eq!(entry_error_rate(&run, checkout, 30, 240), 0.0);
    // ...and the orders accepted during it are charged once it heals.
    let queue = run
        .topology
        .services
        .iter()
        .position(|s| s.name == "payment-queue")
        .unwrap();
    let totals = run.summary.queues[queue];
    assert!(totals.enqueued > 3000, "{totals:?}");
    assert_eq!(totals.pending_at_end, 0, "{totals:?}");
    assert!(totals.delivered >= totals.enqueued, "{totals:?}");
}

#[test]
fn a_queue_consumer_outside_the_split_drains_during_it() {
    let run = run_shipped("network-split.json", |m| {
        let charge = &mut m["services"]["orders"]["endpoints"]["create"]["calls"]["charge"];
        charge["timeout"] = json!("3s");
        charge["fallback"] = json!({ "enqueue": "payment-queue" });
        m["services"]["payment-queue"] = json!({
            "kind": "queue",
            "instances": { "placement": { "az-a": 1 } },
            "consumer": { "concurrency": 4, "timeout": "5s", "retry_after": "2s" },
            "endpoints": {}
        });
    });
    // The scenario splits orders from payment only: the consumer, a
    // service of its own, still reaches payment and drains during the split.
    let queue = run
        .topology
        .services
        .iter()
        .position(|s| s.name == "payment-queue")
        .unwrap();
    let totals = run.summary.queues[queue];
    assert_eq!(totals.redelivered, 0, "{totals:?}");
    assert_eq!(totals.pending_at_end, 0);
}

#[test]
fn a_queue_consumer_caught_in_the_split_redelivers_until_it_heals() {
    let mut model: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("models/shop.json")).unwrap())
            .unwrap();
    let charge = &mut model["services"]["orders"]["endpoints"]["create"]["calls"]["charge"];
    charge["timeout"] = json!("1s");
    charge["fallback"] = json!({ "enqueue": "payment-queue" });
    model["services"]["payment-queue"] = json!({
        "kind": "queue",
        "consumer": { "concurrency": 16, "timeout": "2s", "retry_after": "1s" },
        "endpoints": {}
    });
    let faults = r#"{"split": {"kind": "network_partition", "between": [["orders", "payment-queue"], ["payment"]],
                     "mode": "drop", "at": "60s", "for": "1m"}}"#;
    let (t, summary, _) = run_with_faults(&model.to_string(), faults, 5, 240, 30);
    let queue = t
        .services
        .iter()
        .position(|s| s.name == "payment-queue")
        .unwrap();
    let totals = summary.queues[queue];
    // Deliveries vanish in the split and time out, so items go round again
    // until it heals; then every one is delivered.
    assert!(totals.redelivered > 20, "{totals:?}");
    assert_eq!(totals.pending_at_end, 0, "{totals:?}");
    assert!(totals.delivered >= totals.enqueued);
}

// ----- 8. reconnecting clients ------------------------------------------------------------

fn connect_rows(run: &Run) -> Vec<&Row> {
    let connect = run
        .topology
        .endpoints
        .iter()
        .position(|e| e.full_name == "gateway.connect")
        .unwrap() as u32;
    run.recorder
        .rows
        .iter()
        .filter(|r| r.component == Component::Endpoint(connect) && r.window_start >= 60 * SECOND)
        .collect()
}

#[test]
fn clients_reconnecting_in_lockstep_overwhelm_the_survivors() {
    let run = run_shipped("reconnect-storm.json", |_| {});
    let rows = connect_rows(&run);
    // The quarter of 2000 clients on the dead instance all come back one
    // second later, in the same instant: the three survivors can take 144
    // handshakes at once (16 workers + 32 queued each) and turn the rest
    // away; the rejected retry together again, 2 s, then 4 s later.
    let peak = rows.iter().map(|r| r.arrivals).max().unwrap();
    assert!(peak >= 450, "peak {peak}");
    let rejected: u64 = rows
        .iter()
        .map(|r| r.errors[ErrorClass::QueueFull as usize])
        .sum();
    assert!(rejected > 400, "{rejected} rejected");
    let waves = rows
        .iter()
        .filter(|r| r.errors.iter().sum::<u64>() > 0)
        .count();
    assert!(waves >= 3, "{waves} waves");
}

#[test]
fn jittered_backoff_flattens_the_reconnect_spike() {
    let run = run_shipped("reconnect-storm.json", |m| {
        m["clients"]["apps"]["reconnect"] = json!({ "backoff": "5s", "jitter": "full" });
    });
    let rows = connect_rows(&run);
    // The same 500 clients spread over five seconds: no handshake refused.
    let peak = rows.iter().map(|r| r.arrivals).max().unwrap();
    assert!(peak < 200, "peak {peak}");
    let rejected: u64 = rows.iter().map(|r| r.errors.iter().sum::<u64>()).sum();
    assert_eq!(rejected, 0);
    let reconnected: u64 = rows.iter().map(|r| r.ok).sum();
    assert!(
        (450..=550).contains(&reconnected),
        "{reconnected} reconnected"
    );
}

#[test]
fn a_per_request_leak_grows_with_the_work_done() {
    let model = r#"{"name": "m", "zones": ["z"],
        "services": {"api": {"instances": {"count": 2}, "workers": 8, "queue": 16,
          "load_balancer": {"policy": "random"},
          "memory": {"baseline": "100MiB", "limit": "200MiB"},
          "endpoints": {"op": {"work": {"constant": "2ms"}}}}},
        "workload": {"w": {"endpoint": "api.op", "rate": "200/s"}}}"#;
    // 1 MiB per request at ~100 requests/s per instance: 100 MiB of headroom
    // lasts about a second.
    let faults =
        r#"{"leak": {"kind": "memory_leak", "target": "api", "per_request": "1MiB", "at": "5s"}}"#;
    let (_, _, rec) = run_with_faults(model, faults, 2, 10, 0);
    let ooms: Vec<f64> = rec
        .events
        .iter()
        .filter(|e| matches!(e.change, StateChange::OomKilled { .. }))
        .map(|e| e.time as f64 / 1e9)
        .collect();
    assert_eq!(ooms.len(), 2, "{ooms:?}");
    assert!(ooms.iter().all(|t| (5.8..6.3).contains(t)), "{ooms:?}");
}

#[test]
fn shedding_on_queue_length_fails_fast_instead_of_queueing() {
    let model = |shed: &str| {
        format!(
            r#"{{"name": "m", "zones": ["z"],
            "services": {{"api": {{"workers": 2, "queue": 100, {shed}
              "endpoints": {{"op": {{"work": {{"constant": "10ms"}}}}}}}}}},
            "workload": {{"w": {{"endpoint": "api.op", "rate": "300/s"}}}}}}"#
        )
    };
    let (_, queued, _) = run_with_faults(&model(""), "{}", 1, 20, 5);
    let (_, shed, _) = run_with_faults(
        &model(r#""load_shedding": {"queue_above": 5},"#),
        "{}",
        1,
        20,
        5,
    );
    // Twice the capacity arrives. Without shedding the queue fills and
    // every accepted request waits out a hundred others; with it, the
    // overflow fails at once and the rest are served quickly.
    assert!(queued.entries[0].latency_summary().p50 > 400_000_000);
    assert!(shed.entries[0].latency_summary().p99 < 80_000_000);
    assert!(shed.entries[0].errors[ErrorClass::Shed as usize] > 1000);
}

// ----- autoscaling ------------------------------------------------------------------------

#[test]
fn the_autoscaler_adds_instances_under_load_and_removes_them_after() {
    let model = r#"{"name": "m", "zones": ["a", "b"],
        "services": {"api": {"instances": {"per_zone": 1}, "workers": 4, "queue": 50,
          "load_balancer": {"policy": "least_outstanding"},
          "autoscaling": {"min": 2, "max": 8, "target_utilisation": 0.6,
                          "interval": "10s", "cooldown": "30s", "boot": "20s"},
          "endpoints": {"op": {"work": {"exponential": {"mean": "10ms"}}}}}},
        "workload": {"w": {"endpoint": "api.op", "timeout": "5s", "schedule": [
          {"at": "0s", "rate": "200/s"}, {"at": "60s", "rate": "1000/s"}, {"at": "200s", "rate": "200/s"}]}}}"#;
    let (t, _, rec) = run_with_faults(model, "{}", 6, 400, 0);
    let scaled: Vec<(&str, u32, f64)> = rec
        .events
        .iter()
        .filter_map(|e| match e.change {
            StateChange::ScaledOut { instances, .. } => {
                Some(("out", instances, e.time as f64 / 1e9))
            }
            StateChange::ScaledIn { instances, .. } => Some(("in", instances, e.time as f64 / 1e9)),
            _ => None,
        })
        .collect();
    // 1000 requests/s × 10 ms = 10 busy workers: at 60 % of 4 per instance,
    // five instances. The first decision after the jump sees it.
    let out = scaled.iter().find(|s| s.0 == "out").expect("scaled out");
    assert!(out.2 > 60.0 && out.2 <= 80.0, "{scaled:?}");
    let peak = scaled
        .iter()
        .filter(|s| s.0 == "out")
        .map(|s| s.1)
        .max()
        .unwrap();
    assert!((5..=6).contains(&peak), "{scaled:?}");
    // Once the new instances have booted, the overload is gone.
    let entry: Vec<&Row> = rec
        .rows
        .iter()
        .filter(|r| {
            r.component == Component::Entry(0)
                && r.window_start >= 120 * SECOND
                && r.window_start < 200 * SECOND
        })
        .collect();
    let errors: u64 = entry.iter().map(|r| r.errors.iter().sum::<u64>()).sum();
    assert_eq!(errors, 0);
    // Back at 200/s it shrinks to the minimum, draining before it ends
    // instances: nothing is refused.
    let last = scaled.last().unwrap();
    assert_eq!((last.0, last.1), ("in", 2), "{scaled:?}");
    let after: u64 = rec
        .rows
        .iter()
        .filter(|r| r.component == Component::Entry(0) && r.window_start >= 200 * SECOND)
        .map(|r| r.errors.iter().sum::<u64>())
        .sum();
    assert_eq!(after, 0);
    let api = t.services.iter().position(|s| s.name == "api").unwrap();
    assert_eq!(t.services[api].instances.len(), 8, "spare slots up to max");
}

#[test]
fn the_autoscaler_replaces_instances_no_supervisor_will_bring_back() {
    // Four instances over two zones, at the autoscaler's minimum; two crash
    // at 65 s (or a zone goes dark) and nothing restarts them.
    let model = |restart: &str| {
        format!(
            r#"{{"name": "m", "zones": ["a", "b"],
        "services": {{"api": {{"instances": {{"per_zone": 2}}, "workers": 8, "queue": 50 {restart},
          "load_balancer": {{"policy": "round_robin",
            "health_check": {{"interval": "1s", "timeout": "200ms", "unhealthy_after": 2, "healthy_after": 1}}}},
          "autoscaling": {{"min": 4, "max": 8, "target_utilisation": 0.5,
                          "interval": "10s", "cooldown": "60s", "boot": "15s"}},
          "endpoints": {{"op": {{"work": {{"exponential": {{"mean": "10ms"}}}}}}}}}}}},
        "workload": {{"w": {{"endpoint": "api.op", "rate": "600/s", "timeout": "2s"}}}}}}"#
        )
    };
    let scaled_out = |rec: &Recorder| {
        rec.events
            .iter()
            .filter_map(|e| match e.change {
                StateChange::ScaledOut { instances, .. } => Some((e.time as f64 / 1e9, instances)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let crash =
        r#"{"two-crash": {"kind": "instance_kill", "target": "api", "count": 2, "at": "65s"}}"#;
    let (_, _, rec) = run_with_faults(&model(""), crash, 4, 180, 30);
    // At the first decision after the crash (70 s) the fleet is four again,
    // cooldown or not; the replacements serve from 85 s.
    assert_eq!(scaled_out(&rec), [(70.0, 4)]);
    let entry = |from: u64| -> u64 {
        rec.rows
            .iter()
            .filter(|r| r.component == Component::Entry(0) && r.window_start >= from * SECOND)
            .map(|r| r.errors.iter().sum::<u64>())
            .sum()
    };
    assert_eq!(
        entry(90),
        0,
        "the load is served again after the replacements boot"
    );
    // A supervisor restarts in place: the autoscaler leaves it to it.
    let restart = r#", "restart": {"delay": "5s", "boot": "5s"}"#;
    let (_, _, rec) = run_with_faults(&model(restart), crash, 4, 180, 30);
    assert!(scaled_out(&rec).is_empty());
    // A dark zone's instances are replaced in the zone that is up.
    let dark = r#"{"lose-b": {"kind": "zone_outage", "zone": "b", "at": "65s", "for": "60s"}}"#;
    let (t, _, rec) = run_with_faults(&model(""), dark, 4, 180, 30);
    assert_eq!(scaled_out(&rec), [(70.0, 4)]);
    let zone_of_ready: Vec<u32> = rec
        .events
        .iter()
        .filter(|e| e.time > 60 * SECOND && e.time < 100 * SECOND)
        .filter_map(|e| match e.change {
            StateChange::InstanceReady { instance } => Some(t.instances[instance as usize].zone.0),
            _ => None,
        })
        .collect();
    assert_eq!(zone_of_ready, [0, 0], "both replacements in zone a");
}
