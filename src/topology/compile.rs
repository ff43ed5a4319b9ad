//! Spec → topology in one pass. Nothing here trusts the file: every name is
//! looked up once, where the builder needs it, and one that does not resolve
//! is a problem at its JSON path (with the close name when there is one);
//! the pass goes on and reports every problem, the file-level ones of
//! `spec::check_model` first.

use std::ops::Range;

use indexmap::IndexMap;

use super::*;
use crate::error::{JsonPath, Problem, closest};
use crate::spec::MAX_INSTANCES_PER_SERVICE;
use crate::spec::model::{self, Interpolate, ModelSpec, WorkSpec};

/// z such that Φ(z) = 0.99.
const Z99: f64 = 2.326_347_874_040_841;

pub fn work_time(spec: &WorkSpec) -> WorkTime {
    match spec {
        WorkSpec::Constant(d) => WorkTime::Constant(d.0),
        WorkSpec::Exponential { mean } => WorkTime::Exponential {
            mean: mean.0 as f64,
        },
        WorkSpec::Lognormal { mean, p99 } => {
            // mean = exp(μ + σ²/2) and p99 = exp(μ + zσ) give
            // σ²/2 − zσ + ln(p99/mean) = 0; the smaller root keeps the
            // distribution's bulk near the mean.
            let gap = (p99.0 as f64 / mean.0 as f64).ln();
            let sigma = Z99 - (Z99 * Z99 - 2.0 * gap).max(0.0).sqrt();
            let mu = (mean.0 as f64).ln() - sigma * sigma / 2.0;
            WorkTime::Lognormal { mu, sigma }
        }
        WorkSpec::Uniform { min, max } => WorkTime::Uniform {
            min: min.0,
            max: max.0,
        },
    }
}

fn lane(lanes: &mut Vec<TimerLane>, kind: TimerKind, duration: u64) -> u32 {
    let wanted = TimerLane { kind, duration };
    match lanes.iter().position(|l| *l == wanted) {
        Some(i) => i as u32,
        None => {
            lanes.push(wanted);
            (lanes.len() - 1) as u32
        }
    }
}

/// A name that does not resolve: what is wrong, and the close name if there
/// is one.
type Unresolved = (String, Option<String>);

/// The one pass from a model to a topology: the model's file-level checks
/// (`spec::check_model`), then every name resolved where the builder needs
/// it, then the cycles of the resolved call graph. Every problem is
/// collected, and a topology comes out only when there is none.
///
/// Ids are positions in the model's maps, in the order written, so a
/// component's id depends on the file alone. Timer lanes are numbered in
/// order of first use, so the steps below run in a fixed order: service by
/// service its calls' lanes (each call's timeout before its pool's), then
/// its consumer's; the workloads' last.
pub(super) fn compile(model: &ModelSpec) -> Result<Topology, Vec<Problem>> {
    let mut builder = Builder::new(model);
    for (s, (name, service)) in model.services.iter().enumerate() {
        builder.service(ServiceId(s as u32), name, service);
    }
    builder.problems.extend(super::cycles::endpoint_cycles(
        &builder.services,
        &builder.endpoints,
        &builder.calls,
    ));
    let client_groups = builder.client_groups();
    // Only now, so that their timeout lanes come after every service's.
    let workloads = builder.workloads();
    let Builder {
        mut services,
        instances,
        mut endpoints,
        mut calls,
        timer_lanes,
        pool_groups,
        problems,
        ..
    } = builder;
    if !problems.is_empty() {
        return Err(problems);
    }
    let pool_groups: IndexMap<(u32, u32), PoolGroup> = pool_groups
        .into_iter()
        .map(|(key, declared)| (key, declared.group))
        .collect();
    share_pools(&mut calls, &endpoints, &pool_groups);
    number_breakers_and_budgets(&mut calls, &endpoints, &services);
    number_rate_limits(&mut services);
    if let Err(problem) = number_key_stores(&mut endpoints, &mut calls, &services) {
        return Err(vec![problem]);
    }
    let pool_groups = number_pools(pool_groups, &services);
    Ok(Topology {
        name: model.name.clone(),
        client_groups,
        zones: model.zones.clone(),
        services,
        instances,
        endpoints,
        calls,
        pool_groups,
        workloads,
        timer_lanes,
    })
}

/// A pool group with the call that declared it, which later declarations
/// must agree with.
struct DeclaredPool<'m> {
    group: PoolGroup,
    path: JsonPath,
    spec: &'m model::PoolSpec,
}

/// A call's target, resolved.
#[derive(Clone, Copy)]
struct Target<'m> {
    service: ServiceId,
    service_name: &'m str,
    endpoint: EndpointId,
}

/// The topology's arrays as they fill, one service at a time in the model's
/// order, which is what keeps a service's instances, endpoints and calls
/// contiguous; and the problems found so far.
struct Builder<'m> {
    model: &'m ModelSpec,
    /// The id of each service's first endpoint, by service id: every
    /// endpoint is numbered before any call is compiled, since a call may
    /// name an endpoint of a service further down the file.
    first_endpoint: Vec<u32>,
    services: Vec<Service>,
    instances: Vec<Instance>,
    endpoints: Vec<Endpoint>,
    calls: Vec<Call>,
    timer_lanes: Vec<TimerLane>,
    /// (caller, callee) → pool group, in order of first appearance.
    pool_groups: IndexMap<(u32, u32), DeclaredPool<'m>>,
    problems: Vec<Problem>,
}

impl<'m> Builder<'m> {
    fn new(model: &'m ModelSpec) -> Self {
        let mut first_endpoint = Vec::with_capacity(model.services.len());
        let mut next = 0u32;
        for service in model.services.values() {
            first_endpoint.push(next);
            next += service.endpoints.len() as u32;
        }
        Builder {
            model,
            first_endpoint,
            services: Vec::new(),
            instances: Vec::new(),
            endpoints: Vec::new(),
            calls: Vec::new(),
            timer_lanes: Vec::new(),
            pool_groups: IndexMap::new(),
            // What the fields say on their own comes first.
            problems: crate::spec::check_model(model),
        }
    }

    /// A problem at `path`, with a fix when one is known.
    fn blame(&mut self, path: JsonPath, (message, hint): Unresolved) {
        self.problems
            .push(Problem::new(path, message).with_suggestion(hint));
    }

    /// Resolves `service.endpoint`, with a suggestion when it does not
    /// resolve.
    fn resolve_endpoint(&self, reference: &str) -> Result<Target<'m>, Unresolved> {
        let services = &self.model.services;
        let Some((service, endpoint)) = reference.split_once('.') else {
            let all: Vec<String> = services
                .iter()
                .flat_map(|(s, spec)| spec.endpoints.keys().map(move |e| format!("{s}.{e}")))
                .collect();
            let hint = closest(reference, all.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some("write it as `service.endpoint`".to_string()));
            return Err((
                format!("expected an endpoint as `service.endpoint`, found \"{reference}\""),
                hint,
            ));
        };
        let Some((s, service_name, service_spec)) = services.get_full(service) else {
            let hint = closest(service, services.keys().map(String::as_str))
                .map(|s| format!("did you mean `{s}.{endpoint}`?"));
            let known: Vec<&str> = services.keys().map(String::as_str).collect();
            return Err((
                format!(
                    "unknown service `{service}` in \"{reference}\" (services: {})",
                    known.join(", ")
                ),
                hint,
            ));
        };
        let Some(e) = service_spec.endpoints.get_index_of(endpoint) else {
            let hint = closest(endpoint, service_spec.endpoints.keys().map(String::as_str))
                .map(|e| format!("did you mean `{service}.{e}`?"));
            let known: Vec<&str> = service_spec.endpoints.keys().map(String::as_str).collect();
            return Err((
                format!(
                    "service `{service}` has no endpoint `{endpoint}` (endpoints: {})",
                    known.join(", ")
                ),
                hint,
            ));
        };
        Ok(Target {
            service: ServiceId(s as u32),
            service_name,
            endpoint: EndpointId(self.first_endpoint[s] + e as u32),
        })
    }

    /// A service with its instances, its settings (health check, restart,
    /// memory, shedding, autoscaling, consumer, replication), its endpoints
    /// and calls. The consumer's lane is taken after the calls'.
    fn service(&mut self, id: ServiceId, name: &str, spec: &'m model::ServiceSpec) {
        let path = JsonPath::root().key("services").key(name);
        let first_instance = self.instances.len() as u32;
        let initial_instances = self.place_instances(id, name, spec, &path);
        // The service's settings before its endpoints, as the file format
        // documents them; the health check names an endpoint by its id,
        // known before the endpoint is built.
        let first_endpoint = self.endpoints.len() as u32;
        let health_check = spec
            .load_balancer
            .health_check
            .as_ref()
            .map(|hc| self.health_check(hc, name, spec, first_endpoint, &path));
        let placed = initial_instances.map(|n| first_instance..first_instance + n);
        let replication = spec
            .replication
            .as_ref()
            .map(|r| self.replication(r, name, placed, &path));
        if let (Some(scaling), Some(initial)) = (&spec.autoscaling, initial_instances)
            // A min out of order is spec's problem.
            && scaling.min != 0
            && scaling.min <= scaling.max
            && !(scaling.min..=scaling.max).contains(&initial)
        {
            self.problems.push(Problem::new(
                path.key("autoscaling"),
                format!(
                    "the service starts with {initial} instances, outside min {} and max {}",
                    scaling.min, scaling.max
                ),
            ));
        }
        for (endpoint_name, endpoint) in &spec.endpoints {
            let endpoint_path = path.key("endpoints").key(endpoint_name);
            self.endpoint(id, name, endpoint_name, endpoint, &endpoint_path);
        }
        let service = Service {
            name: name.to_owned(),
            kind: kind(spec.kind),
            workers: spec.workers.unwrap_or(UNLIMITED_WORKERS),
            queue: spec.queue.unwrap_or(DEFAULT_QUEUE),
            policy: policy(spec.load_balancer.policy),
            instances: first_instance..self.instances.len() as u32,
            endpoints: first_endpoint..self.endpoints.len() as u32,
            health_check,
            restart: spec.restart.as_ref().map(|r| Restart {
                delay: r.delay.0,
                boot: r.boot.0,
            }),
            drain: spec.drain.map(|d| d.0),
            memory: spec.memory.as_ref().map(memory),
            shed_above_memory: spec.load_shedding.as_ref().and_then(|l| l.memory_above),
            shed_above_queue: spec.load_shedding.as_ref().and_then(|l| l.queue_above),
            rate_limit: spec.rate_limit.as_ref().map(|l| {
                let per_second = l.rate.per_second();
                let interval = (1e9 / per_second).round().max(1.0) as u64;
                let burst = l
                    .burst
                    .map_or(per_second.floor().max(1.0) as u64, u64::from);
                RateLimit {
                    interval,
                    tolerance: burst.saturating_sub(1).saturating_mul(interval),
                    per_instance: l.scope == model::RateLimitScope::Instance,
                    retry_after: l.retry_after.map_or(1_000_000_000, |d| d.0),
                    first: 0,
                }
            }),
            contention: spec.contention.as_ref().map(|c| {
                let curve = |points: &[model::CurvePointSpec]| {
                    Curve(points.iter().map(|p| (p.at, p.factor)).collect())
                };
                Contention {
                    busy: curve(&c.busy),
                    memory: curve(&c.memory),
                }
            }),
            discipline: spec
                .queue_discipline
                .as_ref()
                .map(queue_discipline)
                .unwrap_or_default(),
            initial_instances: initial_instances.unwrap_or(0),
            autoscaling: spec.autoscaling.as_ref().map(autoscaling),
            consumer: spec
                .consumer
                .as_ref()
                .map(|c| consumer(c, &mut self.timer_lanes)),
            replication,
        };
        for endpoint in &mut self.endpoints[service.endpoints.start as usize..] {
            endpoint.contended = service.contention.is_some();
            endpoint.abandon_after = spec.abandon_expired_work.map(|d| d.0);
        }
        self.services.push(service);
    }

    /// Places a service's instances zone by zone (`service-zone-k`, k from
    /// 1), then appends spare slots up to its autoscaler's maximum, so that
    /// scaling out never moves an id. Returns how many run at the start, or
    /// nothing when there is no zone or more instances than a service may
    /// have: spec reports those, and nothing is placed, so that a mistyped
    /// number cannot exhaust memory.
    fn place_instances(
        &mut self,
        service: ServiceId,
        name: &str,
        spec: &model::ServiceSpec,
        path: &JsonPath,
    ) -> Option<u32> {
        let model = self.model;
        let zones = &model.zones;
        let mut per_zone = self.zone_counts(spec.instances.as_ref(), &path.key("instances"));
        let initial: u64 = per_zone.iter().map(|&n| u64::from(n)).sum();
        if zones.is_empty() || initial > MAX_INSTANCES_PER_SERVICE {
            return None;
        }
        for (z, (zone, &count)) in zones.iter().zip(&per_zone).enumerate() {
            for k in 1..=count {
                self.instances.push(Instance {
                    name: format!("{name}-{zone}-{k}"),
                    service,
                    zone: ZoneId(z as u32),
                });
            }
        }
        let initial = initial as u32;
        // Spread over the zones in turn, numbered on from the placed ones
        // so that names stay unique.
        let spare = spec
            .autoscaling
            .as_ref()
            .filter(|a| u64::from(a.max) <= MAX_INSTANCES_PER_SERVICE)
            .map_or(0, |a| a.max.saturating_sub(initial));
        for k in 0..spare {
            let z = k as usize % zones.len();
            per_zone[z] += 1;
            self.instances.push(Instance {
                name: format!("{name}-{}-{}", zones[z], per_zone[z]),
                service,
                zone: ZoneId(z as u32),
            });
        }
        Some(initial)
    }

    /// How many instances start in each zone; a placement's zones are
    /// resolved by name. One instance in the first zone unless told.
    fn zone_counts(&mut self, spec: Option<&model::InstancesSpec>, path: &JsonPath) -> Vec<u32> {
        let model = self.model;
        let zones = &model.zones;
        let mut counts = vec![0u32; zones.len()];
        let Some(spec) = spec else {
            if let Some(first) = counts.first_mut() {
                *first = 1;
            }
            return counts;
        };
        if let Some(per_zone) = spec.per_zone {
            counts.fill(per_zone);
        } else if let Some(count) = spec.count {
            // Round robin over the zones, from the first.
            let n = zones.len() as u32;
            for (z, c) in counts.iter_mut().enumerate() {
                *c = count / n + u32::from((z as u32) < count % n);
            }
        } else if let Some(placement) = &spec.placement {
            for (zone, n) in placement {
                match zones.iter().position(|z| z == zone) {
                    Some(z) => counts[z] = counts[z].saturating_add(*n),
                    None => {
                        let hint = closest(zone, zones.iter().map(String::as_str))
                            .map(|z| format!("did you mean `{z}`?"));
                        self.blame(
                            path.key("placement").key(zone),
                            (
                                format!("unknown zone `{zone}` (zones: {})", zones.join(", ")),
                                hint,
                            ),
                        );
                    }
                }
            }
        }
        counts
    }

    fn endpoint(
        &mut self,
        service: ServiceId,
        service_name: &str,
        name: &str,
        spec: &'m model::EndpointSpec,
        path: &JsonPath,
    ) {
        let id = EndpointId(self.endpoints.len() as u32);
        let first_call = self.calls.len() as u32;
        for (call_name, call) in &spec.calls {
            let call_path = path.key("calls").key(call_name);
            self.call(id, service, service_name, call_name, call, call_path);
        }
        self.endpoints.push(Endpoint {
            service,
            name: name.to_owned(),
            full_name: format!("{service_name}.{name}"),
            work: work_time(&spec.work),
            calls: first_call..self.calls.len() as u32,
            hit_ratio: spec.hit_ratio,
            keys: spec.keys.as_ref().map(|k| Keys {
                count: k.count,
                zipf: k.zipf.unwrap_or(1.0),
                capacity: k.capacity.unwrap_or(k.count),
                ttl: k.ttl.map_or(u64::MAX, |t| t.0),
                coalesce: k.coalesce,
                by_key: k.routing == model::KeyRouting::Key,
                // Numbered once every service's instances are known.
                first: 0,
            }),
            // Set with its service, below.
            contended: false,
            abandon_after: None,
            read: spec.access == Some(model::Access::Read),
        });
    }

    /// A call with its retry policy, breaker and fallback, and the pool it
    /// declares; its timeout lane is taken before the pool's acquire lane.
    /// A call whose target does not resolve is left out (the topology is
    /// not returned then).
    fn call(
        &mut self,
        from: EndpointId,
        caller: ServiceId,
        caller_name: &str,
        name: &str,
        spec: &'m model::CallSpec,
        path: JsonPath,
    ) {
        let retry = spec
            .retry
            .as_ref()
            .map(|r| self.retry_policy(r, &path.key("retry")));
        let fallback = match &spec.fallback {
            model::Fallback::Fail => Fallback::Fail,
            model::Fallback::Degrade => Fallback::Degrade,
            model::Fallback::Enqueue(queue) => {
                match self.queue(queue, path.key("fallback").key("enqueue")) {
                    Some(q) => Fallback::Enqueue(q),
                    // Reported; the call is still compiled for its other
                    // problems.
                    None => Fallback::Fail,
                }
            }
        };
        let target = match self.resolve_endpoint(&spec.to) {
            Ok(target) => target,
            Err(unresolved) => {
                self.blame(path.key("to"), unresolved);
                return;
            }
        };
        let timeout_lane = spec
            .timeout
            .map(|t| lane(&mut self.timer_lanes, TimerKind::CallTimeout, t.0));
        self.calls.push(Call {
            name: name.to_owned(),
            from,
            to: target.endpoint,
            to_service: target.service,
            timeout: spec.timeout.map(|t| t.0),
            timeout_lane,
            // Set by `share_pools` once every call is known: the pool may be
            // declared by a call further down.
            pool_group: None,
            probability: spec.probability.unwrap_or(1.0),
            retry,
            breaker: spec.circuit_breaker.as_ref().map(breaker_policy),
            throttling: spec
                .adaptive_throttling
                .as_ref()
                .map(|a| AdaptiveThrottling {
                    k: a.k.unwrap_or(2.0),
                    window: a.window.map_or(120_000_000_000, |w| w.0),
                    first: 0,
                }),
            fallback,
            only_on_miss: spec.when == model::CallWhen::Miss,
            // Set by `number_key_stores`, once every endpoint is known.
            keyed: false,
            propagate_deadline: spec.propagate_deadline,
        });
        if let Some(pool) = &spec.pool {
            self.declare_pool(caller, caller_name, target, pool, path.key("pool"));
        }
    }

    /// The queue service a call falls back to.
    fn queue(&mut self, queue: &str, path: JsonPath) -> Option<ServiceId> {
        let model = self.model;
        let services = &model.services;
        match services.get_full(queue) {
            Some((q, _, spec)) if spec.kind == model::ServiceKind::Queue => {
                Some(ServiceId(q as u32))
            }
            Some(_) => {
                self.problems.push(Problem::new(
                    path,
                    format!("`{queue}` is not a service of kind `queue`"),
                ));
                None
            }
            None => {
                let hint = closest(queue, services.keys().map(String::as_str))
                    .map(|n| format!("did you mean `{n}`?"));
                self.blame(path, (format!("unknown queue service `{queue}`"), hint));
                None
            }
        }
    }

    /// One pool per (caller, callee) pair, per caller instance: the first
    /// call to declare it sets its size and acquire timeout, and every later
    /// declaration must say the same.
    fn declare_pool(
        &mut self,
        caller: ServiceId,
        caller_name: &str,
        callee: Target<'m>,
        pool: &'m model::PoolSpec,
        path: JsonPath,
    ) {
        if let Some(first) = self.pool_groups.get(&(caller.0, callee.service.0)) {
            if first.spec != pool {
                let message = format!(
                    "calls from `{caller_name}` to `{}` share one pool per instance, but this pool differs from the one at {}",
                    callee.service_name, first.path
                );
                self.problems
                    .push(Problem::new(path, message).with_suggestion(Some(
                        "give both calls the same pool settings, or set it on one only".into(),
                    )));
            }
            return;
        }
        let acquire_timeout = pool.acquire_timeout.map(|t| t.0);
        let group = PoolGroup {
            caller,
            callee: callee.service,
            size: pool.size,
            acquire_timeout,
            // "0s" fails at once without a timer, so it needs no lane.
            acquire_lane: acquire_timeout
                .filter(|t| *t > 0)
                .map(|t| lane(&mut self.timer_lanes, TimerKind::AcquireTimeout, t)),
            // Set by `number_pools` once every group is known.
            first_pool: 0,
        };
        self.pool_groups.insert(
            (caller.0, callee.service.0),
            DeclaredPool {
                group,
                path,
                spec: pool,
            },
        );
    }

    /// Defaults are resolved here, once, so that the engine reads plain
    /// values. `budget_index` is set by `number_breakers_and_budgets`.
    fn retry_policy(&mut self, r: &model::RetrySpec, path: &JsonPath) -> RetryPolicy {
        RetryPolicy {
            max_attempts: r.max_attempts,
            backoff: r.backoff.0,
            multiplier: r.multiplier.unwrap_or(2.0),
            max_backoff: r.max_backoff.map_or(30_000_000_000, |d| d.0),
            jitter: jitter(r.jitter),
            on: self.retry_mask(r.on.as_deref(), path),
            budget: r
                .budget
                .as_ref()
                .map(|b| (b.ratio, b.min_per_s.unwrap_or(1.0))),
            budget_index: 0,
            quota: r.quota.as_ref().map(|q| RetryQuota {
                capacity: q.capacity.unwrap_or(500),
                cost: q.cost.unwrap_or(5),
                timeout_cost: q.timeout_cost.unwrap_or(10),
                refund: q.refund.unwrap_or(1),
                first: 0,
            }),
            honor_retry_after: r.honor_retry_after.unwrap_or(true),
        }
    }

    /// The error classes a retry policy retries, as a bit set, each named
    /// class resolved.
    fn retry_mask(&mut self, on: Option<&[String]>, path: &JsonPath) -> u16 {
        use crate::base::ErrorClass;
        let Some(names) = on else {
            return ErrorClass::ALL
                .iter()
                .filter(|c| !matches!(c, ErrorClass::PoolExhausted | ErrorClass::CircuitOpen))
                .fold(0, |mask, c| mask | 1 << *c as u16);
        };
        let mut mask = 0;
        for (i, name) in names.iter().enumerate() {
            match ErrorClass::from_name(name) {
                Some(class) => mask |= 1 << class as u16,
                None => {
                    let names = ErrorClass::ALL.map(|c| c.name());
                    let hint = closest(name, names).map(|n| format!("did you mean `{n}`?"));
                    self.blame(
                        path.key("on").index(i),
                        (
                            format!(
                                "unknown error class `{name}` (classes: {})",
                                names.join(", ")
                            ),
                            hint,
                        ),
                    );
                }
            }
        }
        mask
    }

    /// A health check may probe one of the service's own endpoints, named
    /// without the service.
    fn health_check(
        &mut self,
        hc: &model::HealthCheckSpec,
        service_name: &str,
        service: &model::ServiceSpec,
        first_endpoint: u32,
        path: &JsonPath,
    ) -> HealthCheck {
        let endpoint = hc.endpoint.as_ref().and_then(|e| {
            match service.endpoints.get_index_of(e) {
                Some(k) => Some(EndpointId(first_endpoint + k as u32)),
                None => {
                    let hint = closest(e, service.endpoints.keys().map(String::as_str))
                        .map(|e| format!("did you mean `{e}`?"));
                    self.blame(
                        path.key("load_balancer").key("health_check").key("endpoint"),
                        (
                            format!(
                                "service `{service_name}` has no endpoint `{e}` to answer health probes"
                            ),
                            hint,
                        ),
                    );
                    None
                }
            }
        });
        HealthCheck {
            interval: hc.interval.0,
            timeout: hc.timeout.0,
            unhealthy_after: hc.unhealthy_after.unwrap_or(2),
            healthy_after: hc.healthy_after.unwrap_or(2),
            fail_above_memory: hc.fail_above_memory,
            endpoint,
        }
    }

    /// `placed` are the ids of the instances the service starts with (none
    /// when they could not be placed). The primary is the one named, or the
    /// first.
    fn replication(
        &mut self,
        r: &model::ReplicationSpec,
        service_name: &str,
        placed: Option<Range<u32>>,
        path: &JsonPath,
    ) -> Replication {
        let placed = placed.unwrap_or(0..0);
        let mut primary = placed.start;
        if let Some(wanted) = &r.primary
            && !placed.is_empty()
        {
            let own = &self.instances[placed.start as usize..placed.end as usize];
            match own.iter().position(|i| i.name == *wanted) {
                Some(k) => primary += k as u32,
                None => {
                    let names: Vec<&str> = own.iter().map(|i| i.name.as_str()).collect();
                    let hint = closest(wanted, names.iter().copied())
                        .map(|n| format!("did you mean `{n}`?"));
                    let message = format!(
                        "`{service_name}` has no instance `{wanted}` (instances: {})",
                        names.join(", ")
                    );
                    self.blame(path.key("replication").key("primary"), (message, hint));
                }
            }
        }
        Replication {
            primary,
            lag: r.lag.0,
            catch_up: r.catch_up.unwrap_or(2.0),
            apply_interval: r
                .apply_rate
                .map(|rate| (1e9 / rate.per_second()).round().max(1.0) as u64),
            lag_alert: r.lag_alert.map(|d| d.0),
            failover: r.failover.as_ref().map(|f| Failover {
                detection: f.detection.0,
                promotion: f.promotion.0,
                follow: f.writers == model::Writers::ClusterEndpoint,
                max_lag: f.max_lag.map(|d| d.0),
            }),
        }
    }

    /// Clients of all groups are numbered one after another: the engine
    /// keeps them in one array. A group's requests go to the instance it
    /// connected to, so both endpoints are on one service.
    fn client_groups(&mut self) -> Vec<ClientGroup> {
        let mut first_client = 0u32;
        let mut groups = Vec::new();
        let model = self.model;
        for (name, spec) in &model.clients {
            let path = JsonPath::root().key("clients").key(name);
            let connect = self.resolve_endpoint(&spec.connect);
            let request = self.resolve_endpoint(&spec.request);
            let (connect, request) = match (connect, request) {
                (Ok(connect), Ok(request)) => (connect, request),
                (connect, request) => {
                    if let Err(unresolved) = connect {
                        self.blame(path.key("connect"), unresolved);
                    }
                    if let Err(unresolved) = request {
                        self.blame(path.key("request"), unresolved);
                    }
                    continue;
                }
            };
            if connect.service != request.service {
                self.problems.push(Problem::new(
                    path.key("request"),
                    format!(
                        "requests go to the instance the client connected to, so they must be on `{}` too",
                        connect.service_name
                    ),
                ));
                continue;
            }
            groups.push(ClientGroup {
                name: name.clone(),
                count: spec.count,
                first: first_client,
                connect: connect.endpoint,
                request: request.endpoint,
                think: spec.think.0,
                reconnect: reconnect_policy(&spec.reconnect),
            });
            first_client = first_client.saturating_add(spec.count);
        }
        groups
    }

    fn workloads(&mut self) -> Vec<Workload> {
        let mut workloads = Vec::new();
        let model = self.model;
        for (name, spec) in &model.workload {
            let endpoint = match self.resolve_endpoint(&spec.endpoint) {
                Ok(target) => target.endpoint,
                Err(unresolved) => {
                    let path = JsonPath::root().key("workload").key(name);
                    self.blame(path.key("endpoint"), unresolved);
                    continue;
                }
            };
            workloads.push(Workload {
                name: name.clone(),
                endpoint,
                segments: segments(&rate_points(spec), spec.interpolate),
                timeout: spec.timeout.map(|t| t.0),
                timeout_lane: spec
                    .timeout
                    .map(|t| lane(&mut self.timer_lanes, TimerKind::ClientTimeout, t.0)),
                propagate_deadline: spec.propagate_deadline,
            });
        }
        workloads
    }
}

/// `first` is set by `number_breakers_and_budgets`.
fn breaker_policy(b: &model::BreakerSpec) -> BreakerPolicy {
    BreakerPolicy {
        failure_rate: b.failure_rate,
        window: b.window.unwrap_or(20),
        window_time: b.window_time.map(|d| d.0),
        // A breaker judges a full window unless told to judge sooner.
        min_calls: b.min_calls.unwrap_or(b.window.unwrap_or(20)),
        slow_call: b.slow_call.map(|d| d.0),
        open_for: b.open_for.0,
        half_open_calls: b.half_open_calls.unwrap_or(3),
        half_open_by_rate: b.half_open_rule == model::HalfOpenRuleSpec::FailureRate,
        first: 0,
    }
}

/// Alerts ascending, so the engine schedules the next threshold crossed by
/// looking at the next one only.
fn memory(m: &model::MemorySpec) -> Memory {
    let mut alerts = m.alerts.clone();
    alerts.sort_by(f64::total_cmp);
    Memory {
        baseline: m.baseline.0,
        limit: m.limit.0,
        per_request: m.per_request.map_or(0, |s| s.0),
        alerts,
        restart_at: m.restart_at,
    }
}

fn autoscaling(a: &model::AutoscalingSpec) -> Autoscaling {
    Autoscaling {
        min: a.min,
        max: a.max,
        target: a.target_utilisation,
        interval: a.interval.map_or(15_000_000_000, |d| d.0),
        cooldown: a.cooldown.map_or(60_000_000_000, |d| d.0),
        boot: a.boot.map_or(30_000_000_000, |d| d.0),
    }
}

fn consumer(c: &model::ConsumerSpec, timer_lanes: &mut Vec<TimerLane>) -> Consumer {
    Consumer {
        concurrency: c.concurrency,
        timeout: c.timeout.0,
        timeout_lane: lane(timer_lanes, TimerKind::ConsumerTimeout, c.timeout.0),
        retry_after: c.retry_after.map_or(1_000_000_000, |d| d.0),
    }
}

/// Calls without their own pool share the pool another call to the same
/// callee declared.
fn share_pools(
    calls: &mut [Call],
    endpoints: &[Endpoint],
    pool_groups: &IndexMap<(u32, u32), PoolGroup>,
) {
    for call in calls {
        let caller = endpoints[call.from.index()].service.0;
        call.pool_group = pool_groups
            .get_index_of(&(caller, call.to_service.0))
            .map(|i| PoolGroupId(i as u32));
    }
}

/// The engine keeps breakers and retry budgets in flat arrays: a call's
/// breaker has one slot per caller instance (each counts its own calls),
/// a budget one slot per call that has one.
fn number_breakers_and_budgets(calls: &mut [Call], endpoints: &[Endpoint], services: &[Service]) {
    let mut first_breaker = 0;
    let mut budgets = 0;
    let mut first_quota = 0;
    let mut first_throttle = 0;
    for call in calls {
        let caller = endpoints[call.from.index()].service.index();
        if let Some(breaker) = &mut call.breaker {
            breaker.first = first_breaker;
            first_breaker += services[caller].instances.len() as u32;
        }
        if let Some(quota) = call.retry.as_mut().and_then(|r| r.quota.as_mut()) {
            quota.first = first_quota;
            first_quota += services[caller].instances.len() as u32;
        }
        if let Some(throttling) = &mut call.throttling {
            throttling.first = first_throttle;
            first_throttle += services[caller].instances.len() as u32;
        }
        if let Some(retry) = &mut call.retry
            && retry.budget.is_some()
        {
            retry.budget_index = budgets;
            budgets += 1;
        }
    }
}

/// Rate-limit buckets are a flat array: one per instance of a service
/// limited per instance, one for a service limited as a whole.
fn number_rate_limits(services: &mut [Service]) {
    let mut first = 0;
    for service in services {
        if let Some(limit) = &mut service.rate_limit {
            limit.first = first;
            first += if limit.per_instance {
                service.instances.len() as u32
            } else {
                1
            };
        }
    }
}

/// Most key slots all caches together may keep (a key's count times its
/// service's instances, spares included): 17 bytes each, so 340 MB at most.
const MAX_KEY_SLOTS: u64 = 20_000_000;

/// Key stores are a flat array, one per instance of each cache endpoint
/// with keys; calls to such an endpoint are marked keyed. Refuses a model
/// whose stores would pass `MAX_KEY_SLOTS`.
fn number_key_stores(
    endpoints: &mut [Endpoint],
    calls: &mut [Call],
    services: &[Service],
) -> Result<(), Problem> {
    let mut first = 0;
    let mut slots = 0u64;
    for endpoint in endpoints.iter_mut() {
        if let Some(keys) = &mut endpoint.keys {
            let instances = services[endpoint.service].instances.len() as u32;
            keys.first = first;
            first += instances;
            slots += u64::from(keys.count) * u64::from(instances);
            if slots > MAX_KEY_SLOTS {
                let service = &services[endpoint.service.index()].name;
                return Err(Problem::new(
                    JsonPath::root()
                        .key("services")
                        .key(service)
                        .key("endpoints")
                        .key(&endpoint.name)
                        .key("keys")
                        .key("count"),
                    format!(
                        "expected the caches' keys times their instances (spares included) to total at most {MAX_KEY_SLOTS}, found {slots} so far: each instance keeps 17 bytes a key"
                    ),
                ));
            }
        }
    }
    for call in calls {
        call.keyed = endpoints[call.to.index()].keys.is_some();
    }
    Ok(())
}

/// Runtime pools too are a flat array, one per caller instance per group.
fn number_pools(
    pool_groups: IndexMap<(u32, u32), PoolGroup>,
    services: &[Service],
) -> Vec<PoolGroup> {
    let mut first_pool = 0;
    pool_groups
        .into_values()
        .map(|mut group| {
            group.first_pool = first_pool;
            first_pool += services[group.caller.index()].instances.len() as u32;
            group
        })
        .collect()
}

/// A constant rate is a schedule of one point from time zero.
fn rate_points(spec: &model::WorkloadSpec) -> Vec<(u64, f64)> {
    match (&spec.rate, &spec.schedule) {
        (Some(rate), _) => vec![(0, rate.per_second())],
        (None, Some(schedule)) => schedule
            .iter()
            .map(|p| (p.at.0, p.rate.per_second()))
            .collect(),
        (None, None) => vec![(0, 0.0)],
    }
}

/// Reconnecting is retrying for ever, whatever the error, with no budget: a
/// client without a connection has nothing else to do.
fn reconnect_policy(r: &model::ReconnectSpec) -> RetryPolicy {
    RetryPolicy {
        max_attempts: u32::MAX,
        backoff: r.backoff.0,
        multiplier: r.multiplier.unwrap_or(2.0),
        max_backoff: r.max_backoff.map_or(30_000_000_000, |d| d.0),
        jitter: jitter(r.jitter),
        on: u16::MAX,
        budget: None,
        budget_index: 0,
        quota: None,
        honor_retry_after: true,
    }
}

/// Piecewise segments from rate points (per second) sorted by time. Before
/// the first point the rate is zero; after the last it holds.
/// (An empty schedule, which spec reports, gives no segment.)
fn segments(points: &[(u64, f64)], interpolate: Interpolate) -> Vec<RateSegment> {
    const PER_NS: f64 = 1e-9;
    let mut out = Vec::new();
    let Some(&(first_at, _)) = points.first() else {
        return out;
    };
    if first_at > 0 {
        out.push(RateSegment {
            start: 0,
            end: first_at,
            rate_start: 0.0,
            rate_end: 0.0,
        });
    }
    for (i, &(at, rate)) in points.iter().enumerate() {
        let (end, rate_end) = match points.get(i + 1) {
            Some(&(next_at, next_rate)) => (
                next_at,
                if interpolate == Interpolate::Linear {
                    next_rate
                } else {
                    rate
                },
            ),
            None => (u64::MAX, rate),
        };
        out.push(RateSegment {
            start: at,
            end,
            rate_start: rate * PER_NS,
            rate_end: rate_end * PER_NS,
        });
    }
    out
}

// The file's enums become the topology's own, so that the engine never sees
// a serde type: a renamed spelling in the file format stays a spec concern.

fn kind(kind: model::ServiceKind) -> ServiceKind {
    match kind {
        model::ServiceKind::Service => ServiceKind::Service,
        model::ServiceKind::Queue => ServiceKind::Queue,
        model::ServiceKind::Database => ServiceKind::Database,
        model::ServiceKind::Cache => ServiceKind::Cache,
        model::ServiceKind::External => ServiceKind::External,
    }
}

fn policy(policy: model::LbPolicy) -> LbPolicy {
    match policy {
        model::LbPolicy::RoundRobin => LbPolicy::RoundRobin,
        model::LbPolicy::LeastOutstanding => LbPolicy::LeastOutstanding,
        model::LbPolicy::Random => LbPolicy::Random,
        model::LbPolicy::PowerOfTwoChoices => LbPolicy::PowerOfTwoChoices,
    }
}

fn jitter(jitter: model::Jitter) -> Jitter {
    match jitter {
        model::Jitter::None => Jitter::None,
        model::Jitter::Full => Jitter::Full,
        model::Jitter::Equal => Jitter::Equal,
        model::Jitter::Decorrelated => Jitter::Decorrelated,
    }
}

/// Adaptive LIFO's default switch-over, after "Fail at Scale".
const DEFAULT_LIFO_AFTER: u64 = 100_000_000;

fn queue_discipline(spec: &model::QueueDisciplineSpec) -> QueueDiscipline {
    QueueDiscipline {
        order: match spec.order {
            model::QueueOrderSpec::Fifo => QueueOrder::Fifo,
            model::QueueOrderSpec::Lifo => QueueOrder::Lifo,
            model::QueueOrderSpec::AdaptiveLifo => QueueOrder::AdaptiveLifo {
                after: spec.lifo_after.map_or(DEFAULT_LIFO_AFTER, |d| d.0),
            },
        },
        codel: spec.codel.as_ref().map(|c| Codel {
            target: c.target.0,
            interval: c.interval.0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::units::Duration;

    fn problems_of(json: &str) -> Vec<String> {
        let model: ModelSpec = serde_json::from_str(json).unwrap();
        match compile(&model) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        }
    }

    #[test]
    fn numbers_spec_rejects_are_problems_not_panics_or_allocations() {
        // No zone to place in, four billion instances and an autoscaler of
        // as many, an empty schedule: each a file-level problem, and
        // compiling the rest must neither panic nor try to place them.
        let problems = problems_of(
            r#"{"name": "m", "zones": [], "services": {
                "a": {"workers": 1, "instances": {"count": 4000000000},
                      "autoscaling": {"min": 1, "max": 4000000000, "target_utilisation": 0.5},
                      "endpoints": {"x": {"work": {"constant": "1ms"}}}},
                "b": {"workers": 1, "autoscaling": {"min": 1, "max": 3, "target_utilisation": 0.5},
                      "endpoints": {"y": {"work": {"constant": "1ms"}}}}},
              "workload": {"w": {"endpoint": "a.x", "schedule": []}}}"#,
        );
        for expected in [
            "zones: expected at least one zone",
            "services.a.instances: 4000000000 instances is more than",
            "services.a.autoscaling.max: too many instances",
            "workload.w.schedule: expected at least one point",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected} in {problems:#?}"
            );
        }
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }

    #[test]
    fn file_level_and_reference_problems_come_back_together() {
        let problems = problems_of(
            r#"{"name": "m", "zones": ["a"], "services": {
                "api": {"workers": 0, "endpoints": {"x": {"work": {"constant": "1ms"},
                    "calls": {"c": {"to": "db.qurey", "probability": 2}}}}},
                "db": {"workers": 1, "endpoints": {"query": {"work": {"constant": "1ms"}}}}},
              "workload": {"w": {"endpoint": "api.x", "rate": "1/s"}}}"#,
        );
        assert_eq!(
            problems,
            [
                "services.api.workers: expected a positive number of workers, found 0",
                "services.api.endpoints.x.calls.c.probability: expected a probability in (0, 1], found 2",
                "services.api.endpoints.x.calls.c.to: service `db` has no endpoint `qurey` (endpoints: query)",
            ]
        );
    }

    #[test]
    fn a_primary_naming_no_instance_is_a_problem_even_with_default_instances() {
        let problems = problems_of(
            r#"{"name": "m", "zones": ["a"], "services": {
                "db": {"kind": "database", "workers": 1,
                       "replication": {"primary": "db-a-2", "lag": "1s"},
                       "endpoints": {"q": {"work": {"constant": "1ms"}}}}},
              "workload": {"w": {"endpoint": "db.q", "rate": "1/s"}}}"#,
        );
        assert_eq!(
            problems,
            ["services.db.replication.primary: `db` has no instance `db-a-2` (instances: db-a-1)"]
        );
    }

    #[test]
    fn lognormal_fit_reproduces_mean_and_p99() {
        let w = work_time(&WorkSpec::Lognormal {
            mean: Duration(4_000_000),
            p99: Duration(20_000_000),
        });
        let WorkTime::Lognormal { mu, sigma } = w else {
            unreachable!()
        };
        let mean = (mu + sigma * sigma / 2.0).exp();
        let p99 = (mu + Z99 * sigma).exp();
        assert!((mean - 4e6).abs() < 1.0, "{mean}");
        assert!((p99 - 2e7).abs() < 10.0, "{p99}");
    }

    #[test]
    fn schedule_becomes_segments_with_zero_rate_before_first_point() {
        let s = segments(&[(10, 100.0), (20, 300.0)], Interpolate::Linear);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].start, s[0].end, s[0].rate_start), (0, 10, 0.0));
        assert!((s[1].rate_start * 1e9 - 100.0).abs() < 1e-9);
        assert!((s[1].rate_end * 1e9 - 300.0).abs() < 1e-9);
        assert_eq!(s[2].end, u64::MAX);
    }
}
