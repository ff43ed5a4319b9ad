//! A fault of the scenario file: its `kind`, then the fields of that kind.
//!
//! The file spells a fault as one object tagged by `kind`. serde reads such
//! an internally tagged enum by buffering the object first, which loses the
//! path of a problem inside it (`faults.e: invalid type`, not
//! `faults.e.fraction`). So a fault is read in two steps: the kind, then
//! the body of that kind with its own path, which `super::deserialize`
//! joins to the path outside (see `nested_error`).

use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use super::model::WorkSpec;
use super::units::{ByteRate, Duration, Size};
use crate::error::JsonPath;

/// A failure injected at a virtual time. `target` names a service, one
/// instance (`service-zone-k`), or for endpoint faults `service.endpoint`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultSpec {
    /// Kill instances: in-flight work on them fails; they come back only if
    /// the service has a restart policy.
    InstanceKill(InstanceKill),
    /// Freeze instances (a long GC pause, a hung host) for the duration:
    /// they accept connections into their queues but answer nothing until
    /// they thaw.
    InstanceFreeze(InstanceFreeze),
    /// Every instance in the zone is unreachable (host down) for the
    /// duration, then boots again.
    ZoneOutage(ZoneOutage),
    /// Extra time added to the work of every request that starts on the
    /// target while the fault lasts (a slow database: "+1000ms").
    Latency(Latency),
    /// A share of the target's requests fail at once with `injected`.
    Errors(Errors),
    /// Calls between two sides (each a list of services and zones) are lost
    /// (`drop`: the caller waits for its timeout) or refused at once.
    NetworkPartition(NetworkPartition),
    /// Kills a random running instance of the target service now and then:
    /// at exponential intervals of the given mean, while the fault lasts.
    ChaosMonkey(ChaosMonkey),
    /// Memory of the target's instances grows at `rate` until the fault
    /// ends; a restarted process starts clean but leaks again while it lasts.
    MemoryLeak(MemoryLeak),
    /// A replica of a replicated database falls behind: its lag grows by
    /// `grow` seconds per second (1: replication paused) while the fault
    /// lasts, then it catches up.
    ReplicationLag(ReplicationLag),
    /// Work times on the target are multiplied by `factor`.
    CpuStress(CpuStress),
    /// Every key a cache with keys holds is dropped at once (a flush, a
    /// deploy that empties it): lookups miss until the reads behind them
    /// store the keys again. The target is the cache service or one of its
    /// instances.
    CacheFlush(CacheFlush),
    /// Restarts a service's instances a `batch` at a time, as a deploy
    /// does: each is stopped gracefully (drained, with the service's
    /// `drain`; abruptly without it) and a new process boots; the next batch
    /// starts `pause` after the last one is ready and, with health checks,
    /// readmitted. An instant fault, like a kill: what follows is the
    /// service's own doing.
    RollingRestart(RollingRestart),
    /// The target service's load balancer fails for the duration: calls
    /// and connections through it are lost (`drop`: callers wait for their
    /// timeouts) or refused, while its instances are fine; its health
    /// checks pause. Calls routed by key to a cache's shard, as a sharding
    /// client does, do not pass through it.
    LoadBalancerOutage(LoadBalancerOutage),
}

/// What a fault does, spelled as the scenario's `kind` and as
/// `analysis.json` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    InstanceKill,
    InstanceFreeze,
    ZoneOutage,
    Latency,
    Errors,
    CpuStress,
    NetworkPartition,
    MemoryLeak,
    ReplicationLag,
    ChaosMonkey,
    CacheFlush,
    RollingRestart,
    LoadBalancerOutage,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceKill {
    pub target: String,
    /// With a service target: how many of its running instances, chosen
    /// at random (seeded). Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default)]
    pub mode: KillMode,
    pub at: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceFreeze {
    pub target: String,
    /// With a service target: how many of its running instances, chosen
    /// at random (seeded). Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    pub at: Duration,
    #[serde(rename = "for")]
    pub duration: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneOutage {
    pub zone: String,
    pub at: Duration,
    /// How long; until the end of the run when left out.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub target: String,
    /// The added time, as a work-time distribution (`{"constant": "1s"}`).
    pub add: WorkSpec,
    /// Only on the network from this service to the target service: the
    /// requests arrive late, and the callee's workers are not held.
    /// Without it the target itself is slow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Errors {
    pub target: String,
    /// Share of requests that fail, in (0, 1].
    pub fraction: f64,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpuStress {
    pub target: String,
    pub factor: f64,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkPartition {
    pub between: [Vec<String>; 2],
    #[serde(default)]
    pub mode: PartitionMode,
    /// The share of calls across it that are dropped or refused, each on
    /// its own (a lossy link rather than a cut one). Default 1: every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryLeak {
    pub target: String,
    /// Growth over time (`"10MiB/s"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<ByteRate>,
    /// Growth per request the instance completes (`"64KiB"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_request: Option<Size>,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationLag {
    pub target: String,
    #[serde(default = "one")]
    pub grow: f64,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerOutage {
    pub target: String,
    #[serde(default)]
    pub mode: PartitionMode,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollingRestart {
    pub target: String,
    /// Instances restarted at once. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// Wait after a batch is back before the next starts. Default 0s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Duration>,
    pub at: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheFlush {
    pub target: String,
    pub at: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChaosMonkey {
    pub target: String,
    pub mean_interval: Duration,
    #[serde(default)]
    pub mode: KillMode,
    pub at: Duration,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

fn one() -> f64 {
    1.0
}

/// How a killed instance looks to its callers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KillMode {
    /// The process died and the host answers: connections are refused at
    /// once (fail fast).
    #[default]
    Crash,
    /// The host is gone: nothing accepts or answers, so callers wait for
    /// their timeouts.
    HostDown,
}

/// What a partition does to the calls that cross it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartitionMode {
    /// Packets vanish: the caller waits for its timeout (for ever without
    /// one).
    #[default]
    Drop,
    /// Connections are refused at once (fail fast).
    Refuse,
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut body = serde_json::Map::deserialize(deserializer)?;
        let kind = body
            .remove("kind")
            .ok_or_else(|| de::Error::missing_field("kind"))?;
        let kind: FaultKind = serde_path_to_error::deserialize(kind)
            .map_err(|e| super::nested_error(JsonPath::root().key("kind"), e.inner()))?;
        fn part<T: DeserializeOwned, E: de::Error>(
            body: serde_json::Map<String, serde_json::Value>,
        ) -> Result<T, E> {
            serde_path_to_error::deserialize(serde_json::Value::Object(body))
                .map_err(|e| super::nested_error(super::convert_path(e.path()), e.inner()))
        }
        Ok(match kind {
            FaultKind::InstanceKill => FaultSpec::InstanceKill(part(body)?),
            FaultKind::InstanceFreeze => FaultSpec::InstanceFreeze(part(body)?),
            FaultKind::ZoneOutage => FaultSpec::ZoneOutage(part(body)?),
            FaultKind::Latency => FaultSpec::Latency(part(body)?),
            FaultKind::Errors => FaultSpec::Errors(part(body)?),
            FaultKind::CpuStress => FaultSpec::CpuStress(part(body)?),
            FaultKind::NetworkPartition => FaultSpec::NetworkPartition(part(body)?),
            FaultKind::MemoryLeak => FaultSpec::MemoryLeak(part(body)?),
            FaultKind::ReplicationLag => FaultSpec::ReplicationLag(part(body)?),
            FaultKind::ChaosMonkey => FaultSpec::ChaosMonkey(part(body)?),
            FaultKind::CacheFlush => FaultSpec::CacheFlush(part(body)?),
            FaultKind::RollingRestart => FaultSpec::RollingRestart(part(body)?),
            FaultKind::LoadBalancerOutage => FaultSpec::LoadBalancerOutage(part(body)?),
        })
    }
}

impl FaultSpec {
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultSpec::InstanceKill(_) => FaultKind::InstanceKill,
            FaultSpec::InstanceFreeze(_) => FaultKind::InstanceFreeze,
            FaultSpec::ZoneOutage(_) => FaultKind::ZoneOutage,
            FaultSpec::Latency(_) => FaultKind::Latency,
            FaultSpec::Errors(_) => FaultKind::Errors,
            FaultSpec::CpuStress(_) => FaultKind::CpuStress,
            FaultSpec::NetworkPartition(_) => FaultKind::NetworkPartition,
            FaultSpec::MemoryLeak(_) => FaultKind::MemoryLeak,
            FaultSpec::ReplicationLag(_) => FaultKind::ReplicationLag,
            FaultSpec::ChaosMonkey(_) => FaultKind::ChaosMonkey,
            FaultSpec::CacheFlush(_) => FaultKind::CacheFlush,
            FaultSpec::RollingRestart(_) => FaultKind::RollingRestart,
            FaultSpec::LoadBalancerOutage(_) => FaultKind::LoadBalancerOutage,
        }
    }

    pub fn at(&self) -> Duration {
        match self {
            FaultSpec::InstanceKill(f) => f.at,
            FaultSpec::InstanceFreeze(f) => f.at,
            FaultSpec::ZoneOutage(f) => f.at,
            FaultSpec::Latency(f) => f.at,
            FaultSpec::Errors(f) => f.at,
            FaultSpec::CpuStress(f) => f.at,
            FaultSpec::NetworkPartition(f) => f.at,
            FaultSpec::MemoryLeak(f) => f.at,
            FaultSpec::ReplicationLag(f) => f.at,
            FaultSpec::ChaosMonkey(f) => f.at,
            FaultSpec::CacheFlush(f) => f.at,
            FaultSpec::RollingRestart(f) => f.at,
            FaultSpec::LoadBalancerOutage(f) => f.at,
        }
    }

    /// How long the fault lasts; `None` for ever (or, for a kill, an
    /// instant).
    pub fn duration(&self) -> Option<Duration> {
        match self {
            FaultSpec::InstanceKill(_)
            | FaultSpec::CacheFlush(_)
            | FaultSpec::RollingRestart(_) => None,
            FaultSpec::InstanceFreeze(f) => Some(f.duration),
            FaultSpec::ZoneOutage(f) => f.duration,
            FaultSpec::Latency(f) => f.duration,
            FaultSpec::Errors(f) => f.duration,
            FaultSpec::CpuStress(f) => f.duration,
            FaultSpec::NetworkPartition(f) => f.duration,
            FaultSpec::MemoryLeak(f) => f.duration,
            FaultSpec::ReplicationLag(f) => f.duration,
            FaultSpec::ChaosMonkey(f) => f.duration,
            FaultSpec::LoadBalancerOutage(f) => f.duration,
        }
    }
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InstanceKill => "instance_kill",
            FaultKind::InstanceFreeze => "instance_freeze",
            FaultKind::ZoneOutage => "zone_outage",
            FaultKind::Latency => "latency",
            FaultKind::Errors => "errors",
            FaultKind::CpuStress => "cpu_stress",
            FaultKind::NetworkPartition => "network_partition",
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::ReplicationLag => "replication_lag",
            FaultKind::ChaosMonkey => "chaos_monkey",
            FaultKind::CacheFlush => "cache_flush",
            FaultKind::RollingRestart => "rolling_restart",
            FaultKind::LoadBalancerOutage => "load_balancer_outage",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}
