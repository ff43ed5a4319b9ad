//! Stop guards at work: at each window's end while the experiment runs,
//! each guard's figures over its span are taken from the meters, and the
//! first guard past a bound stops the experiment. Stopping rolls back every
//! fault in force at that instant, halts a rolling restart between batches
//! and cancels the faults not started yet, as AWS FIS does when an alarm
//! fires; the run goes on, to show the recovery.
//!
//! Nothing here is on the request path: it runs once per window.

use super::engine::Engine;
use crate::base::Precision;
use crate::base::ids::{FaultId, InstanceId};
use crate::observe::Observer;
use crate::observe::events::StateChange;
use crate::observe::latencies::Latencies;
use crate::observe::metrics::Outcomes;
use crate::plan::{Guard, Limit};
use crate::topology::Component;

/// What the guards saw over a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardReport {
    /// The guard that stopped the experiment, if one did.
    pub tripped: Option<Trip>,
    /// Per guard, in the scenario's order.
    pub guards: Vec<GuardSeen>,
    /// The faults the trip found in force and ended (indices into the
    /// run's faults), a rolling restart halted between batches among them.
    pub rolled_back: Vec<usize>,
}

/// The instant a guard stopped the experiment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trip {
    /// Index into the plan's guards.
    pub guard: usize,
    /// Index into the guard's limits: the first it passed.
    pub limit: usize,
    /// The window's end (ns) at which it tripped.
    pub at: u64,
    /// The figure that passed the bound, in the limit's unit.
    pub value: f64,
}

/// One guard's watch: how often it looked and the worst it saw, per limit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardSeen {
    /// Windows it was evaluated at.
    pub evaluated: u32,
    /// First and last window end (ns) it was evaluated at.
    pub from: Option<u64>,
    pub to: Option<u64>,
    /// Per limit, the highest figure seen at an evaluation (0 when none
    /// could be taken: no request ended over the span).
    pub worst: Vec<f64>,
}

/// The figures of one window of a guard's span.
#[derive(Clone, Debug)]
struct Slot {
    ended: u64,
    failed: u64,
    /// Every request that ended, when the guard watches a p99.
    latencies: Option<Latencies>,
}

/// Per guard, its span as a ring of windows.
#[derive(Debug)]
struct Ring {
    slots: Vec<Slot>,
    next: usize,
}

pub(super) struct Guards<'t> {
    guards: &'t [Guard],
    rings: Vec<Ring>,
    /// Scratch for a service's endpoints merged, and a span's latencies.
    merged: Outcomes,
    span: Latencies,
    /// Whether the experiment was running at the last window's end.
    running: bool,
    /// When the first fault starts (ns); `u64::MAX` without faults.
    first_start: u64,
    pub(super) report: GuardReport,
}

impl<'t> Guards<'t> {
    pub(super) fn new(guards: &'t [Guard], first_start: Option<u64>, precision: Precision) -> Self {
        let with_p99 = |g: &Guard| g.limits.iter().any(|l| matches!(l, Limit::P99Above(_)));
        Guards {
            guards,
            rings: guards
                .iter()
                .map(|g| Ring {
                    slots: vec![
                        Slot {
                            ended: 0,
                            failed: 0,
                            latencies: with_p99(g).then(|| Latencies::with_precision(precision)),
                        };
                        g.span as usize
                    ],
                    next: 0,
                })
                .collect(),
            merged: Outcomes::with_precision(precision),
            span: Latencies::with_precision(precision),
            running: false,
            first_start: first_start.unwrap_or(u64::MAX),
            report: GuardReport {
                tripped: None,
                rolled_back: Vec::new(),
                guards: guards
                    .iter()
                    .map(|g| GuardSeen {
                        worst: vec![0.0; g.limits.len()],
                        ..GuardSeen::default()
                    })
                    .collect(),
            },
        }
    }

    /// Whether a guard stopped the experiment: from then on, no fault
    /// starts or ends on its schedule.
    #[inline]
    pub(super) fn stopped(&self) -> bool {
        self.report.tripped.is_some()
    }
}

impl<O: Observer> Engine<'_, O> {
    /// Before the window closing at `now` is reset: each guard's window is
    /// recorded, and while the experiment runs, its span is judged. The
    /// first guard past a bound (in the scenario's order) is the trip.
    pub(super) fn watch_guards(&mut self) -> Option<Trip> {
        if self.guards.guards.is_empty() || self.guards.stopped() {
            return None;
        }
        let end = self.now.ns();
        for g in 0..self.guards.guards.len() {
            self.record_guard_window(g);
        }
        // A window is judged when the experiment ran in some of it: it was
        // running at the window's start or is at its end, and the first
        // fault started before the end.
        let running = self.experiment_running();
        let judged = end > self.guards.first_start && (running || self.guards.running);
        self.guards.running = running;
        if !judged {
            return None;
        }
        // A trip at the run's end would roll back nothing anyone sees.
        let can_trip = end < self.config.duration;
        let mut trip = None;
        for g in 0..self.guards.guards.len() {
            let figures = self.guard_figures(g);
            let guard = &self.guards.guards[g];
            let seen = &mut self.guards.report.guards[g];
            seen.evaluated += 1;
            seen.from.get_or_insert(end);
            seen.to = Some(end);
            for (l, (limit, figure)) in guard.limits.iter().zip(figures).enumerate() {
                let Some(value) = figure else { continue };
                seen.worst[l] = seen.worst[l].max(value);
                if can_trip && trip.is_none() && value > limit.bound() {
                    trip = Some(Trip {
                        guard: g,
                        limit: l,
                        at: end,
                        value,
                    });
                }
            }
        }
        trip
    }

    /// The closing window's figures of guard `g`'s probe, into its ring.
    fn record_guard_window(&mut self, g: usize) {
        let guards = &mut self.guards;
        let component = guards.guards[g].component;
        let outcomes = match component {
            Component::Entry(w) => &self.meters.entry[w as usize],
            Component::Endpoint(e) => &self.meters.endpoint[e as usize],
            Component::Service(s) => {
                guards.merged.reset();
                for e in self.topo.services[s as usize].endpoints.clone() {
                    guards.merged.add(&self.meters.endpoint[e as usize]);
                }
                &guards.merged
            }
            // Plan resolves probes to these three only.
            _ => return,
        };
        let ring = &mut guards.rings[g];
        let slot = &mut ring.slots[ring.next];
        let failed = outcomes.error_count();
        slot.ended = outcomes.ok + failed;
        slot.failed = failed;
        if let Some(latencies) = &mut slot.latencies {
            latencies.reset();
            latencies.add(&outcomes.latency);
            latencies.add(&outcomes.failed);
        }
        ring.next = (ring.next + 1) % ring.slots.len();
    }

    /// Guard `g`'s figures over its span, per limit; `None` where none can
    /// be taken (no request ended over the span).
    fn guard_figures(&mut self, g: usize) -> Vec<Option<f64>> {
        let guards = &mut self.guards;
        let ring = &guards.rings[g];
        let ended: u64 = ring.slots.iter().map(|s| s.ended).sum();
        let failed: u64 = ring.slots.iter().map(|s| s.failed).sum();
        guards.guards[g]
            .limits
            .iter()
            .map(|limit| match *limit {
                Limit::ErrorRateAbove(_) => (ended > 0).then(|| failed as f64 / ended as f64),
                Limit::P99Above(_) => {
                    guards.span.reset();
                    for latencies in ring.slots.iter().filter_map(|s| s.latencies.as_ref()) {
                        guards.span.add(latencies);
                    }
                    (!guards.span.is_empty()).then(|| guards.span.value_at_quantile(0.99) as f64)
                }
                Limit::LostWritesAbove(_) => match guards.guards[g].component {
                    Component::Service(s) => Some(self.replicas.lost_writes[s as usize] as f64),
                    _ => None,
                },
            })
            .collect()
    }

    /// Whether the experiment is running: a fault is still to start, one
    /// that lasts is in force, or a rolling restart is under way.
    fn experiment_running(&self) -> bool {
        let faults = self.faults.all;
        (0..faults.len()).any(|f| {
            let id = FaultId(f as u32);
            !self.faults.started(id)
                || (self.faults.in_force(id) && !faults[f].is_instant())
                || self.rolls[f].is_some()
        })
    }

    /// A guard tripped: the experiment stops now. Every lasting fault in
    /// force ends, every rolling restart halts before its next batch (the
    /// batch under way finishes its restart), every frozen instance thaws,
    /// and no fault starts or ends on its schedule from here on.
    pub(super) fn stop_experiment(&mut self, trip: Trip) {
        self.state_change(StateChange::ExperimentStopped {
            guard: trip.guard as u32,
        });
        let faults = self.faults.all;
        for (f, fault) in faults.iter().enumerate() {
            let id = FaultId(f as u32);
            if self.faults.in_force(id) && !fault.is_instant() {
                self.end_fault(id, StateChange::FaultRolledBack { fault: id.0 });
            } else if self.rolls[f].take().is_some() {
                self.state_change(StateChange::FaultRolledBack { fault: id.0 });
            } else {
                continue;
            }
            self.guards.report.rolled_back.push(f);
        }
        for i in 0..self.instances.len() {
            let instance = InstanceId(i as u32);
            if self.instances[instance]
                .frozen_until
                .is_some_and(|until| until > self.now)
            {
                self.instances[instance].frozen_until = Some(self.now);
                self.on_thaw(instance);
            }
        }
        self.guards.report.tripped = Some(trip);
    }
}
