//! The faults in force, as the request path asks about them.
//!
//! The engine asks at each step whether something is injected: extra work
//! time on an endpoint, an error instead of an answer, a partition between
//! two instances, a delay on a link. Those questions are answered here, from
//! short lists of the faults active now, each with its own random stream so
//! that adding a fault never shifts another's draws.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::base::ids::{EndpointId, FaultId, InstanceId, ServiceId, ZoneId};
use crate::base::rng::stream;
use crate::components::work;
use crate::faults::{Fault, FaultAction, PartitionMode};

pub(super) struct ActiveFaults<'t> {
    pub(super) all: &'t [Fault],
    /// One stream per fault of the scenario.
    rngs: Vec<ChaCha8Rng>,
    /// Per endpoint, the latency faults on it (indices into `all`).
    latency: Vec<Vec<FaultId>>,
    /// Per endpoint, the error faults on it.
    errors: Vec<Vec<FaultId>>,
    partitions: Vec<FaultId>,
    links: Vec<FaultId>,
    /// Load balancer outages in force.
    balancers: Vec<FaultId>,
    /// Per fault, whether its chaos monkey roams.
    monkeys: Vec<bool>,
    /// Per fault, whether it has started, and whether it is in force (an
    /// instant fault stays so once started: nothing ends it).
    started: Vec<bool>,
    in_force: Vec<bool>,
}

impl<'t> ActiveFaults<'t> {
    pub(super) fn new(all: &'t [Fault], endpoints: usize, seed: u64) -> Self {
        ActiveFaults {
            all,
            rngs: all
                .iter()
                .map(|f| stream(seed, &format!("fault/{}", f.name)))
                .collect(),
            latency: vec![Vec::new(); endpoints],
            errors: vec![Vec::new(); endpoints],
            partitions: Vec::new(),
            links: Vec::new(),
            balancers: Vec::new(),
            monkeys: vec![false; all.len()],
            started: vec![false; all.len()],
            in_force: vec![false; all.len()],
        }
    }

    /// The fault's own random stream.
    pub(super) fn rng(&mut self, f: FaultId) -> &mut ChaCha8Rng {
        &mut self.rngs[f]
    }

    /// Puts the request-path part of fault `f` in force (`on`) or lifts it.
    /// Faults that act on instances (kills, freezes, leaks) are applied by
    /// the engine; this keeps the lists the request path reads.
    pub(super) fn set(&mut self, f: FaultId, on: bool) {
        self.started[f.index()] |= on;
        self.in_force[f.index()] = on;
        let toggle = |list: &mut Vec<FaultId>| {
            if on {
                list.push(f);
            } else {
                list.retain(|x| *x != f);
            }
        };
        match &self.all[f].action {
            FaultAction::Latency { endpoints, .. } => {
                for e in endpoints {
                    toggle(&mut self.latency[*e as usize]);
                }
            }
            FaultAction::Errors { endpoints, .. } => {
                for e in endpoints {
                    toggle(&mut self.errors[*e as usize]);
                }
            }
            FaultAction::Partition { .. } => toggle(&mut self.partitions),
            FaultAction::LinkLatency { .. } => toggle(&mut self.links),
            FaultAction::BalancerOutage { .. } => toggle(&mut self.balancers),
            FaultAction::ChaosMonkey { .. } => self.monkeys[f] = on,
            _ => {}
        }
    }

    pub(super) fn started(&self, f: FaultId) -> bool {
        self.started[f.index()]
    }

    pub(super) fn in_force(&self, f: FaultId) -> bool {
        self.in_force[f.index()]
    }

    /// Whether fault `f`'s chaos monkey still roams.
    pub(super) fn monkey_roams(&self, f: FaultId) -> bool {
        self.monkeys[f]
    }

    /// Whether any latency fault is on `endpoint` (checked on every request
    /// before the cost of `injected_latency`).
    #[inline]
    pub(super) fn slows(&self, endpoint: EndpointId) -> bool {
        !self.latency[endpoint.index()].is_empty()
    }

    /// Whether any error fault is on `endpoint`.
    #[inline]
    pub(super) fn fails(&self, endpoint: EndpointId) -> bool {
        !self.errors[endpoint.index()].is_empty()
    }

    #[inline]
    pub(super) fn any_partition(&self) -> bool {
        !self.partitions.is_empty()
    }

    #[inline]
    pub(super) fn any_link(&self) -> bool {
        !self.links.is_empty()
    }

    #[inline]
    pub(super) fn any_balancer_down(&self) -> bool {
        !self.balancers.is_empty()
    }

    /// How the service's load balancer fails now, if it does.
    pub(super) fn balancer_down(&self, service: ServiceId) -> Option<PartitionMode> {
        self.balancers
            .iter()
            .find_map(|&f| match self.all[f].action {
                FaultAction::BalancerOutage { service: s, mode } if s == service.0 => Some(mode),
                _ => None,
            })
    }

    /// Extra work time from the latency faults on an endpoint, for a
    /// request on `instance`.
    pub(super) fn injected_latency(&mut self, endpoint: EndpointId, instance: InstanceId) -> u64 {
        let mut total = 0;
        for &f in &self.latency[endpoint.index()] {
            if let FaultAction::Latency {
                add,
                instance: only,
                ..
            } = &self.all[f].action
                && only.is_none_or(|i| i == instance.0)
            {
                total += work::sample(*add, &mut self.rngs[f]);
            }
        }
        total
    }

    /// Whether an error fault answers this request instead of the endpoint.
    pub(super) fn injects_error(&mut self, endpoint: EndpointId, instance: InstanceId) -> bool {
        for &f in &self.errors[endpoint.index()] {
            if let FaultAction::Errors {
                fraction,
                instance: only,
                ..
            } = &self.all[f].action
                && only.is_none_or(|i| i == instance.0)
                && self.rngs[f].random::<f64>() < *fraction
            {
                return true;
            }
        }
        false
    }

    /// How an active partition treats a call between two places (service,
    /// zone), if one separates them and (for a lossy one) this call is
    /// among those it takes, drawn from the fault's own stream.
    pub(super) fn partition_between(
        &mut self,
        from: (ServiceId, ZoneId),
        to: (ServiceId, ZoneId),
    ) -> Option<PartitionMode> {
        let (from, to) = ((from.0.0, from.1.0), (to.0.0, to.1.0));
        for &f in &self.partitions {
            let action = &self.all[f].action;
            if let FaultAction::Partition { mode, share, .. } = action
                && action.separates(from, to)
                && (*share >= 1.0 || self.rngs[f].random::<f64>() < *share)
            {
                return Some(*mode);
            }
        }
        None
    }

    /// Network delay of a request from service `from` to service `to`.
    pub(super) fn network_delay(&mut self, from: ServiceId, to: ServiceId) -> u64 {
        let mut total = 0;
        for &f in &self.links {
            if let FaultAction::LinkLatency {
                from: a,
                to: b,
                add,
            } = self.all[f].action
                && a == from.0
                && b == to.0
            {
                total += work::sample(add, &mut self.rngs[f]);
            }
        }
        total
    }

    /// `count` distinct candidates, drawn from fault `f`'s stream.
    pub(super) fn choose(
        &mut self,
        f: FaultId,
        mut candidates: Vec<InstanceId>,
        count: u32,
    ) -> Vec<InstanceId> {
        let rng = &mut self.rngs[f];
        let take = (count as usize).min(candidates.len());
        for k in 0..take {
            let j = rng.random_range(k..candidates.len());
            candidates.swap(k, j);
        }
        candidates.truncate(take);
        candidates
    }
}
