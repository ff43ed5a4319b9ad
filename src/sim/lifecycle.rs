//! Instances living and dying: faults on the virtual clock, restarts, and the
//! load balancer's health checks. Nothing here knows a scenario: a kill is a
//! kill, and what follows (refused connections, hung callers, a balancer that
//! keeps routing to a corpse until its probes fail) comes from the mechanisms.

use rand::RngExt;

use super::engine::{CLIENT, CONSUMER, ENTRY, Engine, NO_PRIMARY, ORPHAN, PROBE, Phase};
use super::event::Event;
use crate::base::{ErrorClass, Outcome};
use crate::components::instance::{Deferred, Process};
use crate::components::work;
use crate::faults::FaultAction;
use crate::faults::{KillMode, PartitionMode};
use crate::observe::Observer;
use crate::observe::events::StateChange;
use crate::observe::trace::Traced;
use crate::topology::InstanceId;

impl<O: Observer> Engine<'_, O> {
    pub(super) fn schedule_faults_and_probes(&mut self) {
        for (f, fault) in self.faults.iter().enumerate() {
            let fault_id = f as u32;
            self.queue
                .schedule(fault.start, Event::FaultStart { fault: fault_id });
            if let Some(end) = fault.end
                && end < self.config.duration
            {
                self.queue
                    .schedule(end, Event::FaultEnd { fault: fault_id });
            }
        }
        for service in &self.topo.services {
            let Some(hc) = service.health_check else {
                continue;
            };
            // Staggered over one interval, so the probes of a service do not
            // all land at the same instant.
            let n = service.instances.len() as u64;
            for (k, instance) in service.instances.clone().enumerate() {
                let offset = hc.interval * k as u64 / n;
                self.queue.schedule(offset, Event::Probe { instance });
            }
        }
    }

    // ----- faults ---------------------------------------------------------

    pub(super) fn on_fault_start(&mut self, f: u32) {
        let faults = self.faults;
        let fault = &faults[f as usize];
        self.state_change(StateChange::FaultStarted { fault: f });
        match &fault.action {
            FaultAction::Kill {
                service,
                instance,
                count,
                mode,
            } => {
                let victims = match instance {
                    Some(i) => vec![*i],
                    None => self.choose_running(*service, *count, f),
                };
                for victim in victims {
                    self.kill(victim, *mode, f);
                }
            }
            FaultAction::ZoneOutage { zone } => {
                for i in 0..self.topo.instances.len() as u32 {
                    if self.topo.instances[i as usize].zone.0 == *zone {
                        self.zone_down(i, f);
                    }
                }
            }
            FaultAction::Latency { endpoints, .. } => {
                for e in endpoints {
                    self.latency_faults[*e as usize].push(f);
                }
            }
            FaultAction::Errors { endpoints, .. } => {
                for e in endpoints {
                    self.error_faults[*e as usize].push(f);
                }
            }
            FaultAction::CpuStress { instances, factor } => {
                for i in instances {
                    self.instances[*i as usize].cpu_factor *= factor;
                }
            }
            FaultAction::Partition { .. } => self.partitions.push(f),
            FaultAction::LinkLatency { .. } => self.link_faults.push(f),
            FaultAction::ReplicationLag { instance, grow } => {
                self.settle_lag(*instance);
                self.lags[*instance as usize].slope += grow;
            }
            FaultAction::Freeze {
                service,
                instance,
                count,
            } => {
                let victims = match instance {
                    Some(i) => vec![*i],
                    None => self.choose_running(*service, *count, f),
                };
                let thaw = fault.end.unwrap_or(u64::MAX);
                for victim in victims {
                    self.freeze(victim, thaw, f);
                }
            }
            FaultAction::MemoryLeak {
                instances,
                rate,
                per_request,
            } => self.change_leak(instances, *rate, *per_request, true),
            FaultAction::ChaosMonkey { .. } => {
                self.monkeys_active[f as usize] = true;
                self.schedule_monkey(f);
            }
        }
    }

    /// The monkey's next kill, an exponential interval away.
    fn schedule_monkey(&mut self, f: u32) {
        let FaultAction::ChaosMonkey { mean_interval, .. } = self.faults[f as usize].action else {
            return;
        };
        let gap: f64 =
            rand_distr::Distribution::sample(&rand_distr::Exp1, &mut self.fault_rngs[f as usize]);
        let at = self.now + work::nearest(gap * mean_interval as f64);
        self.queue.schedule(at, Event::MonkeyKill { fault: f });
    }

    pub(super) fn on_monkey_kill(&mut self, f: u32) {
        if !self.monkeys_active[f as usize] {
            return;
        }
        if let FaultAction::ChaosMonkey { service, mode, .. } = self.faults[f as usize].action {
            for victim in self.choose_running(service, 1, f) {
                self.kill(victim, mode, f);
            }
        }
        self.schedule_monkey(f);
    }

    pub(super) fn on_fault_end(&mut self, f: u32) {
        let faults = self.faults;
        self.state_change(StateChange::FaultEnded { fault: f });
        match &faults[f as usize].action {
            // A kill is an instant; what brings the instance back is its
            // restart policy.
            FaultAction::Kill { .. } => {}
            FaultAction::ZoneOutage { zone } => {
                for i in 0..self.topo.instances.len() as u32 {
                    if self.topo.instances[i as usize].zone.0 == *zone {
                        self.zone_up(i);
                    }
                }
            }
            FaultAction::Latency { endpoints, .. } => {
                for e in endpoints {
                    self.latency_faults[*e as usize].retain(|x| *x != f);
                }
            }
            FaultAction::Errors { endpoints, .. } => {
                for e in endpoints {
                    self.error_faults[*e as usize].retain(|x| *x != f);
                }
            }
            FaultAction::Partition { .. } => self.partitions.retain(|p| *p != f),
            FaultAction::LinkLatency { .. } => self.link_faults.retain(|p| *p != f),
            FaultAction::ReplicationLag { instance, grow } => {
                self.settle_lag(*instance);
                let catch_up = self
                    .topo
                    .service_of_instance(InstanceId(*instance))
                    .replication
                    .map_or(2.0, |r| r.catch_up);
                let lag = &mut self.lags[*instance as usize];
                lag.slope -= grow;
                if lag.slope.abs() < 1e-12 {
                    // Replicating again: it catches up to the normal lag.
                    lag.slope = -catch_up;
                }
            }
            // Thawing is scheduled per instance when the freeze starts.
            FaultAction::Freeze { .. } => {}
            FaultAction::MemoryLeak {
                instances,
                rate,
                per_request,
            } => self.change_leak(instances, *rate, *per_request, false),
            FaultAction::ChaosMonkey { .. } => self.monkeys_active[f as usize] = false,
            FaultAction::CpuStress { instances, factor } => {
                for i in instances {
                    let state = &mut self.instances[*i as usize];
                    state.cpu_factor /= factor;
                    // Undo rounding drift once no stress is left.
                    if (state.cpu_factor - 1.0).abs() < 1e-9 {
                        state.cpu_factor = 1.0;
                    }
                }
            }
        }
    }

    /// `count` distinct running instances of a service, drawn from the
    /// fault's own stream.
    fn choose_running(&mut self, service: u32, count: u32, f: u32) -> Vec<u32> {
        let mut candidates: Vec<u32> = self.topo.services[service as usize]
            .instances
            .clone()
            .filter(|i| self.instances[*i as usize].reachability() == Process::Running)
            .collect();
        let rng = &mut self.fault_rngs[f as usize];
        let take = (count as usize).min(candidates.len());
        for k in 0..take {
            let j = rng.random_range(k..candidates.len());
            candidates.swap(k, j);
        }
        candidates.truncate(take);
        candidates
    }

    /// Extra work time from the latency faults active on an endpoint, for a
    /// request on `instance`.
    pub(super) fn injected_latency(&mut self, endpoint: u32, instance: u32) -> u64 {
        let faults = self.faults;
        let mut total = 0;
        for k in 0..self.latency_faults[endpoint as usize].len() {
            let f = self.latency_faults[endpoint as usize][k] as usize;
            if let FaultAction::Latency {
                add,
                instance: only,
                ..
            } = &faults[f].action
                && only.is_none_or(|i| i == instance)
            {
                total += work::sample(*add, &mut self.fault_rngs[f]);
            }
        }
        total
    }

    /// How an active partition treats a call from one instance to another,
    /// if one separates them.
    pub(super) fn partition_between(&self, from: u32, to: u32) -> Option<PartitionMode> {
        let at = |i: u32| {
            let instance = &self.topo.instances[i as usize];
            (instance.service.0, instance.zone.0)
        };
        self.partitions.iter().find_map(|f| {
            let action = &self.faults[*f as usize].action;
            match action {
                FaultAction::Partition { mode, .. } if action.separates(at(from), at(to)) => {
                    Some(*mode)
                }
                _ => None,
            }
        })
    }

    /// Network delay of the activation's current call, from the latency
    /// faults on the link between its service and the callee's.
    pub(super) fn network_delay(&mut self, slot: u32, call_id: u32) -> u64 {
        let faults = self.faults;
        let from = self.topo.instances[self.slab[slot as usize].instance as usize]
            .service
            .0;
        let to = self.topo.calls[call_id as usize].to_service.0;
        let mut total = 0;
        for k in 0..self.link_faults.len() {
            let f = self.link_faults[k] as usize;
            if let FaultAction::LinkLatency {
                from: a,
                to: b,
                add,
            } = faults[f].action
                && a == from
                && b == to
            {
                total += work::sample(add, &mut self.fault_rngs[f]);
            }
        }
        total
    }

    /// Whether an error fault answers this request instead of the endpoint.
    pub(super) fn injects_error(&mut self, endpoint: u32, instance: u32) -> bool {
        let faults = self.faults;
        for k in 0..self.error_faults[endpoint as usize].len() {
            let f = self.error_faults[endpoint as usize][k] as usize;
            if let FaultAction::Errors {
                fraction,
                instance: only,
                ..
            } = &faults[f].action
                && only.is_none_or(|i| i == instance)
                && self.fault_rngs[f].random::<f64>() < *fraction
            {
                return true;
            }
        }
        false
    }

    // ----- death and rebirth ----------------------------------------------

    // ----- replication ----------------------------------------------------

    /// A replica's lag now (ns), never below the normal lag.
    pub(super) fn lag_of(&self, instance: u32) -> f64 {
        let base = self
            .topo
            .service_of_instance(InstanceId(instance))
            .replication
            .map_or(0, |r| r.lag) as f64;
        let lag = &self.lags[instance as usize];
        (lag.at + lag.slope * (self.now - lag.since) as f64).max(base)
    }

    fn settle_lag(&mut self, instance: u32) {
        let value = self.lag_of(instance);
        let now = self.now;
        let lag = &mut self.lags[instance as usize];
        lag.at = value;
        lag.since = now;
        if lag.slope < 0.0 {
            let base = self
                .topo
                .service_of_instance(InstanceId(instance))
                .replication
                .map_or(0, |r| r.lag) as f64;
            if value <= base {
                lag.slope = 0.0;
            }
        }
    }

    /// The instance just died or vanished: if it was a replicated database's
    /// primary, replication stops where each replica stood, and a failover
    /// begins if one is configured.
    fn primary_check(&mut self, instance: u32) {
        let service = self.topo.instances[instance as usize].service.index();
        let Some(replication) = self.topo.services[service].replication else {
            return;
        };
        if self.primaries[service] != instance {
            return;
        }
        self.state_change(StateChange::PrimaryLost { instance });
        // What each replica had received when the primary went.
        for replica in self.topo.services[service].instances.clone() {
            if replica != instance {
                self.lags[replica as usize].position = self.now as f64 - self.lag_of(replica);
            }
        }
        if let Some(failover) = replication.failover {
            self.primaries[service] = NO_PRIMARY;
            self.queue.schedule(
                self.now + failover.detection + failover.promotion,
                Event::Promote {
                    service: service as u32,
                },
            );
        }
    }

    /// Promotes the replica that had received the most; the primary's
    /// acknowledged writes it had not received are lost.
    pub(super) fn on_promote(&mut self, service: u32) {
        let s = service as usize;
        let best = self.topo.services[s]
            .instances
            .clone()
            .filter(|i| self.instances[*i as usize].reachability() == Process::Running)
            .max_by(|a, b| {
                self.lags[*a as usize]
                    .position
                    .total_cmp(&self.lags[*b as usize].position)
                    .then(b.cmp(a))
            });
        let Some(promoted) = best else {
            self.state_change(StateChange::FailoverFailed { service });
            return;
        };
        let received = self.lags[promoted as usize].position;
        let lost = self.recent_writes[s]
            .iter()
            .filter(|t| **t as f64 > received)
            .count() as u64;
        self.lost_writes[s] += lost;
        self.recent_writes[s].clear();
        self.primaries[s] = promoted;
        for replica in self.topo.services[s].instances.clone() {
            self.lags[replica as usize] = super::engine::ReplicaLag {
                since: self.now,
                ..Default::default()
            };
        }
        self.state_change(StateChange::PrimaryPromoted {
            instance: promoted,
            lost_writes: lost as u32,
        });
    }

    fn kill(&mut self, instance: u32, mode: KillMode, f: u32) {
        if self.instances[instance as usize].process != Process::Running {
            return;
        }
        let host_down = mode == KillMode::HostDown;
        self.state_change(StateChange::InstanceKilled {
            instance,
            fault: f,
            host_down,
        });
        let state = &mut self.instances[instance as usize];
        state.incarnation += 1;
        if host_down {
            state.process = Process::Unreachable;
            self.evict(instance, false);
        } else {
            state.process = Process::Dead;
            self.evict(instance, true);
            // The dead process reset every connection, idle ones too.
            self.disconnect_clients(instance);
        }
        self.primary_check(instance);
        self.schedule_restart(instance);
    }

    /// The supervisor, if the service has one, starts a new process later.
    fn schedule_restart(&mut self, instance: u32) {
        if let Some(restart) = self.topo.service_of_instance(InstanceId(instance)).restart {
            let incarnation = self.instances[instance as usize].incarnation;
            self.queue.schedule(
                self.now + restart.delay,
                Event::Restart {
                    instance,
                    incarnation,
                },
            );
        }
    }

    fn zone_down(&mut self, instance: u32, f: u32) {
        if self.instances[instance as usize].zone_down {
            return;
        }
        self.state_change(StateChange::InstanceUnreachable { instance, fault: f });
        self.instances[instance as usize].zone_down = true;
        self.evict(instance, false);
        self.primary_check(instance);
    }

    /// The zone is back: the hosts power up. Connections that hung across
    /// the outage are reset; a process that was running boots again.
    fn zone_up(&mut self, instance: u32) {
        if !self.instances[instance as usize].zone_down {
            return;
        }
        self.instances[instance as usize].zone_down = false;
        self.state_change(StateChange::InstanceReachable { instance });
        match self.instances[instance as usize].process {
            // A host that was itself gone before stays gone (its restart, if
            // any, will reset what hangs on it).
            Process::Unreachable => {}
            Process::Dead => self.reset_limbo(instance),
            Process::Running => {
                self.reset_limbo(instance);
                self.boot(instance);
            }
        }
    }

    pub(super) fn on_restart(&mut self, instance: u32, incarnation: u32) {
        let state = &self.instances[instance as usize];
        if state.incarnation != incarnation || state.process == Process::Running {
            return;
        }
        self.state_change(StateChange::InstanceRestarting { instance });
        // A replaced host: whatever hung on the old one is reset.
        self.reset_limbo(instance);
        self.boot(instance);
    }

    /// Starts the instance's process; it refuses connections until booted.
    fn boot(&mut self, instance: u32) {
        let boot = self
            .topo
            .service_of_instance(InstanceId(instance))
            .restart
            .map_or(0, |r| r.boot);
        self.boot_for(instance, boot);
    }

    fn boot_for(&mut self, instance: u32, boot: u64) {
        let state = &mut self.instances[instance as usize];
        state.incarnation += 1;
        let incarnation = state.incarnation;
        if boot == 0 {
            self.on_ready(instance, incarnation);
        } else {
            self.instances[instance as usize].process = Process::Dead;
            self.queue.schedule(
                self.now + boot,
                Event::Ready {
                    instance,
                    incarnation,
                },
            );
        }
    }

    pub(super) fn on_ready(&mut self, instance: u32, incarnation: u32) {
        let state = &mut self.instances[instance as usize];
        if state.incarnation != incarnation {
            return;
        }
        state.process = Process::Running;
        // A new process starts with its baseline memory; a leak still
        // active fills it again.
        state.leaked = 0.0;
        state.leak_since = self.now;
        state.alerts_fired = 0;
        self.state_change(StateChange::InstanceReady { instance });
        self.schedule_memory_check(instance);
    }

    // ----- autoscaling ------------------------------------------------------

    /// Spare slots start outside the fleet; each scaler decides every
    /// interval.
    pub(super) fn start_autoscalers(&mut self) {
        for (s, service) in self.topo.services.iter().enumerate() {
            let Some(scaling) = service.autoscaling else {
                continue;
            };
            for i in service.instances.start + service.initial_instances..service.instances.end {
                let state = &mut self.instances[i as usize];
                state.provisioned = false;
                state.process = Process::Dead;
                state.routable = false;
            }
            self.queue
                .schedule(scaling.interval, Event::Scale { service: s as u32 });
        }
    }

    /// Compares the busy share of the running fleet over the last interval
    /// with the target, and adds or removes instances to meet it.
    pub(super) fn on_scale(&mut self, service: u32) {
        let s = service as usize;
        let topo = self.topo;
        let spec = &topo.services[s];
        let scaling = spec.autoscaling.expect("only autoscaled services scale");
        let next = self.now + scaling.interval;
        if next < self.config.duration {
            self.queue.schedule(next, Event::Scale { service });
        }
        let (busy, _) = self.scaler_busy[s].close(self.now, self.now - scaling.interval);
        let fleet: Vec<u32> = spec
            .instances
            .clone()
            .filter(|i| self.instances[*i as usize].provisioned)
            .collect();
        // The instances it takes to run the observed load at the target
        // share of busy workers (as Kubernetes' HPA sizes a deployment).
        // Crashed instances stay in the fleet: bringing them back is the
        // supervisor's job, and their load shows on the survivors.
        let needed = (busy / (spec.workers as f64 * scaling.target)).ceil() as u32;
        let wanted = needed.clamp(scaling.min, scaling.max);
        let current = fleet.len() as u32;
        let cooling = self.last_scaled[s] > 0 && self.now < self.last_scaled[s] + scaling.cooldown;
        if wanted == current || cooling {
            return;
        }
        self.last_scaled[s] = self.now;
        if wanted > current {
            // New instances go to zones that are up, in turn.
            let spares: Vec<u32> = spec
                .instances
                .clone()
                .filter(|i| {
                    let state = &self.instances[*i as usize];
                    !state.provisioned && !state.zone_down
                })
                .take((wanted - current) as usize)
                .collect();
            for i in &spares {
                let state = &mut self.instances[*i as usize];
                state.provisioned = true;
                if state.process == Process::Running {
                    // Still draining from a scale-in: take it back as it is.
                    state.incarnation += 1;
                    state.routable = true;
                    continue;
                }
                // Routed to once booted (and, with health checks, probed).
                state.routable = spec.health_check.is_none();
                self.boot_for(*i, scaling.boot);
            }
            self.state_change(StateChange::ScaledOut {
                service,
                instances: current + spares.len() as u32,
            });
        } else {
            // The newest first: stop routing to them, let what they hold
            // finish for one interval, then end them.
            let remove = (current - wanted) as usize;
            for &i in fleet.iter().rev().take(remove) {
                let state = &mut self.instances[i as usize];
                state.provisioned = false;
                state.routable = false;
                let incarnation = state.incarnation;
                self.queue.schedule(
                    self.now + scaling.interval,
                    Event::Retire {
                        instance: i,
                        incarnation,
                    },
                );
            }
            self.state_change(StateChange::ScaledIn {
                service,
                instances: wanted,
            });
        }
    }

    /// A drained instance leaves the fleet; anything it still holds is reset.
    pub(super) fn on_retire(&mut self, instance: u32, incarnation: u32) {
        let state = &mut self.instances[instance as usize];
        if state.incarnation != incarnation || state.provisioned {
            return;
        }
        state.incarnation += 1;
        state.process = Process::Dead;
        self.evict(instance, true);
        self.disconnect_clients(instance);
    }

    // ----- freezes ---------------------------------------------------------

    /// Stops the instance's clock until `thaw`: a long GC pause or a hung
    /// host. It accepts connections into its queue but answers nothing.
    fn freeze(&mut self, instance: u32, thaw: u64, f: u32) {
        let state = &mut self.instances[instance as usize];
        if thaw <= state.frozen_until {
            return;
        }
        state.frozen_until = thaw;
        self.state_change(StateChange::InstanceFrozen { instance, fault: f });
        if thaw < self.config.duration {
            self.queue.schedule(thaw, Event::Thaw { instance });
        }
    }

    pub(super) fn on_thaw(&mut self, instance: u32) {
        // Frozen longer by a later fault, or no longer frozen at all: its
        // process died in the meantime.
        let until = self.instances[instance as usize].frozen_until;
        if until == 0 || until > self.now {
            return;
        }
        self.instances[instance as usize].frozen_until = 0;
        self.state_change(StateChange::InstanceThawed { instance });
        // What arrived during the freeze, in the order it arrived.
        let deferred = std::mem::take(&mut self.instances[instance as usize].deferred);
        for item in deferred {
            match item {
                Deferred::Answer {
                    slot,
                    epoch,
                    outcome,
                } => {
                    if self.slab[slot as usize].epoch == epoch {
                        self.respond(slot, outcome);
                    }
                }
                Deferred::Timer { slot, epoch, kind } => {
                    if self.slab[slot as usize].epoch == epoch {
                        self.fire_timer(slot, kind);
                    }
                }
            }
        }
        self.fill_workers(instance);
    }

    /// Memory in use by an instance's process now (bytes).
    pub(super) fn memory_of(&self, instance: u32) -> f64 {
        let state = &self.instances[instance as usize];
        let Some(memory) = &self.topo.service_of_instance(InstanceId(instance)).memory else {
            return 0.0;
        };
        memory.baseline as f64
            + memory.per_request as f64 * state.outstanding() as f64
            + state.leaked
            + state.leak_rate * (self.now - state.leak_since) as f64
    }

    /// Share of its limit an instance's memory fills.
    pub(super) fn memory_share(&self, instance: u32) -> f64 {
        match &self.topo.service_of_instance(InstanceId(instance)).memory {
            Some(memory) => self.memory_of(instance) / memory.limit as f64,
            None => 0.0,
        }
    }

    /// A leak fault starts (`add`) or ends on its instances.
    fn change_leak(&mut self, instances: &[u32], rate: f64, per_request: u64, add: bool) {
        for &i in instances {
            self.settle_leak(i);
            let state = &mut self.instances[i as usize];
            if add {
                state.leak_rate += rate;
                state.leak_per_request += per_request;
            } else {
                state.leak_per_request -= per_request;
                // Undo rounding drift once no leak is left.
                state.leak_rate = (state.leak_rate - rate).max(0.0);
                if state.leak_rate < 1e-18 {
                    state.leak_rate = 0.0;
                }
            }
            self.schedule_memory_check(i);
        }
    }

    fn settle_leak(&mut self, instance: u32) {
        let now = self.now;
        let state = &mut self.instances[instance as usize];
        state.leaked += state.leak_rate * (now - state.leak_since) as f64;
        state.leak_since = now;
    }

    /// Schedules the instant the leak reaches the next alert or the limit
    /// (the engine needs no clock ticks to notice memory growing).
    fn schedule_memory_check(&mut self, instance: u32) {
        let state = &mut self.instances[instance as usize];
        state.memory_check += 1;
        let check = state.memory_check;
        let (rate, fired) = (state.leak_rate, state.alerts_fired as usize);
        if rate <= 0.0 || state.process != Process::Running {
            return;
        }
        let Some(memory) = &self.topo.service_of_instance(InstanceId(instance)).memory else {
            return;
        };
        let target = memory
            .alerts
            .get(fired)
            .map_or(memory.limit as f64, |share| share * memory.limit as f64);
        let gap = (target - self.memory_of(instance)).max(0.0);
        let at = self.now + (gap / rate).ceil() as u64;
        self.queue
            .schedule(at, Event::MemoryCheck { instance, check });
    }

    pub(super) fn on_memory_check(&mut self, instance: u32, check: u32) {
        if self.instances[instance as usize].memory_check != check {
            return;
        }
        self.check_memory(instance);
        if self.instances[instance as usize].process == Process::Running {
            self.schedule_memory_check(instance);
        }
    }

    /// Raises the alerts memory has crossed, and OOM-kills at the limit.
    /// Returns whether the process was killed.
    pub(super) fn check_memory(&mut self, instance: u32) -> bool {
        let topo = self.topo;
        let Some(memory) = &topo.service_of_instance(InstanceId(instance)).memory else {
            return false;
        };
        let share = self.memory_share(instance);
        while let Some(alert) = memory
            .alerts
            .get(self.instances[instance as usize].alerts_fired as usize)
            && share >= *alert
        {
            self.instances[instance as usize].alerts_fired += 1;
            let percent = (alert * 100.0).round() as u32;
            self.state_change(StateChange::MemoryAlert { instance, percent });
        }
        if share >= 1.0 && self.instances[instance as usize].process == Process::Running {
            self.oom(instance);
            return true;
        }
        false
    }

    fn oom(&mut self, instance: u32) {
        self.state_change(StateChange::OomKilled { instance });
        let state = &mut self.instances[instance as usize];
        state.incarnation += 1;
        state.process = Process::Dead;
        state.memory_check += 1;
        self.evict(instance, true);
        self.disconnect_clients(instance);
        self.primary_check(instance);
        self.schedule_restart(instance);
    }

    /// Ends everything in flight on an instance that just died or vanished.
    /// A dead process resets its connections: callers hear `refused` at
    /// once. A vanished host says nothing: its requests go to limbo and
    /// their callers wait for their own timeouts.
    fn evict(&mut self, instance: u32, reset: bool) {
        // In slot order: deterministic, whatever order they arrived in.
        let victims: Vec<u32> = self
            .slab
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.instance == instance && !matches!(a.phase, Phase::Free | Phase::Limbo)
            })
            .map(|(slot, _)| slot as u32)
            .collect();
        // Cancel whatever each victim waits for before any caller hears of
        // it, so an answer to one victim cannot set another going again.
        for &v in &victims {
            self.slab[v as usize].epoch += 1;
        }
        let service = self.topo.instances[instance as usize].service.index();
        for &v in &victims {
            let a = self.slab[v as usize];
            match a.phase {
                Phase::Queued => self.queue_level[service].sub(self.now, 1),
                Phase::Working => {
                    self.instances[instance as usize].busy -= 1;
                    self.busy_level[service].sub(self.now, 1);
                    if self.topo.services[service].autoscaling.is_some() {
                        self.scaler_busy[service].sub(self.now, 1);
                    }
                    self.release_connection(v);
                }
                Phase::WaitingPool => {
                    self.instances[instance as usize].busy -= 1;
                    self.busy_level[service].sub(self.now, 1);
                    if self.topo.services[service].autoscaling.is_some() {
                        self.scaler_busy[service].sub(self.now, 1);
                    }
                    self.leave_pool_queue(v);
                }
                Phase::Free | Phase::Limbo => {}
            }
            if reset {
                self.abort(v, ErrorClass::Refused);
            } else {
                self.slab[v as usize].phase = Phase::Limbo;
                self.instances[instance as usize].limbo.push(v);
            }
        }
        let state = &mut self.instances[instance as usize];
        state.queue.clear();
        state.saturated = false;
        // Whatever froze the old process does not hold the next one.
        state.frozen_until = 0;
        state.deferred.clear();
        debug_assert_eq!(state.busy, 0, "an evicted instance holds no worker");
    }

    /// Resets the connections that hung on an unreachable host.
    fn reset_limbo(&mut self, instance: u32) {
        let limbo = std::mem::take(&mut self.instances[instance as usize].limbo);
        for slot in limbo {
            self.abort(slot, ErrorClass::Refused);
        }
    }

    /// Ends an activation that holds no worker or connection any more, with
    /// `class` as what its caller sees.
    fn abort(&mut self, slot: u32, class: ErrorClass) {
        let a = self.slab[slot as usize];
        if O::TRACES {
            let id = self.activation_id(slot);
            let error = Some(class);
            let degraded = a.degraded;
            self.trace(Traced::Completed {
                id,
                error,
                degraded,
            });
        }
        self.endpoint_window[a.endpoint as usize].record_error(class);
        self.release(slot);
        match a.parent {
            ORPHAN => {}
            CONSUMER => self.delivered(a.parent_epoch, a.endpoint, false),
            CLIENT => {
                self.client_answered(a.parent_epoch, a.endpoint, a.instance, Outcome::Err(class))
            }
            PROBE => self.probe_answered(a.instance, a.parent_epoch, false),
            ENTRY => self.entry_window[a.parent_epoch as usize].record_error(class),
            parent => {
                if self.slab[parent as usize].epoch == a.parent_epoch {
                    self.deliver(parent, a.parent_epoch, Outcome::Err(class));
                }
            }
        }
    }

    // ----- health checks --------------------------------------------------

    pub(super) fn on_probe(&mut self, instance: u32) {
        let topo = self.topo;
        let service = topo.service_of_instance(InstanceId(instance));
        let hc = service
            .health_check
            .expect("only health-checked services are probed");
        if self.now + hc.interval < self.config.duration {
            self.queue
                .schedule(self.now + hc.interval, Event::Probe { instance });
        }
        // A probe whose timeout falls at this very instant has failed, even
        // if its timeout event comes after this one in the queue.
        let probing = self.instances[instance as usize].probing;
        if let Some(seq) = probing.outstanding
            && self.now >= probing.deadline
        {
            self.probe_answered(instance, seq, false);
        }
        let probing = &mut self.instances[instance as usize].probing;
        if probing.outstanding.is_some() {
            // The previous probe is still unanswered; its timeout decides.
            return;
        }
        probing.deadline = self.now + hc.timeout;
        let seq = probing.next_seq;
        probing.next_seq += 1;
        probing.outstanding = Some(seq);
        let timeout = Event::ProbeTimeout { instance, seq };
        match self.instances[instance as usize].reachability() {
            Process::Dead => self.probe_answered(instance, seq, false),
            Process::Unreachable => self.queue.schedule(self.now + hc.timeout, timeout),
            // A frozen process answers nothing: the probe times out.
            Process::Running if self.instances[instance as usize].frozen_until > self.now => {
                self.queue.schedule(self.now + hc.timeout, timeout)
            }
            Process::Running
                if hc
                    .fail_above_memory
                    .is_some_and(|limit| self.memory_share(instance) > limit) =>
            {
                self.probe_answered(instance, seq, false)
            }
            Process::Running => match hc.endpoint {
                None => self.probe_answered(instance, seq, true),
                Some(endpoint) => {
                    self.endpoint_window[endpoint.index()].arrivals += 1;
                    match self.admit(endpoint.0, instance, PROBE, seq) {
                        Ok(_) => self.queue.schedule(self.now + hc.timeout, timeout),
                        Err(_) => self.probe_answered(instance, seq, false),
                    }
                }
            },
        }
    }

    pub(super) fn on_probe_timeout(&mut self, instance: u32, seq: u32) {
        self.probe_answered(instance, seq, false);
    }

    /// Counts a probe's result once (its answer or its timeout, whichever
    /// comes first) and ejects or readmits the instance.
    pub(super) fn probe_answered(&mut self, instance: u32, seq: u32, healthy: bool) {
        let hc = self
            .topo
            .service_of_instance(InstanceId(instance))
            .health_check
            .expect("only health-checked services are probed");
        let state = &mut self.instances[instance as usize];
        if state.probing.outstanding != Some(seq) {
            return;
        }
        state.probing.outstanding = None;
        if healthy {
            state.probing.successes += 1;
            state.probing.failures = 0;
            // A drained or spare instance is out of the fleet, healthy or not.
            if !state.routable && state.provisioned && state.probing.successes >= hc.healthy_after {
                state.routable = true;
                self.state_change(StateChange::Readmitted { instance });
            }
        } else {
            state.probing.failures += 1;
            state.probing.successes = 0;
            if state.routable && state.probing.failures >= hc.unhealthy_after {
                state.routable = false;
                self.state_change(StateChange::Ejected { instance });
            }
        }
    }
}
