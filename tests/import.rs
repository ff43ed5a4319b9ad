//! `faultline import`: each shipped Chaos Toolkit experiment and FIS template
//! imports against its model, the scenario written validates and runs, the
//! table names every action and lists what does not map, and bad input
//! exits 2 naming the file, the JSON path and what was expected, with
//! nothing written.

use std::path::Path;

use serde_json::Value;

use crate::common::*;

/// The shipped examples and the model each is written for.
const EXAMPLES: &[(&str, &str, &[&str])] = &[
    (
        "fis/orders-half-down.json",
        "shop",
        &["stop-orders-tasks", "hold", "slow-payment-network"],
    ),
    (
        "fis/lose-az-b.json",
        "regional",
        &["isolate-az-b", "stress-api"],
    ),
    (
        "fis/orders-db-failover.json",
        "replicated",
        &["failover", "settle", "throttle-orders"],
    ),
    (
        "chaostoolkit/orders-pods.yaml",
        "shop",
        &["terminate-half-of-orders", "count-orders-pods"],
    ),
    ("chaostoolkit/slow-store.json", "regional", &["slow-store"]),
    (
        "chaostoolkit/stop-az-a.yaml",
        "web-tier",
        &["stop-az-a", "run-fis-template"],
    ),
];

fn import(dir: &Path, example: &str, model: &str, out: &str) -> std::process::Output {
    let example = repo().join("examples").join(example);
    let model = repo().join("models").join(format!("{model}.json"));
    faultline_in(
        dir,
        &[
            "import",
            example.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--out",
            out,
        ],
    )
}

fn stem(example: &str) -> &str {
    Path::new(example).file_stem().unwrap().to_str().unwrap()
}

#[test]
fn import_every_example_imports_validates_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (example, model, actions) in EXAMPLES {
        let out = format!("{}.json", stem(example));
        let table = succeeded(&import(d, example, model, &out));
        for action in *actions {
            assert!(
                table.lines().any(|l| l.contains(action)),
                "{example}: the table does not name `{action}`:\n{table}"
            );
        }
        succeeded(&faultline_in(d, &["validate", &out]));
        let run = faultline_in(d, &["run", &out, "-q"]);
        assert!(
            matches!(run.status.code(), Some(0 | 1)),
            "{example}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let run_dir = d.join("output").join(stem(example)).join("baseline/seed-1");
        assert!(run_dir.join("run.json").is_file(), "{example}: no run.json");
        let faults = events_of_kind(&run_dir, "fault_started");
        assert!(!faults.is_empty(), "{example}: no fault started");
    }
}

#[test]
fn import_percent_selection_kills_that_share_of_the_instances() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // orders runs 6 instances (2 per zone over 3); PERCENT(50) is 3 of them.
    succeeded(&import(d, "fis/orders-half-down.json", "shop", "half.json"));
    let scenario: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("half.json")).unwrap()).unwrap();
    assert_eq!(scenario["faults"]["stop-orders-tasks"]["count"], 3);
    assert_eq!(
        scenario["model"].as_str().unwrap(),
        relative_to(d, &repo().join("models/shop.json"))
    );
    let run = faultline_in(d, &["run", "half.json", "-q"]);
    assert!(matches!(run.status.code(), Some(0 | 1)));
    let killed = events_of_kind(
        &d.join("output/orders-half-down/baseline/seed-1"),
        "instance_killed",
    );
    assert_eq!(killed.len(), 3, "{killed:?}");
    assert!(
        killed.iter().all(|e| e.to_string().contains("orders")),
        "{killed:?}"
    );
    // Chaos Toolkit's percentage mode counts the same way.
    succeeded(&import(
        d,
        "chaostoolkit/orders-pods.yaml",
        "shop",
        "pods.json",
    ));
    let scenario: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("pods.json")).unwrap()).unwrap();
    assert_eq!(scenario["faults"]["terminate-half-of-orders"]["count"], 3);
}

/// `to` as a path relative to `dir`, as the scenario names its model.
fn relative_to(dir: &Path, to: &Path) -> String {
    let dir = dir.canonicalize().unwrap();
    let to = to.canonicalize().unwrap();
    let common = dir
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = dir.components().count() - common;
    let mut parts: Vec<String> = vec!["..".into(); ups];
    parts.extend(
        to.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[test]
fn import_lists_what_does_not_map_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = succeeded(&import(
        d,
        "chaostoolkit/orders-pods.yaml",
        "shop",
        "a.json",
    ));
    for key in [
        "configuration",
        "secrets",
        "controls",
        "grace_period",
        "pods-ready",
    ] {
        let line = table
            .lines()
            .find(|l| l.contains(key) && l.contains("unmapped:"))
            .unwrap_or_else(|| panic!("`{key}` is not listed as unmapped:\n{table}"));
        assert!(line.len() > line.find("unmapped:").unwrap() + 15, "{line}");
    }
    assert!(table.contains("rollbacks[0]"), "{table}");
    let table = succeeded(&import(d, "fis/orders-half-down.json", "shop", "b.json"));
    for key in [
        "roleArn",
        "logConfiguration",
        "alarm OrdersCpuHigh",
        "useEcsFaultInjectionEndpoints",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.contains(key) && l.contains("unmapped:")),
            "`{key}` is not listed as unmapped:\n{table}"
        );
    }
    // The alarms with a threshold in their name or a tag became guards.
    let scenario: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("b.json")).unwrap()).unwrap();
    assert_eq!(
        scenario["stop"]["checkout-error-rate-above-5pct"]["error_rate_above"],
        "5%"
    );
    assert_eq!(scenario["stop"]["shopbrowseslow"]["p99_above"], "2s");
    let table = succeeded(&import(
        d,
        "chaostoolkit/stop-az-a.yaml",
        "web-tier",
        "c.json",
    ));
    assert!(
        table
            .lines()
            .any(|l| l.contains("start_experiment") && l.contains("unmapped:")),
        "{table}"
    );
}

/// Runs an import of `text` (as `name`) against the shop and expects exit 2
/// with every `expected` fragment on stderr and nothing written.
fn refused(name: &str, text: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(name), text).unwrap();
    let model = repo().join("models/shop.json");
    let out = faultline_in(
        d,
        &[
            "import",
            name,
            "--model",
            model.to_str().unwrap(),
            "--out",
            "s.json",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    for fragment in expected {
        assert!(
            stderr.contains(fragment),
            "{name}: `{fragment}` not in {stderr}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{name}: something was written: {left:?}");
}

#[test]
fn import_bad_input_exits_2_naming_file_path_and_expectation() {
    refused("broken.json", "{\"actions\": ", &["broken.json", "line 1"]);
    refused(
        "neither.json",
        "{\"steps\": []}",
        &[
            "neither.json",
            "(top level)",
            "neither format",
            "Chaos Toolkit",
            "FIS",
        ],
    );
    refused(
        "list.yaml",
        "- a\n- b\n",
        &["list.yaml", "expected an object"],
    );
    refused(
        "typo.json",
        r#"{"targets": {"t": {"resourceType": "aws:ecs:task", "resourceTags": {"service": "ordrs"}, "selectionMode": "ALL"}},
            "actions": {"a": {"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "t"}}},
            "stopConditions": [{"source": "none"}]}"#,
        &[
            "typo.json",
            "targets.t.resourceTags",
            "resolves to nothing",
            "did you mean `orders`?",
        ],
    );
    refused(
        "mode.json",
        r#"{"targets": {"t": {"resourceTags": {"service": "orders"}, "selectionMode": "HALF"}},
            "actions": {"a": {"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "t"}}}}"#,
        &["targets.t.selectionMode", "COUNT(n)"],
    );
    refused(
        "cycle.json",
        r#"{"targets": {"t": {"resourceTags": {"service": "orders"}}},
            "actions": {"a": {"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "t"}, "startAfter": ["b"]},
                        "b": {"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "t"}, "startAfter": ["a"]}}}"#,
        &["startAfter", "cycle"],
    );
    refused(
        "iso.json",
        r#"{"targets": {"t": {"resourceTags": {"service": "orders"}}},
            "actions": {"a": {"actionId": "aws:ecs:task-cpu-stress", "targets": {"Tasks": "t"}, "parameters": {"duration": "5 minutes"}}}}"#,
        &["actions.a.parameters.duration", "ISO 8601"],
    );
    refused(
        "pods.yaml",
        "title: t\nmethod:\n  - type: action\n    name: kill\n    provider:\n      type: python\n      module: chaosk8s.pod.actions\n      func: terminate_pods\n      arguments:\n        label_selector: app=paymnt\n",
        &[
            "pods.yaml",
            "method[0].provider.arguments",
            "line",
            "did you mean `payment`?",
        ],
    );
}
