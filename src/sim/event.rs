//! What the engine schedules. Small and `Copy`: the queue moves them by value.

use crate::base::ids::{
    CallId, ClientId, EndpointId, FaultId, InstanceId, ServiceId, Slot, WorkloadId,
};

/// An engine event. References to activations carry the epoch they were
/// issued at; a mismatch means the activation moved on and the event is
/// stale (lazy cancellation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next open-loop arrival of a workload.
    Arrival { workload: WorkloadId },
    /// An activation finished its own work.
    WorkDone { slot: Slot, epoch: u32 },
    /// An activation's own work is cut short: its request's deadline
    /// passed, and its service abandons expired work.
    WorkCut { slot: Slot, epoch: u32 },
    /// The head of a timer lane is due.
    Timer { lane: u32 },
    /// A fault of the scenario begins.
    FaultStart { fault: FaultId },
    /// A fault of the scenario ends.
    FaultEnd { fault: FaultId },
    /// The supervisor starts a new process for a dead instance.
    Restart {
        instance: InstanceId,
        incarnation: u32,
    },
    /// A restarted (or rebooted) instance has booted and accepts work.
    Ready {
        instance: InstanceId,
        incarnation: u32,
    },
    /// The load balancer probes an instance.
    Probe { instance: InstanceId },
    /// A probe's answer is overdue.
    ProbeTimeout { instance: InstanceId, seq: u32 },
    /// A retry's backoff is over.
    Retry { slot: Slot, epoch: u32 },
    /// A chaos monkey strikes.
    MonkeyKill { fault: FaultId },
    /// An autoscaler decides.
    Scale { service: ServiceId },
    /// A drained instance leaves the fleet.
    Retire {
        instance: InstanceId,
        incarnation: u32,
    },
    /// A connected client's (re)connection attempt.
    ClientConnect { client: ClientId },
    /// A connected client's next request.
    ClientRequest { client: ClientId, session: u32 },
    /// A delivery the network swallowed: its consumer's timeout is up.
    DeliveryLost {
        queue: ServiceId,
        endpoint: EndpointId,
    },
    /// A failed queue item is due for delivery again.
    Redeliver {
        queue: ServiceId,
        endpoint: EndpointId,
    },
    /// A failover promotes a replica of a database service.
    Promote { service: ServiceId },
    /// A request delayed on the network reaches the callee.
    Land {
        slot: Slot,
        epoch: u32,
        call: CallId,
    },
    /// The deadline of an activation waiting on a call falls before the
    /// call's own timeout: it gives up on the call then.
    Expire { slot: Slot, epoch: u32 },
    /// A frozen instance's pause is over.
    Thaw { instance: InstanceId },
    /// A leaking instance's memory reaches its next alert or its limit.
    MemoryCheck { instance: InstanceId, check: u32 },
    /// A draining instance's drain is over (its time is up, or it holds
    /// nothing any more): it stops.
    DrainEnd {
        instance: InstanceId,
        incarnation: u32,
    },
    /// A rolling restart's next batch is due.
    RollNext { fault: FaultId },
}

impl Event {
    /// A stable word folded into the trace digest: the kind of event in the
    /// top five bits (room for 32 kinds), its fields in the 59 below, cut
    /// there so that no field can spill into the kind.
    // Forced inline: twice per request, from the loop.
    #[inline(always)]
    pub fn digest_word(&self) -> u64 {
        const FIELDS: u64 = (1 << 59) - 1;
        let word = |kind: u64, fields: u64| (kind << 59) | (fields & FIELDS);
        let pair = |high: u32, low: u32| ((high as u64) << 32) | low as u64;
        match *self {
            Event::Arrival { workload } => word(1, workload.0 as u64),
            Event::WorkDone { slot, epoch } => word(2, ((epoch as u64) << 28) ^ slot.0 as u64),
            Event::Timer { lane } => word(3, lane as u64),
            Event::FaultStart { fault } => word(5, fault.0 as u64),
            Event::FaultEnd { fault } => word(6, fault.0 as u64),
            Event::Restart {
                instance,
                incarnation,
            } => word(7, pair(incarnation, instance.0)),
            Event::Ready {
                instance,
                incarnation,
            } => word(8, pair(incarnation, instance.0)),
            Event::Probe { instance } => word(9, instance.0 as u64),
            Event::ProbeTimeout { instance, seq } => word(10, pair(seq, instance.0)),
            Event::Retry { slot, epoch } => word(11, ((epoch as u64) << 28) ^ slot.0 as u64),
            Event::MonkeyKill { fault } => word(12, fault.0 as u64),
            Event::MemoryCheck { instance, check } => word(13, pair(check, instance.0)),
            Event::Thaw { instance } => word(14, instance.0 as u64),
            Event::Land { slot, epoch, call } => word(
                15,
                ((call.0 as u64) << 40) ^ ((epoch as u64) << 20) ^ slot.0 as u64,
            ),
            Event::Promote { service } => word(16, service.0 as u64),
            Event::Redeliver { queue, endpoint } => word(17, pair(queue.0, endpoint.0)),
            Event::DeliveryLost { queue, endpoint } => word(18, pair(queue.0, endpoint.0)),
            Event::ClientConnect { client } => word(19, client.0 as u64),
            Event::ClientRequest { client, session } => word(20, pair(session, client.0)),
            Event::Scale { service } => word(21, service.0 as u64),
            Event::Retire {
                instance,
                incarnation,
            } => word(22, pair(incarnation, instance.0)),
            Event::Expire { slot, epoch } => word(23, ((epoch as u64) << 28) ^ slot.0 as u64),
            Event::DrainEnd {
                instance,
                incarnation,
            } => word(24, pair(incarnation, instance.0)),
            Event::RollNext { fault } => word(25, fault.0 as u64),
            Event::WorkCut { slot, epoch } => word(26, ((epoch as u64) << 28) ^ slot.0 as u64),
        }
    }
}

/// The kind in a digest word of a timer that fired on a live request (a
/// step, not an event of the queue: see `Observer::step`).
const FIRED_TIMER: u64 = 27;

impl Event {
    /// The word of a timer firing on the activation in `slot` at `epoch`,
    /// in the layout of `digest_word`.
    pub fn fired_timer_word(slot: Slot, epoch: u32) -> u64 {
        (FIRED_TIMER << 59) | ((((epoch as u64) << 28) ^ slot.0 as u64) & ((1 << 59) - 1))
    }

    /// What kind of event a digest word is, in words.
    pub fn kind_in_words(word: u64) -> &'static str {
        match word >> 59 {
            1 => "an arrival",
            2 => "work done",
            3 => "a timer lane's wake-up",
            5 => "the start of a fault",
            6 => "the end of a fault",
            7 => "a restart",
            8 => "an instance ready",
            9 => "a health probe",
            10 => "a health probe's timeout",
            11 => "a retry after backoff",
            12 => "a chaos monkey's kill",
            13 => "a memory check",
            14 => "a thaw",
            15 => "a call landing",
            16 => "a failover promotion",
            17 => "a redelivery",
            18 => "a lost delivery",
            19 => "a client's connection attempt",
            20 => "a client's request",
            21 => "an autoscaler's decision",
            22 => "an instance retiring",
            23 => "a deadline expiring",
            24 => "the end of a drain",
            25 => "a rolling restart's next batch",
            26 => "work cut short",
            FIRED_TIMER => "a timeout firing",
            _ => "an unknown event",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events are moved by value through the heap on every push and pop:
    /// keep them small.
    #[test]
    fn every_kind_of_event_has_its_own_tag() {
        use crate::base::ids::*;
        let events = [
            Event::Arrival {
                workload: WorkloadId(0),
            },
            Event::WorkDone {
                slot: Slot(0),
                epoch: 0,
            },
            Event::Timer { lane: 0 },
            Event::FaultStart { fault: FaultId(0) },
            Event::FaultEnd { fault: FaultId(0) },
            Event::Restart {
                instance: InstanceId(0),
                incarnation: 0,
            },
            Event::Ready {
                instance: InstanceId(0),
                incarnation: 0,
            },
            Event::Probe {
                instance: InstanceId(0),
            },
            Event::ProbeTimeout {
                instance: InstanceId(0),
                seq: 0,
            },
            Event::Retry {
                slot: Slot(0),
                epoch: 0,
            },
            Event::MonkeyKill { fault: FaultId(0) },
            Event::DrainEnd {
                instance: InstanceId(0),
                incarnation: 0,
            },
            Event::RollNext { fault: FaultId(0) },
            Event::WorkCut {
                slot: Slot(0),
                epoch: 0,
            },
            Event::Expire {
                slot: Slot(0),
                epoch: 0,
            },
            Event::Scale {
                service: ServiceId(0),
            },
            Event::Retire {
                instance: InstanceId(0),
                incarnation: 0,
            },
            Event::ClientConnect {
                client: ClientId(0),
            },
            Event::ClientRequest {
                client: ClientId(0),
                session: 0,
            },
            Event::DeliveryLost {
                queue: ServiceId(0),
                endpoint: EndpointId(0),
            },
            Event::Redeliver {
                queue: ServiceId(0),
                endpoint: EndpointId(0),
            },
            Event::Promote {
                service: ServiceId(0),
            },
            Event::Land {
                slot: Slot(0),
                epoch: 0,
                call: CallId(0),
            },
            Event::Thaw {
                instance: InstanceId(0),
            },
            Event::MemoryCheck {
                instance: InstanceId(0),
                check: 0,
            },
        ];
        let mut words: Vec<u64> = events.iter().map(|e| e.digest_word()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(
            words.len(),
            events.len(),
            "two kinds of event share a digest word"
        );
    }

    #[test]
    fn every_kind_of_event_is_named() {
        let fired = Event::fired_timer_word(crate::base::ids::Slot(3), 1);
        assert_eq!(Event::kind_in_words(fired), "a timeout firing");
        let arrival = Event::Arrival {
            workload: crate::base::ids::WorkloadId(0),
        };
        assert_eq!(Event::kind_in_words(arrival.digest_word()), "an arrival");
    }

    #[test]
    fn an_event_fits_in_sixteen_bytes() {
        assert!(std::mem::size_of::<Event>() <= 16);
    }
}
