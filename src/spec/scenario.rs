//! The scenario file: one experiment over a model, its faults and the
//! variants of the model to compare. Hypotheses slot in here as a further
//! keyed collection.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{Duration, Share};

/// Width of a metrics window when the scenario does not set one.
pub const DEFAULT_WINDOW_NS: u64 = 1_000_000_000;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Optional JSON Schema reference for editors; ignored by faultline.
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    /// Name of the experiment; the output goes to `output/<name>/`.
    pub name: String,
    /// One line on what the experiment asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Path of the model file, relative to this scenario file.
    pub model: String,
    /// Virtual time simulated.
    pub duration: Duration,
    /// Leading part of the run excluded from the summary while queues fill.
    #[serde(default)]
    pub warmup: Duration,
    /// Master seed of every random stream. `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// Width of a metrics window. Default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// Failures injected on the virtual clock, keyed by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub faults: IndexMap<String, FaultSpec>,
    /// Steady-state checks, keyed by name: the run fails (exit 1) when one
    /// does not hold.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub hypothesis: IndexMap<String, CheckSpec>,
    /// Settings of the cascade analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
    /// Designs to compare, keyed by name: each an RFC 7396 JSON merge patch
    /// over the model (`null` removes a key). `baseline`, if present, is the
    /// reference the others are compared with; without it, the model as
    /// written is.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variants: IndexMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// Part of the run a check looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// From the end of the warm-up to the first fault.
    Before,
    /// From the first fault's start to the last fault's end.
    During,
    /// From the last fault's end to the end of the run: the recovery.
    After,
    /// From the end of the warm-up to the end of the run.
    #[default]
    Whole,
}

/// One steady-state check: a probe, a phase and thresholds that must all
/// hold.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// What is measured: a workload (`checkout`), an endpoint
    /// (`gateway.checkout`; the workload's client view when a workload
    /// enters there), or a service (`orders-db`).
    pub probe: String,
    /// Part of the run measured. Default `whole`.
    #[serde(default)]
    pub phase: Phase,
    /// Failed share of finished requests stays below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate_below: Option<Share>,
    /// Successful share of finished requests stays above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_above: Option<Share>,
    /// Latency percentiles of successful requests stay below these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_below: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_below: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_below: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999_below: Option<Duration>,
    /// Requests waiting in the service's queues (all instances together)
    /// never exceed this (a service probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth_at_most: Option<u64>,
    /// Acknowledged writes lost in failovers (a replicated database probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes_at_most: Option<u64>,
    /// Work accepted by a queue and still not done when the run ends (a
    /// queue service probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_at_most: Option<u64>,
    /// The probe is back inside its steady band, for good, within this long
    /// after the last fault ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_within: Option<Duration>,
}

/// Settings of the cascade analysis.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSpec {
    /// A run still outside its steady band this long after the last fault
    /// ended is called metastable: it does not heal on its own. Default 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metastable_after: Option<Duration>,
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

fn one() -> f64 {
    1.0
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

/// A failure injected at a virtual time. `target` names a service, one
/// instance (`service-zone-k`), or for endpoint faults `service.endpoint`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultSpec {
    /// Kill instances: in-flight work on them fails; they come back only if
    /// the service has a restart policy.
    InstanceKill {
        target: String,
        /// With a service target: how many of its running instances, chosen
        /// at random (seeded). Default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        #[serde(default)]
        mode: KillMode,
        at: Duration,
    },
    /// Freeze instances (a long GC pause, a hung host) for the duration:
    /// they accept connections into their queues but answer nothing until
    /// they thaw.
    InstanceFreeze {
        target: String,
        /// With a service target: how many of its running instances, chosen
        /// at random (seeded). Default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        at: Duration,
        #[serde(rename = "for")]
        duration: Duration,
    },
    /// Every instance in the zone is unreachable (host down) for the
    /// duration, then boots again.
    ZoneOutage {
        zone: String,
        at: Duration,
        /// How long; until the end of the run when left out.
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
    /// Extra time added to the work of every request that starts on the
    /// target while the fault lasts (a slow database: "+1000ms").
    Latency {
        target: String,
        /// The added time, as a work-time distribution (`{"constant": "1s"}`).
        add: super::model::WorkSpec,
        /// Only on the network from this service to the target service: the
        /// requests arrive late, and the callee's workers are not held.
        /// Without it the target itself is slow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        at: Duration,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
    /// A share of the target's requests fail at once with `injected`.
    Errors {
        target: String,
        /// Share of requests that fail, in (0, 1].
        fraction: f64,
        at: Duration,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
    /// Calls between two sides (each a list of services and zones) are lost
    /// (`drop`: the caller waits for its timeout) or refused at once.
    NetworkPartition {
        between: [Vec<String>; 2],
        #[serde(default)]
        mode: PartitionMode,
        at: Duration,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
    /// Kills a random running instance of the target service now and then:
    /// at exponential intervals of the given mean, while the fault lasts.
    ChaosMonkey {
        target: String,
        mean_interval: Duration,
        #[serde(default)]
        mode: KillMode,
        at: Duration,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
    /// Memory of the target's instances grows at `rate` until the fault
    /// ends; a restarted process starts clean but leaks again while it lasts.
    MemoryLeak {
        target: String,
        /// Growth over time (`"10MiB/s"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<super::units::ByteRate>,
        /// Growth per request the instance completes (`"64KiB"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_request: Option<super::units::Size>,
        at: Duration,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
    /// A replica of a replicated database falls behind: its lag grows by
    /// `grow` seconds per second (1: replication paused) while the fault
    /// lasts, then it catches up.
    ReplicationLag {
        target: String,
        #[serde(default = "one")]
        grow: f64,
        at: Duration,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
    /// Work times on the target are multiplied by `factor`.
    CpuStress {
        target: String,
        factor: f64,
        at: Duration,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
    },
}

impl FaultSpec {
    pub fn at(&self) -> Duration {
        match self {
            FaultSpec::InstanceKill { at, .. }
            | FaultSpec::InstanceFreeze { at, .. }
            | FaultSpec::ZoneOutage { at, .. }
            | FaultSpec::Latency { at, .. }
            | FaultSpec::Errors { at, .. }
            | FaultSpec::CpuStress { at, .. }
            | FaultSpec::NetworkPartition { at, .. }
            | FaultSpec::MemoryLeak { at, .. }
            | FaultSpec::ReplicationLag { at, .. }
            | FaultSpec::ChaosMonkey { at, .. } => *at,
        }
    }

    /// How long the fault lasts; `None` for ever (or, for a kill, an
    /// instant).
    pub fn duration(&self) -> Option<Duration> {
        match self {
            FaultSpec::InstanceKill { .. } => None,
            FaultSpec::InstanceFreeze { duration, .. } => Some(*duration),
            FaultSpec::ZoneOutage { duration, .. }
            | FaultSpec::Latency { duration, .. }
            | FaultSpec::Errors { duration, .. }
            | FaultSpec::CpuStress { duration, .. }
            | FaultSpec::NetworkPartition { duration, .. }
            | FaultSpec::MemoryLeak { duration, .. }
            | FaultSpec::ReplicationLag { duration, .. }
            | FaultSpec::ChaosMonkey { duration, .. } => *duration,
        }
    }
}
