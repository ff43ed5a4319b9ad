//! File-level checks: what serde cannot check and a field says on its own
//! or with its neighbours in the same object — names well formed, lists not
//! empty, numbers in range, units positive, settings that need one another.
//! Collects every problem rather than stopping at the first.
//!
//! Nothing here looks a name up: what a name refers to (a call's target, a
//! zone, a queue, a primary, an error class) and the cycles those references
//! make are resolved once, by `topology::Topology::compile`, which runs these
//! checks first and reports both kinds together.

use super::model::{
    AutoscalingSpec, BreakerSpec, CallSpec, ClientsSpec, EndpointSpec, HealthCheckSpec,
    InstancesSpec, KeysSpec, ModelSpec, ReplicationSpec, RetrySpec, ServiceKind, ServiceSpec,
    WorkSpec, WorkloadSpec,
};
use super::scenario::{GuardSpec, ScenarioSpec};
use crate::base::Precision;
use crate::error::{JsonPath, Problem};

/// Largest p99/mean ratio a log-normal can have: with σ at the mode of the
/// quadratic, ln(p99/mean) = z²/2 where z is the 99th normal quantile.
pub(super) const LOGNORMAL_MAX_P99_OVER_MEAN: f64 = 14.96;

/// Bounds that keep a mistyped number from exhausting memory. The topology
/// places no instance of a service over the first (it is reported here).
pub const MAX_INSTANCES_PER_SERVICE: u64 = 100_000;
pub(super) const MAX_WINDOWS: u64 = 10_000_000;
pub(super) const MAX_CLIENTS: u64 = 10_000_000;

/// The one name rule (`spec::names`), at `path`.
fn check_name(problems: &mut Vec<Problem>, path: JsonPath, what: &str, name: &str) {
    if let Some(message) = super::names::problem(what, name) {
        problems.push(Problem::new(path, message));
    }
}

/// Every file-level problem of a model, in the order the file format
/// documents its parts.
pub fn model(model: &ModelSpec) -> Vec<Problem> {
    let mut problems = Vec::new();
    let root = JsonPath::root();
    if model.name.trim().is_empty() {
        problems.push(Problem::new(root.key("name"), "the model needs a name"));
    }
    if model.zones.is_empty() {
        problems.push(Problem::new(
            root.key("zones"),
            "expected at least one zone, e.g. [\"az-a\"]",
        ));
    }
    for (i, zone) in model.zones.iter().enumerate() {
        check_name(&mut problems, root.key("zones").index(i), "zone", zone);
        if model.zones[..i].contains(zone) {
            problems.push(Problem::new(
                root.key("zones").index(i),
                format!("zone \"{zone}\" is listed twice"),
            ));
        }
    }
    if model.services.is_empty() {
        problems.push(Problem::new(
            root.key("services"),
            "expected at least one service",
        ));
    }
    for (name, service) in &model.services {
        check_service(&mut problems, model, name, service);
    }
    if model.workload.is_empty() && model.clients.is_empty() {
        problems.push(Problem::new(
            root.key("workload"),
            "expected at least one workload entry, e.g. {\"checkout\": {\"endpoint\": \"gateway.checkout\", \"rate\": \"100/s\"}}",
        ));
    }
    for (name, clients) in &model.clients {
        check_clients(&mut problems, name, clients);
    }
    for (name, workload) in &model.workload {
        check_workload(&mut problems, name, workload);
    }
    problems
}

/// One service: its instances and workers, then each setting in the order
/// the file format documents them, then its endpoints and calls.
fn check_service(
    problems: &mut Vec<Problem>,
    model: &ModelSpec,
    name: &str,
    service: &ServiceSpec,
) {
    let root = JsonPath::root();
    let path = root.key("services").key(name);
    check_name(problems, path.clone(), "service", name);
    if let Some(instances) = &service.instances {
        check_instances(problems, &path.key("instances"), instances, &model.zones);
    }
    match service.workers {
        Some(0) => problems.push(Problem::new(
            path.key("workers"),
            "expected a positive number of workers, found 0",
        )),
        None if !matches!(service.kind, ServiceKind::External | ServiceKind::Queue) => problems
            .push(Problem::new(
                path.clone(),
                "missing field `workers`: how many requests one instance works on at once",
            )),
        _ => {}
    }
    if let Some(hc) = &service.load_balancer.health_check {
        check_health_check(problems, &path, hc);
    }
    check_memory_settings(problems, &path, service);
    if let Some(replication) = &service.replication {
        check_replication(problems, &path, service, replication);
    }
    for (endpoint_name, endpoint) in &service.endpoints {
        if endpoint.access.is_some() && service.replication.is_none() {
            problems.push(Problem::new(
                path.key("endpoints").key(endpoint_name).key("access"),
                "`access` routes reads and writes of a replicated database; this service has no `replication`",
            ));
        }
    }
    if let Some(scaling) = &service.autoscaling {
        check_autoscaling(problems, &path, scaling);
    }
    match (&service.consumer, service.kind) {
        (Some(consumer), ServiceKind::Queue) => {
            if consumer.concurrency == 0 {
                problems.push(Problem::new(
                    path.key("consumer").key("concurrency"),
                    "expected at least 1 item delivered at once",
                ));
            }
            if consumer.timeout.0 == 0 {
                problems.push(Problem::new(
                    path.key("consumer").key("timeout"),
                    "expected a positive timeout",
                ));
            }
            if consumer.retry_after.is_some_and(|d| d.0 == 0) {
                problems.push(Problem::new(
                    path.key("consumer").key("retry_after"),
                    "expected a positive pause: a consumer that puts a failed item back at once, against a dependency that fails at once, retries for ever without the clock moving",
                ));
            }
        }
        (None, ServiceKind::Queue) => problems.push(Problem::new(
            path.clone(),
            "a queue needs a `consumer` {\"concurrency\": ..., \"timeout\": ...} to drain it",
        )),
        (Some(_), _) => problems.push(Problem::new(
            path.key("consumer"),
            "only a service of kind `queue` has a consumer",
        )),
        (None, _) => {}
    }
    if service.endpoints.is_empty() && service.kind != ServiceKind::Queue {
        problems.push(Problem::new(
            path.key("endpoints"),
            "expected at least one endpoint",
        ));
    }
    check_endpoints(problems, &path, service);
}

/// Points from 0 to `most`, in increasing order, with positive finite
/// factors.
fn check_curve(
    problems: &mut Vec<Problem>,
    path: &JsonPath,
    curve: &[super::model::CurvePointSpec],
    most: f64,
) {
    let mut last = None;
    for (i, point) in curve.iter().enumerate() {
        let p = path.index(i);
        if !(point.at.is_finite() && (0.0..=most).contains(&point.at)) {
            let expected = if most == 1.0 {
                "expected a share from 0 to 1".to_string()
            } else {
                "expected a number of busy workers, 0 or more".to_string()
            };
            problems.push(Problem::new(p.key("at"), expected));
        } else if last.is_some_and(|last| point.at <= last) {
            problems.push(Problem::new(
                p.key("at"),
                "expected points in increasing order of `at`",
            ));
        }
        if !(point.factor.is_finite() && point.factor > 0.0) {
            problems.push(Problem::new(p.key("factor"), "expected a positive factor"));
        }
        last = Some(point.at);
    }
}

fn check_queue_discipline(
    problems: &mut Vec<Problem>,
    path: &JsonPath,
    discipline: &super::model::QueueDisciplineSpec,
) {
    use super::model::QueueOrderSpec;
    match (discipline.order, discipline.lifo_after) {
        (QueueOrderSpec::AdaptiveLifo, Some(after)) if after.0 == 0 => problems.push(Problem::new(
            path.key("lifo_after"),
            "expected a positive duration (`lifo` serves the newest first from the start)",
        )),
        (QueueOrderSpec::Fifo | QueueOrderSpec::Lifo, Some(_)) => problems.push(Problem::new(
            path.key("lifo_after"),
            "only `adaptive_lifo` switches order after a time; set `\"order\": \"adaptive_lifo\"` or remove it",
        )),
        _ => {}
    }
    if let Some(codel) = &discipline.codel {
        if codel.target.0 == 0 {
            problems.push(Problem::new(
                path.key("codel").key("target"),
                "expected a positive duration",
            ));
        }
        if codel.interval.0 < codel.target.0 {
            problems.push(Problem::new(
                path.key("codel").key("interval"),
                format!(
                    "expected at least the target ({}): a queue that has just formed may hold a request longer than one that stands",
                    codel.target
                ),
            ));
        }
    }
}

fn check_health_check(problems: &mut Vec<Problem>, path: &JsonPath, hc: &HealthCheckSpec) {
    let hc_path = path.key("load_balancer").key("health_check");
    for (field, value) in [("interval", hc.interval), ("timeout", hc.timeout)] {
        if value.0 == 0 {
            problems.push(Problem::new(
                hc_path.key(field),
                "expected a positive duration",
            ));
        }
    }
    for (field, value) in [
        ("unhealthy_after", hc.unhealthy_after),
        ("healthy_after", hc.healthy_after),
    ] {
        if value == Some(0) {
            problems.push(Problem::new(
                hc_path.key(field),
                "expected at least 1 probe",
            ));
        }
    }
}

/// The memory limit and alerts, and the settings that act on memory
/// (shedding, a memory-aware health check), which need it.
fn check_memory_settings(problems: &mut Vec<Problem>, path: &JsonPath, service: &ServiceSpec) {
    let share = |problems: &mut Vec<Problem>, path: JsonPath, value: f64| {
        if !(value > 0.0 && value <= 1.0) {
            problems.push(Problem::new(
                path,
                format!("expected a share of the memory limit in (0, 1], found {value}"),
            ));
        }
    };
    if let Some(memory) = &service.memory {
        let memory_path = path.key("memory");
        if memory.limit <= memory.baseline {
            problems.push(Problem::new(
                memory_path.key("limit"),
                format!(
                    "the limit ({} bytes) must exceed the baseline ({} bytes)",
                    memory.limit.0, memory.baseline.0
                ),
            ));
        }
        for (i, alert) in memory.alerts.iter().enumerate() {
            share(problems, memory_path.key("alerts").index(i), *alert);
        }
        if let Some(at) = memory.restart_at {
            if !(at > 0.0 && at < 1.0) {
                problems.push(Problem::new(
                    memory_path.key("restart_at"),
                    format!("expected a share of the memory limit in (0, 1), found {at}: at 1 the OOM kill comes first"),
                ));
            }
            if service.restart.is_none() {
                problems.push(
                    Problem::new(
                        memory_path.key("restart_at"),
                        "a restart before OOM needs the service's `restart` (its boot time)",
                    )
                    .with_suggestion(Some(
                        "add {\"restart\": {\"delay\": \"0s\", \"boot\": ...}}".into(),
                    )),
                );
            }
        }
    }
    if service.drain.is_some_and(|d| d.0 == 0) {
        problems.push(Problem::new(
            path.key("drain"),
            "expected a positive duration; leave `drain` out for an abrupt stop",
        ));
    }
    let needs_memory = |problems: &mut Vec<Problem>, path: JsonPath| {
        if service.memory.is_none() {
            problems.push(
                Problem::new(path, "this needs the service's `memory`").with_suggestion(Some(
                    "add {\"memory\": {\"baseline\": ..., \"limit\": ...}}".into(),
                )),
            );
        }
    };
    if let Some(contention) = &service.contention {
        let c_path = path.key("contention");
        if contention.busy.is_empty() && contention.memory.is_empty() {
            problems.push(Problem::new(
                c_path.clone(),
                "expected a `busy` curve, a `memory` curve or both",
            ));
        }
        check_curve(
            problems,
            &c_path.key("busy"),
            &contention.busy,
            f64::INFINITY,
        );
        check_curve(problems, &c_path.key("memory"), &contention.memory, 1.0);
        if !contention.memory.is_empty() {
            needs_memory(problems, c_path.key("memory"));
        }
    }
    if let Some(discipline) = &service.queue_discipline {
        check_queue_discipline(problems, &path.key("queue_discipline"), discipline);
    }
    if let Some(limit) = &service.rate_limit {
        let p = path.key("rate_limit");
        if limit.rate.per_second() <= 0.0 {
            problems.push(Problem::new(
                p.key("rate"),
                "expected a rate above zero (to refuse every request, use an `errors` fault)",
            ));
        }
        if limit.burst == Some(0) {
            problems.push(Problem::new(
                p.key("burst"),
                "expected a bucket of at least 1 request",
            ));
        }
    }
    if let Some(shedding) = &service.load_shedding {
        if let Some(above) = shedding.memory_above {
            let p = path.key("load_shedding").key("memory_above");
            share(problems, p.clone(), above);
            needs_memory(problems, p);
        }
        if shedding.memory_above.is_none() && shedding.queue_above.is_none() {
            problems.push(Problem::new(
                path.key("load_shedding"),
                "expected `memory_above`, `queue_above` or both",
            ));
        }
    }
    if let Some(above) = service
        .load_balancer
        .health_check
        .as_ref()
        .and_then(|hc| hc.fail_above_memory)
    {
        let p = path
            .key("load_balancer")
            .key("health_check")
            .key("fail_above_memory");
        share(problems, p.clone(), above);
        needs_memory(problems, p);
    }
}

fn check_replication(
    problems: &mut Vec<Problem>,
    path: &JsonPath,
    service: &ServiceSpec,
    replication: &ReplicationSpec,
) {
    let r_path = path.key("replication");
    if service.kind != ServiceKind::Database {
        problems.push(Problem::new(
            r_path.clone(),
            "only a service of kind `database` replicates",
        ));
    }
    if let Some(c) = replication.catch_up
        && !(c.is_finite() && c > 0.0)
    {
        problems.push(Problem::new(
            r_path.key("catch_up"),
            format!("expected a positive catch-up rate, found {c}"),
        ));
    }
}

/// Whether the service starts between `min` and `max` depends on where
/// its instances are placed, which the topology checks.
fn check_autoscaling(problems: &mut Vec<Problem>, path: &JsonPath, scaling: &AutoscalingSpec) {
    let a_path = path.key("autoscaling");
    if scaling.min == 0 || scaling.min > scaling.max {
        problems.push(Problem::new(
            a_path.key("min"),
            format!(
                "expected 1 ≤ min ≤ max ({}), found {}",
                scaling.max, scaling.min
            ),
        ));
    }
    if scaling.max as u64 > MAX_INSTANCES_PER_SERVICE {
        problems.push(Problem::new(a_path.key("max"), "too many instances"));
    }
    if !(scaling.target_utilisation > 0.0 && scaling.target_utilisation <= 1.0) {
        problems.push(Problem::new(
            a_path.key("target_utilisation"),
            format!(
                "expected a share in (0, 1], found {}",
                scaling.target_utilisation
            ),
        ));
    }
    if scaling.interval.is_some_and(|d| d.0 == 0) {
        problems.push(Problem::new(
            a_path.key("interval"),
            "expected a positive interval",
        ));
    }
}

/// Endpoints and their calls, each on its own. (Whether calls to one
/// callee agree on their shared pool needs the callee resolved: the topology
/// checks it.)
fn check_endpoints(problems: &mut Vec<Problem>, path: &JsonPath, service: &ServiceSpec) {
    for (endpoint_name, endpoint) in &service.endpoints {
        let endpoint_path = path.key("endpoints").key(endpoint_name);
        check_name(problems, endpoint_path.clone(), "endpoint", endpoint_name);
        check_work(problems, &endpoint_path.key("work"), &endpoint.work);
        if let Some(h) = endpoint.hit_ratio
            && !(0.0..=1.0).contains(&h)
        {
            problems.push(Problem::new(
                endpoint_path.key("hit_ratio"),
                format!("expected a share in [0, 1], found {h}"),
            ));
        }
        if let Some(keys) = &endpoint.keys {
            check_keys(problems, &endpoint_path, service, endpoint, keys);
        }
        for (call_name, call) in &endpoint.calls {
            let call_path = endpoint_path.key("calls").key(call_name);
            check_name(problems, call_path.clone(), "call", call_name);
            check_call(problems, &call_path, call);
        }
    }
}

/// Most keys a cache may declare: each instance keeps 17 bytes a key (a store time, two recency links, a reading flag).
const MAX_KEYS: u32 = 10_000_000;

/// A cache's key space, on its own (what it costs over the instances is
/// the topology's to bound, once autoscaling's spares are known).
fn check_keys(
    problems: &mut Vec<Problem>,
    endpoint_path: &JsonPath,
    service: &ServiceSpec,
    endpoint: &EndpointSpec,
    keys: &KeysSpec,
) {
    let path = endpoint_path.key("keys");
    if service.kind != ServiceKind::Cache {
        problems.push(Problem::new(
            path.clone(),
            "expected keys only on an endpoint of a service of kind `cache`",
        ));
    }
    if endpoint.hit_ratio.is_some() {
        problems.push(Problem::new(
            endpoint_path.key("hit_ratio"),
            "expected either `hit_ratio` or `keys`, not both: with keys, hits are an outcome",
        ));
    }
    if !(1..=MAX_KEYS).contains(&keys.count) {
        problems.push(Problem::new(
            path.key("count"),
            format!("expected 1 to {MAX_KEYS} keys, found {}", keys.count),
        ));
    }
    if let Some(zipf) = keys.zipf
        && !(0.0..=10.0).contains(&zipf)
    {
        problems.push(Problem::new(
            path.key("zipf"),
            format!("expected an exponent from 0 (uniform) to 10, found {zipf}"),
        ));
    }
    if let Some(capacity) = keys.capacity
        && !(1..=keys.count.max(1)).contains(&capacity)
    {
        problems.push(Problem::new(
            path.key("capacity"),
            format!(
                "expected 1 to {} keys (the key count), found {capacity}",
                keys.count
            ),
        ));
    }
    if keys.ttl.is_some_and(|t| t.0 == 0) {
        problems.push(Problem::new(
            path.key("ttl"),
            "expected a positive duration",
        ));
    }
}

/// A client group's own settings; its endpoints are resolved by the
/// topology.
fn check_clients(problems: &mut Vec<Problem>, name: &str, clients: &ClientsSpec) {
    let root = JsonPath::root();
    let path = root.key("clients").key(name);
    check_name(problems, path.clone(), "clients", name);
    if clients.count == 0 {
        problems.push(Problem::new(
            path.key("count"),
            "expected at least one client",
        ));
    } else if u64::from(clients.count) > MAX_CLIENTS {
        problems.push(Problem::new(
            path.key("count"),
            format!(
                "{} clients is more than {MAX_CLIENTS}: each is state held in memory; model a crowd that large as an open workload (`workload` with a `rate`)",
                clients.count
            ),
        ));
    }
    if clients.think.0 == 0 {
        problems.push(Problem::new(
            path.key("think"),
            "expected a positive think time",
        ));
    }
    if clients
        .reconnect
        .multiplier
        .is_some_and(|m| !(m.is_finite() && m >= 1.0))
    {
        problems.push(Problem::new(
            path.key("reconnect").key("multiplier"),
            "expected a multiplier of at least 1",
        ));
    }
}

fn check_workload(problems: &mut Vec<Problem>, name: &str, workload: &WorkloadSpec) {
    let root = JsonPath::root();
    let path = root.key("workload").key(name);
    check_name(problems, path.clone(), "workload", name);
    if workload.propagate_deadline && workload.timeout.is_none() {
        problems.push(Problem::new(
            path.key("propagate_deadline"),
            "a deadline comes from the client's `timeout`, which this workload does not set",
        ));
    }
    if workload.timeout.is_some_and(|t| t.0 == 0) {
        problems.push(Problem::new(
            path.key("timeout"),
            "expected a positive timeout; leave it out for a client that waits for ever",
        ));
    }
    match (&workload.rate, &workload.schedule) {
        (Some(_), Some(_)) | (None, None) => problems.push(Problem::new(
            path.clone(),
            "expected exactly one of `rate` (constant) or `schedule` (piecewise)",
        )),
        (None, Some(schedule)) => {
            if schedule.is_empty() {
                problems.push(Problem::new(
                    path.key("schedule"),
                    "expected at least one point {\"at\": \"0s\", \"rate\": \"100/s\"}",
                ));
            }
            for i in 1..schedule.len() {
                if schedule[i].at <= schedule[i - 1].at {
                    problems.push(Problem::new(
                        path.key("schedule").index(i).key("at"),
                        format!(
                            "schedule points must be in increasing time order: {} does not come after {}",
                            schedule[i].at,
                            schedule[i - 1].at
                        ),
                    ));
                }
            }
        }
        (Some(_), None) => {}
    }
}

fn check_instances(
    problems: &mut Vec<Problem>,
    path: &JsonPath,
    instances: &InstancesSpec,
    zones: &[String],
) {
    let given = [
        instances.per_zone.is_some(),
        instances.count.is_some(),
        instances.placement.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        problems.push(Problem::new(
            path.clone(),
            "expected exactly one of `per_zone`, `count` or `placement`",
        ));
        return;
    }
    if instances.per_zone == Some(0) || instances.count == Some(0) {
        problems.push(Problem::new(
            path.clone(),
            "expected at least one instance, found 0",
        ));
    }
    let total = instances
        .per_zone
        .map_or(0, |n| n as u64 * zones.len() as u64)
        + instances.count.map_or(0, u64::from)
        + instances
            .placement
            .as_ref()
            .map_or(0, |p| p.values().map(|n| *n as u64).sum());
    if total > MAX_INSTANCES_PER_SERVICE {
        problems.push(Problem::new(
            path.clone(),
            format!(
                "{total} instances is more than the {MAX_INSTANCES_PER_SERVICE} one service may have"
            ),
        ));
    }
    if let Some(placement) = &instances.placement
        && placement.values().all(|n| *n == 0)
    {
        problems.push(Problem::new(
            path.key("placement"),
            "expected at least one instance in some zone",
        ));
    }
}

pub fn check_work(problems: &mut Vec<Problem>, path: &JsonPath, work: &WorkSpec) {
    match work {
        WorkSpec::Constant(_) => {}
        WorkSpec::Exponential { mean } => {
            if mean.0 == 0 {
                problems.push(Problem::new(
                    path.key("exponential").key("mean"),
                    "expected a positive mean",
                ));
            }
        }
        WorkSpec::Lognormal { mean, p99 } => {
            let path = path.key("lognormal");
            if mean.0 == 0 {
                problems.push(Problem::new(path.key("mean"), "expected a positive mean"));
            } else if p99 <= mean {
                problems.push(Problem::new(
                    path.key("p99"),
                    format!("a log-normal's p99 must exceed its mean ({mean}), found {p99}"),
                ));
            } else if p99.0 as f64 / mean.0 as f64 > LOGNORMAL_MAX_P99_OVER_MEAN {
                problems.push(Problem::new(
                    path.key("p99"),
                    format!(
                        "no log-normal has a p99 more than {LOGNORMAL_MAX_P99_OVER_MEAN} times its mean ({mean}), found {p99}"
                    ),
                ));
            }
        }
        WorkSpec::Uniform { min, max } => {
            if min > max {
                problems.push(Problem::new(
                    path.key("uniform").key("max"),
                    format!("expected max ≥ min ({min}), found {max}"),
                ));
            }
        }
    }
}

/// One call's own settings; its target and fallback queue are resolved by
/// the topology.
fn check_call(problems: &mut Vec<Problem>, path: &JsonPath, call: &CallSpec) {
    if let Some(timeout) = call.timeout
        && timeout.0 == 0
    {
        problems.push(Problem::new(
            path.key("timeout"),
            "expected a positive timeout; leave it out to wait forever",
        ));
    }
    if let Some(pool) = &call.pool
        && pool.size == 0
    {
        problems.push(Problem::new(
            path.key("pool").key("size"),
            "expected a positive pool size, found 0",
        ));
    }
    if let Some(p) = call.probability
        && !(p > 0.0 && p <= 1.0)
    {
        problems.push(Problem::new(
            path.key("probability"),
            format!("expected a probability in (0, 1], found {p}"),
        ));
    }
    if let Some(retry) = &call.retry {
        check_retry(problems, &path.key("retry"), retry);
    }
    if let Some(throttling) = &call.adaptive_throttling {
        let p = path.key("adaptive_throttling");
        if let Some(k) = throttling.k
            && !(k.is_finite() && k >= 1.0)
        {
            problems.push(Problem::new(
                p.key("k"),
                format!("expected k of at least 1 (below it the client rejects calls the callee would accept), found {k}"),
            ));
        }
        if throttling.window.is_some_and(|w| w.0 < 1_000_000_000) {
            problems.push(Problem::new(
                p.key("window"),
                "expected a window of at least 1s: it counts requests and accepts in tenths of it",
            ));
        }
    }
    if let Some(breaker) = &call.circuit_breaker {
        check_breaker(problems, &path.key("circuit_breaker"), breaker);
    }
}

/// Attempts a retry policy may make: far past any client library's
/// default, and within what a request keeps count of.
const MAX_ATTEMPTS: u32 = 1000;

fn check_retry(problems: &mut Vec<Problem>, path: &JsonPath, retry: &RetrySpec) {
    if retry.max_attempts == 0 {
        problems.push(Problem::new(
            path.key("max_attempts"),
            "expected at least 1 attempt (1 means no retry)",
        ));
    } else if retry.max_attempts > MAX_ATTEMPTS {
        problems.push(Problem::new(
            path.key("max_attempts"),
            format!(
                "expected at most {MAX_ATTEMPTS} attempts, found {}; a retry policy that never gives up is a retry storm",
                retry.max_attempts
            ),
        ));
    }
    if let Some(m) = retry.multiplier
        && !(m.is_finite() && m >= 1.0)
    {
        problems.push(Problem::new(
            path.key("multiplier"),
            format!("expected a multiplier of at least 1, found {m}"),
        ));
    }
    if let (Some(max), backoff) = (retry.max_backoff, retry.backoff)
        && max < backoff
    {
        problems.push(Problem::new(
            path.key("max_backoff"),
            format!("the longest backoff ({max}) is shorter than the first ({backoff})"),
        ));
    }
    if let Some(quota) = &retry.quota {
        let p = path.key("quota");
        if quota.capacity == Some(0) {
            problems.push(Problem::new(
                p.key("capacity"),
                "expected at least 1 token (without a quota, leave `quota` out)",
            ));
        }
        for (key, cost) in [("cost", quota.cost), ("timeout_cost", quota.timeout_cost)] {
            if cost == Some(0) {
                problems.push(Problem::new(
                    p.key(key),
                    "expected at least 1 token: a free retry is no quota",
                ));
            }
        }
    }
    if let Some(budget) = &retry.budget {
        if !(budget.ratio.is_finite() && budget.ratio >= 0.0) {
            problems.push(Problem::new(
                path.key("budget").key("ratio"),
                format!("expected a ratio of 0 or more, found {}", budget.ratio),
            ));
        }
        if let Some(m) = budget.min_per_s
            && !(m.is_finite() && m >= 0.0)
        {
            problems.push(Problem::new(
                path.key("budget").key("min_per_s"),
                format!("expected 0 or more retries per second, found {m}"),
            ));
        }
    }
}

fn check_breaker(problems: &mut Vec<Problem>, path: &JsonPath, breaker: &BreakerSpec) {
    if !(breaker.failure_rate > 0.0 && breaker.failure_rate <= 1.0) {
        problems.push(Problem::new(
            path.key("failure_rate"),
            format!("expected a share in (0, 1], found {}", breaker.failure_rate),
        ));
    }
    let window = breaker.window.unwrap_or(20);
    if window == 0 {
        problems.push(Problem::new(path.key("window"), "expected at least 1 call"));
    }
    match (breaker.window, breaker.window_time) {
        (Some(_), Some(_)) => problems.push(Problem::new(
            path.key("window_time"),
            "give a count `window` or a `window_time`, not both",
        )),
        (None, Some(t)) if t.0 == 0 => problems.push(Problem::new(
            path.key("window_time"),
            "expected a positive duration",
        )),
        _ => {}
    }
    if let Some(min) = breaker.min_calls
        && (min == 0 || (breaker.window_time.is_none() && min > window))
    {
        problems.push(Problem::new(
            path.key("min_calls"),
            format!("expected 1 to {window} (the window), found {min}"),
        ));
    }
    if breaker.open_for.0 == 0 {
        problems.push(Problem::new(
            path.key("open_for"),
            "expected a positive duration",
        ));
    }
    if breaker.half_open_calls == Some(0) {
        problems.push(Problem::new(
            path.key("half_open_calls"),
            "expected at least 1 call",
        ));
    }
}

pub(super) fn scenario(scenario: &ScenarioSpec) -> Vec<Problem> {
    let mut problems = Vec::new();
    let root = JsonPath::root();
    check_name(&mut problems, root.key("name"), "scenario", &scenario.name);
    if scenario.duration.0 == 0 {
        problems.push(Problem::new(
            root.key("duration"),
            "expected a positive duration",
        ));
    }
    if scenario.warmup >= scenario.duration && scenario.duration.0 > 0 {
        problems.push(Problem::new(
            root.key("warmup"),
            format!(
                "the warm-up ({}) must be shorter than the duration ({})",
                scenario.warmup, scenario.duration
            ),
        ));
    }
    // Fault and hypothesis names are printed in summaries and reports and
    // written into events.jsonl: the same rule as every other name.
    for name in scenario.faults.keys() {
        check_name(&mut problems, root.key("faults").key(name), "fault", name);
    }
    for name in scenario.hypothesis.keys() {
        check_name(
            &mut problems,
            root.key("hypothesis").key(name),
            "hypothesis",
            name,
        );
    }
    let window = scenario
        .window
        .map_or(super::scenario::DEFAULT_WINDOW_NS, |w| w.0);
    for (name, guard) in &scenario.stop {
        let path = root.key("stop").key(name);
        check_name(&mut problems, path.clone(), "stop guard", name);
        check_guard(&mut problems, &path, guard, window);
    }
    for name in scenario.variants.keys() {
        let path = root.key("variants").key(name);
        check_name(&mut problems, path.clone(), "variant", name);
        // Variant run directories sit beside `compare/`, `sweep/` and the
        // shard directories under `output/<scenario>/`.
        for reserved in ["compare", "sweep", "search"] {
            if name.starts_with(reserved) {
                problems.push(Problem::new(
                    path.clone(),
                    format!(
                        "variant name \"{name}\" is reserved: `output/<scenario>/{reserved}*` holds {reserved} results"
                    ),
                ));
            }
        }
    }
    for name in scenario.expect.keys() {
        if name != super::BASELINE && !scenario.variants.contains_key(name) {
            let mut names = vec![super::BASELINE];
            names.extend(
                scenario
                    .variants
                    .keys()
                    .map(String::as_str)
                    .filter(|n| *n != super::BASELINE),
            );
            problems.push(
                Problem::new(
                    root.key("expect").key(name),
                    format!(
                        "no variant `{name}`; the scenario has: {}",
                        names.join(", ")
                    ),
                )
                .with_suggestion(
                    crate::error::closest(name, names.iter().copied())
                        .map(|n| format!("did you mean `{n}`?")),
                ),
            );
        }
    }
    if let Some(during) = scenario.analysis.as_ref().and_then(|a| a.during) {
        let path = root.key("analysis").key("during");
        if during.from < scenario.warmup {
            problems.push(Problem::new(
                path.key("from"),
                format!(
                    "the `during` phase must start after the warm-up ({}), found {}",
                    scenario.warmup, during.from
                ),
            ));
        }
        if during.to <= during.from || during.to > scenario.duration {
            problems.push(Problem::new(
                path.key("to"),
                format!(
                    "expected a time after `from` ({}) and at most the duration ({}), found {}",
                    during.from, scenario.duration, during.to
                ),
            ));
        }
    }
    if !scenario.stop.is_empty() && scenario.faults.is_empty() {
        problems.push(Problem::new(
            root.key("stop"),
            "stop guards end an experiment's faults; this scenario has none",
        ));
    }
    let default_window = super::scenario::DEFAULT_WINDOW_NS;
    if scenario.window.is_none() && scenario.duration.0 / default_window > MAX_WINDOWS {
        problems.push(Problem::new(
            root.key("duration"),
            format!(
                "{} one-second windows is more than {MAX_WINDOWS}; set a wider `window`",
                scenario.duration.0 / default_window
            ),
        ));
    }
    if let Some(digits) = scenario.percentile_digits
        && Precision::new(digits).is_none()
    {
        problems.push(Problem::new(
            root.key("percentile_digits"),
            format!(
                "expected {} to {} significant digits, found {digits}",
                Precision::LEAST,
                Precision::MOST
            ),
        ));
    }
    if let Some(window) = scenario.window {
        if window.0 < 1_000_000 {
            problems.push(Problem::new(
                root.key("window"),
                format!("expected a metrics window of at least 1ms, found {window}"),
            ));
        } else if scenario.duration.0 / window.0 > MAX_WINDOWS {
            problems.push(Problem::new(
                root.key("window"),
                format!(
                    "{} windows of {window} over {} is more than {MAX_WINDOWS}; widen the window",
                    scenario.duration.0 / window.0,
                    scenario.duration
                ),
            ));
        } else if window > scenario.duration {
            problems.push(Problem::new(
                root.key("window"),
                format!(
                    "the metrics window ({window}) is longer than the run ({})",
                    scenario.duration
                ),
            ));
        }
    }
    problems
}

/// Spans longer than this many windows are refused: a guard keeps one
/// histogram per window of its span.
pub(crate) const MAX_GUARD_WINDOWS: u64 = 600;

/// A stop guard on its own: something to watch for, over a span of whole
/// windows.
fn check_guard(problems: &mut Vec<Problem>, path: &JsonPath, guard: &GuardSpec, window: u64) {
    if guard.error_rate_above.is_none()
        && guard.p99_above.is_none()
        && guard.lost_writes_above.is_none()
    {
        problems.push(Problem::new(
            path.clone(),
            "a stop guard needs at least one threshold, e.g. \"error_rate_above\": \"5%\", \"p99_above\": \"2s\" or \"lost_writes_above\": 0",
        ));
    }
    if guard.error_rate_above.is_some_and(|s| s.0 >= 1.0) {
        problems.push(Problem::new(
            path.key("error_rate_above"),
            "an error rate cannot exceed 100 %: this guard would never trip",
        ));
    }
    if guard.p99_above.is_some_and(|d| d.0 == 0) {
        problems.push(Problem::new(
            path.key("p99_above"),
            "expected a positive duration",
        ));
    }
    if let Some(over) = guard.over {
        if over.0 == 0 || over.0 % window != 0 {
            problems.push(Problem::new(
                path.key("over"),
                format!(
                    "expected a whole number of metrics windows ({}), found {over}",
                    crate::spec::units::Duration(window)
                ),
            ));
        } else if over.0 / window > MAX_GUARD_WINDOWS {
            problems.push(Problem::new(
                path.key("over"),
                format!(
                    "{} windows is more than {MAX_GUARD_WINDOWS}; widen the window or shorten the span",
                    over.0 / window
                ),
            ));
        }
    }
}
