//! Instances living and dying: faults on the virtual clock, restarts, and the
//! load balancer's health checks. Nothing here knows a scenario: a kill is a
//! kill, and what follows (refused connections, hung callers, a balancer that
//! keeps routing to a corpse until its probes fail) comes from the mechanisms.

use std::collections::VecDeque;

use super::activation::{Parent, Phase};
use super::engine::Engine;
use super::event::Event;
use crate::base::ids::{FaultId, InstanceId, ServiceId};
use crate::base::{ErrorClass, SimTime};
use crate::components::instance::{Deferred, Process};
use crate::components::work;
use crate::faults::{FaultAction, KillMode};
use crate::observe::Observer;
use crate::observe::events::StateChange;
use crate::topology::Topology;

/// Replication lag of one instance (as a replica), piecewise linear in time.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ReplicaLag {
    /// Lag (ns) at `since`, and its growth per ns from then on.
    at: f64,
    since: SimTime,
    slope: f64,
    /// Virtual time up to which it had received the primary's writes when
    /// the primary was lost.
    position: f64,
}

/// The state of replicated databases.
#[derive(Debug)]
pub(super) struct Replicas {
    /// Per instance, its lag as a replica.
    lags: Vec<ReplicaLag>,
    /// Per service, the current primary; `None` while a failover is under
    /// way (and for services that do not replicate).
    pub(super) primaries: Vec<Option<InstanceId>>,
    /// Per service, completion times of recent writes acknowledged by the
    /// primary: what a failover to a lagging replica loses.
    pub(super) recent_writes: Vec<VecDeque<SimTime>>,
    /// Per service, acknowledged writes lost in failovers.
    pub(super) lost_writes: Vec<u64>,
    /// Per service, writes acknowledged by an instance that was not the
    /// primary (a deposed one, still written to by writers holding its
    /// address): split brain, discarded when it rejoins.
    pub(super) divergent_writes: Vec<u64>,
    /// Per service, the next replica to read from.
    pub(super) cursor: Vec<u32>,
    /// Per service, the failover under way, if any.
    pending: Vec<Option<Failover>>,
    /// Per instance, as a replica with an apply rate: the writes it has not
    /// applied yet, oldest first, as (acknowledged, applied) times; and
    /// when its apply is next free.
    applying: Vec<VecDeque<(SimTime, SimTime)>>,
    apply_free: Vec<SimTime>,
    /// Per instance, whether its lag alert is raised.
    lagging: Vec<bool>,
    /// Per service: reads answered, those a replica answered without a
    /// write acknowledged before them (stale), lag alerts raised, and the
    /// largest staleness seen at a window's end (ns).
    pub(super) reads: Vec<u64>,
    pub(super) stale_reads: Vec<u64>,
    pub(super) lag_alerts: Vec<u64>,
    pub(super) max_staleness: Vec<u64>,
}

/// A failover under way: the primary it replaces, when its loss counts as
/// detected (a return before then cancels the failover: the detector never
/// concluded), and when the promotion completes. One that found no replica
/// to promote stays, `failed`, until the primary returns.
#[derive(Clone, Copy, Debug)]
struct Failover {
    lost: InstanceId,
    lost_at: SimTime,
    detected: SimTime,
    promoted: SimTime,
    failed: bool,
}

impl Replicas {
    pub(super) fn new(topo: &Topology) -> Self {
        let services = topo.services.len();
        Replicas {
            lags: vec![ReplicaLag::default(); topo.instances.len()],
            primaries: topo
                .services
                .iter()
                .map(|s| s.replication.map(|r| InstanceId(r.primary)))
                .collect(),
            recent_writes: vec![VecDeque::new(); services],
            lost_writes: vec![0; services],
            divergent_writes: vec![0; services],
            cursor: vec![0; services],
            pending: vec![None; services],
            applying: vec![VecDeque::new(); topo.instances.len()],
            apply_free: vec![SimTime::ZERO; topo.instances.len()],
            lagging: vec![false; topo.instances.len()],
            reads: vec![0; services],
            stale_reads: vec![0; services],
            lag_alerts: vec![0; services],
            max_staleness: vec![0; services],
        }
    }
}

impl<O: Observer> Engine<'_, O> {
    pub(super) fn schedule_faults_and_probes(&mut self) {
        for (f, fault) in self.faults.all.iter().enumerate() {
            let fault_id = FaultId(f as u32);
            self.queue
                .schedule(SimTime(fault.start), Event::FaultStart { fault: fault_id });
            if let Some(end) = fault.end
                && end < self.config.duration
            {
                self.queue
                    .schedule(SimTime(end), Event::FaultEnd { fault: fault_id });
            }
        }
        for service in &self.topo.services {
            let Some(hc) = service.health_check else {
                continue;
            };
            // Staggered over one interval, so the probes of a service do not
            // all land at the same instant.
            let n = service.instances.len() as u64;
            for (k, instance) in service.instances.clone().map(InstanceId).enumerate() {
                let offset = hc.interval * k as u64 / n;
                self.queue
                    .schedule(SimTime(offset), Event::Probe { instance });
            }
        }
    }

    // ----- faults ---------------------------------------------------------

    // Rare, and kept out of the loop's dispatch, which inlines its handlers.
    #[inline(never)]
    pub(super) fn on_fault_start(&mut self, f: FaultId) {
        // A guard stopped the experiment: what was still to come never is.
        if self.guards.stopped() {
            return;
        }
        let all = self.faults.all;
        let fault = &all[f];
        self.state_change(StateChange::FaultStarted { fault: f.0 });
        // What the request path asks about (latency, errors, partitions,
        // links, monkeys) is in force from now.
        self.faults.set(f, true);
        match &fault.action {
            FaultAction::Kill {
                service,
                instance,
                count,
                mode,
            } => {
                let victims = match instance {
                    Some(i) => vec![InstanceId(*i)],
                    None => self.choose_running(*service, *count, f),
                };
                for victim in victims {
                    self.kill(victim, *mode, f);
                }
            }
            FaultAction::ZoneOutage { zone } => {
                for i in self.instances_in_zone(*zone) {
                    self.zone_down(i, f);
                }
            }
            FaultAction::CpuStress { instances, factor } => {
                for i in instances {
                    self.instances[*i as usize].cpu_factor *= factor;
                }
            }
            FaultAction::ReplicationLag { instance, grow } => {
                let instance = InstanceId(*instance);
                self.settle_lag(instance);
                self.replicas.lags[instance].slope += grow;
            }
            FaultAction::Freeze {
                service,
                instance,
                count,
            } => {
                let victims = match instance {
                    Some(i) => vec![InstanceId(*i)],
                    None => self.choose_running(*service, *count, f),
                };
                let thaw = fault.end.map_or(SimTime::NEVER, SimTime);
                for victim in victims {
                    self.freeze(victim, thaw, f);
                }
            }
            FaultAction::MemoryLeak {
                instances,
                rate,
                per_request,
            } => self.change_leak(instances, *rate, *per_request, true),
            FaultAction::ChaosMonkey { .. } => self.schedule_monkey(f),
            FaultAction::RollingRestart {
                service,
                batch,
                pause,
            } => self.start_roll(f, ServiceId(*service), *batch, *pause),
            FaultAction::CacheFlush { service, instance } => {
                let targets = match instance {
                    Some(i) => *i..*i + 1,
                    None => self.topo.services[*service as usize].instances.clone(),
                };
                for i in targets {
                    self.flush_caches(InstanceId(i));
                }
            }
            // The request path and the probes ask about these.
            FaultAction::Latency { .. }
            | FaultAction::Errors { .. }
            | FaultAction::Partition { .. }
            | FaultAction::BalancerOutage { .. }
            | FaultAction::LinkLatency { .. } => {}
        }
    }

    fn instances_in_zone(&self, zone: u32) -> Vec<InstanceId> {
        (0..self.topo.instances.len() as u32)
            .map(InstanceId)
            .filter(|i| self.topo.instances[*i].zone.0 == zone)
            .collect()
    }

    /// The monkey's next kill, an exponential interval away.
    fn schedule_monkey(&mut self, f: FaultId) {
        let FaultAction::ChaosMonkey { mean_interval, .. } = self.faults.all[f].action else {
            return;
        };
        let gap: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, self.faults.rng(f));
        let at = self.now + work::nearest(gap * mean_interval as f64);
        self.queue.schedule(at, Event::MonkeyKill { fault: f });
    }

    pub(super) fn on_monkey_kill(&mut self, f: FaultId) {
        if !self.faults.monkey_roams(f) {
            return;
        }
        if let FaultAction::ChaosMonkey { service, mode, .. } = self.faults.all[f].action {
            for victim in self.choose_running(service, 1, f) {
                self.kill(victim, mode, f);
            }
        }
        self.schedule_monkey(f);
    }

    #[inline(never)]
    pub(super) fn on_fault_end(&mut self, f: FaultId) {
        // A guard stopped the experiment and rolled this fault back then.
        if self.guards.stopped() {
            return;
        }
        self.end_fault(f, StateChange::FaultEnded { fault: f.0 });
    }

    /// Lifts fault `f`, at its time or rolled back by a stop guard, as
    /// `change` says.
    pub(super) fn end_fault(&mut self, f: FaultId, change: StateChange) {
        let all = self.faults.all;
        let fault = &all[f];
        self.state_change(change);
        self.faults.set(f, false);
        match &fault.action {
            // A kill is an instant; what brings the instance back is its
            // restart policy; a flush too, after which reads refill it.
            FaultAction::Kill { .. }
            | FaultAction::CacheFlush { .. }
            | FaultAction::RollingRestart { .. } => {}
            FaultAction::ZoneOutage { zone } => {
                for i in self.instances_in_zone(*zone) {
                    self.zone_up(i);
                }
            }
            FaultAction::ReplicationLag { instance, grow } => {
                let instance = InstanceId(*instance);
                self.settle_lag(instance);
                let catch_up = self
                    .topo
                    .service_of_instance(instance)
                    .replication
                    .map_or(2.0, |r| r.catch_up);
                let lag = &mut self.replicas.lags[instance];
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
            FaultAction::ChaosMonkey { .. }
            | FaultAction::Latency { .. }
            | FaultAction::Errors { .. }
            | FaultAction::Partition { .. }
            | FaultAction::BalancerOutage { .. }
            | FaultAction::LinkLatency { .. } => {}
        }
    }

    /// `count` distinct running instances of a service, drawn from the
    /// fault's own stream.
    fn choose_running(&mut self, service: u32, count: u32, f: FaultId) -> Vec<InstanceId> {
        let candidates: Vec<InstanceId> = self.topo.services[service as usize]
            .instances
            .clone()
            .map(InstanceId)
            .filter(|i| self.instances[*i].reachability() == Process::Running)
            .collect();
        self.faults.choose(f, candidates, count)
    }

    // ----- death and rebirth ----------------------------------------------

    // ----- replication ----------------------------------------------------

    /// A write the primary just acknowledged reaches each replica after
    /// its lag; a replica with an apply rate queues it behind the writes
    /// it has not applied yet.
    pub(super) fn replicate(&mut self, service: ServiceId) {
        let Some(interval) = self.topo.services[service]
            .replication
            .and_then(|r| r.apply_interval)
        else {
            return;
        };
        let primary = self.replicas.primaries[service];
        for r in self.topo.services[service].instance_ids() {
            if Some(r) == primary {
                continue;
            }
            let received = self.now + self.lag_of(r).round() as u64;
            let start = self.replicas.apply_free[r].max(received);
            let applied = start + interval;
            self.replicas.apply_free[r] = applied;
            self.replicas.applying[r].push_back((self.now, applied));
        }
    }

    /// How stale a replica is now (ns): the age of the oldest write the
    /// primary acknowledged that it has not applied; 0 when it has them all.
    pub(super) fn staleness(&mut self, replica: InstanceId) -> u64 {
        let service = self.topo.instances[replica].service;
        let Some(replication) = self.topo.services[service].replication else {
            return 0;
        };
        let now = self.now;
        if replication.apply_interval.is_some() {
            let queue = &mut self.replicas.applying[replica];
            while queue.front().is_some_and(|&(_, applied)| applied <= now) {
                queue.pop_front();
            }
            return queue.front().map_or(0, |&(acked, _)| now - acked);
        }
        // Without an apply rate a write is applied as it arrives, `lag`
        // after it was acknowledged.
        let visible = now.ns() as f64 - self.lag_of(replica);
        let writes = &self.replicas.recent_writes[service];
        let first = writes.partition_point(|t| (t.ns() as f64) <= visible);
        writes.get(first).map_or(0, |&t| now - t)
    }

    /// At a window's end, as monitoring samples it: each replica's
    /// staleness against its service's lag alert, and the largest seen.
    pub(super) fn check_replica_lags(&mut self) {
        let topo = self.topo;
        for (s, service) in topo.services.iter().enumerate() {
            let Some(replication) = service.replication else {
                continue;
            };
            let primary = self.replicas.primaries[s];
            for r in service.instance_ids() {
                if Some(r) == primary || self.instances[r].reachability() != Process::Running {
                    continue;
                }
                let stale = self.staleness(r);
                let max = &mut self.replicas.max_staleness[s];
                *max = (*max).max(stale);
                let Some(alert) = replication.lag_alert else {
                    continue;
                };
                let lagging = stale > alert;
                if lagging != self.replicas.lagging[r] {
                    self.replicas.lagging[r] = lagging;
                    if lagging {
                        self.replicas.lag_alerts[s] += 1;
                        self.state_change(StateChange::ReplicaLagging {
                            instance: r.0,
                            lag_ms: (stale / 1_000_000).min(u64::from(u32::MAX)) as u32,
                        });
                    } else {
                        self.state_change(StateChange::ReplicaCaughtUp { instance: r.0 });
                    }
                }
            }
        }
    }

    /// A replica's lag now (ns), never below the normal lag.
    pub(super) fn lag_of(&self, instance: InstanceId) -> f64 {
        let base = self
            .topo
            .service_of_instance(instance)
            .replication
            .map_or(0, |r| r.lag) as f64;
        let lag = &self.replicas.lags[instance];
        (lag.at + lag.slope * (self.now - lag.since) as f64).max(base)
    }

    fn settle_lag(&mut self, instance: InstanceId) {
        let value = self.lag_of(instance);
        let now = self.now;
        let lag = &mut self.replicas.lags[instance];
        lag.at = value;
        lag.since = now;
        if lag.slope < 0.0 {
            let base = self
                .topo
                .service_of_instance(instance)
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
    fn primary_check(&mut self, instance: InstanceId) {
        let service = self.topo.instances[instance].service;
        let Some(replication) = self.topo.services[service].replication else {
            return;
        };
        if self.replicas.primaries[service] != Some(instance) {
            return;
        }
        self.state_change(StateChange::PrimaryLost {
            instance: instance.0,
        });
        // What each replica had received when the primary went.
        for replica in self.topo.services[service].instance_ids() {
            if replica != instance {
                self.replicas.lags[replica].position = self.now.ns() as f64 - self.lag_of(replica);
            }
        }
        if let Some(failover) = replication.failover {
            self.replicas.primaries[service] = None;
            let detected = self.now + failover.detection;
            let promoted = detected + failover.promotion;
            self.replicas.pending[service] = Some(Failover {
                lost: instance,
                lost_at: self.now,
                detected,
                promoted,
                failed: false,
            });
            self.queue.schedule(promoted, Event::Promote { service });
        }
    }

    /// A process just became ready: if it is a lost primary whose loss has
    /// not been detected yet (or whose failover found no replica), the
    /// failover is called off and it is the primary again, with every write
    /// it acknowledged. Once the loss is detected the promotion goes on, and
    /// it comes back as a replica.
    fn primary_returned(&mut self, instance: InstanceId) {
        let service = self.topo.instances[instance].service;
        let Some(failover) = self.replicas.pending[service] else {
            return;
        };
        if failover.lost != instance || (self.now >= failover.detected && !failover.failed) {
            return;
        }
        self.restore_primary(service, instance);
    }

    fn restore_primary(&mut self, service: ServiceId, instance: InstanceId) {
        self.replicas.pending[service] = None;
        self.replicas.primaries[service] = Some(instance);
        self.state_change(StateChange::FailoverCancelled {
            instance: instance.0,
        });
    }

    /// Promotes the replica that had received the most; the primary's
    /// acknowledged writes it had not received are lost.
    pub(super) fn on_promote(&mut self, service: ServiceId) {
        // Called off (the primary came back in time), or the event of an
        // earlier failover that was: nothing to do.
        let Some(failover) = self.replicas.pending[service] else {
            return;
        };
        if failover.promoted != self.now || failover.failed {
            return;
        }
        self.replicas.pending[service] = None;
        let lags = &self.replicas.lags;
        let best = self.topo.services[service]
            .instance_ids()
            // The deposed primary, back during the promotion, rejoins as a
            // replica.
            .filter(|i| *i != failover.lost)
            .filter(|i| self.instances[*i].reachability() == Process::Running)
            // Lag-aware: too far behind when the primary was lost.
            .filter(|i| {
                self.topo.services[service]
                    .replication
                    .and_then(|r| r.failover?.max_lag)
                    .is_none_or(|max| {
                        failover.lost_at.ns() as f64 - lags[*i].position <= max as f64
                    })
            })
            .max_by(|a, b| {
                lags[*a]
                    .position
                    .total_cmp(&lags[*b].position)
                    .then(b.cmp(a))
            });
        let Some(promoted) = best else {
            if self.instances[failover.lost].reachability() == Process::Running {
                // No replica to take over, but the old primary is back.
                self.restore_primary(service, failover.lost);
            } else {
                self.replicas.pending[service] = Some(Failover {
                    failed: true,
                    ..failover
                });
                self.state_change(StateChange::FailoverFailed { service: service.0 });
            }
            return;
        };
        let received = self.replicas.lags[promoted].position;
        let lost = self.replicas.recent_writes[service]
            .iter()
            .filter(|t| t.ns() as f64 > received)
            .count() as u64;
        self.replicas.lost_writes[service] += lost;
        self.replicas.recent_writes[service].clear();
        self.replicas.primaries[service] = Some(promoted);
        for replica in self.topo.services[service].instance_ids() {
            self.replicas.lags[replica] = ReplicaLag {
                since: self.now,
                ..Default::default()
            };
        }
        self.state_change(StateChange::PrimaryPromoted {
            instance: promoted.0,
            lost_writes: lost as u32,
        });
    }

    fn kill(&mut self, instance: InstanceId, mode: KillMode, f: FaultId) {
        if self.instances[instance].process != Process::Running {
            return;
        }
        let host_down = mode == KillMode::HostDown;
        self.state_change(StateChange::InstanceKilled {
            instance: instance.0,
            fault: f.0,
            host_down,
        });
        let state = &mut self.instances[instance];
        state.incarnation += 1;
        state.booting = false;
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
    fn schedule_restart(&mut self, instance: InstanceId) {
        if let Some(restart) = self.topo.service_of_instance(instance).restart {
            let incarnation = self.instances[instance].incarnation;
            self.queue.schedule(
                self.now + restart.delay,
                Event::Restart {
                    instance,
                    incarnation,
                },
            );
        }
    }

    fn zone_down(&mut self, instance: InstanceId, f: FaultId) {
        if self.instances[instance].zone_down {
            return;
        }
        self.state_change(StateChange::InstanceUnreachable {
            instance: instance.0,
            fault: f.0,
        });
        self.instances[instance].zone_down = true;
        self.evict(instance, false);
        self.primary_check(instance);
    }

    /// The zone is back: the hosts power up. Connections that hung across
    /// the outage are reset; a process that was running boots again.
    fn zone_up(&mut self, instance: InstanceId) {
        if !self.instances[instance].zone_down {
            return;
        }
        self.instances[instance].zone_down = false;
        self.state_change(StateChange::InstanceReachable {
            instance: instance.0,
        });
        match self.instances[instance].process {
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

    pub(super) fn on_restart(&mut self, instance: InstanceId, incarnation: u32) {
        let state = &self.instances[instance];
        if state.incarnation != incarnation || state.process == Process::Running {
            return;
        }
        self.state_change(StateChange::InstanceRestarting {
            instance: instance.0,
        });
        // A replaced host: whatever hung on the old one is reset.
        self.reset_limbo(instance);
        self.boot(instance);
    }

    /// Starts the instance's process; it refuses connections until booted.
    pub(super) fn boot(&mut self, instance: InstanceId) {
        let boot = self
            .topo
            .service_of_instance(instance)
            .restart
            .map_or(0, |r| r.boot);
        self.boot_for(instance, boot);
    }

    fn boot_for(&mut self, instance: InstanceId, boot: u64) {
        let state = &mut self.instances[instance];
        state.incarnation += 1;
        let incarnation = state.incarnation;
        if boot == 0 {
            self.on_ready(instance, incarnation);
        } else {
            self.instances[instance].process = Process::Dead;
            self.instances[instance].booting = true;
            self.queue.schedule(
                self.now + boot,
                Event::Ready {
                    instance,
                    incarnation,
                },
            );
        }
    }

    pub(super) fn on_ready(&mut self, instance: InstanceId, incarnation: u32) {
        let state = &mut self.instances[instance];
        if state.incarnation != incarnation {
            return;
        }
        state.process = Process::Running;
        state.booting = false;
        // A new process starts with its baseline memory; a leak still
        // active fills it again.
        state.leaked = 0.0;
        state.leak_since = self.now;
        state.alerts_fired = 0;
        self.state_change(StateChange::InstanceReady {
            instance: instance.0,
        });
        // A new process: its caches are cold.
        self.caches_reset(instance, true);
        // Back in its balancer: at once without health checks (after a
        // drain took it out), after passing them with.
        let service = self.topo.service_of_instance(instance);
        if service.health_check.is_none() && self.instances[instance].provisioned {
            self.instances[instance].routable = true;
            self.roll_progress(instance);
        }
        self.primary_returned(instance);
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
            for i in service
                .instance_ids()
                .skip(service.initial_instances as usize)
            {
                let state = &mut self.instances[i];
                state.provisioned = false;
                state.process = Process::Dead;
                state.routable = false;
            }
            let service = ServiceId(s as u32);
            self.queue
                .schedule(SimTime(scaling.interval), Event::Scale { service });
        }
    }

    /// Compares the busy share of the running fleet over the last interval
    /// with the target, and adds or removes instances to meet it.
    pub(super) fn on_scale(&mut self, service: ServiceId) {
        let topo = self.topo;
        let spec = &topo.services[service];
        let scaling = spec.autoscaling.expect("only autoscaled services scale");
        let next = self.now + scaling.interval;
        if next < SimTime(self.config.duration) {
            self.queue.schedule(next, Event::Scale { service });
        }
        let (busy, _) = self.scaling.busy[service].close(self.now, self.now - scaling.interval);
        let mut fleet: Vec<InstanceId> = spec
            .instance_ids()
            .filter(|i| self.instances[*i].provisioned)
            .collect();
        // Without a supervisor to restart them, instances that died or
        // whose host or zone is gone are terminated and replaced, as an
        // auto-scaling group replaces unhealthy instances: at once, cooldown
        // or not, in zones that are up.
        if spec.restart.is_none() {
            let lost: Vec<InstanceId> = fleet
                .iter()
                .copied()
                .filter(|&i| {
                    let state = &self.instances[i];
                    state.reachability() != Process::Running && !state.is_booting()
                })
                .collect();
            if !lost.is_empty() {
                for &i in &lost {
                    let state = &mut self.instances[i];
                    state.provisioned = false;
                    state.routable = false;
                }
                fleet.retain(|i| !lost.contains(i));
                let replaced = self.provision(service, lost.len(), scaling.boot);
                let instances = (fleet.len() + replaced) as u32;
                self.state_change(StateChange::ScaledOut {
                    service: service.0,
                    instances,
                });
                return;
            }
        }
        // The instances it takes to run the observed load at the target
        // share of busy workers (as Kubernetes' HPA sizes a deployment).
        // Crashed instances stay in the fleet: bringing them back is the
        // supervisor's job, and their load shows on the survivors.
        let needed = (busy / (spec.workers as f64 * scaling.target)).ceil() as u32;
        let wanted = needed.clamp(scaling.min, scaling.max);
        let current = fleet.len() as u32;
        let last = self.scaling.last_scaled[service];
        let cooling = last.is_some_and(|last| self.now < last + scaling.cooldown);
        if wanted == current || cooling {
            return;
        }
        self.scaling.last_scaled[service] = Some(self.now);
        if wanted > current {
            let added = self.provision(service, (wanted - current) as usize, scaling.boot);
            self.state_change(StateChange::ScaledOut {
                service: service.0,
                instances: current + added as u32,
            });
        } else {
            // The newest first: stop routing to them, let what they hold
            // finish for one interval, then end them.
            let remove = (current - wanted) as usize;
            for &instance in fleet.iter().rev().take(remove) {
                let state = &mut self.instances[instance];
                state.provisioned = false;
                state.routable = false;
                let incarnation = state.incarnation;
                self.queue.schedule(
                    self.now + scaling.interval,
                    Event::Retire {
                        instance,
                        incarnation,
                    },
                );
            }
            self.state_change(StateChange::ScaledIn {
                service: service.0,
                instances: wanted,
            });
        }
    }

    /// Adds up to `count` spare slots to the fleet, in zones that are up,
    /// and returns how many it found.
    fn provision(&mut self, service: ServiceId, count: usize, boot: u64) -> usize {
        let spec = &self.topo.services[service];
        let spares: Vec<InstanceId> = spec
            .instance_ids()
            .filter(|i| {
                let state = &self.instances[*i];
                !state.provisioned && !state.zone_down && state.process != Process::Unreachable
            })
            .take(count)
            .collect();
        for &i in &spares {
            let state = &mut self.instances[i];
            state.provisioned = true;
            if state.process == Process::Running {
                // Still draining from a scale-in: take it back as it is.
                state.incarnation += 1;
                state.routable = true;
                continue;
            }
            // Routed to once booted (and, with health checks, probed).
            state.routable = spec.health_check.is_none();
            self.boot_for(i, boot);
        }
        spares.len()
    }

    /// A drained instance leaves the fleet; anything it still holds is reset.
    pub(super) fn on_retire(&mut self, instance: InstanceId, incarnation: u32) {
        let state = &mut self.instances[instance];
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
    fn freeze(&mut self, instance: InstanceId, thaw: SimTime, f: FaultId) {
        let state = &mut self.instances[instance];
        if state.frozen_until.is_some_and(|until| thaw <= until) {
            return;
        }
        state.frozen_until = Some(thaw);
        self.state_change(StateChange::InstanceFrozen {
            instance: instance.0,
            fault: f.0,
        });
        if thaw < SimTime(self.config.duration) {
            self.queue.schedule(thaw, Event::Thaw { instance });
        }
    }

    pub(super) fn on_thaw(&mut self, instance: InstanceId) {
        // Frozen longer by a later fault, or no longer frozen at all: its
        // process died in the meantime.
        if self.instances[instance]
            .frozen_until
            .is_none_or(|until| until > self.now)
        {
            return;
        }
        self.instances[instance].frozen_until = None;
        self.state_change(StateChange::InstanceThawed {
            instance: instance.0,
        });
        // What arrived during the freeze, in the order it arrived.
        let deferred = std::mem::take(&mut self.instances[instance].deferred);
        for item in deferred {
            match item {
                Deferred::Answer {
                    slot,
                    epoch,
                    outcome,
                } => {
                    if self.acts[slot].epoch == epoch {
                        self.respond(slot, outcome);
                    }
                }
                Deferred::Timer { slot, epoch, kind } => {
                    if self.acts[slot].epoch == epoch {
                        self.fire_timer(slot, kind);
                    }
                }
            }
        }
        self.fill_workers(instance);
    }

    /// Memory in use by an instance's process now (bytes).
    pub(super) fn memory_of(&self, instance: InstanceId) -> f64 {
        let state = &self.instances[instance];
        let Some(memory) = &self.topo.service_of_instance(instance).memory else {
            return 0.0;
        };
        memory.baseline as f64
            + memory.per_request as f64 * state.outstanding() as f64
            + state.leaked
            + state.leak_rate * (self.now - state.leak_since) as f64
    }

    /// Share of its limit an instance's memory fills.
    pub(super) fn memory_share(&self, instance: InstanceId) -> f64 {
        match &self.topo.service_of_instance(instance).memory {
            Some(memory) => self.memory_of(instance) / memory.limit as f64,
            None => 0.0,
        }
    }

    /// A leak fault starts (`add`) or ends on its instances.
    fn change_leak(&mut self, instances: &[u32], rate: f64, per_request: u64, add: bool) {
        for &i in instances {
            let i = InstanceId(i);
            self.settle_leak(i);
            let state = &mut self.instances[i];
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

    fn settle_leak(&mut self, instance: InstanceId) {
        let now = self.now;
        let state = &mut self.instances[instance];
        state.leaked += state.leak_rate * (now - state.leak_since) as f64;
        state.leak_since = now;
    }

    /// Schedules the instant the leak reaches the next alert or the limit
    /// (the engine needs no clock ticks to notice memory growing).
    fn schedule_memory_check(&mut self, instance: InstanceId) {
        let state = &mut self.instances[instance];
        state.memory_check += 1;
        let check = state.memory_check;
        let (rate, fired) = (state.leak_rate, state.alerts_fired as usize);
        if rate <= 0.0 || state.process != Process::Running {
            return;
        }
        let Some(memory) = &self.topo.service_of_instance(instance).memory else {
            return;
        };
        let mut share = memory.alerts.get(fired).copied().unwrap_or(1.0);
        if let Some(at) = memory.restart_at
            && !state.draining
        {
            share = share.min(at);
        }
        let target = share * memory.limit as f64;
        let gap = (target - self.memory_of(instance)).max(0.0);
        let at = self.now + (gap / rate).ceil() as u64;
        self.queue
            .schedule(at, Event::MemoryCheck { instance, check });
    }

    pub(super) fn on_memory_check(&mut self, instance: InstanceId, check: u32) {
        if self.instances[instance].memory_check != check {
            return;
        }
        self.check_memory(instance);
        if self.instances[instance].process == Process::Running {
            self.schedule_memory_check(instance);
        }
    }

    /// Raises the alerts memory has crossed, and OOM-kills at the limit.
    /// Returns whether the process was killed.
    pub(super) fn check_memory(&mut self, instance: InstanceId) -> bool {
        let topo = self.topo;
        let Some(memory) = &topo.service_of_instance(instance).memory else {
            return false;
        };
        let share = self.memory_share(instance);
        while let Some(alert) = memory
            .alerts
            .get(self.instances[instance].alerts_fired as usize)
            && share >= *alert
        {
            self.instances[instance].alerts_fired += 1;
            let percent = (alert * 100.0).round() as u32;
            self.state_change(StateChange::MemoryAlert {
                instance: instance.0,
                percent,
            });
        }
        if share >= 1.0 && self.instances[instance].process == Process::Running {
            self.oom(instance);
            return true;
        }
        if memory.restart_at.is_some_and(|at| share >= at) {
            self.graceful_stop(instance, None);
        }
        false
    }

    fn oom(&mut self, instance: InstanceId) {
        self.state_change(StateChange::OomKilled {
            instance: instance.0,
        });
        self.end_process(instance);
        self.schedule_restart(instance);
    }

    /// The running process ends, resetting what it holds and every
    /// connection to it (an OOM kill, the end of a graceful stop).
    pub(super) fn end_process(&mut self, instance: InstanceId) {
        let state = &mut self.instances[instance];
        state.incarnation += 1;
        state.process = Process::Dead;
        state.memory_check += 1;
        self.evict(instance, true);
        self.disconnect_clients(instance);
        self.primary_check(instance);
    }

    /// Ends everything in flight on an instance that just died or vanished.
    /// A dead process resets its connections: callers hear `refused` at
    /// once. A vanished host says nothing: its requests go to limbo and
    /// their callers wait for their own timeouts.
    fn evict(&mut self, instance: InstanceId, reset: bool) {
        let victims = self.acts.busy_on(instance);
        // Cancel whatever each victim waits for before any caller hears of
        // it, so an answer to one victim cannot set another going again.
        for &v in &victims {
            self.acts[v].epoch += 1;
        }
        for &v in &victims {
            match self.acts[v].phase {
                Phase::Queued => self.dequeued(instance),
                Phase::Working => {
                    self.instances[instance].busy -= 1;
                    self.worker_freed(instance);
                    self.release_connection(v);
                }
                Phase::WaitingPool => {
                    self.instances[instance].busy -= 1;
                    self.worker_freed(instance);
                    self.leave_pool_queue(v, false);
                }
                Phase::Free | Phase::Limbo => {}
            }
            if reset {
                self.abort(v, ErrorClass::Refused);
            } else {
                self.acts[v].phase = Phase::Limbo;
                self.instances[instance].limbo.push(v);
            }
        }
        let state = &mut self.instances[instance];
        state.queue.clear();
        state.saturated = false;
        state.draining = false;
        // Whatever froze the old process does not hold the next one.
        state.frozen_until = None;
        state.deferred.clear();
        debug_assert_eq!(state.busy, 0, "an evicted instance holds no worker");
        if reset {
            // Callers waiting on its keys held a connection to it too.
            self.caches_reset(instance, false);
        }
    }

    /// Resets the connections that hung on an unreachable host.
    fn reset_limbo(&mut self, instance: InstanceId) {
        let limbo = std::mem::take(&mut self.instances[instance].limbo);
        for slot in limbo {
            self.abort(slot, ErrorClass::Refused);
        }
    }

    // ----- health checks --------------------------------------------------

    pub(super) fn on_probe(&mut self, instance: InstanceId) {
        let topo = self.topo;
        let service = topo.service_of_instance(instance);
        let hc = service
            .health_check
            .expect("only health-checked services are probed");
        if self.now + hc.interval < SimTime(self.config.duration) {
            self.queue
                .schedule(self.now + hc.interval, Event::Probe { instance });
        }
        if self.faults.any_balancer_down()
            && self
                .faults
                .balancer_down(topo.instances[instance].service)
                .is_some()
        {
            // The balancer that probes is down: nothing is probed, and its
            // view of the instances stays as it was.
            return;
        }
        // A probe whose timeout falls at this very instant has failed, even
        // if its timeout event comes after this one in the queue.
        let probing = self.instances[instance].probing;
        if let Some(seq) = probing.outstanding
            && self.now >= probing.deadline
        {
            self.probe_answered(instance, seq, false);
        }
        let probing = &mut self.instances[instance].probing;
        if probing.outstanding.is_some() {
            // The previous probe is still unanswered; its timeout decides.
            return;
        }
        probing.deadline = self.now + hc.timeout;
        let seq = probing.next_seq;
        probing.next_seq += 1;
        probing.outstanding = Some(seq);
        let timeout = Event::ProbeTimeout { instance, seq };
        match self.instances[instance].reachability() {
            Process::Dead => self.probe_answered(instance, seq, false),
            Process::Unreachable => self.queue.schedule(self.now + hc.timeout, timeout),
            // A frozen process answers nothing: the probe times out.
            Process::Running if self.instances[instance].is_frozen(self.now) => {
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
                    self.meters.endpoint[endpoint.index()].arrivals += 1;
                    match self.admit(endpoint, instance, Parent::Probe(seq)) {
                        Ok(_) => self.queue.schedule(self.now + hc.timeout, timeout),
                        Err(_) => self.probe_answered(instance, seq, false),
                    }
                }
            },
        }
    }

    pub(super) fn on_probe_timeout(&mut self, instance: InstanceId, seq: u32) {
        self.probe_answered(instance, seq, false);
    }

    /// Counts a probe's result once (its answer or its timeout, whichever
    /// comes first) and ejects or readmits the instance.
    pub(super) fn probe_answered(&mut self, instance: InstanceId, seq: u32, healthy: bool) {
        let hc = self
            .topo
            .service_of_instance(instance)
            .health_check
            .expect("only health-checked services are probed");
        let state = &mut self.instances[instance];
        if state.probing.outstanding != Some(seq) {
            return;
        }
        state.probing.outstanding = None;
        if healthy {
            state.probing.successes += 1;
            state.probing.failures = 0;
            // A drained or spare instance is out of the fleet, healthy or not.
            if !state.routable
                && state.provisioned
                && !state.draining
                && state.probing.successes >= hc.healthy_after
            {
                state.routable = true;
                self.state_change(StateChange::Readmitted {
                    instance: instance.0,
                });
                self.roll_progress(instance);
            }
        } else {
            state.probing.failures += 1;
            state.probing.successes = 0;
            if state.routable && state.probing.failures >= hc.unhealthy_after {
                state.routable = false;
                self.state_change(StateChange::Ejected {
                    instance: instance.0,
                });
            }
        }
    }
}
