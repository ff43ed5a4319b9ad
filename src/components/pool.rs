//! A connection pool from one caller instance to one callee service.

use std::collections::VecDeque;

#[derive(Clone, Debug, Default)]
pub struct PoolState {
    pub in_use: u32,
    /// Callers waiting for a connection, as (slot, epoch). A waiter whose
    /// acquire timer fired stays here and is skipped when reached.
    pub waiters: VecDeque<(u32, u32)>,
    /// Waiters still waiting.
    pub live_waiters: u32,
    /// Set while the pool is exhausted, until use falls to half, so one
    /// episode is one pair of events.
    pub exhausted: bool,
}
