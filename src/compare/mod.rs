//! `compare`: every variant of a scenario over many seeds, in parallel, with
//! statistics. Seed `s` gives every variant the same traffic and the same
//! fault timing (random streams are named by component, not by position), so
//! per-seed differences between variants are paired and come from the
//! design alone.
//!
//! The grid is variant-major: cell `k` is variant `k / seeds` on seed
//! `first + k % seeds`. Cells run in any order on any number of threads (or
//! machines, as shards) and are put back in grid order before anything is
//! summed, so the output bytes never depend on how the work was split.

pub mod partial;
pub mod report;
pub mod stats;
pub mod verdict;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::experiment::manifest;
use crate::observe::metrics::Outcomes;
use crate::plan::Plan;
pub use crate::record::compare::Seeds;
use crate::sim::Budget;

/// What one run of one variant on one seed measured, after the warm-up,
/// over all entry endpoints together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    /// Share of the requests that arrived after the warm-up that succeeded
    /// (degraded successes count as successes; errors and requests never
    /// answered against), as in `run.json`; 1 when none arrived.
    pub availability: f64,
    /// Share that failed or was never answered: `1 - availability`, kept
    /// apart so notebooks need not know that.
    pub error_rate: f64,
    /// 99th percentile latency of all requests (ms): successes, failures
    /// at the time they failed, unanswered requests at their age at the
    /// end (a lower bound then), so that failing fast or hanging cannot
    /// look fast; 0 when none arrived.
    pub p99_ms: f64,
    /// Acknowledged writes lost in database failovers, over the whole run.
    pub lost_writes: u64,
    pub events: u64,
    /// Requests that arrived at the entry endpoints after the warm-up.
    pub requests: u64,
    /// Seconds from the last fault's end until every component stayed back
    /// inside its steady band (the cascade analysis). A run that never
    /// recovered counts the rest of the run: a lower bound, so a metastable
    /// design cannot look better than one that heals. `None` without a fault
    /// that ends inside the run.
    pub recovery_s: Option<f64>,
    /// Whether the analysis called the run metastable.
    #[serde(default)]
    pub metastable: bool,
    /// Whether every hypothesis held; `None` when the scenario has none.
    pub hypothesis_passed: Option<bool>,
    /// Seconds from the first connection a connected client lost until
    /// every client of every group was connected again; when some were
    /// still not connected at the end, the rest of the run (a lower bound,
    /// so never reconnecting cannot look fast). `None` when no client lost
    /// a connection (or the model has none).
    #[serde(default)]
    pub reconnect_s: Option<f64>,
    /// When a stop guard ended the experiment (s); `None` when none did
    /// (or the scenario has none). The run's other figures are then of the
    /// experiment as stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at_s: Option<f64>,
    /// Seconds measured: the run after its warm-up, over which `requests`
    /// arrived (absent from partials written before it was kept).
    #[serde(default)]
    pub measured_s: f64,
    /// Latency of all entry requests (ms, as `p99_ms`) at `LATENCY_QUANTILES`:
    /// averaged over seeds per quantile, the comparison's latency curves.
    #[serde(default)]
    pub latency_ms: Vec<f64>,
}

/// The quantiles at which each run's latency distribution is kept.
pub const LATENCY_QUANTILES: [f64; 23] = [
    0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
    0.85, 0.9, 0.95, 0.99, 0.995, 0.999,
];

/// Runs `plan` (its variant) on `seed` in memory, analyses it and judges
/// its hypotheses, as `run` would, and measures it.
pub fn measure(plan: &Plan, seed: u64, budget: Budget) -> Result<RunFigures> {
    let evaluation = crate::experiment::evaluate(plan, seed, budget)?;
    Ok(figures(plan, &evaluation))
}

/// What a run of `plan` judged in memory measured.
pub fn figures(plan: &Plan, evaluation: &crate::experiment::Evaluation) -> RunFigures {
    let summary = &evaluation.summary;
    let mut all = Outcomes::default();
    for entry in &summary.entries {
        all.add(entry);
    }
    let availability = all.served_share();
    let error_rate = 1.0 - availability;
    let analysis = &evaluation.analysis;
    let duration = plan.config.duration as f64 / 1e9;
    let last_end = analysis.last_fault_end_s();
    let recovery_s = match (analysis.times.time_to_recover_s, last_end) {
        (Some(s), _) => Some(s),
        (None, Some(end)) if !analysis.recovered && end < duration => Some(duration - end),
        _ => None,
    };
    let latencies = all.all_latencies();
    let latency_ms = if latencies.is_empty() {
        Vec::new()
    } else {
        latencies
            .values_at_quantiles(LATENCY_QUANTILES)
            .iter()
            .map(|v| *v as f64 / 1e6)
            .collect()
    };
    RunFigures {
        availability,
        error_rate,
        p99_ms: all.all_latency_summary().p99 as f64 / 1e6,
        lost_writes: summary.lost_writes.iter().sum(),
        events: summary.events,
        requests: all.arrivals,
        recovery_s,
        metastable: analysis.metastable,
        hypothesis_passed: evaluation.hypothesis_passed(),
        reconnect_s: reconnect_s(&summary.clients, plan.config.duration),
        measured_s: (plan.config.duration - plan.config.warmup) as f64 / 1e9,
        stopped_at_s: summary.guards.tripped.map(|t| t.at as f64 / 1e9),
        latency_ms,
    }
}

/// The longest time to reconnect of any client group (a lower bound where
/// one never reconnected whole), or `None` when no connection was lost.
fn reconnect_s(clients: &[crate::sim::clients::ClientTotals], end_ns: u64) -> Option<f64> {
    clients
        .iter()
        .filter_map(|t| manifest::client_summary(t, end_ns).time_to_reconnect_s)
        .reduce(f64::max)
}

/// A deterministic slice of the grid: cells `k` with `k % count == index`.
/// Interleaving spreads every variant over every shard, so shards take
/// about the same time even when one variant is slower than another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn cells(&self, total: u64) -> impl Iterator<Item = u64> + use<> {
        let (index, count) = (self.index, self.count);
        (index..total).step_by(count as usize)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let expected = || {
            format!(
                "expected INDEX/COUNT with 0 <= INDEX < COUNT, counting from 0 (e.g. `0/4` … `3/4`), found `{text}`"
            )
        };
        let (index, count) = text.split_once('/').ok_or_else(expected)?;
        let index: u64 = index.trim().parse().map_err(|_| expected())?;
        let count: u64 = count.trim().parse().map_err(|_| expected())?;
        if count == 0 || index >= count {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }
}

/// Runs the given cells of the grid on a pool of `jobs` threads and returns
/// their figures in the order of `cells`, or the error of the first cell
/// (in grid order) that failed. `on_cell` is called as each finishes (from
/// any thread), for a progress display.
pub fn run_cells(
    variants: &[Plan],
    seeds: Seeds,
    cells: &[u64],
    jobs: usize,
    budget: Budget,
    on_cell: &(dyn Fn() + Sync),
) -> Result<Vec<RunFigures>> {
    pool(jobs).install(|| {
        cells
            .par_iter()
            .map(|&k| {
                let variant = &variants[(k / seeds.count) as usize];
                let figures = measure(variant, seeds.nth(k % seeds.count), budget);
                on_cell();
                figures
            })
            .collect()
    })
}

/// A pool of `jobs` threads for a grid's runs.
pub fn pool(jobs: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("a thread pool can be started")
}

/// A hash of the model a variant runs, as `run.json` would give it.
pub fn model_sha256(plan: &Plan) -> String {
    let experiment = &plan.experiment;
    manifest::input(
        &experiment.model.name,
        &experiment.model_source,
        &experiment.model,
    )
    .sha256
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_slice_the_grid() {
        let s: Shard = "1/3".parse().unwrap();
        assert_eq!(s, Shard { index: 1, count: 3 });
        assert_eq!(s.cells(8).collect::<Vec<_>>(), vec![1, 4, 7]);
        assert_eq!(Shard::WHOLE.cells(3).collect::<Vec<_>>(), vec![0, 1, 2]);
        for bad in ["3/3", "1", "a/b", "0/0", "-1/2", "1/2/3"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("INDEX/COUNT"), "{bad}: {err}");
        }
        // Every cell in exactly one shard.
        let mut all: Vec<u64> = (0..4)
            .flat_map(|i| Shard { index: i, count: 4 }.cells(10))
            .collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
