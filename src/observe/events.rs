//! State changes of components: each becomes a line of `events.jsonl`.

/// What changed. Ids index the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateChange {
    /// An instance rejected a request: every worker busy, queue full.
    QueueFull { instance: u32 },
    /// The instance's queue drained to half after being full.
    QueueRecovered { instance: u32 },
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
}

impl StateChange {
    pub fn name(&self) -> &'static str {
        match self {
            StateChange::QueueFull { .. } => "queue_full",
            StateChange::QueueRecovered { .. } => "queue_recovered",
            StateChange::PoolExhausted { .. } => "pool_exhausted",
            StateChange::PoolRecovered { .. } => "pool_recovered",
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
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateEvent {
    /// Virtual time in nanoseconds.
    pub time: u64,
    pub change: StateChange,
}
