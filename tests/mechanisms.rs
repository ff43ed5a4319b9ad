//! Each mechanism of the engine, asserted on numbers a run produced: queue
//! limits, call timeouts, connection pools, error propagation, probabilistic
//! calls, load balancing, rate schedules, warm-up, bounded memory and common
//! random numbers. Models are small and inline; every run is seeded, so each
//! assertion is deterministic, and statistical tolerances are several
//! standard deviations wide.

use faultline::base::ErrorClass;
use faultline::observe::events::StateChange;
use faultline::observe::metrics::Row;
use faultline::sim::RunSummary;
use faultline::topology::Component;
use faultline::topology::Topology;

use crate::common::*;

// ----- helpers ----------------------------------------------------------------

const ENTRY: Component = Component::Entry(0);
const POOL: Component = Component::Pool(0);

/// The rows of one component whose window starts at or after `from_s`.
fn rows_from(rows: &[Row], component: Component, from_s: u64) -> Vec<&Row> {
    rows.iter()
        .filter(|r| r.component == component && r.window_start >= from_s * SECOND)
        .collect()
}

fn rows_of(rows: &[Row], component: Component) -> Vec<&Row> {
    rows_from(rows, component, 0)
}

/// Mean wait for a worker over the rows, weighting each window's exact mean
/// by its completions (which differ from its starts by at most the workers
/// in service at the window's edges).
fn mean_wait(rows: &[&Row]) -> f64 {
    let weighted: f64 = rows.iter().map(|r| r.mean_wait * r.ok as f64).sum();
    weighted / sum(rows, |r| r.ok) as f64
}

const MS: f64 = 1e6;

// ----- queue full -------------------------------------------------------------

#[test]
fn a_full_queue_rejects_and_bounds_the_wait() {
    // One worker, queue of 2, constant work S = 10 ms (capacity 100/s),
    // offered 1000/s: ~90 % of requests find the worker busy and both queue
    // places taken and are rejected at once.
    let t = topology(
        r#"{
            "name": "queue-full", "zones": ["z"],
            "services": { "s": { "workers": 1, "queue": 2,
                "endpoints": { "e": { "work": { "constant": "10ms" } } } } },
            "workload": { "w": { "endpoint": "s.e", "rate": "1000/s" } }
        }"#,
    );
    let (summary, rec) = run(&t, 1, 30, 5);
    let entry = &summary.entries[0];
    let rejected = entry.errors[ErrorClass::QueueFull as usize];
    assert!(rejected > 0);
    assert!(
        only_class(&entry.errors, ErrorClass::QueueFull),
        "{:?}",
        entry.errors
    );
    // Throughput is the capacity, 1/S = 100/s; the rest is rejected.
    let served = entry.ok as f64 / 25.0;
    assert!((served - 100.0).abs() < 1.0, "throughput {served}/s");
    let reject_share = rejected as f64 / entry.arrivals as f64;
    assert!((reject_share - 0.9).abs() < 0.01, "rejected {reject_share}");
    // The endpoint records the rejection as the callee that refused it.
    let e = rows_of(&rec.rows, endpoint(&t, "s.e"));
    assert_eq!(
        errors(&e, ErrorClass::QueueFull),
        errors(&rows_of(&rec.rows, ENTRY), ErrorClass::QueueFull)
    );

    // An accepted request finds at most the request in service (≤ S left)
    // and one queued ahead of it: wait ≤ 2S, latency ≤ 3S. Under this
    // overload the queue is nearly always full, so the mean wait is well
    // above one S. (Histogram values carry 1 % resolution.)
    let wait = mean_wait(&e);
    assert!(
        wait <= 20.0 * MS && wait > 10.0 * MS,
        "mean wait {} ms",
        wait / MS
    );
    let max_latency = rows_of(&rec.rows, ENTRY)
        .iter()
        .map(|r| r.latency.max)
        .max()
        .unwrap();
    assert!(
        max_latency as f64 <= 30.0 * MS * 1.01,
        "max latency {} ms",
        max_latency as f64 / MS
    );
    let s = rows_from(&rec.rows, service(&t, "s"), 5);
    assert!(s.iter().all(|r| r.queue.1 <= 2 && r.busy.1 <= 1));
    assert!(mean_level(&s, |r| r.queue.0) > 1.5);

    // The instance reports the saturation as a state event, and recovers
    // (outstanding ≤ (1 + 2)/2) in between: the events alternate.
    let instance = t.services[service_id(&t, "s") as usize].instances.start;
    assert!(!rec.events.is_empty());
    assert_eq!(rec.events[0].change, StateChange::QueueFull { instance });
    for (k, event) in rec.events.iter().enumerate() {
        let expected = if k % 2 == 0 {
            StateChange::QueueFull { instance }
        } else {
            StateChange::QueueRecovered { instance }
        };
        assert_eq!(event.change, expected, "event {k}");
    }
}

// ----- timeouts -----------------------------------------------------------------

/// front (10 ms of work) calls back (500 ms) with a 100 ms timeout.
fn timeout_model(workload: &str) -> Topology {
    topology(&format!(
        r#"{{
            "name": "timeout", "zones": ["z"],
            "services": {{
                "front": {{ "workers": 1000, "endpoints": {{ "get": {{
                    "work": {{ "constant": "10ms" }},
                    "calls": {{ "slow": {{ "to": "back.slow", "timeout": "100ms" }} }} }} }} }},
                "back": {{ "workers": 1000, "endpoints": {{ "slow": {{
                    "work": {{ "constant": "500ms" }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "front.get", {workload} }} }}
        }}"#
    ))
}

#[test]
fn a_timed_out_call_fails_the_caller_and_still_occupies_the_callee() {
    let t = timeout_model(r#""rate": "100/s""#);
    let (summary, rec) = run(&t, 2, 60, 5);

    // Every request fails: the front's call times out after 100 ms; the
    // front fails with Timeout and the entry, its parent, records Timeout.
    let entry = &summary.entries[0];
    assert_eq!(entry.ok, 0);
    assert!(
        only_class(&entry.errors, ErrorClass::Timeout),
        "{:?}",
        entry.errors
    );
    let timeouts = entry.errors[ErrorClass::Timeout as usize];
    // The summary counts by window: failures of the last ~11 arrivals
    // before the warm-up's end are in, those of the last ~11 of the run
    // are not.
    assert!(
        timeouts.abs_diff(entry.arrivals) <= 30,
        "{timeouts} of {}",
        entry.arrivals
    );
    let front = rows_of(&rec.rows, endpoint(&t, "front.get"));
    assert_eq!(sum(&front, |r| r.ok), 0);
    assert_eq!(
        errors(&front, ErrorClass::Timeout),
        errors(&rows_of(&rec.rows, ENTRY), ErrorClass::Timeout)
    );
    assert!(only_class(&all_errors(&front), ErrorClass::Timeout));

    // The front holds its worker for its work then for the call until the
    // timer fires: 10 + 100 = 110 ms per request. By Little's law the busy
    // time-average divided by the request rate is that holding time.
    let front_service = rows_from(&rec.rows, service(&t, "front"), 5);
    let front_rows = rows_from(&rec.rows, endpoint(&t, "front.get"), 5);
    let rate = sum(&front_rows, |r| r.arrivals) as f64 / front_rows.len() as f64;
    let holding = mean_level(&front_service, |r| r.busy.0) / rate;
    assert!((holding - 0.110).abs() < 0.002, "front holds {holding} s");

    // The callee is not told: it finishes all 500 ms of each call, and its
    // own endpoint counts those as successes, so its busy level is
    // rate × 0.5 s, five times what the caller waited for.
    let back = rows_of(&rec.rows, endpoint(&t, "back.slow"));
    assert_eq!(errors(&back, ErrorClass::Timeout), 0);
    assert!(sum(&back, |r| r.ok) + 60 >= sum(&back, |r| r.arrivals));
    let back_service = rows_from(&rec.rows, service(&t, "back"), 5);
    let back_rows = rows_from(&rec.rows, endpoint(&t, "back.slow"), 5);
    let back_rate = sum(&back_rows, |r| r.arrivals) as f64 / back_rows.len() as f64;
    let back_holding = mean_level(&back_service, |r| r.busy.0) / back_rate;
    assert!(
        (back_holding - 0.5).abs() < 0.01,
        "back holds {back_holding} s"
    );
    let back_latency = back.iter().map(|r| r.latency.max).max().unwrap() as f64;
    assert!((back_latency / (500.0 * MS) - 1.0).abs() < 0.01);
}

#[test]
fn a_timeout_fails_the_request_exactly_at_work_plus_timeout() {
    // Failures are recorded in the window in which they happen. Requests
    // arriving in [0.5 s, 0.889 s) fail 110 ms later, before 1 s: all in
    // window 0. Requests arriving in [0.891 s, 1 s) fail after 1 s: all in
    // window 1. Together: failure latency ∈ (109 ms, 111 ms).
    let early = timeout_model(
        r#""schedule": [{ "at": "500ms", "rate": "1000/s" }, { "at": "889ms", "rate": "0/s" }]"#,
    );
    let (_, rec) = run(&early, 3, 3, 0);
    let entry = rows_of(&rec.rows, ENTRY);
    assert!(entry[0].arrivals > 300);
    assert_eq!(
        entry[0].errors[ErrorClass::Timeout as usize],
        entry[0].arrivals
    );
    assert_eq!(entry[1].errors[ErrorClass::Timeout as usize], 0);

    let late = timeout_model(
        r#""schedule": [{ "at": "891ms", "rate": "1000/s" }, { "at": "1s", "rate": "0/s" }]"#,
    );
    let (_, rec) = run(&late, 3, 3, 0);
    let entry = rows_of(&rec.rows, ENTRY);
    assert!(entry[0].arrivals > 60);
    assert_eq!(entry[0].errors[ErrorClass::Timeout as usize], 0);
    assert_eq!(
        entry[1].errors[ErrorClass::Timeout as usize],
        entry[0].arrivals
    );
}

// ----- connection pools -------------------------------------------------------

/// front (5 ms) calls back (50 ms) through a pool of one connection.
fn pool_model(acquire_timeout: &str) -> Topology {
    topology(&format!(
        r#"{{
            "name": "pool", "zones": ["z"],
            "services": {{
                "front": {{ "workers": 1000, "endpoints": {{ "get": {{
                    "work": {{ "constant": "5ms" }},
                    "calls": {{ "read": {{ "to": "back.read",
                        "pool": {{ "size": 1, "acquire_timeout": "{acquire_timeout}" }} }} }} }} }} }},
                "back": {{ "workers": 1000, "endpoints": {{ "read": {{
                    "work": {{ "constant": "50ms" }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "front.get", "rate": "100/s" }} }}
        }}"#
    ))
}

#[test]
fn an_exhausted_pool_fails_calls_after_the_acquire_timeout() {
    // One connection held 50 ms per call serves at most 20 calls/s; 100/s
    // are offered, so most calls wait 10 ms for a connection and fail.
    //
    // When the connection comes back it goes at once to a live waiter: one
    // exists unless no call arrived in the last 10 ms, probability
    // e^(−λ·10 ms) = e^(−1). Otherwise it idles until the next call, on
    // average 1/λ = 10 ms. So a cycle is 50 ms + e^(−1) · 10 ms = 53.68 ms:
    // the connection is in use 50/53.68 = 93.1 % of the time and serves
    // 1/53.68 ms = 18.63 calls/s.
    let t = pool_model("10ms");
    let (summary, rec) = run(&t, 4, 60, 0);
    let entry = &summary.entries[0];
    let exhausted = entry.errors[ErrorClass::PoolExhausted as usize];
    assert!(
        exhausted > entry.arrivals / 2,
        "{exhausted} of {}",
        entry.arrivals
    );
    assert!(only_class(&entry.errors, ErrorClass::PoolExhausted));
    let cycle = 0.050 + (-1.0f64).exp() * 0.010;
    let throughput = entry.ok as f64 / 60.0;
    println!(
        "pool 1, acquire 10ms: {throughput:.2} ok/s (theory {:.2}), in use {:.4} (theory {:.4}), waiters {:.3}",
        1.0 / cycle,
        mean_level(&rows_of(&rec.rows, POOL), |r| r.in_use.0),
        0.050 / cycle,
        mean_level(&rows_of(&rec.rows, POOL), |r| r.waiters.0)
    );
    assert!((throughput * cycle - 1.0).abs() < 0.03, "{throughput} ok/s");

    // The front endpoint is the one that failed; the pool rows count the
    // same refusals.
    let front = rows_of(&rec.rows, endpoint(&t, "front.get"));
    let pool = rows_of(&rec.rows, POOL);
    assert_eq!(errors(&front, ErrorClass::PoolExhausted), exhausted);
    assert_eq!(errors(&pool, ErrorClass::PoolExhausted), exhausted);
    assert!(pool.iter().all(|r| r.capacity == 1));
    // The pool is full (in use max == capacity in every window) and has
    // waiters; a waiter stays at most its 10 ms, so the time-average of
    // waiters is below λ · 10 ms = 1.
    assert!(pool.iter().all(|r| r.in_use.1 == 1));
    assert!((mean_level(&pool, |r| r.in_use.0) / (0.050 / cycle) - 1.0).abs() < 0.02);
    assert!(pool.iter().all(|r| r.waiters.1 >= 1));
    let waiters = mean_level(&pool, |r| r.waiters.0);
    assert!(waiters > 0.5 && waiters < 1.0, "waiters {waiters}");

    let caller_instance = t.services[service_id(&t, "front") as usize].instances.start;
    assert_eq!(
        rec.events[0].change,
        StateChange::PoolExhausted {
            pool_group: 0,
            caller_instance
        }
    );
}

#[test]
fn a_zero_acquire_timeout_fails_at_once() {
    // Nobody waits: the connection serves a call (50 ms) and then idles
    // until the next call, on average 1/λ = 10 ms, so it is in use 50/60 of
    // the time and serves 1/60 ms = 16.67 calls/s; every other call fails
    // on the spot.
    let t = pool_model("0s");
    let (summary, rec) = run(&t, 4, 60, 0);
    let entry = &summary.entries[0];
    let exhausted = entry.errors[ErrorClass::PoolExhausted as usize];
    assert!(exhausted > entry.arrivals / 2);
    assert!(only_class(&entry.errors, ErrorClass::PoolExhausted));
    let pool = rows_of(&rec.rows, POOL);
    assert_eq!(errors(&pool, ErrorClass::PoolExhausted), exhausted);
    let throughput = entry.ok as f64 / 60.0;
    let in_use = mean_level(&pool, |r| r.in_use.0);
    println!(
        "pool 1, acquire 0s: {throughput:.2} ok/s (theory 16.67), in use {in_use:.4} (theory 0.8333)"
    );
    assert!(
        (throughput / (1.0 / 0.060) - 1.0).abs() < 0.03,
        "{throughput} ok/s"
    );
    assert!(
        (in_use / (0.050 / 0.060) - 1.0).abs() < 0.02,
        "in use {in_use}"
    );
    // Nobody ever waits.
    assert!(pool.iter().all(|r| r.waiters.1 == 0 && r.waiters.0 == 0.0));
    assert!(
        rec.events
            .iter()
            .any(|e| matches!(e.change, StateChange::PoolExhausted { .. }))
    );
    // Each success holds a front worker for 5 + 50 ms, each failure for its
    // 5 ms of work only: the busy area adds up to exactly that (up to the
    // few requests in flight at the end).
    let front_service = rows_of(&rec.rows, service(&t, "front"));
    let front = rows_of(&rec.rows, endpoint(&t, "front.get"));
    let busy_area = front_service.iter().map(|r| r.busy.0).sum::<f64>();
    let ok = sum(&front, |r| r.ok) as f64;
    let failed = errors(&front, ErrorClass::PoolExhausted) as f64;
    let expected = ok * 0.055 + failed * 0.005;
    assert!(
        (busy_area - expected).abs() < 0.1,
        "busy {busy_area} worker-s vs {expected}"
    );
}

// ----- error propagation ------------------------------------------------------

#[test]
fn a_rejection_deep_down_reaches_the_client_as_downstream() {
    // top → mid → bottom; bottom has one worker and a queue of one at
    // 10 ms per request, offered 300/s: it rejects. Mid's call sees the
    // rejection itself (QueueFull); top sees that mid failed (Downstream),
    // and so does the client.
    let t = topology(
        r#"{
            "name": "chain", "zones": ["z"],
            "services": {
                "top": { "workers": 500, "endpoints": { "get": {
                    "work": { "constant": "1ms" },
                    "calls": { "c": { "to": "mid.get" } } } } },
                "mid": { "workers": 500, "endpoints": { "get": {
                    "work": { "constant": "1ms" },
                    "calls": { "c": { "to": "bottom.get" } } } } },
                "bottom": { "workers": 1, "queue": 1, "endpoints": { "get": {
                    "work": { "constant": "10ms" } } } }
            },
            "workload": { "w": { "endpoint": "top.get", "rate": "300/s" } }
        }"#,
    );
    let (summary, rec) = run(&t, 5, 30, 0);
    let bottom = rows_of(&rec.rows, endpoint(&t, "bottom.get"));
    let mid = rows_of(&rec.rows, endpoint(&t, "mid.get"));
    let top = rows_of(&rec.rows, endpoint(&t, "top.get"));
    let entry = rows_of(&rec.rows, ENTRY);
    let rejected = errors(&bottom, ErrorClass::QueueFull);
    assert!(rejected > 1000, "{rejected}");
    for (name, rows, class) in [
        ("bottom", &bottom, ErrorClass::QueueFull),
        ("mid", &mid, ErrorClass::QueueFull),
        ("top", &top, ErrorClass::Downstream),
        ("entry", &entry, ErrorClass::Downstream),
    ] {
        // The failure travels up at the same instant, so even window by
        // window the counts agree.
        for (r, b) in rows.iter().zip(&bottom) {
            assert_eq!(
                r.errors[class as usize],
                b.errors[ErrorClass::QueueFull as usize],
                "{name}"
            );
            assert!(only_class(&r.errors, class), "{name}: {:?}", r.errors);
        }
    }
    assert!(only_class(
        &summary.entries[0].errors,
        ErrorClass::Downstream
    ));
    let instance = t.services[service_id(&t, "bottom") as usize]
        .instances
        .start;
    assert!(
        rec.events
            .iter()
            .all(|e| matches!(e.change, StateChange::QueueFull { instance: i } | StateChange::QueueRecovered { instance: i } if i == instance))
    );
    assert!(!rec.events.is_empty());
}

// ----- probabilistic calls ----------------------------------------------------

#[test]
fn a_call_with_probability_p_is_made_by_that_share_of_requests() {
    let t = topology(
        r#"{
            "name": "branches", "zones": ["z"],
            "services": {
                "front": { "workers": 1000, "endpoints": { "get": {
                    "work": { "constant": "1ms" },
                    "calls": {
                        "miss": { "to": "back.a", "probability": 0.25 },
                        "often": { "to": "back.b", "probability": 0.6 }
                    } } } },
                "back": { "workers": 1000, "endpoints": {
                    "a": { "work": { "constant": "1ms" } },
                    "b": { "work": { "constant": "1ms" } } } }
            },
            "workload": { "w": { "endpoint": "front.get", "rate": "1000/s" } }
        }"#,
    );
    let (_, rec) = run(&t, 6, 100, 0);
    let callers = sum(&rows_of(&rec.rows, endpoint(&t, "front.get")), |r| {
        r.arrivals
    }) as f64;
    for (callee, p) in [("back.a", 0.25), ("back.b", 0.6)] {
        let calls = sum(&rows_of(&rec.rows, endpoint(&t, callee)), |r| r.arrivals) as f64;
        // Binomial(n ≈ 100 000, p): sd = √(p(1−p)/n) ≤ 0.0016; allow 4 sd.
        let sd = (p * (1.0 - p) / callers).sqrt();
        let share = calls / callers;
        println!("probability {p}: share {share:.4} (sd {sd:.4})");
        assert!((share - p).abs() < 4.0 * sd, "{callee}: {share} vs {p}");
    }
}

// ----- load balancing ---------------------------------------------------------

/// Four single-worker instances without a queue: a request that reaches a
/// busy instance is lost. Work is a constant 10 ms, arrivals 400/s, so the
/// offered load is a = λS = 4 Erlangs, one per instance.
fn loss_model(policy: &str) -> Topology {
    topology(&format!(
        r#"{{
            "name": "loss", "zones": ["z"],
            "services": {{ "s": {{ "instances": {{ "count": 4 }}, "workers": 1, "queue": 0,
                "load_balancer": {{ "policy": "{policy}" }},
                "endpoints": {{ "e": {{ "work": {{ "constant": "10ms" }} }} }} }} }},
            "workload": {{ "w": {{ "endpoint": "s.e", "rate": "400/s" }} }}
        }}"#
    ))
}

/// Erlang B: loss probability of an M/G/c/c system with offered load `a`,
/// by the recurrence B(0) = 1, B(k) = a B(k−1) / (k + a B(k−1)).
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// P(Poisson(m) ≥ k).
fn poisson_at_least(m: f64, k: u32) -> f64 {
    let mut term = (-m).exp();
    let mut below = 0.0;
    for i in 0..k {
        below += term;
        term *= m / (i + 1) as f64;
    }
    1.0 - below
}

fn loss_share(policy: &str) -> (f64, Vec<usize>) {
    let t = loss_model(policy);
    let (summary, rec) = run(&t, 7, 200, 10);
    let entry = &summary.entries[0];
    let lost = entry.errors[ErrorClass::QueueFull as usize] as f64 / entry.arrivals as f64;
    let first = t.services[0].instances.start;
    let mut saturations = vec![0; 4];
    for e in &rec.events {
        if let StateChange::QueueFull { instance } = e.change {
            saturations[(instance - first) as usize] += 1;
        }
    }
    (lost, saturations)
}

#[test]
fn balancers_match_their_loss_formulas() {
    // Over 76 000 requests a loss share has sd ≤ 0.002; allow 0.012.
    //
    // random: Poisson splitting gives each instance an independent M/D/1/1
    // with a/4 = 1 Erlang: Erlang B(1, 1) = 1/(1 + 1) = 0.5.
    let (random, _) = loss_share("random");
    // least_outstanding sends to an idle instance whenever there is one, so
    // the four act as one M/D/4/4: Erlang B(4, 4) = (4⁴/4!) / Σ_{k≤4} 4^k/k!
    // = 10.67 / 34.33 ≈ 0.3107.
    let (least, _) = loss_share("least_outstanding");
    // round_robin gives each instance every 4th arrival: a renewal process
    // with Erlang-4 gaps of mean 10 ms. After an accepted request the
    // instance loses the arrivals of the next S = 10 ms, N of them with
    // E[N] = Σ_{n≥1} P(S_4n ≤ S) = Σ_{n≥1} P(Poisson(λS = 4) ≥ 4n) ≈ 0.6186;
    // by renewal-reward the lost share is E[N] / (1 + E[N]) ≈ 0.3822.
    let (round_robin, saturations) = loss_share("round_robin");
    let m: f64 = (1..20).map(|n| poisson_at_least(4.0, 4 * n)).sum();
    let rr_theory = m / (1.0 + m);
    println!(
        "loss: random {random:.4} (theory 0.5), least_outstanding {least:.4} (theory {:.4}), round_robin {round_robin:.4} (theory {rr_theory:.4}); saturations per instance {saturations:?}",
        erlang_b(4, 4.0)
    );
    assert!((random - erlang_b(1, 1.0)).abs() < 0.012, "random {random}");
    assert!((least - erlang_b(4, 4.0)).abs() < 0.012, "least {least}");
    assert!(
        (round_robin - rr_theory).abs() < 0.012,
        "round robin {round_robin}"
    );

    // Round robin spreads evenly: each instance saturates (one QueueFull
    // event per busy period with a loss) about equally often, ~4 600 times.
    let mean = saturations.iter().sum::<usize>() as f64 / 4.0;
    assert!(mean > 1000.0);
    for s in &saturations {
        assert!((*s as f64 / mean - 1.0).abs() < 0.05, "{saturations:?}");
    }
}

#[test]
fn least_outstanding_waits_less_than_random_under_high_load() {
    // Four single-worker instances, exponential 1 ms, λ = 3600/s: ρ = 0.9.
    // random: four independent M/M/1 at ρ = 0.9, Wq = ρ/(μ − λ/4) = 9 ms.
    // least_outstanding (join the shortest queue) cannot beat one shared
    // queue, M/M/4: Wq = C(4, 3.6)/(4000 − 3600) ≈ 1.97 ms, and comes close.
    let wait = |policy: &str| {
        let t = topology(&format!(
            r#"{{
                "name": "lb", "zones": ["z"],
                "services": {{ "s": {{ "instances": {{ "count": 4 }}, "workers": 1,
                    "queue": 1000000, "load_balancer": {{ "policy": "{policy}" }},
                    "endpoints": {{ "e": {{ "work": {{ "exponential": {{ "mean": "1ms" }} }} }} }} }} }},
                "workload": {{ "w": {{ "endpoint": "s.e", "rate": "3600/s" }} }}
            }}"#
        ));
        let (_, rec) = run(&t, 8, 200, 20);
        mean_wait(&rows_from(&rec.rows, endpoint(&t, "s.e"), 20)) / MS
    };
    let random = wait("random");
    let two = wait("power_of_two_choices");
    let least = wait("least_outstanding");
    println!(
        "mean wait at ρ = 0.9: random {random:.3} ms, two choices {two:.3} ms, least outstanding {least:.3} ms"
    );
    // Over 650 000 requests per instance-pair the M/M/1 mean has an sd of
    // a few percent at ρ = 0.9; 15 % is a loose oracle, the ordering is the
    // point.
    assert!((random / 9.0 - 1.0).abs() < 0.15, "random {random} ms");
    assert!(least < two && two < random / 2.0);
    assert!(
        least >= 1.97 * 0.97,
        "least {least} ms beats a shared queue"
    );
    assert!(least < 1.97 * 1.5, "least {least} ms");
}

// ----- rate schedule ----------------------------------------------------------

#[test]
fn a_step_schedule_sets_the_arrival_rate_window_by_window() {
    let t = topology(
        r#"{
            "name": "steps", "zones": ["z"],
            "services": { "s": { "workers": 100, "endpoints": { "e": {
                "work": { "constant": "1ms" } } } } },
            "workload": { "w": { "endpoint": "s.e", "schedule": [
                { "at": "0s", "rate": "100/s" },
                { "at": "10s", "rate": "1000/s" } ] } }
        }"#,
    );
    let (_, rec) = run(&t, 9, 40, 0);
    let entry = rows_of(&rec.rows, ENTRY);
    assert_eq!(entry.len(), 40);
    let (low, high) = entry.split_at(10);
    // Poisson counts: 1000 expected in the first 10 s (sd 32), 30 000 in
    // the next 30 s (sd 173); allow about 3.5 sd.
    let low_mean = sum(low, |r| r.arrivals) as f64 / 10.0;
    let high_mean = sum(high, |r| r.arrivals) as f64 / 30.0;
    println!("schedule: {low_mean:.1}/s then {high_mean:.1}/s");
    assert!((low_mean - 100.0).abs() < 11.0, "{low_mean}");
    assert!((high_mean - 1000.0).abs() < 20.0, "{high_mean}");
    // Window by window the step is sharp: Poisson(100) never reaches 200
    // nor Poisson(1000) falls to 800 in practice (≥ 6 sd).
    assert!(
        low.iter().all(|r| r.arrivals < 200),
        "{:?}",
        low.iter().map(|r| r.arrivals).collect::<Vec<_>>()
    );
    assert!(high.iter().all(|r| r.arrivals > 800));
}

// ----- warm-up ----------------------------------------------------------------

#[test]
fn the_summary_counts_the_requests_that_arrive_after_the_warmup() {
    let t = topology(
        r#"{
            "name": "warm", "zones": ["z"],
            "services": { "s": { "workers": 4, "endpoints": { "e": {
                "work": { "exponential": { "mean": "2ms" } } } } } },
            "workload": { "w": { "endpoint": "s.e", "rate": "500/s" } }
        }"#,
    );
    let (summary, rec) = run(&t, 10, 60, 20);
    let entry = &summary.entries[0];
    // Exactly the arrivals of the entry rows of the windows from 20 s on,
    // each ended once: ok, or still in flight at the end.
    let after = rows_from(&rec.rows, ENTRY, 20);
    assert_eq!(after.len(), 40);
    assert_eq!(entry.arrivals, sum(&after, |r| r.arrivals));
    assert_eq!(entry.arrivals, entry.ok + entry.in_flight());
    assert_eq!((entry.error_count(), entry.unanswered), (0, 0));
    // The rows count what ended in a window: those differ by the few
    // requests that straddle 20 s and the end.
    let ended_after = sum(&after, |r| r.ok);
    assert!(
        ended_after.abs_diff(entry.ok) < 20,
        "{ended_after} {}",
        entry.ok
    );
    // ≈ 500/s × (60 − 20) s = 20 000 arrivals (sd 141).
    assert!(
        (entry.arrivals as f64 - 20_000.0).abs() < 600.0,
        "{}",
        entry.arrivals
    );
    let all = sum(&rows_of(&rec.rows, ENTRY), |r| r.arrivals);
    assert!(all as f64 > 29_000.0 && entry.arrivals < all);
}

#[test]
fn a_warmup_backlog_is_not_in_the_summary_though_it_completes_after() {
    // 1000/s during the 5 s warm-up into a 100/s server, nothing after: the
    // backlog of ~4 500 requests completes after the warm-up, with latencies
    // of up to ~50 s. The rows show those completions; the summary, which
    // counts each request by its arrival, holds none of them (it once held
    // every completion and no arrival: more ok than requests).
    let t = topology(
        r#"{
            "name": "backlog", "zones": ["z"],
            "services": { "s": { "workers": 1, "queue": 1000000, "endpoints": { "e": {
                "work": { "constant": "10ms" } } } } },
            "workload": { "w": { "endpoint": "s.e", "schedule": [
                { "at": "0s", "rate": "1000/s" }, { "at": "5s", "rate": "0/s" } ] } }
        }"#,
    );
    let (summary, rec) = run(&t, 11, 60, 5);
    let late_completions = sum(&rows_from(&rec.rows, ENTRY, 5), |r| r.ok);
    assert!(late_completions > 4000, "{late_completions}");
    let entry = &summary.entries[0];
    assert_eq!((entry.arrivals, entry.ok), (0, 0));
    assert!(entry.latency_summary().max == 0);
}

// ----- bounded memory ---------------------------------------------------------

#[test]
fn live_activations_stay_bounded_on_a_long_stable_run() {
    // A stable two-tier model (front ρ ≈ 0.5, back ρ ≈ 0.6) whose calls
    // sometimes time out. The largest number of activations alive at once
    // grows only like the log of the run length (the largest excursion of a
    // stable queue), not with the number of requests.
    let t = topology(
        r#"{
            "name": "stable", "zones": ["z"],
            "services": {
                "front": { "instances": { "count": 2 }, "workers": 8, "endpoints": { "get": {
                    "work": { "exponential": { "mean": "1ms" } },
                    "calls": { "c": { "to": "back.get", "timeout": "20ms" } } } } },
                "back": { "instances": { "count": 2 }, "workers": 4, "endpoints": { "get": {
                    "work": { "lognormal": { "mean": "3ms", "p99": "20ms" } } } } }
            },
            "workload": { "w": { "endpoint": "front.get", "rate": "1600/s" } }
        }"#,
    );
    let (short, _) = run(&t, 12, 100, 0);
    let (long, _) = run(&t, 12, 1000, 0);
    println!(
        "peak activations: {} over 100 s, {} over 1000 s ({} activations); events/activation {:.3} vs {:.3}",
        short.peak_activations,
        long.peak_activations,
        long.activations,
        short.events as f64 / short.activations as f64,
        long.events as f64 / long.activations as f64
    );
    assert!(long.activations > 3_000_000);
    assert!(long.peak_activations < 1000);
    assert!(long.peak_activations <= 2 * short.peak_activations);
    assert!(long.in_flight_at_end < 1000);
    // Work per request does not grow with the run either.
    let per = |s: &RunSummary| s.events as f64 / s.activations as f64;
    assert!((per(&long) / per(&short) - 1.0).abs() < 0.02);
}

#[test]
fn timer_events_per_request_do_not_grow_with_the_run() {
    // Calls time out (100 ms against exponential 60 ms work, ~19 %) while
    // other calls wait for a connection of a busy pool, so a timeout often
    // hands its connection to a waiter, whose call arms the same timer
    // lane. The engine's work per request must not depend on how long the
    // run has been going.
    let t = topology(
        r#"{
            "name": "lanes", "zones": ["z"],
            "services": {
                "front": { "workers": 1000, "queue": 100000, "endpoints": { "get": {
                    "work": { "constant": "1ms" },
                    "calls": { "read": { "to": "back.read", "timeout": "100ms",
                        "pool": { "size": 100 } } } } } },
                "back": { "workers": 1000, "endpoints": { "read": {
                    "work": { "exponential": { "mean": "60ms" } } } } }
            },
            "workload": { "w": { "endpoint": "front.get", "rate": "1950/s" } }
        }"#,
    );
    let per = |duration| {
        let (s, _) = run(&t, 13, duration, 0);
        s.events as f64 / s.activations as f64
    };
    let (short, long) = (per(5), per(20));
    println!("events per activation: {short:.2} over 5 s, {long:.2} over 20 s");
    assert!(short < 5.0, "{short} events per activation");
    assert!((long / short - 1.0).abs() < 0.05, "{short} → {long}");
}

// ----- conservation -------------------------------------------------------------

#[test]
fn everything_drains_once_the_load_stops() {
    // Every mechanism at once, overloaded for 20 s, then no arrivals for
    // 20 s: rejections, pool waits and acquire timeouts, refusals with a
    // zero acquire timeout, call timeouts, probabilistic calls. Afterwards
    // nothing may be left: no worker, queue place, connection or waiter
    // held, no activation alive, and every request that reached an endpoint
    // accounted for exactly once as a success or an error.
    let t = topology(
        r#"{
            "name": "drain", "zones": ["a", "b"],
            "services": {
                "gateway": { "instances": { "per_zone": 1 }, "workers": 40, "queue": 20,
                    "load_balancer": { "policy": "least_outstanding" },
                    "endpoints": { "get": {
                        "work": { "exponential": { "mean": "1ms" } },
                        "calls": {
                            "cache": { "to": "cache.get", "probability": 0.3, "timeout": "5ms",
                                "pool": { "size": 2, "acquire_timeout": "0s" } },
                            "users": { "to": "users.get", "timeout": "40ms",
                                "pool": { "size": 6, "acquire_timeout": "5ms" } } } } } },
                "cache": { "workers": 4, "queue": 2, "endpoints": { "get": {
                    "work": { "uniform": { "min": "100us", "max": "3ms" } } } } },
                "users": { "instances": { "count": 3 }, "workers": 3, "queue": 4,
                    "load_balancer": { "policy": "power_of_two_choices" },
                    "endpoints": { "get": {
                        "work": { "exponential": { "mean": "2ms" } },
                        "calls": { "db": { "to": "db.read", "timeout": "25ms",
                            "pool": { "size": 2 } } } } } },
                "db": { "workers": 2, "queue": 3, "load_balancer": { "policy": "random" },
                    "instances": { "count": 2 },
                    "endpoints": { "read": {
                        "work": { "lognormal": { "mean": "4ms", "p99": "40ms" } } } } }
            },
            "workload": { "w": { "endpoint": "gateway.get", "schedule": [
                { "at": "0s", "rate": "1500/s" }, { "at": "20s", "rate": "0/s" } ] } }
        }"#,
    );
    let (summary, rec) = run(&t, 15, 40, 0);
    assert_eq!(summary.in_flight_at_end, 0);
    let entry = rows_of(&rec.rows, ENTRY);
    let arrivals = sum(&entry, |r| r.arrivals);
    let entry_errors = all_errors(&entry);
    println!(
        "drain: {arrivals} requests, {} ok, errors {entry_errors:?}",
        sum(&entry, |r| r.ok)
    );
    // The run did exercise the failure paths.
    for class in [
        ErrorClass::Timeout,
        ErrorClass::PoolExhausted,
        ErrorClass::Downstream,
    ] {
        assert!(
            entry_errors[class as usize] > 0,
            "{class:?}: {entry_errors:?}"
        );
    }
    assert_eq!(
        arrivals,
        sum(&entry, |r| r.ok) + entry_errors.iter().sum::<u64>()
    );
    for e in &t.endpoints {
        let rows = rows_of(&rec.rows, endpoint(&t, &e.full_name));
        let finished = sum(&rows, |r| r.ok) + all_errors(&rows).iter().sum::<u64>();
        assert_eq!(sum(&rows, |r| r.arrivals), finished, "{}", e.full_name);
    }
    let last = |c: Component| *rows_of(&rec.rows, c).last().unwrap();
    for (s, spec) in t.services.iter().enumerate() {
        let r = last(Component::Service(s as u32));
        assert_eq!((r.busy, r.queue), ((0.0, 0), (0.0, 0)), "{}", spec.name);
    }
    assert!(!t.pool_groups.is_empty());
    for g in 0..t.pool_groups.len() {
        let r = last(Component::Pool(g as u32));
        assert_eq!((r.in_use, r.waiters), ((0.0, 0), (0.0, 0)), "pool {g}");
    }
    assert!(
        rec.events
            .iter()
            .any(|e| matches!(e.change, StateChange::PoolRecovered { .. }))
    );
}

// ----- common random numbers --------------------------------------------------

#[test]
fn a_downstream_timeout_does_not_move_the_arrival_stream() {
    let model = |timeout: &str| {
        topology(&format!(
            r#"{{
                "name": "crn", "zones": ["z"],
                "services": {{
                    "front": {{ "workers": 1000, "endpoints": {{ "get": {{
                        "work": {{ "exponential": {{ "mean": "2ms" }} }},
                        "calls": {{ "c": {{ "to": "back.get", "timeout": "{timeout}" }} }} }} }} }},
                    "back": {{ "workers": 1000, "endpoints": {{ "get": {{
                        "work": {{ "lognormal": {{ "mean": "20ms", "p99": "200ms" }} }} }} }} }}
                }},
                "workload": {{ "w": {{ "endpoint": "front.get", "rate": "500/s" }} }}
            }}"#
        ))
    };
    let (a, b) = (model("30ms"), model("1s"));
    let (sa, ra) = run(&a, 14, 30, 0);
    let (sb, rb) = run(&b, 14, 30, 0);
    // The runs differ: the tight timeout fails a good share of requests.
    let timeouts = |s: &RunSummary| s.entries[0].errors[ErrorClass::Timeout as usize];
    assert!(timeouts(&sa) > 1000 && timeouts(&sb) < timeouts(&sa) / 10);
    // But the arrivals are the same, window by window.
    let arrivals = |rows: &[Row], c: Component| {
        rows_of(rows, c)
            .iter()
            .map(|r| r.arrivals)
            .collect::<Vec<_>>()
    };
    assert_eq!(arrivals(&ra.rows, ENTRY), arrivals(&rb.rows, ENTRY));
    assert_eq!(sa.entries[0].arrivals, sb.entries[0].arrivals);
    // With workers to spare nothing queues, so each component draws its
    // work in the same order in both runs: the callee's arrivals and busy
    // level (which a timeout does not shorten) are the same too.
    assert_eq!(
        arrivals(&ra.rows, endpoint(&a, "back.get")),
        arrivals(&rb.rows, endpoint(&b, "back.get"))
    );
    for (x, y) in rows_of(&ra.rows, service(&a, "back"))
        .iter()
        .zip(rows_of(&rb.rows, service(&b, "back")))
    {
        assert!((x.busy.0 - y.busy.0).abs() <= 1e-9 * x.busy.0.max(1.0));
    }
}

// ----- queue disciplines ------------------------------------------------------

/// One service at 120 % of its capacity (10 workers × 10 ms mean: 1000/s,
/// offered 1200/s) with a deep queue, behind clients that give up after
/// 500 ms: the classic overload where serving the oldest first means
/// serving only requests whose callers have left.
fn overloaded(discipline: &str) -> (RunSummary, Vec<Row>) {
    let t = topology(&format!(
        r#"{{
            "name": "overload", "zones": ["z"],
            "services": {{ "s": {{ "workers": 10, "queue": 1000 {discipline},
                "endpoints": {{ "e": {{ "work": {{ "exponential": {{ "mean": "10ms" }} }} }} }} }} }},
            "workload": {{ "w": {{ "endpoint": "s.e", "rate": "1200/s", "timeout": "500ms" }} }}
        }}"#
    ));
    let (summary, rec) = run(&t, 3, 60, 20);
    (summary, rec.rows)
}

/// The service's requests waited for a worker under 20 ms on average over
/// the measured 40 s: far under the clients' 500 ms of patience.
fn assert_short_waits(rows: &[Row]) {
    let service = rows_from(rows, Component::Service(0), 20);
    let wait = mean_wait(&service);
    assert!(wait < 20.0 * MS, "{} ms", wait / MS);
}

/// Successes the clients saw per second, over the measured 40 s.
fn goodput(summary: &RunSummary) -> f64 {
    summary.entries[0].ok as f64 / 40.0
}

#[test]
fn under_overload_fifo_goodput_collapses_and_lifo_keeps_it_near_capacity() {
    let (fifo, _) = overloaded("");
    let (lifo, _) = overloaded(r#", "queue_discipline": { "order": "lifo" }"#);
    let (adaptive, _) = overloaded(r#", "queue_discipline": { "order": "adaptive_lifo" }"#);
    // FIFO: the queue stands full, a wait of 1000 / (1000/s) = 1 s, twice
    // the clients' patience: nearly everything served is served too late.
    assert!(goodput(&fifo) < 50.0, "fifo goodput {}", goodput(&fifo));
    // LIFO: the newest request is served next, within milliseconds; the
    // servers' whole capacity reaches clients still waiting.
    for (name, run) in [("lifo", &lifo), ("adaptive_lifo", &adaptive)] {
        let g = goodput(run);
        assert!((900.0..=1010.0).contains(&g), "{name} goodput {g}");
    }
    // The price: the oldest wait forever at the bottom of a LIFO queue and
    // time out; the same work is done, for other requests.
    let timeouts = |s: &RunSummary| s.entries[0].errors[ErrorClass::Timeout as usize];
    assert!(timeouts(&lifo) > 0);
}

#[test]
fn codel_sheds_requests_that_waited_too_long_and_serves_fresh_ones() {
    let (codel, rows) = overloaded(
        r#", "queue_discipline": { "codel": { "target": "5ms", "interval": "100ms" } }"#,
    );
    let g = goodput(&codel);
    assert!((900.0..=1010.0).contains(&g), "codel goodput {g}");
    // What it drops it answers at once, as shed, instead of after a 1 s wait.
    let shed = codel.entries[0].errors[ErrorClass::Shed as usize];
    assert!(shed as f64 > 0.1 * 1200.0 * 40.0, "{shed} shed");
    // The wait of those served stays near the target, far under a second.
    assert_short_waits(&rows);
}

#[test]
fn below_capacity_every_discipline_serves_everything() {
    // At 80 % of capacity a queue forms and drains: no discipline loses a
    // request, and adaptive LIFO is FIFO in all but bursts.
    let t = |discipline: &str| {
        topology(&format!(
            r#"{{
            "name": "calm", "zones": ["z"],
            "services": {{ "s": {{ "workers": 10, "queue": 1000 {discipline},
                "endpoints": {{ "e": {{ "work": {{ "exponential": {{ "mean": "10ms" }} }} }} }} }} }},
            "workload": {{ "w": {{ "endpoint": "s.e", "rate": "800/s", "timeout": "500ms" }} }}
        }}"#
        ))
    };
    for discipline in [
        "",
        r#", "queue_discipline": { "order": "lifo" }"#,
        r#", "queue_discipline": { "order": "adaptive_lifo", "lifo_after": "100ms" }"#,
        r#", "queue_discipline": { "codel": { "target": "5ms", "interval": "100ms" } }"#,
    ] {
        let (summary, _) = run(&t(discipline), 5, 60, 10);
        let entry = &summary.entries[0];
        let failed = entry.error_count() as f64 / (entry.ok + entry.error_count()) as f64;
        assert!(failed < 0.005, "{discipline}: {failed}");
    }
}

// ----- load-dependent work time ---------------------------------------------

/// 200 workers of 200 ms mean work (1000/s) at 650/s, under a 10 s CPU
/// stress that takes capacity below the load. With `contention`, work
/// takes up to twice as long beyond 180 requests at once.
fn spiral(contention: &str) -> (Topology, Vec<Row>) {
    let model = format!(
        r#"{{
            "name": "spiral", "zones": ["z"],
            "services": {{ "s": {{ "workers": 200, "queue": 1000 {contention},
                "endpoints": {{ "e": {{ "work": {{ "exponential": {{ "mean": "200ms" }} }} }} }} }} }},
            "workload": {{ "w": {{ "endpoint": "s.e", "rate": "650/s", "timeout": "3s" }} }}
        }}"#
    );
    let faults = r#"{"stress": {"kind": "cpu_stress", "target": "s", "factor": 1.6, "at": "60s", "for": "10s"}}"#;
    let (t, _, rec) = run_with_faults(&model, faults, 3, 180, 30);
    (t, rec.rows)
}

fn ok_per_s(rows: &[Row], from_s: u64, to_s: u64) -> f64 {
    let ok: u64 = rows_from(rows, ENTRY, from_s)
        .iter()
        .filter(|r| r.window_start < to_s * SECOND)
        .map(|r| r.ok)
        .sum();
    ok as f64 / (to_s - from_s) as f64
}

#[test]
fn contention_turns_a_brief_stress_into_a_collapse_that_outlives_it() {
    let (_, plain) = spiral("");
    let (_, contended) = spiral(
        r#", "contention": { "busy": [ {"at": 180, "factor": 1}, {"at": 200, "factor": 2} ] }"#,
    );
    // Before the stress both serve the whole load: contention never bites
    // below 180 busy workers.
    for rows in [&plain, &contended] {
        let before = ok_per_s(rows, 30, 60);
        assert!((before - 650.0).abs() < 30.0, "before {before}");
    }
    // After it, the plain service drains its queue and serves the load...
    let after = ok_per_s(&plain, 90, 180);
    assert!((after - 650.0).abs() < 30.0, "plain after {after}");
    // ...while the contended one stays saturated: every worker busy makes
    // every request twice as slow, capacity halves to 500/s under 650/s of
    // load, and nothing brings it back though the trigger is gone.
    let after = ok_per_s(&contended, 90, 180);
    assert!((420.0..=520.0).contains(&after), "contended after {after}");
    let busy = rows_from(&contended, Component::Service(0), 90);
    let full = busy.iter().filter(|r| r.busy.0 > 195.0).count();
    assert!(
        full as f64 > 0.95 * busy.len() as f64,
        "{full} of {}",
        busy.len()
    );
}

#[test]
fn memory_contention_slows_work_as_a_leak_fills_the_heap() {
    // A leak fills 1 GiB in about 100 s; the work time doubles from half
    // full to full, as garbage collection takes over.
    let model = r#"{
        "name": "gc", "zones": ["z"],
        "services": { "s": { "workers": 50, "queue": 100,
            "memory": { "baseline": "0MiB", "limit": "1GiB" },
            "contention": { "memory": [ {"at": 0.5, "factor": 1}, {"at": 1, "factor": 2} ] },
            "endpoints": { "e": { "work": { "constant": "10ms" } } } } },
        "workload": { "w": { "endpoint": "s.e", "rate": "100/s" } }
    }"#;
    let faults =
        r#"{"leak": {"kind": "memory_leak", "target": "s", "rate": "10MiB/s", "at": "0s"}}"#;
    let (_, _, rec) = run_with_faults(model, faults, 1, 95, 0);
    let mean_ms = |from_s: u64| {
        let rows = rows_from(&rec.rows, ENTRY, from_s);
        rows[0].latency.mean / MS
    };
    // Below half the limit work takes its 10 ms; at 75 % (about 77 s) it
    // takes 1.5 times that, at 90 % (about 92 s) 1.8 times.
    assert!((mean_ms(20) - 10.0).abs() < 0.1, "{}", mean_ms(20));
    assert!((mean_ms(77) - 15.0).abs() < 0.3, "{}", mean_ms(77));
    assert!((mean_ms(92) - 18.0).abs() < 0.3, "{}", mean_ms(92));
}

// ----- deadlines passed down --------------------------------------------------

/// A front calling an overloaded back (10 workers × 10 ms: 1000/s, offered
/// 1200/s, a queue of 1000) for clients that give up after 500 ms.
fn chain(propagate: bool, discipline: &str) -> (Topology, RunSummary, Vec<Row>) {
    let flag = if propagate {
        r#", "propagate_deadline": true"#
    } else {
        ""
    };
    let t = topology(&format!(
        r#"{{
            "name": "deadlines", "zones": ["z"],
            "services": {{
                "front": {{ "workers": 2000, "queue": 10, "endpoints": {{ "op": {{ "work": {{ "constant": "1ms" }},
                    "calls": {{ "c": {{ "to": "back.op", "timeout": "500ms" {flag} }} }} }} }} }},
                "back": {{ "workers": 10, "queue": 1000 {discipline},
                    "endpoints": {{ "op": {{ "work": {{ "exponential": {{ "mean": "10ms" }} }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "front.op", "rate": "1200/s", "timeout": "500ms" {flag} }} }}
        }}"#
    ));
    let (summary, rec) = run(&t, 4, 60, 20);
    (t, summary, rec.rows)
}

#[test]
fn a_deadline_passed_down_stops_work_for_requests_already_abandoned() {
    let back = |t: &Topology, rows: &[Row], f: fn(&Row) -> u64| -> u64 {
        rows_from(rows, endpoint(t, "back.op"), 20)
            .iter()
            .map(|r| f(r))
            .sum()
    };
    // Without deadlines the back serves its queue oldest first, a second
    // late: it works flat out, and what it answers, nobody waits for.
    let (t, plain, rows) = chain(false, "");
    assert!(
        back(&t, &rows, |r| r.ok) > 35_000,
        "the back works at capacity"
    );
    assert!(
        plain.entries[0].ok < 500,
        "users get {}",
        plain.entries[0].ok
    );
    // With the clients' deadline passed down, the back drops each request
    // that expired in its queue without working on it. Oldest first, the
    // head of its queue is always about to expire: it still finishes most
    // of what it starts too late, but users now get a third of its work.
    let (t, passed, rows) = chain(true, "");
    let users = passed.entries[0].ok;
    assert!(users > 10_000, "users get {users}");
    let expired = back(&t, &rows, |r| r.errors[ErrorClass::Timeout as usize]);
    assert!(expired > 5_000, "{expired} expired in the queue");
    // Newest first as well, what it starts is young: nearly all its work
    // reaches a user, and the expired bottom of the queue is cleared as
    // it is reached instead of filling the queue for good.
    let (t, both, rows) = chain(
        true,
        r#", "queue_discipline": { "order": "adaptive_lifo" }"#,
    );
    let users = both.entries[0].ok;
    let served = back(&t, &rows, |r| r.ok);
    assert!(users > 35_000, "users get {users}");
    assert!(
        served as f64 <= users as f64 * 1.05,
        "almost no work in vain: back {served}, users {users}"
    );
}

#[test]
fn a_caller_gives_up_on_its_calls_when_its_deadline_passes() {
    // Clients wait 200 ms; the middle would wait 1 s on a bottom that takes
    // 500 ms. Passed down, the clients' deadline ends the middle's wait at
    // 200 ms: its workers are held 2.5 times less.
    let model = |flag: &str| {
        format!(
            r#"{{
            "name": "cap", "zones": ["z"],
            "services": {{
                "middle": {{ "workers": 1000, "endpoints": {{ "op": {{ "work": {{ "constant": "1ms" }},
                    "calls": {{ "c": {{ "to": "bottom.op", "timeout": "1s" }} }} }} }} }},
                "bottom": {{ "workers": 1000, "endpoints": {{ "op": {{ "work": {{ "constant": "500ms" }} }} }} }}
            }},
            "workload": {{ "w": {{ "endpoint": "middle.op", "rate": "100/s", "timeout": "200ms" {flag} }} }}
        }}"#
        )
    };
    let busy = |flag: &str| {
        let (summary, rec) = run(&topology(&model(flag)), 2, 40, 10);
        assert_eq!(summary.entries[0].ok, 0, "every client times out");
        let rows = rows_from(&rec.rows, Component::Service(0), 10);
        rows.iter().map(|r| r.busy.0).sum::<f64>() / rows.len() as f64
    };
    // Little's law: 100/s × the time each request holds a worker.
    let (waits, gives_up) = (busy(""), busy(r#", "propagate_deadline": true"#));
    assert!((waits - 50.1).abs() < 3.0, "{waits}");
    assert!((gives_up - 20.0).abs() < 2.0, "{gives_up}");
}

// ----- admission control -------------------------------------------------------

/// The overloaded service of the queue-discipline tests (1200/s offered to
/// 1000/s of capacity, clients that give up after 500 ms), with a rate
/// limit of `limit`.
fn limited(limit: &str) -> (RunSummary, Vec<Row>) {
    overloaded(&format!(r#", "rate_limit": {limit}"#))
}

#[test]
fn a_rate_limit_below_capacity_keeps_goodput_where_fifo_collapses() {
    let (fifo, _) = overloaded("");
    let (limited, rows) = limited(r#"{ "rate": "900/s", "burst": 50 }"#);
    // Without it the queue stands full and serves callers who have left.
    assert!(goodput(&fifo) < 50.0, "fifo goodput {}", goodput(&fifo));
    // With it, 900/s are admitted to a service that can do 1000/s: the
    // queue stays short and every admitted request is served in time.
    let g = goodput(&limited);
    assert!((870.0..=905.0).contains(&g), "limited goodput {g}");
    let entry = &limited.entries[0];
    let throttled = entry.errors[ErrorClass::Throttled as usize];
    // The rest, about 300/s, is answered `throttled` at once.
    let expected = 300.0 * 40.0;
    assert!(
        (throttled as f64 - expected).abs() < 0.05 * expected,
        "{throttled} throttled"
    );
    assert_eq!(entry.errors[ErrorClass::Timeout as usize], 0);
    assert_short_waits(&rows);
}

#[test]
fn a_token_bucket_never_admits_more_than_its_rate_and_burst() {
    // 1200/s offered to a limit of 250/s with a burst of 30, for 40 s: in
    // any span the admitted count is at most rate × span + burst.
    let (summary, rows) = limited(r#"{ "rate": "250/s", "burst": 30 }"#);
    let entry = &summary.entries[0];
    assert!(entry.ok <= 250 * 40 + 30, "{} admitted", entry.ok);
    assert!(entry.ok >= 250 * 40 - 250, "{} admitted", entry.ok);
    // Window by window (1 s each): at most 250 + 30, except where a
    // window's completions include ones admitted in the previous window.
    for row in rows_from(&rows, ENTRY, 21) {
        assert!(row.ok <= 250 + 30, "{} in one second", row.ok);
    }
}

#[test]
fn a_rate_limit_per_instance_scales_with_the_fleet_and_one_per_service_does_not() {
    let model = |scope: &str| {
        topology(&format!(
            r#"{{
            "name": "fleet", "zones": ["z"],
            "services": {{ "s": {{ "instances": {{ "per_zone": 3 }}, "workers": 50,
                "rate_limit": {{ "rate": "100/s", "scope": "{scope}" }},
                "endpoints": {{ "e": {{ "work": {{ "constant": "1ms" }} }} }} }} }},
            "workload": {{ "w": {{ "endpoint": "s.e", "rate": "600/s" }} }}
        }}"#
        ))
    };
    let admitted = |scope: &str| {
        let (summary, _) = run(&model(scope), 4, 30, 10);
        summary.entries[0].ok as f64 / 20.0
    };
    let per_instance = admitted("instance");
    let per_service = admitted("service");
    assert!((285.0..=305.0).contains(&per_instance), "{per_instance}/s");
    assert!((95.0..=106.0).contains(&per_service), "{per_service}/s");
}

#[test]
fn health_checks_pass_a_rate_limit_that_throttles_the_traffic() {
    // Two instances each admit 50/s of the 600/s sent; their health checks
    // (every second) are not throttled, so neither is ever ejected.
    let t = topology(
        r#"{
        "name": "checked", "zones": ["z"],
        "services": { "s": { "instances": { "per_zone": 2 }, "workers": 50,
            "rate_limit": { "rate": "50/s" },
            "load_balancer": { "health_check": { "endpoint": "health", "interval": "1s",
                               "timeout": "500ms", "unhealthy_after": 1, "healthy_after": 1 } },
            "endpoints": { "health": { "work": { "constant": "1ms" } },
                           "e": { "work": { "constant": "1ms" } } } } },
        "workload": { "w": { "endpoint": "s.e", "rate": "600/s" } }
    }"#,
    );
    let (summary, rec) = run(&t, 4, 30, 10);
    let ejections = rec
        .events
        .iter()
        .filter(|e| matches!(e.change, StateChange::Ejected { .. }))
        .count();
    assert_eq!(ejections, 0);
    let throttled = summary.entries[0].errors[ErrorClass::Throttled as usize];
    assert!(throttled > 20 * 450, "{throttled} throttled");
}

/// front calls back, which admits 100/s (burst 10), with five attempts
/// from 10 ms apart. The load is 50/s but for one second at 300/s.
fn burst_behind_a_limit(honor: bool) -> RunSummary {
    let t = topology(&format!(
        r#"{{
        "name": "burst", "zones": ["z"],
        "services": {{
            "front": {{ "workers": 500, "queue": 0, "endpoints": {{ "e": {{ "work": {{ "constant": "1ms" }},
                "calls": {{ "c": {{ "to": "back.e", "timeout": "5s",
                              "retry": {{ "max_attempts": 5, "backoff": "10ms",
                                          "honor_retry_after": {honor} }} }} }} }} }} }},
            "back": {{ "workers": 500,
                "rate_limit": {{ "rate": "100/s", "burst": 10, "retry_after": "1s" }},
                "endpoints": {{ "e": {{ "work": {{ "constant": "5ms" }} }} }} }}
        }},
        "workload": {{ "w": {{ "endpoint": "front.e",
            "schedule": [ {{ "at": "0s", "rate": "50/s" }}, {{ "at": "20s", "rate": "300/s" }},
                          {{ "at": "21s", "rate": "50/s" }} ] }} }}
    }}"#
    ));
    run(&t, 6, 40, 10).0
}

#[test]
fn honouring_retry_after_turns_a_bursts_throttles_into_later_successes() {
    let ignored = burst_behind_a_limit(false);
    let honoured = burst_behind_a_limit(true);
    let failed = |s: &RunSummary| s.entries[0].error_count();
    // Ignoring it, the five attempts land within 150 ms on an empty
    // bucket and most of the burst's excess fails.
    assert!(
        failed(&ignored) > 100,
        "ignored: {} failed",
        failed(&ignored)
    );
    // Honouring it, the retries come a second apart, after the burst,
    // when the bucket refills faster (100/s) than the load takes it
    // (50/s): the excess drains over the next seconds.
    assert!(
        failed(&honoured) * 10 < failed(&ignored),
        "honoured {} vs ignored {}",
        failed(&honoured),
        failed(&ignored)
    );
    // They are slower for it: those who were throttled waited a second.
    let p99 = |s: &RunSummary| s.entries[0].latency_summary().p99;
    assert!(p99(&honoured) >= 1_000_000_000, "{}", p99(&honoured));
}

/// front (two instances) calls back, which fails every request from 20 s
/// to 40 s and again from 60 s to 65 s; five attempts, so without a limit
/// every failure is tried five times.
fn outage_with_quota(quota: &str) -> (Topology, Vec<Row>) {
    let model = format!(
        r#"{{
        "name": "quota", "zones": ["z"],
        "services": {{
            "front": {{ "instances": {{ "per_zone": 2 }}, "workers": 100,
                "endpoints": {{ "e": {{ "work": {{ "constant": "1ms" }},
                "calls": {{ "c": {{ "to": "back.e", "timeout": "1s",
                              "retry": {{ "max_attempts": 5, "backoff": "5ms" {quota} }} }} }} }} }} }},
            "back": {{ "workers": 100, "endpoints": {{ "e": {{ "work": {{ "constant": "2ms" }} }} }} }}
        }},
        "workload": {{ "w": {{ "endpoint": "front.e", "rate": "100/s" }} }}
    }}"#
    );
    let faults = r#"{"broken": {"kind": "errors", "target": "back", "fraction": 1.0, "at": "20s", "for": "20s"},
                     "again": {"kind": "errors", "target": "back", "fraction": 1.0, "at": "60s", "for": "5s"}}"#;
    let (t, _, rec) = run_with_faults(&model, faults, 7, 80, 0);
    (t, rec.rows)
}

#[test]
fn a_retry_quota_stops_retries_once_spent_and_refills_on_successes() {
    let (t, unlimited) = outage_with_quota("");
    let (_, limited) = outage_with_quota(r#", "quota": {}"#);
    let front = endpoint(&t, "front.e");
    let retries = |rows: &[Row], from: u64, to: u64| {
        sum(&rows_from(rows, front, from), |r| r.retries)
            - sum(&rows_from(rows, front, to), |r| r.retries)
    };
    // Without a quota, each of the ~2000 failing requests is retried 4
    // times: the outage quadruples the load on back.
    let without = retries(&unlimited, 20, 41);
    assert!((7600..=8400).contains(&without), "{without} retries");
    // With the AWS defaults (500 tokens, 5 a retry), each of the two
    // caller instances retries 100 times and then stops: the same 100 the
    // full bucket buys, however long the outage.
    let with = retries(&limited, 20, 41);
    assert_eq!(with, 2 * 100, "{with} retries");
    // Successes give a token back each: 20 s at 50/s per instance refill
    // the bucket (to its 500, no further), and the second outage buys the
    // same 100 retries per instance again.
    assert_eq!(retries(&limited, 60, 66), 2 * 100);
    assert!(retries(&unlimited, 60, 66) > 1500);
    assert_eq!(retries(&limited, 0, 20) + retries(&limited, 41, 60), 0);
}

/// front sends 500/s to back, which admits 100/s and throttles the rest.
fn throttled_backend(throttling: &str) -> (Topology, Vec<Row>) {
    let model = format!(
        r#"{{
        "name": "adaptive", "zones": ["z"],
        "services": {{
            "front": {{ "workers": 1000, "endpoints": {{ "e": {{ "work": {{ "constant": "1ms" }},
                "calls": {{ "c": {{ "to": "back.e", "timeout": "1s" {throttling} }} }} }} }} }},
            "back": {{ "workers": 200, "rate_limit": {{ "rate": "100/s", "burst": 10 }},
                "endpoints": {{ "e": {{ "work": {{ "constant": "5ms" }} }} }} }}
        }},
        "workload": {{ "w": {{ "endpoint": "front.e", "rate": "500/s" }} }}
    }}"#
    );
    let (t, _, rec) = run_with_faults(&model, "{}", 8, 300, 0);
    (t, rec.rows)
}

#[test]
fn adaptive_throttling_sends_a_rejecting_backend_about_k_times_what_it_accepts() {
    let per_s = |t: &Topology, rows: &[Row], f: fn(&Row) -> u64| {
        sum(&rows_from(rows, endpoint(t, "back.e"), 150), f) as f64 / 150.0
    };
    let (t, plain) = throttled_backend("");
    let (_, adaptive) = throttled_backend(r#", "adaptive_throttling": { "k": 2 }"#);
    // Without it, back receives everything and throttles four in five.
    let sent = per_s(&t, &plain, |r| r.arrivals);
    assert!((480.0..=520.0).contains(&sent), "{sent}/s sent");
    // With it, front stops sending what would be refused: back receives
    // about k × 100/s, and accepts the same 100/s it always could.
    let sent = per_s(&t, &adaptive, |r| r.arrivals);
    assert!(
        (185.0..=215.0).contains(&sent),
        "{sent}/s sent with throttling"
    );
    for rows in [&plain, &adaptive] {
        let served = per_s(&t, rows, |r| r.ok);
        assert!((99.0..=101.0).contains(&served), "{served}/s served");
    }
    // The users see the same refusals, now made at the client.
    let entry_throttled = |rows: &[Row]| {
        errors(&rows_from(rows, ENTRY, 150), ErrorClass::Downstream)
            + errors(&rows_from(rows, ENTRY, 150), ErrorClass::Throttled)
    };
    let (a, b) = (
        entry_throttled(&plain) as f64,
        entry_throttled(&adaptive) as f64,
    );
    assert!((a - b).abs() < 0.02 * a, "{a} vs {b}");
}
