//! The endpoint call graph must be acyclic: a request that calls back into
//! its own chain never finishes. Checked on the calls as resolved, so that
//! a cycle is named by the endpoints a request would pass.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::{Call, Endpoint, Service};
use crate::error::{JsonPath, Problem};

/// One problem per cycle, at the endpoint it is first found from, naming
/// the endpoints along it. Node `k` is endpoint `k` and the edges are the
/// calls in the model's order, so the cycles and their order depend on the
/// file alone.
pub(super) fn endpoint_cycles(
    services: &[Service],
    endpoints: &[Endpoint],
    calls: &[Call],
) -> Vec<Problem> {
    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(endpoints.len(), calls.len());
    for _ in endpoints {
        graph.add_node(());
    }
    for call in calls {
        graph.add_edge(
            NodeIndex::new(call.from.index()),
            NodeIndex::new(call.to.index()),
            (),
        );
    }
    let mut problems = Vec::new();
    for component in tarjan_scc(&graph) {
        let Some(&first) = component.first() else {
            continue;
        };
        let is_cycle = component.len() > 1 || graph.contains_edge(first, first);
        if !is_cycle {
            continue;
        }
        // Walk the cycle inside the component from its first node, so the
        // message reads as the path a request would take.
        let mut order = vec![first];
        let mut current = first;
        loop {
            let next = graph
                .neighbors(current)
                .find(|n| component.contains(n) && (!order.contains(n) || *n == first));
            match next {
                Some(n) if n == first => break,
                Some(n) => {
                    order.push(n);
                    current = n;
                }
                None => break,
            }
        }
        let names: Vec<&str> = order
            .iter()
            .map(|n| endpoints[n.index()].full_name.as_str())
            .collect();
        let start = &endpoints[first.index()];
        let path = JsonPath::root()
            .key("services")
            .key(&services[start.service.index()].name)
            .key("endpoints")
            .key(&start.name);
        problems.push(
            Problem::new(
                path,
                format!(
                    "the call graph has a cycle: {} → {}",
                    names.join(" → "),
                    start.full_name
                ),
            )
            .with_suggestion(Some(
                "a request that calls back into its own chain never finishes; break the cycle"
                    .into(),
            )),
        );
    }
    problems
}
