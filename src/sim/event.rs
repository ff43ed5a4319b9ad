//! What the engine schedules. Small and `Copy`: the queue moves them by value.

/// An engine event. References to activations carry the epoch they were
/// issued at; a mismatch means the activation moved on and the event is
/// stale (lazy cancellation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next open-loop arrival of a workload.
    Arrival { workload: u32 },
    /// An activation finished its own work.
    WorkDone { slot: u32, epoch: u32 },
    /// The head of a timer lane is due.
    Timer { lane: u32 },
    /// A metrics window closes.
    WindowEnd,
}

impl Event {
    /// Stable words folded into the trace digest.
    #[inline]
    pub fn digest_word(&self) -> u64 {
        match *self {
            Event::Arrival { workload } => (1 << 60) | workload as u64,
            Event::WorkDone { slot, epoch } => (2 << 60) | ((epoch as u64) << 28) ^ slot as u64,
            Event::Timer { lane } => (3 << 60) | lane as u64,
            Event::WindowEnd => 4 << 60,
        }
    }
}
