//! Spec → topology. The spec has been validated, so references resolve.

use indexmap::IndexMap;

use super::*;
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

/// Compiles a validated model. Ids are positions in the model's maps, in the
/// order written, so a component's id depends on the file alone. Timer lanes
/// are numbered in order of first use, so the steps below run in a fixed
/// order: service by service its calls' lanes (each call's timeout before its
/// pool's), then its consumer's; the workloads' last.
pub(super) fn compile(model: &ModelSpec) -> Topology {
    let mut builder = Builder::new(model);
    for (s, (name, service)) in model.services.iter().enumerate() {
        builder.service(ServiceId(s as u32), name, service);
    }
    let Builder {
        endpoint_index,
        services,
        instances,
        endpoints,
        mut calls,
        mut timer_lanes,
        pool_groups,
        ..
    } = builder;
    share_pools(&mut calls, &endpoints, &pool_groups);
    number_breakers_and_budgets(&mut calls, &endpoints, &services);
    let pool_groups = number_pools(pool_groups, &services);
    // Only now, so that their timeout lanes come after every service's.
    let workloads = workloads(model, &endpoint_index, &mut timer_lanes);
    let client_groups = client_groups(model, &endpoint_index);
    Topology {
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
    }
}

/// The topology's arrays as they fill, one service at a time in the model's
/// order, which is what keeps a service's instances, endpoints and calls
/// contiguous.
struct Builder<'m> {
    model: &'m ModelSpec,
    service_index: IndexMap<&'m str, u32>,
    endpoint_index: IndexMap<String, u32>,
    services: Vec<Service>,
    instances: Vec<Instance>,
    endpoints: Vec<Endpoint>,
    calls: Vec<Call>,
    timer_lanes: Vec<TimerLane>,
    /// (caller, callee) → pool group, in order of first appearance.
    pool_groups: IndexMap<(u32, u32), PoolGroup>,
}

impl<'m> Builder<'m> {
    fn new(model: &'m ModelSpec) -> Self {
        let service_index = model
            .services
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i as u32))
            .collect();
        // Every endpoint is numbered before any call is compiled: a call may
        // name an endpoint of a service further down the file.
        let mut endpoint_index = IndexMap::new();
        for (service_name, service) in &model.services {
            for endpoint_name in service.endpoints.keys() {
                let next = endpoint_index.len() as u32;
                endpoint_index.insert(format!("{service_name}.{endpoint_name}"), next);
            }
        }
        Builder {
            model,
            service_index,
            endpoint_index,
            services: Vec::new(),
            instances: Vec::new(),
            endpoints: Vec::new(),
            calls: Vec::new(),
            timer_lanes: Vec::new(),
            pool_groups: IndexMap::new(),
        }
    }

    /// A service with its instances, endpoints and calls, and its settings:
    /// health check, restart, memory, shedding, autoscaling, consumer,
    /// replication. The consumer's lane is taken after the calls'.
    fn service(&mut self, id: ServiceId, name: &str, spec: &model::ServiceSpec) {
        let first_instance = self.instances.len() as u32;
        let initial_instances = self.place_instances(id, name, spec);
        let first_endpoint = self.endpoints.len() as u32;
        for (endpoint_name, endpoint) in &spec.endpoints {
            self.endpoint(id, name, endpoint_name, endpoint);
        }
        let own_instances = &self.instances[first_instance as usize..];
        let service = Service {
            name: name.to_owned(),
            kind: kind(spec.kind),
            workers: spec.workers.unwrap_or(UNLIMITED_WORKERS),
            queue: spec.queue.unwrap_or(DEFAULT_QUEUE),
            policy: policy(spec.load_balancer.policy),
            instances: first_instance..self.instances.len() as u32,
            endpoints: first_endpoint..self.endpoints.len() as u32,
            health_check: spec
                .load_balancer
                .health_check
                .as_ref()
                .map(|hc| health_check(hc, name, &self.endpoint_index)),
            restart: spec.restart.as_ref().map(|r| Restart {
                delay: r.delay.0,
                boot: r.boot.0,
            }),
            memory: spec.memory.as_ref().map(memory),
            shed_above_memory: spec.load_shedding.as_ref().and_then(|l| l.memory_above),
            shed_above_queue: spec.load_shedding.as_ref().and_then(|l| l.queue_above),
            initial_instances,
            autoscaling: spec.autoscaling.as_ref().map(autoscaling),
            consumer: spec
                .consumer
                .as_ref()
                .map(|c| consumer(c, &mut self.timer_lanes)),
            replication: spec
                .replication
                .as_ref()
                .map(|r| replication(r, own_instances, first_instance)),
        };
        self.services.push(service);
    }

    /// Places a service's instances zone by zone, then appends spare slots
    /// up to its autoscaler's maximum, so that scaling out never moves an
    /// id. Returns how many run at the start.
    fn place_instances(
        &mut self,
        service: ServiceId,
        name: &str,
        spec: &model::ServiceSpec,
    ) -> u32 {
        let zones = &self.model.zones;
        let placed = model::placement(name, spec.instances.as_ref(), zones);
        let initial = placed.len() as u32;
        let mut per_zone = vec![0u32; zones.len()];
        for (instance_name, z) in placed {
            per_zone[z as usize] += 1;
            self.instances.push(Instance {
                name: instance_name,
                service,
                zone: ZoneId(z),
            });
        }
        // Spread over the zones in turn, numbered on from the placed ones
        // so that names stay unique.
        let spare = spec
            .autoscaling
            .as_ref()
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
        initial
    }

    fn endpoint(
        &mut self,
        service: ServiceId,
        service_name: &str,
        name: &str,
        spec: &model::EndpointSpec,
    ) {
        let id = EndpointId(self.endpoints.len() as u32);
        let first_call = self.calls.len() as u32;
        for (call_name, call) in &spec.calls {
            self.call(id, service, call_name, call);
        }
        self.endpoints.push(Endpoint {
            service,
            name: name.to_owned(),
            full_name: format!("{service_name}.{name}"),
            work: work_time(&spec.work),
            calls: first_call..self.calls.len() as u32,
            hit_ratio: spec.hit_ratio,
            read: spec.access == Some(model::Access::Read),
        });
    }

    /// A call with its retry policy, breaker and fallback, and the pool it
    /// declares; its timeout lane is taken before the pool's acquire lane.
    fn call(&mut self, from: EndpointId, caller: ServiceId, name: &str, spec: &model::CallSpec) {
        let callee = ServiceId(self.service_index[spec.to.split_once('.').unwrap().0]);
        let timeout_lane = spec
            .timeout
            .map(|t| lane(&mut self.timer_lanes, TimerKind::CallTimeout, t.0));
        let fallback = match &spec.fallback {
            model::Fallback::Fail => Fallback::Fail,
            model::Fallback::Degrade => Fallback::Degrade,
            model::Fallback::Enqueue(q) => {
                Fallback::Enqueue(ServiceId(self.service_index[q.as_str()]))
            }
        };
        self.calls.push(Call {
            name: name.to_owned(),
            from,
            to: EndpointId(self.endpoint_index[&spec.to]),
            to_service: callee,
            timeout: spec.timeout.map(|t| t.0),
            timeout_lane,
            // Set by `share_pools` once every call is known: the pool may be
            // declared by a call further down.
            pool_group: None,
            probability: spec.probability.unwrap_or(1.0),
            retry: spec.retry.as_ref().map(retry_policy),
            breaker: spec.circuit_breaker.as_ref().map(breaker_policy),
            fallback,
            only_on_miss: spec.when == model::CallWhen::Miss,
        });
        if let Some(pool) = &spec.pool {
            self.declare_pool(caller, callee, pool);
        }
    }

    /// One pool per (caller, callee) pair: the first call to declare it sets
    /// its size and acquire timeout, later declarations are ignored.
    fn declare_pool(&mut self, caller: ServiceId, callee: ServiceId, pool: &model::PoolSpec) {
        let lanes = &mut self.timer_lanes;
        self.pool_groups
            .entry((caller.0, callee.0))
            .or_insert_with(|| {
                let acquire_timeout = pool.acquire_timeout.map(|t| t.0);
                PoolGroup {
                    caller,
                    callee,
                    size: pool.size,
                    acquire_timeout,
                    // "0s" fails at once without a timer, so it needs no lane.
                    acquire_lane: acquire_timeout
                        .filter(|t| *t > 0)
                        .map(|t| lane(lanes, TimerKind::AcquireTimeout, t)),
                    // Set by `number_pools` once every group is known.
                    first_pool: 0,
                }
            });
    }
}

/// Defaults are resolved here, once, so that the engine reads plain values.
/// `budget_index` is set by `number_breakers_and_budgets`.
fn retry_policy(r: &model::RetrySpec) -> RetryPolicy {
    RetryPolicy {
        max_attempts: r.max_attempts,
        backoff: r.backoff.0,
        multiplier: r.multiplier.unwrap_or(2.0),
        max_backoff: r.max_backoff.map_or(30_000_000_000, |d| d.0),
        jitter: jitter(r.jitter),
        on: retry_mask(r.on.as_deref()),
        budget: r
            .budget
            .as_ref()
            .map(|b| (b.ratio, b.min_per_s.unwrap_or(1.0))),
        budget_index: 0,
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
        first: 0,
    }
}

/// A health check may probe one of the service's own endpoints, named
/// without the service.
fn health_check(
    hc: &model::HealthCheckSpec,
    service_name: &str,
    endpoint_index: &IndexMap<String, u32>,
) -> HealthCheck {
    HealthCheck {
        interval: hc.interval.0,
        timeout: hc.timeout.0,
        unhealthy_after: hc.unhealthy_after.unwrap_or(2),
        healthy_after: hc.healthy_after.unwrap_or(2),
        fail_above_memory: hc.fail_above_memory,
        endpoint: hc
            .endpoint
            .as_ref()
            .map(|e| EndpointId(endpoint_index[&format!("{service_name}.{e}")])),
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

/// `own_instances` are the service's, from id `first_instance`. Without a
/// named primary (or with a name that is not one of them) the first is.
fn replication(
    r: &model::ReplicationSpec,
    own_instances: &[Instance],
    first_instance: u32,
) -> Replication {
    Replication {
        primary: r
            .primary
            .as_ref()
            .and_then(|p| own_instances.iter().position(|i| &i.name == p))
            .map_or(first_instance, |k| first_instance + k as u32),
        lag: r.lag.0,
        catch_up: r.catch_up.unwrap_or(2.0),
        failover: r.failover.as_ref().map(|f| Failover {
            detection: f.detection.0,
            promotion: f.promotion.0,
            follow: f.writers == model::Writers::ClusterEndpoint,
        }),
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
    for call in calls {
        let caller = endpoints[call.from.index()].service.index();
        if let Some(breaker) = &mut call.breaker {
            breaker.first = first_breaker;
            first_breaker += services[caller].instances.len() as u32;
        }
        if let Some(retry) = &mut call.retry
            && retry.budget.is_some()
        {
            retry.budget_index = budgets;
            budgets += 1;
        }
    }
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

fn workloads(
    model: &ModelSpec,
    endpoint_index: &IndexMap<String, u32>,
    timer_lanes: &mut Vec<TimerLane>,
) -> Vec<Workload> {
    model
        .workload
        .iter()
        .map(|(name, spec)| Workload {
            name: name.clone(),
            endpoint: EndpointId(endpoint_index[&spec.endpoint]),
            segments: segments(&rate_points(spec), spec.interpolate),
            timeout: spec.timeout.map(|t| t.0),
            timeout_lane: spec
                .timeout
                .map(|t| lane(timer_lanes, TimerKind::ClientTimeout, t.0)),
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

/// Clients of all groups are numbered one after another: the engine keeps
/// them in one array.
fn client_groups(model: &ModelSpec, endpoint_index: &IndexMap<String, u32>) -> Vec<ClientGroup> {
    let mut first_client = 0;
    model
        .clients
        .iter()
        .map(|(name, spec)| {
            let group = ClientGroup {
                name: name.clone(),
                count: spec.count,
                first: first_client,
                connect: EndpointId(endpoint_index[&spec.connect]),
                request: EndpointId(endpoint_index[&spec.request]),
                think: spec.think.0,
                reconnect: reconnect_policy(&spec.reconnect),
            };
            first_client += spec.count;
            group
        })
        .collect()
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
    }
}

/// The error classes a retry policy retries, as a bit set.
fn retry_mask(on: Option<&[String]>) -> u16 {
    use crate::base::ErrorClass;
    match on {
        Some(names) => names
            .iter()
            .filter_map(|n| ErrorClass::from_name(n))
            .fold(0, |mask, c| mask | 1 << c as u16),
        None => ErrorClass::ALL
            .iter()
            .filter(|c| !matches!(c, ErrorClass::PoolExhausted | ErrorClass::CircuitOpen))
            .fold(0, |mask, c| mask | 1 << *c as u16),
    }
}

/// Piecewise segments from rate points (per second) sorted by time. Before
/// the first point the rate is zero; after the last it holds.
fn segments(points: &[(u64, f64)], interpolate: Interpolate) -> Vec<RateSegment> {
    const PER_NS: f64 = 1e-9;
    let mut out = Vec::new();
    if points[0].0 > 0 {
        out.push(RateSegment {
            start: 0,
            end: points[0].0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::units::Duration;

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
