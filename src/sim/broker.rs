//! Queue services: work a caller handed over when its call failed (the
//! "accept now, do later" pattern), delivered by the queue's consumer when
//! the dependency is back. Delivery is at least once: an item whose delivery
//! timed out goes back on the queue and may run twice.

use std::collections::VecDeque;

use super::activation::Parent;
use super::engine::{Dispatched, Engine};
use super::event::Event;
use crate::base::ids::{EndpointId, ServiceId};
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
    items: VecDeque<EndpointId>,
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
    pub(super) fn enqueue(&mut self, queue: ServiceId, endpoint: EndpointId) {
        let broker = &mut self.brokers[queue];
        broker.items.push_back(endpoint);
        broker.totals.enqueued += 1;
        self.meters.occupancy[queue].enqueue(self.now);
        self.drain(queue);
    }

    /// Starts deliveries while the consumer has room and items wait.
    fn drain(&mut self, queue: ServiceId) {
        let consumer = self.topo.services[queue]
            .consumer
            .expect("only queues hold items");
        while self.brokers[queue].in_flight < consumer.concurrency
            && let Some(endpoint) = self.brokers[queue].items.pop_front()
        {
            self.meters.occupancy[queue].dequeue(self.now);
            self.brokers[queue].in_flight += 1;
            self.meters.occupancy[queue].take_worker(self.now);
            match self.dispatch(endpoint, Parent::Consumer(queue)) {
                Ok(Dispatched::Lost) => self.queue.schedule(
                    self.now + consumer.timeout,
                    Event::DeliveryLost { queue, endpoint },
                ),
                Ok(Dispatched::To(slot)) => {
                    let life = self.acts[slot].life;
                    self.arm(consumer.timeout_lane, slot, life);
                }
                // Refused at once: put it back after the pause.
                Err(class) => {
                    if O::TRACES {
                        let origin = Origin::Consumer { queue: queue.0 };
                        self.trace(Traced::Rejected {
                            origin,
                            endpoint: endpoint.0,
                            class,
                        });
                    }
                    self.delivered(queue, endpoint, false)
                }
            }
        }
    }

    /// A delivery ended: done, or back on the queue after `retry_after`.
    pub(super) fn delivered(&mut self, queue: ServiceId, endpoint: EndpointId, ok: bool) {
        let consumer = self.topo.services[queue]
            .consumer
            .expect("only queues deliver");
        let broker = &mut self.brokers[queue];
        broker.in_flight -= 1;
        self.meters.occupancy[queue].free_worker(self.now);
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

    pub(super) fn on_redeliver(&mut self, queue: ServiceId, endpoint: EndpointId) {
        let broker = &mut self.brokers[queue];
        broker.waiting -= 1;
        broker.items.push_back(endpoint);
        self.meters.occupancy[queue].enqueue(self.now);
        self.drain(queue);
    }
}
