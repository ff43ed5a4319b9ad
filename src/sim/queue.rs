//! The event queue: a binary min-heap ordered by (time, seq), where `seq` is
//! a global insertion counter, so events at the same instant pop in the order
//! they were scheduled — the same order every run.
//!
//! Hand-rolled rather than `std::collections::BinaryHeap`: the order is one
//! `u128` key, `time` in the high half and `seq` in the low, so each
//! comparison is a single wide compare instead of two chained ones, and the
//! sifts move a hole instead of swapping. Popping is the engine's largest
//! single cost, twice per request on the simplest model.
//!
//! A pop leaves the root vacant rather than repairing the heap at once:
//! handling an event usually schedules another (the next arrival, the next
//! queued request's work), and that event then fills the root with one
//! sift instead of a repair for the pop and another for the push. Keys are
//! unique, so whatever the layout the pop order is the same.

use super::event::Event;
use crate::base::SimTime;

#[derive(Clone, Copy, Debug)]
struct Scheduled {
    /// `(time << 64) | seq`: unique, so the pop order is total.
    key: u128,
    event: Event,
}

impl Scheduled {
    #[inline]
    fn time(&self) -> SimTime {
        SimTime((self.key >> 64) as u64)
    }
}

#[derive(Debug, Default)]
pub struct EventQueue {
    heap: Vec<Scheduled>,
    /// `heap[0]` was handed out by the last pop and holds nothing.
    vacant_root: bool,
    seq: u64,
}

impl EventQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn schedule(&mut self, time: SimTime, event: Event) {
        self.schedule_inline(time, event);
    }

    /// `schedule`, forced inline where every request passes (its arrival,
    /// the start of its work); other callers share the out-of-line copy.
    #[inline(always)]
    pub fn schedule_inline(&mut self, time: SimTime, event: Event) {
        self.seq += 1;
        let new = Scheduled {
            key: ((time.ns() as u128) << 64) | self.seq as u128,
            event,
        };
        if self.vacant_root {
            self.vacant_root = false;
            self.fill_root(new);
            return;
        }
        self.heap.push(new);
        let heap = &mut self.heap[..];
        let mut hole = heap.len() - 1;
        // New events are mostly later than what is queued: the loop usually
        // stops at the first parent.
        while hole > 0 {
            let parent = (hole - 1) / 2;
            if heap[parent].key <= new.key {
                break;
            }
            heap[hole] = heap[parent];
            hole = parent;
        }
        heap[hole] = new;
    }

    /// The next event if it is due no later than `limit`.
    #[inline(always)]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, Event)> {
        if self.vacant_root {
            self.vacant_root = false;
            let last = self.heap.pop()?;
            if self.heap.is_empty() {
                return None;
            }
            self.fill_root(last);
        }
        let top = *self.heap.first()?;
        if top.time() > limit {
            return None;
        }
        self.vacant_root = true;
        Some((top.time(), top.event))
    }

    /// Puts `item` in the vacant root and restores the heap order. Floyd's
    /// method: walk the hole down the path of smaller children to a leaf
    /// (one comparison per level), then sift `item` up from there; it is
    /// usually later than most of the heap, so that walk is short. Bounds
    /// are written so the compiler can see them.
    #[inline(always)]
    fn fill_root(&mut self, item: Scheduled) {
        let heap = &mut self.heap[..];
        let end = heap.len();
        let mut hole = 0;
        let mut child = 1;
        while child < end - 1 {
            let pair = &heap[child..child + 2];
            if pair[1].key < pair[0].key {
                child += 1;
            }
            heap[hole] = heap[child];
            hole = child;
            child = 2 * hole + 1;
        }
        if child == end - 1 {
            heap[hole] = heap[child];
            hole = child;
        }
        while hole > 0 {
            let parent = (hole - 1) / 2;
            if heap[parent].key <= item.key {
                break;
            }
            heap[hole] = heap[parent];
            hole = parent;
        }
        heap[hole] = item;
    }

    pub fn len(&self) -> usize {
        self.heap.len() - self.vacant_root as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::ids::{FaultId, WorkloadId};
    use proptest::prelude::*;

    proptest! {
        /// Whatever the insertion order, events pop sorted by time and, at
        /// equal times, in insertion order.
        #[test]
        fn pops_in_time_then_insertion_order(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut queue = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                queue.schedule(SimTime(*t), Event::Arrival { workload: WorkloadId(i as u32) });
            }
            let mut popped = Vec::new();
            while let Some((t, Event::Arrival { workload })) = queue.pop_until(SimTime::NEVER) {
                popped.push((t.ns(), workload.0));
            }
            let mut expected: Vec<(u64, u32)> = times.iter().enumerate().map(|(i, t)| (*t, i as u32)).collect();
            expected.sort();
            prop_assert_eq!(popped, expected);
        }

        /// Interleaved schedules and bounded pops agree with a plain sorted
        /// list of (time, insertion number), the order the engine relies on.
        #[test]
        fn interleaved_operations_match_a_sorted_list(
            ops in proptest::collection::vec((any::<bool>(), 0u64..50), 0..400)
        ) {
            let mut queue = EventQueue::new();
            let mut model: Vec<(u64, u32)> = Vec::new();
            for (i, (push, t)) in ops.into_iter().enumerate() {
                if push {
                    queue.schedule(SimTime(t), Event::Arrival { workload: WorkloadId(i as u32) });
                    model.push((t, i as u32));
                    model.sort();
                } else {
                    let expected = model.first().copied().filter(|(time, _)| *time <= t);
                    if expected.is_some() {
                        model.remove(0);
                    }
                    let popped = queue.pop_until(SimTime(t)).map(|(time, event)| match event {
                        Event::Arrival { workload } => (time.ns(), workload.0),
                        other => panic!("unexpected {other:?}"),
                    });
                    prop_assert_eq!(popped, expected);
                }
                prop_assert_eq!(queue.len(), model.len());
            }
        }
    }

    #[test]
    fn pop_until_leaves_later_events() {
        let mut queue = EventQueue::new();
        queue.schedule(SimTime(10), Event::FaultStart { fault: FaultId(0) });
        assert!(queue.pop_until(SimTime(9)).is_none());
        assert_eq!(queue.len(), 1);
        assert!(queue.pop_until(SimTime(10)).is_some());
    }
}
