//! Caches with keys, cache-aside: a call to a cache asks for a key drawn
//! by popularity and is routed by it; the instance's answer is a hit when
//! it holds the key fresh, a miss otherwise; after a miss, the caller's
//! next call (the read behind the cache, `"when": "miss"`) stores the key
//! when it succeeds. With coalescing, a miss on a key another caller is
//! already reading waits for that read instead of making its own, and is
//! answered when the key is stored (or, if that read fails, takes its
//! place). The hit ratio is what comes out of this, never an input.

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

use super::activation::Parent;
use super::engine::{Dispatched, Engine};
use crate::base::ids::{EndpointId, InstanceId, Slot};
use crate::base::rng::stream;
use crate::base::{ErrorClass, Outcome};
use crate::components::cache::{KeyStore, Lookup};
use crate::observe::Observer;
use crate::topology::{Keys, Topology};

/// A caller waiting for another caller's read of `key` (a coalesced
/// miss): its call is answered when the key is stored.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    key: u32,
    slot: Slot,
    epoch: u32,
}

/// Per cache endpoint with keys, over the run after the warm-up (the
/// store's evictions and expiries, over the whole run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheTotals {
    pub lookups: u64,
    pub hits: u64,
    /// Lookups that did not find their key, coalesced ones included.
    pub misses: u64,
    /// Of the misses, those that waited for another caller's read.
    pub coalesced: u64,
    pub evicted: u64,
    pub expired: u64,
    /// Keys dropped by `cache_flush` faults.
    pub flushed: u64,
}

#[derive(Debug, Default)]
pub(super) struct Caches {
    /// The model has a cache with keys: the hooks on the request path run.
    pub(super) active: bool,
    /// One per instance of each endpoint with keys (`Keys::first` + rank).
    stores: Vec<KeyStore>,
    /// Per store, its endpoint.
    endpoint_of: Vec<EndpointId>,
    /// Per store, the coalesced misses waiting on its keys.
    waiting: Vec<Vec<Waiter>>,
    /// Per endpoint with keys: their popularity and the stream it draws
    /// from (`endpoint/<name>/keys`).
    popularity: Vec<Option<(Zipf<f64>, ChaCha8Rng)>>,
    /// Callers to answer once a store's waiters are sorted out (kept to
    /// reuse its allocation).
    scratch: Vec<(Slot, u32)>,
    /// Per endpoint.
    pub(super) totals: Vec<CacheTotals>,
}

impl Caches {
    pub(super) fn new(topo: &Topology, seed: u64) -> Self {
        let mut caches = Caches {
            popularity: vec![None; topo.endpoints.len()],
            totals: vec![CacheTotals::default(); topo.endpoints.len()],
            ..Caches::default()
        };
        for (e, endpoint) in topo.endpoints.iter().enumerate() {
            let Some(keys) = endpoint.keys else { continue };
            caches.active = true;
            let zipf = Zipf::new(f64::from(keys.count), keys.zipf)
                .expect("validated: at least one key, an exponent from 0 to 10");
            let rng = stream(seed, &format!("endpoint/{}/keys", endpoint.full_name));
            caches.popularity[e] = Some((zipf, rng));
            for _ in topo.services[endpoint.service].instances.clone() {
                caches.stores.push(KeyStore::new(keys.count));
                caches.endpoint_of.push(EndpointId(e as u32));
                caches.waiting.push(Vec::new());
            }
        }
        caches
    }

    /// A key of `endpoint`, by popularity: rank 0 is the most asked for.
    fn draw(&mut self, endpoint: EndpointId, count: u32) -> u32 {
        let (zipf, rng) = self.popularity[endpoint.index()]
            .as_mut()
            .expect("drawn only for an endpoint with keys");
        (zipf.sample(rng) as u32).clamp(1, count) - 1
    }

    /// The totals, with each endpoint's stores' evictions and expiries.
    pub(super) fn totals(&self) -> Vec<CacheTotals> {
        let mut totals = self.totals.clone();
        for (store, endpoint) in self.stores.iter().zip(&self.endpoint_of) {
            totals[endpoint.index()].evicted += store.evicted;
            totals[endpoint.index()].expired += store.expired;
        }
        totals
    }
}

impl<O: Observer> Engine<'_, O> {
    fn store_index(&self, keys: Keys, instance: InstanceId) -> usize {
        (keys.first + self.rank(instance)) as usize
    }

    /// Sends a call to a cache with keys: a first attempt draws its key
    /// (a retry asks for the same one), and the key picks the instance
    /// that holds it, when the cache is routed by key and that instance
    /// is routable; otherwise the balancer picks, as for any call.
    pub(super) fn dispatch_keyed(
        &mut self,
        endpoint: EndpointId,
        slot: Slot,
        epoch: u32,
    ) -> Result<Dispatched, ErrorClass> {
        let keys = self.topo.endpoints[endpoint]
            .keys
            .expect("a keyed call's callee has keys");
        if self.acts[slot].attempt == 0 {
            let key = self.caches.draw(endpoint, keys.count);
            if let Some(r) = self.acts.key_mut(slot) {
                r.key = key;
            }
        }
        let parent = Parent::Call { slot, epoch };
        if keys.by_key {
            let service = &self.topo.services[self.topo.endpoints[endpoint].service];
            let n = service.instances.len() as u32;
            let home = InstanceId(service.instances.start + self.acts.key(slot).key % n);
            if self.instances[home].routable {
                return self.route_to(endpoint, Some(home), parent);
            }
        }
        self.dispatch(endpoint, parent)
    }

    /// A cache with keys answered a caller's call: looks the key up where
    /// it was answered. Returns `true` when the answer is held back (a
    /// coalesced miss waits for another caller's read).
    pub(super) fn cache_answered(
        &mut self,
        caller: Slot,
        epoch: u32,
        endpoint: EndpointId,
        instance: InstanceId,
        keys: Keys,
    ) -> bool {
        let key = self.acts.key(caller).key;
        let store = self.store_index(keys, instance);
        let measured = self.measured(self.now);
        let lookup = self.caches.stores[store].lookup(key, self.now.ns(), keys.ttl);
        let window = &mut self.meters.endpoint[endpoint];
        let totals = &mut self.caches.totals[endpoint.index()];
        if measured {
            totals.lookups += 1;
        }
        if lookup == Lookup::Hit {
            window.hits += 1;
            totals.hits += u64::from(measured);
            self.acts[caller].missed = false;
            return false;
        }
        window.misses += 1;
        totals.misses += u64::from(measured);
        if keys.coalesce {
            if self.caches.stores[store].reading(key) {
                totals.coalesced += u64::from(measured);
                self.caches.waiting[store].push(Waiter {
                    key,
                    slot: caller,
                    epoch,
                });
                return true;
            }
            self.caches.stores[store].set_reading(key, true);
        }
        self.acts[caller].missed = true;
        if let Some(r) = self.acts.key_mut(caller) {
            r.fill = store as u32 + 1;
        }
        false
    }

    /// The read after a miss succeeded: the key is stored where it missed
    /// (if that process still runs), and the callers waiting for it are
    /// answered with a hit.
    pub(super) fn fill(&mut self, slot: Slot) {
        let Some((store, key)) = self.take_fill(slot) else {
            return;
        };
        let endpoint = self.caches.endpoint_of[store];
        let keys = self.topo.endpoints[endpoint]
            .keys
            .expect("a store's endpoint has keys");
        let service = &self.topo.services[self.topo.endpoints[endpoint].service];
        let instance = InstanceId(service.instances.start + (store as u32 - keys.first));
        if self.instances[instance].process == crate::components::instance::Process::Running {
            self.caches.stores[store].store(key, self.now.ns(), keys.capacity);
        }
        self.caches.stores[store].set_reading(key, false);
        self.release_waiters(store, key, true);
    }

    /// The caller will not store the key it missed (its read failed, was
    /// skipped, or it ended): the first caller waiting for that key reads
    /// it instead; with none, nobody is reading it any more.
    pub(super) fn abandon_fill(&mut self, slot: Slot) {
        if let Some((store, key)) = self.take_fill(slot) {
            self.release_waiters(store, key, false);
        }
    }

    /// The store the activation's read is to fill and the key, if any;
    /// clears it.
    fn take_fill(&mut self, slot: Slot) -> Option<(usize, u32)> {
        let r = self.acts.key_mut(slot)?;
        let fill = std::mem::take(&mut r.fill);
        (fill != 0).then(|| (fill as usize - 1, r.key))
    }

    /// The stores of the instance, one per endpoint of its service that
    /// keeps keys.
    fn stores_of(&self, instance: InstanceId) -> Vec<(usize, EndpointId)> {
        let service = &self.topo.services[self.topo.instances[instance].service];
        service
            .endpoints
            .clone()
            .filter_map(|e| {
                let keys = self.topo.endpoints[e as usize].keys?;
                Some((self.store_index(keys, instance), EndpointId(e)))
            })
            .collect()
    }

    /// Answers the callers waiting on `key` in `store`: all with a hit
    /// when it was stored; otherwise the first still waiting takes over
    /// the read (answered with a miss, it reads and stores the key) and
    /// the others wait on. Callers that gave up meanwhile are dropped.
    fn release_waiters(&mut self, store: usize, key: u32, stored: bool) {
        let mut answer = std::mem::take(&mut self.caches.scratch);
        answer.clear();
        let acts = &self.acts;
        let mut taken_over = false;
        self.caches.waiting[store].retain(|w| {
            if !acts[w.slot].awaits(w.epoch) {
                return false;
            }
            if w.key != key || (!stored && taken_over) {
                return true;
            }
            taken_over = !stored;
            answer.push((w.slot, w.epoch));
            false
        });
        if !stored && !taken_over {
            self.caches.stores[store].set_reading(key, false);
        }
        for &(slot, epoch) in &answer {
            self.acts[slot].missed = !stored;
            if !stored && let Some(r) = self.acts.key_mut(slot) {
                r.fill = store as u32 + 1;
            }
            self.deliver(slot, epoch, Outcome::Ok);
        }
        self.caches.scratch = answer;
    }

    /// The instance's process is gone or new: the callers waiting on its
    /// keys hear their connection reset, and a new process holds nothing.
    pub(super) fn caches_reset(&mut self, instance: InstanceId, forget: bool) {
        if !self.caches.active {
            return;
        }
        for (store, _) in self.stores_of(instance) {
            let waiting = std::mem::take(&mut self.caches.waiting[store]);
            for w in waiting {
                if self.acts[w.slot].awaits(w.epoch) {
                    self.deliver(w.slot, w.epoch, Outcome::Err(ErrorClass::Refused));
                }
            }
            if forget {
                self.caches.stores[store].clear();
            }
        }
    }

    /// A `cache_flush` fault: every key of the instance's stores dropped;
    /// reads under way still store theirs.
    pub(super) fn flush_caches(&mut self, instance: InstanceId) {
        for (store, endpoint) in self.stores_of(instance) {
            let dropped = self.caches.stores[store].flush();
            self.caches.totals[endpoint.index()].flushed += u64::from(dropped);
        }
    }
}
