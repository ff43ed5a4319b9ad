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
    let Rooted {
        graph,
        fault_node,
        distance,
        targets,
    } = root_graph(run, root);
    let n = run.components.len();
    // A target is hit the instant its fault starts; its symptoms may show
    // only later (a slowed request is measured when it finishes), so once
    // they show, it is placed at the fault's start.
    let hit = |c: usize| {
        let observed = judged.onsets[c].map(|o| o.window);
        match (
            graph.find_edge(fault_node, NodeIndex::new(c)),
            run.fault_window,
        ) {
            (Some(_), Some(start)) => observed.map(|_| start),
            _ => observed,
        }
    };
    let hops = |c: usize| distance[c];
    let mut order: Vec<usize> = (0..n)
        .filter(|c| in_chain(run.components[*c]) && judged.onsets[*c].is_some())
        .collect();
    order.sort_by_key(|c| {
        (
            hit(*c),
            hops(*c).unwrap_or(u32::MAX),
            kind_order(run.components[*c]),
            *c,
        )
    });
    let targets_named: Vec<String> = targets
        .iter()
        .map(|s| run.topology.services[*s as usize].name.clone())
        .collect();
    let mut chain = vec![Step {
        component: root.name.clone(),
        kind: StepKind::Fault,
        onset_s: seconds(root.start),
        observed_s: seconds(root.start),
        health: Health::Down,
        reason: format!("{} on {}", root.kind.name(), targets_named.join(", ")),
        via: None,
        distance: Some(0),
    }];
    let mut placed: Vec<usize> = Vec::new();
    for c in order {
        let onset = judged.onsets[c].expect("ordered by onset");
        let node = NodeIndex::new(c);
        // The neighbour it was reached through: an adjacent component
        // already degraded, the earliest first (the fault itself for its
        // targets).
        let via = if graph.find_edge(fault_node, node).is_some() {
            Some(root.name.clone())
        } else {
            placed
                .iter()
                .filter(|p| graph.find_edge(NodeIndex::new(**p), node).is_some())
                .min_by_key(|p| (hit(**p), hops(**p)))
                .map(|p| judged.reports[*p].component.clone())
                .or_else(|| {
                    // Its symptoms showed before its neighbour's did: it was
                    // reached along the shortest path from the fault.
                    let own = hops(c)?;
                    graph
                        .neighbors(node)
                        .filter(|m| m.index() < n)
                        .filter_map(|m| distance[m.index()].map(|d| (d, m.index())))
                        .filter(|(d, _)| *d < own)
                        .min()
                        .map(|(_, m)| judged.reports[m].component.clone())
                })
        };
        let (name, kind) = run.topology.component_name(run.components[c]);
        chain.push(Step {
            component: name,
            kind: StepKind::Component(kind),
            onset_s: seconds(run.windows[hit(c).expect("has an onset")].0),
            observed_s: seconds(run.windows[onset.window].0),
            health: onset.health,
            reason: onset.reason.to_string(),
            via,
            distance: hops(c),
        });
        placed.push(c);
    }
    chain
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
