//! A connection pool from one caller instance to one callee service.
//!
//! The pool keeps its own books (connections in use, callers waiting, the
//! exhausted episode) and answers each request with an outcome; the engine
//! acts on the outcome (sends the call, arms the acquire timer, fails the
//! call, records the state change), so the bookkeeping lives in one place.

use std::collections::VecDeque;

use crate::base::ids::Slot;

/// A caller waiting for a connection: its slab slot and the epoch it
/// waited at. A waiter whose acquire timer fired stays queued and is
/// skipped when reached (lazy cancellation).
pub type Waiter = (Slot, u32);

#[derive(Clone, Debug, Default)]
pub struct PoolState {
    in_use: u32,
    waiters: VecDeque<Waiter>,
    /// Waiters still waiting.
    live_waiters: u32,
    /// Set while the pool is exhausted, until use falls to half, so one
    /// episode is one pair of events.
    exhausted: bool,
}

/// What asking for a connection gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// A connection is the caller's.
    Granted,
    /// Every connection is in use; `newly`: this request began an exhausted
    /// episode (worth one state change).
    Exhausted { newly: bool },
}

/// What giving a connection back did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// The connection went straight to this waiter, which may now send.
    HandedOver(Waiter),
    /// The connection is free; `recovered`: the exhausted episode is over.
    Freed { recovered: bool },
}

impl PoolState {
    /// Connections in use.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Callers still waiting for a connection.
    pub fn live_waiters(&self) -> u32 {
        self.live_waiters
    }

    /// Takes a connection if one of `size` is free.
    pub fn acquire(&mut self, size: u32) -> Acquire {
        if self.in_use < size {
            self.in_use += 1;
            return Acquire::Granted;
        }
        let newly = !self.exhausted;
        self.exhausted = true;
        Acquire::Exhausted { newly }
    }

    /// Queues a caller for the next connection given back.
    pub fn wait(&mut self, waiter: Waiter) {
        self.waiters.push_back(waiter);
        self.live_waiters += 1;
    }

    /// A waiter stopped waiting (its acquire timer fired, or it died); its
    /// entry stays queued and is skipped when reached.
    pub fn leave(&mut self) {
        self.live_waiters -= 1;
    }

    /// Gives a connection back: to the oldest waiter still waiting (as
    /// `is_waiting` judges a queued entry), or to the pool.
    pub fn release(&mut self, size: u32, mut is_waiting: impl FnMut(Waiter) -> bool) -> Release {
        while let Some(waiter) = self.waiters.pop_front() {
            if is_waiting(waiter) {
                self.live_waiters -= 1;
                return Release::HandedOver(waiter);
            }
        }
        self.in_use -= 1;
        // Hysteresis: the episode ends only when use falls to half.
        let recovered = self.exhausted && self.live_waiters == 0 && self.in_use <= size / 2;
        if recovered {
            self.exhausted = false;
        }
        Release::Freed { recovered }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_reports_one_episode_and_hands_connections_to_live_waiters_in_order() {
        let mut pool = PoolState::default();
        assert_eq!(pool.acquire(2), Acquire::Granted);
        assert_eq!(pool.acquire(2), Acquire::Granted);
        assert_eq!(pool.acquire(2), Acquire::Exhausted { newly: true });
        pool.wait((Slot(7), 0));
        assert_eq!(pool.acquire(2), Acquire::Exhausted { newly: false });
        pool.wait((Slot(8), 3));
        pool.wait((Slot(9), 1));
        // Waiter 7 gave up: its entry is skipped, 8 gets the connection.
        pool.leave();
        let live = |(slot, _): Waiter| slot != Slot(7);
        assert_eq!(pool.release(2, live), Release::HandedOver((Slot(8), 3)));
        assert_eq!(pool.release(2, live), Release::HandedOver((Slot(9), 1)));
        assert_eq!(pool.live_waiters(), 0);
        assert_eq!(pool.in_use(), 2);
        // Use falls to half (1 of 2): the episode is over, once.
        assert_eq!(pool.release(2, live), Release::Freed { recovered: true });
        assert_eq!(pool.release(2, live), Release::Freed { recovered: false });
        assert_eq!(pool.in_use(), 0);
    }
}
