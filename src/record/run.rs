//! `run.json`: what was run (tool version, input hashes, seed) and what came
//! of it (event count, trace digest, summary per entry). No wall-clock
//! figures: the file is a pure function of the inputs.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::Tool;
use crate::analysis::hypothesis::Verdict;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: Tool,
    pub scenario: Input,
    pub model: Input,
    /// What the scenario asks, in its own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub variant: String,
    /// The what-if settings the run was made with (`run --set`), as given;
    /// replay applies them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
    pub seed: u64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub window_s: f64,
    /// Significant digits of every percentile in the run's files (the
    /// scenario's `percentile_digits`): 2 places a value within 1 %, 3
    /// within 0.1 %. Runs made before it was recorded used 2.
    #[serde(default = "two_digits")]
    pub percentile_digits: u8,
    /// Whether `metrics.csv` has a row per instance per window (`run
    /// --per-instance`); `replay` runs with the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_instance: bool,
    pub engine: EngineFigures,
    /// Per entry endpoint, over the run after the warm-up.
    pub entries: IndexMap<String, EntrySummary>,
    /// Per service, its queueing over the metrics windows after the warm-up
    /// (absent from runs made before it was recorded).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, ServiceSummary>,
    /// Per queue, over the whole run.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub queues: IndexMap<String, QueueSummary>,
    /// Per replicated database, over the whole run.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub databases: IndexMap<String, DatabaseSummary>,
    /// Per cache endpoint with keys (`service.endpoint`): its lookups
    /// after the warm-up.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub caches: IndexMap<String, CacheSummary>,
    /// Per group of connected clients, over the whole run.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub clients: IndexMap<String, ClientSummary>,
    /// Per service whose instances have a memory limit: the limit and the
    /// alert levels, which the saturation chart draws.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub memory: IndexMap<String, MemoryLimit>,
    /// The scenario's hypotheses, each with the values measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hypothesis: Vec<Verdict>,
    /// The scenario's stop guards: what each saw, the one that stopped the
    /// experiment, and what stopping it spared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopSummary>,
    pub files: Vec<String>,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        super::to_json(self)
    }
}

/// A group of connected clients over the whole run (warm-up included:
/// connections are lost when instances die, whenever that is).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct ClientSummary {
    pub clients: u32,
    pub connected_at_end: u32,
    /// Fewest connected at once after the first lost connection (all of
    /// them when none was lost).
    pub fewest_connected: u32,
    /// Connect attempts, first connections included.
    pub connect_attempts: u64,
    /// Connect attempts of clients that had been connected before: what
    /// lost connections set off, failed attempts included.
    pub reconnect_attempts: u64,
    pub connections_lost: u64,
    /// When the first connection was lost (s); absent when none was.
    pub first_lost_s: Option<f64>,
    /// When every client was connected again after the last lost
    /// connection (s); absent when none was lost, or when some were still
    /// not connected at the end.
    pub all_reconnected_s: Option<f64>,
    /// Whether every client that lost its connection had one again by the
    /// end (true when none was lost).
    pub all_reconnected: bool,
    /// From the first lost connection to `all_reconnected_s`; when not all
    /// reconnected, to the end of the run: a lower bound (the true time is
    /// longer, perhaps never). Absent when no connection was lost.
    pub time_to_reconnect_s: Option<f64>,
}

/// What went through a queue over the run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct QueueSummary {
    pub enqueued: u64,
    pub delivered: u64,
    pub redelivered: u64,
    /// Accepted work still queued or being delivered at the end: never done.
    pub pending_at_end: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Input {
    pub name: String,
    /// The path as the run was given it, which is where `replay` looks:
    /// relative to the working directory of the run (a scenario's model,
    /// through the scenario's directory); `(built-in) <path>` for a file
    /// built into the binary.
    pub file: String,
    /// SHA-256 of the file as parsed and re-serialised (canonical: formatting
    /// and comments do not change it, any setting does).
    pub sha256: String,
    /// SHA-256 of the file's bytes, to detect any edit.
    pub file_sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineFigures {
    pub events: u64,
    pub trace_digest: String,
    pub state_changes: u64,
    pub peak_requests_in_flight: u64,
    pub requests_in_flight_at_end: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntrySummary {
    pub endpoint: String,
    /// Requests that arrived after the warm-up, each counted once: `ok`,
    /// `errors`, `unanswered` or `in_flight`.
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Still waiting for an answer when the run ended, for longer than any
    /// request of the entry that succeeded (with no timeout to end their
    /// wait): failures, as a user who never hears back sees them.
    pub unanswered: u64,
    /// Still in flight when the run ended, younger than that: they may yet
    /// succeed, so no figure below judges them.
    pub in_flight: u64,
    /// By error class name, every class present, in the engine's order.
    pub errors_by_class: IndexMap<String, u64>,
    /// Successes that went without some call's answer (a fallback).
    pub degraded: u64,
    /// `ok / (ok + errors + unanswered)`: the requests not in flight.
    pub availability: f64,
    pub throughput_per_s: f64,
    /// Latency of the successful requests.
    pub latency_ms: LatencyMs,
    /// Latency of all requests: successes, failures at the time they
    /// failed, and unanswered requests at their age when the run ended (so,
    /// with any unanswered, a lower bound).
    pub latency_all_ms: LatencyMs,
}

/// What queueing theory asks of a service (its instances' queues and
/// workers together), over the metrics windows after the warm-up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// Requests that got a worker: those the figures of waits describe.
    /// Requests that never got one (rejected, evicted with a killed
    /// instance, still queued at the end) are not among them.
    pub started: u64,
    /// Share of them that waited in a queue at all (P(wait > 0)).
    pub waited_share: f64,
    /// Their waits for a worker, zeros included: the mean exact,
    /// percentiles to `percentile_digits`.
    pub wait_ms: LatencyMs,
    /// Requests queued or holding a worker: the time-average (L in Little's
    /// law) and the most at once.
    pub in_system_mean: f64,
    pub in_system_max: u64,
}

/// An instance's memory limit and the shares of it that raise an alert.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemoryLimit {
    pub limit_mib: f64,
    pub alerts: Vec<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatabaseSummary {
    /// Writes the primary acknowledged that the promoted replica never had.
    pub lost_writes: u64,
    /// Writes acknowledged by an instance that was no longer the primary —
    /// a deposed primary back up, written to by writers that kept its
    /// address (`writers: fixed_address`): split brain; they are discarded
    /// when it rejoins as a replica.
    pub divergent_writes: u64,
    /// Reads answered; of them, those a replica answered without a write
    /// the primary had acknowledged before (stale), and their share
    /// (`null` without reads).
    #[serde(default)]
    pub reads: u64,
    #[serde(default)]
    pub stale_reads: u64,
    #[serde(default)]
    pub stale_read_share: Option<f64>,
    /// Lag alerts raised (`replication.lag_alert`), and the largest replica
    /// staleness seen at a metrics window's end (s).
    #[serde(default)]
    pub lag_alerts: u64,
    #[serde(default)]
    pub max_lag_s: f64,
}

/// A cache endpoint with keys: what its lookups found, after the warm-up
/// (evictions, expiries and flushed keys over the whole run).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CacheSummary {
    pub lookups: u64,
    pub hits: u64,
    /// Lookups that did not find their key fresh, coalesced ones included.
    pub misses: u64,
    /// Of the misses, those that waited for another caller's read of the
    /// same key instead of reading the backend.
    pub coalesced: u64,
    /// hits / lookups; `null` without lookups.
    pub hit_ratio: Option<f64>,
    pub evicted: u64,
    pub expired: u64,
    pub flushed: u64,
}

fn two_digits() -> u8 {
    2
}

/// Percentiles to the run's `percentile_digits` (the top of a histogram
/// bucket: within 1 % at the default 2); the mean and the maximum exact. Values past an hour count as an hour.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// The stop guards of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StopSummary {
    pub guards: Vec<GuardSummary>,
    /// The guard that stopped the experiment; absent when none tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tripped: Option<TripSummary>,
    /// This run against the same experiment unguarded, on the same seed
    /// (paired random streams: the two are the same run until the trip).
    /// Absent when no guard tripped (the unguarded run is this one), and in
    /// the runs a comparison judges in memory, which read no damage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damage: Option<Damage>,
}

/// One guard's watch. Figures are in each check's unit: a share for
/// `error_rate_above`, seconds for `p99_above`, writes for
/// `lost_writes_above`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GuardSummary {
    pub name: String,
    pub probe: String,
    /// The span its error rate and p99 are taken over.
    pub over_s: f64,
    pub limits: Vec<LimitSummary>,
    /// Window ends it was evaluated at: while the experiment ran.
    pub evaluated_windows: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watched_from_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watched_to_s: Option<f64>,
    pub tripped: bool,
}

/// A guard's bound and the highest figure it saw at an evaluation (up to
/// and including the trip).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LimitSummary {
    pub check: String,
    pub bound: f64,
    pub worst: f64,
}

/// The instant a guard stopped the experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TripSummary {
    pub guard: String,
    pub check: String,
    /// The window's end at which the figure was past its bound: the faults
    /// were rolled back at that instant.
    pub at_s: f64,
    pub value: f64,
    pub bound: f64,
    /// Faults in force that were ended then (a rolling restart halted
    /// before its next batch among them).
    pub rolled_back: Vec<String>,
    /// Faults scheduled later that never started.
    pub cancelled: Vec<String>,
}

/// The damage of the guarded run (this one) and of the unguarded one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Damage {
    pub guarded: RunDamage,
    pub unguarded: RunDamage,
}

/// What a run cost its users, over the measured run (after the warm-up),
/// every workload together.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunDamage {
    pub requests: u64,
    /// Requests that failed or were never answered.
    pub failed: u64,
    pub availability: f64,
    /// Acknowledged writes lost in failovers, every database together.
    pub lost_writes: u64,
    pub recovered: bool,
    pub metastable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_recover_s: Option<f64>,
}

impl LimitSummary {
    /// A figure of this check in words, in its unit.
    pub fn show(&self, value: f64) -> String {
        match self.check.as_str() {
            "error_rate_above" => format!("{:.3} %", value * 100.0),
            "p99_above" => format!("{:.1} ms", value * 1e3),
            _ => format!("{value}"),
        }
    }

    /// What it watches, in words: "error rate over 5 s above 5.000 %".
    fn condition(&self, over_s: f64) -> String {
        let bound = self.show(self.bound);
        match self.check.as_str() {
            "error_rate_above" => format!("error rate over {over_s} s above {bound}"),
            "p99_above" => format!("p99 of all requests over {over_s} s above {bound}"),
            _ => format!("lost writes above {bound}"),
        }
    }
}

impl StopSummary {
    /// The guards in words, a line each (the run summary's and the
    /// report's): which tripped and when, what it spared against the same
    /// experiment unguarded, and how near the others came.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(trip) = &self.tripped {
            let guard = self.guards.iter().find(|g| g.name == trip.guard);
            let limit = guard.and_then(|g| g.limits.iter().find(|l| l.check == trip.check));
            let (condition, value) = match (guard, limit) {
                (Some(g), Some(l)) => (l.condition(g.over_s), l.show(trip.value)),
                _ => (trip.check.clone(), trip.value.to_string()),
            };
            let list = |names: &[String]| {
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            };
            lines.push(format!(
                "TRIPPED {} ({}: {condition}) at {} s, measuring {value}: faults rolled back then: {}; never started: {}",
                trip.guard,
                guard.map_or("?", |g| g.probe.as_str()),
                trip.at_s,
                list(&trip.rolled_back),
                list(&trip.cancelled),
            ));
        }
        if let Some(d) = &self.damage {
            let (g, u) = (&d.guarded, &d.unguarded);
            let spared = u.failed as i64 - g.failed as i64;
            let ending = |r: &RunDamage| {
                if r.metastable {
                    "metastable".to_string()
                } else if let Some(t) = r.time_to_recover_s {
                    format!("recovered {t} s after the faults")
                } else if r.recovered {
                    "recovered".to_string()
                } else {
                    "not recovered".to_string()
                }
            };
            lines.push(format!(
                "  guarded vs the same experiment unguarded (same seed): failed requests {} vs {} ({} {}), availability {:.3} % vs {:.3} %, lost writes {} vs {}; {} vs {}",
                g.failed,
                u.failed,
                if spared >= 0 { "spared" } else { "added" },
                spared.abs(),
                g.availability * 100.0,
                u.availability * 100.0,
                g.lost_writes,
                u.lost_writes,
                ending(g),
                ending(u),
            ));
        }
        for guard in self.guards.iter().filter(|g| !g.tripped) {
            if guard.evaluated_windows == 0 {
                lines.push(format!(
                    "never watched {}: no fault was in force at any window's end (an instant fault, such as a kill, has nothing to roll back)",
                    guard.name
                ));
                continue;
            }
            let worst = guard
                .limits
                .iter()
                .map(|l| {
                    format!(
                        "{}: worst {} against {}",
                        l.check,
                        l.show(l.worst),
                        l.show(l.bound)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let after = if self.tripped.is_some() {
                " (until the trip)"
            } else {
                ""
            };
            lines.push(format!(
                "held {} ({}), watched {}–{} s at {} window ends{after}: {worst}{}",
                guard.name,
                guard.probe,
                guard.watched_from_s.unwrap_or(0.0),
                guard.watched_to_s.unwrap_or(0.0),
                guard.evaluated_windows,
                if self.tripped.is_none() {
                    "; it would never have tripped: the experiment ran to its end"
                } else {
                    ""
                }
            ));
        }
        lines
    }
}
