//! Activations — one execution of an endpoint on one instance — and the slab
//! they live in.
//!
//! Slots are reused. Each carries an `epoch` that moves on whenever its
//! activation stops waiting for something, so every timer and answer issued
//! for an older epoch is recognised as stale and dropped (lazy
//! cancellation), and a `life` that moves on only when the slot is freed.

use std::num::NonZeroU32;
use std::ops::{Index, IndexMut};

use crate::base::SimTime;
use crate::base::ids::{ClientId, EndpointId, InstanceId, ServiceId, Slot, WorkloadId};

/// Whom an activation answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Parent {
    /// A client of an open-loop workload.
    Entry(WorkloadId),
    /// The activation in `slot` made this call at `epoch`; the answer is
    /// stale if that slot's epoch has moved on.
    Call { slot: Slot, epoch: u32 },
    /// The load balancer's health probe with this sequence number.
    Probe(u32),
    /// The consumer of a queue service, delivering one item.
    Consumer(ServiceId),
    /// A connected closed-loop client.
    Client(ClientId),
    /// An entry client or a consumer that gave up: the activation runs on
    /// and answers nobody.
    Orphan,
}

/// Where an activation is, for the faults that must find it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Phase {
    #[default]
    Free,
    /// In its instance's queue.
    Queued,
    /// Holding a worker: its own work, or a call in flight.
    Working,
    /// Holding a worker and waiting in a pool for a connection.
    WaitingPool,
    /// Swallowed by an unreachable host.
    Limbo,
}

/// `Parent`'s kind, stored beside the activation's other small fields (see
/// `Activation::parent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ParentKind {
    Entry,
    Call,
    Probe,
    Consumer,
    Client,
    Orphan,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Activation {
    pub(super) epoch: u32,
    /// Moves on only when the slot is freed: what a client's timer holds.
    pub(super) life: u32,
    pub(super) phase: Phase,
    pub(super) endpoint: EndpointId,
    pub(super) instance: InstanceId,
    // The parent, flattened: as a field, `Parent` would take 12 bytes with
    // its padding and push an activation past one cache line, which every
    // request touches several times. `parent()` and `set_parent()` are
    // the only ways in and out.
    parent_kind: ParentKind,
    parent_a: u32,
    parent_b: u32,
    pub(super) arrived: SimTime,
    /// Index of the next call within the endpoint's calls.
    pub(super) next_call: u32,
    /// The pool connection this activation holds for its call.
    pub(super) pool: Option<Held>,
    /// Retries made of the current call (at most 1000, as validated: two bytes,
    /// so that an activation stays within a cache line).
    pub(super) attempt: u16,
    /// Backoff slept before the last retry (decorrelated jitter grows it).
    pub(super) last_backoff: u64,
    /// When the current attempt was sent (slow-call detection).
    pub(super) call_sent: SimTime,
    /// A call failed and its fallback let the request go on without it.
    pub(super) degraded: bool,
    /// The last call missed (a cache miss, or no answer).
    pub(super) missed: bool,
    /// The last retry of the current call was paid from a retry quota at
    /// the timeout cost (what a success gives back).
    pub(super) retried_timeout: bool,
}

/// A pool connection held: the runtime pool's index, kept plus one so that
/// `Option<Held>` is as small as the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Held(NonZeroU32);

impl Held {
    pub(super) fn new(pool: u32) -> Self {
        Held(NonZeroU32::new(pool + 1).expect("a pool index is below u32::MAX"))
    }

    pub(super) fn pool(self) -> usize {
        self.0.get() as usize - 1
    }
}

impl Activation {
    /// A new activation of `endpoint` on `instance`, arrived `now`.
    pub(super) fn new(
        endpoint: EndpointId,
        instance: InstanceId,
        parent: Parent,
        now: SimTime,
    ) -> Self {
        let mut activation = Activation {
            epoch: 0,
            life: 0,
            phase: Phase::Limbo,
            endpoint,
            instance,
            parent_kind: ParentKind::Orphan,
            parent_a: 0,
            parent_b: 0,
            arrived: now,
            next_call: 0,
            pool: None,
            attempt: 0,
            last_backoff: 0,
            call_sent: SimTime::ZERO,
            degraded: false,
            missed: false,
            retried_timeout: false,
        };
        activation.set_parent(parent);
        activation
    }

    /// Whom it answers.
    #[inline]
    pub(super) fn parent(&self) -> Parent {
        let (a, b) = (self.parent_a, self.parent_b);
        match self.parent_kind {
            ParentKind::Entry => Parent::Entry(WorkloadId(a)),
            ParentKind::Call => Parent::Call {
                slot: Slot(a),
                epoch: b,
            },
            ParentKind::Probe => Parent::Probe(a),
            ParentKind::Consumer => Parent::Consumer(ServiceId(a)),
            ParentKind::Client => Parent::Client(ClientId(a)),
            ParentKind::Orphan => Parent::Orphan,
        }
    }

    #[inline]
    pub(super) fn set_parent(&mut self, parent: Parent) {
        (self.parent_kind, self.parent_a, self.parent_b) = match parent {
            Parent::Entry(workload) => (ParentKind::Entry, workload.0, 0),
            Parent::Call { slot, epoch } => (ParentKind::Call, slot.0, epoch),
            Parent::Probe(seq) => (ParentKind::Probe, seq, 0),
            Parent::Consumer(queue) => (ParentKind::Consumer, queue.0, 0),
            Parent::Client(client) => (ParentKind::Client, client.0, 0),
            Parent::Orphan => (ParentKind::Orphan, 0, 0),
        };
    }

    /// Whether an answer or timer issued at `epoch` is still awaited.
    #[inline]
    pub(super) fn awaits(&self, epoch: u32) -> bool {
        self.epoch == epoch
    }
}

/// The slab of activations, with the counts a run reports.
/// An activation's cache key: the key its current call to a cache asks
/// for, and, after a miss, the store (plus one; 0: none) that its next
/// call's answer fills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct KeyRef {
    pub(super) key: u32,
    pub(super) fill: u32,
}

/// What an activation carries beside the slab, in models that need it.
#[derive(Clone, Copy, Debug)]
struct Side {
    deadline: SimTime,
    key: KeyRef,
}

impl Side {
    const NEW: Side = Side {
        deadline: SimTime::NEVER,
        key: KeyRef { key: 0, fill: 0 },
    };
}

#[derive(Debug, Default)]
pub(super) struct Activations {
    slab: Vec<Activation>,
    free: Vec<Slot>,
    /// Per slot, what only some models need — the deadline of the request
    /// its activation works for (a deadline passed down) and its cache key
    /// — kept beside the slab so that an activation stays one cache line;
    /// one table, so that a model with neither pays one branch.
    side: Option<Vec<Side>>,
    /// Alive now.
    pub(super) live: u64,
    /// Most alive at once.
    pub(super) peak: u64,
    /// Ever created.
    pub(super) created: u64,
}

impl Activations {
    /// Places a new activation in a free slot (keeping the slot's epoch and
    /// life, which only grow) or a new one.
    #[inline]
    pub(super) fn allocate(&mut self, mut activation: Activation) -> Slot {
        self.live += 1;
        self.created += 1;
        self.peak = self.peak.max(self.live);
        let slot = match self.free.pop() {
            Some(slot) => {
                let old = &mut self.slab[slot.index()];
                activation.epoch = old.epoch;
                activation.life = old.life;
                *old = activation;
                slot
            }
            None => {
                self.slab.push(activation);
                Slot((self.slab.len() - 1) as u32)
            }
        };
        if let Some(side) = &mut self.side {
            side.resize(self.slab.len(), Side::NEW);
            side[slot.index()] = Side::NEW;
        }
        slot
    }

    /// Keeps a deadline and a cache key per activation from now on (a
    /// model that passes deadlines down, or has caches with keys).
    pub(super) fn keep_side(&mut self) {
        self.side = Some(Vec::new());
    }

    /// The activation's cache key and pending fill (none without keyed
    /// caches).
    #[inline]
    pub(super) fn key(&self, slot: Slot) -> KeyRef {
        match &self.side {
            Some(side) => side[slot.index()].key,
            None => KeyRef::default(),
        }
    }

    #[inline]
    pub(super) fn key_mut(&mut self, slot: Slot) -> Option<&mut KeyRef> {
        self.side.as_mut().map(|side| &mut side[slot.index()].key)
    }

    /// When the request the activation works for expires; never without a
    /// deadline.
    #[inline(always)]
    pub(super) fn deadline(&self, slot: Slot) -> SimTime {
        match &self.side {
            Some(side) => side[slot.index()].deadline,
            None => SimTime::NEVER,
        }
    }

    pub(super) fn set_deadline(&mut self, slot: Slot, deadline: SimTime) {
        if let Some(side) = &mut self.side {
            side[slot.index()].deadline = deadline;
        }
    }

    /// Frees a slot; moving its epoch and life on makes every outstanding
    /// reference to it stale.
    #[inline]
    pub(super) fn release(&mut self, slot: Slot) {
        let a = &mut self.slab[slot.index()];
        a.epoch += 1;
        a.life += 1;
        a.phase = Phase::Free;
        self.free.push(slot);
        self.live -= 1;
    }
}

impl Activations {
    /// The activations on `instance` that are queued or hold a worker, in
    /// slot order: deterministic, whatever order they arrived in.
    pub(super) fn busy_on(&self, instance: InstanceId) -> Vec<Slot> {
        self.slab
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.instance == instance && !matches!(a.phase, Phase::Free | Phase::Limbo)
            })
            .map(|(slot, _)| Slot(slot as u32))
            .collect()
    }
}

impl Activations {
    /// Every activation alive, in slot order.
    pub(super) fn alive(&self) -> impl Iterator<Item = &Activation> {
        self.slab.iter().filter(|a| a.phase != Phase::Free)
    }
}

impl Index<Slot> for Activations {
    type Output = Activation;
    #[inline]
    fn index(&self, slot: Slot) -> &Activation {
        &self.slab[slot.index()]
    }
}

impl IndexMut<Slot> for Activations {
    #[inline]
    fn index_mut(&mut self, slot: Slot) -> &mut Activation {
        &mut self.slab[slot.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request touches its activation several times: keep it within
    /// one cache line.
    #[test]
    fn an_activation_fits_in_a_cache_line() {
        assert!(
            std::mem::size_of::<Activation>() <= 64,
            "{}",
            std::mem::size_of::<Activation>()
        );
    }
}
