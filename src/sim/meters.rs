//! What the engine measures in the open window, and the rows it hands the
//! observer when a window closes.
//!
//! The request path records into per-endpoint and per-workload `Outcomes`
//! and time-weighted `Level`s; services and pools are summed only at window
//! close, so each request is recorded once.

use super::engine::Engine;
use crate::base::ids::InstanceId;
use crate::base::{ErrorClass, SimTime};
use crate::components::instance::Process;
use crate::observe::Observer;
use crate::observe::metrics::{Level, Outcomes, Row};
use crate::topology::{Component, Topology, UNLIMITED_WORKERS};

#[derive(Debug)]
pub(super) struct Meters {
    /// Per workload, as its clients see it.
    pub(super) entry: Vec<Outcomes>,
    pub(super) endpoint: Vec<Outcomes>,
    /// Per service: queued and busy workers over its instances.
    pub(super) queued: Vec<Level>,
    pub(super) busy: Vec<Level>,
    /// Per pool group.
    pub(super) pool_in_use: Vec<Level>,
    pub(super) pool_waiting: Vec<Level>,
    pub(super) pool_refused: Vec<u64>,
    /// Per workload, the requests that arrived after the warm-up, each
    /// counted once when it ends (the rows count what ended in a window).
    pub(super) entry_totals: Vec<Outcomes>,
    /// Per client group: connect attempts as its clients see them
    /// (`arrivals`, `ok`, failures by class, latency of the handshake;
    /// `retries`: attempts after a lost connection), and how many are
    /// connected.
    pub(super) clients: Vec<Outcomes>,
    pub(super) connected: Vec<Level>,
    /// Per client group, over the whole run.
    pub(super) client_totals: Vec<super::clients::ClientTotals>,
    /// Scratch for merging a service's endpoints at window close.
    service: Vec<Outcomes>,
    rows: Vec<Row>,
    start: SimTime,
    /// When the open window closes.
    pub(super) next_end: SimTime,
}

impl Meters {
    pub(super) fn new(topo: &Topology, window: u64) -> Self {
        let per = |n: usize| (0..n).map(|_| Outcomes::default()).collect::<Vec<_>>();
        let services = topo.services.len();
        let groups = topo.pool_groups.len();
        Meters {
            entry: per(topo.workloads.len()),
            endpoint: per(topo.endpoints.len()),
            queued: vec![Level::default(); services],
            busy: vec![Level::default(); services],
            pool_in_use: vec![Level::default(); groups],
            pool_waiting: vec![Level::default(); groups],
            pool_refused: vec![0; groups],
            entry_totals: per(topo.workloads.len()),
            clients: per(topo.client_groups.len()),
            connected: vec![Level::default(); topo.client_groups.len()],
            client_totals: topo
                .client_groups
                .iter()
                .map(|g| super::clients::ClientTotals::new(g.count))
                .collect(),
            service: per(services),
            rows: Vec::new(),
            start: SimTime::ZERO,
            next_end: SimTime(window),
        }
    }
}

impl<O: Observer> Engine<'_, O> {
    /// Closes the open window at `now`: one row per entry, service,
    /// endpoint, pool group and client group (last, so that the analysis
    /// can leave them out as a tail), handed to the observer; then opens
    /// the next.
    pub(super) fn on_window_end(&mut self) {
        let (start, end) = (self.meters.start, self.now);
        self.meters.rows.clear();
        self.close_entries(start, end);
        self.close_services(start, end);
        self.close_endpoints(start, end);
        self.close_pools(start, end);
        self.close_clients(start, end);
        self.observer.window(self.topo, &self.meters.rows);
        self.meters.start = end;
        self.meters.next_end = end + self.config.window;
    }

    fn close_entries(&mut self, start: SimTime, end: SimTime) {
        let m = &mut self.meters;
        for (w, outcomes) in m.entry.iter_mut().enumerate() {
            let component = Component::Entry(w as u32);
            m.rows.push(outcome_row(
                &mut self.observer,
                component,
                outcomes,
                start,
                end,
            ));
            outcomes.reset();
        }
    }

    fn close_services(&mut self, start: SimTime, end: SimTime) {
        let topo = self.topo;
        for (s, service) in topo.services.iter().enumerate() {
            let component = Component::Service(s as u32);
            let merged = &mut self.meters.service[s];
            for e in service.endpoints.clone() {
                merged.add(&self.meters.endpoint[e as usize]);
            }
            let mut row = outcome_row(&mut self.observer, component, merged, start, end);
            merged.reset();
            let ids = service.instances.clone().map(InstanceId);
            if service.memory.is_some() {
                row.memory_max = ids
                    .clone()
                    .filter(|i| self.instances[*i].process == Process::Running)
                    .map(|i| self.memory_of(i) as u64)
                    .max()
                    .unwrap_or(0);
            }
            row.queue = self.meters.queued[s].close(end, start);
            row.busy = self.meters.busy[s].close(end, start);
            row.capacity = if service.workers == UNLIMITED_WORKERS {
                0
            } else {
                // Only instances that can serve count: a dead process or
                // a lost zone takes its workers away until it is back.
                let up = ids
                    .filter(|i| {
                        let instance = &self.instances[*i];
                        instance.provisioned
                            && instance.process == Process::Running
                            && !instance.zone_down
                    })
                    .count();
                service.workers as u64 * up as u64
            };
            self.meters.rows.push(row);
        }
    }

    fn close_endpoints(&mut self, start: SimTime, end: SimTime) {
        let m = &mut self.meters;
        for (e, outcomes) in m.endpoint.iter_mut().enumerate() {
            let component = Component::Endpoint(e as u32);
            m.rows.push(outcome_row(
                &mut self.observer,
                component,
                outcomes,
                start,
                end,
            ));
            outcomes.reset();
        }
    }

    fn close_pools(&mut self, start: SimTime, end: SimTime) {
        let topo = self.topo;
        let m = &mut self.meters;
        for (g, group) in topo.pool_groups.iter().enumerate() {
            let mut row = Row::empty(start.ns(), end.ns(), Component::Pool(g as u32));
            row.in_use = m.pool_in_use[g].close(end, start);
            row.waiters = m.pool_waiting[g].close(end, start);
            row.errors[ErrorClass::PoolExhausted as usize] = std::mem::take(&mut m.pool_refused[g]);
            let callers = topo.services[group.caller].instances.len() as u64;
            row.capacity = group.size as u64 * callers;
            m.rows.push(row);
        }
    }
}

impl<O: Observer> Engine<'_, O> {
    fn close_clients(&mut self, start: SimTime, end: SimTime) {
        let m = &mut self.meters;
        for (g, group) in self.topo.client_groups.iter().enumerate() {
            let component = Component::Clients(g as u32);
            let outcomes = &mut m.clients[g];
            let mut row = outcome_row(&mut self.observer, component, outcomes, start, end);
            outcomes.reset();
            row.in_use = m.connected[g].close(end, start);
            row.capacity = group.count as u64;
            m.rows.push(row);
        }
    }
}

/// A component's row of the window from its outcomes, its latencies handed
/// to the observer on the way (for histograms over the run).
fn outcome_row<O: Observer>(
    observer: &mut O,
    component: Component,
    outcomes: &Outcomes,
    start: SimTime,
    end: SimTime,
) -> Row {
    if !outcomes.latency.is_empty() || !outcomes.failed.is_empty() {
        observer.latencies(component, &outcomes.latency, &outcomes.failed);
    }
    Row::empty(start.ns(), end.ns(), component).with_outcomes(outcomes)
}
