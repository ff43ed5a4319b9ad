//! The engine loop and the life of a request.
//!
//! An *activation* is one execution of an endpoint on one instance. It
//! arrives at an instance chosen by the service's load balancer, waits in the
//! instance's queue, holds a worker for its own work and then for each of its
//! calls in turn (through the caller's connection pool, under the call's
//! timeout), and finally answers its `Parent`: another activation, a client
//! of the workload, a queue's consumer, a connected client or a health
//! probe. Activations live in a slab (`activation.rs`) whose stale
//! references are recognised by epoch (lazy cancellation).

use rand_chacha::ChaCha8Rng;

use super::activation::{Activation, Activations, Held, Parent, Phase};
use super::active::ActiveFaults;
use super::event::Event;
use super::lifecycle::Replicas;
use super::meters::Meters;
use super::queue::EventQueue;
use super::timers::Timers;
use crate::base::ids::{CallId, EndpointId, InstanceId, ServiceId, Slot, WorkloadId};
use crate::base::rng::stream;
use crate::base::{ErrorClass, Outcome, SimTime};
use crate::components::arrivals::ArrivalProcess;
use crate::components::balancer::Balancer;
use crate::components::breaker::{Breaker, Transition};
use crate::components::instance::{Admission, Deferred, InstanceState, Process};
use crate::components::limiter::{AdaptiveThrottle, TokenBucket};
use crate::components::pool::{Acquire, PoolState, Release};
use crate::components::retry::RetryBudget;
use crate::components::work;
use crate::faults::{Fault, PartitionMode};
use crate::observe::Observer;
use crate::observe::digest::TraceDigest;
use crate::observe::events::{StateChange, StateEvent};
use crate::observe::metrics::{Level, Outcomes};
use crate::observe::trace::{ActivationId, FallbackTaken, Origin, TraceEvent, Traced};
use crate::plan::RunConfig;
use crate::topology::{Fallback, TimerKind, Topology};

/// Whole-run figures the engine hands back.
#[derive(Debug)]
pub struct RunSummary {
    pub events: u64,
    pub trace_digest: String,
    /// Per workload, the requests that arrived after the warm-up: each
    /// ended ok, with an error, or is still unanswered at the end
    /// (`arrivals - ok - errors`).
    pub entries: Vec<Outcomes>,
    /// Per workload, per metrics window: requests that arrived in the
    /// window and were judged unanswered at the end (see `entries`), for
    /// checks over a part of the run.
    pub unanswered_by_window: Vec<Vec<u64>>,
    /// Per service, its queueing (waits, number in system) over the
    /// metrics windows after the warm-up.
    pub services: Vec<crate::observe::metrics::ServiceQueueing>,
    /// Requests still in the system when the run ended.
    pub in_flight_at_end: u64,
    /// Largest number of activations alive at once.
    pub peak_activations: u64,
    /// Endpoint executions started, over the whole run.
    pub activations: u64,
    /// Per service, acknowledged writes lost in failovers.
    pub lost_writes: Vec<u64>,
    /// Per service, writes acknowledged by a deposed primary (split brain).
    pub divergent_writes: Vec<u64>,
    /// Per service: reads answered, the stale ones (a replica had not
    /// applied a write acknowledged before), lag alerts raised, and the
    /// largest replica staleness seen at a window's end (ns).
    pub reads: Vec<u64>,
    pub stale_reads: Vec<u64>,
    pub lag_alerts: Vec<u64>,
    pub max_staleness: Vec<u64>,
    /// Per service, what went through it if it is a queue.
    pub queues: Vec<super::broker::QueueTotals>,
    /// Per client group, its connections over the run.
    pub clients: Vec<super::clients::ClientTotals>,
    /// Per endpoint, its cache lookups (endpoints without keys: zeros).
    pub caches: Vec<super::caches::CacheTotals>,
    pub state_changes: u64,
    /// What the stop guards saw, and whether one stopped the experiment.
    pub guards: super::guards::GuardReport,
    /// Set when the run was stopped by its budget before its end: every
    /// figure above covers only the time it ran.
    pub exhausted: Option<Exhausted>,
}

/// Which limit of its `Budget` stopped a run, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    Events { limit: u64, at: SimTime },
    InFlight { limit: u64, at: SimTime },
}

/// What `dispatch` did with a new request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dispatched {
    /// It is an activation now (queued, working, or hung on a host).
    To(Slot),
    /// A partition swallowed it: no activation exists, and the caller waits
    /// for its timeout.
    Lost,
}

/// How an activation ended, as its parent learns it.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// It answered, with this outcome.
    Answered(Outcome),
    /// Its connection was reset before it answered: the caller sees the
    /// class itself, not `downstream`.
    Reset(ErrorClass),
}

/// What reaches an activation whose process is frozen, held for the thaw.
#[derive(Clone, Copy, Debug)]
enum Hold {
    /// One of its own steps (its work done, a retry due), rescheduled.
    Event(Event),
    /// An answer or a timer, handled in order when it thaws.
    Deferred(Deferred),
}

/// The resilience state of the call sites, per caller instance.
#[derive(Debug)]
pub(super) struct CallSites {
    pub(super) pools: Vec<PoolState>,
    breakers: Vec<Breaker>,
    budgets: Vec<RetryBudget>,
    /// Tokens left in each retry quota (per caller instance per call site).
    quotas: Vec<u32>,
    /// Rate-limit buckets (per instance or per service).
    limits: Vec<TokenBucket>,
    /// Adaptive throttles (per caller instance per call site).
    throttles: Vec<AdaptiveThrottle>,
}

/// Random streams of the request path, one per component and purpose, so
/// that a change in one place never shifts another's draws.
#[derive(Debug)]
pub(super) struct Streams {
    /// Per workload.
    arrivals: Vec<ChaCha8Rng>,
    /// Per endpoint: work times, and cache hits.
    work: Vec<ChaCha8Rng>,
    hits: Vec<ChaCha8Rng>,
    /// Per call site: probabilistic calls, retry jitter, and adaptive
    /// throttling's draws.
    branch: Vec<ChaCha8Rng>,
    retry: Vec<ChaCha8Rng>,
    throttle: Vec<ChaCha8Rng>,
    /// Per service's load balancer.
    balancer: Vec<ChaCha8Rng>,
    /// Per client group.
    pub(super) clients: Vec<ChaCha8Rng>,
}

impl Streams {
    fn new(topo: &Topology, seed: u64) -> Self {
        let per_call = |purpose: &str| -> Vec<ChaCha8Rng> {
            topo.calls
                .iter()
                .map(|c| {
                    let from = &topo.endpoints[c.from].full_name;
                    stream(seed, &format!("call/{from}/{}/{purpose}", c.name))
                })
                .collect()
        };
        let per_endpoint = |purpose: &str| -> Vec<ChaCha8Rng> {
            topo.endpoints
                .iter()
                .map(|e| stream(seed, &format!("endpoint/{}/{purpose}", e.full_name)))
                .collect()
        };
        Streams {
            arrivals: topo
                .workloads
                .iter()
                .map(|w| stream(seed, &format!("workload/{}/arrivals", w.name)))
                .collect(),
            work: per_endpoint("work"),
            hits: per_endpoint("hits"),
            branch: per_call("branch"),
            retry: per_call("retry"),
            throttle: per_call("throttle"),
            balancer: topo
                .services
                .iter()
                .map(|s| stream(seed, &format!("service/{}/load-balancer", s.name)))
                .collect(),
            clients: topo
                .client_groups
                .iter()
                .map(|g| stream(seed, &format!("clients/{}", g.name)))
                .collect(),
        }
    }
}

/// Per service with an autoscaler: busy-worker area since its last
/// decision, and when it last changed the fleet.
#[derive(Debug)]
pub(super) struct Scaling {
    pub(super) busy: Vec<Level>,
    pub(super) last_scaled: Vec<Option<SimTime>>,
}

/// What the run leaves for the record: the trace digest and counts.
struct Record {
    digest: TraceDigest,
    events: u64,
    state_changes: u64,
}

pub struct Engine<'t, O: Observer> {
    pub(super) topo: &'t Topology,
    pub(super) config: RunConfig,
    pub(super) now: SimTime,
    pub(super) queue: EventQueue,
    pub(super) timers: Timers,
    /// The requests in the system.
    pub(super) acts: Activations,
    /// Per instance: workers, queue, process, health, memory.
    pub(super) instances: Vec<InstanceState>,
    /// Per instance, its place among its service's instances: the offset of
    /// its own breaker or pool within a call site's.
    ranks: Vec<u32>,
    /// Per service.
    balancers: Vec<Balancer>,
    pub(super) calls: CallSites,
    pub(super) faults: ActiveFaults<'t>,
    pub(super) replicas: Replicas,
    /// Per service, its items if it is a queue.
    pub(super) brokers: Vec<super::broker::Broker>,
    pub(super) clients: Vec<super::clients::Client>,
    pub(super) caches: super::caches::Caches,
    /// Per fault, its rolling restart under way.
    pub(super) rolls: Vec<Option<super::drain::Roll>>,
    pub(super) scaling: Scaling,
    arrivals: Vec<ArrivalProcess>,
    pub(super) streams: Streams,
    pub(super) meters: Meters,
    /// The scenario's stop guards, watched at each window's end.
    pub(super) guards: super::guards::Guards<'t>,
    record: Record,
    budget: super::Budget,
    pub(super) observer: O,
}

impl<'t, O: Observer> Engine<'t, O> {
    pub fn new(topo: &'t Topology, faults: &'t [Fault], config: RunConfig, observer: O) -> Self {
        let services = topo.services.len();
        Engine {
            topo,
            config,
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            timers: Timers::new(&topo.timer_lanes),
            acts: Activations::default(),
            instances: topo
                .instances
                .iter()
                .map(|_| InstanceState::new())
                .collect(),
            ranks: topo
                .instances
                .iter()
                .enumerate()
                .map(|(i, instance)| i as u32 - topo.services[instance.service].instances.start)
                .collect(),
            balancers: vec![Balancer::default(); services],
            calls: CallSites {
                pools: vec![PoolState::default(); topo.pool_count()],
                breakers: vec![Breaker::default(); topo.breaker_count()],
                budgets: vec![RetryBudget::default(); topo.budget_count()],
                // Full at the start, one per caller instance, in call order
                // (as `RetryQuota::first` numbers them).
                quotas: topo
                    .calls
                    .iter()
                    .filter_map(|c| Some((c, c.retry?.quota?)))
                    .flat_map(|(c, q)| std::iter::repeat_n(q.capacity, topo.caller_instances(c)))
                    .collect(),
                limits: vec![TokenBucket::default(); topo.rate_limit_count()],
                throttles: vec![AdaptiveThrottle::default(); topo.throttle_count()],
            },
            faults: ActiveFaults::new(faults, topo.endpoints.len(), config.seed),
            replicas: Replicas::new(topo),
            brokers: vec![super::broker::Broker::default(); services],
            clients: vec![
                super::clients::Client::default();
                topo.client_groups.iter().map(|g| g.count as usize).sum()
            ],
            caches: super::caches::Caches::new(topo, config.seed),
            rolls: vec![None; faults.len()],
            scaling: Scaling {
                busy: vec![Level::default(); services],
                last_scaled: vec![None; services],
            },
            arrivals: vec![ArrivalProcess::new(); topo.workloads.len()],
            streams: Streams::new(topo, config.seed),
            meters: Meters::new(topo, config.window, config.per_instance, config.precision),
            guards: super::guards::Guards::new(&[], None, config.precision),
            record: Record {
                digest: TraceDigest::new(),
                events: 0,
                state_changes: 0,
            },
            budget: super::Budget::DEFAULT,
            observer,
        }
    }

    /// The same engine, watched by stop guards.
    pub fn guarded(mut self, guards: &'t [crate::plan::Guard]) -> Self {
        let first_start = self.faults.all.iter().map(|f| f.start).min();
        self.guards = super::guards::Guards::new(guards, first_start, self.config.precision);
        self
    }

    /// The same engine, stopped when it exhausts `budget`.
    pub fn within(mut self, budget: super::Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Runs to the configured duration and returns the summary and the
    /// observer.
    pub fn run(mut self) -> (RunSummary, O) {
        if self.topo.workloads.iter().any(|w| w.propagate_deadline)
            || self.topo.calls.iter().any(|c| c.propagate_deadline)
            || self.caches.active
        {
            self.acts.keep_side();
        }
        for w in 0..self.topo.workloads.len() {
            self.schedule_arrival(WorkloadId(w as u32));
        }
        self.schedule_faults_and_probes();
        self.start_clients();
        self.start_autoscalers();
        let end = SimTime(self.config.duration);
        let mut exhausted = None;
        // The run covers [0, end): what is due at `end` belongs to no window.
        while end > SimTime::ZERO
            && let Some((time, event)) = self.queue.pop_until(end - 1)
        {
            // A window closes before anything due at its end happens, so an
            // instant's events all land in the window it starts.
            while time >= self.meters.next_end {
                self.now = self.meters.next_end;
                self.on_window_end();
            }
            self.now = time;
            self.record.events += 1;
            self.record.digest.push_pair(time.ns(), event.digest_word());
            if O::STEPS {
                self.observe_step(time, &event);
            }
            self.handle(event);
            if self.record.events >= self.budget.max_events
                || self.acts.live >= self.budget.max_in_flight
            {
                exhausted = Some(self.exhausted());
                break;
            }
        }
        if exhausted.is_some() {
            // What ran is all there is: no further windows.
            let summary = self.summary(exhausted);
            return (summary, self.observer);
        }
        while self.meters.next_end < end {
            self.now = self.meters.next_end;
            self.on_window_end();
        }
        self.now = end;
        self.on_window_end();
        let summary = self.summary(None);
        (summary, self.observer)
    }

    /// Whether a request that arrived at `arrived` counts in the run's
    /// summary: every request that arrives after the warm-up is classified
    /// there once, by its arrival, however late it ends.
    #[inline]
    pub(super) fn measured(&self, arrived: SimTime) -> bool {
        arrived >= SimTime(self.config.warmup)
    }

    fn exhausted(&self) -> Exhausted {
        let at = self.now;
        if self.acts.live >= self.budget.max_in_flight {
            Exhausted::InFlight {
                limit: self.budget.max_in_flight,
                at,
            }
        } else {
            Exhausted::Events {
                limit: self.budget.max_events,
                at,
            }
        }
    }

    fn summary(&mut self, exhausted: Option<Exhausted>) -> RunSummary {
        // A request still waiting longer than any that succeeded is judged
        // unanswered: a failure, its age a lower bound of its latency, so
        // that a hang cannot look fast. Younger ones may yet succeed; they
        // stay in flight, unjudged.
        let windows = self.now.ns().div_ceil(self.config.window) as usize;
        let mut unanswered_by_window = vec![Vec::new(); self.topo.workloads.len()];
        for a in self.acts.alive() {
            if let Parent::Entry(workload) = a.parent()
                && self.measured(a.arrived)
            {
                let total = &mut self.meters.entry_totals[workload];
                let age = self.now - a.arrived;
                if age > total.latency.exact_max() {
                    total.record_unanswered(age);
                    let by_window: &mut Vec<u64> = &mut unanswered_by_window[workload.index()];
                    by_window.resize(windows, 0);
                    by_window[(a.arrived.ns() / self.config.window) as usize] += 1;
                }
            }
        }
        RunSummary {
            events: self.record.events,
            trace_digest: self.record.digest.finish(),
            entries: std::mem::take(&mut self.meters.entry_totals),
            unanswered_by_window,
            services: std::mem::take(&mut self.meters.service_totals),
            in_flight_at_end: self.acts.live,
            peak_activations: self.acts.peak,
            activations: self.acts.created,
            lost_writes: std::mem::take(&mut self.replicas.lost_writes),
            divergent_writes: std::mem::take(&mut self.replicas.divergent_writes),
            reads: std::mem::take(&mut self.replicas.reads),
            stale_reads: std::mem::take(&mut self.replicas.stale_reads),
            lag_alerts: std::mem::take(&mut self.replicas.lag_alerts),
            max_staleness: std::mem::take(&mut self.replicas.max_staleness),
            queues: self.brokers.iter().map(|b| b.totals()).collect(),
            clients: self.meters.client_totals.clone(),
            caches: self.caches.totals(),
            state_changes: self.record.state_changes,
            guards: std::mem::take(&mut self.guards.report),
            exhausted,
        }
    }

    // Forced inline: the one call site is the loop, and the common events
    // are cheaper than a call.
    #[inline(always)]
    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival { workload } => self.on_arrival(workload),
            Event::WorkDone { slot, epoch } => self.on_work_done(slot, epoch),
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
            Event::Expire { slot, epoch } => {
                if self.acts[slot].awaits(epoch) {
                    self.timer_fired(slot, epoch, TimerKind::CallTimeout);
                }
            }
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
            Event::DrainEnd {
                instance,
                incarnation,
            } => self.on_drain_end(instance, incarnation),
            Event::RollNext { fault } => self.on_roll_next(fault),
            Event::WorkCut { slot, epoch } => self.on_work_cut(slot, epoch),
            Event::ProbeTimeout { instance, seq } => self.on_probe_timeout(instance, seq),
        }
    }

    // ----- arrivals -------------------------------------------------------

    // Forced inline: once per request; see `start`.
    #[inline(always)]
    fn schedule_arrival(&mut self, workload: WorkloadId) {
        let w = workload.index();
        let segments = &self.topo.workloads[w].segments;
        if let Some(t) = self.arrivals[w].next(segments, &mut self.streams.arrivals[w]) {
            self.queue
                .schedule_inline(t.max(self.now), Event::Arrival { workload });
        }
    }

    fn on_arrival(&mut self, workload: WorkloadId) {
        self.schedule_arrival(workload);
        self.meters.entry[workload].arrivals += 1;
        let measured = self.measured(self.now);
        if measured {
            self.meters.entry_totals[workload].arrivals += 1;
        }
        let w = &self.topo.workloads[workload];
        let endpoint = w.endpoint;
        match self.dispatch_inline(endpoint, Parent::Entry(workload)) {
            Ok(Dispatched::To(slot)) => {
                if let Some(lane) = w.timeout_lane {
                    let life = self.acts[slot].life;
                    self.arm(lane, slot, life);
                }
                if w.propagate_deadline
                    && let Some(timeout) = w.timeout
                {
                    self.acts.set_deadline(slot, self.now + timeout);
                }
            }
            Ok(Dispatched::Lost) => unreachable!("entries cross no partition"),
            Err(class) => {
                self.meters.entry[workload].record_failure(class, 0);
                if measured {
                    self.meters.entry_totals[workload].record_failure(class, 0);
                }
                if O::TRACES {
                    let origin = Origin::Entry {
                        workload: workload.0,
                    };
                    self.trace(Traced::Rejected {
                        origin,
                        endpoint: endpoint.0,
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
        endpoint: EndpointId,
        parent: Parent,
    ) -> Result<Dispatched, ErrorClass> {
        self.dispatch_inline(endpoint, parent)
    }

    /// `dispatch`, forced inline into the arrival path, which every request
    /// takes; the other callers share one out-of-line copy.
    #[inline(always)]
    fn dispatch_inline(
        &mut self,
        endpoint: EndpointId,
        parent: Parent,
    ) -> Result<Dispatched, ErrorClass> {
        let topo = self.topo;
        let service_id = topo.endpoints[endpoint].service;
        let service = &topo.services[service_id];
        if self.faults.any_balancer_down()
            && let Some(mode) = self.faults.balancer_down(service_id)
        {
            // Its load balancer is down: the request gets no further.
            return match mode {
                PartitionMode::Drop => Ok(Dispatched::Lost),
                PartitionMode::Refuse => Err(ErrorClass::Refused),
            };
        }
        let picked = match service.replication {
            Some(replication) => self.pick_replicated(endpoint, service_id, replication),
            None => self.balancers[service_id].pick(
                service.policy,
                service.instances.clone(),
                &self.instances,
                &mut self.streams.balancer[service_id],
            ),
        };
        self.route_to(endpoint, picked, parent)
    }

    /// Delivers a new activation of `endpoint` to the instance picked for
    /// it: fails at once when none was, and across a partition; otherwise
    /// as `admit`.
    #[inline(always)]
    pub(super) fn route_to(
        &mut self,
        endpoint: EndpointId,
        picked: Option<InstanceId>,
        parent: Parent,
    ) -> Result<Dispatched, ErrorClass> {
        let topo = self.topo;
        let Some(instance) = picked else {
            self.meters.endpoint[endpoint].arrivals += 1;
            self.meters.endpoint[endpoint].record_error(ErrorClass::NoHealthyInstance);
            return Err(ErrorClass::NoHealthyInstance);
        };
        if self.faults.any_partition()
            && let Some(caller) = self.caller_instance(parent)
        {
            // A partition stands between the caller and the chosen
            // instance: the request never reaches the callee.
            let at = |i: InstanceId| (topo.instances[i].service, topo.instances[i].zone);
            match self.faults.partition_between(at(caller), at(instance)) {
                Some(PartitionMode::Drop) => return Ok(Dispatched::Lost),
                Some(PartitionMode::Refuse) => return Err(ErrorClass::Refused),
                None => {}
            }
        }
        self.meters.endpoint[endpoint].arrivals += 1;
        self.admit(endpoint, instance, parent).map(Dispatched::To)
    }

    /// The instance a request is sent from, for the partitions it may
    /// cross: a calling activation's, or a queue's (its consumer runs where
    /// the queue service does). Clients and probes are outside the model's
    /// network.
    fn caller_instance(&self, parent: Parent) -> Option<InstanceId> {
        match parent {
            Parent::Call { slot, .. } => Some(self.acts[slot].instance),
            Parent::Consumer(queue) => Some(InstanceId(self.topo.services[queue].instances.start)),
            Parent::Entry(_) | Parent::Client(_) | Parent::Probe(_) | Parent::Orphan => None,
        }
    }

    /// Writes go to the primary (the current one through a cluster endpoint,
    /// the first one through a fixed address); reads to a routable replica
    /// in turn, or to the primary when none is.
    fn pick_replicated(
        &mut self,
        endpoint: EndpointId,
        service: ServiceId,
        replication: crate::topology::Replication,
    ) -> Option<InstanceId> {
        let primary = self.replicas.primaries[service];
        if !self.topo.endpoints[endpoint].read {
            let follow = replication.failover.is_none_or(|f| f.follow);
            return if follow {
                primary
            } else {
                Some(InstanceId(replication.primary))
            };
        }
        let range = self.topo.services[service].instances.clone();
        let n = range.len() as u32;
        let start = self.replicas.cursor[service];
        for k in 0..n {
            let candidate = InstanceId(range.start + (start + k) % n);
            if Some(candidate) != primary && self.instances[candidate].routable {
                self.replicas.cursor[service] = (start + k + 1) % n;
                return Some(candidate);
            }
        }
        primary
    }

    /// Delivers a new activation of `endpoint` to `instance` (its arrival is
    /// already counted). A dead process refuses it and a full queue rejects
    /// it, at once and without creating it; an unreachable host swallows it.
    // Forced inline: every request is admitted, nearly always from
    // `dispatch`, which has just looked up what this looks up again.
    #[inline(always)]
    pub(super) fn admit(
        &mut self,
        endpoint: EndpointId,
        instance: InstanceId,
        parent: Parent,
    ) -> Result<Slot, ErrorClass> {
        let topo = self.topo;
        let service_id = topo.endpoints[endpoint].service;
        let service = &topo.services[service_id];
        let mut activation = Activation::new(endpoint, instance, parent, self.now);
        self.instance_arrival(instance);
        match self.instances[instance].reachability() {
            Process::Running => {}
            Process::Dead => return Err(self.reject(endpoint, instance, ErrorClass::Refused)),
            Process::Unreachable => {
                let slot = self.allocate(activation);
                self.instances[instance].limbo.push(slot);
                return Ok(slot);
            }
        }
        // Health checks are not throttled: a limiter that answered them 429
        // would have the balancer eject the instances it protects.
        if let Some(limit) = &service.rate_limit
            && !matches!(parent, Parent::Probe(_))
        {
            let bucket = limit.first
                + if limit.per_instance {
                    self.rank(instance)
                } else {
                    0
                };
            if !self.calls.limits[bucket as usize].take(self.now, limit.interval, limit.tolerance) {
                return Err(self.reject(endpoint, instance, ErrorClass::Throttled));
            }
        }
        if service
            .shed_above_queue
            .is_some_and(|above| self.instances[instance].queue.len() as u32 > above)
        {
            return Err(self.reject(endpoint, instance, ErrorClass::Shed));
        }
        if let Some(memory) = &service.memory {
            if service
                .shed_above_memory
                .is_some_and(|above| self.memory_share(instance) > above)
            {
                return Err(self.reject(endpoint, instance, ErrorClass::Shed));
            }
            // Memory held per request: this one may be what tips it over.
            if memory.per_request > 0
                && self.memory_of(instance) + memory.per_request as f64 >= memory.limit as f64
            {
                self.instances[instance].leaked += memory.per_request as f64;
                self.check_memory(instance);
                return Err(self.reject(endpoint, instance, ErrorClass::Refused));
            }
        }
        if self.faults.fails(endpoint) && self.faults.injects_error(endpoint, instance) {
            return Err(self.reject(endpoint, instance, ErrorClass::Injected));
        }
        let admission =
            self.instances[instance].admission(service.workers, service.queue, self.now);
        if let Admission::Full { newly } = admission {
            self.reject(endpoint, instance, ErrorClass::QueueFull);
            if newly {
                self.state_change(StateChange::QueueFull {
                    instance: instance.0,
                });
            }
            return Err(ErrorClass::QueueFull);
        }
        activation.phase = Phase::Queued;
        let slot = self.allocate(activation);
        if admission == Admission::Start {
            self.start(slot);
        } else {
            self.instances[instance].enqueue(slot, self.now);
            self.enqueued(instance);
        }
        Ok(slot)
    }

    /// A request about to get a worker is dropped, and true returned, when
    /// its deadline has passed (answered `timeout`) or, with controlled
    /// delay, when it waited longer than the queue allows (`shed`).
    /// A standing queue (non-empty for `interval`) allows `target`; one that
    /// formed just now allows `interval`, so a burst is absorbed.
    #[inline(always)]
    fn shed_if_stale(
        &mut self,
        slot: Slot,
        instance: InstanceId,
        codel: Option<crate::topology::Codel>,
    ) -> bool {
        if self.acts.deadline(slot) <= self.now {
            // Its request expired while it queued (a deadline passed down):
            // no one is left to answer.
            self.acts[slot].epoch += 1;
            self.abort(slot, ErrorClass::Timeout);
            return true;
        }
        let Some(codel) = codel else {
            return false;
        };
        let limit = if self.instances[instance].standing_for(self.now) >= codel.interval {
            codel.target
        } else {
            codel.interval
        };
        if self.now - self.acts[slot].arrived <= limit {
            return false;
        }
        // It waits on nothing of its own: only its caller hears of it.
        self.acts[slot].epoch += 1;
        self.abort(slot, ErrorClass::Shed);
        true
    }

    /// Counts a request an endpoint's instance turned away at once, and
    /// returns why.
    #[inline]
    fn reject(
        &mut self,
        endpoint: EndpointId,
        instance: InstanceId,
        class: ErrorClass,
    ) -> ErrorClass {
        self.meters.endpoint[endpoint].record_error(class);
        self.instance_ended(instance, Some(class));
        class
    }

    /// Gives the activation a worker and schedules the end of its own work.
    // Forced inline (as are the samplers and the arrival scheduling it and
    // `on_arrival` use): every request passes here, and a call costs more
    // than most of what it does.
    #[inline(always)]
    fn start(&mut self, slot: Slot) {
        let a = self.acts[slot];
        self.acts[slot].phase = Phase::Working;
        self.instances[a.instance].busy += 1;
        self.worker_taken(a.instance);
        self.meters.endpoint[a.endpoint].record_start(self.now - a.arrived);
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Started { id });
        }
        let work = self.topo.endpoints[a.endpoint].work;
        let mut duration = work::sample(work, &mut self.streams.work[a.endpoint]);
        let cpu_factor = self.instances[a.instance].cpu_factor;
        if cpu_factor != 1.0 {
            duration = work::nearest(duration as f64 * cpu_factor);
        }
        if self.topo.endpoints[a.endpoint].contended {
            duration = work::nearest(duration as f64 * self.contention_factor(a.instance));
        }
        if self.faults.slows(a.endpoint) {
            duration += self.faults.injected_latency(a.endpoint, a.instance);
        }
        if let Some(after) = self.topo.endpoints[a.endpoint].abandon_after {
            // Cancelled once its request expires: the work stops then.
            let cut = self.acts.deadline(slot).ns().saturating_add(after);
            if cut < (self.now + duration).ns() {
                let epoch = a.epoch;
                self.queue.schedule(
                    SimTime(cut.max(self.now.ns())),
                    Event::WorkCut { slot, epoch },
                );
                return;
            }
        }
        self.queue.schedule_inline(
            self.now + duration,
            Event::WorkDone {
                slot,
                epoch: a.epoch,
            },
        );
    }

    /// What load does to work starting now on the instance: its busy
    /// workers count the one just taken.
    #[inline(never)]
    fn contention_factor(&self, instance: InstanceId) -> f64 {
        let Some(contention) = &self.topo.service_of_instance(instance).contention else {
            return 1.0;
        };
        let busy = self.instances[instance].busy as f64;
        let mut factor = contention.busy.at(busy);
        if !contention.memory.0.is_empty() {
            factor *= contention.memory.at(self.memory_share(instance).min(1.0));
        }
        factor
    }

    /// A worker of the instance was taken: the busy levels its service's
    /// metrics and autoscaler read go up.
    #[inline(always)]
    fn worker_taken(&mut self, instance: InstanceId) {
        let service = self.topo.instances[instance].service;
        self.meters.occupancy[service].take_worker(self.now);
        if self.config.per_instance {
            self.meters.instance[instance]
                .occupancy
                .take_worker(self.now);
        }
        if self.topo.services[service].autoscaling.is_some() {
            self.scaling.busy[service].add(self.now, 1);
        }
    }

    /// A worker of the instance was given back.
    #[inline(always)]
    pub(super) fn worker_freed(&mut self, instance: InstanceId) {
        let service = self.topo.instances[instance].service;
        self.meters.occupancy[service].free_worker(self.now);
        if self.config.per_instance {
            self.meters.instance[instance]
                .occupancy
                .free_worker(self.now);
        }
        if self.topo.services[service].autoscaling.is_some() {
            self.scaling.busy[service].sub(self.now, 1);
        }
    }

    /// An activation finished its own work, unless its instance is frozen:
    /// then the rest of it waits for the thaw.
    fn on_work_done(&mut self, slot: Slot, epoch: u32) {
        if !self.acts[slot].awaits(epoch) {
            return;
        }
        if !self.held_by_freeze(slot, Hold::Event(Event::WorkDone { slot, epoch })) {
            self.acts[slot].epoch += 1;
            self.advance(slot);
        }
    }

    /// The activation's work stops unfinished: nobody waits for it.
    fn on_work_cut(&mut self, slot: Slot, epoch: u32) {
        if !self.acts[slot].awaits(epoch) {
            return;
        }
        if !self.held_by_freeze(slot, Hold::Event(Event::WorkCut { slot, epoch })) {
            self.acts[slot].epoch += 1;
            self.complete(slot, Outcome::Err(ErrorClass::Timeout));
        }
    }

    /// A frozen process (a GC pause, a hung host) does nothing until it
    /// thaws: what reaches one of its activations is held for then, and
    /// this returns true. The one place the request path asks whether a
    /// process is frozen.
    #[inline(always)]
    fn held_by_freeze(&mut self, slot: Slot, hold: Hold) -> bool {
        let instance = self.acts[slot].instance;
        let Some(thaw) = self.instances[instance].thaws_at(self.now) else {
            return false;
        };
        match hold {
            // Its own steps resume at the thaw, in the order they fell due.
            Hold::Event(event) => self.queue.schedule(thaw, event),
            // What others sent it is handled when it thaws, in arrival order.
            Hold::Deferred(deferred) => self.instances[instance].deferred.push(deferred),
        }
        true
    }

    /// Gives free workers to queued activations (after a thaw, or a
    /// request CoDel dropped).
    pub(super) fn fill_workers(&mut self, instance: InstanceId) {
        let service = self.topo.instances[instance].service;
        let spec = &self.topo.services[service];
        let (workers, discipline) = (spec.workers, spec.discipline);
        while let Some(next) =
            self.instances[instance].next_to_start(workers, discipline.order, self.now)
        {
            self.dequeued(instance);
            if !self.shed_if_stale(next, instance, discipline.codel) {
                self.start(next);
            }
        }
    }

    /// Frees an activation's worker and hands it to the next queued one.
    pub(super) fn release_worker(&mut self, instance: InstanceId) {
        let topo = self.topo;
        let spec = &topo.services[topo.instances[instance].service];
        let released = self.instances[instance].release_worker(
            spec.workers,
            spec.queue,
            spec.discipline.order,
            self.now,
        );
        self.worker_freed(instance);
        if let Some(next) = released.next {
            self.dequeued(instance);
            if self.shed_if_stale(next, instance, spec.discipline.codel) {
                // The worker goes to the next one still worth serving.
                self.fill_workers(instance);
            } else {
                self.start(next);
            }
        }
        if released.recovered {
            self.state_change(StateChange::QueueRecovered {
                instance: instance.0,
            });
        }
        self.drained_if_idle(instance);
    }

    // ----- calls ----------------------------------------------------------

    /// Makes the activation's next call, or completes it when none is left.
    // Forced inline: every activation ends its work here, and most then
    // complete at once.
    #[inline(always)]
    fn advance(&mut self, slot: Slot) {
        let topo = self.topo;
        loop {
            let a = self.acts[slot];
            let endpoint = &topo.endpoints[a.endpoint];
            let call_id = endpoint.calls.start + a.next_call;
            if call_id >= endpoint.calls.end {
                self.complete(slot, Outcome::Ok);
                return;
            }
            let call_id = CallId(call_id);
            let call = &topo.calls[call_id];
            // Whether the previous call missed is consumed by this one.
            let missed = std::mem::take(&mut self.acts[slot].missed);
            if call.only_on_miss && !missed {
                self.acts[slot].next_call += 1;
                continue;
            }
            if call.probability < 1.0 {
                let draw: f64 = rand::RngExt::random(&mut self.streams.branch[call_id]);
                if draw >= call.probability {
                    self.acts[slot].next_call += 1;
                    continue;
                }
            }
            if missed && !call.only_on_miss && self.caches.active {
                // What missed is not read back by this call.
                self.abandon_fill(slot);
            }
            // A new call starts its retries afresh.
            self.acts[slot].attempt = 0;
            self.acts[slot].last_backoff = 0;
            if let Some(retry) = call.retry
                && retry.budget.is_some()
            {
                self.calls.budgets[retry.budget_index as usize].note_first_attempt(self.now);
            }
            self.attempt_call(slot, call_id);
            return;
        }
    }

    /// The call site an activation is at.
    #[inline]
    pub(super) fn current_call(&self, slot: Slot) -> CallId {
        let a = &self.acts[slot];
        CallId(self.topo.endpoints[a.endpoint].calls.start + a.next_call)
    }

    /// The instance's place among its service's instances.
    #[inline]
    pub(super) fn rank(&self, instance: InstanceId) -> u32 {
        self.ranks[instance]
    }

    /// One attempt of the activation's current call: past its circuit
    /// breaker, through its pool, to the callee.
    fn attempt_call(&mut self, slot: Slot, call_id: CallId) {
        let topo = self.topo;
        let a = self.acts[slot];
        if self.acts.deadline(slot) <= self.now {
            // Its request has expired: nobody waits for this call's answer.
            self.call_failed(slot, call_id, ErrorClass::Timeout, false);
            return;
        }
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Attempt {
                id,
                call: call_id.0,
                attempt: u32::from(a.attempt) + 1,
            });
        }
        let call = &topo.calls[call_id];
        if let Some(policy) = call.throttling {
            let index = (policy.first + self.rank(a.instance)) as usize;
            let throttle = &mut self.calls.throttles[index];
            let p = throttle.rejection(self.now, policy.window, policy.k);
            throttle.note_request();
            if p > 0.0 {
                let draw: f64 = rand::RngExt::random(&mut self.streams.throttle[call_id]);
                if draw < p {
                    self.call_failed(slot, call_id, ErrorClass::Throttled, false);
                    return;
                }
            }
        }
        if let Some(policy) = &call.breaker {
            let b = policy.first + self.rank(a.instance);
            let (admitted, transition) = self.calls.breakers[b as usize].admit(self.now, policy);
            if let Some(t) = transition {
                self.breaker_changed(call_id, a.instance, t);
            }
            if !admitted {
                self.call_failed(slot, call_id, ErrorClass::CircuitOpen, false);
                return;
            }
        }
        if let Some(group_id) = call.pool_group {
            let group = &topo.pool_groups[group_id];
            let pool = group.first_pool + self.rank(a.instance);
            match self.calls.pools[pool as usize].acquire(group.size) {
                Acquire::Granted => {
                    self.meters.pool_in_use[group_id].add(self.now, 1);
                    self.acts[slot].pool = Some(Held::new(pool));
                }
                Acquire::Exhausted { newly } => {
                    if newly {
                        self.state_change(StateChange::PoolExhausted {
                            pool_group: group_id.0,
                            caller_instance: a.instance.0,
                        });
                    }
                    if group.acquire_timeout == Some(0) {
                        self.meters.pool_refused[group_id] += 1;
                        self.call_failed(slot, call_id, ErrorClass::PoolExhausted, false);
                    } else {
                        self.acts[slot].phase = Phase::WaitingPool;
                        self.calls.pools[pool as usize].wait((slot, a.epoch));
                        self.meters.pool_waiting[group_id].add(self.now, 1);
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
    fn send(&mut self, slot: Slot, call_id: CallId) {
        let call = &self.topo.calls[call_id];
        let epoch = self.acts[slot].epoch;
        self.acts[slot].call_sent = self.now;
        let deadline = self.acts.deadline(slot);
        if deadline != SimTime::NEVER
            && call
                .timeout
                .is_none_or(|timeout| deadline < self.now + timeout)
        {
            // Its request expires before this call would time out: it gives
            // up on the call then.
            self.queue.schedule(deadline, Event::Expire { slot, epoch });
        }
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Sent { id, epoch });
        }
        if self.faults.any_link() {
            let from = self.topo.instances[self.acts[slot].instance].service;
            let delay = self.faults.network_delay(from, call.to_service);
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
    fn on_land(&mut self, slot: Slot, epoch: u32, call_id: CallId) {
        if self.acts[slot].awaits(epoch) {
            self.transmit(slot, call_id, epoch, false);
        } else {
            let to = self.topo.calls[call_id].to;
            let _ = self.dispatch(to, Parent::Call { slot, epoch });
        }
    }

    /// Hands the request to the callee's balancer; `arm`: start the
    /// caller's timer now (it was not started on the wire).
    fn transmit(&mut self, slot: Slot, call_id: CallId, epoch: u32, arm: bool) {
        let call = &self.topo.calls[call_id];
        let dispatched = if call.keyed {
            self.dispatch_keyed(call.to, slot, epoch)
        } else {
            self.dispatch(call.to, Parent::Call { slot, epoch })
        };
        match dispatched {
            Ok(dispatched) => {
                if arm && let Some(lane) = call.timeout_lane {
                    self.arm(lane, slot, epoch);
                }
                if call.propagate_deadline
                    && let Dispatched::To(child) = dispatched
                {
                    let own = call
                        .timeout
                        .map_or(SimTime::NEVER, |t| self.acts[slot].call_sent + t);
                    let deadline = own.min(self.acts.deadline(slot));
                    self.acts.set_deadline(child, deadline);
                    let c = self.acts[child];
                    if c.phase == Phase::Working
                        && deadline != SimTime::NEVER
                        && let Some(after) = self.topo.endpoints[c.endpoint].abandon_after
                    {
                        // It started before it knew its deadline: its work
                        // ends at the cut if that comes first (whichever
                        // event is later finds the epoch moved on).
                        self.queue.schedule(
                            SimTime(deadline.ns().saturating_add(after)),
                            Event::WorkCut {
                                slot: child,
                                epoch: c.epoch,
                            },
                        );
                    }
                }
            }
            Err(class) => {
                self.acts[slot].epoch += 1;
                self.release_connection(slot);
                self.call_failed(slot, call_id, class, true);
            }
        }
    }

    /// Hands a callee's answer to its caller, or holds it until the
    /// caller's instance thaws.
    // Forced inline: every answer to a call passes here, from `answer`.
    #[inline(always)]
    pub(super) fn deliver(&mut self, slot: Slot, epoch: u32, outcome: Outcome) {
        let answer = Deferred::Answer {
            slot,
            epoch,
            outcome,
        };
        if !self.held_by_freeze(slot, Hold::Deferred(answer)) {
            self.respond(slot, outcome);
        }
    }

    /// The callee answered an activation that was still waiting for it;
    /// an error carries the class the caller's call saw.
    pub(super) fn respond(&mut self, slot: Slot, outcome: Outcome) {
        self.acts[slot].epoch += 1;
        self.release_connection(slot);
        let call_id = self.current_call(slot);
        if let Some(policy) = self.topo.calls[call_id].throttling
            && matches!(
                outcome,
                Outcome::Ok | Outcome::Err(ErrorClass::Downstream | ErrorClass::Injected)
            )
        {
            // Accepted: the callee took the request and answered it, well
            // or with an error of its own; overload answers are not.
            let index = (policy.first + self.rank(self.acts[slot].instance)) as usize;
            self.calls.throttles[index].note_accept(self.now, policy.window);
        }
        match outcome {
            Outcome::Ok => {
                if O::TRACES {
                    let id = self.activation_id(slot);
                    self.trace(Traced::Answered { id });
                }
                let call = &self.topo.calls[call_id];
                if let Some(policy) = call.breaker {
                    let sent = self.acts[slot].call_sent;
                    let slow = policy
                        .slow_call
                        .is_some_and(|limit| self.now - sent >= limit);
                    self.breaker_record(slot, call_id, slow);
                }
                if let Some(quota) = call.retry.and_then(|r| r.quota) {
                    self.refund_quota(slot, quota);
                }
                if call.only_on_miss && self.caches.active {
                    self.fill(slot);
                }
                self.acts[slot].next_call += 1;
                self.advance(slot);
            }
            Outcome::Err(class) => self.call_failed(slot, call_id, class, true),
        }
    }

    /// An attempt of the current call failed with `class` (`sent`: it
    /// reached the callee, so its breaker counts it). Retries if the policy
    /// and the budget allow, after a backoff; otherwise the call's fallback
    /// decides, and without one the activation fails with the class its
    /// call saw.
    pub(super) fn call_failed(
        &mut self,
        slot: Slot,
        call_id: CallId,
        class: ErrorClass,
        sent: bool,
    ) {
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Failed { id, class });
        }
        let call = &self.topo.calls[call_id];
        if sent && call.breaker.is_some() {
            self.breaker_record(slot, call_id, true);
        }
        if self.retry(slot, call_id, class, sent) {
            return;
        }
        if call.only_on_miss && self.caches.active {
            self.abandon_fill(slot);
        }
        let kind = match call.fallback {
            Fallback::Fail => {
                self.complete(slot, Outcome::Err(class));
                return;
            }
            Fallback::Enqueue(_) => FallbackTaken::Enqueued,
            Fallback::Degrade => FallbackTaken::Degraded,
        };
        if O::TRACES {
            let id = self.activation_id(slot);
            self.trace(Traced::Fallback { id, kind });
        }
        match call.fallback {
            // Accepted for later: the user's request goes on as if the call
            // had succeeded, and the queue owns the work now.
            Fallback::Enqueue(queue) => self.enqueue(queue, call.to),
            Fallback::Degrade => {
                let a = &mut self.acts[slot];
                a.degraded = true;
                // No answer is a miss: behind a dead cache every read goes on.
                a.missed = true;
            }
            Fallback::Fail => {}
        }
        let a = &mut self.acts[slot];
        a.next_call += 1;
        a.phase = Phase::Working;
        self.advance(slot);
    }

    /// Schedules another attempt of the failed call if its policy, its
    /// budget and its quota allow one; returns whether it did. `sent`: the
    /// failure came from the callee (only its answer carries a
    /// retry-after; a call the caller refused itself has none).
    fn retry(&mut self, slot: Slot, call_id: CallId, class: ErrorClass, sent: bool) -> bool {
        let call = &self.topo.calls[call_id];
        let Some(retry) = call.retry else {
            return false;
        };
        let a = self.acts[slot];
        let retries_left = u32::from(a.attempt) + 1 < retry.max_attempts;
        let retryable = retry.on & (1 << class as u16) != 0;
        // The quota is looked at first and paid last, so that a retry the
        // budget refuses costs no tokens.
        let timed_out = class == ErrorClass::Timeout;
        let quota = retry.quota.map(|q| {
            let index = (q.first + self.rank(a.instance)) as usize;
            let cost = if timed_out { q.timeout_cost } else { q.cost };
            (index, cost)
        });
        if !(retries_left
            && retryable
            && quota.is_none_or(|(index, cost)| self.calls.quotas[index] >= cost)
            && retry.budget.is_none_or(|(ratio, min_per_s)| {
                self.calls.budgets[retry.budget_index as usize]
                    .try_spend(self.now, ratio, min_per_s)
            }))
        {
            return false;
        }
        if let Some((index, cost)) = quota {
            self.calls.quotas[index] -= cost;
        }
        let mut sleep = crate::components::retry::backoff(
            &retry,
            u32::from(a.attempt) + 1,
            a.last_backoff,
            &mut self.streams.retry[call_id],
        );
        if class == ErrorClass::Throttled
            && sent
            && retry.honor_retry_after
            && let Some(limit) = self.topo.services[call.to_service].rate_limit
        {
            // The throttled answer said when to come back.
            sleep = sleep.max(limit.retry_after);
        }
        let state = &mut self.acts[slot];
        state.attempt += 1;
        state.last_backoff = sleep;
        state.retried_timeout = timed_out;
        state.phase = Phase::Working;
        self.meters.endpoint[a.endpoint].retries += 1;
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
        true
    }

    /// A retry's backoff is over: the call goes out again.
    fn on_retry(&mut self, slot: Slot, epoch: u32) {
        if !self.acts[slot].awaits(epoch) {
            return;
        }
        if self.held_by_freeze(slot, Hold::Event(Event::Retry { slot, epoch })) {
            return;
        }
        self.acts[slot].epoch += 1;
        let call_id = self.current_call(slot);
        self.attempt_call(slot, call_id);
    }

    /// A call answered: its caller's retry quota gets back what the call's
    /// last retry cost, or the refund for a call that needed none.
    fn refund_quota(&mut self, slot: Slot, quota: crate::topology::RetryQuota) {
        let a = self.acts[slot];
        let back = match (a.attempt, a.retried_timeout) {
            (0, _) => quota.refund,
            (_, true) => quota.timeout_cost,
            (_, false) => quota.cost,
        };
        let index = (quota.first + self.rank(a.instance)) as usize;
        let tokens = &mut self.calls.quotas[index];
        *tokens = tokens.saturating_add(back).min(quota.capacity);
    }

    fn breaker_record(&mut self, slot: Slot, call_id: CallId, failed: bool) {
        let Some(policy) = &self.topo.calls[call_id].breaker else {
            return;
        };
        let instance = self.acts[slot].instance;
        let b = policy.first + self.rank(instance);
        if let Some(t) = self.calls.breakers[b as usize].record(self.now, policy, failed) {
            self.breaker_changed(call_id, instance, t);
        }
    }

    fn breaker_changed(&mut self, call: CallId, instance: InstanceId, transition: Transition) {
        let (call, instance) = (call.0, instance.0);
        let change = match transition {
            Transition::Opened => StateChange::BreakerOpened { call, instance },
            Transition::HalfOpened => StateChange::BreakerHalfOpen { call, instance },
            Transition::Closed => StateChange::BreakerClosed { call, instance },
        };
        self.state_change(change);
    }

    // ----- pools ----------------------------------------------------------

    /// Returns the activation's pool connection, handing it straight to the
    /// longest-waiting live caller if there is one.
    pub(super) fn release_connection(&mut self, slot: Slot) {
        let Some(held) = self.acts[slot].pool.take() else {
            return;
        };
        let group_id = self.topo.calls[self.current_call(slot)]
            .pool_group
            .expect("a held connection belongs to a pooled call");
        let size = self.topo.pool_groups[group_id].size;
        let acts = &self.acts;
        let handed = self.calls.pools[held.pool()]
            .release(size, |(waiter, epoch)| acts[waiter].awaits(epoch));
        match handed {
            Release::HandedOver((waiter, _)) => {
                self.meters.pool_waiting[group_id].sub(self.now, 1);
                let w = &mut self.acts[waiter];
                w.epoch += 1;
                w.pool = Some(held);
                w.phase = Phase::Working;
                let waiter_call = self.current_call(waiter);
                self.send(waiter, waiter_call);
            }
            Release::Freed { recovered } => {
                self.meters.pool_in_use[group_id].sub(self.now, 1);
                if recovered {
                    self.state_change(StateChange::PoolRecovered {
                        pool_group: group_id.0,
                        caller_instance: self.acts[slot].instance.0,
                    });
                }
            }
        }
    }

    /// Takes a waiting activation off its pool's count of waiters (its
    /// entry in the queue is skipped when reached: its epoch has moved on),
    /// and counts the refusal if it gave up.
    pub(super) fn leave_pool_queue(&mut self, slot: Slot, refused: bool) {
        let group = self.topo.calls[self.current_call(slot)]
            .pool_group
            .expect("a waiter waits on a pooled call");
        let pool = self.topo.pool_groups[group].first_pool + self.rank(self.acts[slot].instance);
        self.calls.pools[pool as usize].leave();
        self.meters.pool_waiting[group].sub(self.now, 1);
        if refused {
            self.meters.pool_refused[group] += 1;
        }
    }

    /// Remembers a write the primary acknowledged, for as long as a replica
    /// may not have it yet.
    fn note_write(&mut self, service: ServiceId, endpoint: EndpointId) {
        if self.topo.endpoints[endpoint].read {
            // The primary's reads are never stale.
            self.replicas.reads[service] += 1;
            return;
        }
        let primary = self.replicas.primaries[service];
        let horizon = self.topo.services[service]
            .instances
            .clone()
            .map(InstanceId)
            .filter(|i| Some(*i) != primary)
            .map(|i| self.lag_of(i))
            .fold(0.0, f64::max);
        self.replicate(service);
        let writes = &mut self.replicas.recent_writes[service];
        writes.push_back(self.now);
        let now = self.now.ns() as f64;
        while writes
            .front()
            .is_some_and(|t| (t.ns() as f64) < now - horizon - 1.0)
        {
            writes.pop_front();
        }
    }

    // ----- endings --------------------------------------------------------

    /// Ends an activation that answers: records it, frees its worker and
    /// slot, and answers its parent.
    pub(super) fn complete(&mut self, slot: Slot, outcome: Outcome) {
        let a = self.acts[slot];
        if O::TRACES {
            self.trace_end(slot, outcome);
        }
        let service = self.topo.endpoints[a.endpoint].service;
        let ok = matches!(outcome, Outcome::Ok);
        if a.degraded && ok {
            self.meters.endpoint[a.endpoint].degraded += 1;
        }
        if ok {
            if self.replicas.primaries[service] == Some(a.instance) {
                self.note_write(service, a.endpoint);
            } else if self.topo.services[service].replication.is_some() {
                if self.topo.endpoints[a.endpoint].read {
                    self.replicas.reads[service] += 1;
                    if self.staleness(a.instance) > 0 {
                        self.replicas.stale_reads[service] += 1;
                    }
                } else {
                    // A write that only a deposed primary took.
                    self.replicas.divergent_writes[service] += 1;
                }
            }
        }
        match outcome {
            Outcome::Ok => self.meters.endpoint[a.endpoint].record_ok(self.now - a.arrived),
            Outcome::Err(class) => self.meters.endpoint[a.endpoint].record_error(class),
        }
        if self.caches.active {
            self.abandon_fill(slot);
        }
        self.instance_ended(a.instance, outcome.err());
        self.acts.release(slot);
        self.release_worker(a.instance);
        self.answer(&a, Ending::Answered(outcome));
        // Last, once this activation is gone: the work leaves memory behind,
        // and this request may be the one that fills the instance.
        let state = &mut self.instances[a.instance];
        if state.leak_per_request > 0 && state.process == Process::Running {
            state.leaked += state.leak_per_request as f64;
            self.check_memory(a.instance);
        }
    }

    /// Ends an activation that holds no worker or connection any more (its
    /// process died or its host came back and reset it), with `class` as
    /// what its caller sees.
    pub(super) fn abort(&mut self, slot: Slot, class: ErrorClass) {
        let a = self.acts[slot];
        if O::TRACES {
            self.trace_end(slot, Outcome::Err(class));
        }
        self.meters.endpoint[a.endpoint].record_error(class);
        if self.caches.active {
            self.abandon_fill(slot);
        }
        self.instance_ended(a.instance, Some(class));
        self.acts.release(slot);
        self.answer(&a, Ending::Reset(class));
    }

    /// Tells an ended activation's parent how it ended: the one place an
    /// answer is routed.
    // Forced inline: every request ends here, nearly always from `complete`.
    #[inline(always)]
    fn answer(&mut self, a: &Activation, ending: Ending) {
        let outcome = match ending {
            Ending::Answered(outcome) => outcome,
            Ending::Reset(class) => Outcome::Err(class),
        };
        let ok = matches!(outcome, Outcome::Ok);
        match a.parent() {
            // Its client gave up and already counted a timeout.
            Parent::Orphan => {}
            Parent::Client(client) => self.client_answered(client, a.endpoint, a.instance, outcome),
            Parent::Consumer(queue) => self.delivered(queue, a.endpoint, ok),
            Parent::Probe(seq) => self.probe_answered(a.instance, seq, ok),
            Parent::Entry(workload) => {
                let measured = self.measured(a.arrived);
                let latency = self.now - a.arrived;
                let (window, total) = (
                    &mut self.meters.entry[workload],
                    &mut self.meters.entry_totals[workload],
                );
                match outcome {
                    Outcome::Ok => {
                        window.record_ok(latency);
                        window.degraded += a.degraded as u64;
                        if measured {
                            total.record_ok(latency);
                            total.degraded += a.degraded as u64;
                        }
                    }
                    Outcome::Err(class) => {
                        window.record_failure(class, latency);
                        if measured {
                            total.record_failure(class, latency);
                        }
                    }
                }
            }
            Parent::Call { slot, epoch } => {
                if !self.acts[slot].awaits(epoch) {
                    return;
                }
                // The callee answered with an error: to the caller, that is
                // `downstream`. A reset connection it sees as it is.
                let seen = match ending {
                    Ending::Answered(Outcome::Ok) => Outcome::Ok,
                    Ending::Answered(Outcome::Err(_)) => Outcome::Err(ErrorClass::Downstream),
                    Ending::Reset(class) => Outcome::Err(class),
                };
                if matches!(seen, Outcome::Ok) {
                    // A degraded answer degrades whatever is built from it.
                    if a.degraded {
                        self.acts[slot].degraded = true;
                    }
                    if let Some(hit_ratio) = self.topo.endpoints[a.endpoint].hit_ratio {
                        let draw: f64 = rand::RngExt::random(&mut self.streams.hits[a.endpoint]);
                        self.acts[slot].missed = draw >= hit_ratio;
                    } else if let Some(keys) = self.topo.endpoints[a.endpoint].keys
                        && self.cache_answered(slot, epoch, a.endpoint, a.instance, keys)
                    {
                        return;
                    }
                }
                self.deliver(slot, epoch, seen);
            }
        }
    }

    // ----- slab -----------------------------------------------------------

    pub(super) fn allocate(&mut self, activation: Activation) -> Slot {
        let slot = self.acts.allocate(activation);
        if O::TRACES {
            let id = self.activation_id(slot);
            let origin = self.origin(activation.parent());
            self.trace(Traced::Admitted {
                id,
                origin,
                endpoint: activation.endpoint.0,
                instance: activation.instance.0,
            });
        }
        slot
    }

    // ----- request trace (compiled in only for observers that trace) ------

    pub(super) fn trace(&mut self, what: Traced) {
        let event = TraceEvent {
            time: self.now.ns(),
            what,
        };
        self.observer.trace(&event);
    }

    fn trace_end(&mut self, slot: Slot, outcome: Outcome) {
        let id = self.activation_id(slot);
        let error = match outcome {
            Outcome::Ok => None,
            Outcome::Err(class) => Some(class),
        };
        let degraded = self.acts[slot].degraded;
        self.trace(Traced::Completed {
            id,
            error,
            degraded,
        });
    }

    pub(super) fn activation_id(&self, slot: Slot) -> ActivationId {
        let life = self.acts[slot].life;
        ActivationId { slot: slot.0, life }
    }

    /// Who an activation works for, as the trace names it.
    fn origin(&self, parent: Parent) -> Origin {
        match parent {
            Parent::Entry(workload) => Origin::Entry {
                workload: workload.0,
            },
            Parent::Client(client) => Origin::Client { client: client.0 },
            Parent::Consumer(queue) => Origin::Consumer { queue: queue.0 },
            Parent::Probe(_) => Origin::Probe,
            Parent::Call { slot, epoch } => Origin::Call {
                slot: slot.0,
                epoch,
            },
            Parent::Orphan => unreachable!("an activation is born with a parent"),
        }
    }

    // ----- timers ---------------------------------------------------------

    pub(super) fn arm(&mut self, lane: u32, slot: Slot, epoch: u32) {
        self.timers
            .arm(&mut self.queue, self.now, lane, slot, epoch);
    }

    /// Fires the due timers of a lane. The lane stays armed while they fire:
    /// a firing timer can arm the same lane again (a released connection
    /// goes to a waiter, whose call starts its own timer), and that must not
    /// put a second event for the lane in the heap. Exactly one event is
    /// rescheduled at the end, for the new head, unless the lane is empty.
    fn on_timer(&mut self, lane: u32) {
        let kind = self.timers.kind(lane);
        while let Some(timer) = self.timers.head(lane) {
            let a = &self.acts[timer.slot];
            let live = match kind {
                // A client's patience outlives the activation's progress:
                // it is tied to the slot's life, not to its epoch.
                TimerKind::ClientTimeout => {
                    a.life == timer.epoch
                        && a.phase != Phase::Free
                        && matches!(a.parent(), Parent::Entry(_))
                }
                TimerKind::ConsumerTimeout => {
                    a.life == timer.epoch
                        && a.phase != Phase::Free
                        && matches!(a.parent(), Parent::Consumer(_))
                }
                _ => a.awaits(timer.epoch),
            };
            if !live {
                self.timers.pop(lane);
                continue;
            }
            if timer.deadline > self.now {
                self.queue.schedule(timer.deadline, Event::Timer { lane });
                return;
            }
            self.timers.pop(lane);
            self.record.digest.push(timer.slot.0 as u64);
            if O::STEPS {
                self.observe_fired(timer.slot, timer.epoch);
            }
            self.timer_fired(timer.slot, timer.epoch, kind);
        }
    }

    /// A live timer is due.
    fn timer_fired(&mut self, slot: Slot, epoch: u32, kind: TimerKind) {
        match kind {
            TimerKind::ClientTimeout | TimerKind::ConsumerTimeout => {
                // The client or consumer gives up; the request runs on in
                // the system, answering nobody.
                let a = &mut self.acts[slot];
                let parent = a.parent();
                a.set_parent(Parent::Orphan);
                let (endpoint, arrived) = (a.endpoint, a.arrived);
                if O::TRACES {
                    let id = ActivationId {
                        slot: slot.0,
                        life: epoch,
                    };
                    self.trace(Traced::GaveUp { id });
                }
                match parent {
                    Parent::Entry(workload) => {
                        let latency = self.now - arrived;
                        let timeout = ErrorClass::Timeout;
                        self.meters.entry[workload].record_failure(timeout, latency);
                        if self.measured(arrived) {
                            self.meters.entry_totals[workload].record_failure(timeout, latency);
                        }
                    }
                    Parent::Consumer(queue) => self.delivered(queue, endpoint, false),
                    _ => unreachable!("only entries and consumers have patience timers"),
                }
            }
            TimerKind::CallTimeout | TimerKind::AcquireTimeout => {
                // A frozen process notices its timers only when it thaws.
                let timer = Deferred::Timer { slot, epoch, kind };
                if !self.held_by_freeze(slot, Hold::Deferred(timer)) {
                    self.fire_timer(slot, kind);
                }
            }
        }
    }

    /// A call or acquire timer of a live activation has fired.
    pub(super) fn fire_timer(&mut self, slot: Slot, kind: TimerKind) {
        self.acts[slot].epoch += 1;
        let call_id = self.current_call(slot);
        match kind {
            TimerKind::ClientTimeout | TimerKind::ConsumerTimeout => {
                unreachable!("client and consumer timers are handled apart")
            }
            TimerKind::CallTimeout => {
                self.release_connection(slot);
                self.call_failed(slot, call_id, ErrorClass::Timeout, true);
            }
            TimerKind::AcquireTimeout => {
                self.leave_pool_queue(slot, true);
                self.acts[slot].phase = Phase::Working;
                self.call_failed(slot, call_id, ErrorClass::PoolExhausted, false);
            }
        }
    }

    // ----- observation ----------------------------------------------------

    pub(super) fn state_change(&mut self, change: StateChange) {
        self.record.state_changes += 1;
        for word in change.digest_words() {
            self.record.digest.push(word);
        }
        let event = StateEvent {
            time: self.now.ns(),
            change,
        };
        self.observer.state_change(self.topo, &event);
    }
}
