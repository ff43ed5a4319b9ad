//! Swarm tests: models drawn at random (services, capacities, policies,
//! timeouts, pools, branch probabilities, load) must keep the engine's
//! invariants whatever the mix — and bad files must never panic the parser.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::*;
use faultline::spec::Source;
use faultline::topology::{Component, Topology};

const POLICIES: [&str; 4] = [
    "round_robin",
    "least_outstanding",
    "random",
    "power_of_two_choices",
];

/// A layered model: service k calls one or two services of higher index, so
/// the call graph is acyclic by construction.
fn model_strategy() -> impl Strategy<Value = Value> {
    let service = (
        1u32..4,                            // instances
        1u32..6,                            // workers
        0u32..12,                           // queue
        0usize..4,                          // policy
        1u64..40,                           // mean work, ms
        0usize..3,                          // work distribution
        any::<bool>(),                      // has a second call
        (1u64..300, any::<bool>()),         // timeout ms, or none
        (1u32..6, 0u64..30, any::<bool>()), // pool size, acquire ms, or none
        1u32..=4,                           // probability in quarters
    );
    (
        proptest::collection::vec(service, 2..6),
        50u32..600, // rate per second
    )
        .prop_map(|(services, rate)| {
            let n = services.len();
            let mut out = serde_json::Map::new();
            for (k, s) in services.iter().enumerate() {
                let (instances, workers, queue, policy, mean, dist, second, timeout, pool, quarters) = *s;
                let work = match dist {
                    0 => json!({ "exponential": { "mean": format!("{mean}ms") } }),
                    1 => json!({ "constant": format!("{mean}ms") }),
                    _ => json!({ "uniform": { "min": "0ms", "max": format!("{}ms", 2 * mean) } }),
                };
                let mut calls = serde_json::Map::new();
                if k + 1 < n {
                    let targets: Vec<usize> = if second && k + 2 < n { vec![k + 1, k + 2] } else { vec![k + 1] };
                    for t in targets {
                        let mut call = json!({ "to": format!("s{t}.op") });
                        if timeout.1 {
                            call["timeout"] = json!(format!("{}ms", timeout.0));
                        }
                        // One pool per (caller, callee): only the first call
                        // to a callee sets it, so settings never conflict.
                        if pool.2 {
                            call["pool"] = json!({ "size": pool.0, "acquire_timeout": format!("{}ms", pool.1) });
                        }
                        if quarters < 4 {
                            call["probability"] = json!(quarters as f64 / 4.0);
                        }
                        calls.insert(format!("c{t}"), call);
                    }
                }
                out.insert(
                    format!("s{k}"),
                    json!({
                        "instances": { "count": instances },
                        "workers": workers,
                        "queue": queue,
                        "load_balancer": { "policy": POLICIES[policy] },
                        "endpoints": { "op": { "work": work, "calls": calls } }
                    }),
                );
            }
            // Load for 20 s, then none: everything in flight must drain.
            json!({
                "name": "swarm",
                "zones": ["a", "b"],
                "services": out,
                "workload": { "w": { "endpoint": "s0.op", "schedule": [
                    { "at": "0s", "rate": format!("{rate}/s") },
                    { "at": "20s", "rate": "0/s" }
                ] } }
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_models_conserve_requests_drain_and_repeat(model in model_strategy(), seed in 0u64..1000) {
        let t = topology(&model.to_string());
        let (summary, rec) = run(&t, seed, 60, 0);
        // Everything that arrived finished, one way or the other.
        prop_assert_eq!(summary.in_flight_at_end, 0);
        for e in 0..t.endpoints.len() as u32 {
            let rows = rec.rows.iter().filter(|r| r.component == Component::Endpoint(e));
            let (arrivals, finished) = rows.fold((0, 0), |(a, f), r| {
                (a + r.arrivals, f + r.ok + r.errors.iter().sum::<u64>())
            });
            prop_assert_eq!(arrivals, finished, "endpoint {}", t.endpoints[e as usize].full_name);
        }
        let entry = &summary.entries[0];
        prop_assert_eq!(entry.arrivals, entry.ok + entry.error_count());
        // Once drained, no queue, worker or connection is left in use.
        let last: Vec<_> = rec.rows.iter().filter(|r| r.window_start == 59 * SECOND).collect();
        for r in last {
            prop_assert_eq!((r.queue.1, r.busy.1, r.in_use.1, r.waiters.1), (0, 0, 0, 0));
        }
        // And the same seed walks the same path.
        let (again, _) = run(&t, seed, 60, 0);
        prop_assert_eq!(summary.trace_digest, again.trace_digest);
    }

    /// Damaging a valid model anywhere gives a clear error or a valid model,
    /// never a panic.
    #[test]
    fn damaged_models_never_panic(model in model_strategy(), cut in 0usize..2000, junk in "[\\[\\]{}\":,0-9a-z -]{0,8}") {
        let text = serde_json::to_string_pretty(&model).unwrap();
        let cut = cut.min(text.len());
        let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap();
        let damaged = format!("{}{junk}{}", &text[..cut], &text[cut..]);
        let source = Source { path: "damaged.json".into(), text: damaged };
        if let Err(e) = Topology::from_source(&source) {
            let message = e.to_string();
            prop_assert!(message.starts_with("damaged.json: "), "{}", message);
            prop_assert_eq!(e.exit_code(), 2);
        }
    }
}
