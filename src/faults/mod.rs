//! Faults of a scenario, resolved against the topology: what breaks, when,
//! and for how long. Resolution doubles as validation: a target that does not
//! resolve is a problem with its JSON path.

use crate::error::{JsonPath, Problem, closest};
use crate::spec::ScenarioSpec;
use crate::spec::scenario::{self, FaultSpec};
use crate::topology::{Topology, WorkTime};

/// What a fault does, spelled as the scenario's `kind` and as
/// `analysis.json` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    InstanceKill,
    InstanceFreeze,
    ZoneOutage,
    Latency,
    Errors,
    CpuStress,
    NetworkPartition,
    MemoryLeak,
    ReplicationLag,
    ChaosMonkey,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InstanceKill => "instance_kill",
            FaultKind::InstanceFreeze => "instance_freeze",
            FaultKind::ZoneOutage => "zone_outage",
            FaultKind::Latency => "latency",
            FaultKind::Errors => "errors",
            FaultKind::CpuStress => "cpu_stress",
            FaultKind::NetworkPartition => "network_partition",
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::ReplicationLag => "replication_lag",
            FaultKind::ChaosMonkey => "chaos_monkey",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl From<&FaultSpec> for FaultKind {
    fn from(spec: &FaultSpec) -> Self {
        match spec {
            FaultSpec::InstanceKill { .. } => FaultKind::InstanceKill,
            FaultSpec::InstanceFreeze { .. } => FaultKind::InstanceFreeze,
            FaultSpec::ZoneOutage { .. } => FaultKind::ZoneOutage,
            FaultSpec::Latency { .. } => FaultKind::Latency,
            FaultSpec::Errors { .. } => FaultKind::Errors,
            FaultSpec::CpuStress { .. } => FaultKind::CpuStress,
            FaultSpec::NetworkPartition { .. } => FaultKind::NetworkPartition,
            FaultSpec::MemoryLeak { .. } => FaultKind::MemoryLeak,
            FaultSpec::ReplicationLag { .. } => FaultKind::ReplicationLag,
            FaultSpec::ChaosMonkey { .. } => FaultKind::ChaosMonkey,
        }
    }
}

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
    /// When it stops acting: its end, or the instant of a kill; `None` when
    /// it lasts to the end of the run.
    pub fn ends_at(&self) -> Option<u64> {
        match (&self.action, self.end) {
            (_, Some(end)) => Some(end),
            (FaultAction::Kill { .. }, None) => Some(self.start),
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
        let path = JsonPath::root().key("faults").key(name);
        let start = spec.at().0;
        if start >= scenario.duration.0 {
            problems.push(Problem::new(
                path.key("at"),
                format!(
                    "the fault starts at {} but the run ends at {}",
                    spec.at(),
                    scenario.duration
                ),
            ));
        }
        if let Some(d) = spec.duration()
            && d.0 == 0
        {
            problems.push(Problem::new(
                path.key("for"),
                "expected a positive duration; leave `for` out for a fault that lasts to the end",
            ));
        }
        let end = spec.duration().map(|d| start.saturating_add(d.0));
        let mut target_problem = |field: &str, (message, hint): (String, Option<String>)| {
            problems.push(Problem::new(path.key(field), message).with_suggestion(hint));
        };
        let action = match spec {
            FaultSpec::InstanceKill {
                target,
                count,
                mode,
                ..
            } => match victims(topology, target, *count, "kill") {
                Ok((service, instance, count)) => Some(FaultAction::Kill {
                    service,
                    instance,
                    count,
                    mode: (*mode).into(),
                }),
                Err((field, problem)) => {
                    target_problem(field, problem);
                    None
                }
            },
            FaultSpec::ReplicationLag { target, grow, .. } => {
                match resolve(topology, target, false) {
                    Ok(Resolved::Instance(i)) => {
                        let service =
                            &topology.services[topology.instances[i as usize].service.index()];
                        match &service.replication {
                            None => {
                                target_problem(
                                    "target",
                                    (
                                        format!(
                                            "service `{}` is not a replicated database",
                                            service.name
                                        ),
                                        None,
                                    ),
                                );
                                None
                            }
                            Some(r) if r.primary == i => {
                                target_problem(
                                    "target",
                                    (
                                        format!(
                                            "`{target}` is the primary; name one of its replicas"
                                        ),
                                        None,
                                    ),
                                );
                                None
                            }
                            Some(_) if !(grow.is_finite() && *grow > 0.0) => {
                                target_problem(
                                    "grow",
                                    (format!("expected a positive growth, found {grow}"), None),
                                );
                                None
                            }
                            Some(_) => Some(FaultAction::ReplicationLag {
                                instance: i,
                                grow: *grow,
                            }),
                        }
                    }
                    Ok(_) => {
                        target_problem(
                            "target",
                            ("name one replica instance (`service-zone-k`)".into(), None),
                        );
                        None
                    }
                    Err(e) => {
                        target_problem("target", e);
                        None
                    }
                }
            }
            FaultSpec::InstanceFreeze { target, count, .. } => {
                match victims(topology, target, *count, "freeze") {
                    Ok((service, instance, count)) => Some(FaultAction::Freeze {
                        service,
                        instance,
                        count,
                    }),
                    Err((field, problem)) => {
                        target_problem(field, problem);
                        None
                    }
                }
            }
            FaultSpec::ZoneOutage { zone, .. } => {
                match topology.zones.iter().position(|z| z == zone) {
                    Some(z) => Some(FaultAction::ZoneOutage { zone: z as u32 }),
                    None => {
                        let hint = closest(zone, topology.zones.iter().map(String::as_str))
                            .map(|z| format!("did you mean `{z}`?"));
                        target_problem(
                            "zone",
                            (
                                format!(
                                    "unknown zone `{zone}` (zones: {})",
                                    topology.zones.join(", ")
                                ),
                                hint,
                            ),
                        );
                        None
                    }
                }
            }
            FaultSpec::Latency {
                target,
                add,
                from: Some(from),
                ..
            } => {
                let mut work_problems = Vec::new();
                crate::spec::check_work(&mut work_problems, &path.key("add"), add);
                let caller = topology.services.iter().position(|s| &s.name == from);
                let callee = topology.services.iter().position(|s| &s.name == target);
                let names = || topology.services.iter().map(|s| s.name.as_str());
                if caller.is_none() {
                    let hint = closest(from, names()).map(|n| format!("did you mean `{n}`?"));
                    target_problem("from", (format!("unknown service `{from}`"), hint));
                }
                if callee.is_none() {
                    let hint = closest(target, names()).map(|n| format!("did you mean `{n}`?"));
                    target_problem(
                        "target",
                        (
                            format!(
                                "unknown service `{target}`: a network latency joins two services"
                            ),
                            hint,
                        ),
                    );
                }
                match (caller, callee, work_problems.is_empty()) {
                    (Some(from), Some(to), true) => Some(FaultAction::LinkLatency {
                        from: from as u32,
                        to: to as u32,
                        add: crate::topology::work_time(add),
                    }),
                    _ => {
                        problems.extend(work_problems);
                        None
                    }
                }
            }
            FaultSpec::Latency { target, add, .. } => match resolve(topology, target, true) {
                Ok(r) => {
                    let mut work_problems = Vec::new();
                    crate::spec::check_work(&mut work_problems, &path.key("add"), add);
                    if work_problems.is_empty() {
                        Some(FaultAction::Latency {
                            endpoints: endpoints_of(topology, &r),
                            instance: only_instance(&r),
                            add: crate::topology::work_time(add),
                        })
                    } else {
                        problems.extend(work_problems);
                        None
                    }
                }
                Err(e) => {
                    target_problem("target", e);
                    None
                }
            },
            FaultSpec::Errors {
                target, fraction, ..
            } => {
                if !(*fraction > 0.0 && *fraction <= 1.0) {
                    target_problem(
                        "fraction",
                        (
                            format!("expected a share in (0, 1], found {fraction}"),
                            None,
                        ),
                    );
                }
                match resolve(topology, target, true) {
                    Ok(r) => Some(FaultAction::Errors {
                        endpoints: endpoints_of(topology, &r),
                        instance: only_instance(&r),
                        fraction: *fraction,
                    }),
                    Err(e) => {
                        target_problem("target", e);
                        None
                    }
                }
            }
            FaultSpec::CpuStress { target, factor, .. } => {
                if !(factor.is_finite() && *factor > 0.0) {
                    target_problem(
                        "factor",
                        (format!("expected a positive factor, found {factor}"), None),
                    );
                }
                match resolve(topology, target, false) {
                    Ok(r) => Some(FaultAction::CpuStress {
                        instances: instances_of(topology, &r),
                        factor: *factor,
                    }),
                    Err(e) => {
                        target_problem("target", e);
                        None
                    }
                }
            }
            FaultSpec::NetworkPartition { between, mode, .. } => {
                let mut service_sides = [
                    vec![false; topology.services.len()],
                    vec![false; topology.services.len()],
                ];
                let mut zone_sides = [
                    vec![false; topology.zones.len()],
                    vec![false; topology.zones.len()],
                ];
                let mut ok = true;
                for (k, side) in between.iter().enumerate() {
                    if side.is_empty() {
                        ok = false;
                        problems.push(Problem::new(
                            path.key("between").index(k),
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
                            problems.push(
                                Problem::new(
                                    path.key("between").index(k).index(i),
                                    format!("unknown service or zone `{name}`"),
                                )
                                .with_suggestion(hint),
                            );
                        }
                    }
                }
                ok.then_some(FaultAction::Partition {
                    service_sides,
                    zone_sides,
                    mode: (*mode).into(),
                })
            }
            FaultSpec::MemoryLeak {
                target,
                rate,
                per_request,
                ..
            } => match resolve(topology, target, false) {
                Ok(r) => {
                    let instances = instances_of(topology, &r);
                    let service = topology.instances[instances[0] as usize].service.index();
                    if topology.services[service].memory.is_none() {
                        target_problem(
                            "target",
                            (
                                format!(
                                    "service `{}` has no `memory` in the model, so nothing can leak",
                                    topology.services[service].name
                                ),
                                Some("give the service {\"memory\": {\"baseline\": ..., \"limit\": ...}}".into()),
                            ),
                        );
                        None
                    } else if rate.is_none() && per_request.is_none() {
                        target_problem(
                            "rate",
                            (
                                "expected a `rate` (\"10MiB/s\"), a `per_request` size, or both"
                                    .into(),
                                None,
                            ),
                        );
                        None
                    } else if rate.is_some_and(|r| !(r.0 > 0.0 && r.0.is_finite())) {
                        target_problem("rate", ("expected a positive growth rate".into(), None));
                        None
                    } else {
                        Some(FaultAction::MemoryLeak {
                            instances,
                            rate: rate.map_or(0.0, |r| r.0 / 1e9),
                            per_request: per_request.map_or(0, |s| s.0),
                        })
                    }
                }
                Err(e) => {
                    target_problem("target", e);
                    None
                }
            },
            FaultSpec::ChaosMonkey {
                target,
                mean_interval,
                mode,
                ..
            } => {
                if mean_interval.0 == 0 {
                    target_problem(
                        "mean_interval",
                        ("expected a positive mean interval".into(), None),
                    );
                }
                match resolve(topology, target, false) {
                    Ok(Resolved::Service(s)) => Some(FaultAction::ChaosMonkey {
                        service: s,
                        mean_interval: mean_interval.0,
                        mode: (*mode).into(),
                    }),
                    Ok(_) => {
                        target_problem(
                            "target",
                            (
                                "a chaos monkey roams a service; name the service".into(),
                                None,
                            ),
                        );
                        None
                    }
                    Err(e) => {
                        target_problem("target", e);
                        None
                    }
                }
            }
        };
        if let Some(action) = action {
            faults.push(Fault {
                name: name.clone(),
                kind: FaultKind::from(spec),
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
