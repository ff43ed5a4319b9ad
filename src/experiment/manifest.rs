//! Fills `run.json` ([`Manifest`], defined in `record` so the report can
//! read it back) from a finished run: input hashes, the engine's figures,
//! the summary per entry, the verdicts.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analysis::hypothesis::Verdict;
use crate::base::ErrorClass;
use crate::observe::metrics::{LatencySummary, Outcomes, ServiceQueueing};
use crate::plan::{Plan, RunConfig};
use crate::record::Tool;
use crate::record::round;
pub use crate::record::run::Manifest;
use crate::record::run::{
    CacheSummary, ClientSummary, DatabaseSummary, EngineFigures, EntrySummary, Input, LatencyMs,
    MemoryLimit, QueueSummary, ServiceSummary,
};
use crate::sim::RunSummary;
use crate::sim::broker::QueueTotals;
use crate::sim::clients::ClientTotals;
use crate::spec::Source;

/// The engine's `QueueTotals`, written out.
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

/// A client group's connections as `run.json` tells them; `end_ns` is
/// when the run ended.
pub fn client_summary(totals: &ClientTotals, end_ns: u64) -> ClientSummary {
    let s = |ns: u64| round(ns as f64 / 1e9, 6);
    let first = totals.first_lost.map(|t| t.ns());
    let again = totals.whole_again.map(|t| t.ns());
    let all_reconnected = first.is_none() || again.is_some();
    ClientSummary {
        clients: totals.clients,
        connected_at_end: totals.connected,
        fewest_connected: totals.fewest_connected,
        connect_attempts: totals.connect_attempts,
        reconnect_attempts: totals.reconnect_attempts,
        connections_lost: totals.connections_lost,
        first_lost_s: first.map(s),
        all_reconnected_s: again.map(s),
        all_reconnected,
        time_to_reconnect_s: first.map(|f| s(again.unwrap_or(end_ns).saturating_sub(f))),
    }
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

pub fn entry_summary(endpoint: &str, outcomes: &Outcomes, measured_ns: u64) -> EntrySummary {
    let errors = outcomes.error_count();
    EntrySummary {
        endpoint: endpoint.to_string(),
        requests: outcomes.arrivals,
        ok: outcomes.ok,
        errors,
        unanswered: outcomes.unanswered,
        in_flight: outcomes.in_flight(),
        errors_by_class: ErrorClass::ALL
            .iter()
            .map(|c| (c.name().to_string(), outcomes.errors[*c as usize]))
            .collect(),
        degraded: outcomes.degraded,
        availability: round(outcomes.served_share(), 6),
        throughput_per_s: round(outcomes.ok as f64 / (measured_ns as f64 / 1e9), 3),
        latency_ms: latency_ms(outcomes.latency_summary()),
        latency_all_ms: latency_ms(outcomes.all_latency_summary()),
    }
}

pub fn service_summary(queueing: &ServiceQueueing) -> ServiceSummary {
    ServiceSummary {
        started: queueing.waits.started(),
        waited_share: round(queueing.waits.waited_share(), 6),
        wait_ms: latency_ms(queueing.waits.summary()),
        in_system_mean: round(queueing.in_system_mean(), 3),
        in_system_max: queueing.in_system_max,
    }
}

fn latency_ms(l: LatencySummary) -> LatencyMs {
    let ms = |ns: f64| round(ns / 1e6, 3);
    LatencyMs {
        mean: ms(l.mean),
        p50: ms(l.p50 as f64),
        p90: ms(l.p90 as f64),
        p99: ms(l.p99 as f64),
        p999: ms(l.p999 as f64),
        max: ms(l.max as f64),
    }
}

/// The manifest of a finished run of `plan`.
pub fn manifest(
    plan: &Plan,
    config: RunConfig,
    summary: &RunSummary,
    hypothesis: Vec<Verdict>,
) -> Manifest {
    let (experiment, topology) = (&plan.experiment, &plan.topology);
    let measured = config.duration - config.warmup;
    Manifest {
        tool: Tool {
            name: "faultline".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
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
        set: experiment.sets.iter().map(|s| s.text.clone()).collect(),
        seed: config.seed,
        duration_s: config.duration as f64 / 1e9,
        warmup_s: config.warmup as f64 / 1e9,
        window_s: config.window as f64 / 1e9,
        percentile_digits: config.precision.digits(),
        per_instance: config.per_instance,
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
        services: topology
            .services
            .iter()
            .zip(&summary.services)
            .map(|(s, queueing)| (s.name.clone(), service_summary(queueing)))
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
            .enumerate()
            .filter(|(_, s)| s.replication.is_some())
            .map(|(k, s)| {
                let (reads, stale) = (summary.reads[k], summary.stale_reads[k]);
                (
                    s.name.clone(),
                    DatabaseSummary {
                        lost_writes: summary.lost_writes[k],
                        divergent_writes: summary.divergent_writes[k],
                        reads,
                        stale_reads: stale,
                        stale_read_share: (reads > 0).then(|| stale as f64 / reads as f64),
                        lag_alerts: summary.lag_alerts[k],
                        max_lag_s: summary.max_staleness[k] as f64 / 1e9,
                    },
                )
            })
            .collect(),
        caches: topology
            .endpoints
            .iter()
            .zip(&summary.caches)
            .filter(|(e, _)| e.keys.is_some())
            .map(|(e, c)| {
                let cache = CacheSummary {
                    lookups: c.lookups,
                    hits: c.hits,
                    misses: c.misses,
                    coalesced: c.coalesced,
                    hit_ratio: (c.lookups > 0).then(|| c.hits as f64 / c.lookups as f64),
                    evicted: c.evicted,
                    expired: c.expired,
                    flushed: c.flushed,
                };
                (e.full_name.clone(), cache)
            })
            .collect(),
        clients: topology
            .client_groups
            .iter()
            .zip(&summary.clients)
            .map(|(g, totals)| (g.name.clone(), client_summary(totals, config.duration)))
            .collect(),
        memory: topology
            .services
            .iter()
            .filter_map(|s| {
                let m = s.memory.as_ref()?;
                let limit = MemoryLimit {
                    limit_mib: m.limit as f64 / (1024.0 * 1024.0),
                    alerts: m.alerts.clone(),
                };
                Some((s.name.clone(), limit))
            })
            .collect(),
        hypothesis,
        stop: None,
        files: ["run.json", "metrics.csv", "events.jsonl", "analysis.json"]
            .into_iter()
            .chain(crate::report::RUN_REPORT_FILES)
            .chain(
                crate::report::CLIENT_REPORT_FILES
                    .into_iter()
                    .filter(|_| !topology.client_groups.is_empty()),
            )
            .map(str::to_string)
            .collect(),
    }
}
