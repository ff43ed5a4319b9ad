//! A Chaos Toolkit experiment: a steady-state hypothesis (probes with
//! tolerances), a method (actions and probes run one after another, with
//! pauses) and rollbacks.
//!
//! The method's clock: an activity starts when the one before it has
//! finished and its `pauses.before` has passed; a `background` activity
//! does not hold the next one up. A kill is an instant; a fault that
//! Chaos Toolkit leaves in place (a latency toxic, a stopped host) lasts
//! until the method ends, when the rollbacks remove it, unless the action
//! says how long it lasts. The hypothesis is checked before the method and
//! after it, as Chaos Toolkit does: two checks, phases `before` and
//! `after`.

use serde_json::{Map, Value, json};

use super::fis::{cpu_stress, failover, latency};
use super::targets::{Selection, words_of};
use super::{Builder, duration_text, millis, number, seconds_or_text};
use crate::error::{JsonPath, Problem, echo};

/// The availability an http probe with a status tolerance asks for: the
/// probe expects its one request answered, and over a whole phase of
/// simulated requests the nearest reading of that is "nearly all".
const HTTP_AVAILABILITY: &str = "99%";

pub(super) fn read(root: &Map<String, Value>, b: &mut Builder) {
    let top = JsonPath::root();
    let title = root.get("title").and_then(Value::as_str);
    let description = root.get("description").and_then(Value::as_str);
    b.description = match (title, description) {
        (Some(t), Some(d)) => Some(format!("{t}: {d}")),
        (t, d) => t.or(d).map(str::to_string),
    };
    for key in ["title", "description"] {
        if root.contains_key(key) {
            b.mapped(&top.key(key), key, "the scenario's description");
        }
    }
    read_method(root, b);
    if let Some(hypothesis) = root.get("steady-state-hypothesis") {
        read_hypothesis(hypothesis, &top.key("steady-state-hypothesis"), b);
    }
    if let Some(rollbacks) = root.get("rollbacks").and_then(Value::as_array) {
        for (k, rollback) in rollbacks.iter().enumerate() {
            b.mapped(
                &top.key("rollbacks").index(k),
                activity_name(rollback),
                "nothing to add: each fault above ends at its `for` (the method's end for those left in place)",
            );
        }
    }
    for (key, why) in [
        (
            "configuration",
            "values for the drivers (hosts, regions, credentials' places): the simulation calls no system",
        ),
        ("secrets", "credentials: a simulation needs none"),
        (
            "controls",
            "hooks around the run (tracing, safeguards): faultline's own run writes events.jsonl, and stop guards are scenario `stop` entries",
        ),
        ("tags", "labels of the experiment"),
        ("version", "the experiment format's version"),
        ("contributions", "what the experiment is said to test"),
        ("extensions", "tool-specific data"),
        (
            "runtime",
            "Chaos Toolkit's run strategy (rollbacks, hypothesis frequency): faultline checks the hypothesis before and after the method",
        ),
    ] {
        if root.contains_key(key) {
            b.unmapped(&top.key(key), key, why);
        }
    }
    b.rest(
        root,
        &[
            "title",
            "description",
            "method",
            "steady-state-hypothesis",
            "rollbacks",
            "configuration",
            "secrets",
            "controls",
            "tags",
            "version",
            "contributions",
            "extensions",
            "runtime",
        ],
        &top,
        "not a field of a Chaos Toolkit experiment that faultline knows",
    );
}

fn activity_name(activity: &Value) -> String {
    activity
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| activity.get("ref").and_then(Value::as_str))
        .unwrap_or("(unnamed)")
        .to_string()
}

fn pause(activity: &Value, which: &str, at: &JsonPath, b: &mut Builder) -> u64 {
    match activity.get("pauses").and_then(|p| p.get(which)) {
        None => 0,
        Some(value) => match seconds_or_text(value) {
            Some(ns) => ns,
            None => {
                b.problem(Problem::new(
                    at.key("pauses").key(which),
                    format!(
                        "expected a number of seconds, found {}",
                        echo(&value.to_string())
                    ),
                ));
                0
            }
        },
    }
}

fn read_method(root: &Map<String, Value>, b: &mut Builder) {
    let path = JsonPath::root().key("method");
    let Some(method) = root.get("method") else {
        return;
    };
    let Some(method) = method.as_array() else {
        b.problem(Problem::new(
            path,
            "expected a list of activities (actions and probes)",
        ));
        return;
    };
    // First the clock: when each activity starts, and when the method ends.
    let mut clock = 0u64;
    let mut starts = Vec::with_capacity(method.len());
    for (k, activity) in method.iter().enumerate() {
        let at = path.index(k);
        clock += pause(activity, "before", &at, b);
        starts.push(clock);
        if activity.get("background").and_then(Value::as_bool) != Some(true) {
            clock += own_length(activity).unwrap_or(0);
        }
        clock += pause(activity, "after", &at, b);
    }
    let end = clock;
    b.reach(end);
    for (k, activity) in method.iter().enumerate() {
        let at = path.index(k);
        let name = activity_name(activity);
        if let Some(pauses) = activity.get("pauses").and_then(Value::as_object) {
            for (key, value) in pauses {
                b.mapped(
                    &at.key("pauses").key(key),
                    format!("pause {key}"),
                    format!(
                        "timing: {} {key} `{name}`",
                        seconds_or_text(value).map_or(value.to_string(), duration_text)
                    ),
                );
            }
        }
        let Some(activity) = activity.as_object() else {
            b.problem(Problem::new(
                at,
                "expected an object (an action or a probe)",
            ));
            continue;
        };
        match activity.get("type").and_then(Value::as_str) {
            Some("action") => action(&name, activity, &at, starts[k], end, b),
            Some("probe") => b.unmapped(
                &at,
                name,
                "a probe in the method only reads: faultline records every component every window (metrics.csv)",
            ),
            _ if activity.contains_key("ref") => b.unmapped(
                &at,
                name,
                "a reference to another activity: write the activity out where it runs again",
            ),
            _ => b.problem(Problem::new(
                at.key("type"),
                "expected `action` or `probe`",
            )),
        }
    }
}

/// How long an action says it lasts (an argument `duration`), if it does.
fn own_length(activity: &Value) -> Option<u64> {
    let arguments = activity.get("provider")?.get("arguments")?;
    arguments
        .get("duration")
        .or_else(|| arguments.get("duration_seconds"))
        .and_then(seconds_or_text)
        .filter(|ns| *ns > 0)
}

/// The arguments that name what an action acts on, first to last.
const TARGET_ARGUMENTS: &[&str] = &[
    "service",
    "label_selector",
    "label_selectors",
    "name_pattern",
    "instance_ids",
    "instance_id",
    "db_cluster_identifier",
    "db_instance_identifier",
    "for_proxy",
    "proxy_name",
    "filters",
    "tags",
    "cluster",
    "az",
];

fn action(
    name: &str,
    activity: &Map<String, Value>,
    at: &JsonPath,
    start: u64,
    end: u64,
    b: &mut Builder,
) {
    let empty = Map::new();
    let provider = activity
        .get("provider")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let kind = provider.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "python" {
        b.unmapped(
            at,
            name,
            format!("a `{}` provider runs something whose effect faultline cannot know; only Python drivers map", echo(kind)),
        );
        return;
    }
    let module = provider.get("module").and_then(Value::as_str).unwrap_or("");
    let func = provider.get("func").and_then(Value::as_str).unwrap_or("");
    let full = format!("{module}.{func}");
    let item = format!("{name} ({full})");
    let arguments = provider
        .get("arguments")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let args_at = at.key("provider").key("arguments");
    if full == "chaosaws.fis.actions.start_experiment" {
        b.unmapped(
            at,
            item,
            "starts an FIS experiment by its template's id: import that template itself (`faultline import TEMPLATE.json`)",
        );
        return;
    }
    let handled = [
        "chaosaws.ec2.actions.stop_instance",
        "chaosaws.ec2.actions.stop_instances",
        "chaosaws.ec2.actions.terminate_instance",
        "chaosaws.ec2.actions.terminate_instances",
        "chaosaws.ecs.actions.stop_random_tasks",
        "chaosaws.ecs.actions.stop_task",
        "chaosk8s.pod.actions.terminate_pods",
        "chaosaws.rds.actions.failover_db_cluster",
        "chaosaws.rds.actions.reboot_db_instance",
        "chaosk8s.chaosmesh.network.actions.add_latency",
        "chaosk8s.chaosmesh.stress.actions.stress_cpu",
        "chaostoxi.toxic.actions.create_latency_toxic",
    ];
    if !handled.contains(&full.as_str()) {
        b.unmapped(
            at,
            item,
            format!("`{}` has no faultline counterpart", echo(&full)),
        );
        return;
    }
    let mut found = Vec::new();
    for key in TARGET_ARGUMENTS {
        if let Some(value) = arguments.get(*key) {
            found.extend(words_of(value));
        }
    }
    let scope = match b
        .names
        .resolve(&found, &args_at, &format!("the action `{}`", echo(name)))
    {
        Ok(scope) => scope,
        Err(problem) => {
            b.problem(problem);
            return;
        }
    };
    // A fault left in place lasts until the method ends (the rollbacks).
    let held = own_length(&Value::Object(activity.clone()))
        .or_else(|| Some(end - start).filter(|l| *l > 0));
    let mut used: Vec<&str> = TARGET_ARGUMENTS.to_vec();
    used.push("duration");
    match full.as_str() {
        "chaosaws.ec2.actions.stop_instance" | "chaosaws.ec2.actions.stop_instances" => {
            b.kill(
                name,
                at,
                &item,
                scope,
                Selection::All,
                "host_down",
                start,
                held,
            );
        }
        "chaosaws.ec2.actions.terminate_instance" | "chaosaws.ec2.actions.terminate_instances" => {
            b.kill(
                name,
                at,
                &item,
                scope,
                Selection::All,
                "host_down",
                start,
                None,
            );
        }
        "chaosaws.ecs.actions.stop_random_tasks" => {
            let selection = if let Some(p) = arguments.get("task_percent").and_then(number) {
                Selection::Percent(p)
            } else {
                Selection::Count(
                    arguments
                        .get("task_count")
                        .and_then(number)
                        .unwrap_or(1.0)
                        .max(1.0) as u32,
                )
            };
            used.extend(["task_percent", "task_count"]);
            b.kill(name, at, &item, scope, selection, "crash", start, None);
        }
        "chaosaws.ecs.actions.stop_task" | "chaosaws.rds.actions.reboot_db_instance" => {
            used.push("task_id");
            b.kill(
                name,
                at,
                &item,
                scope,
                Selection::Count(1),
                "crash",
                start,
                None,
            );
        }
        "chaosk8s.pod.actions.terminate_pods" => {
            let qty = arguments
                .get("qty")
                .and_then(number)
                .unwrap_or(1.0)
                .max(1.0);
            let selection = if arguments.get("all").and_then(Value::as_bool) == Some(true) {
                Selection::All
            } else if arguments.get("mode").and_then(Value::as_str) == Some("percentage") {
                Selection::Percent(qty)
            } else {
                Selection::Count(qty as u32)
            };
            used.extend(["qty", "all", "mode", "rand"]);
            b.kill(name, at, &item, scope, selection, "crash", start, None);
        }
        "chaosaws.rds.actions.failover_db_cluster" => failover(name, at, &item, scope, start, b),
        "chaosk8s.chaosmesh.network.actions.add_latency"
        | "chaostoxi.toxic.actions.create_latency_toxic" => {
            let Some(length) = held else {
                return zero_length(at, &item, b);
            };
            let Some(delay) = arguments.get("latency").and_then(millis) else {
                b.problem(Problem::new(
                    args_at.key("latency"),
                    "expected the latency added, in milliseconds (`100`) or with a unit (`\"100ms\"`)",
                ));
                return;
            };
            let jitter = arguments.get("jitter").and_then(millis).unwrap_or(0);
            used.extend(["latency", "jitter"]);
            latency(
                name,
                at,
                &item,
                scope,
                Selection::All,
                delay,
                jitter,
                start,
                length,
                b,
            );
        }
        "chaosk8s.chaosmesh.stress.actions.stress_cpu" => {
            let Some(length) = held else {
                return zero_length(at, &item, b);
            };
            let percent = arguments.get("load").and_then(number).unwrap_or(100.0);
            used.extend(["load", "workers"]);
            cpu_stress(
                name,
                at,
                &item,
                scope,
                Selection::All,
                percent,
                start,
                length,
                b,
            );
        }
        _ => unreachable!("`handled` lists the functions matched here"),
    }
    b.rest(
        arguments,
        &used,
        &args_at,
        "an argument faultline has no counterpart for",
    );
}

fn zero_length(at: &JsonPath, item: &str, b: &mut Builder) {
    b.unmapped(
        at,
        item,
        "it would end the instant it starts: nothing in the method comes after it; give it `pauses.after` or a `duration` argument",
    );
}

fn read_hypothesis(hypothesis: &Value, path: &JsonPath, b: &mut Builder) {
    let Some(probes) = hypothesis.get("probes").and_then(Value::as_array) else {
        return;
    };
    if hypothesis.get("title").is_some() {
        b.mapped(
            &path.key("title"),
            "title",
            "named in the checks' table only",
        );
    }
    let phases: &[&str] = if b.has_faults() {
        &["before", "after"]
    } else {
        &["whole"]
    };
    for (k, probe) in probes.iter().enumerate() {
        let at = path.key("probes").index(k);
        let name = activity_name(probe);
        match check_of(probe, b) {
            Ok((target, check)) => {
                let mut entries = Vec::new();
                for phase in phases {
                    let mut body = check.clone();
                    body.insert("probe".into(), json!(target));
                    body.insert("phase".into(), json!(phase));
                    let what: Vec<String> = check
                        .iter()
                        .map(|(k, v)| format!("{k} {}", super::compact(v)))
                        .collect();
                    let entry = b.check(&format!("{name}-{phase}"), Value::Object(body));
                    entries.push(format!(
                        "hypothesis.{entry}: {target} {} ({phase})",
                        what.join(", ")
                    ));
                }
                b.mapped(&at, name, entries.join("; "));
            }
            Err(why) => b.unmapped(&at, name, why),
        }
    }
}

/// A probe and its tolerance as a check's probe and thresholds, or why it
/// does not map.
fn check_of(probe: &Value, b: &Builder) -> Result<(String, Map<String, Value>), String> {
    let provider = probe.get("provider").cloned().unwrap_or(Value::Null);
    let tolerance = probe.get("tolerance").cloned().unwrap_or(Value::Null);
    let name = activity_name(probe);
    if provider.get("type").and_then(Value::as_str) == Some("http") {
        let url = provider.get("url").and_then(Value::as_str).unwrap_or("");
        let path = url
            .split("://")
            .nth(1)
            .map_or(url, |rest| rest.split_once('/').map_or("", |(_, p)| p));
        let target = b
            .probe_in(path)
            .or_else(|| b.probe_in(&name))
            .ok_or_else(|| {
                format!(
                    "the URL's path `{}` names no workload, endpoint or service of the model",
                    echo(path)
                )
            })?;
        let statuses = match &tolerance {
            Value::Number(_) => vec![tolerance.clone()],
            Value::Array(items) => items.clone(),
            _ => Vec::new(),
        };
        if statuses.is_empty()
            || !statuses
                .iter()
                .all(|s| number(s).is_some_and(|c| (200.0..400.0).contains(&c)))
        {
            return Err(format!(
                "tolerance {}: only success statuses (2xx, 3xx) map, to an availability check",
                echo(&tolerance.to_string())
            ));
        }
        let mut check = Map::new();
        check.insert("availability_above".into(), json!(HTTP_AVAILABILITY));
        if let Some(timeout) = provider
            .get("timeout")
            .and_then(seconds_or_text)
            .filter(|t| *t > 0)
        {
            check.insert("p99_below".into(), json!(duration_text(timeout)));
        }
        return Ok((target, check));
    }
    let range = match &tolerance {
        Value::Array(items) if items.len() == 2 => Some((number(&items[0]), number(&items[1]))),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("range") => o
            .get("range")
            .and_then(Value::as_array)
            .filter(|r| r.len() == 2)
            .map(|r| (number(&r[0]), number(&r[1]))),
        _ => None,
    };
    let Some((_, Some(upper))) = range else {
        return Err(format!(
            "tolerance {}: only an http probe's status or a numeric range on an error-rate or latency probe maps",
            echo(&tolerance.to_string())
        ));
    };
    let mut text = String::new();
    if let Some(arguments) = provider.get("arguments") {
        for word in words_of(arguments) {
            text.push(' ');
            text.push_str(&word);
        }
    }
    let target = b
        .probe_in(&name)
        .or_else(|| b.probe_in(&text))
        .ok_or_else(|| {
            format!(
                "`{}` names no workload, endpoint or service of the model",
                echo(&name)
            )
        })?;
    let lower = name.to_ascii_lowercase();
    let mut check = Map::new();
    if lower.contains("error") {
        // A bound at most 1 is a share; above it, a percentage.
        let percent = if upper <= 1.0 { upper * 100.0 } else { upper };
        if !(0.0..100.0).contains(&percent) || percent == 0.0 {
            return Err(format!(
                "an error-rate bound of {upper} is not a share below 100 %"
            ));
        }
        check.insert("error_rate_below".into(), json!(format!("{percent}%")));
    } else if ["latency", "p99", "response"]
        .iter()
        .any(|w| lower.contains(w))
    {
        // Prometheus and CloudWatch report seconds unless the name says ms.
        let ns = if lower.contains("ms") {
            upper * 1e6
        } else {
            upper * 1e9
        };
        if !(1.0..1e15).contains(&ns) {
            return Err(format!("a latency bound of {upper} is not a positive time"));
        }
        check.insert("p99_below".into(), json!(duration_text(ns.round() as u64)));
    } else {
        return Err("a range on a probe whose name says neither error rate nor latency: faultline cannot tell what it measures".into());
    }
    Ok((target, check))
}
