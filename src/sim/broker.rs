//! Queue services: work a caller handed over when its call failed (the
//! "accept now, do later" pattern), delivered by the queue's consumer when
//! the dependency is back. Delivery is at least once: an item whose delivery
//! timed out goes back on the queue and may run twice.

use std::collections::VecDeque;

use super::engine::{CONSUMER, Engine, LOST};
use super::event::Event;
use crate::observe::Observer;
use crate::observe::trace::{Origin, Traced};

/// What went through a queue over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueTotals {
    /// Items handed to the queue.
    pub enqueued: u64,
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries that failed or timed out and were put back.
    pub redelivered: u64,
    /// Items still queued or being delivered when the run ended: work that
    /// was accepted and never done.
    pub pending_at_end: u64,
}

/// Items of one queue and its consumer's progress.
#[derive(Clone, Debug, Default)]
pub struct Broker {
    /// Endpoints the queued items call, oldest first.
    items: VecDeque<u32>,
    /// Deliveries in flight.
    in_flight: u32,
    /// Failed items waiting to be put back.
    waiting: u64,
    totals: QueueTotals,
}

impl Broker {
    pub fn totals(&self) -> QueueTotals {
        QueueTotals {
            pending_at_end: self.items.len() as u64 + self.in_flight as u64 + self.waiting,
            ..self.totals
        }
    }
}

impl<O: Observer> Engine<'_, O> {
    /// Hands a call to `endpoint` to queue service `queue`.
    pub(super) fn enqueue(&mut self, queue: u32, endpoint: u32) {
        let broker = &mut self.brokers[queue as usize];
        broker.items.push_back(endpoint);
        broker.totals.enqueued += 1;
        self.queue_level[queue as usize].add(self.now, 1);
        self.drain(queue);
    }

    /// Starts deliveries while the consumer has room and items wait.
    fn drain(&mut self, queue: u32) {
        let consumer = self.topo.services[queue as usize]
            .consumer
            .expect("only queues hold items");
        while self.brokers[queue as usize].in_flight < consumer.concurrency
            && let Some(endpoint) = self.brokers[queue as usize].items.pop_front()
        {
            self.queue_level[queue as usize].sub(self.now, 1);
            self.brokers[queue as usize].in_flight += 1;
            self.busy_level[queue as usize].add(self.now, 1);
            match self.dispatch(endpoint, CONSUMER, queue) {
                Ok(LOST) => self.queue.schedule(
                    self.now + consumer.timeout,
                    Event::DeliveryLost { queue, endpoint },
                ),
                Ok(slot) => {
                    let life = self.slab[slot as usize].life;
                    self.arm(consumer.timeout_lane, slot, life);
                }
                // Refused at once: put it back after the pause.
                Err(class) => {
                    if O::TRACES {
                        let origin = Origin::Consumer { queue };
                        self.trace(Traced::Rejected {
                            origin,
                            endpoint,
                            class,
                        });
                    }
                    self.delivered(queue, endpoint, false)
                }
            }
        }
    }

    /// A delivery ended: done, or back on the queue after `retry_after`.
    pub(super) fn delivered(&mut self, queue: u32, endpoint: u32, ok: bool) {
        let consumer = self.topo.services[queue as usize]
            .consumer
            .expect("only queues deliver");
        let broker = &mut self.brokers[queue as usize];
        broker.in_flight -= 1;
        self.busy_level[queue as usize].sub(self.now, 1);
        if ok {
            broker.totals.delivered += 1;
        } else {
            broker.totals.redelivered += 1;
            broker.waiting += 1;
            self.queue.schedule(
                self.now + consumer.retry_after,
                Event::Redeliver { queue, endpoint },
            );
        }
        self.drain(queue);
    }

    pub(super) fn on_redeliver(&mut self, queue: u32, endpoint: u32) {
        let broker = &mut self.brokers[queue as usize];
        broker.waiting -= 1;
        broker.items.push_back(endpoint);
        self.queue_level[queue as usize].add(self.now, 1);
        self.drain(queue);
    }
}
