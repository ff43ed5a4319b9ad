//! What one instance of a cache holds of its key space: the keys stored,
//! least recently used first out when it is full, each with the time it
//! was stored (for its TTL); and the keys a caller is reading from the
//! backend to store (for request coalescing).
//!
//! The key space is dense (keys are ranks `0..count`), so everything is
//! an array indexed by key: a lookup, a store and an eviction are a few
//! array reads and writes, with no hashing and no allocation once the
//! store exists. The recency order is a doubly linked list threaded
//! through the arrays.

/// No key: the end of the recency list.
const NONE: u32 = u32::MAX;

/// The answer to a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Stored and fresh.
    Hit,
    /// Not stored (or stale: it is dropped).
    Miss,
}

/// One instance's keys.
#[derive(Clone, Debug)]
pub struct KeyStore {
    /// Per key: when it was stored (ns) plus one; 0 when not stored.
    stored: Vec<u64>,
    /// Per key: the next more recently used key, and the next less.
    newer: Vec<u32>,
    older: Vec<u32>,
    newest: u32,
    oldest: u32,
    held: u32,
    /// Per key: a caller is reading it from the backend and will store it.
    reading: Vec<bool>,
    /// Keys pushed out to make room, and keys found stale, since the start.
    pub evicted: u64,
    pub expired: u64,
}

impl KeyStore {
    /// An empty store for keys `0..count`. The arrays are zeroed
    /// allocations: pages of keys never asked for are never touched.
    pub fn new(count: u32) -> Self {
        let n = count as usize;
        KeyStore {
            stored: vec![0; n],
            newer: vec![0; n],
            older: vec![0; n],
            newest: NONE,
            oldest: NONE,
            held: 0,
            reading: vec![false; n],
            evicted: 0,
            expired: 0,
        }
    }

    /// Keys held now (stale ones not yet found included).
    pub fn held(&self) -> u32 {
        self.held
    }

    /// Whether `key` is stored and younger than `ttl` at `now`; a hit makes
    /// it the most recently used, a stale one is dropped.
    pub fn lookup(&mut self, key: u32, now: u64, ttl: u64) -> Lookup {
        let k = key as usize;
        let stored = self.stored[k];
        if stored == 0 {
            return Lookup::Miss;
        }
        if now - (stored - 1) >= ttl {
            self.unlink(key);
            self.stored[k] = 0;
            self.expired += 1;
            return Lookup::Miss;
        }
        self.unlink(key);
        self.push_newest(key);
        Lookup::Hit
    }

    /// Stores `key` at `now` as the most recently used, evicting the least
    /// recently used when `capacity` keys are held already.
    pub fn store(&mut self, key: u32, now: u64, capacity: u32) {
        let k = key as usize;
        if self.stored[k] != 0 {
            self.unlink(key);
        } else {
            if self.held >= capacity {
                let victim = self.oldest;
                self.unlink(victim);
                self.stored[victim as usize] = 0;
                self.evicted += 1;
            }
        }
        self.stored[k] = now + 1;
        self.push_newest(key);
    }

    /// Whether a caller is reading `key` to store it.
    pub fn reading(&self, key: u32) -> bool {
        self.reading[key as usize]
    }

    pub fn set_reading(&mut self, key: u32, reading: bool) {
        self.reading[key as usize] = reading;
    }

    /// Drops every stored key (a flush); the reads under way go on and
    /// will store theirs. Returns how many were dropped.
    pub fn flush(&mut self) -> u32 {
        let mut key = self.newest;
        while key != NONE {
            let next = self.older[key as usize];
            self.stored[key as usize] = 0;
            key = next;
        }
        let dropped = self.held;
        self.newest = NONE;
        self.oldest = NONE;
        self.held = 0;
        dropped
    }

    /// Forgets everything, reads under way included: a new process.
    pub fn clear(&mut self) -> u32 {
        self.reading.fill(false);
        self.flush()
    }

    fn unlink(&mut self, key: u32) {
        let k = key as usize;
        let (newer, older) = (self.newer[k], self.older[k]);
        match newer {
            NONE => self.newest = older,
            n => self.older[n as usize] = older,
        }
        match older {
            NONE => self.oldest = newer,
            o => self.newer[o as usize] = newer,
        }
        self.held -= 1;
    }

    fn push_newest(&mut self, key: u32) {
        let k = key as usize;
        self.newer[k] = NONE;
        self.older[k] = self.newest;
        match self.newest {
            NONE => self.oldest = key,
            n => self.newer[n as usize] = key,
        }
        self.newest = key;
        self.held += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys from most to least recently used, walked both ways.
    fn order(store: &KeyStore) -> Vec<u32> {
        let mut forward = Vec::new();
        let mut key = store.newest;
        while key != NONE {
            forward.push(key);
            key = store.older[key as usize];
        }
        let mut backward = Vec::new();
        let mut key = store.oldest;
        while key != NONE {
            backward.push(key);
            key = store.newer[key as usize];
        }
        backward.reverse();
        assert_eq!(forward, backward, "the two directions agree");
        assert_eq!(forward.len() as u32, store.held());
        forward
    }

    #[test]
    fn the_least_recently_used_key_is_evicted() {
        let mut store = KeyStore::new(10);
        for key in [1, 2, 3] {
            store.store(key, 0, 3);
        }
        assert_eq!(store.lookup(1, 5, u64::MAX), Lookup::Hit);
        assert_eq!(order(&store), [1, 3, 2]);
        store.store(4, 6, 3);
        assert_eq!(order(&store), [4, 1, 3]);
        assert_eq!(store.evicted, 1);
        assert_eq!(store.lookup(2, 7, u64::MAX), Lookup::Miss);
        // Storing a held key again refreshes it, evicting nothing.
        store.store(3, 8, 3);
        assert_eq!(order(&store), [3, 4, 1]);
        assert_eq!(store.evicted, 1);
    }

    #[test]
    fn a_key_is_stale_from_its_ttl_on_and_is_dropped() {
        let mut store = KeyStore::new(4);
        store.store(2, 1_000, 4);
        assert_eq!(store.lookup(2, 1_999, 1_000), Lookup::Hit);
        assert_eq!(store.lookup(2, 2_000, 1_000), Lookup::Miss);
        assert_eq!(store.expired, 1);
        assert_eq!(order(&store), Vec::<u32>::new());
        // Stored at time 0, a key is still told apart from an empty slot.
        store.store(0, 0, 4);
        assert_eq!(store.lookup(0, 0, 1), Lookup::Hit);
    }

    #[test]
    fn a_flush_drops_the_keys_and_keeps_the_reads() {
        let mut store = KeyStore::new(8);
        for key in 0..5 {
            store.store(key, 0, 8);
        }
        store.set_reading(6, true);
        assert_eq!(store.flush(), 5);
        assert!((0..5).all(|k| store.lookup(k, 1, u64::MAX) == Lookup::Miss));
        assert!(store.reading(6));
        store.store(7, 2, 8);
        assert_eq!(order(&store), [7]);
        assert_eq!(store.clear(), 1);
        assert!(!store.reading(6));
    }

    proptest::proptest! {
        /// Against a plain list kept in recency order: the same hits, the
        /// same keys held, never more than the capacity.
        #[test]
        fn agrees_with_a_list_in_recency_order(
            ops in proptest::collection::vec((0u32..12, proptest::bool::ANY), 1..200),
            capacity in 1u32..8,
        ) {
            let mut store = KeyStore::new(12);
            let mut model: Vec<u32> = Vec::new();
            for (now, (key, write)) in ops.into_iter().enumerate() {
                let now = now as u64;
                if write {
                    store.store(key, now, capacity);
                    model.retain(|k| *k != key);
                    if model.len() as u32 >= capacity {
                        model.pop();
                    }
                    model.insert(0, key);
                } else {
                    let hit = model.contains(&key);
                    proptest::prop_assert_eq!(store.lookup(key, now, u64::MAX) == Lookup::Hit, hit);
                    if hit {
                        model.retain(|k| *k != key);
                        model.insert(0, key);
                    }
                }
                proptest::prop_assert_eq!(order(&store), model.clone());
                proptest::prop_assert!(store.held() <= capacity);
            }
        }
    }
}
