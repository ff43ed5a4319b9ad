//! State changes of components: each becomes a line of `events.jsonl`.

/// What changed. Ids index the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateChange {
    /// An instance rejected a request: every worker busy, queue full.
    QueueFull {
        instance: u32,
    },
    /// The instance's queue drained to half after being full.
    QueueRecovered {
        instance: u32,
    },
    /// A caller instance found every connection of its pool to a callee in
    /// use and had to wait or fail.
    PoolExhausted {
        pool_group: u32,
        caller_instance: u32,
    },
    /// The pool's use fell to half with nobody waiting.
    PoolRecovered {
        pool_group: u32,
        caller_instance: u32,
    },
    /// A fault of the scenario began (index into the scenario's faults).
    FaultStarted {
        fault: u32,
    },
    FaultEnded {
        fault: u32,
    },
    /// A stop guard tripped (index into the scenario's guards): the
    /// experiment stops, its faults are rolled back.
    ExperimentStopped {
        guard: u32,
    },
    /// A fault in force ended early: a stop guard rolled it back.
    FaultRolledBack {
        fault: u32,
    },
    /// An instance was killed by a fault; `host_down`: it vanished rather
    /// than refusing connections.
    InstanceKilled {
        instance: u32,
        fault: u32,
        host_down: bool,
    },
    /// The instance's zone went out: it is unreachable.
    InstanceUnreachable {
        instance: u32,
        fault: u32,
    },
    /// The instance is reachable again after its zone came back.
    InstanceReachable {
        instance: u32,
    },
    /// The supervisor started a new process; it boots before serving.
    InstanceRestarting {
        instance: u32,
    },
    /// The instance booted and accepts work.
    InstanceReady {
        instance: u32,
    },
    /// A replica's staleness was above its service's `lag_alert` at a
    /// window's end (`lag_ms` then).
    ReplicaLagging {
        instance: u32,
        lag_ms: u32,
    },
    /// A lagging replica's staleness is back below the alert.
    ReplicaCaughtUp {
        instance: u32,
    },
    /// A graceful stop began: out of its balancer, the instance finishes
    /// what it holds. `fault`: the rolling restart that stops it; `None`:
    /// its memory reached the restart threshold.
    InstanceDraining {
        instance: u32,
        fault: Option<u32>,
    },
    /// A graceful stop ended (`drained`: after draining; otherwise abruptly,
    /// the service having no `drain`): `reset` requests it still held were
    /// reset, and a new process boots.
    InstanceStopped {
        instance: u32,
        drained: bool,
        reset: u32,
    },
    /// Health checks failed enough times: the balancer stopped routing to it.
    Ejected {
        instance: u32,
    },
    /// Health checks passed enough times: the balancer routes to it again.
    Readmitted {
        instance: u32,
    },
    /// The autoscaler grew the fleet to `instances`.
    ScaledOut {
        service: u32,
        instances: u32,
    },
    /// The autoscaler shrank the fleet to `instances`.
    ScaledIn {
        service: u32,
        instances: u32,
    },
    /// A replicated database lost its primary.
    PrimaryLost {
        instance: u32,
    },
    /// A replica became the primary; the writes it had not received are lost.
    PrimaryPromoted {
        instance: u32,
        lost_writes: u32,
    },
    /// No replica was up to promote.
    FailoverFailed {
        service: u32,
    },
    /// The lost primary came back before its loss was detected (or after a
    /// failover found no replica to promote): the primary again.
    FailoverCancelled {
        instance: u32,
    },
    /// The instance froze (a long GC pause, a hung host).
    InstanceFrozen {
        instance: u32,
        fault: u32,
    },
    InstanceThawed {
        instance: u32,
    },
    /// Memory crossed an alert threshold (percent of the limit).
    MemoryAlert {
        instance: u32,
        percent: u32,
    },
    /// Memory reached the limit: the process was killed.
    OomKilled {
        instance: u32,
    },
    /// The circuit breaker of `instance` for call site `call` opened: calls
    /// fail at once, unsent.
    BreakerOpened {
        call: u32,
        instance: u32,
    },
    /// Its open time is up: a few test calls go through.
    BreakerHalfOpen {
        call: u32,
        instance: u32,
    },
    /// The test calls succeeded: calls flow again.
    BreakerClosed {
        call: u32,
        instance: u32,
    },
    /// `count` connected clients of `group` lost their connection to
    /// `instance` (it died, or refused them): they reconnect with backoff.
    ClientsDisconnected {
        group: u32,
        instance: u32,
        count: u32,
    },
    /// Every client of `group` is connected again, after `attempts`
    /// reconnect attempts since the group was last whole.
    ClientsReconnected {
        group: u32,
        attempts: u32,
    },
}

impl StateChange {
    /// The same change with its fault index, if it has one, renumbered.
    pub fn with_fault(self, renumber: impl Fn(u32) -> u32) -> StateChange {
        let mut change = self;
        match &mut change {
            StateChange::FaultStarted { fault }
            | StateChange::FaultEnded { fault }
            | StateChange::FaultRolledBack { fault }
            | StateChange::InstanceKilled { fault, .. }
            | StateChange::InstanceUnreachable { fault, .. }
            | StateChange::InstanceFrozen { fault, .. }
            | StateChange::InstanceDraining {
                fault: Some(fault), ..
            } => *fault = renumber(*fault),
            _ => {}
        }
        change
    }

    pub fn name(&self) -> &'static str {
        match self {
            StateChange::QueueFull { .. } => "queue_full",
            StateChange::QueueRecovered { .. } => "queue_recovered",
            StateChange::PoolExhausted { .. } => "pool_exhausted",
            StateChange::PoolRecovered { .. } => "pool_recovered",
            StateChange::FaultStarted { .. } => "fault_started",
            StateChange::FaultEnded { .. } => "fault_ended",
            StateChange::ExperimentStopped { .. } => "experiment_stopped",
            StateChange::FaultRolledBack { .. } => "fault_rolled_back",
            StateChange::InstanceKilled { .. } => "instance_killed",
            StateChange::InstanceUnreachable { .. } => "instance_unreachable",
            StateChange::InstanceReachable { .. } => "instance_reachable",
            StateChange::InstanceRestarting { .. } => "instance_restarting",
            StateChange::InstanceReady { .. } => "instance_ready",
            StateChange::InstanceDraining { .. } => "instance_draining",
            StateChange::ReplicaLagging { .. } => "replica_lagging",
            StateChange::ReplicaCaughtUp { .. } => "replica_caught_up",
            StateChange::InstanceStopped { .. } => "instance_stopped",
            StateChange::Ejected { .. } => "ejected",
            StateChange::Readmitted { .. } => "readmitted",
            StateChange::ScaledOut { .. } => "scaled_out",
            StateChange::ScaledIn { .. } => "scaled_in",
            StateChange::PrimaryLost { .. } => "primary_lost",
            StateChange::PrimaryPromoted { .. } => "primary_promoted",
            StateChange::FailoverFailed { .. } => "failover_failed",
            StateChange::FailoverCancelled { .. } => "failover_cancelled",
            StateChange::InstanceFrozen { .. } => "instance_frozen",
            StateChange::InstanceThawed { .. } => "instance_thawed",
            StateChange::MemoryAlert { .. } => "memory_alert",
            StateChange::OomKilled { .. } => "oom_killed",
            StateChange::BreakerOpened { .. } => "breaker_opened",
            StateChange::BreakerHalfOpen { .. } => "breaker_half_open",
            StateChange::BreakerClosed { .. } => "breaker_closed",
            StateChange::ClientsDisconnected { .. } => "clients_disconnected",
            StateChange::ClientsReconnected { .. } => "clients_reconnected",
        }
    }

    /// Words folded into the trace digest.
    pub fn digest_words(&self) -> [u64; 2] {
        match *self {
            StateChange::QueueFull { instance } => [1, instance as u64],
            StateChange::QueueRecovered { instance } => [2, instance as u64],
            StateChange::PoolExhausted {
                pool_group,
                caller_instance,
            } => [3, (pool_group as u64) << 32 | caller_instance as u64],
            StateChange::PoolRecovered {
                pool_group,
                caller_instance,
            } => [4, (pool_group as u64) << 32 | caller_instance as u64],
            StateChange::FaultStarted { fault } => [5, fault as u64],
            StateChange::FaultEnded { fault } => [6, fault as u64],
            StateChange::ExperimentStopped { guard } => [33, guard as u64],
            StateChange::FaultRolledBack { fault } => [34, fault as u64],
            StateChange::InstanceKilled {
                instance,
                fault,
                host_down,
            } => [
                7 | (host_down as u64) << 8,
                (fault as u64) << 32 | instance as u64,
            ],
            StateChange::InstanceUnreachable { instance, fault } => {
                [8, (fault as u64) << 32 | instance as u64]
            }
            StateChange::InstanceReachable { instance } => [9, instance as u64],
            StateChange::InstanceRestarting { instance } => [10, instance as u64],
            StateChange::InstanceReady { instance } => [11, instance as u64],
            StateChange::ReplicaLagging { instance, lag_ms } => {
                [31, (lag_ms as u64) << 32 | instance as u64]
            }
            StateChange::ReplicaCaughtUp { instance } => [32, instance as u64],
            StateChange::InstanceDraining { instance, fault } => [
                29,
                (fault.map_or(0, |f| f as u64 + 1)) << 32 | instance as u64,
            ],
            StateChange::InstanceStopped {
                instance,
                drained,
                reset,
            } => [
                30 | (drained as u64) << 8,
                (reset as u64) << 32 | instance as u64,
            ],
            StateChange::Ejected { instance } => [12, instance as u64],
            StateChange::Readmitted { instance } => [13, instance as u64],
            StateChange::MemoryAlert { instance, percent } => {
                [17, (percent as u64) << 32 | instance as u64]
            }
            StateChange::OomKilled { instance } => [18, instance as u64],
            StateChange::InstanceFrozen { instance, fault } => {
                [19, (fault as u64) << 32 | instance as u64]
            }
            StateChange::InstanceThawed { instance } => [20, instance as u64],
            StateChange::PrimaryLost { instance } => [21, instance as u64],
            StateChange::ScaledOut { service, instances } => {
                [24, (instances as u64) << 32 | service as u64]
            }
            StateChange::ScaledIn { service, instances } => {
                [25, (instances as u64) << 32 | service as u64]
            }
            StateChange::PrimaryPromoted {
                instance,
                lost_writes,
            } => [22, (lost_writes as u64) << 32 | instance as u64],
            StateChange::FailoverFailed { service } => [23, service as u64],
            StateChange::FailoverCancelled { instance } => [28, instance as u64],
            StateChange::BreakerOpened { call, instance } => {
                [14, (call as u64) << 32 | instance as u64]
            }
            StateChange::BreakerHalfOpen { call, instance } => {
                [15, (call as u64) << 32 | instance as u64]
            }
            StateChange::BreakerClosed { call, instance } => {
                [16, (call as u64) << 32 | instance as u64]
            }
            StateChange::ClientsDisconnected {
                group,
                instance,
                count,
            } => [
                26 | (count as u64) << 8,
                (group as u64) << 32 | instance as u64,
            ],
            StateChange::ClientsReconnected { group, attempts } => {
                [27, (attempts as u64) << 32 | group as u64]
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateEvent {
    /// Virtual time in nanoseconds.
    pub time: u64,
    pub change: StateChange,
}
