//! Timeouts, one lane per distinct duration.
//!
//! Timers of one duration are created in time order, so a FIFO of them is
//! already sorted and only its head needs to be in the event heap: arming a
//! timer is a push to a deque, not a heap insertion. A timer is never
//! removed when what it guards ends; it carries the epoch (or life) it was
//! armed at and is dropped when it reaches the head stale.

use std::collections::VecDeque;

use super::event::Event;
use super::queue::EventQueue;
use crate::base::SimTime;
use crate::base::ids::Slot;
use crate::topology::{TimerKind, TimerLane};

/// A timer: when it is due, whose it is, and the epoch (or life) it guards.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timer {
    pub(super) deadline: SimTime,
    pub(super) slot: Slot,
    pub(super) epoch: u32,
}

#[derive(Debug)]
struct Lane {
    kind: TimerKind,
    duration: u64,
    entries: VecDeque<Timer>,
    /// Its head is in the event heap.
    armed: bool,
}

#[derive(Debug)]
pub(super) struct Timers {
    lanes: Vec<Lane>,
}

impl Timers {
    pub(super) fn new(lanes: &[TimerLane]) -> Self {
        Timers {
            lanes: lanes
                .iter()
                .map(|l| Lane {
                    kind: l.kind,
                    duration: l.duration,
                    entries: VecDeque::new(),
                    armed: false,
                })
                .collect(),
        }
    }

    /// Starts a timer on `lane` for the activation in `slot` at `epoch`.
    #[inline]
    pub(super) fn arm(
        &mut self,
        queue: &mut EventQueue,
        now: SimTime,
        lane: u32,
        slot: Slot,
        epoch: u32,
    ) {
        let l = &mut self.lanes[lane as usize];
        let deadline = now + l.duration;
        l.entries.push_back(Timer {
            deadline,
            slot,
            epoch,
        });
        if !l.armed {
            l.armed = true;
            queue.schedule(deadline, Event::Timer { lane });
        }
    }

    pub(super) fn kind(&self, lane: u32) -> TimerKind {
        self.lanes[lane as usize].kind
    }

    /// The lane's oldest timer; `None` disarms the lane, which is empty.
    pub(super) fn head(&mut self, lane: u32) -> Option<Timer> {
        let l = &mut self.lanes[lane as usize];
        let head = l.entries.front().copied();
        if head.is_none() {
            l.armed = false;
        }
        head
    }

    pub(super) fn pop(&mut self, lane: u32) {
        self.lanes[lane as usize].entries.pop_front();
    }
}
