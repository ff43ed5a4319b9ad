//! What the engine measures in the open window, and the rows it hands the
//! observer when a window closes.
//!
//! The request path records into per-endpoint and per-workload `Outcomes`
//! and time-weighted `Level`s; services and pools are summed only at window
//! close, so each request is recorded once. With per-instance rows, each
//! instance also keeps a `Tally` and an `Occupancy` of its own.

use super::engine::Engine;
use crate::base::ids::InstanceId;
use crate::base::{ERROR_CLASSES, ErrorClass, Precision, SimTime};
use crate::components::instance::{InstanceState, Process};
use crate::observe::Observer;
use crate::observe::metrics::{InstanceStatus, Level, Occupancy, Outcomes, Row, ServiceQueueing};
use crate::topology::{Component, Topology, UNLIMITED_WORKERS};

#[derive(Debug)]
pub(super) struct Meters {
    /// Per workload, as its clients see it.
    pub(super) entry: Vec<Outcomes>,
    pub(super) endpoint: Vec<Outcomes>,
    /// Per service: queued and busy workers over its instances.
    pub(super) occupancy: Vec<Occupancy>,
    /// Per instance, when the run writes their rows (empty otherwise).
    pub(super) instance: Vec<InstanceMeter>,
    /// Per service, its queueing over the windows after the warm-up.
    pub(super) service_totals: Vec<ServiceQueueing>,
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
    pub(super) fn new(
        topo: &Topology,
        window: u64,
        per_instance: bool,
        precision: Precision,
    ) -> Self {
        let per = |n: usize| {
            (0..n)
                .map(|_| Outcomes::with_precision(precision))
                .collect::<Vec<_>>()
        };
        let services = topo.services.len();
        let groups = topo.pool_groups.len();
        Meters {
            entry: per(topo.workloads.len()),
            endpoint: per(topo.endpoints.len()),
            occupancy: vec![Occupancy::default(); services],
            instance: if per_instance {
                vec![InstanceMeter::default(); topo.instances.len()]
            } else {
                Vec::new()
            },
            service_totals: (0..services)
                .map(|_| ServiceQueueing::with_precision(precision))
                .collect(),
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

/// What one instance saw in the open window (per-instance rows).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct InstanceMeter {
    /// Requests that reached it (its balancer chose it, or a client or
    /// probe holding a connection to it sent them).
    pub(super) arrivals: u64,
    pub(super) ok: u64,
    pub(super) errors: [u64; ERROR_CLASSES],
    pub(super) occupancy: Occupancy,
}

/// What an instance was doing at `now`, most telling first: not part of the
/// fleet, gone, dead, paused, out of rotation, or serving.
fn status(state: &InstanceState, now: SimTime) -> InstanceStatus {
    if !state.provisioned {
        InstanceStatus::Spare
    } else if state.reachability() == Process::Unreachable {
        InstanceStatus::Unreachable
    } else if state.process == Process::Dead {
        InstanceStatus::Down
    } else if state.is_frozen(now) {
        InstanceStatus::Frozen
    } else if !state.routable {
        InstanceStatus::Ejected
    } else {
        InstanceStatus::Up
    }
}

impl<O: Observer> Engine<'_, O> {
    /// A request joined an instance's queue.
    #[inline(always)]
    pub(super) fn enqueued(&mut self, instance: InstanceId) {
        let service = self.topo.instances[instance].service;
        self.meters.occupancy[service].enqueue(self.now);
        if self.config.per_instance {
            self.meters.instance[instance.index()]
                .occupancy
                .enqueue(self.now);
        }
    }

    /// A request left an instance's queue (for a worker, or evicted).
    #[inline(always)]
    pub(super) fn dequeued(&mut self, instance: InstanceId) {
        let service = self.topo.instances[instance].service;
        self.meters.occupancy[service].dequeue(self.now);
        if self.config.per_instance {
            self.meters.instance[instance.index()]
                .occupancy
                .dequeue(self.now);
        }
    }

    /// A request reached an instance (per-instance rows only).
    #[inline(always)]
    pub(super) fn instance_arrival(&mut self, instance: InstanceId) {
        if self.config.per_instance {
            self.meters.instance[instance.index()].arrivals += 1;
        }
    }

    /// A request on an instance ended, or the instance turned it away
    /// (per-instance rows only).
    #[inline(always)]
    pub(super) fn instance_ended(&mut self, instance: InstanceId, error: Option<ErrorClass>) {
        if self.config.per_instance {
            let meter = &mut self.meters.instance[instance.index()];
            match error {
                None => meter.ok += 1,
                Some(class) => meter.errors[class as usize] += 1,
            }
        }
    }

    /// Closes the open window at `now`: one row per entry, service,
    /// endpoint, pool group and client group (last, so that the analysis
    /// can leave them out as a tail), handed to the observer; then opens
    /// the next.
    // Once per window: kept out of the loop it is called from.
    #[inline(never)]
    pub(super) fn on_window_end(&mut self) {
        // The guards read the window before it is reset; a trip acts once
        // the window is closed, at the instant the next one opens.
        let trip = self.watch_guards();
        let (start, end) = (self.meters.start, self.now);
        self.meters.rows.clear();
        self.close_entries(start, end);
        self.close_services(start, end);
        self.close_endpoints(start, end);
        self.close_pools(start, end);
        self.close_clients(start, end);
        if self.config.per_instance {
            self.close_instances(start, end);
        }
        self.observer.window(self.topo, &self.meters.rows);
        self.check_replica_lags();
        self.meters.start = end;
        self.meters.next_end = end + self.config.window;
        if let Some(trip) = trip {
            self.stop_experiment(trip);
        }
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
            let mut row = outcome_row(&mut self.observer, component, merged, start, end)
                .with_occupancy(self.meters.occupancy[s].close(end, start));
            let measured = start >= SimTime(self.config.warmup);
            if measured {
                let totals = &mut self.meters.service_totals[s];
                totals.waits.add(&merged.waits);
                let span = end - start;
                totals.in_system_area += row.in_system.0 * span as f64;
                totals.span += span;
                totals.in_system_max = totals.in_system_max.max(row.in_system.1);
            }
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
            row.capacity = if service.workers == UNLIMITED_WORKERS {
                0
            } else {
                // Only instances that can serve count: a dead process or
                // a lost zone takes its workers away until it is back.
                let up = ids.filter(|i| can_serve(&self.instances[*i])).count();
                service.workers as u64 * up as u64
            };
            self.meters.rows.push(row);
        }
    }

    /// One row per instance, in id order (a service's instances together).
    /// A queue service's waiting messages and deliveries are the broker's,
    /// on its service row only.
    fn close_instances(&mut self, start: SimTime, end: SimTime) {
        let topo = self.topo;
        for (i, meter) in self.meters.instance.iter_mut().enumerate() {
            let state = &self.instances[InstanceId(i as u32)];
            let mut row = Row::empty(start.ns(), end.ns(), Component::Instance(i as u32))
                .with_occupancy(meter.occupancy.close(end, start));
            row.arrivals = meter.arrivals;
            row.ok = meter.ok;
            row.errors = meter.errors;
            let workers = topo.services[topo.instances[i].service].workers;
            row.capacity = if workers == UNLIMITED_WORKERS || !can_serve(state) {
                0
            } else {
                workers as u64
            };
            row.status = Some(status(state, end));
            (meter.arrivals, meter.ok, meter.errors) = (0, 0, [0; ERROR_CLASSES]);
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

/// Whether an instance's workers count in its capacity: in the fleet, its
/// process running and its zone reachable.
fn can_serve(instance: &InstanceState) -> bool {
    instance.provisioned && instance.process == Process::Running && !instance.zone_down
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
