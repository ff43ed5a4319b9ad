//! An engine event named for an observer that asks for every step
//! (`Observer::STEPS`): only such observers' loops call in here.

use super::activation::Phase;
use super::engine::Engine;
use super::event::Event;
use crate::base::SimTime;
use crate::base::ids::Slot;
use crate::observe::Observer;
use crate::observe::steps::{Step, Subject};

impl<O: Observer> Engine<'_, O> {
    // Out of line, so that the loop's code is the same size with or
    // without observers of steps.
    #[inline(never)]
    pub(super) fn observe_step(&mut self, time: SimTime, event: &Event) {
        // Timer lanes' wake-ups are bookkeeping a timeout's length moves;
        // a timer that fires on a live request is observed as its own step.
        if !matches!(event, Event::Timer { .. }) {
            let step = self.step_of(time, event);
            self.observer.step(&step);
        }
    }

    #[inline(never)]
    pub(super) fn observe_fired(&mut self, slot: Slot, epoch: u32) {
        let step = self.fired_step(slot, epoch);
        self.observer.step(&step);
    }

    /// The step of `event`, due at `time`, before it is handled: what it
    /// is about is read from the state it finds.
    pub(super) fn step_of(&self, time: SimTime, event: &Event) -> Step {
        let subject = match *event {
            Event::Arrival { workload } => Subject::Workload(workload),
            Event::FaultStart { fault }
            | Event::FaultEnd { fault }
            | Event::MonkeyKill { fault }
            | Event::RollNext { fault } => Subject::Fault(fault),
            Event::Restart { instance, .. }
            | Event::Ready { instance, .. }
            | Event::Probe { instance }
            | Event::ProbeTimeout { instance, .. }
            | Event::Thaw { instance }
            | Event::MemoryCheck { instance, .. }
            | Event::Retire { instance, .. }
            | Event::DrainEnd { instance, .. } => Subject::Instance(instance),
            Event::Scale { service } | Event::Promote { service } => Subject::Service(service),
            Event::ClientConnect { client } | Event::ClientRequest { client, .. } => {
                Subject::Client(client)
            }
            Event::DeliveryLost { queue, endpoint } | Event::Redeliver { queue, endpoint } => {
                Subject::Queue { queue, endpoint }
            }
            Event::WorkDone { slot, epoch }
            | Event::WorkCut { slot, epoch }
            | Event::Retry { slot, epoch }
            | Event::Expire { slot, epoch }
            | Event::Land { slot, epoch, .. } => self.activation(slot, Some(epoch)),
            // Not stepped: see `Observer::step`.
            Event::Timer { .. } => Subject::Stale,
        };
        Step {
            time: time.ns(),
            word: event.digest_word(),
            subject,
        }
    }

    /// The step of a timer firing on the activation in `slot`.
    pub(super) fn fired_step(&self, slot: Slot, epoch: u32) -> Step {
        Step {
            time: self.now.ns(),
            word: Event::fired_timer_word(slot, epoch),
            subject: self.activation(slot, None),
        }
    }

    /// The activation in `slot`, if it is still the one an event issued at
    /// `epoch` was for.
    fn activation(&self, slot: Slot, epoch: Option<u32>) -> Subject {
        let a = &self.acts[slot];
        if a.phase == Phase::Free || epoch.is_some_and(|e| e != a.epoch) {
            Subject::Stale
        } else {
            Subject::Activation {
                endpoint: a.endpoint,
                instance: a.instance,
            }
        }
    }
}
