//! Counting every request: the run's summary classifies each request that
//! arrived after the warm-up once, by how it ended — ok, an error class, or
//! unanswered — so that a hang cannot read as availability and failing
//! cannot read as fast.

use faultline::base::ErrorClass;

use crate::common::*;

/// Two instances in two zones, round robin with no health check, clients
/// with no timeout: losing a zone swallows every request sent there.
const NO_TIMEOUT: &str = r#"{
  "name": "no-timeout", "zones": ["a", "b"],
  "services": {
    "api": { "instances": { "per_zone": 1 }, "workers": 8, "queue": 64,
             "load_balancer": { "policy": "round_robin" },
             "endpoints": { "get": { "work": { "exponential": { "mean": "5ms" } } } } }
  },
  "workload": { "users": { "endpoint": "api.get", "rate": "200/s" } }
}"#;

#[test]
fn a_zone_lost_without_client_timeouts_leaves_requests_unanswered_and_counts_them() {
    // For good: a host that boots again resets what it swallowed.
    let faults = r#"{"lose-b": {"kind": "zone_outage", "zone": "b", "at": "20s"}}"#;
    let (_, summary, _) = run_with_faults(NO_TIMEOUT, faults, 3, 60, 5);
    let users = &summary.entries[0];
    // Half the requests from 20 s on went to the dark zone: about
    // 200/s × 40 s / 2, none of them ever answered.
    assert!(
        (3600..4400).contains(&users.unanswered),
        "unanswered {}",
        users.unanswered
    );
    assert_eq!(users.error_count(), 0, "no timeout, so no error either");
    assert_eq!(
        users.arrivals,
        users.ok + users.error_count() + users.unanswered + users.in_flight()
    );
    let expected = users.ok as f64 / (users.ok + users.unanswered) as f64;
    assert!((users.served_share() - expected).abs() < 1e-12);
    assert!(users.served_share() < 0.99, "{}", users.served_share());
    // Unanswered requests join the latency of all requests at their age:
    // up to 40 s for those lost from 20 s, judged at 60 s.
    let all = users.all_latency_summary();
    assert!(all.max >= 39 * SECOND, "all max {}", all.max);
    assert!(all.p90 >= SECOND, "all p90 {}", all.p90);
    assert!(users.latency_summary().max < SECOND);
}

#[test]
fn every_request_is_counted_once_by_its_arrival() {
    // Requests time out at 50 ms while a fault slows every one to 80 ms:
    // many arrive in one window and end in the next.
    let model = NO_TIMEOUT.replace(
        r#""rate": "200/s" }"#,
        r#""rate": "200/s", "timeout": "50ms" }"#,
    );
    let faults = r#"{"slow": {"kind": "latency", "target": "api", "add": {"constant": "75ms"}, "at": "10s", "for": "10s"}}"#;
    let (t, summary, rec) = run_with_faults(&model, faults, 5, 30, 3);
    let users = &summary.entries[0];
    let entry = faultline::topology::Component::Entry(0);
    let arrived: u64 = rec
        .rows
        .iter()
        .filter(|r| r.component == entry && r.window_start >= 3 * SECOND)
        .map(|r| r.arrivals)
        .sum();
    assert_eq!(
        users.arrivals, arrived,
        "the summary's requests are the rows' arrivals after the warm-up"
    );
    assert_eq!(
        users.arrivals,
        users.ok + users.error_count() + users.unanswered + users.in_flight(),
        "{users:?}"
    );
    assert!(users.errors[ErrorClass::Timeout as usize] > 1000);
    assert!(users.ok <= users.arrivals);
    assert_eq!(t.workloads[0].name, "users");
}

#[test]
fn latency_of_all_requests_includes_the_time_to_fail() {
    // One instance of two is slowed past the clients' 1 s timeout: half the
    // requests time out at 1 s, the other half succeed in milliseconds.
    let model = NO_TIMEOUT
        .replace(
            r#""rate": "200/s" }"#,
            r#""rate": "200/s", "timeout": "1s" }"#,
        )
        .replace(r#""workers": 8"#, r#""workers": 5000"#);
    let faults = r#"{"slow": {"kind": "latency", "target": "api-b-1", "add": {"constant": "10s"}, "at": "0s"}}"#;
    let (_, summary, _) = run_with_faults(&model, faults, 8, 40, 5);
    let users = &summary.entries[0];
    let ok = users.latency_summary();
    let all = users.all_latency_summary();
    assert!(ok.p99 < 100_000_000, "successes p99 {}", ok.p99);
    assert!(all.p99 >= SECOND, "all p99 {}", all.p99);
    assert!(all.p50 < SECOND && all.p90 >= SECOND, "{all:?}");
}

#[test]
fn the_maximum_is_exact_not_a_bucket_edge() {
    // A constant 1099.99 ms of work, one request at a time: the slowest
    // request took exactly that, where the histogram's bucket reaches
    // 1107.3 ms.
    let model = NO_TIMEOUT
        .replace(
            r#"{ "exponential": { "mean": "5ms" } }"#,
            r#"{ "constant": "1099990us" }"#,
        )
        .replace(r#""rate": "200/s""#, r#""rate": "0.1/s""#)
        .replace(r#""workers": 8"#, r#""workers": 100"#);
    let (_, summary, rec) = run_with_faults(&model, "{}", 1, 300, 0);
    let users = &summary.entries[0];
    assert!(users.ok > 10);
    assert_eq!(users.latency_summary().max, 1_099_990_000);
    // Every percentile of a constant is that constant, not the top of its
    // bucket: a `p99_below: 1.1s` check holds.
    assert_eq!(users.latency_summary().p99, 1_099_990_000);
    let entry = faultline::topology::Component::Entry(0);
    let row_max = rec
        .rows
        .iter()
        .filter(|r| r.component == entry)
        .map(|r| r.latency.max)
        .max();
    assert_eq!(row_max, Some(1_099_990_000));
}

/// A latency bound just above the 99th percentile, inside its two-digit
/// bucket: the check fails at the default precision (the bucket's top is
/// reported) and holds at three digits. The maximum is exact at both, and
/// run.json says which precision was used.
#[test]
fn percentile_digits_decide_a_bound_close_to_the_value() {
    // Uniform up to 1112.7 ms: the 99th percentile is about 1099.5 ms,
    // in the two-digit bucket 1098.9..1107.3 ms.
    let model = NO_TIMEOUT
        .replace(
            r#"{ "exponential": { "mean": "5ms" } }"#,
            r#"{ "uniform": { "min": "0ms", "max": "1112.7ms" } }"#,
        )
        .replace(r#""rate": "200/s""#, r#""rate": "50/s""#)
        .replace(r#""workers": 8"#, r#""workers": 200"#);
    let check = r#""hypothesis": {"fast": {"probe": "users", "p99_below": "1.1s",
                                           "latency_of": "successes"}}"#;
    let two = evaluate(&model, check);
    let three = evaluate(&model, &format!(r#""percentile_digits": 3, {check}"#));
    assert_eq!(two.manifest.percentile_digits, 2);
    assert_eq!(three.manifest.percentile_digits, 3);
    let latency = |e: &faultline::experiment::Evaluation| e.summary.entries[0].latency_summary();
    // The two-digit bucket's top, then the three-digit one's.
    assert_eq!(measured(&two, "fast"), (false, Some(1107.296255)));
    assert_eq!(measured(&three, "fast"), (true, Some(1099.956223)));
    assert_eq!(latency(&two).p99, 1_107_296_255);
    assert_eq!(latency(&three).p99, 1_099_956_223);
    // The same run otherwise: precision changes what is reported, never
    // what is simulated.
    assert_eq!(
        two.manifest.engine.trace_digest,
        three.manifest.engine.trace_digest
    );
    assert_eq!(latency(&two).max, latency(&three).max);
    assert_eq!(
        latency(&two).p999,
        latency(&two).max,
        "no higher than the maximum"
    );
}

/// Evaluates a scenario (its faults and hypotheses as JSON text) over
/// `model`, as `run` judges it.
fn evaluate(model: &str, rest: &str) -> faultline::experiment::Evaluation {
    let scenario = format!(
        r#"{{"name": "t", "model": "m.json", "duration": "60s", "warmup": "5s", "seed": 4, {rest}}}"#
    );
    let plan = faultline::plan::Plan::from_texts(
        faultline::spec::Source {
            path: "s.json".into(),
            text: scenario,
        },
        faultline::spec::Source {
            path: "m.json".into(),
            text: model.to_string(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    faultline::experiment::evaluate(&plan, 4, faultline::sim::Budget::DEFAULT).unwrap()
}

fn measured(e: &faultline::experiment::Evaluation, name: &str) -> (bool, Option<f64>) {
    let verdict = e
        .manifest
        .hypothesis
        .iter()
        .find(|v| v.name == name)
        .unwrap();
    (verdict.passed, verdict.checks[0].measured)
}

#[test]
fn hypotheses_count_unanswered_requests_and_judge_latency_of_all_requests() {
    // Zone b lost for good at 20 s, no client timeout: from then on half
    // the requests hang. The check over the fault sees them as failures
    // in the windows they arrived in.
    let e = evaluate(
        NO_TIMEOUT,
        r#""faults": {"lose-b": {"kind": "zone_outage", "zone": "b", "at": "20s"}},
           "hypothesis": {
             "available": {"probe": "users", "phase": "during", "availability_above": 0.9},
             "fast": {"probe": "users", "phase": "during", "p99_below": "1s"},
             "fast-successes": {"probe": "users", "phase": "during", "p99_below": "1s",
                                "latency_of": "successes"}
           }"#,
    );
    let (passed, availability) = measured(&e, "available");
    let availability = availability.unwrap();
    assert!(
        !passed && (0.4..0.6).contains(&availability),
        "{availability}"
    );
    // Hung requests never end, so neither latency sees them; the rows do
    // not either. The successes are fast.
    assert!(measured(&e, "fast-successes").0);

    // With a 1 s client timeout the hung requests time out: all requests'
    // p99 is the timeout, the successes' p99 stays milliseconds.
    let model = NO_TIMEOUT.replace(
        r#""rate": "200/s" }"#,
        r#""rate": "200/s", "timeout": "1s" }"#,
    );
    let e = evaluate(
        &model,
        r#""faults": {"lose-b": {"kind": "zone_outage", "zone": "b", "at": "20s"}},
           "hypothesis": {
             "fast": {"probe": "users", "phase": "during", "p99_below": "500ms"},
             "fast-successes": {"probe": "users", "phase": "during", "p99_below": "500ms",
                                "latency_of": "successes"}
           }"#,
    );
    let (passed, p99) = measured(&e, "fast");
    assert!(!passed && p99.unwrap() >= 1000.0, "{p99:?}");
    let (passed, p99) = measured(&e, "fast-successes");
    assert!(passed && p99.unwrap() < 100.0, "{p99:?}");
}

#[test]
fn capacity_counts_the_workers_of_instances_that_can_serve() {
    let faults = r#"{"lose-b": {"kind": "zone_outage", "zone": "b", "at": "20s", "for": "10s"},
                     "kill-a": {"kind": "instance_kill", "target": "api-a-1", "at": "40s"}}"#;
    let (t, _, rec) = run_with_faults(NO_TIMEOUT, faults, 3, 50, 0);
    let api = service(&t, "api");
    let capacity_at = |s: u64| {
        rec.rows
            .iter()
            .find(|r| r.component == api && r.window_start == s * SECOND)
            .unwrap()
            .capacity
    };
    // Two instances of 8 workers; one while zone b is out; two once it is
    // back; one again once a's instance is killed, with no restart policy
    // to bring it back.
    assert_eq!(capacity_at(10), 16);
    assert_eq!(capacity_at(25), 8);
    assert_eq!(capacity_at(35), 16);
    assert_eq!(capacity_at(45), 8);
}
