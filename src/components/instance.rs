//! A service instance: a pool of workers and a bounded FIFO queue.

use std::collections::VecDeque;

#[derive(Clone, Debug, Default)]
pub struct InstanceState {
    /// Workers currently holding a request (its own work and its calls).
    pub busy: u32,
    /// Activations waiting for a worker, oldest first.
    pub queue: VecDeque<u32>,
    /// Routable: later faults take instances down.
    pub up: bool,
    /// Set from the first rejection until the queue drains to half, so a
    /// saturated instance reports one `queue_full` event, not one per request.
    pub saturated: bool,
}

impl InstanceState {
    pub fn new() -> Self {
        InstanceState {
            up: true,
            ..Default::default()
        }
    }

    /// Requests queued or in service: what a least-outstanding balancer sees.
    #[inline]
    pub fn outstanding(&self) -> u32 {
        self.busy + self.queue.len() as u32
    }
}
