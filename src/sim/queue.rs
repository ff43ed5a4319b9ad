//! The event queue: a binary min-heap ordered by (time, seq), where `seq` is
//! a global insertion counter, so events at the same instant pop in the order
//! they were scheduled — the same order every run.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::event::Event;

#[derive(Clone, Copy, Debug)]
struct Scheduled {
    time: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .cmp(&self.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    seq: u64,
}

impl EventQueue {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn schedule(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.heap.push(Scheduled {
            time,
            seq: self.seq,
            event,
        });
    }

    /// The next event if it is due no later than `limit`.
    #[inline]
    pub fn pop_until(&mut self, limit: u64) -> Option<(u64, Event)> {
        if self.heap.peek()?.time > limit {
            return None;
        }
        self.heap.pop().map(|s| (s.time, s.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the insertion order, events pop sorted by time and, at
        /// equal times, in insertion order.
        #[test]
        fn pops_in_time_then_insertion_order(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut queue = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                queue.schedule(*t, Event::Arrival { workload: i as u32 });
            }
            let mut popped = Vec::new();
            while let Some((t, Event::Arrival { workload })) = queue.pop_until(u64::MAX) {
                popped.push((t, workload));
            }
            let mut expected: Vec<(u64, u32)> = times.iter().enumerate().map(|(i, t)| (*t, i as u32)).collect();
            expected.sort();
            prop_assert_eq!(popped, expected);
        }
    }

    #[test]
    fn pop_until_leaves_later_events() {
        let mut queue = EventQueue::new();
        queue.schedule(10, Event::FaultStart { fault: 0 });
        assert!(queue.pop_until(9).is_none());
        assert_eq!(queue.len(), 1);
        assert!(queue.pop_until(10).is_some());
    }
}
