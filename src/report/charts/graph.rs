//! The architecture, entries on the left, each part coloured by the state
//! it held for a sustained part of the fault window (`data::sustained`),
//! not by its worst window: a zone outage the design rides out at 98.9 %
//! leaves its services light, with the seconds they spent out of band
//! written beneath their names and shown in a bar.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    Chart, DEGRADED, DOWN, Drawn, FONT, HEADING, HEALTHY, Mark, err, heading, health_colour,
    legend_row, run_subtitle,
};
use crate::analysis::Health;
use crate::report::axis;
use crate::report::data::{RunData, SUSTAINED_SHARE, Sustained};

/// The architecture, entries on the left, each component coloured by its
/// sustained state.
pub struct DependencyGraph<'a> {
    pub data: &'a RunData,
}

/// An edge of the drawn graph, by node index. `back`: it closes a loop
/// (services that call each other, or a service calling itself), so it
/// runs against the left-to-right flow and is drawn beneath the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub back: bool,
}

/// Nodes (name, layer) and edges.
pub type Layout = (Vec<(String, usize)>, Vec<Edge>);

/// Node names and their layer, edges by index. Loops are legitimate (a
/// service's endpoints may call each other, two services may call each
/// other), so the layering is Sugiyama's: a depth-first search from the
/// entries marks the edges that close a loop, and each node's layer is its
/// longest path from an entry over the others, which form a DAG.
pub fn layout(data: &RunData) -> Layout {
    use petgraph::graph::{DiGraph, NodeIndex};
    use petgraph::visit::{DfsEvent, depth_first_search};

    let mut names: Vec<String> = Vec::new();
    let index = |name: &str, names: &mut Vec<String>| match names.iter().position(|n| n == name) {
        Some(k) => k,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    };
    let mut pairs = Vec::new();
    for d in &data.analysis.dependencies {
        let from = index(&d.from, &mut names);
        let to = index(&d.to, &mut names);
        pairs.push((from, to));
    }
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = names.iter().map(|_| graph.add_node(())).collect();
    for (a, b) in &pairs {
        graph.add_edge(nodes[*a], nodes[*b], ());
    }
    // Entries come first among the names (the dependencies list them
    // first), so the search starts from them.
    let mut back = Vec::new();
    depth_first_search(&graph, nodes.iter().copied(), |event| {
        if let DfsEvent::BackEdge(a, b) = event {
            back.push((a.index(), b.index()));
        }
    });
    let edges: Vec<Edge> = pairs
        .iter()
        .map(|&(from, to)| Edge {
            from,
            to,
            back: back.contains(&(from, to)),
        })
        .collect();
    // Longest path by relaxation over the forward edges: acyclic, so n
    // rounds do.
    let mut layer = vec![0usize; names.len()];
    for _ in 0..names.len() {
        for e in edges.iter().filter(|e| !e.back) {
            layer[e.to] = layer[e.to].max(layer[e.from] + 1);
        }
    }
    (names.into_iter().zip(layer).collect(), edges)
}

const LEGEND: i32 = 24;
const NODE_W: i32 = 190;
const NODE_H: i32 = 50;
const LAYER_GAP: i32 = 90;
const ROW_GAP: i32 = 30;

impl Chart for DependencyGraph<'_> {
    fn size(&self) -> (u32, u32) {
        let (nodes, edges) = layout(self.data);
        // Loops run beneath the nodes.
        let loops = if edges.iter().any(|e| e.back) { 20 } else { 0 };
        let layers = nodes.iter().map(|n| n.1).max().unwrap_or(0) as i32 + 1;
        let tallest = (0..layers as usize)
            .map(|l| nodes.iter().filter(|n| n.1 == l).count())
            .max()
            .unwrap_or(1) as i32;
        (
            (40 + layers * (NODE_W + LAYER_GAP)).max(960) as u32,
            (HEADING as i32 + LEGEND + 16 + loops + tallest * (NODE_H + ROW_GAP)) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (nodes, edges) = layout(self.data);
        let period = self.data.judged_period();
        heading(
            root,
            "The architecture, coloured by the state each part held",
            &format!(
                "{} · a state counts when held for {} % of the fault window ({} s){}",
                run_subtitle(self.data),
                axis::trim_number(SUSTAINED_SHARE * 100.0),
                axis::trim_number(period.base_s),
                if self.data.faults().is_empty() {
                    ", here the run after the warm-up"
                } else {
                    ""
                }
            ),
        )?;
        legend_row(
            root,
            &[
                (Mark::Box(HEALTHY), "healthy".to_string()),
                (Mark::Box(DEGRADED), "degraded".to_string()),
                (Mark::Box(DOWN), "down".to_string()),
                (
                    Mark::Line(DOWN, 4),
                    "bar: share of the fault window down, then degraded".to_string(),
                ),
            ],
            (10, HEADING as i32),
            900,
            12,
        )?;
        let mut slot = vec![0i32; nodes.len()];
        let mut position = Vec::with_capacity(nodes.len());
        for (_, layer) in &nodes {
            let row = slot[*layer];
            slot[*layer] += 1;
            position.push((
                20 + *layer as i32 * (NODE_W + LAYER_GAP),
                HEADING as i32 + LEGEND + 12 + row * (NODE_H + ROW_GAP),
            ));
        }
        for e in &edges {
            let (ax, ay) = position[e.from];
            let (bx, by) = position[e.to];
            let path = if e.back {
                // Against the flow: out of the caller's bottom, along under
                // both nodes, up into the callee's bottom.
                let below = ay.max(by) + NODE_H + 12;
                let (out_x, in_x) = (ax + 2 * NODE_W / 3, bx + NODE_W / 3);
                vec![
                    (out_x, ay + NODE_H),
                    (out_x, below),
                    (in_x, below),
                    (in_x, by + NODE_H),
                ]
            } else {
                vec![(ax + NODE_W, ay + NODE_H / 2), (bx, by + NODE_H / 2)]
            };
            let (from, to) = (path[path.len() - 2], path[path.len() - 1]);
            root.draw(&PathElement::new(path, BLACK.mix(0.6).stroke_width(1)))
                .map_err(err)?;
            // An arrowhead along the edge's last leg.
            let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ux, uy) = (dx / len, dy / len);
            let back = (to.0 as f64 - 10.0 * ux, to.1 as f64 - 10.0 * uy);
            let left = ((back.0 - 5.0 * uy) as i32, (back.1 + 5.0 * ux) as i32);
            let right = ((back.0 + 5.0 * uy) as i32, (back.1 - 5.0 * ux) as i32);
            root.draw(&Polygon::new(
                vec![to, left, right],
                BLACK.mix(0.6).filled(),
            ))
            .map_err(err)?;
        }
        for ((name, _), (x, y)) in nodes.iter().zip(&position) {
            let state = self.data.sustained(name);
            let fill = health_colour(state.health);
            root.draw(&Rectangle::new(
                [(*x, *y), (x + NODE_W, y + NODE_H)],
                fill.filled(),
            ))
            .map_err(err)?;
            root.draw(&Rectangle::new(
                [(*x, *y), (x + NODE_W, y + NODE_H)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(err)?;
            let ink = if state.health == Health::Down {
                WHITE
            } else {
                BLACK
            };
            root.draw(&Text::new(
                name.clone(),
                (x + 8, y + 6),
                (FONT, 14).into_font().color(&ink),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                describe(&state),
                (x + 8, y + 24),
                (FONT, 11).into_font().color(&ink),
            ))
            .map_err(err)?;
            share_bar(root, &state, period.base_s, (x + 1, y + NODE_H - 6))?;
        }
        Ok(())
    }
}

/// Under a node's name: its state, then the time out of band behind it
/// ("healthy: 2 s down, 6 s degraded" for an outage ridden out).
pub fn describe(s: &Sustained) -> String {
    let seconds = |v: f64| axis::trim_number((v * 10.0).round() / 10.0);
    let mut parts = Vec::new();
    if s.down_s > 0.0 {
        parts.push(format!("{} s down", seconds(s.down_s)));
    }
    if s.degraded_s > 0.0 {
        parts.push(format!("{} s degraded", seconds(s.degraded_s)));
    }
    if parts.is_empty() {
        format!("{} throughout", s.health)
    } else {
        format!("{}: {}", s.health, parts.join(", "))
    }
}

/// A bar along a node's foot: the share of the fault window it spent down
/// and degraded, so a brief blip reads as one.
fn share_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Sustained,
    base_s: f64,
    (x, y): (i32, i32),
) -> Drawn {
    let width = (NODE_W - 2) as f64;
    let px = |seconds: f64| {
        if base_s > 0.0 {
            (width * (seconds / base_s).min(1.0)).round() as i32
        } else {
            0
        }
    };
    let down = px(s.down_s);
    let degraded = px(s.degraded_s).min(width as i32 - down);
    root.draw(&Rectangle::new(
        [(x, y), (x + width as i32, y + 5)],
        WHITE.filled(),
    ))
    .map_err(err)?;
    if down > 0 {
        root.draw(&Rectangle::new([(x, y), (x + down, y + 5)], DOWN.filled()))
            .map_err(err)?;
    }
    if degraded > 0 {
        root.draw(&Rectangle::new(
            [(x + down, y), (x + down + degraded, y + 5)],
            DEGRADED.filled(),
        ))
        .map_err(err)?;
    }
    // Outlined, so a bar of the node's own colour still reads as a bar.
    root.draw(&Rectangle::new(
        [(x, y), (x + width as i32, y + 5)],
        BLACK.mix(0.6).stroke_width(1),
    ))
    .map_err(err)?;
    Ok(())
}
