//! The rules. Each reads the compiled topology (or the plan) and returns
//! raw findings; `super` places them in their files.

use super::{InFile, Raw, Rule, Severity};
use crate::error::JsonPath;
use crate::plan::Plan;
use crate::topology::{
    Call, CallId, EndpointId, Fallback, ServiceId, ServiceKind, Topology, UNLIMITED_WORKERS,
};

const fn rule(
    code: &'static str,
    name: &'static str,
    severity: Severity,
    summary: &'static str,
) -> Rule {
    Rule {
        code,
        name,
        severity,
        summary,
    }
}

pub(super) const MISUSED_ALLOW: Rule = rule(
    "L001",
    "misused-allow",
    Severity::Error,
    "a `lint.allow` entry names no rule or gives no reason",
);
const SINGLE_INSTANCE: Rule = rule(
    "L101",
    "single-instance",
    Severity::Warning,
    "a service an entry depends on runs one instance",
);
const SINGLE_ZONE: Rule = rule(
    "L102",
    "single-zone",
    Severity::Warning,
    "a service an entry depends on has every instance in one zone of several",
);
const DATABASE_WITHOUT_FAILOVER: Rule = rule(
    "L103",
    "database-without-failover",
    Severity::Warning,
    "a database an entry depends on has no replica, or replicas and no failover",
);
const TIMEOUT_EXCEEDS_CALLER: Rule = rule(
    "L201",
    "timeout-exceeds-caller",
    Severity::Warning,
    "a callee may wait on its own calls (timeouts × attempts + backoff) longer than its caller or client waits for it",
);
const NO_DEADLINE: Rule = rule(
    "L202",
    "no-deadline",
    Severity::Warning,
    "an entry's clients have no timeout: a request to a host that hangs is never answered",
);
const RETRY_AMPLIFICATION: Rule = rule(
    "L301",
    "retry-amplification",
    Severity::Warning,
    "two or more calls on one path retry: attempts multiply down the path",
);
const POOL_EXCEEDS_CALLEE: Rule = rule(
    "L401",
    "pool-exceeds-callee",
    Severity::Warning,
    "a pool opens more connections than the callee has workers and queue for",
);
const POOL_PARKS_WORKERS: Rule = rule(
    "L402",
    "pool-parks-workers",
    Severity::Warning,
    "a pool smaller than the caller's workers, with an acquire timeout as long as the call's or none",
);
const NO_HEALTH_CHECK: Rule = rule(
    "L501",
    "no-health-check",
    Severity::Warning,
    "a balancer over several instances without a health check",
);
const DEEP_HEALTH_CHECK: Rule = rule(
    "L502",
    "deep-health-check",
    Severity::Warning,
    "a health check that calls dependencies: their failure ejects every instance at once",
);
const CACHE_WITHOUT_FALLBACK: Rule = rule(
    "L601",
    "cache-without-fallback",
    Severity::Warning,
    "a call to a cache with `fallback: fail`: a dead cache fails requests instead of missing",
);
const REPLICA_READS_WITHOUT_FALLBACK: Rule = rule(
    "L602",
    "replica-reads-without-fallback",
    Severity::Warning,
    "reads go to a single replica: when it is gone they fail, though the primary is up",
);
const BREAKER_WITHOUT_FALLBACK: Rule = rule(
    "L603",
    "breaker-without-fallback",
    Severity::Note,
    "a circuit breaker with `fallback: fail`: callers fail fast, but still fail",
);
const FAULT_MISSES_ENTRIES: Rule = rule(
    "L701",
    "fault-misses-entries",
    Severity::Warning,
    "a fault acts on nothing any entry depends on",
);

pub(super) const RULES: &[Rule] = &[
    MISUSED_ALLOW,
    SINGLE_INSTANCE,
    SINGLE_ZONE,
    DATABASE_WITHOUT_FAILOVER,
    TIMEOUT_EXCEEDS_CALLER,
    NO_DEADLINE,
    RETRY_AMPLIFICATION,
    POOL_EXCEEDS_CALLEE,
    POOL_PARKS_WORKERS,
    NO_HEALTH_CHECK,
    DEEP_HEALTH_CHECK,
    CACHE_WITHOUT_FALLBACK,
    REPLICA_READS_WITHOUT_FALLBACK,
    BREAKER_WITHOUT_FALLBACK,
    FAULT_MISSES_ENTRIES,
];

/// Where things are in a model file.
struct Paths<'a>(&'a Topology);

impl Paths<'_> {
    fn service(&self, s: ServiceId) -> JsonPath {
        JsonPath::root()
            .key("services")
            .key(&self.0.services[s.index()].name)
    }
    fn endpoint(&self, e: EndpointId) -> JsonPath {
        let endpoint = &self.0.endpoints[e.index()];
        self.service(endpoint.service)
            .key("endpoints")
            .key(&endpoint.name)
    }
    fn call(&self, c: CallId) -> JsonPath {
        let call = &self.0.calls[c.index()];
        self.endpoint(call.from).key("calls").key(&call.name)
    }
}

fn seconds(ns: u64) -> String {
    crate::spec::units::Duration(ns).to_string()
}

/// The entry points (workloads and client groups) and, per service, the
/// names of the entries that reach it through calls.
struct Reach {
    /// Per service, the entries that depend on it.
    entries: Vec<Vec<String>>,
}

impl Reach {
    fn of(t: &Topology) -> Reach {
        let mut entries = vec![Vec::<String>::new(); t.services.len()];
        let starts = t
            .workloads
            .iter()
            .map(|w| (w.name.clone(), vec![w.endpoint]))
            .chain(
                t.client_groups
                    .iter()
                    .map(|g| (g.name.clone(), vec![g.connect, g.request])),
            );
        for (name, start) in starts {
            let mut seen = vec![false; t.endpoints.len()];
            let mut stack = start;
            while let Some(e) = stack.pop() {
                if std::mem::replace(&mut seen[e.index()], true) {
                    continue;
                }
                let service = t.endpoints[e.index()].service.index();
                if entries[service].last() != Some(&name) {
                    entries[service].push(name.clone());
                }
                stack.extend(
                    calls_of(t, e)
                        .filter(|(_, c)| c.probability > 0.0)
                        .map(|(_, c)| c.to),
                );
            }
        }
        Reach { entries }
    }

    fn depended_on(&self, s: ServiceId) -> bool {
        !self.entries[s.index()].is_empty()
    }

    /// "the entry `a` depends" or "the entries `a`, `b` depend".
    fn dependents(&self, s: ServiceId) -> String {
        let names: Vec<String> = self.entries[s.index()]
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        match names.as_slice() {
            [one] => format!("the entry {one} depends"),
            many => format!("the entries {} depend", many.join(", ")),
        }
    }
}

fn calls_of(t: &Topology, e: EndpointId) -> impl Iterator<Item = (CallId, &Call)> {
    t.endpoints[e.index()]
        .calls
        .clone()
        .map(move |c| (CallId(c), &t.calls[c as usize]))
}

fn attempts(call: &Call) -> u32 {
    call.retry.map_or(1, |r| r.max_attempts.max(1))
}

/// The longest a call site can hold its caller: every attempt to its
/// timeout and every backoff at its cap; `None` without a timeout (a host
/// that dies without answering holds it forever).
fn call_budget(call: &Call) -> Option<u64> {
    let timeout = call.timeout?;
    let n = attempts(call);
    let mut total = u64::from(n).saturating_mul(timeout);
    if let Some(r) = call.retry {
        let mut backoff = r.backoff as f64;
        for _ in 1..n {
            total = total.saturating_add((backoff.min(r.max_backoff as f64)) as u64);
            backoff *= r.multiplier;
        }
    }
    Some(total)
}

/// The longest an endpoint can wait on its own calls, made one after
/// another, and the call that weighs most; `None` when a call has no
/// timeout.
fn endpoint_budget(t: &Topology, e: EndpointId) -> Option<(u64, CallId)> {
    let mut total = 0u64;
    let mut heaviest: Option<(u64, CallId)> = None;
    for (id, call) in calls_of(t, e).filter(|(_, c)| c.probability > 0.0) {
        let budget = call_budget(call)?;
        total = total.saturating_add(budget);
        if heaviest.is_none_or(|(b, _)| budget > b) {
            heaviest = Some((budget, id));
        }
    }
    heaviest.map(|(_, id)| (total, id))
}

fn spelled(t: &Topology, call: &Call) -> String {
    let n = attempts(call);
    let timeout = call.timeout.map_or("no timeout".to_string(), seconds);
    let to = &t.endpoints[call.to.index()].full_name;
    if n > 1 {
        format!(
            "`{}` to {to}: {n} attempts × {timeout} plus backoff",
            call.name
        )
    } else {
        format!("`{}` to {to}: {timeout}", call.name)
    }
}

pub(super) fn model(t: &Topology) -> Vec<Raw> {
    let reach = Reach::of(t);
    let paths = Paths(t);
    let mut out = Vec::new();
    let mut push = |rule: &'static Rule, path: JsonPath, message: String, fix: String| {
        out.push(Raw {
            rule,
            file: InFile::Model,
            path,
            message,
            fix,
        });
    };

    // Single points of failure.
    for (s, service) in t.services.iter().enumerate() {
        let id = ServiceId(s as u32);
        if !reach.depended_on(id) || service.kind == ServiceKind::External {
            continue;
        }
        let instances = service.initial_instances;
        let scales_out = service.autoscaling.is_some_and(|a| a.min > 1);
        if service.kind == ServiceKind::Database {
            match service.replication {
                None if instances == 1 && !scales_out => push(
                    &DATABASE_WITHOUT_FAILOVER,
                    paths.service(id),
                    format!(
                        "database `{}` is one instance with no replica, and {} on it: when it dies or its zone is lost, their requests fail until it is back",
                        service.name,
                        reach.dependents(id)
                    ),
                    "add `replication` (a primary and replicas in other zones) with a `failover`"
                        .into(),
                ),
                Some(r) if r.failover.is_none() => push(
                    &DATABASE_WITHOUT_FAILOVER,
                    paths.service(id).key("replication"),
                    format!(
                        "database `{}` replicates but has no failover, and {} on it: when the primary dies, writes fail until it is back, and the replicas stay replicas",
                        service.name,
                        reach.dependents(id)
                    ),
                    "add `replication.failover` (`detection`, `promotion`)".into(),
                ),
                _ => {}
            }
        } else if instances == 1 && !scales_out {
            push(
                &SINGLE_INSTANCE,
                paths.service(id).key("instances"),
                format!(
                    "`{}` runs one instance, and {} on it: when it dies, their requests fail until it is back",
                    service.name,
                    reach.dependents(id)
                ),
                "run two or more instances, in different zones (`instances.per_zone`)".into(),
            );
        }
        let zones: Vec<u32> = service
            .instances
            .clone()
            .take(instances as usize)
            .map(|i| t.instances[i as usize].zone.0)
            .collect();
        if t.zones.len() > 1 && zones.len() > 1 && zones.iter().all(|z| *z == zones[0]) {
            push(
                &SINGLE_ZONE,
                paths.service(id).key("instances"),
                format!(
                    "every instance of `{}` is in zone {}, and {} on it: losing that zone loses them all",
                    service.name,
                    t.zones[zones[0] as usize],
                    reach.dependents(id)
                ),
                format!(
                    "spread the instances over the zones ({})",
                    t.zones.join(", ")
                ),
            );
        }
    }

    // Timeouts along each path: a callee that can wait longer on its own
    // calls than its callers (or the clients) wait for it. One finding per
    // callee, at the call that weighs most, naming who gives up first.
    for (e, callee) in t.endpoints.iter().enumerate() {
        let e = EndpointId(e as u32);
        if !reach.depended_on(callee.service) {
            continue;
        }
        let Some((budget, heaviest)) = endpoint_budget(t, e) else {
            continue;
        };
        let mut impatient: Vec<(u64, String)> = t
            .calls
            .iter()
            .filter(|c| c.to == e && reach.depended_on(t.endpoints[c.from.index()].service))
            .filter_map(|c| {
                let timeout = c.timeout.filter(|t| *t < budget)?;
                Some((
                    timeout,
                    format!(
                        "{} gives up on it after {} (`{}`)",
                        t.endpoints[c.from.index()].full_name,
                        seconds(timeout),
                        c.name
                    ),
                ))
            })
            .chain(
                t.workloads
                    .iter()
                    .filter(|w| w.endpoint == e)
                    .filter_map(|w| {
                        let timeout = w.timeout.filter(|t| *t < budget)?;
                        Some((
                            timeout,
                            format!(
                                "the clients of `{}` give up after {}",
                                w.name,
                                seconds(timeout)
                            ),
                        ))
                    }),
            )
            .collect();
        if impatient.is_empty() {
            continue;
        }
        impatient.sort();
        impatient.dedup_by(|a, b| a.1 == b.1);
        let shortest = impatient[0].0;
        let who: Vec<String> = impatient.into_iter().map(|(_, w)| w).collect();
        push(
            &TIMEOUT_EXCEEDS_CALLER,
            paths.call(heaviest).key("timeout"),
            format!(
                "{} may wait {} on its calls (the longest: {}), but {}: it goes on working{} for callers that have left",
                callee.full_name,
                seconds(budget),
                spelled(t, &t.calls[heaviest.index()]),
                who.join(", and "),
                if calls_of(t, e).any(|(_, c)| attempts(c) > 1) {
                    ", and retrying,"
                } else {
                    ""
                }
            ),
            format!(
                "bring {}'s timeouts × attempts under {}, or let its callers wait longer",
                callee.full_name,
                seconds(shortest)
            ),
        );
    }
    for workload in &t.workloads {
        let entry = &t.endpoints[workload.endpoint.index()];
        let workload_path = JsonPath::root().key("workload").key(&workload.name);
        if workload.timeout.is_none() {
            let untimed = calls_of(t, workload.endpoint)
                .find(|(_, c)| c.probability > 0.0 && c.timeout.is_none());
            let also = untimed.map_or(String::new(), |(_, c)| {
                format!(
                    "; and {} waits on {} with no timeout of its own",
                    entry.full_name,
                    t.endpoints[c.to.index()].full_name
                )
            });
            push(
                &NO_DEADLINE,
                workload_path.clone(),
                format!(
                    "the clients of `{}` wait for as long as it takes: a host that dies without answering, a freeze or a dropped partition leaves their requests unanswered for good{also}",
                    workload.name
                ),
                "give the workload a `timeout` (what the clients would wait), and every call one"
                    .into(),
            );
        }
    }

    // Retries multiplying down a path.
    let mut reported: Vec<CallId> = Vec::new();
    for workload in &t.workloads {
        let (product, path) = amplification(t, workload.endpoint);
        let retrying: Vec<CallId> = path
            .iter()
            .copied()
            .filter(|c| attempts(&t.calls[c.index()]) > 1)
            .collect();
        if retrying.len() < 2 || reported.contains(&retrying[0]) {
            continue;
        }
        reported.push(retrying[0]);
        let spelled_path: Vec<String> = path
            .iter()
            .map(|c| {
                let call = &t.calls[c.index()];
                format!(
                    "{} ×{}",
                    t.endpoints[call.to.index()].full_name,
                    attempts(call)
                )
            })
            .collect();
        let bottom = &t.endpoints[t.calls[path[path.len() - 1].index()].to.index()].full_name;
        push(
            &RETRY_AMPLIFICATION,
            paths.call(retrying[0]).key("retry"),
            format!(
                "{} calls on the path from `{}` retry ({}): when {bottom} fails, one request becomes up to {product} calls to it, just when it is least able to take them",
                retrying.len(),
                workload.name,
                spelled_path.join(" → ")
            ),
            "retry at one layer only (usually the one nearest the failure), or give the retries a `budget` or a `quota`".into(),
        );
    }

    // Connection pools.
    for (g, group) in t.pool_groups.iter().enumerate() {
        let caller = &t.services[group.caller.index()];
        let callee = &t.services[group.callee.index()];
        let Some((call_id, call)) = t
            .calls
            .iter()
            .enumerate()
            .find(|(_, c)| c.pool_group.is_some_and(|p| p.index() == g))
            .map(|(k, c)| (CallId(k as u32), c))
        else {
            continue;
        };
        let pool_path = paths.call(call_id).key("pool");
        let connections = u64::from(group.size) * u64::from(caller.initial_instances);
        if callee.workers != UNLIMITED_WORKERS {
            let room = u64::from(callee.initial_instances)
                * (u64::from(callee.workers) + u64::from(callee.queue));
            if connections > room {
                push(
                    &POOL_EXCEEDS_CALLEE,
                    pool_path.key("size"),
                    format!(
                        "`{}` opens up to {connections} connections to `{}` ({} per instance × {}), which has room for {room} requests ({} instances × ({} workers + {} queued)): the pool never limits what reaches it, and the callee turns the excess away as `queue_full`",
                        caller.name,
                        callee.name,
                        group.size,
                        caller.initial_instances,
                        callee.initial_instances,
                        callee.workers,
                        callee.queue
                    ),
                    format!(
                        "size the pool to what `{}` can serve, divided among the callers",
                        callee.name
                    ),
                );
            }
        }
        let shortest_timeout = t
            .calls
            .iter()
            .filter(|c| c.pool_group.is_some_and(|p| p.index() == g))
            .filter_map(|c| c.timeout)
            .min();
        let long = match (group.acquire_timeout, shortest_timeout) {
            (None, _) => true,
            (Some(acquire), Some(timeout)) => acquire >= timeout,
            (Some(_), None) => false,
        };
        if group.size < caller.workers && long {
            let wait = group
                .acquire_timeout
                .map_or("for as long as it takes".to_string(), |a| {
                    format!("up to {}", seconds(a))
                });
            push(
                &POOL_PARKS_WORKERS,
                pool_path.key("acquire_timeout"),
                format!(
                    "`{}` has {} workers but {} connections to `{}`, and a worker waits for one {wait}: when `{}` slows, workers park on the pool and `{}` stops serving even what does not need `{}`",
                    caller.name,
                    caller.workers,
                    group.size,
                    callee.name,
                    callee.name,
                    caller.name,
                    callee.name
                ),
                format!(
                    "give the pool an `acquire_timeout` well under the call's timeout{} (\"0s\" makes it a bulkhead)",
                    call.timeout
                        .map_or(String::new(), |t| format!(" ({})", seconds(t)))
                ),
            );
        }
    }

    // Balancers and their health checks.
    for (s, service) in t.services.iter().enumerate() {
        let id = ServiceId(s as u32);
        if !reach.depended_on(id) || service.kind == ServiceKind::External {
            continue;
        }
        let several = service.initial_instances > 1 || service.autoscaling.is_some();
        match service.health_check {
            None if several => push(
                &NO_HEALTH_CHECK,
                paths.service(id),
                format!(
                    "the balancer of `{}` sends each of its {} instances a share of requests, dead or alive: without a health check, a dead instance keeps getting its share",
                    service.name, service.initial_instances
                ),
                "add `load_balancer.health_check`".into(),
            ),
            Some(check) => {
                if let Some(endpoint) = check.endpoint
                    && let Some((_, first)) = calls_of(t, endpoint).next()
                {
                    let dependency = &t.services[first.to_service.index()].name;
                    push(
                        &DEEP_HEALTH_CHECK,
                        paths
                            .service(id)
                            .key("load_balancer")
                            .key("health_check")
                            .key("endpoint"),
                        format!(
                            "the health check of `{}` probes {}, which calls `{dependency}`: when `{dependency}` fails, every instance fails its probe and all are ejected at once, and requests that do not need `{dependency}` fail too (`no_healthy_instance`)",
                            service.name,
                            t.endpoints[endpoint.index()].full_name
                        ),
                        "probe an endpoint that checks the instance itself (a shallow check), and let calls fail on their own".into(),
                    );
                }
            }
            None => {}
        }
    }

    // Fallbacks.
    for (c, call) in t.calls.iter().enumerate() {
        let id = CallId(c as u32);
        if !reach.depended_on(t.endpoints[call.from.index()].service) {
            continue;
        }
        let callee = &t.services[call.to_service.index()];
        let is_cache =
            callee.kind == ServiceKind::Cache || t.endpoints[call.to.index()].hit_ratio.is_some();
        if is_cache && call.fallback == Fallback::Fail {
            push(
                &CACHE_WITHOUT_FALLBACK,
                paths.call(id),
                format!(
                    "the call `{}` to the cache `{}` fails the request when the cache is down: a dead cache is an outage, not a miss",
                    call.name, callee.name
                ),
                "give the call `\"fallback\": \"degrade\"`, so a dead cache misses and the read behind it (`\"when\": \"miss\"`) goes on".into(),
            );
        }
        if call.breaker.is_some() && call.fallback == Fallback::Fail {
            push(
                &BREAKER_WITHOUT_FALLBACK,
                paths.call(id).key("circuit_breaker"),
                format!(
                    "the breaker on `{}` fails calls fast while `{}` is down, but they still fail: the user sees `circuit_open` instead of a timeout",
                    call.name, callee.name
                ),
                "add a `fallback` (`degrade`, or `enqueue` to a queue) where the request can go on without the answer".into(),
            );
        }
        let endpoint = &t.endpoints[call.to.index()];
        if endpoint.read && callee.replication.is_some() {
            let replicas = callee.initial_instances.saturating_sub(1);
            if replicas <= 1 {
                push(
                    &REPLICA_READS_WITHOUT_FALLBACK,
                    paths.call(id),
                    format!(
                        "reads of {} go to replicas of `{}`, which has {replicas}: when it is gone, every read fails though the primary is up",
                        endpoint.full_name, callee.name
                    ),
                    format!("run two or more replicas of `{}`", callee.name),
                );
            }
        }
    }
    out
}

/// The path (of call sites) from an endpoint down which attempts multiply
/// most, and that product.
fn amplification(t: &Topology, from: EndpointId) -> (u64, Vec<CallId>) {
    let mut memo = vec![None; t.endpoints.len()];
    worst_below(t, from, &mut memo).clone()
}

/// `amplification` of each endpoint, remembered: endpoints shared by many
/// paths (a diamond of calls) are walked once, so a deep model costs its
/// calls, not its paths (which can be exponentially many). The call graph
/// is acyclic (compile refuses cycles), so this ends.
fn worst_below<'m>(
    t: &Topology,
    from: EndpointId,
    memo: &'m mut Vec<Option<(u64, Vec<CallId>)>>,
) -> &'m (u64, Vec<CallId>) {
    if memo[from.index()].is_none() {
        let mut best = (1u64, Vec::new());
        for (id, call) in calls_of(t, from).filter(|(_, c)| c.probability > 0.0) {
            let (below, path) = worst_below(t, call.to, memo);
            let product = u64::from(attempts(call)).saturating_mul(*below);
            if product > best.0 || (product == best.0 && path.len() + 1 > best.1.len()) {
                best = (
                    product,
                    std::iter::once(id).chain(path.iter().copied()).collect(),
                );
            }
        }
        memo[from.index()] = Some(best);
    }
    memo[from.index()].as_ref().expect("just computed")
}

pub(super) fn scenario(plan: &Plan) -> Vec<Raw> {
    let t = &plan.topology;
    let reach = Reach::of(t);
    let mut out = Vec::new();
    for fault in &plan.faults {
        let services = fault.services(t);
        if !services.is_empty() && services.iter().all(|s| !reach.depended_on(ServiceId(*s))) {
            let names: Vec<&str> = services
                .iter()
                .map(|s| t.services[*s as usize].name.as_str())
                .collect();
            out.push(Raw {
                rule: &FAULT_MISSES_ENTRIES,
                file: InFile::Scenario,
                path: JsonPath::root().key("faults").key(&fault.name),
                message: format!(
                    "the fault `{}` acts on {}, which no entry depends on: the run will show nothing of it",
                    fault.name,
                    names.join(", ")
                ),
                fix: "aim it at a service on an entry's path (`faultline graph` draws them)".into(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Finding, Severity};
    use crate::spec::Source;
    use crate::topology::Topology;

    /// A small design that every rule passes: three zones, health checks,
    /// a cache that degrades to a miss, a replicated database with
    /// failover, timeouts that nest, one layer of retries.
    fn clean() -> Value {
        let check = json!({"health_check": {"interval": "2s", "timeout": "500ms", "unhealthy_after": 2, "healthy_after": 2}});
        json!({
            "name": "t",
            "zones": ["a", "b", "c"],
            "services": {
                "api": {
                    "instances": {"per_zone": 1}, "workers": 8, "queue": 16,
                    "load_balancer": check,
                    "endpoints": {
                        "get": {"work": {"constant": "1ms"}, "calls": {
                            "cache": {"to": "cache.get", "timeout": "50ms", "fallback": "degrade"},
                            "read": {"to": "db.read", "timeout": "400ms", "when": "miss",
                                     "pool": {"size": 8, "acquire_timeout": "50ms"}}}},
                        "put": {"work": {"constant": "1ms"}, "calls": {
                            "write": {"to": "db.write", "timeout": "400ms",
                                      "retry": {"max_attempts": 2, "backoff": "10ms"},
                                      "pool": {"size": 8, "acquire_timeout": "50ms"}}}}
                    }
                },
                "cache": {
                    "kind": "cache", "instances": {"per_zone": 1}, "workers": 8,
                    "load_balancer": check,
                    "endpoints": {"get": {"work": {"constant": "100us"}, "hit_ratio": 0.9}}
                },
                "db": {
                    "kind": "database", "instances": {"per_zone": 1}, "workers": 16, "queue": 64,
                    "load_balancer": check,
                    "replication": {"primary": "db-a-1", "lag": "10ms",
                                    "failover": {"detection": "5s", "promotion": "2s"}},
                    "endpoints": {
                        "read": {"work": {"constant": "1ms"}, "access": "read"},
                        "write": {"work": {"constant": "1ms"}, "access": "write"}
                    }
                }
            },
            "workload": {
                "get": {"endpoint": "api.get", "rate": "10/s", "timeout": "1s"},
                "put": {"endpoint": "api.put", "rate": "10/s", "timeout": "1s"}
            }
        })
    }

    fn findings(model: &Value) -> Vec<Finding> {
        let source = Source {
            path: "model.json".into(),
            text: serde_json::to_string_pretty(model).unwrap(),
        };
        let spec = crate::spec::parse_model(&source).unwrap();
        let topology = Topology::compile(&spec).unwrap_or_else(|p| panic!("{p:?}"));
        super::super::model(&topology, &source, spec.lint.as_ref())
    }

    fn patched(patch: Value) -> Value {
        let mut model = clean();
        json_patch::merge(&mut model, &patch);
        model
    }

    /// The clean design has no finding of `rule`; patched, it has exactly
    /// one, at `path`.
    fn triggers(rule: &str, patch: Value, path: &str) -> Finding {
        let before: Vec<_> = findings(&clean())
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect();
        assert!(before.is_empty(), "the clean model: {before:#?}");
        let after: Vec<Finding> = findings(&patched(patch))
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect();
        assert_eq!(after.len(), 1, "{rule}: {after:#?}");
        assert_eq!(after[0].path.to_string(), path);
        assert!(after[0].line.is_some(), "placed in the file");
        after[0].clone()
    }

    #[test]
    fn the_clean_design_is_clean() {
        let all = findings(&clean());
        assert!(all.is_empty(), "{all:#?}");
    }

    #[test]
    fn single_instance() {
        let f = triggers(
            "single-instance",
            json!({"services": {"api": {"instances": {"per_zone": null, "count": 1}}}}),
            "services.api.instances",
        );
        assert!(
            f.message.contains("the entries `get`, `put` depend"),
            "{}",
            f.message
        );
    }

    #[test]
    fn single_zone() {
        triggers(
            "single-zone",
            json!({"services": {"api": {"instances": {"per_zone": null, "placement": {"a": 3}}}}}),
            "services.api.instances",
        );
    }

    #[test]
    fn database_without_failover() {
        triggers(
            "database-without-failover",
            json!({"services": {"db": {"replication": {"failover": null}}}}),
            "services.db.replication",
        );
    }

    #[test]
    fn timeout_exceeds_caller() {
        // api.get may wait 50 ms on the cache and 400 ms on the database.
        let f = triggers(
            "timeout-exceeds-caller",
            json!({"workload": {"get": {"timeout": "300ms"}}}),
            "services.api.endpoints.get.calls.read.timeout",
        );
        assert!(f.message.contains("450ms"), "{}", f.message);
        assert!(
            f.message
                .contains("the clients of `get` give up after 300ms"),
            "{}",
            f.message
        );
        // A caller's timeout, retries and backoff counted: 3 × 400 ms + 10 + 20 ms.
        let f = triggers(
            "timeout-exceeds-caller",
            json!({
                "services": {
                    "edge": {"instances": {"per_zone": 1}, "workers": 8,
                             "endpoints": {"in": {"work": {"constant": "1ms"},
                                 "calls": {"put": {"to": "api.put", "timeout": "1s"}}}}},
                    "api": {"endpoints": {"put": {"calls": {"write": {"retry": {"max_attempts": 3}}}}}}
                },
                "workload": {"edge": {"endpoint": "edge.in", "rate": "1/s", "timeout": "5s"},
                             "put": {"timeout": "2s"}}
            }),
            "services.api.endpoints.put.calls.write.timeout",
        );
        assert!(f.message.contains("1s 230ms"), "{}", f.message);
        assert!(
            f.message.contains("edge.in gives up on it after 1s"),
            "{}",
            f.message
        );
    }

    #[test]
    fn no_deadline() {
        triggers(
            "no-deadline",
            json!({"workload": {"put": {"timeout": null}}}),
            "workload.put",
        );
    }

    #[test]
    fn retry_amplification() {
        let f = triggers(
            "retry-amplification",
            json!({
                "services": {"edge": {"instances": {"per_zone": 1}, "workers": 8,
                    "endpoints": {"in": {"work": {"constant": "1ms"},
                        "calls": {"put": {"to": "api.put", "timeout": "5s",
                                          "retry": {"max_attempts": 4, "backoff": "10ms"}}}}}}},
                "workload": {"edge": {"endpoint": "edge.in", "rate": "1/s", "timeout": "30s"}}
            }),
            "services.edge.endpoints.in.calls.put.retry",
        );
        assert!(f.message.contains("up to 8 calls"), "{}", f.message);
    }

    /// Forty layers of two services, each calling both of the next with
    /// two attempts: 2^40 paths, walked once per endpoint.
    #[test]
    fn retry_amplification_of_a_deep_diamond_is_counted_not_walked() {
        let mut services = serde_json::Map::new();
        for layer in 0..=40 {
            for side in ["l", "r"] {
                let calls: serde_json::Map<String, Value> = if layer < 40 {
                    ["l", "r"]
                        .iter()
                        .map(|to| {
                            (
                                (*to).to_string(),
                                json!({"to": format!("s{}{to}.x", layer + 1), "timeout": "1s",
                                       "retry": {"max_attempts": 2, "backoff": "1ms"}}),
                            )
                        })
                        .collect()
                } else {
                    serde_json::Map::new()
                };
                services.insert(
                    format!("s{layer}{side}"),
                    json!({"workers": 4, "endpoints": {"x": {"work": {"constant": "1ms"}, "calls": calls}}}),
                );
            }
        }
        let model = json!({"name": "deep", "zones": ["a"], "services": services,
                           "workload": {"e": {"endpoint": "s0l.x", "rate": "1/s"}}});
        let found: Vec<Finding> = findings(&model)
            .into_iter()
            .filter(|f| f.rule == "retry-amplification")
            .collect();
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .contains(&format!("up to {} calls", 1u64 << 40)),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn pool_exceeds_callee() {
        // 200 connections × 3 api instances against 3 × (16 + 64).
        let pool = json!({"pool": {"size": 200}});
        let f = triggers(
            "pool-exceeds-callee",
            json!({"services": {"api": {"endpoints": {
                "get": {"calls": {"read": pool}}, "put": {"calls": {"write": pool}}}}}}),
            "services.api.endpoints.get.calls.read.pool.size",
        );
        assert!(f.message.contains("600 connections"), "{}", f.message);
        assert!(f.message.contains("room for 240"), "{}", f.message);
    }

    #[test]
    fn pool_parks_workers() {
        let pool = json!({"pool": {"size": 4, "acquire_timeout": null}});
        triggers(
            "pool-parks-workers",
            json!({"services": {"api": {"endpoints": {
                "get": {"calls": {"read": pool}}, "put": {"calls": {"write": pool}}}}}}),
            "services.api.endpoints.get.calls.read.pool.acquire_timeout",
        );
        // A short acquire timeout bounds the wait: no finding.
        let pool = json!({"pool": {"size": 4}});
        let short = patched(json!({"services": {"api": {"endpoints": {
            "get": {"calls": {"read": pool}}, "put": {"calls": {"write": pool}}}}}}));
        assert!(
            !findings(&short)
                .iter()
                .any(|f| f.rule == "pool-parks-workers")
        );
    }

    #[test]
    fn no_health_check() {
        triggers(
            "no-health-check",
            json!({"services": {"api": {"load_balancer": null}}}),
            "services.api",
        );
    }

    #[test]
    fn deep_health_check() {
        let f = triggers(
            "deep-health-check",
            json!({"services": {"api": {"load_balancer": {"health_check": {"endpoint": "get"}}}}}),
            "services.api.load_balancer.health_check.endpoint",
        );
        assert!(f.message.contains("calls `cache`"), "{}", f.message);
    }

    #[test]
    fn cache_without_fallback() {
        triggers(
            "cache-without-fallback",
            json!({"services": {"api": {"endpoints": {"get": {"calls": {"cache": {"fallback": null}}}}}}}),
            "services.api.endpoints.get.calls.cache",
        );
    }

    #[test]
    fn replica_reads_without_fallback() {
        triggers(
            "replica-reads-without-fallback",
            json!({"services": {"db": {"instances": {"per_zone": null, "placement": {"a": 1, "b": 1}}}}}),
            "services.api.endpoints.get.calls.read",
        );
    }

    #[test]
    fn breaker_without_fallback() {
        let f = triggers(
            "breaker-without-fallback",
            json!({"services": {"api": {"endpoints": {"put": {"calls": {"write": {
                "circuit_breaker": {"failure_rate": 0.5, "window": 20, "open_for": "5s"}}}}}}}}),
            "services.api.endpoints.put.calls.write.circuit_breaker",
        );
        assert_eq!(f.severity, Severity::Note);
    }

    #[test]
    fn an_allowance_with_its_reason_silences_a_finding_and_a_bad_one_is_an_error() {
        let model = patched(json!({
            "services": {"api": {"load_balancer": null}},
            "lint": {"allow": [
                {"rule": "no-health-check", "at": "services.api", "because": "api never dies here."},
                {"rule": "no-helth-check", "because": "typo"},
                {"rule": "L101", "because": " "}
            ]}
        }));
        let all = findings(&model);
        let check = all.iter().find(|f| f.rule == "no-health-check").unwrap();
        assert_eq!(check.allowed.as_deref(), Some("api never dies here."));
        let misused: Vec<_> = all.iter().filter(|f| f.rule == "misused-allow").collect();
        assert_eq!(misused.len(), 2, "{misused:#?}");
        assert!(
            misused[0]
                .message
                .contains("did you mean `no-health-check`")
        );
        assert_eq!(misused[1].path.to_string(), "lint.allow[2].because");
        assert!(misused.iter().all(|f| f.severity == Severity::Error));
    }

    #[test]
    fn a_fault_on_nothing_an_entry_depends_on() {
        let model = patched(json!({"services": {"batch": {
            "instances": {"per_zone": 1}, "workers": 1,
            "load_balancer": {"health_check": {"interval": "2s", "timeout": "500ms", "unhealthy_after": 2, "healthy_after": 2}},
            "endpoints": {"run": {"work": {"constant": "1s"}}}}}}));
        let scenario = |target: &str| {
            json!({"name": "s", "model": "model.json", "duration": "60s", "warmup": "10s",
                   "faults": {"kill": {"kind": "instance_kill", "target": target, "count": 1, "at": "20s"}}})
        };
        let lint = |target: &str| {
            let plan = crate::plan::Plan::from_texts(
                Source {
                    path: "scenario.json".into(),
                    text: scenario(target).to_string(),
                },
                Source {
                    path: "model.json".into(),
                    text: model.to_string(),
                },
            )
            .unwrap();
            super::super::plan(&plan)
                .into_iter()
                .filter(|f| f.rule == "fault-misses-entries")
                .collect::<Vec<_>>()
        };
        let found = lint("batch");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].path.to_string(), "faults.kill");
        assert_eq!(found[0].file.to_str(), Some("scenario.json"));
        assert!(lint("api").is_empty());
    }
}
