//! Faults of a scenario, resolved against the topology: what breaks, when,
//! and for how long. Resolution doubles as validation: a target that does not
//! resolve is a problem with its JSON path.

use crate::error::{JsonPath, Problem, closest};
use crate::spec::ScenarioSpec;
use crate::spec::fault::Latency;
use crate::spec::model::WorkSpec;
pub use crate::spec::scenario::FaultKind;
use crate::spec::scenario::{self, FaultSpec};
use crate::spec::units::{ByteRate, Duration, Size};
use crate::topology::{Topology, WorkTime};

/// How a killed instance looks to its callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillMode {
    /// The process died and the host answers: connections are refused.
    Crash,
    /// The host is gone: callers wait for their timeouts.
    HostDown,
}

impl From<scenario::KillMode> for KillMode {
    fn from(mode: scenario::KillMode) -> Self {
        match mode {
            scenario::KillMode::Crash => KillMode::Crash,
            scenario::KillMode::HostDown => KillMode::HostDown,
        }
    }
}

/// What a partition does to the calls that cross it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionMode {
    /// Packets vanish: the caller waits for its timeout.
    Drop,
    /// Connections are refused at once.
    Refuse,
}

impl From<scenario::PartitionMode> for PartitionMode {
    fn from(mode: scenario::PartitionMode) -> Self {
        match mode {
            scenario::PartitionMode::Drop => PartitionMode::Drop,
            scenario::PartitionMode::Refuse => PartitionMode::Refuse,
        }
    }
}

/// What a fault does while it is active.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Kill `count` running instances of `service` chosen at random, or the
    /// one named instance.
    Kill {
        service: u32,
        instance: Option<u32>,
        count: u32,
        mode: KillMode,
    },
    /// Freeze `count` running instances of `service`, or the named one.
    Freeze {
        service: u32,
        instance: Option<u32>,
        count: u32,
    },
    ZoneOutage {
        zone: u32,
    },
    /// `instance`: only requests on that instance (a target naming one).
    Latency {
        endpoints: Vec<u32>,
        instance: Option<u32>,
        add: WorkTime,
    },
    Errors {
        endpoints: Vec<u32>,
        instance: Option<u32>,
        fraction: f64,
    },
    /// A replica's lag grows by `grow` ns per ns.
    ReplicationLag {
        instance: u32,
        grow: f64,
    },
    /// Requests from service `from` to service `to` arrive `add` late.
    LinkLatency {
        from: u32,
        to: u32,
        add: WorkTime,
    },
    CpuStress {
        instances: Vec<u32>,
        factor: f64,
    },
    /// `sides[k][s]`: service `s` is on side `k`; `zone_sides[k][z]` for zones.
    Partition {
        service_sides: [Vec<bool>; 2],
        zone_sides: [Vec<bool>; 2],
        mode: PartitionMode,
        /// Share of the calls across it affected; 1: all (no draw).
        share: f64,
    },
    MemoryLeak {
        instances: Vec<u32>,
        /// Bytes per nanosecond.
        rate: f64,
        /// Bytes per completed request.
        per_request: u64,
    },
    ChaosMonkey {
        service: u32,
        /// Mean time between kills (ns).
        mean_interval: u64,
        mode: KillMode,
    },
    /// The service's load balancer is down: what passes through it is lost
    /// or refused.
    BalancerOutage {
        service: u32,
        mode: PartitionMode,
    },
    /// Restart a service's instances `batch` at a time, `pause` (ns) apart.
    RollingRestart {
        service: u32,
        batch: u32,
        pause: u64,
    },
    /// Drop every key of a cache service's instances, or of the one named.
    CacheFlush {
        service: u32,
        instance: Option<u32>,
    },
}

impl FaultAction {
    /// Whether a call from an instance (service, zone) to another crosses
    /// this partition.
    pub fn separates(&self, from: (u32, u32), to: (u32, u32)) -> bool {
        let FaultAction::Partition {
            service_sides,
            zone_sides,
            ..
        } = self
        else {
            return false;
        };
        let on = |k: usize, (service, zone): (u32, u32)| {
            service_sides[k][service as usize] || zone_sides[k][zone as usize]
        };
        (on(0, from) && on(1, to)) || (on(1, from) && on(0, to))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub name: String,
    /// For reports.
    pub kind: FaultKind,
    /// Virtual time it starts (ns).
    pub start: u64,
    /// Virtual time it ends (ns); `None`: lasts to the end (or is instant).
    pub end: Option<u64>,
    pub action: FaultAction,
}

impl Fault {
    /// The services it acts on directly, each once, in order.
    pub fn services(&self, topology: &Topology) -> Vec<u32> {
        let service_of_instance = |i: &u32| topology.instances[*i as usize].service.0;
        let service_of_endpoint = |e: &u32| topology.endpoints[*e as usize].service.0;
        let mut targets: Vec<u32> = match &self.action {
            FaultAction::Kill { service, .. }
            | FaultAction::CacheFlush { service, .. }
            | FaultAction::RollingRestart { service, .. }
            | FaultAction::BalancerOutage { service, .. }
            | FaultAction::Freeze { service, .. }
            | FaultAction::ChaosMonkey { service, .. } => vec![*service],
            FaultAction::ZoneOutage { zone } => topology
                .instances
                .iter()
                .filter(|i| i.zone.0 == *zone)
                .map(|i| i.service.0)
                .collect(),
            FaultAction::Latency { endpoints, .. } | FaultAction::Errors { endpoints, .. } => {
                endpoints.iter().map(service_of_endpoint).collect()
            }
            FaultAction::ReplicationLag { instance, .. } => vec![service_of_instance(instance)],
            FaultAction::LinkLatency { from, to, .. } => vec![*to, *from],
            FaultAction::CpuStress { instances, .. }
            | FaultAction::MemoryLeak { instances, .. } => {
                instances.iter().map(service_of_instance).collect()
            }
            FaultAction::Partition {
                service_sides,
                zone_sides,
                ..
            } => (0..topology.services.len() as u32)
                .filter(|s| {
                    service_sides.iter().any(|side| side[*s as usize])
                        || topology
                            .instances
                            .iter()
                            .filter(|i| i.service.0 == *s)
                            .any(|i| zone_sides.iter().any(|side| side[i.zone.index()]))
                })
                .collect(),
        };
        let mut seen = Vec::new();
        targets.retain(|t| {
            let new = !seen.contains(t);
            seen.push(*t);
            new
        });
        targets
    }

    /// When it stops acting: its end, or the instant of a kill; `None` when
    /// it lasts to the end of the run.
    /// Whether it is an instant (a kill, a flush, the start of a rolling
    /// restart): nothing ends it, and nothing is there to roll back.
    pub fn is_instant(&self) -> bool {
        self.end.is_none() && self.ends_at() == Some(self.start)
    }

    pub fn ends_at(&self) -> Option<u64> {
        match (&self.action, self.end) {
            (_, Some(end)) => Some(end),
            (
                FaultAction::Kill { .. }
                | FaultAction::CacheFlush { .. }
                | FaultAction::RollingRestart { .. },
                None,
            ) => Some(self.start),
            (_, None) => None,
        }
    }
}

enum Resolved {
    Service(u32),
    Instance(u32),
    Endpoint(u32),
}

fn resolve(
    topology: &Topology,
    target: &str,
    endpoints_allowed: bool,
) -> Result<Resolved, (String, Option<String>)> {
    if let Some(s) = topology.services.iter().position(|s| s.name == target) {
        return Ok(Resolved::Service(s as u32));
    }
    if let Some(i) = topology.instances.iter().position(|i| i.name == target) {
        return Ok(Resolved::Instance(i as u32));
    }
    if endpoints_allowed
        && let Some(e) = topology
            .endpoints
            .iter()
            .position(|e| e.full_name == target)
    {
        return Ok(Resolved::Endpoint(e as u32));
    }
    let mut names: Vec<&str> = topology.services.iter().map(|s| s.name.as_str()).collect();
    names.extend(topology.instances.iter().map(|i| i.name.as_str()));
    if endpoints_allowed {
        names.extend(topology.endpoints.iter().map(|e| e.full_name.as_str()));
    }
    let hint = closest(target, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
    let services: Vec<&str> = topology.services.iter().map(|s| s.name.as_str()).collect();
    let what = if endpoints_allowed {
        "a service, an instance (`service-zone-k`) or an endpoint (`service.endpoint`)"
    } else {
        "a service or an instance (`service-zone-k`)"
    };
    Err((
        format!(
            "unknown target `{target}`: expected {what} (services: {})",
            services.join(", ")
        ),
        hint,
    ))
}

/// The instances a kill or freeze names: one instance, or `count` of a
/// service's to draw when it starts. On error, the field to blame and why.
#[allow(clippy::type_complexity)]
fn victims(
    topology: &Topology,
    target: &str,
    count: Option<u32>,
    verb: &str,
) -> Result<(u32, Option<u32>, u32), (&'static str, (String, Option<String>))> {
    match resolve(topology, target, false).map_err(|e| ("target", e))? {
        Resolved::Service(s) => {
            let available = topology.services[s as usize].instances.len() as u32;
            let count = count.unwrap_or(1);
            if count == 0 || count > available {
                return Err((
                    "count",
                    (
                        format!("expected 1 to {available} instances to {verb}, found {count}"),
                        None,
                    ),
                ));
            }
            Ok((s, None, count))
        }
        Resolved::Instance(i) => {
            if count.is_some_and(|c| c != 1) {
                return Err((
                    "count",
                    (
                        "a named instance is one instance; leave `count` out".into(),
                        None,
                    ),
                ));
            }
            Ok((topology.instances[i as usize].service.0, Some(i), 1))
        }
        Resolved::Endpoint(_) => unreachable!("endpoints are not resolved here"),
    }
}

fn only_instance(resolved: &Resolved) -> Option<u32> {
    match *resolved {
        Resolved::Instance(i) => Some(i),
        _ => None,
    }
}

fn endpoints_of(topology: &Topology, resolved: &Resolved) -> Vec<u32> {
    match *resolved {
        Resolved::Service(s) => topology.services[s as usize].endpoints.clone().collect(),
        Resolved::Endpoint(e) => vec![e],
        Resolved::Instance(i) => topology
            .service_of_instance(crate::topology::InstanceId(i))
            .endpoints
            .clone()
            .collect(),
    }
}

fn instances_of(topology: &Topology, resolved: &Resolved) -> Vec<u32> {
    match *resolved {
        Resolved::Service(s) => topology.services[s as usize].instances.clone().collect(),
        Resolved::Instance(i) => vec![i],
        Resolved::Endpoint(e) => {
            let s = topology.endpoints[e as usize].service.index();
            topology.services[s].instances.clone().collect()
        }
    }
}

/// Resolves every fault of the scenario, or lists every problem.
pub fn compile(scenario: &ScenarioSpec, topology: &Topology) -> Result<Vec<Fault>, Vec<Problem>> {
    let mut faults = Vec::new();
    let mut problems = Vec::new();
    for (name, spec) in &scenario.faults {
        let mut resolver = Resolver {
            topology,
            path: JsonPath::root().key("faults").key(name),
            problems: &mut problems,
        };
        // Timing first: its problems are listed before the kind's.
        let (start, end) = resolver.timing(spec, scenario.duration);
        if let Some(action) = resolver.action(spec) {
            faults.push(Fault {
                name: name.clone(),
                kind: spec.kind(),
                start,
                end,
                action,
            });
        }
    }
    if problems.is_empty() {
        Ok(faults)
    } else {
        Err(problems)
    }
}

/// One fault being resolved. Problems are pushed, not returned, so that a
/// single pass over the scenario reports everything wrong with it rather
/// than the first thing; each lands under this fault's JSON path.
struct Resolver<'a> {
    topology: &'a Topology,
    path: JsonPath,
    problems: &'a mut Vec<Problem>,
}

impl Resolver<'_> {
    /// A problem with one field of the fault, with a fix when one is known.
    fn blame(&mut self, field: &str, (message, hint): (String, Option<String>)) {
        self.problems
            .push(Problem::new(self.path.key(field), message).with_suggestion(hint));
    }

    /// A problem with one field that has no obvious fix.
    fn complain(&mut self, field: &str, message: impl Into<String>) {
        self.blame(field, (message.into(), None));
    }

    /// The target by name; an unknown one is blamed on `target`.
    fn resolve(&mut self, target: &str, endpoints_allowed: bool) -> Option<Resolved> {
        match resolve(self.topology, target, endpoints_allowed) {
            Ok(resolved) => Some(resolved),
            Err(problem) => {
                self.blame("target", problem);
                None
            }
        }
    }

    /// Start and end (ns). A fault starting after the run would silently do
    /// nothing, and a zero `for` is almost surely a typo for "to the end",
    /// so both are problems; the times are returned regardless, so that the
    /// kind is still checked and its own problems reported too.
    fn timing(&mut self, spec: &FaultSpec, run_ends: Duration) -> (u64, Option<u64>) {
        let start = spec.at().0;
        if start >= run_ends.0 {
            self.complain(
                "at",
                format!(
                    "the fault starts at {} but the run ends at {}",
                    spec.at(),
                    run_ends
                ),
            );
        }
        if let Some(d) = spec.duration()
            && d.0 == 0
        {
            self.complain(
                "for",
                "expected a positive duration; leave `for` out for a fault that lasts to the end",
            );
        }
        (start, spec.duration().map(|d| start.saturating_add(d.0)))
    }

    /// What the fault does, or `None` (its problems pushed) when it is wrong.
    fn action(&mut self, spec: &FaultSpec) -> Option<FaultAction> {
        match spec {
            FaultSpec::InstanceKill(f) => self.kill(&f.target, f.count, f.mode),
            FaultSpec::InstanceFreeze(f) => self.freeze(&f.target, f.count),
            FaultSpec::ZoneOutage(f) => self.zone_outage(&f.zone),
            FaultSpec::Latency(Latency {
                target,
                add,
                from: Some(from),
                ..
            }) => self.link_latency(from, target, add),
            FaultSpec::Latency(f) => self.latency(&f.target, &f.add),
            FaultSpec::Errors(f) => self.errors(&f.target, f.fraction),
            FaultSpec::CpuStress(f) => self.cpu_stress(&f.target, f.factor),
            FaultSpec::NetworkPartition(f) => self.partition(&f.between, f.mode, f.share),
            FaultSpec::MemoryLeak(f) => self.memory_leak(&f.target, f.rate, f.per_request),
            FaultSpec::ReplicationLag(f) => self.replication_lag(&f.target, f.grow),
            FaultSpec::ChaosMonkey(f) => self.chaos_monkey(&f.target, f.mean_interval, f.mode),
            FaultSpec::CacheFlush(f) => self.cache_flush(&f.target),
            FaultSpec::RollingRestart(f) => self.rolling_restart(&f.target, f.batch, f.pause),
            FaultSpec::LoadBalancerOutage(f) => {
                let service =
                    self.service_only(&f.target, "a load balancer belongs to a service")?;
                Some(FaultAction::BalancerOutage {
                    service,
                    mode: f.mode.into(),
                })
            }
        }
    }

    /// A target that must name a service; `why` tells one naming an
    /// instance or an endpoint what was expected.
    fn service_only(&mut self, target: &str, why: &str) -> Option<u32> {
        match self.resolve(target, false)? {
            Resolved::Service(s) => Some(s),
            _ => {
                self.blame(
                    "target",
                    (format!("`{target}` is an instance: {why}"), None),
                );
                None
            }
        }
    }

    /// A deploy's restarts: the target must be a service (all of whose
    /// instances are restarted), the batch at least one.
    fn rolling_restart(
        &mut self,
        target: &str,
        batch: Option<u32>,
        pause: Option<Duration>,
    ) -> Option<FaultAction> {
        let service = self.service_only(
            target,
            "a rolling restart restarts a service's instances in turn",
        )?;
        if batch == Some(0) {
            self.complain("batch", "expected at least one instance at a time");
            return None;
        }
        Some(FaultAction::RollingRestart {
            service,
            batch: batch.unwrap_or(1),
            pause: pause.map_or(0, |p| p.0),
        })
    }

    /// A cache's keys dropped: the target must be a service with an
    /// endpoint that keeps keys, or one of its instances.
    fn cache_flush(&mut self, target: &str) -> Option<FaultAction> {
        let (service, instance) = match self.resolve(target, false)? {
            Resolved::Service(s) => (s, None),
            Resolved::Instance(i) => (self.topology.instances[i as usize].service.0, Some(i)),
            Resolved::Endpoint(_) => unreachable!("endpoints are not resolved here"),
        };
        let topology = self.topology;
        let keyed = topology.services[service as usize]
            .endpoints
            .clone()
            .any(|e| topology.endpoints[e as usize].keys.is_some());
        if !keyed {
            let name = &topology.services[service as usize].name;
            self.blame(
                "target",
                (
                    format!("`{name}` keeps no keys: a cache_flush needs a cache whose endpoint declares `keys`"),
                    None,
                ),
            );
            return None;
        }
        Some(FaultAction::CacheFlush { service, instance })
    }

    /// Service, named instance and count of a kill or a freeze; a bad count
    /// is blamed on `count`, an unknown target on `target`.
    fn victims(
        &mut self,
        target: &str,
        count: Option<u32>,
        verb: &str,
    ) -> Option<(u32, Option<u32>, u32)> {
        match victims(self.topology, target, count, verb) {
            Ok(victims) => Some(victims),
            Err((field, problem)) => {
                self.blame(field, problem);
                None
            }
        }
    }

    fn kill(
        &mut self,
        target: &str,
        count: Option<u32>,
        mode: scenario::KillMode,
    ) -> Option<FaultAction> {
        let (service, instance, count) = self.victims(target, count, "kill")?;
        Some(FaultAction::Kill {
            service,
            instance,
            count,
            mode: mode.into(),
        })
    }

    fn freeze(&mut self, target: &str, count: Option<u32>) -> Option<FaultAction> {
        let (service, instance, count) = self.victims(target, count, "freeze")?;
        Some(FaultAction::Freeze {
            service,
            instance,
            count,
        })
    }

    fn zone_outage(&mut self, zone: &str) -> Option<FaultAction> {
        let zones = &self.topology.zones;
        if let Some(z) = zones.iter().position(|z| z == zone) {
            return Some(FaultAction::ZoneOutage { zone: z as u32 });
        }
        let hint =
            closest(zone, zones.iter().map(String::as_str)).map(|z| format!("did you mean `{z}`?"));
        let message = format!("unknown zone `{zone}` (zones: {})", zones.join(", "));
        self.blame("zone", (message, hint));
        None
    }

    /// A slow target: every request that starts on it works `add` longer.
    fn latency(&mut self, target: &str, add: &WorkSpec) -> Option<FaultAction> {
        let resolved = self.resolve(target, true)?;
        // `add` is only checked once the target resolves: an unknown target
        // is reported alone.
        let before = self.problems.len();
        crate::spec::check_work(self.problems, &self.path.key("add"), add);
        if self.problems.len() > before {
            return None;
        }
        Some(FaultAction::Latency {
            endpoints: endpoints_of(self.topology, &resolved),
            instance: only_instance(&resolved),
            add: crate::topology::work_time(add),
        })
    }

    /// A slow network from one service to another. Both ends must be
    /// services (not instances or endpoints): the delay is on the link.
    fn link_latency(&mut self, from: &str, target: &str, add: &WorkSpec) -> Option<FaultAction> {
        let topology = self.topology;
        // `add` is checked first but its problems are listed after the
        // names', the order the messages have always come in.
        let mut work_problems = Vec::new();
        crate::spec::check_work(&mut work_problems, &self.path.key("add"), add);
        let caller = topology.services.iter().position(|s| s.name == from);
        let callee = topology.services.iter().position(|s| s.name == target);
        let names = || topology.services.iter().map(|s| s.name.as_str());
        if caller.is_none() {
            let hint = closest(from, names()).map(|n| format!("did you mean `{n}`?"));
            self.blame("from", (format!("unknown service `{from}`"), hint));
        }
        if callee.is_none() {
            let hint = closest(target, names()).map(|n| format!("did you mean `{n}`?"));
            let message =
                format!("unknown service `{target}`: a network latency joins two services");
            self.blame("target", (message, hint));
        }
        match (caller, callee, work_problems.is_empty()) {
            (Some(from), Some(to), true) => Some(FaultAction::LinkLatency {
                from: from as u32,
                to: to as u32,
                add: crate::topology::work_time(add),
            }),
            _ => {
                self.problems.extend(work_problems);
                None
            }
        }
    }

    // A bad fraction or factor below does not stop the target being
    // resolved, so that both problems are reported at once; the action built
    // is never used, as any problem fails the whole compilation.

    fn errors(&mut self, target: &str, fraction: f64) -> Option<FaultAction> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            self.complain(
                "fraction",
                format!("expected a share in (0, 1], found {fraction}"),
            );
        }
        let resolved = self.resolve(target, true)?;
        Some(FaultAction::Errors {
            endpoints: endpoints_of(self.topology, &resolved),
            instance: only_instance(&resolved),
            fraction,
        })
    }

    fn cpu_stress(&mut self, target: &str, factor: f64) -> Option<FaultAction> {
        if !(factor.is_finite() && factor > 0.0) {
            self.complain(
                "factor",
                format!("expected a positive factor, found {factor}"),
            );
        }
        let resolved = self.resolve(target, false)?;
        Some(FaultAction::CpuStress {
            instances: instances_of(self.topology, &resolved),
            factor,
        })
    }

    /// Each side is a mix of service and zone names, marked in per-side
    /// flags so that the engine's check of a call is two lookups.
    fn partition(
        &mut self,
        between: &[Vec<String>; 2],
        mode: scenario::PartitionMode,
        share: Option<f64>,
    ) -> Option<FaultAction> {
        let topology = self.topology;
        let services = topology.services.len();
        let zones = topology.zones.len();
        let mut service_sides = [vec![false; services], vec![false; services]];
        let mut zone_sides = [vec![false; zones], vec![false; zones]];
        let mut ok = true;
        for (k, side) in between.iter().enumerate() {
            let path = self.path.key("between").index(k);
            if side.is_empty() {
                ok = false;
                self.problems.push(Problem::new(
                    path.clone(),
                    "expected at least one service or zone on each side",
                ));
            }
            for (i, name) in side.iter().enumerate() {
                if let Some(s) = topology.services.iter().position(|s| &s.name == name) {
                    service_sides[k][s] = true;
                } else if let Some(z) = topology.zones.iter().position(|z| z == name) {
                    zone_sides[k][z] = true;
                } else {
                    ok = false;
                    let names = topology
                        .services
                        .iter()
                        .map(|s| s.name.as_str())
                        .chain(topology.zones.iter().map(String::as_str));
                    let hint = closest(name, names).map(|n| format!("did you mean `{n}`?"));
                    self.problems.push(
                        Problem::new(path.index(i), format!("unknown service or zone `{name}`"))
                            .with_suggestion(hint),
                    );
                }
            }
        }
        if let Some(share) = share
            && !(share > 0.0 && share <= 1.0)
        {
            ok = false;
            self.problems.push(Problem::new(
                self.path.key("share"),
                "expected a share of calls above 0 and at most 1",
            ));
        }
        ok.then_some(FaultAction::Partition {
            service_sides,
            zone_sides,
            mode: mode.into(),
            share: share.unwrap_or(1.0),
        })
    }

    /// A leak needs the service's memory model (baseline and limit) to mean
    /// anything, and some way to grow: over time, per request, or both.
    fn memory_leak(
        &mut self,
        target: &str,
        rate: Option<ByteRate>,
        per_request: Option<Size>,
    ) -> Option<FaultAction> {
        let topology = self.topology;
        let resolved = self.resolve(target, false)?;
        let instances = instances_of(topology, &resolved);
        let service = &topology.services[topology.instances[instances[0] as usize].service.index()];
        if service.memory.is_none() {
            let message = format!(
                "service `{}` has no `memory` in the model, so nothing can leak",
                service.name
            );
            let fix = "give the service {\"memory\": {\"baseline\": ..., \"limit\": ...}}";
            self.blame("target", (message, Some(fix.into())));
            return None;
        }
        if rate.is_none() && per_request.is_none() {
            self.complain(
                "rate",
                "expected a `rate` (\"10MiB/s\"), a `per_request` size, or both",
            );
            return None;
        }
        if rate.is_some_and(|r| !(r.0 > 0.0 && r.0.is_finite())) {
            self.complain("rate", "expected a positive growth rate");
            return None;
        }
        Some(FaultAction::MemoryLeak {
            instances,
            // Bytes per second become bytes per nanosecond of virtual time.
            rate: rate.map_or(0.0, |r| r.0 / 1e9),
            per_request: per_request.map_or(0, |s| s.0),
        })
    }

    /// Lag is a replica's: the target must be one instance of a replicated
    /// database, and not its primary, which is never behind itself.
    fn replication_lag(&mut self, target: &str, grow: f64) -> Option<FaultAction> {
        let topology = self.topology;
        let Resolved::Instance(i) = self.resolve(target, false)? else {
            self.complain("target", "name one replica instance (`service-zone-k`)");
            return None;
        };
        let service = &topology.services[topology.instances[i as usize].service.index()];
        let Some(replication) = &service.replication else {
            let message = format!("service `{}` is not a replicated database", service.name);
            self.complain("target", message);
            return None;
        };
        if replication.primary == i {
            let message = format!("`{target}` is the primary; name one of its replicas");
            self.complain("target", message);
            return None;
        }
        if !(grow.is_finite() && grow > 0.0) {
            self.complain("grow", format!("expected a positive growth, found {grow}"));
            return None;
        }
        Some(FaultAction::ReplicationLag { instance: i, grow })
    }

    /// A chaos monkey draws its victims among a service's running instances
    /// as it goes, so it needs a service; like the share above, a zero mean
    /// interval does not stop the target being checked.
    fn chaos_monkey(
        &mut self,
        target: &str,
        mean_interval: Duration,
        mode: scenario::KillMode,
    ) -> Option<FaultAction> {
        if mean_interval.0 == 0 {
            self.complain("mean_interval", "expected a positive mean interval");
        }
        let Resolved::Service(service) = self.resolve(target, false)? else {
            self.complain("target", "a chaos monkey roams a service; name the service");
            return None;
        };
        Some(FaultAction::ChaosMonkey {
            service,
            mean_interval: mean_interval.0,
            mode: mode.into(),
        })
    }
}
