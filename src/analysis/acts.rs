//! When each fault acted, read from the state changes: the instant it first
//! did something (a chaos monkey's first kill, not the start of its
//! schedule), how long the damage lasted (a killed instance is damage
//! until it is ready again) and what no mechanism repaired.

use super::Run;
use crate::faults::FaultAction;
use crate::observe::events::StateChange;

/// What one fault did, in virtual time (ns).
#[derive(Clone, Debug)]
pub(super) struct Acts {
    /// Its first action; `None` when it never acted (a chaos monkey that
    /// killed nothing).
    pub first: Option<u64>,
    /// Every instant it acted on an instance, with the instance.
    pub on_instances: Vec<(u64, u32)>,
    /// When its damage ended: its end, or for kills, when the last
    /// instance it killed was ready again; the run's end when it lasts.
    pub until: u64,
    /// Instances it killed that were never ready again by the end.
    pub lost: Vec<u32>,
}

impl<O> Run<'_, O> {
    /// Each fault's acts, by fault index.
    pub(super) fn acts(&self) -> Vec<Acts> {
        let events = &self.collector.events;
        self.faults
            .iter()
            .enumerate()
            .map(|(f, fault)| {
                let f = f as u32;
                let mut on_instances = Vec::new();
                let mut kills = Vec::new();
                for e in events {
                    match e.change {
                        StateChange::InstanceKilled {
                            instance, fault, ..
                        } if fault == f => {
                            on_instances.push((e.time, instance));
                            kills.push((e.time, instance));
                        }
                        StateChange::InstanceFrozen { instance, fault }
                        | StateChange::InstanceUnreachable { instance, fault }
                            if fault == f =>
                        {
                            on_instances.push((e.time, instance));
                        }
                        _ => {}
                    }
                }
                let first = match fault.action {
                    FaultAction::ChaosMonkey { .. } => on_instances.first().map(|a| a.0),
                    _ => Some(fault.start),
                };
                // A chaos monkey's schedule is no damage in itself: only
                // its kills are.
                let mut until = match fault.action {
                    FaultAction::ChaosMonkey { .. } => first.unwrap_or(fault.start),
                    _ => fault.ends_at().unwrap_or(self.duration),
                };
                let mut lost = Vec::new();
                for (at, instance) in kills {
                    let ready = events.iter().find_map(|e| match e.change {
                        StateChange::InstanceReady { instance: i }
                            if i == instance && e.time > at =>
                        {
                            Some(e.time)
                        }
                        _ => None,
                    });
                    match ready {
                        Some(t) => until = until.max(t),
                        None => {
                            until = self.duration;
                            if !lost.contains(&instance) {
                                lost.push(instance);
                            }
                        }
                    }
                }
                Acts {
                    first,
                    on_instances,
                    until,
                    lost,
                }
            })
            .collect()
    }
}
