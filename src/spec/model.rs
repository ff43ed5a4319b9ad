//! The model file: the architecture under test, as the architect writes it.
//!
//! Collections are JSON objects keyed by name (not arrays) so that a variant's
//! merge patch can reach one element. Every struct denies unknown fields: a
//! misspelt knob is an error, never a silently ignored setting.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{Duration, Rate, Size};

/// An architecture: zones, services with their endpoints and calls, and the
/// workload that drives it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Optional JSON Schema reference for editors; ignored by faultline.
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    /// Name of the architecture, used in reports.
    pub name: String,
    /// One line on what this architecture is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Availability zones, in the order used to spread instances.
    pub zones: Vec<String>,
    /// Services keyed by name.
    pub services: IndexMap<String, ServiceSpec>,
    /// Entry points and their open-loop arrivals, keyed by name.
    pub workload: IndexMap<String, WorkloadSpec>,
    /// Closed-loop clients that hold a connection to one instance, keyed by
    /// name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub clients: IndexMap<String, ClientsSpec>,
    /// Lint findings this design accepts, each with its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<LintSpec>,
}

/// What `faultline lint` should not report about this file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LintSpec {
    /// Findings accepted on purpose, each with why.
    #[serde(default)]
    pub allow: Vec<AllowSpec>,
}

/// One accepted finding: a rule (its code, `L101`, or name,
/// `single-instance`), where (a JSON path and everything under it; the
/// whole file when absent), and why the design accepts it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The reason, in a sentence: a finding is allowed only with one.
    pub because: String,
}

/// A population of connected clients (mobile apps, websockets): each
/// connects through the load balancer, then sends requests to the instance
/// it is connected to, one at a time, a think time apart. When that instance
/// dies they all lose their connections and reconnect with backoff.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientsSpec {
    pub count: u32,
    /// The endpoint that opens a connection (`service.endpoint`).
    pub connect: String,
    /// The endpoint each request calls, on the same service.
    pub request: String,
    /// Mean time between a response and the next request (exponential).
    pub think: Duration,
    /// Backoff between attempts to reconnect.
    pub reconnect: ReconnectSpec,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectSpec {
    /// Wait before the first attempt.
    pub backoff: Duration,
    /// Growth per failed attempt. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Longest wait. Default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<Duration>,
    #[serde(default)]
    pub jitter: Jitter,
}

/// What a service is; it sets defaults and how the service is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// An application service.
    #[default]
    Service,
    /// A durable work queue whose consumer delivers enqueued calls.
    Queue,
    /// A database; its workers are its connection slots.
    Database,
    /// A cache.
    Cache,
    /// A third-party API outside the design: unlimited concurrency unless
    /// `workers` says otherwise, so only its latency matters.
    External,
}

/// A deployable with instances spread over zones.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default)]
    pub kind: ServiceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the instances run. Default: one instance in the first zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<InstancesSpec>,
    /// Concurrent requests one instance works on (threads, or connection
    /// slots for a database). Required except for `external` services, which
    /// default to unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// Requests one instance holds waiting for a worker; a request arriving
    /// at a full queue is rejected (`queue_full`). Default 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// How callers pick one of this service's instances.
    #[serde(default)]
    pub load_balancer: LoadBalancerSpec,
    /// A supervisor that restarts dead instances. Without it, a killed
    /// instance stays dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartSpec>,
    /// Cancellation of work in progress: when the deadline of the request
    /// an activation works for passes (a deadline passed down with
    /// `propagate_deadline`), its own work stops this long after — the
    /// time the code takes to notice its cancelled context and unwind — it
    /// ends with `timeout`, and its worker takes the next request. Without
    /// it, work runs to its end for nobody, and only the calls after it
    /// are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandon_expired_work: Option<Duration>,
    /// A graceful stop (a rolling restart, a restart before OOM) drains:
    /// the instance leaves its balancer at once and finishes what it holds
    /// for up to this long, stopping as soon as it holds nothing; what it
    /// still holds then is reset. Without it a graceful stop is abrupt: what
    /// the instance holds is reset, and its balancer learns it is gone only
    /// from health checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<Duration>,
    /// Memory of each instance: what a leak fills and an OOM kill ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySpec>,
    /// Turn new work away before the instance falls over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_shedding: Option<LoadSheddingSpec>,
    /// Admission control: a token bucket that answers requests beyond a
    /// rate `throttled` (HTTP 429) at once, before they take queue space or
    /// a worker, with a retry-after that callers' retries honour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// Work that takes longer as the instance gets busier or its memory
    /// fuller (lock contention, garbage collection): the curves multiply
    /// every work time started on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contention: Option<ContentionSpec>,
    /// In what order each instance's queued requests get a worker, and
    /// whether requests that waited too long are dropped (default: oldest
    /// first, none dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_discipline: Option<QueueDisciplineSpec>,
    /// Adds instances when busy and removes them when idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    /// For a queue: how its consumer drains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<ConsumerSpec>,
    /// For a database: one primary takes the writes, the other instances are
    /// replicas that serve reads and trail it by a replication lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationSpec>,
    /// Operations of the service, keyed by name.
    pub endpoints: IndexMap<String, EndpointSpec>,
}

/// Placement of a service's instances.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstancesSpec {
    /// This many instances in every zone of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_zone: Option<u32>,
    /// This many instances in total, spread round-robin over the zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Explicit instance counts keyed by zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<IndexMap<String, u32>>,
}

/// Instance selection policy of a load balancer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LbPolicy {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// The instance with the fewest requests queued or in service.
    LeastOutstanding,
    /// Uniformly at random.
    Random,
    /// Two instances at random, the less loaded of the two.
    PowerOfTwoChoices,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerSpec {
    #[serde(default)]
    pub policy: LbPolicy,
    /// Active health checking; without it the balancer routes to every
    /// instance, dead or alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckSpec>,
}

/// The balancer probes each instance and stops routing to it after
/// `unhealthy_after` failed probes in a row, and routes to it again after
/// `healthy_after` successes.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    /// Time between probes of one instance.
    pub interval: Duration,
    /// A probe with no answer by then has failed.
    pub timeout: Duration,
    /// Failed probes in a row that eject an instance. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_after: Option<u32>,
    /// Successful probes in a row that readmit it. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_after: Option<u32>,
    /// The probe fails while the instance's memory is above this share of its
    /// limit (a health check that sees trouble coming before the OOM kill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_above_memory: Option<f64>,
    /// An endpoint of this service that answers the probe, run on the
    /// probed instance like any request (it may call dependencies: a deep
    /// check). Without it, the probe only checks that the process answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Keeps the share of busy workers near a target by adding or removing
/// instances. The instances of `instances` are the starting fleet.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingSpec {
    pub min: u32,
    pub max: u32,
    /// Share of busy workers over the fleet the scaler aims at, e.g. 0.6.
    pub target_utilisation: f64,
    /// Time between decisions. Default 15s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time after a change before the next one. Default 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Duration>,
    /// Time a new instance takes to boot. Default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<Duration>,
}

/// The consumer of a queue: it takes items one by one and makes the call each
/// stands for; a failed item goes back on the queue.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    /// Items delivered at once.
    pub concurrency: u32,
    /// A delivery with no answer by then has failed (and may run twice: at
    /// least once, as real queues do).
    pub timeout: Duration,
    /// Time a failed item waits before it is delivered again. Default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Duration>,
}

/// Primary/replica replication of a database's instances.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationSpec {
    /// The primary at the start (an instance name). Default: the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// How far replicas trail the primary in normal operation. Default 0s.
    #[serde(default)]
    pub lag: Duration,
    /// How fast a lagging replica catches up once it replicates again, in
    /// seconds of lag per second. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<f64>,
    /// Writes a replica applies per second, one after another, each from
    /// when it arrives (`lag` after the primary acknowledged it). With it
    /// the lag is an outcome: a write load above this rate makes replicas
    /// fall behind, as a single-threaded apply does. Without it replicas
    /// apply whatever arrives at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_rate: Option<Rate>,
    /// A replica whose staleness (the age of the oldest write acknowledged
    /// but not yet applied on it) is above this at the end of a metrics
    /// window raises a `replica_lagging` event, and `replica_caught_up` once
    /// it is back below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_alert: Option<Duration>,
    /// Promotion of a replica when the primary dies. Without it, writes fail
    /// until the primary is back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverSpec>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// Time to notice the primary is gone.
    pub detection: Duration,
    /// Time to promote the replica with the least lag.
    pub promotion: Duration,
    /// How writers find the primary: `cluster_endpoint` follows the
    /// promotion; `fixed_address` keeps writing to the old primary.
    #[serde(default)]
    pub writers: Writers,
    /// Lag-aware promotion (Patroni's `maximum_lag_on_failover`): a
    /// replica that had received less than this close to the primary's
    /// last write when it was lost is not promoted; with none eligible the
    /// failover fails, and writes wait for the primary rather than lose
    /// what the replicas never had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Writers {
    #[default]
    ClusterEndpoint,
    FixedAddress,
}

/// What an endpoint of a replicated database does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Goes to the primary.
    #[default]
    Write,
    /// Goes to a replica (the primary if none is up); stale by its lag.
    Read,
}

/// Memory of one instance. Past `limit` the process is OOM-killed.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySpec {
    /// In use by an idle process.
    pub baseline: Size,
    /// The container's limit.
    pub limit: Size,
    /// Held by each request queued or in service. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request: Option<Size>,
    /// Shares of the limit at which an alert event fires, e.g. [0.75, 0.87].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<f64>,
    /// Restart before OOM: at this share of the limit the supervisor stops
    /// the process gracefully (draining, with the service's `drain`) and
    /// starts a new one, instead of letting the kernel kill it at the limit.
    /// Needs `restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_at: Option<f64>,
}

/// Graceful degradation: reject new work with `shed` instead of dying.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadSheddingSpec {
    /// Shed while memory is above this share of the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_above: Option<f64>,
    /// Shed while more than this many requests wait in the instance's queue
    /// (fail fast rather than serve stale work late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_above: Option<u32>,
}

/// A token bucket: `rate` tokens a second up to `burst`; a request takes one
/// or is answered `throttled`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Requests admitted per second, sustained (per instance or for the
    /// whole service, as `scope` says).
    pub rate: Rate,
    /// Requests admitted at once after a quiet spell: the bucket's size.
    /// Default: one second of `rate` (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// `instance` (default): each instance has its own bucket, as a local
    /// limiter in a sidecar does; `service`: one bucket for all of them, as
    /// a quota enforced at a gateway.
    #[serde(default)]
    pub scope: RateLimitScope,
    /// What a throttled answer tells the caller to wait before trying
    /// again; retries that honour it sleep at least this long. Default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitScope {
    #[default]
    Instance,
    Service,
}

/// How work time grows with load on an instance: each curve maps a level
/// at the instant the work starts — busy workers (this one included), or
/// memory as a share of its limit — to a factor on the work time, straight
/// lines between its points and flat beyond them. Both curves multiply.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentionSpec {
    /// Factor by busy workers on the instance, e.g.
    /// [{"at": 180, "factor": 1}, {"at": 200, "factor": 2}]: beyond 180
    /// requests at once they contend for cores and locks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy: Vec<CurvePointSpec>,
    /// Factor by memory share of the limit (the service needs `memory`),
    /// e.g. garbage collection taking over as the heap fills.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory: Vec<CurvePointSpec>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CurvePointSpec {
    /// Busy workers, or a memory share from 0 to 1.
    pub at: f64,
    /// What work times are multiplied by there (positive).
    pub factor: f64,
}

/// The queue discipline of a service's instances.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueDisciplineSpec {
    /// `fifo` (default): the oldest request first. `lifo`: the newest
    /// first, so that under overload the requests served are those whose
    /// callers still wait. `adaptive_lifo`: oldest first until the queue
    /// has been non-empty for `lifo_after`, newest first from then on.
    #[serde(default)]
    pub order: QueueOrderSpec,
    /// With `adaptive_lifo`: how long the queue stays non-empty before the
    /// newest go first. Default 100ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifo_after: Option<Duration>,
    /// Controlled delay: a request about to get a worker is dropped (`shed`)
    /// when it waited longer than `target` while the queue has been
    /// non-empty for `interval`, or longer than `interval` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codel: Option<CodelSpec>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrderSpec {
    #[default]
    Fifo,
    Lifo,
    AdaptiveLifo,
}

/// Controlled delay (CoDel) on an instance queue, as in "Fail at Scale"
/// (Maurer, 2015).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodelSpec {
    /// The longest wait allowed while the queue is standing (e.g. 5ms).
    pub target: Duration,
    /// How long the queue must have been non-empty to count as standing,
    /// and the longest wait allowed otherwise (e.g. 100ms).
    pub interval: Duration,
}

/// Restart of dead instances by a supervisor.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    /// Time from the death to the start of the new process.
    pub delay: Duration,
    /// Time the new process takes to boot; it refuses connections until
    /// then. Default 0s.
    #[serde(default)]
    pub boot: Duration,
}

/// An operation of a service: its own work, then its calls, in order.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Time a worker spends on this operation's own work, before its calls.
    pub work: WorkSpec,
    /// Calls made after the work, in the order written, each waiting for the
    /// previous one; keyed by a name for the call.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub calls: IndexMap<String, CallSpec>,
    /// For a replicated database: `write` (to the primary, the default) or
    /// `read` (to a replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// For a cache: the share of requests answered with a hit. The others are
    /// misses, and a caller's calls marked `"when": "miss"` then run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_ratio: Option<f64>,
    /// For a cache: the keys it holds, so that hits are an outcome rather
    /// than a given share. Each call draws a key by popularity; the cache
    /// answers a hit when its instance holds the key, and the caller's
    /// `"when": "miss"` call that succeeds stores it (cache-aside). Instead
    /// of `hit_ratio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeysSpec>,
}

/// A cache's key space and what each instance keeps of it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysSpec {
    /// Distinct keys callers ask for (at most 10,000,000).
    pub count: u32,
    /// Zipf exponent of their popularity: the key of rank r is asked for
    /// in proportion to 1 / r^zipf. 0 is uniform; web caches measure 0.6
    /// to 1.0. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipf: Option<f64>,
    /// Keys one instance holds; storing one more evicts the least recently
    /// used. Default: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// A stored key expires this long after it was stored. Default: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
    /// Request coalescing (single flight): a miss on a key whose read is
    /// already under way waits for that read to store it, instead of
    /// reading the backend again. What keeps a cold cache from becoming a
    /// stampede.
    #[serde(default)]
    pub coalesce: bool,
    /// `key` (default): each key lives on one instance, the key modulo the
    /// instances (a sharded cache: memcached, Redis Cluster), and goes to
    /// whichever instance the balancer picks while that one is down, cold;
    /// `balancer`: the balancer picks as for any service, each instance
    /// keeping its own copies (caches beside each replica).
    #[serde(default)]
    pub routing: KeyRouting,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyRouting {
    #[default]
    Key,
    Balancer,
}

/// When a call is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallWhen {
    #[default]
    Always,
    /// Only if the call before it missed: a cache miss, or a failed call
    /// whose fallback degraded (a cache that is down misses every time).
    Miss,
}

/// A distribution of work time.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkSpec {
    /// Always this long.
    Constant(Duration),
    /// Exponentially distributed with this mean (memoryless, as in M/M/c).
    Exponential { mean: Duration },
    /// Log-normal, fitted to a mean and a 99th percentile (p99 must exceed the
    /// mean and be at most ~15 times it).
    Lognormal { mean: Duration, p99: Duration },
    /// Uniform between two bounds.
    Uniform { min: Duration, max: Duration },
}

/// A call to another endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The endpoint called, as `service.endpoint`.
    pub to: String,
    /// Time the caller waits for the response before failing the call with
    /// `timeout`. The callee keeps working on it. Default: wait forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Connection pool from each caller instance to the callee service. Calls
    /// from one service to one callee share the pool, so they must agree on it.
    /// Default: unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolSpec>,
    /// Fraction of requests that make this call (e.g. 0.2 for a cache miss
    /// ratio of 20 %). Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Retry a failed attempt, after a backoff. Retries are new load on the
    /// callee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// A circuit breaker per caller instance: after too many failures it
    /// fails calls at once (`circuit_open`) instead of sending them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<BreakerSpec>,
    /// Client-side adaptive throttling, as the Google SRE book describes
    /// it: each caller instance rejects calls itself, as `throttled`,
    /// with a probability that grows as the callee accepts less than it
    /// is sent, so a rejecting backend is not sent work only to reject it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_throttling: Option<AdaptiveThrottlingSpec>,
    /// What the caller does when the call has failed for good.
    #[serde(default)]
    pub fallback: Fallback,
    /// `miss`: only when the previous call missed (the read behind a cache).
    #[serde(default)]
    pub when: CallWhen,
    /// Pass the request's deadline on, as gRPC does: the callee's request
    /// expires at the earlier of the caller's deadline and this call's
    /// timeout; expired, it is dropped before it gets a worker, and its
    /// own calls give up at it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagate_deadline: bool,
}

/// Over the last `window`, a caller instance counts the attempts it made
/// (`requests`, its own rejections included) and those the callee
/// accepted (answered, successfully or with an error of its own); it then
/// rejects an attempt with probability max(0, (requests − k × accepts) /
/// (requests + 1)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveThrottlingSpec {
    /// Requests allowed per accept before the client rejects any. Default
    /// 2 (the book's); 1.1 rejects sooner, more aggressively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<f64>,
    /// Default 2m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The caller's request fails too.
    #[default]
    Fail,
    /// The caller carries on without the answer and its request succeeds,
    /// counted as `degraded` (a page without recommendations).
    Degrade,
    /// The caller hands the work to a queue service (`{"enqueue": "q"}`)
    /// and carries on: the user gets an accepted response, and the queue's
    /// consumer delivers the call later.
    Enqueue(String),
}

/// Spreading of retry backoffs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly the exponential backoff: every caller retries in lockstep.
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in all, the first included (3: one try and two retries).
    pub max_attempts: u32,
    /// Backoff before the first retry. Default 0s: retry at once.
    #[serde(default)]
    pub backoff: Duration,
    /// Growth of the backoff per retry. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Longest backoff. Default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<Duration>,
    #[serde(default)]
    pub jitter: Jitter,
    /// Error classes worth retrying. Default: every class but
    /// `pool_exhausted` and `circuit_open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<String>>,
    /// Caps retries to a share of recent traffic, so retries cannot multiply
    /// the load of a failing callee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<RetryBudgetSpec>,
    /// A retry quota per caller instance, as the AWS SDKs' standard retry
    /// mode keeps: a retry spends tokens, a success refunds them, and with
    /// the bucket empty failures are not retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<RetryQuotaSpec>,
    /// Whether a retry of a `throttled` call waits at least the callee's
    /// `retry_after`. Default true; false models a client that ignores the
    /// header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_retry_after: Option<bool>,
}

/// The AWS SDKs' retry quota (standard mode): a bucket of `capacity`
/// tokens, full at the start; a retry costs `cost` (`timeout_cost` after a
/// timeout); a call that succeeds gives back what its last retry cost, or
/// `refund` if it needed none, up to the capacity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryQuotaSpec {
    /// Default 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u32>,
    /// Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_cost: Option<u32>,
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<u32>,
}

/// A retry budget over the last 10 seconds of a call site: retries may not
/// exceed `ratio` × first attempts + `min_per_s` × 10.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBudgetSpec {
    /// Retries allowed per first attempt, e.g. 0.2.
    pub ratio: f64,
    /// Retries per second always allowed. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_per_s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Share of failed calls in the window that opens the breaker, in (0, 1].
    pub failure_rate: f64,
    /// Calls the window holds (count-based sliding window). Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    /// A time-based sliding window instead: the calls of the last this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_time: Option<Duration>,
    /// Calls the window must hold before the rate is judged. Default: the
    /// window size (20 with a time window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_calls: Option<u32>,
    /// A call at least this slow counts as failed, answered or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_call: Option<Duration>,
    /// Time the breaker stays open before letting probes through.
    pub open_for: Duration,
    /// Calls let through while half-open. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_calls: Option<u32>,
    /// How the half-open calls are judged: `all_succeed` (default): the
    /// first failure opens it again, and it closes once every one has
    /// succeeded; `failure_rate` (resilience4j's rule): once all have
    /// answered, it opens again if their failure share reaches
    /// `failure_rate`, and closes otherwise.
    #[serde(default)]
    pub half_open_rule: HalfOpenRuleSpec,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HalfOpenRuleSpec {
    #[default]
    AllSucceed,
    FailureRate,
}

/// A connection pool per (caller instance, callee service).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Connections per caller instance.
    pub size: u32,
    /// Time a call waits for a free connection before failing with
    /// `pool_exhausted`. Default: wait forever ("0s": fail at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_timeout: Option<Duration>,
}

/// An entry point with open-loop Poisson arrivals.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// The entry endpoint, as `service.endpoint`.
    pub endpoint: String,
    /// A constant arrival rate. Give either `rate` or `schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// A piecewise rate: each point sets the rate from its time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<RatePoint>>,
    /// Between schedule points: `step` holds each rate until the next point,
    /// `linear` ramps to it.
    #[serde(default)]
    pub interpolate: Interpolate,
    /// The client gives up on a request after this long and counts a
    /// `timeout`; the request itself runs on in the system. Default: the
    /// client waits for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Send the client's timeout with each request as its deadline (needs
    /// `timeout`): the entry's work expires when the client gives up.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagate_deadline: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatePoint {
    /// Virtual time from the start of the run.
    pub at: Duration,
    pub rate: Rate,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interpolate {
    #[default]
    Step,
    Linear,
}
