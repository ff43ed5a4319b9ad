//! A run its stop guard ended: the faults as they happened (those in force
//! ended at the trip, those still to come never started), the phases that
//! follow from them, and what `run.json` says of the guards, against the
//! same experiment run unguarded on the same seed.

use crate::analysis::{self, Analysis, collect::Collector};
use crate::error::Result;
use crate::faults::Fault;
use crate::observe::NullObserver;
use crate::plan::{Limit, Phases, Plan, RunConfig};
use crate::record::round;
use crate::record::run::{Damage, GuardSummary, LimitSummary, RunDamage, StopSummary, TripSummary};
use crate::sim::guards::{GuardReport, Trip};
use crate::sim::{Budget, RunSummary, simulate_within};

/// The faults and phases a run's analysis and verdicts go by.
pub(super) struct Realized {
    pub(super) faults: Vec<Fault>,
    pub(super) phases: Phases,
    /// Per fault of the plan, its index among `faults` (`None`: it never
    /// started).
    pub(super) index: Vec<Option<u32>>,
}

impl Realized {
    /// The schedule as it was kept: the plan's, unless a guard tripped.
    pub(super) fn of(plan: &Plan, summary: &RunSummary) -> Realized {
        let Some(trip) = summary.guards.tripped else {
            return Realized {
                faults: plan.faults.clone(),
                phases: plan.phases,
                index: (0..plan.faults.len() as u32).map(Some).collect(),
            };
        };
        let mut faults = Vec::new();
        let mut index = Vec::new();
        for fault in &plan.faults {
            if fault.start >= trip.at {
                index.push(None);
                continue;
            }
            let mut kept = fault.clone();
            if !fault.is_instant() {
                kept.end = Some(fault.end.map_or(trip.at, |end| end.min(trip.at)));
            }
            index.push(Some(faults.len() as u32));
            faults.push(kept);
        }
        Realized {
            faults,
            phases: plan.phases.stopped_at(trip.at),
            index,
        }
    }

    /// Renumbers the collected events' faults to `faults`' indices, for
    /// the analysis. An event names only a fault that started.
    pub(super) fn renumber<O>(&self, collector: &mut Collector<O>) {
        for event in &mut collector.events {
            event.change = event
                .change
                .with_fault(|f| self.index[f as usize].unwrap_or(f));
        }
    }
}

/// What `run.json` says of the guards; `None` without guards. With a trip
/// and `paired`, the experiment is run again unguarded on the same seed,
/// in memory.
pub(super) fn summary(
    plan: &Plan,
    config: RunConfig,
    budget: Budget,
    summary: &RunSummary,
    analysis: &Analysis,
    paired: bool,
) -> Result<Option<StopSummary>> {
    if plan.guards.is_empty() {
        return Ok(None);
    }
    let report = &summary.guards;
    let s = |ns: u64| round(ns as f64 / 1e9, 6);
    let guards = plan
        .guards
        .iter()
        .zip(&report.guards)
        .enumerate()
        .map(|(g, (guard, seen))| GuardSummary {
            name: guard.name.clone(),
            probe: guard.probe.clone(),
            over_s: s(guard.span as u64 * config.window),
            limits: guard
                .limits
                .iter()
                .zip(&seen.worst)
                .map(|(limit, worst)| LimitSummary {
                    check: limit.name().to_string(),
                    bound: figure(*limit, limit.bound()),
                    worst: figure(*limit, *worst),
                })
                .collect(),
            evaluated_windows: seen.evaluated,
            watched_from_s: seen.from.map(s),
            watched_to_s: seen.to.map(s),
            tripped: report.tripped.is_some_and(|t| t.guard == g),
        })
        .collect();
    let tripped = report.tripped.map(|trip| trip_summary(plan, trip, report));
    let damage = match tripped {
        Some(_) if paired => {
            let (other, other_analysis) = unguarded(plan, config, budget)?;
            Some(Damage {
                guarded: damage(summary, analysis),
                unguarded: damage(&other, &other_analysis),
            })
        }
        _ => None,
    };
    Ok(Some(StopSummary {
        guards,
        tripped,
        damage,
    }))
}

/// A limit's figure in the unit `run.json` gives it (seconds for a p99).
fn figure(limit: Limit, value: f64) -> f64 {
    match limit {
        Limit::P99Above(_) => round(value / 1e9, 6),
        Limit::ErrorRateAbove(_) => round(value, 6),
        Limit::LostWritesAbove(_) => value,
    }
}

fn trip_summary(plan: &Plan, trip: Trip, report: &GuardReport) -> TripSummary {
    let guard = &plan.guards[trip.guard];
    let limit = guard.limits[trip.limit];
    let name = |f: &usize| plan.faults[*f].name.clone();
    let rolled_back = report.rolled_back.iter().map(name).collect();
    let cancelled = plan
        .faults
        .iter()
        .filter(|f| f.start >= trip.at)
        .map(|f| f.name.clone())
        .collect();
    TripSummary {
        guard: guard.name.clone(),
        check: limit.name().to_string(),
        at_s: round(trip.at as f64 / 1e9, 6),
        value: figure(limit, trip.value),
        bound: figure(limit, limit.bound()),
        rolled_back,
        cancelled,
    }
}

/// The experiment without its guards, judged as a run is.
fn unguarded(plan: &Plan, config: RunConfig, budget: Budget) -> Result<(RunSummary, Analysis)> {
    let collector = Collector::new(NullObserver, plan.phases, &[]);
    let (summary, collector) =
        simulate_within(&plan.topology, &plan.faults, config, budget, collector);
    if let Some(exhausted) = summary.exhausted {
        return Err(super::budget_error(plan, config.seed, exhausted));
    }
    let analysis = analysis::analyse(
        &plan.topology,
        &plan.faults,
        &collector,
        &summary,
        &config,
        plan.metastable_after,
    );
    Ok((summary, analysis))
}

fn damage(summary: &RunSummary, analysis: &Analysis) -> RunDamage {
    let requests: u64 = summary.entries.iter().map(|e| e.arrivals).sum();
    let failed: u64 = summary
        .entries
        .iter()
        .map(|e| e.error_count() + e.unanswered)
        .sum();
    let ok: u64 = summary.entries.iter().map(|e| e.ok).sum();
    let judged = ok + failed;
    RunDamage {
        requests,
        failed,
        availability: if judged == 0 {
            1.0
        } else {
            round(ok as f64 / judged as f64, 6)
        },
        lost_writes: summary.lost_writes.iter().sum(),
        recovered: analysis.recovered,
        metastable: analysis.metastable,
        time_to_recover_s: analysis.times.time_to_recover_s,
    }
}
