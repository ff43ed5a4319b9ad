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
    /// A frozen instance's pause is over.
    Thaw { instance: InstanceId },
    /// A leaking instance's memory reaches its next alert or its limit.
    MemoryCheck { instance: InstanceId, check: u32 },
}

impl Event {
    /// Stable words folded into the trace digest.
    #[inline]
    pub fn digest_word(&self) -> u64 {
        match *self {
            Event::Arrival { workload } => (1 << 60) | workload.0 as u64,
            Event::WorkDone { slot, epoch } => (2 << 60) | ((epoch as u64) << 28) ^ slot.0 as u64,
            Event::Timer { lane } => (3 << 60) | lane as u64,
            Event::FaultStart { fault } => (5 << 60) | fault.0 as u64,
            Event::FaultEnd { fault } => (6 << 60) | fault.0 as u64,
            Event::Restart {
                instance,
                incarnation,
            } => (7 << 60) | ((incarnation as u64) << 32) | instance.0 as u64,
            Event::Ready {
                instance,
                incarnation,
            } => (8 << 60) | ((incarnation as u64) << 32) | instance.0 as u64,
            Event::Probe { instance } => (9 << 60) | instance.0 as u64,
            Event::ProbeTimeout { instance, seq } => {
                (10 << 60) | ((seq as u64) << 32) | instance.0 as u64
            }
            Event::Retry { slot, epoch } => (11 << 60) | ((epoch as u64) << 28) ^ slot.0 as u64,
            Event::MonkeyKill { fault } => (12 << 60) | fault.0 as u64,
            Event::Thaw { instance } => (14 << 60) | instance.0 as u64,
            Event::Promote { service } => (16 << 60) | service.0 as u64,
            Event::ClientConnect { client } => (19 << 60) | client.0 as u64,
            Event::Scale { service } => (21 << 60) | service.0 as u64,
            Event::Retire {
                instance,
                incarnation,
            } => (22 << 60) | ((incarnation as u64) << 32) | instance.0 as u64,
            Event::ClientRequest { client, session } => {
                (20 << 60) | ((session as u64) << 32) | client.0 as u64
            }
            Event::DeliveryLost { queue, endpoint } => {
                (18 << 60) | ((queue.0 as u64) << 32) | endpoint.0 as u64
            }
            Event::Redeliver { queue, endpoint } => {
                (17 << 60) | ((queue.0 as u64) << 32) | endpoint.0 as u64
            }
            Event::Land { slot, epoch, call } => {
                (15 << 60) | ((call.0 as u64) << 40) ^ ((epoch as u64) << 20) ^ slot.0 as u64
            }
            Event::MemoryCheck { instance, check } => {
                (13 << 60) | ((check as u64) << 32) | instance.0 as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events are moved by value through the heap on every push and pop:
    /// keep them small.
    #[test]
    fn an_event_fits_in_sixteen_bytes() {
        assert!(std::mem::size_of::<Event>() <= 16);
    }
}
