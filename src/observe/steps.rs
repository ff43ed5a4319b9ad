//! Every event the engine handles, for an observer that asks (`STEPS`):
//! what `faultline diff` walks two runs by, in lockstep, to find where they
//! part. Plain ids only; naming them is the reader's business.

use crate::base::ids::{ClientId, EndpointId, FaultId, InstanceId, ServiceId, WorkloadId};
use crate::faults::Fault;
use crate::topology::Topology;

/// One event the engine handled: its instant (ns), its stable word (the
/// word the trace digest folds in, see `sim::event`) and what it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub time: u64,
    pub word: u64,
    pub subject: Subject,
}

/// What an engine event is about, as far as a reader can name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Workload(WorkloadId),
    Fault(FaultId),
    Instance(InstanceId),
    Service(ServiceId),
    Client(ClientId),
    /// A queue's delivery of one of its endpoints.
    Queue {
        queue: ServiceId,
        endpoint: EndpointId,
    },
    /// A request executing an endpoint on an instance.
    Activation {
        endpoint: EndpointId,
        instance: InstanceId,
    },
    /// An event for an activation that has moved on (lazy cancellation):
    /// the engine drops it.
    Stale,
}

impl Subject {
    /// The component, as the run's files name it (`None` for a stale
    /// event, which is about nothing any more).
    pub fn component(&self, topology: &Topology, faults: &[Fault]) -> Option<String> {
        let instance = |i: InstanceId| topology.instances[i.index()].name.clone();
        Some(match *self {
            Subject::Workload(w) => topology.workloads[w.index()].name.clone(),
            Subject::Fault(f) => faults
                .get(f.0 as usize)
                .map_or_else(|| format!("fault {}", f.0), |f| f.name.clone()),
            Subject::Instance(i) => instance(i),
            Subject::Service(s) => topology.services[s.index()].name.clone(),
            Subject::Client(c) => topology
                .client_groups
                .iter()
                .find(|g| (g.first..g.first + g.count).contains(&c.0))
                .map_or_else(|| format!("client {}", c.0), |g| g.name.clone()),
            Subject::Queue { endpoint, .. } => {
                topology.endpoints[endpoint.index()].full_name.clone()
            }
            Subject::Activation {
                endpoint,
                instance: i,
            } => format!(
                "{} on {}",
                topology.endpoints[endpoint.index()].full_name,
                instance(i)
            ),
            Subject::Stale => return None,
        })
    }
}
