//! Swarm tests: models drawn at random (services, capacities, policies,
//! timeouts, pools, branch probabilities, load) must keep the engine's
//! invariants whatever the mix — and bad files (damaged text, shipped models
//! with keys deleted, names renamed, values swapped, entries duplicated)
//! must never panic the parser or the compiler.

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

// ---------------------------------------------------------------- mutations

/// Every shipped model (`models/`, the benchmarks too), parsed as JSON.
fn shipped_models() -> &'static [(String, Value)] {
    static MODELS: std::sync::OnceLock<Vec<(String, Value)>> = std::sync::OnceLock::new();
    MODELS.get_or_init(|| {
        let mut files = Vec::new();
        for dir in ["models", "models/bench"] {
            for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, serde_json::from_str(&text).unwrap())
            })
            .collect()
    })
}

/// Objects keyed by names the user chose (the others' keys are fields).
fn is_named_map(path: &[Step]) -> bool {
    matches!(path.last(), Some(Step::Key(key)) if matches!(
        key.as_str(),
        "services" | "endpoints" | "calls" | "workload" | "clients" | "placement"
    ))
}

/// The name one node holds: its key in an object of names, or its string.
fn name_at(doc: &Value, path: &[Step]) -> Option<String> {
    match path.split_last()? {
        (Step::Key(key), parent) if is_named_map(parent) => Some(key.clone()),
        _ => doc.pointer(&pointer(path))?.as_str().map(str::to_owned),
    }
}

fn pointer(path: &[Step]) -> String {
    path.iter()
        .map(|step| match step {
            Step::Key(key) => format!("/{}", key.replace('~', "~0").replace('/', "~1")),
            Step::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// A name close to `name`, or another one: a typo, an extension, the empty
/// name, or a reference's other half changed.
fn other_name(name: &str, pick: u64, doc_names: &[String]) -> String {
    let chars: Vec<char> = name.chars().collect();
    match pick % 5 {
        0 if !chars.is_empty() => {
            let cut = (pick / 5) as usize % chars.len();
            chars[..cut].iter().chain(&chars[cut + 1..]).collect()
        }
        1 => format!("{name}x"),
        2 => doc_names[(pick / 5) as usize % doc_names.len()].clone(),
        3 => String::new(),
        _ => match name.split_once('.') {
            Some((service, endpoint)) => format!("{service}.{endpoint}2"),
            None => format!("{name}.{name}"),
        },
    }
}

/// A value of another type, some of them plausible in the wrong place.
fn any_value(pick: u64, doc: &Value, paths: &[Vec<Step>]) -> Value {
    match pick % 8 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1.5),
        4 => json!([]),
        5 => json!({}),
        6 => json!("x"),
        // A copy of another node: a well-formed value of the wrong kind.
        _ => doc
            .pointer(&pointer(&paths[(pick / 8) as usize % paths.len()]))
            .cloned()
            .unwrap_or(Value::Null),
    }
}

/// A value of the same type as `old`: numbers at and past their bounds,
/// strings that are other names, other units or nothing.
fn like_value(old: &Value, pick: u64, names: &[String]) -> Value {
    let n = pick / 8;
    match old {
        Value::Number(_) => match pick % 8 {
            0 => json!(0),
            1 => json!(1),
            2 => json!(u32::MAX),
            3 => json!(u64::MAX),
            4 => json!(0.0001),
            5 => json!(1e300),
            6 => json!(n % 1000),
            _ => json!((n % 1000) as f64 / 7.0),
        },
        Value::String(s) => match pick % 8 {
            0 => json!(""),
            1 => json!("0s"),
            2 => json!("5ms"),
            3 => json!("9999999999h"),
            4 => json!("0/s"),
            5 => json!("1000000000/s"),
            6 => json!(other_name(s, n, names)),
            _ => json!(names[n as usize % names.len()]),
        },
        Value::Bool(b) => json!(!b),
        other => other.clone(),
    }
}

/// Applies one mutation, chosen by `kind`, at the node `at` picks.
fn mutate(doc: &mut Value, kind: u8, at: u64, pick: u64) {
    let mut paths = Vec::new();
    node_paths(doc, &mut Vec::new(), &mut paths);
    let names: Vec<String> = paths.iter().filter_map(|p| name_at(doc, p)).collect();
    if paths.is_empty() || names.is_empty() {
        return;
    }
    let path = paths[at as usize % paths.len()].clone();
    let (parent_path, last) = path.split_at(path.len() - 1);
    match kind % 5 {
        // Delete a key or an array element.
        0 => match (node_mut(doc, parent_path), &last[0]) {
            (Value::Object(map), Step::Key(key)) => {
                map.shift_remove(key);
            }
            (Value::Array(items), Step::Index(i)) => {
                items.remove(*i);
            }
            _ => {}
        },
        // Rename a name where it is defined or where it is referred to (or,
        // one time in four, everywhere, which keeps the model whole).
        1 => {
            let named: Vec<&Vec<Step>> =
                paths.iter().filter(|p| name_at(doc, p).is_some()).collect();
            let path = named[at as usize % named.len()].clone();
            let (parent_path, last) = path.split_at(path.len() - 1);
            let Some(old) = name_at(doc, &path) else {
                return;
            };
            let new = other_name(&old, pick, &names);
            if pick.is_multiple_of(4) {
                rename_everywhere(doc, &old, &new);
                return;
            }
            match (node_mut(doc, parent_path), &last[0]) {
                (Value::Object(map), Step::Key(key)) if is_named_map(parent_path) => {
                    let entries = std::mem::take(map);
                    for (k, v) in entries {
                        map.insert(if k == *key { new.clone() } else { k }, v);
                    }
                }
                (parent, step) => {
                    *node_mut(parent, std::slice::from_ref(step)) = json!(new);
                }
            }
        }
        // Swap a value for another of its type: a random string or number.
        2 => {
            let node = node_mut(doc, &path);
            *node = like_value(node, pick, &names);
        }
        // Swap a value for one of another type.
        3 => {
            let value = any_value(pick, doc, &paths);
            *node_mut(doc, &path) = value;
        }
        // Duplicate an entry of an object of names (under a new name) or an
        // array.
        _ => match node_mut(doc, &path) {
            Value::Object(map) if !map.is_empty() && is_named_map(&path) => {
                let k = pick as usize % map.len();
                let (key, value) = map
                    .iter()
                    .nth(k)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .unwrap();
                map.insert(format!("{key}-copy"), value);
            }
            Value::Array(items) if !items.is_empty() => {
                let k = pick as usize % items.len();
                items.push(items[k].clone());
            }
            _ => {}
        },
    }
}

/// `old` renamed to `new` in every key and string, and in the halves of
/// `service.endpoint` references.
fn rename_everywhere(value: &mut Value, old: &str, new: &str) {
    let rename = |s: &str| -> String {
        if s == old {
            return new.to_owned();
        }
        match s.split_once('.') {
            Some((a, b)) if a == old => format!("{new}.{b}"),
            Some((a, b)) if b == old => format!("{a}.{new}"),
            _ => s.to_owned(),
        }
    };
    match value {
        Value::String(s) => *s = rename(s),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| rename_everywhere(v, old, new)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                rename_everywhere(&mut v, old, new);
                map.insert(rename(&k), v);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// A shipped model with a few keys deleted, names renamed, values of
    /// the wrong type, entries duplicated: loading it compiles it or lists
    /// its problems, each at a path with a message, and never panics —
    /// alone, and under a scenario.
    #[test]
    fn mutated_shipped_models_compile_or_list_their_problems(
        model in 0usize..64,
        mutations in proptest::collection::vec((0u8..5, any::<u64>(), any::<u64>()), 1..4),
    ) {
        let models = shipped_models();
        let (name, original) = &models[model % models.len()];
        let mut doc = original.clone();
        for (kind, at, pick) in mutations {
            mutate(&mut doc, kind, at, pick);
        }
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let source = Source { path: name.into(), text };
        let scenario = Source {
            path: "scenario.json".into(),
            text: format!(r#"{{"name": "s", "model": "{name}", "duration": "10s", "seed": 1}}"#),
        };
        let results = [
            Topology::from_source(&source).map(|_| ()),
            faultline::plan::Plan::from_texts(scenario, source.clone()).map(|_| ()),
        ];
        for result in results {
            let Err(e) = result else { continue };
            let faultline::Error::Invalid { file, problems } = &e else {
                panic!("not a problem list: {e}");
            };
            prop_assert_eq!(file.to_string_lossy(), name.as_str());
            prop_assert!(!problems.is_empty());
            for p in problems {
                prop_assert!(!p.message.is_empty(), "{}", e);
                // Only a missing top-level field is the whole document's.
                prop_assert!(
                    !p.path.0.is_empty() || p.message.starts_with("missing field"),
                    "{}", e
                );
            }
        }
    }
}
