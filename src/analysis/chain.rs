//! The cascade chain: the first fault, then every component of the chain
//! that left its band, in order of onset, each linked to the neighbour it
//! was reached through.

use petgraph::graph::{NodeIndex, UnGraph};

use super::judge::Judged;
use super::{Health, Run, Step, StepKind, fault_targets, in_chain, seconds};
use crate::faults::Fault;
use crate::topology::{Component, Topology};

/// The chain of a run with faults; empty without.
pub(super) fn cascade<O>(run: &Run<'_, O>, judged: &Judged) -> Vec<Step> {
    // The root: the first fault; its targets hang off a virtual node.
    let Some(root) = run.faults.iter().min_by_key(|f| f.start) else {
        return Vec::new();
    };
    let cascade = Cascade {
        run,
        judged,
        root,
        rooted: root_graph(run, root),
    };
    let mut chain = vec![cascade.fault_step()];
    let mut placed: Vec<usize> = Vec::new();
    for c in cascade.order() {
        let via = cascade.via(c, &placed);
        chain.push(cascade.step(c, via));
        placed.push(c);
    }
    chain
}

/// What ordering and linking the chain reads: the judged run and the graph
/// rooted at its first fault.
struct Cascade<'r, 'a, O> {
    run: &'r Run<'a, O>,
    judged: &'r Judged,
    root: &'r Fault,
    rooted: Rooted,
}

impl<O> Cascade<'_, '_, O> {
    fn is_target(&self, c: usize) -> bool {
        self.rooted
            .graph
            .find_edge(self.rooted.fault_node, NodeIndex::new(c))
            .is_some()
    }

    /// The window it was hit in. A target is hit the instant its fault
    /// starts; its symptoms may show only later (a slowed request is
    /// measured when it finishes), so once they show, it is placed at the
    /// fault's start.
    fn hit(&self, c: usize) -> Option<usize> {
        let observed = self.judged.onsets[c].map(|o| o.window);
        match (self.is_target(c), self.run.fault_window) {
            (true, Some(start)) => observed.map(|_| start),
            _ => observed,
        }
    }

    fn hops(&self, c: usize) -> Option<u32> {
        self.rooted.distance[c]
    }

    /// The components of the chain that left their band, by when they were
    /// hit, then nearest the fault first.
    fn order(&self) -> Vec<usize> {
        let components = self.run.components;
        let mut order: Vec<usize> = (0..components.len())
            .filter(|c| in_chain(components[*c]) && self.judged.onsets[*c].is_some())
            .collect();
        order.sort_by_key(|c| {
            (
                self.hit(*c),
                self.hops(*c).unwrap_or(u32::MAX),
                kind_order(components[*c]),
                *c,
            )
        });
        order
    }

    /// The chain's first link: the fault, on its targets.
    fn fault_step(&self) -> Step {
        let root = self.root;
        let targets_named: Vec<String> = self
            .rooted
            .targets
            .iter()
            .map(|s| self.run.topology.services[*s as usize].name.clone())
            .collect();
        Step {
            component: root.name.clone(),
            kind: StepKind::Fault,
            onset_s: seconds(root.start),
            observed_s: seconds(root.start),
            health: Health::Down,
            reason: format!("{} on {}", root.kind.name(), targets_named.join(", ")),
            via: None,
            distance: Some(0),
        }
    }

    /// The neighbour it was reached through: an adjacent component already
    /// `placed` in the chain, the earliest first (the fault itself for its
    /// targets).
    fn via(&self, c: usize, placed: &[usize]) -> Option<String> {
        if self.is_target(c) {
            return Some(self.root.name.clone());
        }
        let graph = &self.rooted.graph;
        let node = NodeIndex::new(c);
        let name = |m: usize| self.judged.reports[m].component.clone();
        placed
            .iter()
            .filter(|p| graph.find_edge(NodeIndex::new(**p), node).is_some())
            .min_by_key(|p| (self.hit(**p), self.hops(**p)))
            .map(|p| name(*p))
            .or_else(|| {
                // Its symptoms showed before its neighbour's did: it was
                // reached along the shortest path from the fault.
                let own = self.hops(c)?;
                graph
                    .neighbors(node)
                    .filter(|m| m.index() < self.run.components.len())
                    .filter_map(|m| self.hops(m.index()).map(|d| (d, m.index())))
                    .filter(|(d, _)| *d < own)
                    .min()
                    .map(|(_, m)| name(m))
            })
    }

    /// The link of a component that left its band.
    fn step(&self, c: usize, via: Option<String>) -> Step {
        let run = self.run;
        let onset = self.judged.onsets[c].expect("ordered by onset");
        let (name, kind) = run.topology.component_name(run.components[c]);
        Step {
            component: name,
            kind: StepKind::Component(kind),
            onset_s: seconds(run.windows[self.hit(c).expect("has an onset")].0),
            observed_s: seconds(run.windows[onset.window].0),
            health: onset.health,
            reason: onset.reason.to_string(),
            via,
            distance: self.hops(c),
        }
    }
}

/// The component graph with the root fault as one more node, linked to the
/// services it targets, and every component's distance from it.
struct Rooted {
    graph: UnGraph<(), ()>,
    fault_node: NodeIndex,
    /// Hops from the fault, by node (the fault's own last); `None` for a
    /// component it cannot reach.
    distance: Vec<Option<u32>>,
    targets: Vec<u32>,
}

fn root_graph<O>(run: &Run<'_, O>, root: &Fault) -> Rooted {
    let mut graph = component_graph(run.topology, run.components);
    let fault_node = NodeIndex::new(run.components.len());
    let targets = fault_targets(run.topology, root);
    for t in &targets {
        if let Some(c) = run
            .components
            .iter()
            .position(|x| *x == Component::Service(*t))
        {
            graph.add_edge(fault_node, NodeIndex::new(c), ());
        }
    }
    let hops = petgraph::algo::dijkstra(&graph, fault_node, None, |_| 1u32);
    let distance = (0..=run.components.len())
        .map(|i| hops.get(&NodeIndex::new(i)).copied())
        .collect();
    Rooted {
        graph,
        fault_node,
        distance,
        targets,
    }
}

/// Ties in onset and distance: services before their pools, the entries
/// users see last.
fn kind_order(component: Component) -> u8 {
    match component {
        Component::Service(_) => 0,
        Component::Pool(_) => 1,
        Component::Entry(_) => 2,
        Component::Endpoint(_) => 3,
    }
}

/// The component graph: services linked along calls (and through queues),
/// pools to their caller and callee, entries to the service they enter.
fn component_graph(topology: &Topology, components: &[Component]) -> UnGraph<(), ()> {
    let mut graph = UnGraph::<(), ()>::with_capacity(components.len() + 1, 0);
    for _ in 0..=components.len() {
        graph.add_node(());
    }
    let find = |c: Component| components.iter().position(|x| *x == c);
    let link = |graph: &mut UnGraph<(), ()>, a: Component, b: Component| {
        if let (Some(a), Some(b)) = (find(a), find(b))
            && graph
                .find_edge(NodeIndex::new(a), NodeIndex::new(b))
                .is_none()
        {
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
    };
    let deps = crate::topology::graph::dependency_graph(topology);
    for edge in deps.raw_edges() {
        let (a, b) = (deps[edge.source()].0, deps[edge.target()].0);
        link(&mut graph, Component::Service(a), Component::Service(b));
    }
    for (g, group) in topology.pool_groups.iter().enumerate() {
        let pool = Component::Pool(g as u32);
        link(&mut graph, pool, Component::Service(group.caller.0));
        link(&mut graph, pool, Component::Service(group.callee.0));
    }
    for (w, workload) in topology.workloads.iter().enumerate() {
        let service = topology.endpoints[workload.endpoint.index()].service.0;
        link(
            &mut graph,
            Component::Entry(w as u32),
            Component::Service(service),
        );
    }
    graph
}

/// The chain in one line: `fault (kind on targets) 60.0 s → db saturated
/// 60.0 s → …`.
pub(super) fn text(chain: &[Step]) -> String {
    chain
        .iter()
        .map(|s| {
            if s.kind == StepKind::Fault {
                format!("{} ({}) {:.1} s", s.component, s.reason, s.onset_s)
            } else {
                format!("{} {} {:.1} s", s.component, s.reason, s.onset_s)
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}
