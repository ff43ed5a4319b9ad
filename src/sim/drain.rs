//! Graceful stops, and what starts them: a rolling restart (a deploy) and
//! a restart before OOM. A service with `drain` takes the instance out of
//! its balancer and lets it finish what it holds, up to the drain time,
//! before the process stops; without it the stop is abrupt, like a crash
//! the balancer learns of only from health checks. Either way the
//! supervisor boots a new process at once.

use std::collections::VecDeque;

use super::engine::Engine;
use super::event::Event;
use crate::base::SimTime;
use crate::base::ids::{FaultId, InstanceId, ServiceId};
use crate::components::instance::Process;
use crate::observe::Observer;
use crate::observe::events::StateChange;

/// A rolling restart under way: the instances still to restart, in order,
/// and the batch restarting now.
#[derive(Clone, Debug, Default)]
pub(super) struct Roll {
    waiting: VecDeque<InstanceId>,
    current: Vec<InstanceId>,
    batch: u32,
    pause: u64,
    /// The next batch is scheduled (the current one is back).
    next_due: bool,
}

impl<O: Observer> Engine<'_, O> {
    /// Begins a graceful stop of a running instance (`fault`: the rolling
    /// restart that asks for it; `None`: its memory's restart threshold).
    /// The stop itself comes as an event, never inside the request path
    /// that noticed the threshold.
    pub(super) fn graceful_stop(&mut self, instance: InstanceId, fault: Option<FaultId>) {
        let state = &self.instances[instance];
        if state.process != Process::Running || state.draining {
            return;
        }
        let drain = self.topo.service_of_instance(instance).drain;
        let incarnation = state.incarnation;
        let outstanding = state.outstanding();
        let state = &mut self.instances[instance];
        state.draining = true;
        let at = match drain {
            Some(drain) => {
                state.routable = false;
                self.state_change(StateChange::InstanceDraining {
                    instance: instance.0,
                    fault: fault.map(|f| f.0),
                });
                if outstanding == 0 {
                    self.now
                } else {
                    self.now + drain
                }
            }
            None => self.now,
        };
        self.queue.schedule(
            at,
            Event::DrainEnd {
                instance,
                incarnation,
            },
        );
    }

    /// A draining instance that holds nothing any more stops now rather
    /// than at the end of its drain time.
    #[inline]
    pub(super) fn drained_if_idle(&mut self, instance: InstanceId) {
        let state = &self.instances[instance];
        if state.draining && state.outstanding() == 0 && state.process == Process::Running {
            let incarnation = state.incarnation;
            self.queue.schedule(
                self.now,
                Event::DrainEnd {
                    instance,
                    incarnation,
                },
            );
        }
    }

    /// The drain is over: the process stops, resetting what it still holds,
    /// and a new one boots.
    pub(super) fn on_drain_end(&mut self, instance: InstanceId, incarnation: u32) {
        let state = &self.instances[instance];
        if state.incarnation != incarnation || !state.draining || state.process != Process::Running
        {
            return;
        }
        let reset = state.outstanding();
        let drained = self.topo.service_of_instance(instance).drain.is_some();
        self.state_change(StateChange::InstanceStopped {
            instance: instance.0,
            drained,
            reset,
        });
        self.end_process(instance);
        self.state_change(StateChange::InstanceRestarting {
            instance: instance.0,
        });
        self.boot(instance);
    }

    /// A rolling restart begins with its first batch.
    pub(super) fn start_roll(&mut self, f: FaultId, service: ServiceId, batch: u32, pause: u64) {
        let waiting = self.topo.services[service]
            .instance_ids()
            .filter(|i| self.instances[*i].provisioned)
            .collect();
        self.rolls[f.index()] = Some(Roll {
            waiting,
            current: Vec::new(),
            batch,
            pause,
            next_due: false,
        });
        self.on_roll_next(f);
    }

    /// The next batch: the next instances that run now (one that is down is
    /// passed over: it is restarting already, or gone); the roll ends when
    /// none is left.
    pub(super) fn on_roll_next(&mut self, f: FaultId) {
        let Some(roll) = &mut self.rolls[f.index()] else {
            return;
        };
        roll.current.clear();
        roll.next_due = false;
        while (roll.current.len() as u32) < roll.batch
            && let Some(i) = roll.waiting.pop_front()
        {
            let state = &self.instances[i];
            if state.process == Process::Running && !state.draining {
                roll.current.push(i);
            }
        }
        if roll.current.is_empty() {
            self.rolls[f.index()] = None;
            return;
        }
        for i in roll.current.clone() {
            self.graceful_stop(i, Some(f));
        }
    }

    /// An instance is back in its balancer: when it was the last of its
    /// roll's batch to come back, the next batch is due after the pause.
    pub(super) fn roll_progress(&mut self, instance: InstanceId) {
        for f in 0..self.rolls.len() {
            let Some(roll) = &self.rolls[f] else {
                continue;
            };
            if roll.next_due || !roll.current.contains(&instance) {
                continue;
            }
            let back = roll.current.iter().all(|&i| {
                let state = &self.instances[i];
                state.process == Process::Running && state.routable && !state.draining
            });
            if back {
                let at = self.now + roll.pause;
                if let Some(roll) = &mut self.rolls[f] {
                    roll.next_due = true;
                }
                if at < SimTime(self.config.duration) {
                    self.queue.schedule(
                        at,
                        Event::RollNext {
                            fault: FaultId(f as u32),
                        },
                    );
                }
            }
        }
    }
}
