//! `run.json`: what was run (tool version, input hashes, seed) and what came
//! of it (event count, trace digest, summary per entry). No wall-clock
//! figures: the file is a pure function of the inputs.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analysis::hypothesis::Verdict;
use crate::base::ErrorClass;
use crate::observe::metrics::Outcomes;
use crate::plan::{Plan, RunConfig};
use crate::sim::RunSummary;
use crate::sim::broker::QueueTotals;
use crate::spec::Source;

#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub tool: Tool,
    pub scenario: Input,
    pub model: Input,
    /// What the scenario asks, in its own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub variant: String,
    pub seed: u64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub window_s: f64,
    pub engine: EngineFigures,
    /// Per entry endpoint, over the run after the warm-up.
    pub entries: indexmap::IndexMap<String, EntrySummary>,
    /// Per queue, over the whole run.
    #[serde(skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub queues: indexmap::IndexMap<String, QueueSummary>,
    /// Per replicated database, over the whole run.
    #[serde(skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub databases: indexmap::IndexMap<String, DatabaseSummary>,
    /// The scenario's hypotheses, each with the values measured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hypothesis: Vec<Verdict>,
    pub files: Vec<&'static str>,
}

/// What went through a queue over the run (the engine's `QueueTotals`,
/// written out).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct QueueSummary {
    pub enqueued: u64,
    pub delivered: u64,
    pub redelivered: u64,
    /// Accepted work still queued or being delivered at the end: never done.
    pub pending_at_end: u64,
}

impl From<QueueTotals> for QueueSummary {
    fn from(totals: QueueTotals) -> Self {
        QueueSummary {
            enqueued: totals.enqueued,
            delivered: totals.delivered,
            redelivered: totals.redelivered,
            pending_at_end: totals.pending_at_end,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Clone, Debug, Serialize)]
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

#[derive(Clone, Debug, Serialize)]
pub struct EngineFigures {
    pub events: u64,
    pub trace_digest: String,
    pub state_changes: u64,
    pub peak_requests_in_flight: u64,
    pub requests_in_flight_at_end: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct EntrySummary {
    pub endpoint: String,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_class: indexmap::IndexMap<&'static str, u64>,
    /// Successes that went without some call's answer (a fallback).
    pub degraded: u64,
    pub availability: f64,
    pub throughput_per_s: f64,
    pub latency_ms: LatencyMs,
}

#[derive(Clone, Debug, Serialize)]
pub struct DatabaseSummary {
    /// Writes the primary acknowledged that the promoted replica never had.
    pub lost_writes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn input<T: Serialize>(name: &str, source: &Source, parsed: &T) -> Input {
    let canonical = serde_json::to_vec(parsed).expect("specs serialise");
    Input {
        name: name.to_string(),
        file: source.path.display().to_string(),
        sha256: sha256_hex(&canonical),
        file_sha256: sha256_hex(source.text.as_bytes()),
    }
}

/// Rounds to a fixed number of decimals so the file reads well and stays
/// byte-stable.
pub(crate) fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

pub fn entry_summary(endpoint: &str, outcomes: &Outcomes, measured_ns: u64) -> EntrySummary {
    let errors = outcomes.error_count();
    let finished = outcomes.ok + errors;
    let l = outcomes.latency_summary();
    let ms = |ns: f64| round(ns / 1e6, 3);
    EntrySummary {
        endpoint: endpoint.to_string(),
        requests: outcomes.arrivals,
        ok: outcomes.ok,
        errors,
        errors_by_class: ErrorClass::ALL
            .iter()
            .map(|c| (c.name(), outcomes.errors[*c as usize]))
            .collect(),
        degraded: outcomes.degraded,
        availability: if finished == 0 {
            1.0
        } else {
            round(outcomes.ok as f64 / finished as f64, 6)
        },
        throughput_per_s: round(outcomes.ok as f64 / (measured_ns as f64 / 1e9), 3),
        latency_ms: LatencyMs {
            mean: ms(l.mean),
            p50: ms(l.p50 as f64),
            p90: ms(l.p90 as f64),
            p99: ms(l.p99 as f64),
            p999: ms(l.p999 as f64),
            max: ms(l.max as f64),
        },
    }
}

impl Manifest {
    pub fn new(
        plan: &Plan,
        config: RunConfig,
        summary: &RunSummary,
        hypothesis: Vec<Verdict>,
    ) -> Manifest {
        let (experiment, topology) = (&plan.experiment, &plan.topology);
        let measured = config.duration - config.warmup;
        Manifest {
            tool: Tool {
                name: "faultline",
                version: env!("CARGO_PKG_VERSION"),
            },
            scenario: input(
                &experiment.scenario.name,
                &experiment.scenario_source,
                &experiment.scenario,
            ),
            model: input(
                &experiment.model.name,
                &experiment.model_source,
                &experiment.model,
            ),
            description: experiment.scenario.description.clone(),
            variant: experiment.variant.clone(),
            seed: config.seed,
            duration_s: config.duration as f64 / 1e9,
            warmup_s: config.warmup as f64 / 1e9,
            window_s: config.window as f64 / 1e9,
            engine: EngineFigures {
                events: summary.events,
                trace_digest: summary.trace_digest.clone(),
                state_changes: summary.state_changes,
                peak_requests_in_flight: summary.peak_activations,
                requests_in_flight_at_end: summary.in_flight_at_end,
            },
            entries: topology
                .workloads
                .iter()
                .zip(&summary.entries)
                .map(|(w, outcomes)| {
                    let endpoint = &topology.endpoints[w.endpoint.index()].full_name;
                    (w.name.clone(), entry_summary(endpoint, outcomes, measured))
                })
                .collect(),
            queues: topology
                .services
                .iter()
                .zip(&summary.queues)
                .filter(|(s, _)| s.consumer.is_some())
                .map(|(s, q)| (s.name.clone(), QueueSummary::from(*q)))
                .collect(),
            databases: topology
                .services
                .iter()
                .zip(&summary.lost_writes)
                .filter(|(s, _)| s.replication.is_some())
                .map(|(s, lost)| (s.name.clone(), DatabaseSummary { lost_writes: *lost }))
                .collect(),
            hypothesis,
            files: ["run.json", "metrics.csv", "events.jsonl", "analysis.json"]
                .into_iter()
                .chain(crate::report::RUN_REPORT_FILES)
                .collect(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serialises");
        text.push('\n');
        text
    }
}
