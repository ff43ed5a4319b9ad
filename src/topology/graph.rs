//! The service dependency graph (petgraph), derived from the endpoint calls,
//! and its renderings for `faultline graph`.

use std::fmt::Write;

use petgraph::graph::{DiGraph, NodeIndex};

use super::ServiceKind;
use super::{ServiceId, Topology};

/// Services as nodes; one edge per (caller, callee) pair, labelled with the
/// endpoint calls it carries, in model order.
pub fn dependency_graph(topology: &Topology) -> DiGraph<ServiceId, Vec<String>> {
    let mut graph: DiGraph<ServiceId, Vec<String>> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..topology.services.len())
        .map(|s| graph.add_node(ServiceId(s as u32)))
        .collect();
    let link = |graph: &mut DiGraph<ServiceId, Vec<String>>, from, to, label: String| match graph
        .find_edge(from, to)
    {
        Some(edge) => graph[edge].push(label),
        None => {
            graph.add_edge(from, to, vec![label]);
        }
    };
    for call in &topology.calls {
        let from = nodes[topology.endpoints[call.from.index()].service.index()];
        let to = nodes[call.to_service.index()];
        let label = format!(
            "{} → {}",
            topology.endpoints[call.from.index()].name,
            topology.endpoints[call.to.index()].name
        );
        link(&mut graph, from, to, label);
        // A call that falls back to a queue: the caller enqueues, the
        // queue's consumer delivers.
        if let super::Fallback::Enqueue(queue) = call.fallback {
            let q = nodes[queue.index()];
            let callee = &topology.endpoints[call.to.index()].name;
            link(&mut graph, from, q, format!("enqueue {callee}"));
            link(&mut graph, q, to, format!("deliver → {callee}"));
        }
    }
    graph
}

fn service_label(topology: &Topology, id: ServiceId) -> String {
    let service = &topology.services[id.index()];
    let workers = if service.workers == super::UNLIMITED_WORKERS {
        "unlimited".to_string()
    } else {
        service.workers.to_string()
    };
    format!(
        "{}\\n{} × {} workers",
        service.name,
        service.instances.len(),
        workers
    )
}

/// Graphviz DOT.
pub fn to_dot(topology: &Topology) -> String {
    let graph = dependency_graph(topology);
    let mut out = String::new();
    writeln!(out, "digraph \"{}\" {{", topology.name).unwrap();
    writeln!(out, "  rankdir=LR;").unwrap();
    writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    )
    .unwrap();
    for node in graph.node_indices() {
        let id = graph[node];
        let service = &topology.services[id.index()];
        let shape = match service.kind {
            ServiceKind::Database => ", shape=cylinder",
            ServiceKind::Cache => ", shape=box3d",
            ServiceKind::External => ", style=dashed",
            ServiceKind::Queue => ", shape=cds",
            ServiceKind::Service => "",
        };
        writeln!(
            out,
            "  \"{}\" [label=\"{}\"{shape}];",
            service.name,
            service_label(topology, id)
        )
        .unwrap();
    }
    for workload in &topology.workloads {
        let service = topology.endpoints[workload.endpoint.index()].service;
        writeln!(
            out,
            "  \"workload:{}\" [label=\"{}\", shape=plaintext];\n  \"workload:{}\" -> \"{}\";",
            workload.name,
            workload.name,
            workload.name,
            topology.services[service.index()].name
        )
        .unwrap();
    }
    for edge in graph.edge_indices() {
        let (a, b) = graph.edge_endpoints(edge).unwrap();
        writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"];",
            topology.services[graph[a].index()].name,
            topology.services[graph[b].index()].name,
            graph[edge].join("\\n")
        )
        .unwrap();
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart, for Markdown design docs.
pub fn to_mermaid(topology: &Topology) -> String {
    let graph = dependency_graph(topology);
    let mut out = String::from("flowchart LR\n");
    let node_id = |id: ServiceId| format!("s{}", id.0);
    for node in graph.node_indices() {
        let id = graph[node];
        let service = &topology.services[id.index()];
        let label = service_label(topology, id).replace("\\n", "<br/>");
        let (open, close) = match service.kind {
            ServiceKind::Database => ("[(", ")]"),
            ServiceKind::Cache => ("[[", "]]"),
            ServiceKind::External => ("{{", "}}"),
            ServiceKind::Queue => ("[/", "/]"),
            ServiceKind::Service => ("[", "]"),
        };
        writeln!(out, "  {}{open}\"{label}\"{close}", node_id(id)).unwrap();
    }
    for (w, workload) in topology.workloads.iter().enumerate() {
        let service = topology.endpoints[workload.endpoint.index()].service;
        writeln!(
            out,
            "  w{w}((\"{}\")) --> {}",
            workload.name,
            node_id(service)
        )
        .unwrap();
    }
    for edge in graph.edge_indices() {
        let (a, b) = graph.edge_endpoints(edge).unwrap();
        writeln!(
            out,
            "  {} -->|\"{}\"| {}",
            node_id(graph[a]),
            graph[edge].join("<br/>"),
            node_id(graph[b])
        )
        .unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Source;

    #[test]
    fn an_enqueue_fallback_draws_the_queue_between_caller_and_callee() {
        let text = r#"{"name": "m", "zones": ["z"], "services": {
            "orders": {"workers": 4, "endpoints": {"create": {"work": {"constant": "1ms"},
              "calls": {"charge": {"to": "payment.charge", "fallback": {"enqueue": "jobs"}}}}}},
            "payment": {"workers": 4, "endpoints": {"charge": {"work": {"constant": "1ms"}}}},
            "jobs": {"kind": "queue", "consumer": {"concurrency": 1, "timeout": "1s"}, "endpoints": {}}},
            "workload": {"w": {"endpoint": "orders.create", "rate": "1/s"}}}"#;
        let topology = Topology::from_source(&Source {
            path: "m.json".into(),
            text: text.into(),
        })
        .unwrap();
        let dot = to_dot(&topology);
        assert!(dot.contains(r#""orders" -> "payment""#), "{dot}");
        assert!(
            dot.contains(r#""orders" -> "jobs" [label="enqueue charge"]"#),
            "{dot}"
        );
        assert!(
            dot.contains(r#""jobs" -> "payment" [label="deliver → charge"]"#),
            "{dot}"
        );
    }
}
