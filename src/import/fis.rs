//! An AWS FIS experiment template: targets (resources chosen by ARN, tag
//! and filter, then a selection mode), actions (an action id, parameters,
//! its target, and `startAfter`), stop conditions (CloudWatch alarms).
//!
//! An action without `startAfter` starts with the experiment; one with it
//! starts when every action it names has ended, as FIS runs them. FIS
//! restarts stopped EC2 instances itself (`startInstancesAfterDuration`);
//! faultline brings an instance back only by its service's own restart
//! policy, which the table says.

use serde_json::{Map, Value, json};

use super::targets::{Scope, Selection, words, words_of};
use super::{Builder, duration_text, millis, number};
use crate::error::{JsonPath, Problem, closest, echo};
use crate::spec::units::Duration;

/// What a tag key must start with to give an alarm's threshold:
/// `faultline:stop:<alarm name>` = `probe=checkout error_rate_above=5%`.
pub(super) const STOP_TAG: &str = "faultline:stop:";

pub(super) fn read(root: &Map<String, Value>, b: &mut Builder) {
    let top = JsonPath::root();
    if let Some(description) = root.get("description").and_then(Value::as_str) {
        b.description = Some(description.to_string());
        b.mapped(
            &top.key("description"),
            "description",
            "the scenario's description",
        );
    }
    let targets = read_targets(root, b);
    read_actions(root, &targets, b);
    let used_tags = read_stop_conditions(root, b);
    if let Some(tags) = root.get("tags").and_then(Value::as_object) {
        for key in tags.keys() {
            if !used_tags.contains(key) {
                b.unmapped(
                    &top.key("tags").key(key),
                    key.clone(),
                    "a label of the template; only `faultline:stop:<alarm>` tags mean something here",
                );
            }
        }
    }
    for (key, why) in [
        (
            "roleArn",
            "the IAM role FIS acts as: a simulation needs no permission",
        ),
        (
            "logConfiguration",
            "where FIS logs: faultline writes events.jsonl and metrics.csv",
        ),
        (
            "experimentOptions",
            "account targeting and empty-target handling: one model is one account, and a target that resolves to nothing is refused",
        ),
        (
            "experimentReportConfiguration",
            "FIS's report: `faultline report` draws one from the run",
        ),
        ("clientToken", "an API idempotency token"),
        ("id", "the template's id in an account"),
        ("arn", "the template's ARN in an account"),
        ("creationTime", "when the template was created"),
        ("lastUpdateTime", "when the template was changed"),
    ] {
        if root.contains_key(key) {
            b.unmapped(&top.key(key), key, why);
        }
    }
    b.rest(
        root,
        &[
            "description",
            "targets",
            "actions",
            "stopConditions",
            "tags",
            "roleArn",
            "logConfiguration",
            "experimentOptions",
            "experimentReportConfiguration",
            "clientToken",
            "id",
            "arn",
            "creationTime",
            "lastUpdateTime",
        ],
        &top,
        "not a field of a FIS experiment template that faultline knows",
    );
}

/// A target resolved: what it names in the model and how many it takes.
#[derive(Clone, Copy)]
struct Target {
    scope: Scope,
    selection: Selection,
}

fn read_targets(root: &Map<String, Value>, b: &mut Builder) -> Vec<(String, Option<Target>)> {
    let path = JsonPath::root().key("targets");
    let Some(targets) = root.get("targets").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, target) in targets {
        let at = path.key(name);
        let resolved = target.as_object().and_then(|t| read_target(t, &at, b));
        if target.as_object().is_none() {
            b.problem(Problem::new(
                at.clone(),
                "expected an object (a FIS target)",
            ));
        }
        out.push((name.clone(), resolved));
    }
    out
}

fn read_target(target: &Map<String, Value>, at: &JsonPath, b: &mut Builder) -> Option<Target> {
    let selection = match target.get("selectionMode") {
        None => Selection::All,
        Some(mode) => match mode.as_str().and_then(Selection::parse_fis) {
            Some(s) => s,
            None => {
                b.problem(Problem::new(
                    at.key("selectionMode"),
                    format!(
                        "expected `ALL`, `COUNT(n)` or `PERCENT(n)` (n from 1 to 100), found {}",
                        echo(&mode.to_string())
                    ),
                ));
                return None;
            }
        },
    };
    let mut found = Vec::new();
    if let Some(tags) = target.get("resourceTags") {
        found.extend(words_of(tags));
    }
    if let Some(arns) = target.get("resourceArns") {
        found.extend(words_of(arns));
    }
    if let Some(parameters) = target.get("parameters") {
        found.extend(words_of(parameters));
    }
    let mut zones = Vec::new();
    if let Some(filters) = target.get("filters").and_then(Value::as_array) {
        for (k, filter) in filters.iter().enumerate() {
            let path = filter.get("path").and_then(Value::as_str).unwrap_or("");
            let values = filter.get("values").map(words_of).unwrap_or_default();
            if path.to_ascii_lowercase().contains("availabilityzone") {
                zones.extend(values);
            } else {
                b.unmapped(
                    &at.key("filters").index(k),
                    format!("filter {path}"),
                    "faultline chooses among a service's running instances; this attribute is not in the model",
                );
            }
        }
    }
    let zone_named = zones.iter().find_map(|z| b.names.zone(z));
    if !zones.is_empty() && zone_named.is_none() {
        let names: Vec<&str> = b.names.topology.zones.iter().map(String::as_str).collect();
        let hint = zones
            .iter()
            .find_map(|z| closest(z, names.iter().copied()))
            .map(|n| format!("did you mean `{n}`?"));
        b.problem(
            Problem::new(
                at.key("filters"),
                format!(
                    "the availability zone filter ({}) names no zone of the model: expected one of {} (or an AWS zone name ending in its letter, `us-east-1a` for `az-a`)",
                    zones.iter().map(|z| format!("`{}`", echo(z))).collect::<Vec<_>>().join(", "),
                    names.join(", ")
                ),
            )
            .with_suggestion(hint),
        );
        return None;
    }
    let mut scope = match b.names.resolve(&found, at, "the target") {
        Ok(scope) => scope,
        Err(_) if zone_named.is_some() => Scope::default(),
        Err(mut problem) => {
            problem.path = if target.contains_key("resourceTags") {
                at.key("resourceTags")
            } else if target.contains_key("resourceArns") {
                at.key("resourceArns")
            } else {
                at.clone()
            };
            b.problem(problem);
            return None;
        }
    };
    if zone_named.is_some() {
        scope.zone = zone_named;
    }
    let service = scope
        .service
        .map(|s| format!("service {}", b.names.service_name(s)));
    let zone = scope.zone.map(|z| format!("zone {}", b.names.zone_name(z)));
    let named: Vec<String> = [service, zone].into_iter().flatten().collect();
    b.mapped(
        at,
        target
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("target"),
        format!("{}, selection {}", named.join(" in "), selection.describe()),
    );
    b.rest(
        target,
        &[
            "resourceType",
            "resourceArns",
            "resourceTags",
            "filters",
            "selectionMode",
            "parameters",
        ],
        at,
        "not a field of a FIS target that faultline knows",
    );
    Some(Target { scope, selection })
}

fn read_actions(root: &Map<String, Value>, targets: &[(String, Option<Target>)], b: &mut Builder) {
    let path = JsonPath::root().key("actions");
    let Some(actions) = root.get("actions").and_then(Value::as_object) else {
        b.problem(Problem::new(
            JsonPath::root().key("actions"),
            "expected `actions`: an object of FIS actions, each with an `actionId`",
        ));
        return;
    };
    let names: Vec<&str> = actions.keys().map(String::as_str).collect();
    // Start times by `startAfter`, resolved depth first; a cycle or an
    // unknown name is a problem and the action is left out.
    let mut starts: Vec<Option<u64>> = vec![None; names.len()];
    let mut lengths: Vec<u64> = vec![0; names.len()];
    let mut state = vec![0u8; names.len()];
    let mut order = Vec::new();
    for k in 0..names.len() {
        visit(k, actions, &names, &path, &mut state, &mut order, b);
    }
    for k in order {
        let action = &actions[names[k]];
        let at = path.key(names[k]);
        let after: Vec<usize> = start_after(action)
            .iter()
            .filter_map(|n| names.iter().position(|x| x == n))
            .collect();
        if after.iter().any(|&d| starts[d].is_none()) {
            continue;
        }
        let start = after
            .iter()
            .map(|&d| starts[d].unwrap_or(0) + lengths[d])
            .max()
            .unwrap_or(0);
        let Some(action) = action.as_object() else {
            b.problem(Problem::new(at, "expected an object (a FIS action)"));
            continue;
        };
        if let Some(length) = read_action(names[k], action, &at, start, targets, b) {
            starts[k] = Some(start);
            lengths[k] = length;
            b.reach(start + length);
        }
    }
}

fn start_after(action: &Value) -> Vec<String> {
    match action.get("startAfter") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Orders the actions so that each comes after those it starts after.
fn visit(
    k: usize,
    actions: &Map<String, Value>,
    names: &[&str],
    path: &JsonPath,
    state: &mut [u8],
    order: &mut Vec<usize>,
    b: &mut Builder,
) {
    if state[k] != 0 {
        if state[k] == 1 {
            b.problem(Problem::new(
                path.key(names[k]).key("startAfter"),
                format!(
                    "`{}` waits, through `startAfter`, for itself: expected the actions to start after one another without a cycle",
                    echo(names[k])
                ),
            ));
        }
        return;
    }
    state[k] = 1;
    for (i, dep) in start_after(&actions[names[k]]).iter().enumerate() {
        match names.iter().position(|n| n == dep) {
            Some(d) => visit(d, actions, names, path, state, order, b),
            None => b.problem(
                Problem::new(
                    path.key(names[k]).key("startAfter").index(i),
                    format!(
                        "`{}` is not an action of this template: expected one of {}",
                        echo(dep),
                        names.join(", ")
                    ),
                )
                .with_suggestion(
                    closest(dep, names.iter().copied()).map(|n| format!("did you mean `{n}`?")),
                ),
            ),
        }
    }
    state[k] = 2;
    order.push(k);
}

/// Maps one action; returns how long it runs on FIS's clock (what the
/// actions after it wait for), or `None` when it has a problem.
fn read_action(
    name: &str,
    action: &Map<String, Value>,
    at: &JsonPath,
    start: u64,
    targets: &[(String, Option<Target>)],
    b: &mut Builder,
) -> Option<u64> {
    let Some(id) = action.get("actionId").and_then(Value::as_str) else {
        b.problem(Problem::new(
            at.key("actionId"),
            "expected an action id such as `aws:ecs:stop-task`",
        ));
        return None;
    };
    let empty = Map::new();
    let parameters = action
        .get("parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let params_at = at.key("parameters");
    b.rest(
        action,
        &[
            "actionId",
            "description",
            "parameters",
            "targets",
            "startAfter",
        ],
        at,
        "not a field of a FIS action that faultline knows",
    );
    let duration = |key: &str, b: &mut Builder| -> Option<Option<u64>> {
        match parameters.get(key) {
            None => Some(None),
            // FIS takes ISO 8601 only; faultline's own forms would read
            // here but would not run on FIS.
            Some(Value::String(text)) => match Duration::parse(text) {
                Ok(d) if d.nanos() > 0 && text.trim_start().starts_with(['P', 'p']) => {
                    Some(Some(d.nanos()))
                }
                _ => {
                    b.problem(Problem::new(
                        params_at.key(key),
                        format!(
                            "expected an ISO 8601 duration such as `PT5M`, found `{}`",
                            echo(text)
                        ),
                    ));
                    None
                }
            },
            Some(other) => {
                b.problem(Problem::new(
                    params_at.key(key),
                    format!("expected an ISO 8601 duration such as `PT5M`, found {other}"),
                ));
                None
            }
        }
    };
    let needed = |key: &str, b: &mut Builder| -> Option<u64> {
        match duration(key, b)? {
            Some(d) => Some(d),
            None => {
                b.problem(Problem::new(
                    params_at.key(key),
                    format!("`{id}` needs `{key}`: expected an ISO 8601 duration such as `PT5M`"),
                ));
                None
            }
        }
    };
    let item = format!("{name} ({id})");
    let list_rest = |b: &mut Builder, known: &[&str]| {
        b.rest(
            parameters,
            known,
            &params_at,
            "a parameter faultline has no counterpart for",
        );
    };
    if id == "aws:fis:wait" {
        let length = needed("duration", b)?;
        b.mapped(
            at,
            item,
            format!(
                "a wait of {}: the actions after it start later",
                duration_text(length)
            ),
        );
        list_rest(b, &["duration"]);
        return Some(length);
    }
    if !known(id) {
        b.unmapped(at, item, format!("`{id}` has no faultline counterpart"));
        return Some(duration("duration", b).flatten().unwrap_or(0));
    }
    let target = target_of(action, at, targets, b)?;
    let (scope, selection) = (target.scope, target.selection);
    match id {
        "aws:ec2:stop-instances" => {
            let length = duration("startInstancesAfterDuration", b)?;
            b.kill(
                name,
                at,
                &item,
                scope,
                selection,
                "host_down",
                start,
                length,
            );
            if length.is_some() {
                b.unmapped(
                    &params_at.key("startInstancesAfterDuration"),
                    "startInstancesAfterDuration",
                    "FIS starts the instances again; a killed faultline instance comes back only by its service's `restart` (a zone outage ends at this time)",
                );
            }
            list_rest(b, &["startInstancesAfterDuration"]);
            Some(length.unwrap_or(0))
        }
        "aws:ec2:terminate-instances" | "aws:ec2:reboot-instances" => {
            b.kill(name, at, &item, scope, selection, "host_down", start, None);
            list_rest(b, &[]);
            Some(0)
        }
        "aws:ecs:stop-task" | "aws:eks:pod-delete" => {
            b.kill(name, at, &item, scope, selection, "crash", start, None);
            list_rest(b, &["gracePeriodSeconds", "kubernetesServiceAccount"]);
            Some(0)
        }
        "aws:eks:terminate-nodegroup-instances" => {
            let share = parameters
                .get("instanceTerminationPercentage")
                .and_then(number)
                .filter(|p| *p > 0.0 && *p <= 100.0);
            let Some(share) = share else {
                b.problem(Problem::new(
                    params_at.key("instanceTerminationPercentage"),
                    "expected a percentage of the node group's instances, from 1 to 100",
                ));
                return None;
            };
            b.kill(
                name,
                at,
                &item,
                scope,
                Selection::Percent(share),
                "host_down",
                start,
                None,
            );
            list_rest(b, &["instanceTerminationPercentage"]);
            Some(0)
        }
        "aws:rds:failover-db-cluster" => {
            failover(name, at, &item, scope, start, b);
            list_rest(b, &[]);
            Some(0)
        }
        "aws:rds:reboot-db-instances" => {
            b.kill(name, at, &item, scope, selection, "crash", start, None);
            list_rest(b, &["forceFailover"]);
            Some(0)
        }
        "aws:ecs:task-network-latency" | "aws:eks:pod-network-latency" => {
            let length = needed("duration", b)?;
            let delay = parameters
                .get("delayMilliseconds")
                .and_then(millis)
                .unwrap_or(200_000_000);
            let jitter = parameters
                .get("jitterMilliseconds")
                .and_then(millis)
                .unwrap_or(0);
            latency(
                name, at, &item, scope, selection, delay, jitter, start, length, b,
            );
            list_rest(b, &["duration", "delayMilliseconds", "jitterMilliseconds"]);
            Some(length)
        }
        "aws:ecs:task-cpu-stress" | "aws:eks:pod-cpu-stress" => {
            let length = needed("duration", b)?;
            let percent = parameters.get("percent").and_then(number).unwrap_or(100.0);
            cpu_stress(name, at, &item, scope, selection, percent, start, length, b);
            list_rest(b, &["duration", "percent"]);
            Some(length)
        }
        "aws:ssm:send-command" => {
            send_command(name, at, &item, parameters, scope, selection, start, b)
        }
        "aws:fis:inject-api-internal-error"
        | "aws:fis:inject-api-throttle-error"
        | "aws:fis:inject-api-unavailable-error" => {
            let length = needed("duration", b)?;
            let Some(percent) = parameters
                .get("percentage")
                .and_then(number)
                .filter(|p| *p > 0.0 && *p <= 100.0)
            else {
                b.problem(Problem::new(
                    params_at.key("percentage"),
                    "expected the percentage of calls that fail, from 1 to 100",
                ));
                return None;
            };
            let mut fields = Map::new();
            fields.insert("fraction".into(), json!(percent / 100.0));
            b.targeted(
                name,
                at,
                &item,
                "errors",
                fields,
                scope,
                Selection::All,
                start,
                length,
            );
            for key in ["service", "operations"] {
                if parameters.contains_key(key) {
                    b.unmapped(
                        &params_at.key(key),
                        key,
                        "the AWS API and operations: faultline fails the target's own requests",
                    );
                }
            }
            list_rest(b, &["duration", "percentage", "service", "operations"]);
            Some(length)
        }
        "aws:network:disrupt-connectivity" => {
            let length = needed("duration", b)?;
            let scope_param = parameters
                .get("scope")
                .and_then(Value::as_str)
                .unwrap_or("all");
            disrupt(name, at, &item, scope, scope_param, start, length, b);
            list_rest(b, &["duration", "scope"]);
            Some(length)
        }
        _ => unreachable!("`known` lists the ids matched here"),
    }
}

fn known(id: &str) -> bool {
    matches!(
        id,
        "aws:ec2:stop-instances"
            | "aws:ec2:terminate-instances"
            | "aws:ec2:reboot-instances"
            | "aws:ecs:stop-task"
            | "aws:eks:pod-delete"
            | "aws:eks:terminate-nodegroup-instances"
            | "aws:rds:failover-db-cluster"
            | "aws:rds:reboot-db-instances"
            | "aws:ecs:task-network-latency"
            | "aws:eks:pod-network-latency"
            | "aws:ecs:task-cpu-stress"
            | "aws:eks:pod-cpu-stress"
            | "aws:ssm:send-command"
            | "aws:fis:inject-api-internal-error"
            | "aws:fis:inject-api-throttle-error"
            | "aws:fis:inject-api-unavailable-error"
            | "aws:network:disrupt-connectivity"
    )
}

fn target_of(
    action: &Map<String, Value>,
    at: &JsonPath,
    targets: &[(String, Option<Target>)],
    b: &mut Builder,
) -> Option<Target> {
    let reference = action
        .get("targets")
        .and_then(Value::as_object)
        .and_then(|t| t.iter().next())
        .and_then(|(key, v)| v.as_str().map(|v| (key.clone(), v.to_string())));
    let Some((key, reference)) = reference else {
        b.problem(Problem::new(
            at.key("targets"),
            "expected `targets`: the name of one of the template's targets, e.g. {\"Tasks\": \"orders-tasks\"}",
        ));
        return None;
    };
    match targets.iter().find(|(n, _)| *n == reference) {
        // A target with a problem has reported it already.
        Some((_, resolved)) => *resolved,
        None => {
            let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
            b.problem(
                Problem::new(
                    at.key("targets").key(&key),
                    format!(
                        "`{}` is not a target of this template: expected one of `targets`' names ({})",
                        echo(&reference),
                        names.join(", ")
                    ),
                )
                .with_suggestion(closest(&reference, names.iter().copied()).map(|n| format!("did you mean `{n}`?"))),
            );
            None
        }
    }
}

/// A failover of a replicated database: its primary is killed, and the
/// model's own failover promotes a replica.
pub(super) fn failover(
    hint: &str,
    at: &JsonPath,
    item: &str,
    scope: Scope,
    start: u64,
    b: &mut Builder,
) {
    let primary = scope.service.and_then(|s| b.names.primary(s));
    match (scope.service, primary) {
        (Some(_), Some(primary)) => {
            let instance = b.names.instance_name(primary).to_string();
            let mut body = Map::new();
            body.insert("kind".into(), json!("instance_kill"));
            body.insert("target".into(), json!(instance));
            body.insert("mode".into(), json!("crash"));
            let name = b.fault(hint, body, start, None);
            b.mapped(
                at,
                item,
                format!("{name}: instance_kill of the primary {instance} (the model's failover promotes a replica)"),
            );
        }
        (Some(service), None) => {
            let service = b.names.service_name(service);
            b.unmapped(
                at,
                item,
                format!(
                    "`{service}` has no `replication` in the model, so nothing to fail over to"
                ),
            );
        }
        (None, _) => b.unmapped(at, item, "a failover names a database, not a zone"),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn latency(
    hint: &str,
    at: &JsonPath,
    item: &str,
    scope: Scope,
    selection: Selection,
    delay: u64,
    jitter: u64,
    start: u64,
    length: u64,
    b: &mut Builder,
) {
    let add = if jitter == 0 || jitter >= delay {
        json!({ "constant": duration_text(delay.max(1)) })
    } else {
        json!({ "uniform": { "min": duration_text(delay - jitter), "max": duration_text(delay + jitter) } })
    };
    let mut fields = Map::new();
    fields.insert("add".into(), add);
    b.targeted(
        hint, at, item, "latency", fields, scope, selection, start, length,
    );
}

/// CPU stress at `percent` load: the stressor's workers compete with the
/// service's for the same cores, so at 100 % its work takes twice as long
/// (a fair share halves), at 50 % one and a half times.
#[allow(clippy::too_many_arguments)]
pub(super) fn cpu_stress(
    hint: &str,
    at: &JsonPath,
    item: &str,
    scope: Scope,
    selection: Selection,
    percent: f64,
    start: u64,
    length: u64,
    b: &mut Builder,
) {
    let percent = percent.clamp(1.0, 100.0);
    let mut fields = Map::new();
    fields.insert("factor".into(), json!(1.0 + percent / 100.0));
    b.targeted(
        hint,
        at,
        item,
        "cpu_stress",
        fields,
        scope,
        selection,
        start,
        length,
    );
}

#[allow(clippy::too_many_arguments)]
fn send_command(
    name: &str,
    at: &JsonPath,
    item: &str,
    parameters: &Map<String, Value>,
    scope: Scope,
    selection: Selection,
    start: u64,
    b: &mut Builder,
) -> Option<u64> {
    let params_at = at.key("parameters");
    let document = parameters
        .get("documentArn")
        .and_then(Value::as_str)
        .unwrap_or("");
    // The document's parameters are a JSON object inside a string.
    let inner: Map<String, Value> = match parameters.get("documentParameters") {
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            _ => {
                b.problem(Problem::new(
                    params_at.key("documentParameters"),
                    "expected a JSON object in a string, e.g. \"{\\\"DurationSeconds\\\": \\\"120\\\"}\"",
                ));
                return None;
            }
        },
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let seconds = inner
        .get("DurationSeconds")
        .and_then(number)
        .filter(|s| *s > 0.0 && *s < 1e9)
        .map(|s| (s * 1e9) as u64)
        .or_else(|| {
            parameters
                .get("duration")
                .and_then(|d| d.as_str())
                .and_then(|d| Duration::parse(d).ok())
                .map(Duration::nanos)
        });
    let Some(length) = seconds else {
        b.problem(Problem::new(
            params_at.key("documentParameters"),
            "expected `DurationSeconds` in the document's parameters (or the action's `duration`)",
        ));
        return None;
    };
    let used = ["documentArn", "documentParameters", "duration"];
    b.rest(
        parameters,
        &used,
        &params_at,
        "a parameter faultline has no counterpart for",
    );
    if document.contains("AWSFIS-Run-Network-Latency") {
        let delay = inner
            .get("DelayMilliseconds")
            .and_then(millis)
            .unwrap_or(200_000_000);
        let jitter = inner
            .get("JitterMilliseconds")
            .and_then(millis)
            .unwrap_or(0);
        latency(
            name, at, item, scope, selection, delay, jitter, start, length, b,
        );
    } else if document.contains("AWSFIS-Run-CPU-Stress") {
        let percent = inner.get("LoadPercent").and_then(number).unwrap_or(100.0);
        cpu_stress(name, at, item, scope, selection, percent, start, length, b);
    } else {
        b.unmapped(
            at,
            item,
            format!(
                "the SSM document `{}` runs a script whose effect faultline cannot know (AWSFIS-Run-Network-Latency and AWSFIS-Run-CPU-Stress map)",
                echo(words(document).last().map(String::as_str).unwrap_or(document))
            ),
        );
    }
    Some(length)
}

/// `aws:network:disrupt-connectivity` on a subnet: `all` cuts the subnet
/// off from everything, which from outside is its zone's hosts down;
/// `availability-zone` cuts traffic between its zone and the others, a
/// partition that leaves the zone working inside.
#[allow(clippy::too_many_arguments)]
fn disrupt(
    hint: &str,
    at: &JsonPath,
    item: &str,
    scope: Scope,
    mode: &str,
    start: u64,
    length: u64,
    b: &mut Builder,
) {
    let Some(zone) = scope.zone else {
        b.unmapped(
            at,
            item,
            "the subnet names no zone of the model (filter it by AvailabilityZone or tag it with the zone's name)",
        );
        return;
    };
    let zone_name = b.names.zone_name(zone).to_string();
    match mode {
        "all" => b.zone_outage(hint, at, item, zone, Selection::All, start, Some(length)),
        "availability-zone" => {
            let others: Vec<String> = b
                .names
                .topology
                .zones
                .iter()
                .filter(|z| **z != zone_name)
                .cloned()
                .collect();
            if others.is_empty() {
                b.unmapped(
                    at,
                    item,
                    format!("the model has no zone besides {zone_name} to cut it from"),
                );
                return;
            }
            let mut body = Map::new();
            body.insert("kind".into(), json!("network_partition"));
            body.insert(
                "between".into(),
                json!([[zone_name.clone()], others.clone()]),
            );
            body.insert("mode".into(), json!("drop"));
            let name = b.fault(hint, body, start, Some(length));
            b.mapped(
                at,
                item,
                format!(
                    "{name}: network_partition [{zone_name}] | [{}] for {}",
                    others.join(", "),
                    duration_text(length)
                ),
            );
        }
        other => b.unmapped(
            at,
            item,
            format!(
                "scope `{}`: the model has no {} to cut off",
                echo(other),
                match other {
                    "s3" => "S3",
                    "dynamodb" => "DynamoDB",
                    "prefix-list" => "prefix lists",
                    _ => "such destination",
                }
            ),
        ),
    }
}

/// Stop conditions: each CloudWatch alarm mapped to a guard when its
/// threshold can be found — from a `faultline:stop:<alarm name>` tag of the
/// template, else from the alarm's name (`<probe>-error-rate-above-5pct`,
/// `<probe>-p99-above-2s`, `<probe>-lost-writes-above-0`). Returns the tag
/// keys it used.
fn read_stop_conditions(root: &Map<String, Value>, b: &mut Builder) -> Vec<String> {
    let mut used = Vec::new();
    let path = JsonPath::root().key("stopConditions");
    let Some(conditions) = root.get("stopConditions").and_then(Value::as_array) else {
        return used;
    };
    let tags = root.get("tags").and_then(Value::as_object);
    for (k, condition) in conditions.iter().enumerate() {
        let at = path.index(k);
        let source = condition
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("");
        if source == "none" {
            b.mapped(&at, "none", "no stop condition: no guard");
            continue;
        }
        if source != "aws:cloudwatch:alarm" {
            b.unmapped(&at, source, "only CloudWatch alarms (`aws:cloudwatch:alarm`) are stop conditions faultline reads");
            continue;
        }
        let arn = condition.get("value").and_then(Value::as_str).unwrap_or("");
        let alarm = arn.rsplit(':').next().unwrap_or(arn).to_string();
        let item = format!("alarm {alarm}");
        let tag_key = format!("{STOP_TAG}{alarm}");
        if let Some(spec) = tags.and_then(|t| t.get(&tag_key)) {
            used.push(tag_key.clone());
            let tag_at = JsonPath::root().key("tags").key(&tag_key);
            match spec.as_str().map(parse_guard_tag) {
                Some(Ok(guard)) => add_guard(&alarm, &tag_at, &item, guard, true, b),
                Some(Err(why)) => b.problem(Problem::new(tag_at, why)),
                None => b.problem(Problem::new(
                    tag_at,
                    "expected a string such as \"probe=checkout error_rate_above=5% over=1m\"",
                )),
            }
            continue;
        }
        match guard_from_name(&alarm) {
            Some(guard) => add_guard(&alarm, &at.key("value"), &item, guard, false, b),
            None => b.unmapped(
                &at,
                item,
                format!(
                    "an alarm ARN carries no threshold: tag the template `{STOP_TAG}{alarm}` = \"probe=<workload|service.endpoint|service> error_rate_above=5% over=1m\", or name the alarm `<probe>-error-rate-above-5pct` / `<probe>-p99-above-2s`"
                ),
            ),
        }
    }
    used
}

/// `probe=checkout error_rate_above=5% p99_above=2s over=1m`.
fn parse_guard_tag(text: &str) -> Result<Map<String, Value>, String> {
    let mut guard = Map::new();
    for word in text.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "expected `key=value` words, found `{}`",
                echo(word)
            ));
        };
        let value = match key {
            "probe" | "error_rate_above" | "p99_above" | "over" => json!(value),
            "lost_writes_above" => match value.parse::<u64>() {
                Ok(n) => json!(n),
                Err(_) => {
                    return Err(format!(
                        "`lost_writes_above` expects a whole number, found `{}`",
                        echo(value)
                    ));
                }
            },
            other => {
                return Err(format!(
                    "`{}` is not a guard field: expected probe, error_rate_above, p99_above, lost_writes_above or over",
                    echo(other)
                ));
            }
        };
        guard.insert(key.into(), value);
    }
    if !guard.contains_key("probe") {
        return Err("expected `probe=<workload|service.endpoint|service>` among the words".into());
    }
    if guard.len() == 1 || (guard.len() == 2 && guard.contains_key("over")) {
        return Err(
            "expected a threshold: error_rate_above, p99_above or lost_writes_above".into(),
        );
    }
    Ok(guard)
}

/// A guard read from an alarm's name.
fn guard_from_name(alarm: &str) -> Option<Map<String, Value>> {
    let mut guard = Map::new();
    if let Some((probe, value)) = alarm.split_once("-error-rate-above-") {
        let percent = value
            .strip_suffix("pct")
            .or_else(|| value.strip_suffix("percent"))?;
        let percent: f64 = percent.replace('_', ".").parse().ok()?;
        guard.insert("probe".into(), json!(probe));
        guard.insert("error_rate_above".into(), json!(format!("{percent}%")));
    } else if let Some((probe, value)) = alarm.split_once("-p99-above-") {
        Duration::parse(value).ok()?;
        guard.insert("probe".into(), json!(probe));
        guard.insert("p99_above".into(), json!(value));
    } else if let Some((probe, value)) = alarm.split_once("-lost-writes-above-") {
        guard.insert("probe".into(), json!(probe));
        guard.insert(
            "lost_writes_above".into(),
            json!(value.parse::<u64>().ok()?),
        );
    } else {
        return None;
    }
    Some(guard)
}

fn add_guard(
    alarm: &str,
    at: &JsonPath,
    item: &str,
    guard: Map<String, Value>,
    tagged: bool,
    b: &mut Builder,
) {
    let probe = guard["probe"].as_str().unwrap_or("").to_string();
    if !b.probe_exists(&probe) {
        let names = b.probe_names();
        b.problem(
            Problem::new(
                at.clone(),
                format!(
                    "the alarm's probe `{}` is not in the model: expected a workload, an endpoint (`service.endpoint`) or a service",
                    echo(&probe)
                ),
            )
            .with_suggestion(closest(&probe, names.iter().map(String::as_str)).map(|n| format!("did you mean `{n}`?"))),
        );
        return;
    }
    let what: Vec<String> = guard
        .iter()
        .filter(|(k, _)| *k != "probe")
        .map(|(k, v)| format!("{k} {}", super::compact(v)))
        .collect();
    let name = b.guard(alarm, Value::Object(guard));
    let from = if tagged {
        "from its tag"
    } else {
        "from its name"
    };
    b.mapped(
        at,
        item,
        format!("stop.{name}: {probe} {} ({from})", what.join(", ")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_guards_are_read_from_alarm_names() {
        let g = guard_from_name("checkout-error-rate-above-5pct").unwrap();
        assert_eq!(g["probe"], "checkout");
        assert_eq!(g["error_rate_above"], "5%");
        let g = guard_from_name("gateway.checkout-p99-above-2s").unwrap();
        assert_eq!(g["p99_above"], "2s");
        assert!(guard_from_name("HighCPU").is_none());
    }

    #[test]
    fn import_guard_tags_need_a_probe_and_a_threshold() {
        assert!(parse_guard_tag("probe=checkout error_rate_above=5% over=1m").is_ok());
        assert!(parse_guard_tag("probe=checkout over=1m").is_err());
        assert!(parse_guard_tag("error_rate_above=5%").is_err());
        assert!(parse_guard_tag("probe=x colour=red").is_err());
    }
}
