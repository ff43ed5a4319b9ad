//! A service instance: a pool of workers and a bounded queue served in its
//! service's order (FIFO, LIFO or adaptive LIFO), a process that can die or
//! vanish, and its load balancer's view of its health.

use std::collections::VecDeque;

use crate::base::ids::Slot;
use crate::base::{Outcome, SimTime};
use crate::topology::{QueueOrder, TimerKind};

/// The process behind an instance, as its callers experience it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Process {
    #[default]
    Running,
    /// Dead, restarting or booting: the host refuses connections at once.
    Dead,
    /// The host is gone: connections go unanswered until the caller's
    /// timeout.
    Unreachable,
}

/// Health-check bookkeeping of one instance.
#[derive(Clone, Copy, Debug, Default)]
pub struct Probing {
    /// Sequence number of the unanswered probe, if one is out.
    pub outstanding: Option<u32>,
    /// When the outstanding probe times out.
    pub deadline: SimTime,
    pub next_seq: u32,
    pub failures: u32,
    pub successes: u32,
}

#[derive(Clone, Debug)]
pub struct InstanceState {
    /// Workers currently holding a request (its own work and its calls).
    pub busy: u32,
    /// Activations waiting for a worker, oldest first.
    pub queue: VecDeque<Slot>,
    /// When the queue last went from empty to non-empty: it has stood since
    /// (while it is non-empty).
    pub nonempty_since: SimTime,
    /// Whether the load balancer routes to it. Health checks clear and set
    /// it; without them it stays set, dead or alive — the balancer does not
    /// know.
    pub routable: bool,
    pub process: Process,
    /// The instance's zone is out: unreachable whatever its process.
    pub zone_down: bool,
    /// Moves on at every death and restart, so a pending restart of an
    /// earlier life is recognised as stale.
    pub incarnation: u32,
    /// Product of active CPU-stress factors on its work times.
    pub cpu_factor: f64,
    pub probing: Probing,
    /// Activations swallowed by an unreachable host: nobody works on them
    /// and nobody answers until the host comes back and resets them.
    pub limbo: Vec<Slot>,
    /// Memory leaked by the running process up to `leak_since` (bytes).
    pub leaked: f64,
    /// Bytes per nanosecond leaked while leak faults are active.
    pub leak_rate: f64,
    pub leak_since: SimTime,
    /// Bytes leaked per completed request while leak faults are active.
    pub leak_per_request: u64,
    /// Memory alerts already raised by this process.
    pub alerts_fired: u32,
    /// Moves on to cancel a scheduled memory check.
    pub memory_check: u32,
    /// Part of the fleet: false for an autoscaler's spare slot.
    pub provisioned: bool,
    /// A new process is booting (down until it is ready, but on its way).
    pub booting: bool,
    /// Stopping gracefully: out of its balancer, finishing what it holds.
    pub draining: bool,
    /// Frozen (a GC pause, a hung host) until this virtual time.
    /// `None` when it runs.
    pub frozen_until: Option<SimTime>,
    /// What happened to its activations while frozen, in order.
    pub deferred: Vec<Deferred>,
    /// Set from the first rejection until the load falls to half, so a
    /// saturated instance reports one `queue_full` event, not one per request.
    pub saturated: bool,
}

impl Default for InstanceState {
    fn default() -> Self {
        Self::new()
    }
}

impl InstanceState {
    pub fn new() -> Self {
        InstanceState {
            busy: 0,
            queue: VecDeque::new(),
            nonempty_since: SimTime::ZERO,
            routable: true,
            process: Process::Running,
            zone_down: false,
            incarnation: 0,
            cpu_factor: 1.0,
            probing: Probing::default(),
            limbo: Vec::new(),
            leaked: 0.0,
            leak_rate: 0.0,
            leak_since: SimTime::ZERO,
            leak_per_request: 0,
            alerts_fired: 0,
            memory_check: 0,
            provisioned: true,
            booting: false,
            draining: false,
            frozen_until: None,
            deferred: Vec::new(),
            saturated: false,
        }
    }

    /// What a caller connecting now meets.
    #[inline]
    pub fn reachability(&self) -> Process {
        if self.zone_down {
            Process::Unreachable
        } else {
            self.process
        }
    }

    /// Requests queued or in service: what a least-outstanding balancer sees.
    #[inline]
    pub fn outstanding(&self) -> u32 {
        self.busy + self.queue.len() as u32
    }

    /// Whether a new process is on its way up.
    #[inline]
    pub fn is_booting(&self) -> bool {
        self.booting
    }

    /// Whether the process is paused at `now` (a GC pause, a hung host).
    #[inline]
    pub fn is_frozen(&self, now: SimTime) -> bool {
        self.frozen_until.is_some_and(|thaw| thaw > now)
    }

    /// When a process frozen at `now` resumes; `None` if it is not frozen.
    #[inline]
    pub fn thaws_at(&self, now: SimTime) -> Option<SimTime> {
        self.frozen_until.filter(|thaw| *thaw > now)
    }

    /// What a request arriving at a running process meets: a free worker,
    /// room in the queue, or a full queue. A frozen process still accepts
    /// connections into its backlog, but starts nothing.
    #[inline]
    pub fn admission(&mut self, workers: u32, queue: u32, now: SimTime) -> Admission {
        if self.busy < workers && !self.is_frozen(now) {
            Admission::Start
        } else if (self.queue.len() as u32) < queue {
            Admission::Queue
        } else {
            let newly = !self.saturated;
            self.saturated = true;
            Admission::Full { newly }
        }
    }

    /// Puts an activation in the queue.
    #[inline]
    pub fn enqueue(&mut self, slot: Slot, now: SimTime) {
        if self.queue.is_empty() {
            self.nonempty_since = now;
        }
        self.queue.push_back(slot);
    }

    /// How long the queue has been non-empty without a break, at `now`
    /// (meaningful while it holds something, or just after its last one
    /// left).
    #[inline]
    pub fn standing_for(&self, now: SimTime) -> u64 {
        now - self.nonempty_since
    }

    /// Takes the queued activation the order serves next.
    #[inline]
    fn pop(&mut self, order: QueueOrder, now: SimTime) -> Option<Slot> {
        match order {
            QueueOrder::Fifo => self.queue.pop_front(),
            QueueOrder::Lifo => self.queue.pop_back(),
            QueueOrder::AdaptiveLifo { after } => {
                if self.standing_for(now) >= after {
                    self.queue.pop_back()
                } else {
                    self.queue.pop_front()
                }
            }
        }
    }

    /// The next queued activation to give a free worker to, if a worker is
    /// free and the process runs.
    #[inline]
    pub fn next_to_start(&mut self, workers: u32, order: QueueOrder, now: SimTime) -> Option<Slot> {
        if self.busy < workers && !self.is_frozen(now) {
            self.pop(order, now)
        } else {
            None
        }
    }

    /// A worker is done with its activation: the next queued one takes it,
    /// if the process runs. `recovered`: a saturated instance's load has
    /// fallen to half of what it can hold (hysteresis, so sustained
    /// overload is one episode, not one per request).
    #[inline]
    pub fn release_worker(
        &mut self,
        workers: u32,
        queue: u32,
        order: QueueOrder,
        now: SimTime,
    ) -> Released {
        self.busy -= 1;
        let next = if self.is_frozen(now) {
            None
        } else {
            self.pop(order, now)
        };
        // The activation handed the worker holds it from now on.
        let outstanding = self.outstanding() + next.is_some() as u32;
        let recovered = self.saturated && outstanding as u64 <= (workers as u64 + queue as u64) / 2;
        if recovered {
            self.saturated = false;
        }
        Released { next, recovered }
    }
}

/// Where a new request goes on a running instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// A worker is free: it starts now.
    Start,
    /// It waits in the queue.
    Queue,
    /// The queue is full: rejected. `newly`: the instance was not saturated
    /// before (worth one state change).
    Full { newly: bool },
}

/// What freeing a worker did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    /// The queued activation that takes the worker.
    pub next: Option<Slot>,
    /// The saturated episode is over.
    pub recovered: bool,
}

/// Something that happened to an activation while its instance was frozen,
/// handled when it thaws.
#[derive(Clone, Copy, Debug)]
pub enum Deferred {
    Answer {
        slot: Slot,
        epoch: u32,
        outcome: Outcome,
    },
    Timer {
        slot: Slot,
        epoch: u32,
        kind: TimerKind,
    },
}
