//! Resilience patterns, measured: retries (how many, on which errors, after
//! which backoff, with which jitter, under which budget), circuit breakers
//! (when they open, what they do while open, when they half-open, close or
//! open again, slow calls), fallbacks, determinism, and a swarm of random
//! retry and breaker settings that must keep the engine's invariants.
//!
//! Every model is two services, `front.op` calling `back.op`, with faults
//! injected on `back`. Assertions are on numbers the simulation produced:
//! exact identities where the mechanism allows one (every failed attempt is
//! either retried or final; an injected error fails at once, so a request
//! whose attempts all fail takes exactly its work plus its backoffs), and
//! statistics within five standard deviations elsewhere.

use proptest::prelude::*;
use serde_json::{Value, json};

use faultline::base::{ERROR_CLASSES, ErrorClass};
use faultline::observe::Recorder;
use faultline::observe::events::StateChange;
use faultline::observe::metrics::Row;
use faultline::sim::{RunConfig, RunSummary};
use faultline::topology::Component;
use faultline::topology::Topology;

use crate::common::*;

const MS: u64 = 1_000_000;

// ----- helpers ----------------------------------------------------------------

/// `front.op` (its own work, then one call named `back`) → `back.op` (1 ms).
/// Workers and queues are ample: nothing is rejected unless a test wants it.
fn model(call: Value, front_instances: u32, front_work: &str, workload: Value) -> String {
    json!({
        "name": "resilience",
        "zones": ["a"],
        "services": {
            "front": {
                "instances": { "count": front_instances },
                "workers": 10000, "queue": 1000,
                "endpoints": { "op": {
                    "work": { "constant": front_work },
                    "calls": { "back": call }
                } }
            },
            "back": {
                "workers": 10000, "queue": 1000,
                "endpoints": { "op": { "work": { "constant": "1ms" } } }
            }
        },
        "workload": { "w": workload }
    })
    .to_string()
}

/// A call to `back.op` with the given settings.
fn call(settings: Value) -> Value {
    let mut call = json!({ "to": "back.op" });
    if let Value::Object(settings) = settings {
        call.as_object_mut().unwrap().extend(settings);
    }
    call
}

fn steady(rate: u32) -> Value {
    json!({ "endpoint": "front.op", "rate": format!("{rate}/s") })
}

/// `rate` until `stop_s`, then nothing: what is in flight drains.
fn until(rate: u32, stop_s: u64) -> Value {
    json!({ "endpoint": "front.op", "schedule": [
        { "at": "0s", "rate": format!("{rate}/s") },
        { "at": format!("{stop_s}s"), "rate": "0/s" }
    ] })
}

/// An errors fault on `back`, for ever when `lasting` is `None`.
fn errors_fault(fraction: f64, at: &str, lasting: Option<&str>) -> String {
    let mut fault = json!({ "kind": "errors", "target": "back", "fraction": fraction, "at": at });
    if let Some(d) = lasting {
        fault["for"] = json!(d);
    }
    json!({ "flaky": fault }).to_string()
}

/// Runs a model under faults with metric windows of `window_ms` (the common
/// helper fixes them at 1 s); no warm-up.
fn run_ms(
    model: &str,
    faults: &str,
    seed: u64,
    duration_ms: u64,
    window_ms: u64,
) -> (Topology, RunSummary, Recorder) {
    let config = RunConfig {
        seed,
        duration: duration_ms * MS,
        warmup: 0,
        window: window_ms * MS,
        per_instance: false,
        precision: Default::default(),
    };
    run_scenario(model, faults, seed, config)
}

/// One-second windows, no warm-up.
fn run_s(
    model: &str,
    faults: &str,
    seed: u64,
    duration_s: u64,
) -> (Topology, RunSummary, Recorder) {
    run_with_faults(model, faults, seed, duration_s, 0)
}

fn ep(t: &Topology, full_name: &str) -> Component {
    Component::Endpoint(
        t.endpoints
            .iter()
            .position(|e| e.full_name == full_name)
            .unwrap_or_else(|| panic!("no endpoint {full_name}")) as u32,
    )
}

const ENTRY: Component = Component::Entry(0);

/// Outcomes of one component summed over windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    arrivals: u64,
    ok: u64,
    errors: [u64; ERROR_CLASSES],
    retries: u64,
    degraded: u64,
}

impl Tally {
    fn err(&self, class: ErrorClass) -> u64 {
        self.errors[class as usize]
    }

    fn failed(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Every error is of this class.
    fn only(&self, class: ErrorClass) -> bool {
        self.failed() == self.err(class)
    }

    fn add(&mut self, r: &Row) {
        self.arrivals += r.arrivals;
        self.ok += r.ok;
        self.errors
            .iter_mut()
            .zip(r.errors)
            .for_each(|(a, b)| *a += b);
        self.retries += r.retries;
        self.degraded += r.degraded;
    }
}

/// Outcomes of a component over the windows that start in `[from, to)` ns.
fn tally_in(rec: &Recorder, c: Component, from: u64, to: u64) -> Tally {
    let mut t = Tally::default();
    rec.rows
        .iter()
        .filter(|r| r.component == c && r.window_start >= from && r.window_start < to)
        .for_each(|r| t.add(r));
    t
}

fn tally(rec: &Recorder, c: Component) -> Tally {
    tally_in(rec, c, 0, u64::MAX)
}

/// One number per window, in time order.
fn series(rec: &Recorder, c: Component, f: impl Fn(&Row) -> u64) -> Vec<u64> {
    rec.rows
        .iter()
        .filter(|r| r.component == c)
        .map(f)
        .collect()
}

/// Breaker transitions in order: (time, event name, caller instance).
fn breaker_log(t: &Topology, rec: &Recorder) -> Vec<(u64, &'static str, String)> {
    rec.events
        .iter()
        .filter_map(|e| match e.change {
            StateChange::BreakerOpened { instance, .. }
            | StateChange::BreakerHalfOpen { instance, .. }
            | StateChange::BreakerClosed { instance, .. } => Some((
                e.time,
                e.change.name(),
                t.instances[instance as usize].name.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn names(log: &[(u64, &'static str, String)]) -> Vec<&'static str> {
    log.iter().map(|e| e.1).collect()
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Mean and standard deviation of the attempts a request makes when each
/// fails with probability `p` and at most `n` are made.
fn attempts_moments(p: f64, n: u32) -> (f64, f64) {
    let prob = |k: u32| {
        if k < n {
            p.powi(k as i32 - 1) * (1.0 - p)
        } else {
            p.powi(n as i32 - 1)
        }
    };
    let mean: f64 = (1..=n).map(|k| k as f64 * prob(k)).sum();
    let square: f64 = (1..=n).map(|k| (k * k) as f64 * prob(k)).sum();
    (mean, (square - mean * mean).sqrt())
}

// ----- 1. retries: how many, on what -------------------------------------------

#[test]
fn retries_turn_a_failure_share_p_into_p_to_the_n() {
    for (p, n) in [(0.3, 3u32), (0.5, 4)] {
        // Backoff 0: a failed attempt is retried at once. Load stops at 9 s so
        // every request has finished by the end of the run.
        let m = model(
            call(json!({ "retry": { "max_attempts": n } })),
            1,
            "1ms",
            until(2000, 9),
        );
        let (t, summary, rec) = run_s(&m, &errors_fault(p, "0s", None), 11, 10);
        assert_eq!(summary.in_flight_at_end, 0);
        let front = tally(&rec, ep(&t, "front.op"));
        let back = tally(&rec, ep(&t, "back.op"));
        let requests = front.arrivals as f64;

        // A request fails only if all n independent attempts do.
        let share = front.failed() as f64 / requests;
        let expected = p.powi(n as i32);
        let sd = (expected * (1.0 - expected) / requests).sqrt();
        // The caller sees the injected error itself.
        assert!(front.only(ErrorClass::Injected), "{front:?}");
        // The callee sees 1 + p + … + p^(n-1) attempts per request.
        let (attempts, attempts_sd) = attempts_moments(p, n);
        let per_request = back.arrivals as f64 / requests;
        eprintln!(
            "retries p={p} n={n}: failure share {share:.4} (p^n {expected:.4}), \
             attempts/request {per_request:.4} (expected {attempts:.4}), retries {} of {} requests",
            front.retries, front.arrivals
        );
        assert!((share - expected).abs() < 5.0 * sd, "share {share}");
        assert!(
            (per_request - attempts).abs() < 5.0 * attempts_sd / requests.sqrt(),
            "attempts per request {per_request}"
        );
        // Exact: every attempt past the first is a retry in the caller's
        // column, and every failed attempt was either retried or final.
        assert_eq!(back.arrivals, front.arrivals + front.retries);
        assert_eq!(
            back.err(ErrorClass::Injected),
            front.retries + front.failed()
        );
        assert_eq!(back.failed(), back.err(ErrorClass::Injected));
        assert_eq!(front.ok + front.failed(), front.arrivals);
    }
}

#[test]
fn retries_only_retry_the_error_classes_they_are_on() {
    let p = 0.3;
    let faults = errors_fault(p, "0s", None);
    let retrying = |on: Value| {
        let m = model(
            call(json!({ "retry": { "max_attempts": 3, "on": on } })),
            1,
            "1ms",
            until(2000, 9),
        );
        let (t, _, rec) = run_s(&m, &faults, 12, 10);
        (
            tally(&rec, ep(&t, "front.op")),
            tally(&rec, ep(&t, "back.op")),
        )
    };

    // On timeouts only: an injected error is final at the first attempt.
    let (front, back) = retrying(json!(["timeout"]));
    let share = front.failed() as f64 / front.arrivals as f64;
    let sd = (p * (1.0 - p) / front.arrivals as f64).sqrt();
    eprintln!(
        "on [timeout], injected errors: failure share {share:.4}, retries {}",
        front.retries
    );
    assert_eq!(front.retries, 0);
    assert_eq!(back.arrivals, front.arrivals);
    assert_eq!(
        front.err(ErrorClass::Injected),
        back.err(ErrorClass::Injected)
    );
    assert!((share - p).abs() < 5.0 * sd, "share {share}");

    // Naming the class retries it like the default does: p³.
    let (front, back) = retrying(json!(["injected"]));
    let share = front.failed() as f64 / front.arrivals as f64;
    eprintln!("on [injected]: failure share {share:.4} (p³ = 0.027)");
    assert!((share - 0.027).abs() < 0.006, "share {share}");
    assert_eq!(back.arrivals, front.arrivals + front.retries);

    // And "timeout" does retry timeouts: every attempt takes 51 ms against a
    // 20 ms call timeout, so each request tries twice and fails by timeout.
    let m = model(
        call(json!({ "timeout": "20ms", "retry": { "max_attempts": 2, "on": ["timeout"] } })),
        1,
        "1ms",
        until(200, 9),
    );
    let slow = r#"{ "slow": { "kind": "latency", "target": "back", "add": { "constant": "50ms" },
        "at": "0s" } }"#;
    let (t, summary, rec) = run_s(&m, slow, 12, 10);
    let front = tally(&rec, ep(&t, "front.op"));
    let back = tally(&rec, ep(&t, "back.op"));
    eprintln!(
        "on [timeout], slow callee: {} requests, {} retries, {} attempts at back",
        front.arrivals, front.retries, back.arrivals
    );
    assert_eq!(summary.in_flight_at_end, 0);
    assert_eq!(front.retries, front.arrivals);
    assert_eq!(back.arrivals, 2 * front.arrivals);
    assert_eq!(front.err(ErrorClass::Timeout), front.arrivals);
    // The callee finished every abandoned attempt.
    assert_eq!(back.ok, back.arrivals);
}

// ----- 2. backoff ---------------------------------------------------------------

#[test]
fn a_request_whose_attempts_all_fail_waits_exactly_the_sum_of_its_backoffs() {
    // back always fails at once; front works 5 ms, then tries; with a
    // degrade fallback the request succeeds after its last failed attempt,
    // so its latency is 5 ms plus every backoff, to the nanosecond.
    let cases = [
        // 100 + 200 + 400
        (json!({ "max_attempts": 4, "backoff": "100ms" }), 3, 700),
        // 100 + 200 + 250 + 250: capped by max_backoff
        (
            json!({ "max_attempts": 5, "backoff": "100ms", "max_backoff": "250ms" }),
            4,
            800,
        ),
        // 100 + 300
        (
            json!({ "max_attempts": 3, "backoff": "100ms", "multiplier": 3 }),
            2,
            400,
        ),
        (json!({ "max_attempts": 1, "backoff": "100ms" }), 0, 0),
    ];
    for (retry, retries, sleeps_ms) in cases {
        let m = model(
            call(json!({ "retry": retry, "fallback": "degrade" })),
            1,
            "5ms",
            until(100, 8),
        );
        let (t, summary, rec) = run_s(&m, &errors_fault(1.0, "0s", None), 3, 10);
        let e = &summary.entries[0];
        let expected = (5 + sleeps_ms) * MS;
        eprintln!(
            "backoff {retry}: {} requests, mean latency {:.3} ms (expected {} ms)",
            e.arrivals,
            e.latency_sum as f64 / e.ok as f64 / 1e6,
            expected / MS
        );
        assert_eq!(e.ok, e.arrivals);
        assert_eq!(e.degraded, e.ok);
        assert_eq!(e.latency_sum, expected as u128 * e.ok as u128, "{retry}");
        assert_eq!(
            tally(&rec, ep(&t, "front.op")).retries,
            retries * e.arrivals
        );
    }

    // Without the fallback the request fails at that instant: a client that
    // gives up 1 ms earlier sees only timeouts, one 1 ms more patient sees
    // only the injected error.
    for (timeout, class) in [
        ("704ms", ErrorClass::Timeout),
        ("706ms", ErrorClass::Injected),
    ] {
        let mut workload = until(100, 8);
        workload["timeout"] = json!(timeout);
        let m = model(
            call(json!({ "retry": { "max_attempts": 4, "backoff": "100ms" } })),
            1,
            "5ms",
            workload,
        );
        let (_, summary, _) = run_s(&m, &errors_fault(1.0, "0s", None), 3, 10);
        let e = &summary.entries[0];
        eprintln!("client timeout {timeout}: {:?}", e.errors);
        assert_eq!(e.ok, 0);
        assert_eq!(
            e.errors[class as usize], e.arrivals,
            "{timeout}: {:?}",
            e.errors
        );
    }
}

// ----- 3. jitter ----------------------------------------------------------------

#[test]
fn jitter_draws_each_backoff_from_its_range() {
    // As above: 5 ms of work then backoffs of nominally 100, 200 and 400 ms.
    // Full jitter sleeps U(0, b) (mean b/2), equal jitter b/2 + U(0, b/2)
    // (mean 3b/4). Latency is recorded with 1 % resolution (min and max).
    let cases = [
        // (jitter, expected mean, sd of one request, min, max) in ms
        ("none", 705.0, 0.0, 705.0, 705.0),
        ("equal", 530.0, (4375.0f64).sqrt(), 355.0, 705.0),
        ("full", 355.0, (17500.0f64).sqrt(), 5.0, 705.0),
    ];
    for (jitter, mean, sd, low, high) in cases {
        let m = model(
            call(
                json!({ "retry": { "max_attempts": 4, "backoff": "100ms", "jitter": jitter },
                         "fallback": "degrade" }),
            ),
            1,
            "5ms",
            until(200, 8),
        );
        let (_, summary, _) = run_s(&m, &errors_fault(1.0, "0s", None), 4, 10);
        let e = &summary.entries[0];
        let measured = e.latency_sum as f64 / e.ok as f64 / 1e6;
        let (min, max) = (e.latency.min() as f64 / 1e6, e.latency.max() as f64 / 1e6);
        eprintln!(
            "jitter {jitter}: {} requests, latency mean {measured:.2} ms (expected {mean}), \
             min {min:.1}, max {max:.1}",
            e.ok
        );
        assert_eq!(e.ok, e.arrivals);
        assert!(
            (measured - mean).abs() <= 5.0 * sd / (e.ok as f64).sqrt() + 1e-6,
            "{jitter}: mean {measured}"
        );
        assert!(
            min >= low * 0.99 && max <= high * 1.01,
            "{jitter}: [{min}, {max}]"
        );
        if jitter != "none" {
            // The draws cover most of their range.
            assert!(max - min > 0.8 * (high - low), "{jitter}: [{min}, {max}]");
        }
    }
}

/// Arrivals at `back` per 10 ms window that are retries: arrivals with the
/// retry policy minus arrivals without it. First attempts are identical in
/// both runs (the arrival, work and fault streams do not depend on the retry
/// policy, and front's work is constant), so the difference is exact.
/// Two 10 ms outages on `back`, at 2000 ms and 2200 ms, fail every attempt.
/// Returns the excess per window, the caller's retries and the failures of
/// each outage without retries.
fn retry_waves(jitter: &str) -> (Vec<i64>, u64, u64, u64) {
    let faults = r#"{
        "first":  { "kind": "errors", "target": "back", "fraction": 1.0, "at": "2000ms", "for": "10ms" },
        "second": { "kind": "errors", "target": "back", "fraction": 1.0, "at": "2200ms", "for": "10ms" }
    }"#;
    let run = |retry: Value| {
        let m = model(call(json!({ "retry": retry })), 1, "1ms", steady(5000));
        run_ms(&m, faults, 9, 3000, 10)
    };
    let (t, _, base) = run(json!({ "max_attempts": 1 }));
    let (_, _, with) = run(json!({ "max_attempts": 3, "backoff": "200ms", "jitter": jitter }));
    let back = ep(&t, "back.op");
    let excess: Vec<i64> = series(&with, back, |r| r.arrivals)
        .into_iter()
        .zip(series(&base, back, |r| r.arrivals))
        .map(|(a, b)| a as i64 - b as i64)
        .collect();
    let injected = series(&base, back, |r| r.errors[ErrorClass::Injected as usize]);
    let retries = tally(&with, ep(&t, "front.op")).retries;
    (excess, retries, injected[200], injected[220])
}

/// Windows with retry arrivals, and the largest number in one.
fn spread(excess: &[i64]) -> (usize, i64) {
    (
        excess.iter().filter(|e| **e != 0).count(),
        *excess.iter().max().unwrap(),
    )
}

#[test]
fn without_jitter_retries_arrive_in_waves_at_exact_backoff_offsets() {
    let (excess, retries, f1, f2) = retry_waves("none");
    let waves: Vec<(usize, i64)> = excess
        .iter()
        .enumerate()
        .filter(|(_, e)| **e != 0)
        .map(|(w, e)| (w * 10, *e))
        .collect();
    eprintln!(
        "no jitter: outages failed {f1} and {f2} requests; retry waves (ms, count) {waves:?}"
    );
    assert!(f1 > 20 && f2 > 20, "{f1} {f2}");
    // The first outage's failures come back 200 ms later, all in one 10 ms
    // window, into the second outage; they fail again and come back 400 ms
    // after that. The second outage's own failures come back at +200 ms.
    assert_eq!(
        waves,
        vec![(2200, f1 as i64), (2400, f2 as i64), (2600, f1 as i64)]
    );
    assert_eq!(retries, 2 * f1 + f2);
}

#[test]
fn full_and_equal_jitter_spread_the_waves() {
    let (_, _, f1, f2) = retry_waves("none");
    for (jitter, min_windows) in [("full", 30), ("equal", 15)] {
        let (excess, retries, _, _) = retry_waves(jitter);
        let (windows, peak) = spread(&excess);
        let total: i64 = excess.iter().sum();
        eprintln!(
            "{jitter} jitter: {retries} retries over {windows} windows of 10 ms, peak {peak} \
             (without jitter: 3 windows, peak {})",
            f1.max(f2)
        );
        // Every retry reached the callee, just not in lockstep.
        assert_eq!(total, retries as i64);
        assert!(excess.iter().all(|e| *e >= 0));
        assert!(windows >= min_windows, "{jitter}: {windows} windows");
        assert!(4 * peak <= f1.max(f2) as i64, "{jitter}: peak {peak}");
    }
}

#[test]
fn decorrelated_jitter_spreads_the_first_retry_too() {
    // AWS's decorrelated jitter starts from sleep = base, so the first retry
    // sleeps U(base, 3·base): here 200 to 600 ms, over 40 windows of 10 ms,
    // like the second retries already are.
    let (excess, retries, f1, f2) = retry_waves("decorrelated");
    let (windows, peak) = spread(&excess);
    eprintln!(
        "decorrelated jitter: {retries} retries over {windows} windows; first retries of the \
         outages: {} of {f1} at 2200 ms, {} of {f2} at 2400 ms",
        excess[220], excess[240]
    );
    assert!(
        4 * peak <= f1.max(f2) as i64,
        "peak {peak}: first retries in lockstep"
    );
}

#[test]
fn decorrelated_jitter_grows_from_the_calls_own_sleeps() {
    // Two calls in turn, both failing for good and degrading. The first sleeps
    // 500 ms (up to 1500 ms if its first sleep is drawn from [b, 3b]); the
    // second's backoff is 10 ms, so its sleep is at most 30 ms. A request
    // takes 5 ms + both sleeps: never more than 1535 ms.
    let m = r#"{
        "name": "two-calls", "zones": ["a"],
        "services": {
            "front": { "workers": 10000, "endpoints": { "op": {
                "work": { "constant": "5ms" },
                "calls": {
                    "first": { "to": "back.op", "fallback": "degrade", "retry":
                        { "max_attempts": 2, "backoff": "500ms", "jitter": "decorrelated" } },
                    "second": { "to": "back.op", "fallback": "degrade", "retry":
                        { "max_attempts": 2, "backoff": "10ms", "jitter": "decorrelated" } }
                } } } },
            "back": { "workers": 10000, "endpoints": { "op": { "work": { "constant": "1ms" } } } }
        },
        "workload": { "w": { "endpoint": "front.op", "schedule": [
            { "at": "0s", "rate": "100/s" }, { "at": "8s", "rate": "0/s" } ] } }
    }"#;
    let (_, summary, _) = run_s(m, &errors_fault(1.0, "0s", None), 16, 12);
    let e = &summary.entries[0];
    let mean = e.latency_sum as f64 / e.ok as f64 / 1e6;
    let max = e.latency.max() as f64 / 1e6;
    eprintln!(
        "two decorrelated calls: {} requests, latency mean {mean:.1} ms, max {max:.1} ms \
         (at most 1535 ms)",
        e.ok
    );
    assert_eq!(e.ok, e.arrivals);
    assert!(max <= 1535.0 * 1.01, "max latency {max} ms");
}

// ----- 4. retry budget ------------------------------------------------------------

/// Checks the budget the way the engine applies it: a retry is spent only if
/// the retries of the ten one-second buckets up to now stay within ratio ×
/// first attempts in them + 10 × min_per_s. So at the end of every second
/// that spent one, retries in seconds s-9..=s are within the allowance with
/// that second's first attempts (seconds that spent none may see the window
/// slide past old first attempts). `firsts` counts first attempts per second.
fn check_budget_windows(
    retries: &[u64],
    firsts: &[u64],
    ratio: f64,
    min_per_s: f64,
) -> Result<(), String> {
    for s in (0..retries.len()).filter(|s| retries[*s] > 0) {
        let from = s.saturating_sub(9);
        let r: u64 = retries[from..=s].iter().sum();
        let f: u64 = firsts[from..=s].iter().sum();
        let allowed = ratio * f as f64 + 10.0 * min_per_s;
        if r as f64 > allowed + 1e-9 {
            return Err(format!(
                "seconds {from}..={s}: {r} retries, {f} first attempts"
            ));
        }
    }
    Ok(())
}

#[test]
fn a_retry_budget_caps_retries_at_its_share_of_first_attempts() {
    // Every attempt fails; up to 4 retries each, at once. front's work is 0
    // so a request's first attempt falls in the window of its arrival.
    let faults = errors_fault(1.0, "0s", None);
    let budgeted = |budget: Value| {
        let mut retry = json!({ "max_attempts": 5 });
        if !budget.is_null() {
            retry["budget"] = budget;
        }
        let m = model(call(json!({ "retry": retry })), 1, "0ms", steady(1000));
        let (t, summary, rec) = run_s(&m, &faults, 6, 20);
        let front = ep(&t, "front.op");
        (
            tally(&rec, front),
            tally(&rec, ep(&t, "back.op")),
            series(&rec, front, |r| r.retries),
            series(&rec, front, |r| r.arrivals),
            summary,
        )
    };

    // Unbounded: four retries per request, five times the load on back.
    let (front, back, ..) = budgeted(Value::Null);
    eprintln!(
        "no budget: {} requests, {} retries",
        front.arrivals, front.retries
    );
    assert_eq!(front.retries, 4 * front.arrivals);
    assert_eq!(back.arrivals, 5 * front.arrivals);

    // 10 % and nothing per second: retries stay at a tenth of first attempts,
    // and the budget is spent (the demand is 40 times larger).
    let (front, back, retries, firsts, _) = budgeted(json!({ "ratio": 0.1, "min_per_s": 0 }));
    let share = front.retries as f64 / front.arrivals as f64;
    eprintln!(
        "budget 10 %: {} requests, {} retries ({share:.4} per request)",
        front.arrivals, front.retries
    );
    assert!(share <= 0.1 && share > 0.095, "{share}");
    assert_eq!(back.arrivals, front.arrivals + front.retries);
    check_budget_windows(&retries, &firsts, 0.1, 0.0).unwrap();

    // A floor of 5 per second adds up to 50 per ten seconds.
    let (front, _, retries, firsts, _) = budgeted(json!({ "ratio": 0.1, "min_per_s": 5 }));
    eprintln!(
        "budget 10 % + 5/s: {} requests, {} retries",
        front.arrivals, front.retries
    );
    assert!(front.retries as f64 <= 0.1 * front.arrivals as f64 + 5.0 * 20.0);
    assert!(front.retries as f64 > 0.1 * front.arrivals as f64);
    check_budget_windows(&retries, &firsts, 0.1, 5.0).unwrap();
}

#[test]
fn a_budget_that_never_binds_changes_nothing() {
    // 30 % failures and 3 attempts need 0.39 retries per request: a budget of
    // one per request (plus 1/s) never refuses one, so the run is the same.
    let faults = errors_fault(0.3, "0s", None);
    let digest = |retry: Value| {
        let m = model(call(json!({ "retry": retry })), 1, "1ms", steady(500));
        let (t, summary, rec) = run_s(&m, &faults, 8, 10);
        (
            summary.trace_digest,
            tally(&rec, ep(&t, "front.op")).retries,
        )
    };
    let free = digest(json!({ "max_attempts": 3 }));
    let budgeted = digest(json!({ "max_attempts": 3, "budget": { "ratio": 1.0, "min_per_s": 1 } }));
    eprintln!("unbinding budget: {} retries either way", free.1);
    assert_eq!(free, budgeted);
}

// ----- 5. circuit breaker ---------------------------------------------------------

const BREAKER_10_OF_20: &str = r#"{ "failure_rate": 0.5, "window": 20, "min_calls": 10,
    "open_for": "2s", "half_open_calls": 3 }"#;

fn breaker(spec: &str) -> Value {
    serde_json::from_str(spec).unwrap()
}

#[test]
fn a_breaker_opens_half_opens_reopens_and_closes_as_the_callee_fails_and_heals() {
    // 200 calls/s, all failing from 5 s to 9 s. The window holds 20 successes
    // at 5 s, so the breaker opens at the 10th failure (≈ 5.05 s); 2 s later
    // the next call is a test call, fails, and opens it again; 2 s after that
    // the callee is healthy: three test calls succeed and it closes.
    let m = model(
        call(json!({ "circuit_breaker": breaker(BREAKER_10_OF_20) })),
        1,
        "1ms",
        steady(200),
    );
    let (t, _, rec) = run_s(&m, &errors_fault(1.0, "5s", Some("4s")), 5, 15);
    let log = breaker_log(&t, &rec);
    let times: Vec<f64> = log.iter().map(|e| secs(e.0)).collect();
    eprintln!("breaker: {:?} at {times:?} s", names(&log));
    assert_eq!(
        names(&log),
        [
            "breaker_opened",
            "breaker_half_open",
            "breaker_opened",
            "breaker_half_open",
            "breaker_closed"
        ]
    );
    assert!(log.iter().all(|e| e.2 == "front-a-1"));
    let [opened, half, reopened, half_again, closed] = [0, 1, 2, 3, 4].map(|i| log[i].0);
    assert!(
        (5 * SECOND..5 * SECOND + 200 * MS).contains(&opened),
        "{opened}"
    );
    // Half-open on the first call after open_for (the next arrival, ~5 ms
    // apart at 200/s, plus 1 ms of work).
    let open_for = 2 * SECOND;
    assert!((opened + open_for..opened + open_for + 50 * MS).contains(&half));
    // The test call fails at once: open again at the same instant.
    assert_eq!(reopened, half);
    assert!((reopened + open_for..reopened + open_for + 50 * MS).contains(&half_again));
    assert!(half_again > 9 * SECOND);
    // Three test calls of 1 ms each, admitted as calls come.
    assert!(
        closed > half_again && closed - half_again < 100 * MS,
        "{closed}"
    );

    // Exactly 10 failures opened it and one test call failed: 11 injected.
    let back = tally(&rec, ep(&t, "back.op"));
    assert_eq!(back.err(ErrorClass::Injected), 11);
    // While open the calls fail at once, unsent: nothing reaches back in the
    // whole seconds 6 and 8, and 7 holds the one test call.
    let front_ep = ep(&t, "front.op");
    let back_ep = ep(&t, "back.op");
    for s in [6, 8] {
        let front = tally_in(&rec, front_ep, s * SECOND, (s + 1) * SECOND);
        let back = tally_in(&rec, back_ep, s * SECOND, (s + 1) * SECOND);
        eprintln!(
            "second {s}: front {} arrivals, {} circuit_open; back {} arrivals",
            front.arrivals,
            front.err(ErrorClass::CircuitOpen),
            back.arrivals
        );
        assert_eq!(back.arrivals, 0);
        assert!(front.only(ErrorClass::CircuitOpen));
        assert!(front.arrivals > 150);
        assert_eq!(
            front.err(ErrorClass::CircuitOpen),
            front.ok + front.failed()
        );
    }
    assert_eq!(tally_in(&rec, back_ep, 7 * SECOND, 8 * SECOND).arrivals, 1);
    // Closed again: every call goes through and succeeds.
    let front = tally_in(&rec, front_ep, 10 * SECOND, 15 * SECOND);
    let back = tally_in(&rec, back_ep, 10 * SECOND, 15 * SECOND);
    assert_eq!(front.failed(), 0);
    assert_eq!(back.failed(), 0);
    assert_eq!(back.arrivals, front.arrivals);
}

#[test]
fn an_open_breaker_turns_half_open_only_when_a_call_asks() {
    // Calls stop at 6 s and resume at 12 s; the breaker opened at ≈ 5.05 s
    // and its 2 s were up at ≈ 7.05 s, but nobody asked until 12 s.
    let workload = json!({ "endpoint": "front.op", "schedule": [
        { "at": "0s", "rate": "200/s" },
        { "at": "6s", "rate": "0/s" },
        { "at": "12s", "rate": "200/s" }
    ] });
    let m = model(
        call(json!({ "circuit_breaker": breaker(BREAKER_10_OF_20) })),
        1,
        "1ms",
        workload,
    );
    let (t, _, rec) = run_s(&m, &errors_fault(1.0, "5s", Some("5s")), 5, 15);
    let log = breaker_log(&t, &rec);
    let times: Vec<f64> = log.iter().map(|e| secs(e.0)).collect();
    eprintln!("lazy breaker: {:?} at {times:?} s", names(&log));
    assert_eq!(
        names(&log),
        ["breaker_opened", "breaker_half_open", "breaker_closed"]
    );
    assert!((5 * SECOND..5 * SECOND + 200 * MS).contains(&log[0].0));
    assert!((12 * SECOND..12 * SECOND + 50 * MS).contains(&log[1].0));
    assert!(log[2].0 - log[1].0 < 100 * MS);
    assert_eq!(tally(&rec, ep(&t, "back.op")).err(ErrorClass::Injected), 10);
}

#[test]
fn each_caller_instance_has_a_breaker_that_judges_after_min_calls() {
    // Two front instances, round robin; back fails everything from the start.
    // With min_calls 5 each breaker opens at its own 5th failure, then lets
    // one test call through every 2 s, which fails and opens it again.
    let spec = r#"{ "failure_rate": 0.5, "window": 20, "min_calls": 5, "open_for": "2s" }"#;
    let m = model(
        call(json!({ "circuit_breaker": breaker(spec) })),
        2,
        "1ms",
        steady(200),
    );
    let (t, _, rec) = run_s(&m, &errors_fault(1.0, "0s", None), 7, 10);
    let log = breaker_log(&t, &rec);
    let back = tally(&rec, ep(&t, "back.op"));
    let front = tally(&rec, ep(&t, "front.op"));
    for instance in ["front-a-1", "front-a-2"] {
        let mine: Vec<_> = log.iter().filter(|e| e.2 == instance).cloned().collect();
        let times: Vec<f64> = mine.iter().map(|e| secs(e.0)).collect();
        eprintln!("{instance}: {:?} at {times:?} s", names(&mine));
        assert!(mine[0].1 == "breaker_opened" && mine[0].0 < 200 * MS);
        // Opened at ~0.05 s, then a failed test call at ~2, 4, 6 and 8 s.
        let halves = mine.iter().filter(|e| e.1 == "breaker_half_open").count();
        let opens = mine.iter().filter(|e| e.1 == "breaker_opened").count();
        assert_eq!((halves, opens), (4, 5));
    }
    assert!(!names(&log).contains(&"breaker_closed"));
    // Five failures per instance opened them; each test call failed once.
    assert_eq!(
        tally_in(&rec, ep(&t, "back.op"), 0, SECOND).arrivals,
        10,
        "5 calls per caller instance"
    );
    assert_eq!(back.arrivals, 10 + 8);
    assert!(back.only(ErrorClass::Injected));
    assert_eq!(front.err(ErrorClass::Injected), back.arrivals);
    assert_eq!(
        front.err(ErrorClass::CircuitOpen),
        front.arrivals - back.arrivals
    );
    eprintln!(
        "per-instance breakers: {} requests, {} reached back, {} circuit_open",
        front.arrivals,
        back.arrivals,
        front.err(ErrorClass::CircuitOpen)
    );
}

#[test]
fn slow_answers_open_a_breaker_with_a_slow_call_threshold() {
    // back answers in 201 ms from 5 s to 8 s: successes, but slower than the
    // 100 ms threshold, so each counts as a failure when it is answered. The
    // first slow answer comes at 5.201 s; ten of them (≈ 50 ms of calls at
    // 200/s) open the breaker.
    let slow = r#"{ "slow": { "kind": "latency", "target": "back", "add": { "constant": "200ms" },
        "at": "5s", "for": "3s" } }"#;
    let run = |spec: &str| {
        let m = model(
            call(json!({ "circuit_breaker": breaker(spec) })),
            1,
            "1ms",
            steady(200),
        );
        run_s(&m, slow, 10, 12)
    };
    let (t, _, rec) = run(
        r#"{ "failure_rate": 0.5, "window": 20, "min_calls": 10, "slow_call": "100ms",
             "open_for": "1s" }"#,
    );
    let log = breaker_log(&t, &rec);
    let times: Vec<f64> = log.iter().map(|e| secs(e.0)).collect();
    eprintln!("slow calls: {:?} at {times:?} s", names(&log));
    assert_eq!(log[0].1, "breaker_opened");
    assert!(
        (5201 * MS..5400 * MS).contains(&log[0].0),
        "opened at {}",
        log[0].0
    );
    // Closed once the latency is gone, not before.
    let last = log.last().unwrap();
    assert_eq!(last.1, "breaker_closed");
    assert!(last.0 > 8 * SECOND);
    assert_eq!(
        log.iter().filter(|e| e.1 == "breaker_closed").count(),
        1,
        "{log:?}"
    );
    let front = tally(&rec, ep(&t, "front.op"));
    let back = tally(&rec, ep(&t, "back.op"));
    assert_eq!(back.failed(), 0);
    assert!(front.only(ErrorClass::CircuitOpen));
    assert!(front.failed() > 300, "{front:?}");

    // Without the threshold the same latency opens nothing.
    let (t, _, rec) = run(r#"{ "failure_rate": 0.5, "window": 20, "open_for": "1s" }"#);
    assert!(breaker_log(&t, &rec).is_empty());
    assert_eq!(tally(&rec, ep(&t, "front.op")).failed(), 0);
}

// ----- 6. fallbacks ---------------------------------------------------------------

#[test]
fn a_degrade_fallback_turns_a_failed_call_into_a_degraded_success() {
    let p = 0.3;
    let faults = errors_fault(p, "0s", None);
    let with = |settings: Value| {
        let m = model(call(settings), 1, "1ms", until(1000, 9));
        let (t, summary, rec) = run_s(&m, &faults, 14, 10);
        assert_eq!(summary.in_flight_at_end, 0);
        (
            tally(&rec, ENTRY),
            tally(&rec, ep(&t, "front.op")),
            tally(&rec, ep(&t, "back.op")),
        )
    };

    let (entry, front, back) = with(json!({ "fallback": "degrade" }));
    let share = front.degraded as f64 / front.arrivals as f64;
    eprintln!(
        "degrade: {} requests, {} degraded ({share:.4}), {} errors",
        front.arrivals,
        front.degraded,
        front.failed()
    );
    assert_eq!(front.ok, front.arrivals);
    assert_eq!(front.degraded, back.err(ErrorClass::Injected));
    assert_eq!((entry.ok, entry.failed()), (entry.arrivals, 0));
    assert_eq!(entry.degraded, front.degraded);
    assert!((share - p).abs() < 5.0 * (p * (1.0 - p) / front.arrivals as f64).sqrt());

    let (entry, front, back) = with(json!({ "fallback": "fail" }));
    eprintln!(
        "fail: {} requests, {} errors",
        front.arrivals,
        front.failed()
    );
    assert_eq!(front.degraded, 0);
    assert_eq!(
        front.err(ErrorClass::Injected),
        back.err(ErrorClass::Injected)
    );
    assert!(front.only(ErrorClass::Injected));
    assert_eq!(entry.failed(), front.failed());
    assert_eq!(entry.degraded, 0);

    // Retries first, then the fallback: only the p³ that fail three times
    // degrade.
    let (_, front, back) = with(json!({ "retry": { "max_attempts": 3 }, "fallback": "degrade" }));
    let share = front.degraded as f64 / front.arrivals as f64;
    eprintln!("retry then degrade: {share:.4} degraded (p³ = 0.027)");
    assert_eq!(front.failed(), 0);
    assert_eq!(
        back.err(ErrorClass::Injected),
        front.retries + front.degraded
    );
    assert!((share - 0.027).abs() < 0.008, "{share}");
}

#[test]
fn calls_refused_by_an_open_breaker_degrade_too() {
    // back fails everything from 2 s; the breaker opens at the 10th failure
    // and stays open (each test call fails). Every request succeeds: the
    // failed and the unsent calls alike fall back.
    let m = model(
        call(json!({ "circuit_breaker": breaker(BREAKER_10_OF_20), "fallback": "degrade" })),
        1,
        "1ms",
        until(200, 9),
    );
    let (t, _, rec) = run_s(&m, &errors_fault(1.0, "2s", None), 15, 10);
    let entry = tally(&rec, ENTRY);
    let front = tally_in(&rec, ep(&t, "front.op"), 2 * SECOND, 10 * SECOND);
    let back = tally(&rec, ep(&t, "back.op"));
    eprintln!(
        "breaker + degrade: {} requests since 2 s, {} degraded, {} reached back and failed",
        front.arrivals,
        front.degraded,
        back.err(ErrorClass::Injected)
    );
    assert_eq!((entry.ok, entry.failed()), (entry.arrivals, 0));
    assert_eq!(front.degraded, front.arrivals);
    assert_eq!(entry.degraded, front.degraded);
    // 10 failures opened it, one failed test call every 2 s (≈ 4, 6, 8 s).
    assert_eq!(back.err(ErrorClass::Injected), 13);
}

// ----- 7. determinism ---------------------------------------------------------------

#[test]
fn resilience_runs_repeat_exactly_under_the_same_seed() {
    let slow = r#"{ "slow": { "kind": "latency", "target": "back", "add": { "constant": "200ms" },
        "at": "3s", "for": "3s" } }"#;
    let cases = [
        (
            model(
                call(
                    json!({ "retry": { "max_attempts": 4, "backoff": "20ms", "jitter": "full",
                                        "budget": { "ratio": 0.2 } } }),
                ),
                2,
                "1ms",
                steady(500),
            ),
            errors_fault(0.4, "2s", Some("5s")),
        ),
        (
            model(
                call(
                    json!({ "retry": { "max_attempts": 3, "backoff": "10ms", "jitter": "decorrelated" },
                             "fallback": "degrade" }),
                ),
                1,
                "1ms",
                steady(500),
            ),
            errors_fault(0.5, "1s", None),
        ),
        (
            model(
                call(json!({ "timeout": "150ms",
                             "retry": { "max_attempts": 2, "jitter": "equal", "backoff": "50ms" },
                             "circuit_breaker": { "failure_rate": 0.5, "window": 10,
                                                  "slow_call": "100ms", "open_for": "500ms" } })),
                2,
                "1ms",
                steady(300),
            ),
            slow.to_string(),
        ),
        (
            model(
                call(json!({ "circuit_breaker": breaker(BREAKER_10_OF_20) })),
                1,
                "1ms",
                steady(200),
            ),
            errors_fault(1.0, "2s", Some("4s")),
        ),
    ];
    for (m, faults) in &cases {
        let (_, a, rec_a) = run_s(m, faults, 21, 8);
        let (_, b, rec_b) = run_s(m, faults, 21, 8);
        let (_, c, _) = run_s(m, faults, 22, 8);
        eprintln!(
            "digest {} ({} events, {} state changes); seed 22: {}",
            a.trace_digest, a.events, a.state_changes, c.trace_digest
        );
        assert!(a.state_changes > 0);
        assert_eq!(a.trace_digest, b.trace_digest);
        assert_eq!(a.events, b.events);
        assert_eq!(rec_a.events, rec_b.events);
        let retries = |rec: &Recorder| rec.rows.iter().map(|r| r.retries).collect::<Vec<_>>();
        assert_eq!(retries(&rec_a), retries(&rec_b));
        assert_ne!(a.trace_digest, c.trace_digest);
    }
}

// ----- 8. swarm -------------------------------------------------------------------

const JITTERS: [&str; 4] = ["none", "full", "equal", "decorrelated"];

/// One drawn case.
#[derive(Clone, Debug)]
struct Swarm {
    model: String,
    faults: String,
    max_attempts: u32,
    /// (ratio, min_per_s)
    budget: Option<(f64, f64)>,
    /// `on` names circuit_open.
    retries_open: bool,
    degrade: bool,
    seed: u64,
}

/// Random retry and breaker settings on the two-service model, with a random
/// errors fault on back.
fn swarm_strategy() -> impl Strategy<Value = Swarm> {
    let retry = (
        1u32..=5,                               // max attempts
        0u64..=100,                             // backoff, ms
        0u32..=4,                               // multiplier 1 + k/2
        prop::option::of(0u64..=300),           // max_backoff - backoff, ms
        0usize..4,                              // jitter
        0usize..4,                              // on
        prop::option::of((0u32..=5, 0u32..=3)), // budget: ratio in tenths, min per s
    );
    let breaker = prop::option::of((
        1u32..=10,                   // failure rate in tenths
        1u32..=30,                   // window
        1u32..=30,                   // min calls (clamped to the window)
        prop::option::of(5u64..=60), // slow call, ms
        10u64..=2000,                // open for, ms
        1u32..=5,                    // half-open calls
    ));
    let rest = (
        (1u32..=2, 1u32..=2),              // front, back instances
        (1u32..=20, 0u32..=40),            // back workers, queue
        1u64..=20,                         // back mean work, ms
        prop::option::of(5u64..=100),      // call timeout, ms
        any::<bool>(),                     // degrade
        (1u32..=20, 0u64..=15, 1u64..=10), // fault: fraction in 20ths, at s, for s
        50u32..=400,                       // rate per second
        0u64..1000,                        // seed
    );
    (prop::option::of(retry), breaker, rest).prop_map(|(retry, breaker, rest)| {
        let ((front_n, back_n), (workers, queue), mean, timeout, degrade, fault, rate, seed) = rest;
        let mut call = json!({ "to": "back.op", "fallback": if degrade { "degrade" } else { "fail" } });
        if let Some(ms) = timeout {
            call["timeout"] = json!(format!("{ms}ms"));
        }
        let mut max_attempts = 1;
        let mut budget = None;
        let mut retries_open = false;
        if let Some((n, backoff, mult, cap, jitter, on, b)) = retry {
            max_attempts = n;
            let mut r = json!({
                "max_attempts": n,
                "backoff": format!("{backoff}ms"),
                "multiplier": 1.0 + mult as f64 / 2.0,
                "jitter": JITTERS[jitter],
            });
            if let Some(extra) = cap {
                r["max_backoff"] = json!(format!("{}ms", backoff + extra));
            }
            match on {
                1 => r["on"] = json!(["injected"]),
                2 => r["on"] = json!(["timeout", "queue_full"]),
                3 => {
                    r["on"] = json!(["circuit_open", "injected", "timeout"]);
                    retries_open = true;
                }
                _ => {}
            }
            if let Some((ratio, min)) = b {
                r["budget"] = json!({ "ratio": ratio as f64 / 10.0, "min_per_s": min });
                budget = Some((ratio as f64 / 10.0, min as f64));
            }
            call["retry"] = r;
        }
        if let Some((rate10, window, min_calls, slow, open_for, half)) = breaker {
            let mut b = json!({
                "failure_rate": rate10 as f64 / 10.0,
                "window": window,
                "min_calls": min_calls.min(window),
                "open_for": format!("{open_for}ms"),
                "half_open_calls": half,
            });
            if let Some(ms) = slow {
                b["slow_call"] = json!(format!("{ms}ms"));
            }
            call["circuit_breaker"] = b;
        }
        // Load for 20 s, then none: 20 s to drain.
        let model = json!({
            "name": "resilience-swarm",
            "zones": ["a", "b"],
            "services": {
                "front": {
                    "instances": { "count": front_n },
                    "workers": 10000, "queue": 1000,
                    "endpoints": { "op": { "work": { "constant": "0ms" }, "calls": { "back": call } } }
                },
                "back": {
                    "instances": { "count": back_n },
                    "workers": workers, "queue": queue,
                    "endpoints": { "op": { "work": { "exponential": { "mean": format!("{mean}ms") } } } }
                }
            },
            "workload": { "w": until(rate, 20) }
        });
        let (twentieths, at, lasting) = fault;
        let faults = json!({ "flaky": {
            "kind": "errors", "target": "back", "fraction": twentieths as f64 / 20.0,
            "at": format!("{at}s"), "for": format!("{lasting}s")
        } })
        .to_string();
        Swarm {
            model: model.to_string(),
            faults,
            max_attempts,
            budget,
            retries_open,
            degrade,
            seed,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_retry_and_breaker_settings_conserve_requests_and_respect_their_limits(
        case in swarm_strategy()
    ) {
        let Swarm { model, faults, max_attempts, budget, retries_open, degrade, seed } = case;
        let (t, summary, rec) = run_s(&model, &faults, seed, 40);
        // Drained: nothing in flight, no queue, worker or connection in use.
        prop_assert_eq!(summary.in_flight_at_end, 0);
        for r in rec.rows.iter().filter(|r| r.window_start == 39 * SECOND) {
            prop_assert_eq!((r.queue.1, r.busy.1, r.in_use.1, r.waiters.1), (0, 0, 0, 0));
        }
        // Conserved: at every endpoint and entry, arrivals = ok + errors.
        for c in [ENTRY, ep(&t, "front.op"), ep(&t, "back.op")] {
            let x = tally(&rec, c);
            prop_assert_eq!(x.arrivals, x.ok + x.failed(), "{:?}", c);
        }
        let front = tally(&rec, ep(&t, "front.op"));
        let back = tally(&rec, ep(&t, "back.op"));
        // front has no work and ample workers: every request makes its first
        // attempt in the window it arrived.
        let firsts = front.arrivals;
        prop_assert!(front.retries <= (max_attempts as u64 - 1) * firsts);
        // Every attempt not stopped by the breaker reaches back.
        prop_assert!(back.arrivals <= firsts + front.retries);
        if !retries_open && !degrade {
            // An attempt the breaker refuses is final (circuit_open is not
            // retried) and fails the request: attempts are accounted exactly.
            prop_assert_eq!(
                back.arrivals + front.err(ErrorClass::CircuitOpen),
                firsts + front.retries
            );
        }
        if let Some((ratio, min_per_s)) = budget {
            let retries = series(&rec, ep(&t, "front.op"), |r| r.retries);
            let arrivals = series(&rec, ep(&t, "front.op"), |r| r.arrivals);
            if let Err(e) = check_budget_windows(&retries, &arrivals, ratio, min_per_s) {
                prop_assert!(false, "budget ({}, {}) exceeded: {}", ratio, min_per_s, e);
            }
            // Over the run: the share, the floor, and one window's worth of
            // slack for a burst the sliding window allows at its edge.
            let busiest = (0..arrivals.len())
                .map(|s| arrivals[s.saturating_sub(9)..=s].iter().sum::<u64>())
                .max()
                .unwrap_or(0);
            let bound = ratio * firsts as f64 + min_per_s * 40.0 + ratio * busiest as f64;
            prop_assert!(front.retries as f64 <= bound, "{} retries > {}", front.retries, bound);
        }
        // The same seed walks the same path.
        let (_, again, _) = run_s(&model, &faults, seed, 40);
        prop_assert_eq!(summary.trace_digest, again.trace_digest);
    }
}

#[test]
fn resilience4j_s_half_open_rule_closes_a_breaker_on_a_callee_that_mostly_works_again() {
    // The callee is down for 10 s, then fails 20 % of calls for a minute:
    // mostly working again, well under the breaker's 50 % threshold (a
    // window of 50 calls rarely reaches it). Half-open, the all-succeed rule
    // closes only if 5 calls in a row succeed (a third of the time at 20 %
    // errors), and stays open 2 s more each time it does not;
    // resilience4j's rule reopens only when 3 of the 5 fail (6 %).
    let model = |rule: &str| {
        format!(
            r#"{{
            "name": "b", "zones": ["z"],
            "services": {{
                "front": {{ "workers": 100, "endpoints": {{ "op": {{ "work": {{ "constant": "1ms" }},
                    "calls": {{ "c": {{ "to": "back.op", "timeout": "1s",
                        "circuit_breaker": {{ "failure_rate": 0.5, "window": 50, "open_for": "2s",
                                              "half_open_calls": 5, "half_open_rule": "{rule}" }} }} }} }} }} }},
                "back": {{ "workers": 100, "endpoints": {{ "op": {{ "work": {{ "constant": "2ms" }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "front.op", "rate": "200/s" }} }}
        }}"#
        )
    };
    let faults = r#"{"down": {"kind": "errors", "target": "back", "fraction": 1.0, "at": "10s", "for": "10s"},
                     "flaky": {"kind": "errors", "target": "back", "fraction": 0.2, "at": "20s", "for": "60s"}}"#;
    // Calls refused by an open breaker once the callee works again, over
    // eight seeds: how long each rule keeps it open for nothing.
    let refused_after = |rule: &str| -> u64 {
        (1..=8)
            .map(|seed| {
                let (_, _, rec) = run_with_faults(&model(rule), faults, seed, 80, 5);
                rec.rows
                    .iter()
                    .filter(|r| r.component == Component::Entry(0) && r.window_start >= 21 * SECOND)
                    .map(|r| r.errors[ErrorClass::CircuitOpen as usize])
                    .sum::<u64>()
            })
            .sum()
    };
    let (all, rate) = (refused_after("all_succeed"), refused_after("failure_rate"));
    assert!(
        all > 2 * rate,
        "all_succeed refused {all}, failure_rate {rate}"
    );
}
