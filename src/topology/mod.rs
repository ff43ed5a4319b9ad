//! The compiled architecture: typed ids, flat arrays indexed by them, and the
//! service dependency graph. Built once from a model spec by `compile`, the
//! one pass that checks the model (spec's file-level checks, then every
//! reference resolved and the call graph's cycles) and returns the topology
//! or every problem; the engine only ever reads it.

mod compile;
mod cycles;
pub mod graph;

pub use compile::work_time;

use std::ops::Range;

/// What a service is: it sets defaults and how the service is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServiceKind {
    #[default]
    Service,
    Queue,
    Database,
    Cache,
    External,
}

/// Instance selection policy of a load balancer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LbPolicy {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// The fewest requests queued or in service.
    LeastOutstanding,
    /// Uniformly at random.
    Random,
    /// Two at random, the less loaded of the two.
    PowerOfTwoChoices,
}

/// Spreading of retry backoffs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the exponential backoff: callers retry in lockstep.
    #[default]
    None,
    /// Uniform between 0 and the backoff.
    Full,
    /// Half the backoff plus uniform up to the other half.
    Equal,
    /// Uniform between the initial backoff and three times the previous
    /// sleep, capped (AWS's "decorrelated jitter").
    Decorrelated,
}

/// What a caller does when a call has failed for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    Fail,
    Degrade,
    /// Hand the call to this queue service.
    Enqueue(ServiceId),
}

/// A queue's consumer (ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consumer {
    pub concurrency: u32,
    pub timeout: u64,
    pub timeout_lane: u32,
    pub retry_after: u64,
}

pub use crate::base::ids::*;

/// A part of the architecture that metrics rows and the analysis describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// An entry point, as its clients see it.
    Entry(u32),
    /// A service, all instances and endpoints together.
    Service(u32),
    /// One endpoint of a service, over all instances.
    Endpoint(u32),
    /// The pools of one (caller service, callee service), over all caller
    /// instances.
    Pool(u32),
    /// A group of connected closed-loop clients, as its clients see their
    /// connections (not judged by the cascade analysis).
    Clients(u32),
    /// One instance of a service, named as in `events.jsonl` (rows only
    /// with `run --per-instance`; the analysis does not judge them).
    Instance(u32),
}

/// What kind of part a component is, as `metrics.csv` and `analysis.json`
/// name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Entry,
    Service,
    Endpoint,
    Pool,
    Clients,
    Instance,
}

impl ComponentKind {
    pub fn name(self) -> &'static str {
        match self {
            ComponentKind::Entry => "entry",
            ComponentKind::Service => "service",
            ComponentKind::Endpoint => "endpoint",
            ComponentKind::Pool => "pool",
            ComponentKind::Clients => "clients",
            ComponentKind::Instance => "instance",
        }
    }
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Component {
    pub fn kind(self) -> ComponentKind {
        match self {
            Component::Entry(_) => ComponentKind::Entry,
            Component::Service(_) => ComponentKind::Service,
            Component::Endpoint(_) => ComponentKind::Endpoint,
            Component::Pool(_) => ComponentKind::Pool,
            Component::Clients(_) => ComponentKind::Clients,
            Component::Instance(_) => ComponentKind::Instance,
        }
    }
}

/// Concurrency of an instance that has no worker limit (`external` services).
pub const UNLIMITED_WORKERS: u32 = u32::MAX;

/// Queue length of an instance when the model does not say.
pub const DEFAULT_QUEUE: u32 = 128;

#[derive(Clone, Debug)]
pub struct Topology {
    pub name: String,
    pub zones: Vec<String>,
    pub services: Vec<Service>,
    pub instances: Vec<Instance>,
    pub endpoints: Vec<Endpoint>,
    pub calls: Vec<Call>,
    pub pool_groups: Vec<PoolGroup>,
    pub workloads: Vec<Workload>,
    /// Populations of connected clients; client `k` of a group is
    /// `group.first + k` in the engine.
    pub client_groups: Vec<ClientGroup>,
    /// Distinct call-timeout and acquire-timeout durations; timers of one
    /// duration are created in time order, so each gets a FIFO lane.
    pub timer_lanes: Vec<TimerLane>,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub kind: ServiceKind,
    pub workers: u32,
    pub queue: u32,
    pub policy: LbPolicy,
    /// Instances are contiguous in `Topology::instances`.
    pub instances: Range<u32>,
    pub endpoints: Range<u32>,
    pub health_check: Option<HealthCheck>,
    pub restart: Option<Restart>,
    /// How long a graceful stop drains (ns); `None`: it is abrupt.
    pub drain: Option<u64>,
    pub memory: Option<Memory>,
    /// Shed new work above this share of the memory limit.
    pub shed_above_memory: Option<f64>,
    /// Shed new work while more than this many requests are queued.
    pub shed_above_queue: Option<u32>,
    /// Admission control by token bucket.
    pub rate_limit: Option<RateLimit>,
    pub discipline: QueueDiscipline,
    /// Work slowing down with load, if declared.
    pub contention: Option<Contention>,
    pub replication: Option<Replication>,
    pub consumer: Option<Consumer>,
    pub autoscaling: Option<Autoscaling>,
    /// Instances present at the start; the rest of `instances` are spare
    /// slots an autoscaler may provision.
    pub initial_instances: u32,
}

/// Factors on work time by busy workers and memory share of an instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contention {
    pub busy: Curve,
    pub memory: Curve,
}

/// A piecewise-linear curve: (level, factor) points in increasing level,
/// flat beyond the ends; empty is 1 everywhere.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curve(pub Vec<(f64, f64)>);

impl Curve {
    pub fn at(&self, level: f64) -> f64 {
        let points = &self.0;
        let Some(&(first_at, first)) = points.first() else {
            return 1.0;
        };
        if level <= first_at {
            return first;
        }
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if level <= x1 {
                return y0 + (y1 - y0) * (level - x0) / (x1 - x0);
            }
        }
        points[points.len() - 1].1
    }
}

/// The order in which an instance's queued requests get a worker, and
/// whether those that waited too long are dropped (ns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDiscipline {
    pub order: QueueOrder,
    pub codel: Option<Codel>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueOrder {
    #[default]
    Fifo,
    Lifo,
    /// Oldest first until the queue has been non-empty for `after`.
    AdaptiveLifo {
        after: u64,
    },
}

/// Controlled delay: the longest wait while the queue stands (`target`) and
/// otherwise (`interval`, also how long non-empty makes it stand).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codel {
    pub target: u64,
    pub interval: u64,
}

/// An autoscaler (ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Autoscaling {
    pub min: u32,
    pub max: u32,
    pub target: f64,
    pub interval: u64,
    pub cooldown: u64,
    pub boot: u64,
}

/// Primary/replica replication of a database (ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Replication {
    /// The primary at the start.
    pub primary: u32,
    pub lag: u64,
    /// Lag shed per ns while catching up.
    pub catch_up: f64,
    /// Time a replica takes to apply one write (ns); `None`: at once.
    pub apply_interval: Option<u64>,
    /// Staleness (ns) above which a replica raises an alert.
    pub lag_alert: Option<u64>,
    pub failover: Option<Failover>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failover {
    pub detection: u64,
    pub promotion: u64,
    pub follow: bool,
    /// Replicas further behind (ns) when the primary was lost are not
    /// promoted.
    pub max_lag: Option<u64>,
}

/// Memory of each instance of a service, in bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    pub baseline: u64,
    pub limit: u64,
    pub per_request: u64,
    /// Shares of the limit that raise an alert, ascending.
    pub alerts: Vec<f64>,
    /// Share of the limit at which the process is restarted gracefully.
    pub restart_at: Option<f64>,
}

/// Active health checking by a service's load balancer (durations in ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthCheck {
    pub interval: u64,
    pub timeout: u64,
    pub unhealthy_after: u32,
    pub healthy_after: u32,
    /// Probes fail above this share of the memory limit.
    pub fail_above_memory: Option<f64>,
    /// The endpoint that answers probes; `None`: the process answering is
    /// enough.
    pub endpoint: Option<EndpointId>,
}

/// Restart of dead instances (ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart {
    pub delay: u64,
    pub boot: u64,
}

#[derive(Clone, Debug)]
pub struct Instance {
    /// `service-zone-k`, k counting from 1 within the zone.
    pub name: String,
    pub service: ServiceId,
    pub zone: ZoneId,
}

/// Work-time distribution of an endpoint, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WorkTime {
    Constant(u64),
    Exponential {
        mean: f64,
    },
    /// Parameters of the underlying normal.
    Lognormal {
        mu: f64,
        sigma: f64,
    },
    Uniform {
        min: u64,
        max: u64,
    },
}

impl WorkTime {
    pub fn mean_nanos(self) -> f64 {
        match self {
            WorkTime::Constant(v) => v as f64,
            WorkTime::Exponential { mean } => mean,
            WorkTime::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            WorkTime::Uniform { min, max } => (min as f64 + max as f64) / 2.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub service: ServiceId,
    pub name: String,
    /// `service.endpoint`.
    pub full_name: String,
    pub work: WorkTime,
    pub calls: Range<u32>,
    /// Reads of a replicated database go to replicas.
    pub read: bool,
    /// A cache's share of hits; `None` for endpoints that always answer.
    pub hit_ratio: Option<f64>,
    /// A cache's key space, whose hits are an outcome.
    pub keys: Option<Keys>,
    /// Its service declares `contention`: the engine asks for the factor
    /// only then, from the endpoint it already holds.
    pub contended: bool,
    /// Its service abandons work whose deadline passed, this long (ns)
    /// after it.
    pub abandon_after: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Call {
    pub name: String,
    pub from: EndpointId,
    pub to: EndpointId,
    pub to_service: ServiceId,
    pub timeout: Option<u64>,
    pub timeout_lane: Option<u32>,
    pub pool_group: Option<PoolGroupId>,
    pub probability: f64,
    pub retry: Option<RetryPolicy>,
    pub breaker: Option<BreakerPolicy>,
    pub throttling: Option<AdaptiveThrottling>,
    pub fallback: Fallback,
    /// Made only when the previous call missed.
    pub only_on_miss: bool,
    /// Its callee keeps keys: the call asks for one, and may be routed by it.
    pub keyed: bool,
    /// The callee's request carries the caller's deadline (and this call's
    /// timeout).
    pub propagate_deadline: bool,
}

/// A cache endpoint's keys: what each instance holds of them (ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Keys {
    pub count: u32,
    pub zipf: f64,
    /// Keys one instance holds before it evicts the least recently used.
    pub capacity: u32,
    /// How long a stored key stays fresh; `u64::MAX` for ever.
    pub ttl: u64,
    pub coalesce: bool,
    /// Each key lives on the instance of its rank `key % instances`.
    pub by_key: bool,
    /// Index of the endpoint's first store in the engine (one per instance).
    pub first: u32,
}

/// A token bucket in front of a service (ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Time to accrue one token (ns): a second over the rate.
    pub interval: u64,
    /// (burst − 1) × interval: how far ahead of the rate a burst may run.
    pub tolerance: u64,
    /// A bucket per instance; otherwise one for the service.
    pub per_instance: bool,
    /// Told to throttled callers: how long to wait before trying again.
    pub retry_after: u64,
    /// Index of the service's first bucket in the engine.
    pub first: u32,
}

/// The AWS SDKs' retry quota of a call site, per caller instance (tokens).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryQuota {
    pub capacity: u32,
    pub cost: u32,
    pub timeout_cost: u32,
    pub refund: u32,
    /// Index of the call site's first quota (one per caller instance).
    pub first: u32,
}

/// Retries of one call site (durations in ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff: u64,
    pub multiplier: f64,
    pub max_backoff: u64,
    pub jitter: Jitter,
    /// Bit `c` set: error class `c` is retried.
    pub on: u16,
    /// (ratio, minimum per second) of the retry budget.
    pub budget: Option<(f64, f64)>,
    /// Index of this call site's budget in the engine.
    pub budget_index: u32,
    pub quota: Option<RetryQuota>,
    /// A retry of a `throttled` call sleeps at least the callee's
    /// `retry_after`.
    pub honor_retry_after: bool,
}

/// Client-side adaptive throttling of a call site, per caller instance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveThrottling {
    pub k: f64,
    /// ns.
    pub window: u64,
    /// Index of the call site's first state (one per caller instance).
    pub first: u32,
}

/// A circuit breaker per caller instance of one call site (ns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerPolicy {
    pub failure_rate: f64,
    pub window: u32,
    /// A time-based window (ns) instead of the count.
    pub window_time: Option<u64>,
    pub min_calls: u32,
    pub slow_call: Option<u64>,
    pub open_for: u64,
    pub half_open_calls: u32,
    /// Judged by the failure share of the half-open calls (resilience4j)
    /// rather than opening on their first failure.
    pub half_open_by_rate: bool,
    /// Breaker of the caller's k-th instance is `first + k`.
    pub first: u32,
}

#[derive(Clone, Debug)]
pub struct PoolGroup {
    pub caller: ServiceId,
    pub callee: ServiceId,
    pub size: u32,
    pub acquire_timeout: Option<u64>,
    pub acquire_lane: Option<u32>,
    /// Runtime pool of the caller's k-th instance is `first_pool + k`.
    pub first_pool: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    CallTimeout,
    AcquireTimeout,
    /// A workload client's patience with its request.
    ClientTimeout,
    /// A queue consumer's patience with a delivery.
    ConsumerTimeout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerLane {
    pub kind: TimerKind,
    pub duration: u64,
}

/// One piece of a piecewise arrival rate, in events per nanosecond.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSegment {
    pub start: u64,
    /// `u64::MAX` for the last segment.
    pub end: u64,
    pub rate_start: f64,
    /// Equal to `rate_start` unless the segment ramps linearly.
    pub rate_end: f64,
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: String,
    pub endpoint: EndpointId,
    pub segments: Vec<RateSegment>,
    /// The client gives up after this long (ns).
    pub timeout: Option<u64>,
    pub timeout_lane: Option<u32>,
    /// Requests carry `timeout` as their deadline.
    pub propagate_deadline: bool,
}

#[derive(Clone, Debug)]
pub struct ClientGroup {
    pub name: String,
    pub count: u32,
    pub first: u32,
    pub connect: EndpointId,
    pub request: EndpointId,
    pub think: u64,
    /// Reconnect backoff, as a retry policy with unlimited attempts.
    pub reconnect: RetryPolicy,
}

impl Topology {
    /// Name and kind of a row's component, as written in the files.
    pub fn component_name(&self, component: Component) -> (String, ComponentKind) {
        let name = match component {
            Component::Entry(w) => self.workloads[w as usize].name.clone(),
            Component::Service(s) => self.services[s as usize].name.clone(),
            Component::Endpoint(e) => self.endpoints[e as usize].full_name.clone(),
            Component::Pool(g) => {
                let group = &self.pool_groups[g as usize];
                format!(
                    "{}->{}",
                    self.services[group.caller.index()].name,
                    self.services[group.callee.index()].name
                )
            }
            Component::Clients(g) => self.client_groups[g as usize].name.clone(),
            Component::Instance(i) => self.instances[i as usize].name.clone(),
        };
        (name, component.kind())
    }

    /// The one pass from a model to its topology: the file-level checks,
    /// every name resolved once, the call graph's cycles; the topology, or
    /// every problem found, each at its JSON path in the model. Never panics
    /// on an unchecked spec.
    pub fn compile(model: &crate::spec::ModelSpec) -> Result<Topology, Vec<crate::error::Problem>> {
        compile::compile(model)
    }

    /// A model file's text parsed and compiled, its problems reported in
    /// the file with line and column.
    pub fn from_source(source: &crate::spec::Source) -> crate::Result<Topology> {
        let model = crate::spec::parse_model(source)?;
        Topology::compile(&model).map_err(|problems| source.invalid(problems))
    }

    pub fn service_of_instance(&self, instance: InstanceId) -> &Service {
        &self.services[self.instances[instance.index()].service.index()]
    }

    /// Instances of the service that makes `call`: the number of states a
    /// per-caller-instance mechanism of the call site keeps.
    pub fn caller_instances(&self, call: &Call) -> usize {
        self.services[self.endpoints[call.from.index()].service.index()]
            .instances
            .len()
    }

    /// Circuit breakers at run time (one per caller instance per call site
    /// with a breaker).
    pub fn breaker_count(&self) -> usize {
        self.calls
            .iter()
            .filter(|c| c.breaker.is_some())
            .map(|c| self.caller_instances(c))
            .sum()
    }

    /// Rate-limit buckets: one per instance of a service limited per
    /// instance, one for a service limited as a whole.
    pub fn rate_limit_count(&self) -> usize {
        self.services
            .iter()
            .map(|s| match s.rate_limit {
                Some(limit) if limit.per_instance => s.instances.len(),
                Some(_) => 1,
                None => 0,
            })
            .sum()
    }

    /// Adaptive throttles: one per caller instance of each call site with
    /// one.
    pub fn throttle_count(&self) -> usize {
        self.calls
            .iter()
            .filter(|c| c.throttling.is_some())
            .map(|c| self.caller_instances(c))
            .sum()
    }

    /// Call sites with a retry budget.
    pub fn budget_count(&self) -> usize {
        self.calls
            .iter()
            .filter(|c| c.retry.is_some_and(|r| r.budget.is_some()))
            .count()
    }

    /// Runtime pool count (one per caller instance per pool group).
    pub fn pool_count(&self) -> usize {
        self.pool_groups
            .iter()
            .map(|g| self.services[g.caller.index()].instances.len())
            .sum()
    }
}

impl Service {
    /// The ids of its instances (contiguous, in order).
    pub fn instance_ids(&self) -> impl Iterator<Item = InstanceId> + Clone + use<> {
        self.instances.clone().map(InstanceId)
    }
}

#[cfg(test)]
mod curve_tests {
    use super::Curve;

    #[test]
    fn a_curve_is_flat_beyond_its_ends_and_straight_between_points() {
        let curve = Curve(vec![(0.5, 1.0), (0.75, 2.0), (1.0, 4.0)]);
        assert_eq!(curve.at(0.0), 1.0);
        assert_eq!(curve.at(0.5), 1.0);
        assert_eq!(curve.at(0.625), 1.5);
        assert_eq!(curve.at(0.875), 3.0);
        assert_eq!(curve.at(1.0), 4.0);
        assert_eq!(curve.at(2.0), 4.0);
        assert_eq!(Curve::default().at(0.7), 1.0);
    }
}
