//! The scenario file: one experiment over a model, its faults and the
//! variants of the model to compare. Hypotheses slot in here as a further
//! keyed collection.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::fault::{FaultKind, FaultSpec, KillMode, PartitionMode};
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
    /// Significant digits of latency and wait percentiles: 2 (within 1 %,
    /// the default), 3 (within 0.1 %, for bounds that sit close to a
    /// value, at 8× the memory per histogram) or 1 (within 7 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile_digits: Option<u8>,
    /// Failures injected on the virtual clock, keyed by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub faults: IndexMap<String, FaultSpec>,
    /// Steady-state checks, keyed by name: the run fails (exit 1) when one
    /// does not hold.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub hypothesis: IndexMap<String, CheckSpec>,
    /// Stop conditions, keyed by name, as AWS FIS has them: watched while
    /// the experiment runs (from the first fault's start until every fault
    /// is over), each evaluated at the end of every metrics window; the
    /// first that trips rolls every fault in force back at that instant and
    /// cancels those not started, and the run goes on to show the recovery.
    /// `run` then runs the experiment unguarded on the same seed to say what
    /// the guard spared.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub stop: IndexMap<String, GuardSpec>,
    /// Settings of the cascade analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
    /// Settings of `faultline compare`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareSpec>,
    /// Designs to compare, keyed by name: each an RFC 7396 JSON merge patch
    /// over the model (`null` removes a key), whose `faults` and
    /// `hypothesis` keys patch the scenario's instead. `baseline`, if
    /// present, is the reference the others are compared with; without it,
    /// the model as written is.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variants: IndexMap<String, serde_json::Map<String, serde_json::Value>>,
    /// What `faultline check` expects of each variant's hypotheses, keyed
    /// by variant name: `fail` for a design shown failing on purpose (the
    /// baseline a mitigation fixes). A variant not named is expected to
    /// pass; one expected to fail whose every hypothesis holds fails the
    /// check, since the story the scenario tells no longer happens.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub expect: IndexMap<String, Expectation>,
    /// Lint findings this experiment accepts, each with its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<super::model::LintSpec>,
}

/// What a variant's hypotheses are expected to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// Every hypothesis holds.
    Pass,
    /// Some hypothesis fails.
    Fail,
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
    /// Failed share of the requests that ended stays below this (for a
    /// workload, its requests never answered count as failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate_below: Option<Share>,
    /// Successful share of the requests that ended (and, for a workload,
    /// of those never answered) stays above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_above: Option<Share>,
    /// Latency percentiles stay below these: of all requests (each at the
    /// time it was answered, failed, or timed out) unless `latency_of`
    /// says `successes`.
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
    /// Relative to the steady state (the `before` phase: from the end of
    /// the warm-up to the first fault): the p99 latency may rise at most
    /// this share above the steady p99 (`"20%"`: at most 1.2 times it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_rise_at_most: Option<Share>,
    /// Relative to the steady state: the error rate may rise at most this
    /// many percentage points above the steady error rate (`"0.1%"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate_rise_at_most: Option<Share>,
    /// Relative to the steady state: successful requests per second stay
    /// at least this share of the steady throughput (`"90%"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_at_least: Option<Share>,
    /// Which requests the latency percentiles are of. Default `all`: a
    /// design that fails requests fast or lets them time out cannot pass
    /// a latency check on its few successes.
    #[serde(default, skip_serializing_if = "LatencyOf::is_all")]
    pub latency_of: LatencyOf,
    /// The probe is back inside its steady band, for good, within this long
    /// after the last fault ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_within: Option<Duration>,
}

/// A stop condition: a probe and thresholds, any of which trips it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    /// What is watched: a workload, an endpoint (`service.endpoint`) or a
    /// service, as a hypothesis names its probe.
    pub probe: String,
    /// Trips when the failed share of the requests that ended over the
    /// last `over` exceeds this (a workload counts its client timeouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate_above: Option<Share>,
    /// Trips when the p99 latency of all requests that ended over the last
    /// `over` (successes and failures, each when it ended) exceeds this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_above: Option<Duration>,
    /// Trips when more acknowledged writes than this have been lost in
    /// failovers since the run began (a replicated database probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes_above: Option<u64>,
    /// The span the error rate and p99 are taken over, ending at the
    /// window's end: a whole number of metrics windows, like an alarm's
    /// period. Default one window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<Duration>,
}

/// Which requests a latency percentile is of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LatencyOf {
    /// Every request that ended, each at the time it ended: answered,
    /// failed or timed out.
    #[default]
    All,
    /// Successful requests only.
    Successes,
}

impl LatencyOf {
    fn is_all(&self) -> bool {
        *self == LatencyOf::All
    }
}

/// Settings of the cascade analysis.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSpec {
    /// A run still outside its steady band this long after the last fault
    /// ended is called metastable: it does not heal on its own. Default 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metastable_after: Option<Duration>,
    /// The span of the `during` phase, instead of from the first fault's
    /// start to the last fault's end (`before` ends and `after` starts with
    /// it). `faultline search` writes it into the scenario of each set it
    /// found, so that the set is judged over the window it was searched in
    /// (an instant kill has a `during` then), as the search judged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<DuringSpec>,
}

/// A span of the run, `[from, to)`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DuringSpec {
    pub from: Duration,
    pub to: Duration,
}

/// Settings of `faultline compare`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// The smallest paired difference against the baseline that counts as
    /// a clear difference, per metric; a difference whose 95 % interval
    /// excludes zero but whose mean is smaller is "no clear difference".
    /// A metric left out keeps its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_effect: Option<MinimumEffectSpec>,
}

/// Minimum effects, each replacing its metric's default (given here).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinimumEffectSpec {
    /// Availability, in percentage points of requests served (`"0.5%"`).
    /// Default 0.1 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Share>,
    /// p99 latency of all requests, as a duration (`"20ms"`). Default 10 %
    /// of the baseline's mean p99, at least 1 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<Duration>,
    /// Acknowledged writes lost in failovers. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes: Option<u64>,
    /// Time to recover after the last fault (`"10s"`). Default 10 % of the
    /// baseline's mean, at least 5 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Duration>,
    /// Share of seeds whose hypotheses all held, in percentage points
    /// (`"20%"`). Default 10 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypothesis_pass_rate: Option<Share>,
    /// Time until every connected client was connected again after the
    /// first lost connection (`"5s"`). Default 10 % of the baseline's
    /// mean, at least 1 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<Duration>,
}
