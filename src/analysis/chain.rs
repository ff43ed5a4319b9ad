//! The cascade chain: every fault as a root, then every episode of a
//! component out of its band, each linked to what explains it — a fault
//! acting on it at the time, or a neighbour already out of band — and
//! placed in time so that a link never comes before what it was reached
//! through.

use petgraph::graph::{NodeIndex, UnGraph};

use super::acts::Acts;
use super::judge::Judged;
use super::{Health, Run, Step, StepKind, in_chain, seconds};
use crate::topology::{Component, Topology};

/// Effects of a fault's end (hung connections reset when a zone comes back)
/// still belong to it for this many windows.
const GRACE_WINDOWS: usize = 2;
/// A component out of band before the neighbour that explains it shows it
/// (a caller times out before its callee's slow answers finish) is linked
/// to it when the neighbour follows within this many windows.
const LOOKAHEAD_WINDOWS: usize = 5;

/// The chain of a run with faults; empty without.
pub(super) fn cascade<O>(run: &Run<'_, O>, judged: &Judged, acts: &[Acts]) -> Vec<Step> {
    if run.faults.is_empty() {
        return Vec::new();
    }
    let graph = component_graph(run.topology, run.components);
    let targets: Vec<Vec<usize>> = run
        .faults
        .iter()
        .map(|f| {
            f.services(run.topology)
                .into_iter()
                .filter_map(|s| {
                    run.components
                        .iter()
                        .position(|c| *c == Component::Service(s))
                })
                .collect()
        })
        .collect();
    let distance = targets.iter().map(|t| hops_from(&graph, t)).collect();
    let cascade = Cascade {
        run,
        judged,
        acts,
        graph,
        targets,
        distance,
    };
    cascade.chain()
}

/// What linking the chain reads: the judged run, what the faults did, and
/// the component graph with every component's distance from each fault's
/// targets.
struct Cascade<'r, 'a, O> {
    run: &'r Run<'a, O>,
    judged: &'r Judged,
    acts: &'r [Acts],
    graph: UnGraph<(), ()>,
    targets: Vec<Vec<usize>>,
    /// `distance[f][c]`: edges from fault `f`'s targets to component `c`.
    distance: Vec<Vec<Option<u32>>>,
}

/// What explains an episode.
#[derive(Clone, Copy, PartialEq)]
enum Cause {
    Fault(usize),
    /// A link already placed, by index.
    Link(usize),
    /// A neighbour whose own episode shows only later: the component whose
    /// first link is not placed yet.
    Ahead(usize),
    Unexplained,
}

/// A component's episode placed in the chain.
struct Link {
    component: usize,
    /// The window it was first seen out of band in, and the window after
    /// its episode.
    window: usize,
    to: usize,
    cause: Cause,
    /// When it was hit (ns): not after it was seen, not before its cause.
    hit: u64,
    root: Option<usize>,
    depth: u32,
}

impl<O> Cascade<'_, '_, O> {
    fn chain(&self) -> Vec<Step> {
        let mut links: Vec<Link> = Vec::new();
        for (c, episode) in self.episodes() {
            let window = episode.from;
            let cause = self.cause(c, window, &links);
            if links.iter().any(|l| l.component == c) {
                // A component enters the chain again only when a new root
                // explains a later episode (a second fault on a component
                // the first one had disturbed).
                let root = match cause {
                    Cause::Fault(f) => Some(f),
                    Cause::Link(l) => links[l].root,
                    _ => None,
                };
                let before = links.iter().rev().find(|l| l.component == c);
                if root.is_none() || before.is_some_and(|l| l.root == root) {
                    continue;
                }
            }
            let seen = self.run.windows[window].0;
            let lag = self.judged.healths[c][window].1.map_or(0, |r| r.lag());
            let (hit, root, depth) = match cause {
                Cause::Fault(f) => {
                    let acted = self.acts[f].first.unwrap_or(self.run.faults[f].start);
                    (seen.saturating_sub(lag).max(acted), Some(f), 1)
                }
                Cause::Link(l) => (
                    seen.saturating_sub(lag).max(links[l].hit),
                    links[l].root,
                    links[l].depth + 1,
                ),
                Cause::Ahead(_) | Cause::Unexplained => (seen.saturating_sub(lag), None, 1),
            };
            links.push(Link {
                component: c,
                window,
                to: episode.to,
                cause,
                hit,
                root,
                depth,
            });
        }
        self.settle(&mut links);
        self.steps(&links)
    }

    /// Every component's episodes in the order they are linked: by window,
    /// then nearest a fault, services before pools before entries.
    fn episodes(&self) -> Vec<(usize, super::judge::Episode)> {
        let mut all: Vec<(usize, super::judge::Episode)> = (0..self.run.components.len())
            .filter(|c| in_chain(self.run.components[*c]))
            .flat_map(|c| {
                self.judged.episodes[c]
                    .iter()
                    .enumerate()
                    .filter(|(k, e)| *k == 0 || !e.blip)
                    .map(move |(_, e)| (c, *e))
            })
            .collect();
        all.sort_by_key(|(c, e)| {
            (
                e.from,
                self.near(*c, e.from).unwrap_or(u32::MAX),
                kind_order(self.run.components[*c]),
                *c,
            )
        });
        all
    }

    /// Whether fault `f` acts (or its end still echoes) in window `w`.
    fn active(&self, f: usize, w: usize) -> bool {
        let (from, to) = self.run.windows[w];
        let width = to - from;
        let echo = self.acts[f].until + width * GRACE_WINDOWS as u64;
        self.acts[f].first.is_some_and(|t| t < to) && echo > from
    }

    /// Hops to the nearest target of a fault active in window `w`.
    fn near(&self, c: usize, w: usize) -> Option<u32> {
        (0..self.run.faults.len())
            .filter(|f| self.active(*f, w))
            .filter_map(|f| self.distance[f][c])
            .min()
    }

    fn adjacent(&self, a: usize, b: usize) -> bool {
        self.graph
            .find_edge(NodeIndex::new(a), NodeIndex::new(b))
            .is_some()
    }

    /// What explains component `c` leaving its band in window `w`: a fault
    /// acting on it then (the latest to start, when several do); else an
    /// adjacent link still out of band, the nearest a fault first; else a
    /// neighbour nearer a fault that shows it within a few windows.
    fn cause(&self, c: usize, w: usize, links: &[Link]) -> Cause {
        if let Some(f) = (0..self.run.faults.len())
            .filter(|f| self.targets[*f].contains(&c) && self.active(*f, w))
            .max_by_key(|f| (self.acts[*f].first, *f))
        {
            return Cause::Fault(f);
        }
        let placed = links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.window <= w && w <= l.to && self.adjacent(l.component, c))
            .min_by_key(|(k, l)| (self.near(l.component, w).unwrap_or(u32::MAX), l.hit, *k));
        if let Some((k, _)) = placed {
            return Cause::Link(k);
        }
        // A neighbour nearer a fault that shows it later: within a few
        // windows, or with slow answers that started by then.
        let own = self.near(c, w).unwrap_or(u32::MAX);
        let end = self.run.windows[w].1;
        self.graph
            .neighbors(NodeIndex::new(c))
            .map(|n| n.index())
            .filter(|n| !links.iter().any(|l| l.component == *n))
            .filter_map(|n| {
                let onset = self.judged.onsets[n]?;
                let near = self.near(n, w)?;
                let began = self.run.windows[onset.window]
                    .0
                    .saturating_sub(onset.reason.lag());
                let soon = onset.window <= w + LOOKAHEAD_WINDOWS || began < end;
                (onset.window > w && soon && near < own).then_some((near, onset.window, n))
            })
            .min()
            .map_or(Cause::Unexplained, |(_, _, n)| Cause::Ahead(n))
    }

    /// Resolves the links to neighbours that showed later, and makes every
    /// link's time no earlier than its cause's and no later than what it
    /// explains: a component is hit before those it drags down, even when
    /// its own symptoms show later.
    fn settle(&self, links: &mut [Link]) {
        for k in 0..links.len() {
            if let Cause::Ahead(n) = links[k].cause {
                links[k].cause = links
                    .iter()
                    .position(|l| l.component == n)
                    .map_or(Cause::Unexplained, Cause::Link);
            }
        }
        // Nothing is hit before the first fault acted.
        let first = self.acts.iter().filter_map(|a| a.first).min().unwrap_or(0);
        let floor = |links: &[Link], k: usize| match links[k].cause {
            Cause::Fault(f) => self.acts[f].first.unwrap_or(first),
            Cause::Link(p) => links[p].hit,
            _ => first,
        };
        // A chain is a forest: as many passes as links settle it.
        for _ in 0..=links.len() {
            let mut changed = false;
            for k in 0..links.len() {
                let Cause::Link(p) = links[k].cause else {
                    continue;
                };
                let pulled = links[k].hit.max(floor(links, p));
                if links[p].hit > pulled {
                    links[p].hit = pulled;
                    changed = true;
                }
                if links[k].root != links[p].root || links[k].depth != links[p].depth + 1 {
                    links[k].root = links[p].root;
                    links[k].depth = links[p].depth + 1;
                    changed = true;
                }
            }
            for k in 0..links.len() {
                let floor = floor(links, k);
                if links[k].hit < floor {
                    links[k].hit = floor;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The faults and the links as steps, in time: a fault before what it
    /// hit, a link after what it was reached through.
    fn steps(&self, links: &[Link]) -> Vec<Step> {
        let run = self.run;
        let mut keyed: Vec<((u64, u32, u8, usize), Step)> = Vec::new();
        for (f, fault) in run.faults.iter().enumerate() {
            let acted = self.acts[f].first.unwrap_or(fault.start);
            let names: Vec<&str> = fault
                .services(run.topology)
                .into_iter()
                .map(|s| run.topology.services[s as usize].name.as_str())
                .collect();
            let mut reason = format!("{} on {}", fault.kind.name(), names.join(", "));
            if self.acts[f].first.is_none() {
                reason.push_str(", never acted");
            }
            let step = Step {
                component: fault.name.clone(),
                kind: StepKind::Fault,
                onset_s: seconds(acted),
                observed_s: seconds(acted),
                health: Health::Down,
                reason,
                via: None,
                distance: Some(0),
                root: None,
            };
            keyed.push(((acted, 0, 0, f), step));
        }
        for link in links {
            let c = link.component;
            let (health, reason) = self.judged.healths[c][link.window];
            let (name, kind) = run.topology.component_name(run.components[c]);
            let via = match link.cause {
                Cause::Fault(f) => Some(run.faults[f].name.clone()),
                Cause::Link(p) => Some(self.judged.reports[links[p].component].component.clone()),
                _ => None,
            };
            let step = Step {
                component: name,
                kind: StepKind::Component(kind),
                onset_s: seconds(link.hit),
                observed_s: seconds(run.windows[link.window].0),
                health,
                reason: reason.map(|r| r.to_string()).unwrap_or_default(),
                via,
                distance: link.root.and_then(|f| self.distance[f][c]),
                root: link.root.map(|f| run.faults[f].name.clone()),
            };
            let tie = kind_order(run.components[c]);
            keyed.push(((link.hit, link.depth, tie, c), step));
        }
        keyed.sort_by_key(|(key, _)| *key);
        keyed.into_iter().map(|(_, step)| step).collect()
    }
}

/// Edges from the nearest of `sources` to each component; `None` where
/// none reaches.
fn hops_from(graph: &UnGraph<(), ()>, sources: &[usize]) -> Vec<Option<u32>> {
    let mut distance = vec![None; graph.node_count()];
    let mut frontier: Vec<usize> = sources.to_vec();
    for s in sources {
        distance[*s] = Some(0);
    }
    let mut d = 0;
    while !frontier.is_empty() {
        d += 1;
        let mut next = Vec::new();
        for node in frontier {
            for m in graph.neighbors(NodeIndex::new(node)) {
                if distance[m.index()].is_none() {
                    distance[m.index()] = Some(d);
                    next.push(m.index());
                }
            }
        }
        next.sort_unstable();
        frontier = next;
    }
    distance
}

/// Ties in time and depth: services before their pools, the entries users
/// see last.
fn kind_order(component: Component) -> u8 {
    match component {
        Component::Service(_) => 0,
        Component::Pool(_) => 1,
        Component::Entry(_) => 2,
        Component::Endpoint(_) => 3,
        Component::Clients(_) | Component::Instance(_) => 4,
    }
}

/// The component graph: services linked along calls (and through queues),
/// pools to their caller and callee, entries to the service they enter.
fn component_graph(topology: &Topology, components: &[Component]) -> UnGraph<(), ()> {
    let mut graph = UnGraph::<(), ()>::with_capacity(components.len(), 0);
    for _ in 0..components.len() {
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
