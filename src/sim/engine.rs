//! The engine loop and the life of a request.
//!
//! An *activation* is one execution of an endpoint on one instance. It
//! arrives at an instance chosen by the service's load balancer, waits in the
//! instance's queue, holds a worker for its own work and then for each of its
//! calls in turn (through the caller's connection pool, under the call's
//! timeout), and finally answers its parent: another activation, or a client
//! of the workload. Activations live in a slab whose slots are reused; each
//! slot carries an `epoch` that moves on whenever the activation stops
//! waiting for something, so every timer and response that was issued for
//! an older epoch is recognised as stale and dropped (lazy cancellation).

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;

use super::event::Event;
use super::queue::EventQueue;
use crate::base::rng::stream;
use crate::base::{ErrorClass, Outcome};
use crate::components::arrivals::ArrivalProcess;
use crate::components::balancer::Balancer;
use crate::components::breaker::{Breaker, Transition};
use crate::components::instance::{Deferred, InstanceState, Process};
use crate::components::pool::{Acquire, PoolState, Release};
use crate::components::retry::RetryBudget;
use crate::components::work;
use crate::faults::Fault;
use crate::faults::PartitionMode;
use crate::observe::Observer;
use crate::observe::digest::TraceDigest;
use crate::observe::events::{StateChange, StateEvent};
use crate::observe::metrics::{Level, Outcomes, Row};
use crate::observe::trace::{ActivationId, FallbackTaken, Origin, TraceEvent, Traced};
use crate::plan::RunConfig;
use crate::topology::Component;
use crate::topology::Fallback;
use crate::topology::{TimerKind, Topology};

/// Parent marker of an activation that answers a workload client.
pub(super) const ENTRY: u32 = u32::MAX;
/// Parent marker of an activation that answers a health probe; its
/// `parent_epoch` is the probe's sequence number.
pub(super) const PROBE: u32 = u32::MAX - 1;
/// Parent marker of an entry activation whose client gave up.
pub(super) const ORPHAN: u32 = u32::MAX - 2;
/// Parent marker of an activation delivering a queue item; its
/// `parent_epoch` is the queue service.
pub(super) const CONSUMER: u32 = u32::MAX - 3;
/// Parent marker of an activation sent by a connected client; its
/// `parent_epoch` is the client.
pub(super) const CLIENT: u32 = u32::MAX - 4;
/// No primary: a failover is under way.
pub(super) const NO_PRIMARY: u32 = u32::MAX;

/// Replication lag of one instance (as a replica), piecewise linear in time.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ReplicaLag {
    /// Lag (ns) at `since`, and its growth per ns from then on.
    pub(super) at: f64,
    pub(super) since: u64,
    pub(super) slope: f64,
    /// Virtual time up to which it had received the primary's writes when
    /// the primary was lost.
    pub(super) position: f64,
}

/// What `dispatch` returns for a request a partition swallowed: no
/// activation exists, and the caller waits for its timeout.
pub(super) const LOST: u32 = u32::MAX;
/// Marker of an activation that holds no pool connection.
const NO_POOL: u32 = u32::MAX;

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

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Activation {
    pub(super) epoch: u32,
    /// Moves on only when the slot is freed: what a client's timer holds.
    pub(super) life: u32,
    pub(super) phase: Phase,
    pub(super) endpoint: u32,
    pub(super) instance: u32,
    /// Slot of the calling activation, `ENTRY` or `PROBE`.
    pub(super) parent: u32,
    /// The parent's epoch when it made the call, the workload for `ENTRY`,
    /// the probe's sequence number for `PROBE`.
    pub(super) parent_epoch: u32,
    pub(super) arrived: u64,
    /// Index of the next call within the endpoint's calls.
    pub(super) next_call: u32,
    /// Runtime pool whose connection this activation holds for its call.
    pub(super) pool: u32,
    /// Retries made of the current call.
    pub(super) attempt: u32,
    /// Backoff slept before the last retry (decorrelated jitter grows it).
    pub(super) last_backoff: u64,
    /// When the current attempt was sent (slow-call detection).
    pub(super) call_sent: u64,
    /// A call failed and its fallback let the request go on without it.
    pub(super) degraded: bool,
    /// The last call missed (a cache miss, or no answer).
    pub(super) missed: bool,
}

/// A FIFO of timers of one duration: created in time order, so already
/// sorted; only its head is ever in the event heap.
#[derive(Debug)]
struct Lane {
    kind: TimerKind,
    duration: u64,
    entries: VecDeque<(u64, u32, u32)>,
    armed: bool,
}

/// Whole-run figures the engine hands back.
#[derive(Debug)]
pub struct RunSummary {
    pub events: u64,
    pub trace_digest: String,
    /// Per workload, over the windows that start at or after the warm-up.
    pub entries: Vec<Outcomes>,
    /// Requests still in the system when the run ended.
    pub in_flight_at_end: u64,
    /// Largest number of activations alive at once.
    pub peak_activations: u64,
    /// Endpoint executions started, over the whole run.
    pub activations: u64,
    /// Per service, acknowledged writes lost in failovers.
    pub lost_writes: Vec<u64>,
    /// Per service, what went through it if it is a queue.
    pub queues: Vec<super::broker::QueueTotals>,
    pub state_changes: u64,
}

pub struct Engine<'t, O: Observer> {
    pub(super) topo: &'t Topology,
    pub(super) faults: &'t [Fault],
    pub(super) fault_rngs: Vec<ChaCha8Rng>,
    /// Active latency faults per endpoint (indices into `faults`).
    pub(super) latency_faults: Vec<Vec<u32>>,
    /// Active error faults per endpoint.
    pub(super) error_faults: Vec<Vec<u32>>,
    /// Active network partitions.
    pub(super) partitions: Vec<u32>,
    /// Active network latencies between services.
    pub(super) link_faults: Vec<u32>,
    /// Per instance, its lag as a replica.
    pub(super) lags: Vec<ReplicaLag>,
    /// Per service, the current primary (replicated databases).
    pub(super) primaries: Vec<u32>,
    /// Per service, completion times of recent writes acknowledged by the
    /// primary: what a failover to a lagging replica loses.
    pub(super) recent_writes: Vec<VecDeque<u64>>,
    pub(super) lost_writes: Vec<u64>,
    /// Per service, its items if it is a queue.
    pub(super) brokers: Vec<super::broker::Broker>,
    pub(super) clients: Vec<super::clients::Client>,
    /// Per service: busy-worker area since the autoscaler's last decision,
    /// and when it last changed the fleet.
    pub(super) scaler_busy: Vec<Level>,
    pub(super) last_scaled: Vec<u64>,
    pub(super) client_rngs: Vec<ChaCha8Rng>,
    /// Chaos monkeys roaming, by fault.
    pub(super) monkeys_active: Vec<bool>,
    pub(super) config: RunConfig,
    pub(super) now: u64,
    pub(super) queue: EventQueue,
    lanes: Vec<Lane>,
    pub(super) slab: Vec<Activation>,
    free: Vec<u32>,
    live: u64,
    peak_live: u64,
    activations: u64,
    pub(super) instances: Vec<InstanceState>,
    balancers: Vec<Balancer>,
    lb_rngs: Vec<ChaCha8Rng>,
    pub(super) pools: Vec<PoolState>,
    arrivals: Vec<ArrivalProcess>,
    arrival_rngs: Vec<ChaCha8Rng>,
    work_rngs: Vec<ChaCha8Rng>,
    branch_rngs: Vec<ChaCha8Rng>,
    retry_rngs: Vec<ChaCha8Rng>,
    replica_cursor: Vec<u32>,
    hit_rngs: Vec<ChaCha8Rng>,
    breakers: Vec<Breaker>,
    budgets: Vec<RetryBudget>,
    // Metrics of the open window.
    window_start: u64,
    next_window_end: u64,
    pub(super) entry_window: Vec<Outcomes>,
    pub(super) endpoint_window: Vec<Outcomes>,
    /// Scratch for merging a service's endpoints at window close.
    service_window: Vec<Outcomes>,
    pub(super) queue_level: Vec<Level>,
    pub(super) busy_level: Vec<Level>,
    pool_in_use: Vec<Level>,
    pub(super) pool_waiting: Vec<Level>,
    pool_refused: Vec<u64>,
    rows: Vec<Row>,
    entry_totals: Vec<Outcomes>,
    digest: TraceDigest,
    events: u64,
    state_changes: u64,
    observer: O,
}

impl<'t, O: Observer> Engine<'t, O> {
    pub fn new(topo: &'t Topology, faults: &'t [Fault], config: RunConfig, observer: O) -> Self {
        let seed = config.seed;
        let per = |n: usize| (0..n).map(|_| Outcomes::default()).collect::<Vec<_>>();
        let lanes = topo
            .timer_lanes
            .iter()
            .map(|l| Lane {
                kind: l.kind,
                duration: l.duration,
                entries: VecDeque::new(),
                armed: false,
            })
            .collect();
        Engine {
            topo,
            faults,
            fault_rngs: faults
                .iter()
                .map(|f| stream(seed, &format!("fault/{}", f.name)))
                .collect(),
            latency_faults: vec![Vec::new(); topo.endpoints.len()],
            error_faults: vec![Vec::new(); topo.endpoints.len()],
            partitions: Vec::new(),
            link_faults: Vec::new(),
            lags: vec![ReplicaLag::default(); topo.instances.len()],
            primaries: topo
                .services
                .iter()
                .map(|s| s.replication.map_or(NO_PRIMARY, |r| r.primary))
                .collect(),
            recent_writes: vec![VecDeque::new(); topo.services.len()],
            lost_writes: vec![0; topo.services.len()],
            brokers: vec![super::broker::Broker::default(); topo.services.len()],
            scaler_busy: vec![Level::default(); topo.services.len()],
            last_scaled: vec![0; topo.services.len()],
            clients: vec![
                super::clients::Client::default();
                topo.client_groups.iter().map(|g| g.count as usize).sum()
            ],
            client_rngs: topo
                .client_groups
                .iter()
                .map(|g| stream(seed, &format!("clients/{}", g.name)))
                .collect(),
            monkeys_active: vec![false; faults.len()],
            config,
            now: 0,
            queue: EventQueue::new(),
            lanes,
            slab: Vec::new(),
            free: Vec::new(),
            live: 0,
            peak_live: 0,
            activations: 0,
            instances: topo
                .instances
                .iter()
                .map(|_| InstanceState::new())
                .collect(),
            balancers: vec![Balancer::default(); topo.services.len()],
            lb_rngs: topo
                .services
                .iter()
                .map(|s| stream(seed, &format!("service/{}/load-balancer", s.name)))
                .collect(),
            pools: vec![PoolState::default(); topo.pool_count()],
            arrivals: vec![ArrivalProcess::new(); topo.workloads.len()],
            arrival_rngs: topo
                .workloads
                .iter()
                .map(|w| stream(seed, &format!("workload/{}/arrivals", w.name)))
                .collect(),
            work_rngs: topo
                .endpoints
                .iter()
                .map(|e| stream(seed, &format!("endpoint/{}/work", e.full_name)))
                .collect(),
            branch_rngs: topo
                .calls
                .iter()
                .map(|c| {
                    let from = &topo.endpoints[c.from.index()].full_name;
                    stream(seed, &format!("call/{from}/{}/branch", c.name))
                })
                .collect(),
            retry_rngs: topo
                .calls
                .iter()
                .map(|c| {
                    let from = &topo.endpoints[c.from.index()].full_name;
                    stream(seed, &format!("call/{from}/{}/retry", c.name))
                })
                .collect(),
            replica_cursor: vec![0; topo.services.len()],
            hit_rngs: topo
                .endpoints
                .iter()
                .map(|e| stream(seed, &format!("endpoint/{}/hits", e.full_name)))
                .collect(),
            breakers: vec![Breaker::default(); topo.breaker_count()],
            budgets: vec![RetryBudget::default(); topo.budget_count()],
            window_start: 0,
            next_window_end: config.window,
            entry_window: per(topo.workloads.len()),
            endpoint_window: per(topo.endpoints.len()),
            service_window: per(topo.services.len()),
            queue_level: vec![Level::default(); topo.services.len()],
            busy_level: vec![Level::default(); topo.services.len()],
            pool_in_use: vec![Level::default(); topo.pool_groups.len()],
            pool_waiting: vec![Level::default(); topo.pool_groups.len()],
            pool_refused: vec![0; topo.pool_groups.len()],
            rows: Vec::new(),
            entry_totals: per(topo.workloads.len()),
            digest: TraceDigest::new(),
            events: 0,
            state_changes: 0,
            observer,
        }
    }

    /// Runs to the configured duration and returns the summary and the
    /// observer.
    pub fn run(mut self) -> (RunSummary, O) {
        for w in 0..self.topo.workloads.len() {
            self.schedule_arrival(w as u32);
        }
        self.schedule_faults_and_probes();
        self.start_clients();
        self.start_autoscalers();
        let end = self.config.duration;
        // The run covers [0, end): what is due at `end` belongs to no window.
        while end > 0
            && let Some((time, event)) = self.queue.pop_until(end - 1)
        {
            // A window closes before anything due at its end happens, so an
            // instant's events all land in the window it starts.
            while time >= self.next_window_end {
                self.now = self.next_window_end;
                self.on_window_end();
            }
            self.now = time;
            self.events += 1;
            self.digest.push_pair(time, event.digest_word());
            match event {
                Event::Arrival { workload } => self.on_arrival(workload),
                Event::WorkDone { slot, epoch } => {
                    if self.slab[slot as usize].epoch == epoch {
                        let instance = self.slab[slot as usize].instance as usize;
                        let thaw = self.instances[instance].frozen_until;
                        if thaw > self.now {
                            // Frozen mid-work: the rest of it waits for the thaw.
                            self.queue.schedule(thaw, Event::WorkDone { slot, epoch });
                        } else {
                            self.slab[slot as usize].epoch += 1;
                            self.advance(slot);
                        }
                    }
                }
                Event::Timer { lane } => self.on_timer(lane),
                Event::FaultStart { fault } => self.on_fault_start(fault),
                Event::FaultEnd { fault } => self.on_fault_end(fault),
                Event::Restart {
                    instance,
                    incarnation,
                } => self.on_restart(instance, incarnation),
                Event::Ready {
                    instance,
                    incarnation,
                } => self.on_ready(instance, incarnation),
                Event::Probe { instance } => self.on_probe(instance),
                Event::Retry { slot, epoch } => self.on_retry(slot, epoch),
                Event::MonkeyKill { fault } => self.on_monkey_kill(fault),
                Event::Thaw { instance } => self.on_thaw(instance),
                Event::Land { slot, epoch, call } => self.on_land(slot, epoch, call),
                Event::Promote { service } => self.on_promote(service),
                Event::Redeliver { queue, endpoint } => self.on_redeliver(queue, endpoint),
                Event::DeliveryLost { queue, endpoint } => self.delivered(queue, endpoint, false),
                Event::ClientConnect { client } => self.on_client_connect(client),
                Event::Scale { service } => self.on_scale(service),
                Event::Retire {
                    instance,
                    incarnation,
                } => self.on_retire(instance, incarnation),
                Event::ClientRequest { client, session } => self.on_client_request(client, session),
                Event::MemoryCheck { instance, check } => self.on_memory_check(instance, check),
                Event::ProbeTimeout { instance, seq } => self.on_probe_timeout(instance, seq),
            }
        }
        while self.next_window_end < end {
            self.now = self.next_window_end;
            self.on_window_end();
        }
        self.now = end;
        self.on_window_end();
        let summary = RunSummary {
            events: self.events,
            trace_digest: self.digest.finish(),
            entries: self.entry_totals,
            in_flight_at_end: self.live,
            peak_activations: self.peak_live,
            activations: self.activations,
            lost_writes: self.lost_writes,
            queues: self.brokers.iter().map(|b| b.totals()).collect(),
            state_changes: self.state_changes,
        };
        (summary, self.observer)
    }

    // ----- arrivals -------------------------------------------------------

    // Forced inline: once per request; see `start`.
    #[inline(always)]
    fn schedule_arrival(&mut self, workload: u32) {
        let w = workload as usize;
        let segments = &self.topo.workloads[w].segments;
        if let Some(t) = self.arrivals[w].next(segments, &mut self.arrival_rngs[w]) {
            self.queue
                .schedule_inline(t.max(self.now), Event::Arrival { workload });
        }
    }

    fn on_arrival(&mut self, workload: u32) {
        self.schedule_arrival(workload);
        let w = workload as usize;
        self.entry_window[w].arrivals += 1;
        let endpoint = self.topo.workloads[w].endpoint.0;
        match self.dispatch_inline(endpoint, ENTRY, workload) {
            Ok(slot) => {
                debug_assert_ne!(slot, LOST, "entries cross no partition");
                if let Some(lane) = self.topo.workloads[w].timeout_lane {
                    let life = self.slab[slot as usize].life;
                    self.arm(lane, slot, life);
                }
            }
            Err(class) => {
                self.entry_window[w].record_error(class);
                if O::TRACES {
                    let origin = Origin::Entry { workload };
                    self.trace(Traced::Rejected {
                        origin,
                        endpoint,
                        class,
                    });
                }
            }
        }
    }

    // ----- instances ------------------------------------------------------

    /// Routes a new activation of `endpoint` through its service's load
    /// balancer. Fails at once when no instance is routable; otherwise as
    /// `admit`.
    pub(super) fn dispatch(
        &mut self,
        endpoint: u32,
        parent: u32,
        parent_epoch: u32,
    ) -> Result<u32, ErrorClass> {
        self.dispatch_inline(endpoint, parent, parent_epoch)
    }

    /// `dispatch`, forced inline into the arrival path, which every request
    /// takes; the other callers share one out-of-line copy.
    #[inline(always)]
    fn dispatch_inline(
        &mut self,
        endpoint: u32,
        parent: u32,
        parent_epoch: u32,
    ) -> Result<u32, ErrorClass> {
        let topo = self.topo;
        let service_id = topo.endpoints[endpoint as usize].service.index();
        let service = &topo.services[service_id];
        let picked = match service.replication {
            Some(replication) => self.pick_replicated(endpoint, service_id, replication),
            None => self.balancers[service_id].pick(
                service.policy,
                service.instances.clone(),
                &self.instances,
                &mut self.lb_rngs[service_id],
            ),
        };
        let Some(instance) = picked else {
            self.endpoint_window[endpoint as usize].arrivals += 1;
            self.endpoint_window[endpoint as usize].record_error(ErrorClass::NoHealthyInstance);
            return Err(ErrorClass::NoHealthyInstance);
        };
        if !self.partitions.is_empty() && parent <= CONSUMER && parent != CLIENT {
            // A partition stands between the caller and the chosen
            // instance: the request never reaches the callee. A queue's
            // consumer runs where its queue service does.
            let caller = if parent == CONSUMER {
                topo.services[parent_epoch as usize].instances.start
            } else {
                self.slab[parent as usize].instance
            };
            match self.partition_between(caller, instance) {
                Some(PartitionMode::Drop) => return Ok(LOST),
                Some(PartitionMode::Refuse) => return Err(ErrorClass::Refused),
                None => {}
            }
        }
        self.endpoint_window[endpoint as usize].arrivals += 1;
        self.admit(endpoint, instance, parent, parent_epoch)
    }

    /// Writes go to the primary (the current one through a cluster endpoint,
    /// the first one through a fixed address); reads to a routable replica
    /// in turn, or to the primary when none is.
    fn pick_replicated(
        &mut self,
        endpoint: u32,
        service: usize,
        replication: crate::topology::Replication,
    ) -> Option<u32> {
        let primary = self.primaries[service];
        if !self.topo.endpoints[endpoint as usize].read {
            let follow = replication.failover.is_none_or(|f| f.follow);
            let target = if follow { primary } else { replication.primary };
            return (target != NO_PRIMARY).then_some(target);
        }
        let range = self.topo.services[service].instances.clone();
        let n = range.len() as u32;
        let start = self.replica_cursor[service];
        for k in 0..n {
            let candidate = range.start + (start + k) % n;
            if candidate != primary && self.instances[candidate as usize].routable {
                self.replica_cursor[service] = (start + k + 1) % n;
                return Some(candidate);
            }
        }
        (primary != NO_PRIMARY).then_some(primary)
    }

    /// Delivers a new activation of `endpoint` to `instance` (its arrival is
    /// already counted). A dead process refuses it and a full queue rejects
    /// it, at once and without creating it; an unreachable host swallows it.
    // Forced inline: every request is admitted, nearly always from
    // `dispatch`, which has just looked up what this looks up again.
    #[inline(always)]
    pub(super) fn admit(
        &mut self,
        endpoint: u32,
        instance: u32,
        parent: u32,
        parent_epoch: u32,
    ) -> Result<u32, ErrorClass> {
        let topo = self.topo;
        let service_id = topo.endpoints[endpoint as usize].service.index();
        let service = &topo.services[service_id];
        let mut activation = Activation {
            epoch: 0,
            life: 0,
            phase: Phase::Limbo,
            endpoint,
            instance,
            parent,
            parent_epoch,
            arrived: self.now,
            next_call: 0,
            pool: NO_POOL,
            attempt: 0,
            last_backoff: 0,
            call_sent: 0,
            degraded: false,
            missed: false,
        };
        match self.instances[instance as usize].reachability() {
            Process::Running => {}
            Process::Dead => {
                self.endpoint_window[endpoint as usize].record_error(ErrorClass::Refused);
                return Err(ErrorClass::Refused);
            }
            Process::Unreachable => {
                let slot = self.allocate(activation);
                self.instances[instance as usize].limbo.push(slot);
                return Ok(slot);
            }
        }
        if service
            .shed_above_queue
            .is_some_and(|above| self.instances[instance as usize].queue.len() as u32 > above)
        {
            self.endpoint_window[endpoint as usize].record_error(ErrorClass::Shed);
            return Err(ErrorClass::Shed);
        }
        if let Some(memory) = &service.memory {
            if service
                .shed_above_memory
                .is_some_and(|above| self.memory_share(instance) > above)
            {
                self.endpoint_window[endpoint as usize].record_error(ErrorClass::Shed);
                return Err(ErrorClass::Shed);
            }
            // Memory held per request: this one may be what tips it over.
            if memory.per_request > 0
                && self.memory_of(instance) + memory.per_request as f64 >= memory.limit as f64
            {
                self.instances[instance as usize].leaked += memory.per_request as f64;
                self.check_memory(instance);
                self.endpoint_window[endpoint as usize].record_error(ErrorClass::Refused);
                return Err(ErrorClass::Refused);
            }
        }
        if !self.error_faults[endpoint as usize].is_empty()
            && self.injects_error(endpoint, instance)
        {
            self.endpoint_window[endpoint as usize].record_error(ErrorClass::Injected);
            return Err(ErrorClass::Injected);
        }
        let state = &self.instances[instance as usize];
        // A frozen process still accepts connections into its backlog, but
        // starts nothing.
        let has_worker = state.busy < service.workers && state.frozen_until <= self.now;
        if !has_worker && state.queue.len() as u32 >= service.queue {
            self.endpoint_window[endpoint as usize].record_error(ErrorClass::QueueFull);
            if !self.instances[instance as usize].saturated {
                self.instances[instance as usize].saturated = true;
                self.state_change(StateChange::QueueFull { instance });
            }
            return Err(ErrorClass::QueueFull);
        }
        activation.phase = Phase::Queued;
        let slot = self.allocate(activation);
        if has_worker {
            self.start(slot);
        } else {
            self.instances[instance as usize].queue.push_back(slot);
            self.queue_level[service_id].add(self.now, 1);
        }
        Ok(slot)
    }

    /// Gives the activation a worker and schedules the end of its own work.
    // Forced inline (as are the samplers and the arrival scheduling it and
    // `on_arrival` use): every request passes here, and a call costs more
    // than most of what it does.
    #[inline(always)]
    fn start(&mut self, slot: u32) {
        let a = self.slab[slot as usize];
        self.slab[slot as usize].phase = Phase::Working;
        let service = self.topo.endpoints[a.endpoint as usize].service.index();
        self.instances[a.instance as usize].busy += 1;
        self.busy_level[service].add(self.now, 1);
        if self.topo.services[service].autoscaling.is_some() {
            self.scaler_busy[service].add(self.now, 1);
        }
        self.endpoint_window[a.endpoint as usize].record_start(self.now - a.arrived);
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Started { id });
        }
        let work = self.topo.endpoints[a.endpoint as usize].work;
        let mut duration = work::sample(work, &mut self.work_rngs[a.endpoint as usize]);
        let cpu_factor = self.instances[a.instance as usize].cpu_factor;
        if cpu_factor != 1.0 {
            duration = work::nearest(duration as f64 * cpu_factor);
        }
        if !self.latency_faults[a.endpoint as usize].is_empty() {
            duration += self.injected_latency(a.endpoint, a.instance);
        }
        self.queue.schedule_inline(
            self.now + duration,
            Event::WorkDone {
                slot,
                epoch: a.epoch,
            },
        );
    }

    /// Gives free workers to queued activations (after a thaw).
    pub(super) fn fill_workers(&mut self, instance: u32) {
        let service = self.topo.instances[instance as usize].service.index();
        let workers = self.topo.services[service].workers;
        while self.instances[instance as usize].busy < workers
            && let Some(next) = self.instances[instance as usize].queue.pop_front()
        {
            self.queue_level[service].sub(self.now, 1);
            self.start(next);
        }
    }

    /// Frees the activation's worker and hands it to the next queued one.
    pub(super) fn release_worker(&mut self, instance: u32, service: usize) {
        let state = &mut self.instances[instance as usize];
        state.busy -= 1;
        self.busy_level[service].sub(self.now, 1);
        if self.topo.services[service].autoscaling.is_some() {
            self.scaler_busy[service].sub(self.now, 1);
        }
        if state.frozen_until <= self.now
            && let Some(next) = state.queue.pop_front()
        {
            self.queue_level[service].sub(self.now, 1);
            self.start(next);
        }
        // Hysteresis: an instance that rejected work is saturated until its
        // load falls to half of what it can hold, so sustained overload is
        // one event, not one per request.
        let spec = &self.topo.services[service];
        let state = &mut self.instances[instance as usize];
        if state.saturated
            && state.outstanding() as u64 <= (spec.workers as u64 + spec.queue as u64) / 2
        {
            state.saturated = false;
            self.state_change(StateChange::QueueRecovered { instance });
        }
    }

    // ----- calls ----------------------------------------------------------

    /// Makes the activation's next call, or completes it when none is left.
    // Forced inline: every activation ends its work here, and most then
    // complete at once.
    #[inline(always)]
    fn advance(&mut self, slot: u32) {
        let topo = self.topo;
        loop {
            let a = self.slab[slot as usize];
            let endpoint = &topo.endpoints[a.endpoint as usize];
            let call_id = endpoint.calls.start + a.next_call;
            if call_id >= endpoint.calls.end {
                self.complete(slot, Outcome::Ok);
                return;
            }
            let call = &topo.calls[call_id as usize];
            // Whether the previous call missed is consumed by this one.
            let missed = std::mem::take(&mut self.slab[slot as usize].missed);
            if call.only_on_miss && !missed {
                self.slab[slot as usize].next_call += 1;
                continue;
            }
            if call.probability < 1.0 {
                let draw: f64 = rand::RngExt::random(&mut self.branch_rngs[call_id as usize]);
                if draw >= call.probability {
                    self.slab[slot as usize].next_call += 1;
                    continue;
                }
            }
            // A new call starts its retries afresh.
            self.slab[slot as usize].attempt = 0;
            self.slab[slot as usize].last_backoff = 0;
            if let Some(retry) = call.retry
                && retry.budget.is_some()
            {
                self.budgets[retry.budget_index as usize].note_first_attempt(self.now);
            }
            self.attempt_call(slot, call_id);
            return;
        }
    }

    /// One attempt of the activation's current call: past its circuit
    /// breaker, through its pool, to the callee.
    fn attempt_call(&mut self, slot: u32, call_id: u32) {
        let topo = self.topo;
        let a = self.slab[slot as usize];
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Attempt {
                id,
                call: call_id,
                attempt: a.attempt + 1,
            });
        }
        let endpoint = &topo.endpoints[a.endpoint as usize];
        let call = &topo.calls[call_id as usize];
        let caller = &topo.services[endpoint.service.index()];
        if let Some(policy) = &call.breaker {
            let b = policy.first + (a.instance - caller.instances.start);
            let (admitted, transition) = self.breakers[b as usize].admit(self.now, policy);
            if let Some(t) = transition {
                self.breaker_changed(call_id, a.instance, t);
            }
            if !admitted {
                self.call_failed(slot, call_id, ErrorClass::CircuitOpen, false);
                return;
            }
        }
        if let Some(group_id) = call.pool_group {
            let group = &topo.pool_groups[group_id.index()];
            let pool = group.first_pool + (a.instance - caller.instances.start);
            match self.pools[pool as usize].acquire(group.size) {
                Acquire::Granted => {
                    self.pool_in_use[group_id.index()].add(self.now, 1);
                    self.slab[slot as usize].pool = pool;
                }
                Acquire::Exhausted { newly } => {
                    if newly {
                        self.state_change(StateChange::PoolExhausted {
                            pool_group: group_id.0,
                            caller_instance: a.instance,
                        });
                    }
                    if group.acquire_timeout == Some(0) {
                        self.pool_refused[group_id.index()] += 1;
                        self.call_failed(slot, call_id, ErrorClass::PoolExhausted, false);
                    } else {
                        self.slab[slot as usize].phase = Phase::WaitingPool;
                        self.pools[pool as usize].wait((slot, a.epoch));
                        self.pool_waiting[group_id.index()].add(self.now, 1);
                        if let Some(lane) = group.acquire_lane {
                            self.arm(lane, slot, a.epoch);
                        }
                    }
                    return;
                }
            }
        }
        self.send(slot, call_id);
    }

    /// Sends the call (a connection, if pooled, is held) to the callee.
    fn send(&mut self, slot: u32, call_id: u32) {
        let call = &self.topo.calls[call_id as usize];
        let epoch = self.slab[slot as usize].epoch;
        self.slab[slot as usize].call_sent = self.now;
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Sent { id, epoch });
        }
        if !self.link_faults.is_empty() {
            let delay = self.network_delay(slot, call_id);
            if delay > 0 {
                // On the wire: the caller's timer runs from now, the callee
                // sees the request only when it lands.
                if let Some(lane) = call.timeout_lane {
                    self.arm(lane, slot, epoch);
                }
                self.queue.schedule(
                    self.now + delay,
                    Event::Land {
                        slot,
                        epoch,
                        call: call_id,
                    },
                );
                return;
            }
        }
        self.transmit(slot, call_id, epoch, true);
    }

    /// A delayed request lands at the callee's balancer. If its caller gave
    /// up meanwhile it still arrives and is worked on, as a request already
    /// on the wire would be; only its answer goes nowhere.
    fn on_land(&mut self, slot: u32, epoch: u32, call_id: u32) {
        if self.slab[slot as usize].epoch == epoch {
            self.transmit(slot, call_id, epoch, false);
        } else {
            let to = self.topo.calls[call_id as usize].to.0;
            let _ = self.dispatch(to, slot, epoch);
        }
    }

    /// Hands the request to the callee's balancer; `arm`: start the
    /// caller's timer now (it was not started on the wire).
    fn transmit(&mut self, slot: u32, call_id: u32, epoch: u32, arm: bool) {
        let call = &self.topo.calls[call_id as usize];
        match self.dispatch(call.to.0, slot, epoch) {
            Ok(_) => {
                if arm && let Some(lane) = call.timeout_lane {
                    self.arm(lane, slot, epoch);
                }
            }
            Err(class) => {
                self.slab[slot as usize].epoch += 1;
                self.release_connection(slot);
                self.call_failed(slot, call_id, class, true);
            }
        }
    }

    /// Hands a callee's answer to its caller, or holds it until the
    /// caller's instance thaws.
    pub(super) fn deliver(&mut self, slot: u32, epoch: u32, outcome: Outcome) {
        let instance = self.slab[slot as usize].instance as usize;
        if self.instances[instance].frozen_until > self.now {
            self.instances[instance].deferred.push(Deferred::Answer {
                slot,
                epoch,
                outcome,
            });
        } else {
            self.respond(slot, outcome);
        }
    }

    /// The callee answered an activation that was still waiting for it;
    /// an error carries the class the caller's call saw.
    pub(super) fn respond(&mut self, slot: u32, outcome: Outcome) {
        self.slab[slot as usize].epoch += 1;
        self.release_connection(slot);
        let a = self.slab[slot as usize];
        let call_id = self.topo.endpoints[a.endpoint as usize].calls.start + a.next_call;
        match outcome {
            Outcome::Ok => {
                if O::TRACES {
                    let id = self.activation_id(slot);
                    self.trace(Traced::Answered { id });
                }
                let call = &self.topo.calls[call_id as usize];
                if call.breaker.is_some() {
                    let slow = call
                        .breaker
                        .and_then(|b| b.slow_call)
                        .is_some_and(|limit| self.now - a.call_sent >= limit);
                    self.breaker_record(slot, call_id, slow);
                }
                self.slab[slot as usize].next_call += 1;
                self.advance(slot);
            }
            Outcome::Err(class) => self.call_failed(slot, call_id, class, true),
        }
    }

    /// An attempt of the current call failed with `class` (`sent`: it
    /// reached the callee, so its breaker counts it). Retries if the policy
    /// and the budget allow, after a backoff; otherwise the activation fails
    /// with the class its call saw.
    pub(super) fn call_failed(&mut self, slot: u32, call_id: u32, class: ErrorClass, sent: bool) {
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Failed { id, class });
        }
        let call = &self.topo.calls[call_id as usize];
        if sent && call.breaker.is_some() {
            self.breaker_record(slot, call_id, true);
        }
        if let Some(retry) = call.retry {
            let a = self.slab[slot as usize];
            let retries_left = a.attempt + 1 < retry.max_attempts;
            let retryable = retry.on & (1 << class as u16) != 0;
            if retries_left
                && retryable
                && retry.budget.is_none_or(|(ratio, min_per_s)| {
                    self.budgets[retry.budget_index as usize].try_spend(self.now, ratio, min_per_s)
                })
            {
                let sleep = crate::components::retry::backoff(
                    &retry,
                    a.attempt + 1,
                    a.last_backoff,
                    &mut self.retry_rngs[call_id as usize],
                );
                let state = &mut self.slab[slot as usize];
                state.attempt += 1;
                state.last_backoff = sleep;
                state.phase = Phase::Working;
                self.endpoint_window[a.endpoint as usize].retries += 1;
                if O::TRACES {
                    let id = self.activation_id(slot);
                    self.trace(Traced::Backoff { id, sleep });
                }
                self.queue.schedule(
                    self.now + sleep,
                    Event::Retry {
                        slot,
                        epoch: a.epoch,
                    },
                );
                return;
            }
        }
        if let Fallback::Enqueue(queue) = call.fallback {
            // Accepted for later: the user's request goes on as if the call
            // had succeeded, and the queue owns the work now.
            let to = call.to.0;
            if O::TRACES {
                let id = self.activation_id(slot);
                let kind = FallbackTaken::Enqueued;
                self.trace(Traced::Fallback { id, kind });
            }
            self.enqueue(queue.0, to);
            let a = &mut self.slab[slot as usize];
            a.next_call += 1;
            a.phase = Phase::Working;
            self.advance(slot);
            return;
        }
        if call.fallback == Fallback::Degrade {
            if O::TRACES {
                let id = self.activation_id(slot);
                let kind = FallbackTaken::Degraded;
                self.trace(Traced::Fallback { id, kind });
            }
            let a = &mut self.slab[slot as usize];
            a.degraded = true;
            // No answer is a miss: behind a dead cache every read goes on.
            a.missed = true;
            a.next_call += 1;
            a.phase = Phase::Working;
            self.advance(slot);
            return;
        }
        self.complete(slot, Outcome::Err(class));
    }

    /// A retry's backoff is over: the call goes out again.
    fn on_retry(&mut self, slot: u32, epoch: u32) {
        if self.slab[slot as usize].epoch != epoch {
            return;
        }
        let thaw = self.instances[self.slab[slot as usize].instance as usize].frozen_until;
        if thaw > self.now {
            self.queue.schedule(thaw, Event::Retry { slot, epoch });
            return;
        }
        self.slab[slot as usize].epoch += 1;
        let a = self.slab[slot as usize];
        let call_id = self.topo.endpoints[a.endpoint as usize].calls.start + a.next_call;
        self.attempt_call(slot, call_id);
    }

    fn breaker_record(&mut self, slot: u32, call_id: u32, failed: bool) {
        let topo = self.topo;
        let a = self.slab[slot as usize];
        let call = &topo.calls[call_id as usize];
        let Some(policy) = &call.breaker else {
            return;
        };
        let caller = &topo.services[topo.endpoints[a.endpoint as usize].service.index()];
        let b = policy.first + (a.instance - caller.instances.start);
        if let Some(t) = self.breakers[b as usize].record(self.now, policy, failed) {
            self.breaker_changed(call_id, a.instance, t);
        }
    }

    fn breaker_changed(&mut self, call: u32, instance: u32, transition: Transition) {
        let change = match transition {
            Transition::Opened => StateChange::BreakerOpened { call, instance },
            Transition::HalfOpened => StateChange::BreakerHalfOpen { call, instance },
            Transition::Closed => StateChange::BreakerClosed { call, instance },
        };
        self.state_change(change);
    }

    /// Returns the activation's pool connection, handing it straight to the
    /// longest-waiting live caller if there is one.
    pub(super) fn release_connection(&mut self, slot: u32) {
        let pool = self.slab[slot as usize].pool;
        if pool == NO_POOL {
            return;
        }
        self.slab[slot as usize].pool = NO_POOL;
        let a = self.slab[slot as usize];
        let call_id = self.topo.endpoints[a.endpoint as usize].calls.start + a.next_call;
        let group_id = self.topo.calls[call_id as usize]
            .pool_group
            .expect("a held connection belongs to a pooled call")
            .index();
        let size = self.topo.pool_groups[group_id].size;
        let slab = &self.slab;
        let handed = self.pools[pool as usize]
            .release(size, |(waiter, epoch)| slab[waiter as usize].epoch == epoch);
        match handed {
            Release::HandedOver((waiter, _)) => {
                self.pool_waiting[group_id].sub(self.now, 1);
                self.slab[waiter as usize].epoch += 1;
                self.slab[waiter as usize].pool = pool;
                self.slab[waiter as usize].phase = Phase::Working;
                let w = self.slab[waiter as usize];
                let waiter_call =
                    self.topo.endpoints[w.endpoint as usize].calls.start + w.next_call;
                self.send(waiter, waiter_call);
            }
            Release::Freed { recovered } => {
                self.pool_in_use[group_id].sub(self.now, 1);
                if recovered {
                    self.state_change(StateChange::PoolRecovered {
                        pool_group: group_id as u32,
                        caller_instance: a.instance,
                    });
                }
            }
        }
    }

    /// The call site an activation is at.
    fn current_call(&self, slot: u32) -> u32 {
        let a = self.slab[slot as usize];
        self.topo.endpoints[a.endpoint as usize].calls.start + a.next_call
    }

    /// Remembers a write the primary acknowledged, for as long as a replica
    /// may not have it yet.
    fn note_write(&mut self, service: usize, endpoint: u32) {
        if self.topo.endpoints[endpoint as usize].read {
            return;
        }
        let horizon = self.topo.services[service]
            .instances
            .clone()
            .filter(|i| *i != self.primaries[service])
            .map(|i| self.lag_of(i))
            .fold(0.0, f64::max);
        let writes = &mut self.recent_writes[service];
        writes.push_back(self.now);
        while writes
            .front()
            .is_some_and(|t| (*t as f64) < self.now as f64 - horizon - 1.0)
        {
            writes.pop_front();
        }
    }

    /// Takes a waiting activation off its pool's count of waiters (its
    /// entry in the queue is skipped when reached: its epoch has moved on).
    /// Returns the pool group.
    pub(super) fn leave_pool_queue(&mut self, slot: u32) -> usize {
        let a = self.slab[slot as usize];
        let topo = self.topo;
        let endpoint = &topo.endpoints[a.endpoint as usize];
        let group = topo.calls[(endpoint.calls.start + a.next_call) as usize]
            .pool_group
            .expect("a waiter waits on a pooled call")
            .index();
        let caller = &topo.services[endpoint.service.index()];
        let pool = topo.pool_groups[group].first_pool + (a.instance - caller.instances.start);
        self.pools[pool as usize].leave();
        self.pool_waiting[group].sub(self.now, 1);
        group
    }

    /// Ends an activation: records it, frees its worker and slot, and
    /// answers its parent.
    pub(super) fn complete(&mut self, slot: u32, outcome: Outcome) {
        let a = self.slab[slot as usize];
        if O::TRACES {
            let id = self.activation_id(slot);
            let error = match outcome {
                Outcome::Ok => None,
                Outcome::Err(class) => Some(class),
            };
            let degraded = a.degraded;
            self.trace(Traced::Completed {
                id,
                error,
                degraded,
            });
        }
        let latency = self.now - a.arrived;
        let service = self.topo.endpoints[a.endpoint as usize].service.index();
        if a.degraded && matches!(outcome, Outcome::Ok) {
            self.endpoint_window[a.endpoint as usize].degraded += 1;
        }
        if matches!(outcome, Outcome::Ok) && self.primaries[service] == a.instance {
            self.note_write(service, a.endpoint);
        }
        match outcome {
            Outcome::Ok => self.endpoint_window[a.endpoint as usize].record_ok(latency),
            Outcome::Err(class) => self.endpoint_window[a.endpoint as usize].record_error(class),
        }
        self.release(slot);
        self.release_worker(a.instance, service);
        if a.parent == ORPHAN {
            // Its client gave up and already counted a timeout.
        } else if a.parent == CLIENT {
            self.client_answered(a.parent_epoch, a.endpoint, a.instance, outcome);
        } else if a.parent == CONSUMER {
            self.delivered(a.parent_epoch, a.endpoint, matches!(outcome, Outcome::Ok));
        } else if a.parent == PROBE {
            self.probe_answered(a.instance, a.parent_epoch, matches!(outcome, Outcome::Ok));
        } else if a.parent == ENTRY {
            let w = a.parent_epoch as usize;
            if a.degraded && matches!(outcome, Outcome::Ok) {
                self.entry_window[w].degraded += 1;
            }
            match outcome {
                Outcome::Ok => self.entry_window[w].record_ok(latency),
                Outcome::Err(class) => self.entry_window[w].record_error(class),
            }
        } else if self.slab[a.parent as usize].epoch == a.parent_epoch {
            // The caller's call failed because its callee answered with an
            // error: to the caller, that is `downstream`.
            let seen = match outcome {
                Outcome::Ok => Outcome::Ok,
                Outcome::Err(_) => Outcome::Err(ErrorClass::Downstream),
            };
            // A degraded answer degrades whatever is built from it.
            if a.degraded && matches!(seen, Outcome::Ok) {
                self.slab[a.parent as usize].degraded = true;
            }
            if matches!(seen, Outcome::Ok)
                && let Some(hit_ratio) = self.topo.endpoints[a.endpoint as usize].hit_ratio
            {
                let draw: f64 = rand::RngExt::random(&mut self.hit_rngs[a.endpoint as usize]);
                self.slab[a.parent as usize].missed = draw >= hit_ratio;
            }
            self.deliver(a.parent, a.parent_epoch, seen);
        }
        // Last, once this activation is gone: the work leaves memory behind,
        // and this request may be the one that fills the instance.
        if self.instances[a.instance as usize].leak_per_request > 0
            && self.instances[a.instance as usize].process == Process::Running
        {
            let state = &mut self.instances[a.instance as usize];
            state.leaked += state.leak_per_request as f64;
            self.check_memory(a.instance);
        }
    }

    // ----- slab -----------------------------------------------------------

    pub(super) fn allocate(&mut self, mut activation: Activation) -> u32 {
        self.live += 1;
        self.activations += 1;
        self.peak_live = self.peak_live.max(self.live);
        let slot = match self.free.pop() {
            Some(slot) => {
                activation.epoch = self.slab[slot as usize].epoch;
                activation.life = self.slab[slot as usize].life;
                self.slab[slot as usize] = activation;
                slot
            }
            None => {
                self.slab.push(activation);
                (self.slab.len() - 1) as u32
            }
        };
        if O::TRACES {
            let id = self.activation_id(slot);
            let origin = self.origin(activation.parent, activation.parent_epoch);
            self.trace(Traced::Admitted {
                id,
                origin,
                endpoint: activation.endpoint,
                instance: activation.instance,
            });
        }
        slot
    }

    pub(super) fn release(&mut self, slot: u32) {
        // Moving the epoch on makes every outstanding reference stale.
        self.slab[slot as usize].epoch += 1;
        self.slab[slot as usize].life += 1;
        self.slab[slot as usize].phase = Phase::Free;
        self.free.push(slot);
        self.live -= 1;
    }

    // ----- request trace (compiled in only for observers that trace) ------

    pub(super) fn trace(&mut self, what: Traced) {
        let event = TraceEvent {
            time: self.now,
            what,
        };
        self.observer.trace(&event);
    }

    pub(super) fn activation_id(&self, slot: u32) -> ActivationId {
        let life = self.slab[slot as usize].life;
        ActivationId { slot, life }
    }

    /// Who an activation with this parent marker works for.
    fn origin(&self, parent: u32, parent_epoch: u32) -> Origin {
        match parent {
            ENTRY => Origin::Entry {
                workload: parent_epoch,
            },
            CLIENT => Origin::Client {
                client: parent_epoch,
            },
            CONSUMER => Origin::Consumer {
                queue: parent_epoch,
            },
            PROBE => Origin::Probe,
            slot => Origin::Call {
                slot,
                epoch: parent_epoch,
            },
        }
    }

    // ----- timers ---------------------------------------------------------

    pub(super) fn arm(&mut self, lane: u32, slot: u32, epoch: u32) {
        let l = &mut self.lanes[lane as usize];
        let deadline = self.now + l.duration;
        l.entries.push_back((deadline, slot, epoch));
        if !l.armed {
            l.armed = true;
            self.queue.schedule(deadline, Event::Timer { lane });
        }
    }

    /// Fires the due timers of a lane. The lane stays armed while they fire:
    /// a firing timer can arm the same lane again (a released connection
    /// goes to a waiter, whose call starts its own timer), and that must not
    /// put a second event for the lane in the heap. Exactly one event is
    /// rescheduled at the end, for the new head, unless the lane is empty.
    fn on_timer(&mut self, lane: u32) {
        loop {
            let l = &mut self.lanes[lane as usize];
            let Some(&(deadline, slot, epoch)) = l.entries.front() else {
                l.armed = false;
                return;
            };
            let a = &self.slab[slot as usize];
            let live = match l.kind {
                // A client's patience outlives the activation's progress:
                // it is tied to the slot's life, not to its epoch.
                TimerKind::ClientTimeout => {
                    a.life == epoch && a.phase != Phase::Free && a.parent == ENTRY
                }
                TimerKind::ConsumerTimeout => {
                    a.life == epoch && a.phase != Phase::Free && a.parent == CONSUMER
                }
                _ => a.epoch == epoch,
            };
            if !live {
                l.entries.pop_front();
                continue;
            }
            if deadline > self.now {
                self.queue.schedule(deadline, Event::Timer { lane });
                return;
            }
            l.entries.pop_front();
            let kind = l.kind;
            self.digest.push(slot as u64);
            if kind == TimerKind::ConsumerTimeout {
                // The consumer gives up on the delivery; it may still run.
                let a = &mut self.slab[slot as usize];
                let (queue, endpoint) = (a.parent_epoch, a.endpoint);
                a.parent = ORPHAN;
                if O::TRACES {
                    let id = ActivationId { slot, life: epoch };
                    self.trace(Traced::GaveUp { id });
                }
                self.delivered(queue, endpoint, false);
                continue;
            }
            if kind == TimerKind::ClientTimeout {
                // The client gives up; the request runs on in the system,
                // answering nobody.
                let a = &mut self.slab[slot as usize];
                let workload = a.parent_epoch as usize;
                a.parent = ORPHAN;
                if O::TRACES {
                    let id = ActivationId { slot, life: epoch };
                    self.trace(Traced::GaveUp { id });
                }
                self.entry_window[workload].record_error(ErrorClass::Timeout);
                continue;
            }
            let instance = self.slab[slot as usize].instance;
            if self.instances[instance as usize].frozen_until > self.now {
                // A frozen process notices its timers only when it thaws.
                self.instances[instance as usize]
                    .deferred
                    .push(Deferred::Timer { slot, epoch, kind });
                continue;
            }
            self.fire_timer(slot, kind);
        }
    }

    /// A call or acquire timer of a live activation has fired.
    pub(super) fn fire_timer(&mut self, slot: u32, kind: TimerKind) {
        self.slab[slot as usize].epoch += 1;
        match kind {
            TimerKind::ClientTimeout | TimerKind::ConsumerTimeout => {
                unreachable!("client and consumer timers are handled apart")
            }
            TimerKind::CallTimeout => {
                self.release_connection(slot);
                let call_id = self.current_call(slot);
                self.call_failed(slot, call_id, ErrorClass::Timeout, true);
            }
            TimerKind::AcquireTimeout => {
                let group = self.leave_pool_queue(slot);
                self.pool_refused[group] += 1;
                self.slab[slot as usize].phase = Phase::Working;
                let call_id = self.current_call(slot);
                self.call_failed(slot, call_id, ErrorClass::PoolExhausted, false);
            }
        }
    }

    // ----- observation ----------------------------------------------------

    pub(super) fn state_change(&mut self, change: StateChange) {
        self.state_changes += 1;
        for word in change.digest_words() {
            self.digest.push(word);
        }
        let event = StateEvent {
            time: self.now,
            change,
        };
        self.observer.state_change(self.topo, &event);
    }

    fn on_window_end(&mut self) {
        let start = self.window_start;
        let end = self.now;
        let topo = self.topo;
        self.rows.clear();
        // The summary covers the windows that start after the warm-up;
        // merging per window keeps the per-request path to one record.
        let measured = start >= self.config.warmup;
        for (w, outcomes) in self.entry_window.iter_mut().enumerate() {
            if !outcomes.latency.is_empty() {
                self.observer
                    .latencies(Component::Entry(w as u32), &outcomes.latency);
            }
            self.rows
                .push(Row::empty(start, end, Component::Entry(w as u32)).with_outcomes(outcomes));
            if measured {
                self.entry_totals[w].add(outcomes);
            }
            outcomes.reset();
        }
        for (s, service) in topo.services.iter().enumerate() {
            let mut row = Row::empty(start, end, Component::Service(s as u32));
            let merged = &mut self.service_window[s];
            for e in service.endpoints.clone() {
                merged.add(&self.endpoint_window[e as usize]);
            }
            row = row.with_outcomes(merged);
            if !merged.latency.is_empty() {
                self.observer
                    .latencies(Component::Service(s as u32), &merged.latency);
            }
            merged.reset();
            if service.memory.is_some() {
                row.memory_max = service
                    .instances
                    .clone()
                    .filter(|i| self.instances[*i as usize].process == Process::Running)
                    .map(|i| self.memory_of(i) as u64)
                    .max()
                    .unwrap_or(0);
            }
            row.queue = self.queue_level[s].close(end, start);
            row.busy = self.busy_level[s].close(end, start);
            row.capacity = if service.workers == crate::topology::UNLIMITED_WORKERS {
                0
            } else {
                service.workers as u64
                    * service
                        .instances
                        .clone()
                        .filter(|i| self.instances[*i as usize].provisioned)
                        .count() as u64
            };
            self.rows.push(row);
        }
        for (e, outcomes) in self.endpoint_window.iter_mut().enumerate() {
            if !outcomes.latency.is_empty() {
                self.observer
                    .latencies(Component::Endpoint(e as u32), &outcomes.latency);
            }
            self.rows.push(
                Row::empty(start, end, Component::Endpoint(e as u32)).with_outcomes(outcomes),
            );
            outcomes.reset();
        }
        for (g, group) in topo.pool_groups.iter().enumerate() {
            let mut row = Row::empty(start, end, Component::Pool(g as u32));
            row.in_use = self.pool_in_use[g].close(end, start);
            row.waiters = self.pool_waiting[g].close(end, start);
            row.errors[ErrorClass::PoolExhausted as usize] = self.pool_refused[g];
            self.pool_refused[g] = 0;
            row.capacity =
                group.size as u64 * topo.services[group.caller.index()].instances.len() as u64;
            self.rows.push(row);
        }
        self.observer.window(topo, &self.rows);
        self.window_start = end;
        self.next_window_end = end + self.config.window;
    }
}
