//! Connected clients: closed-loop users that hold a connection to one
//! instance. When the instance dies they all lose it at once, and how they
//! reconnect (backoff, jitter) decides whether the survivors see a thundering
//! herd.

use rand_distr::{Distribution, Exp1};

use super::activation::Parent;
use super::engine::Engine;
use super::event::Event;
use crate::base::ids::{ClientId, EndpointId, InstanceId};
use crate::base::{ErrorClass, Outcome, SimTime};
use crate::components::instance::Process;
use crate::components::retry;
use crate::components::work;
use crate::observe::Observer;
use crate::observe::events::StateChange;
use crate::observe::trace::{Origin, Traced};

/// A client group's connections over the whole run, counted where the
/// connections are made and lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientTotals {
    pub clients: u32,
    /// Connected now (at the end, in a run's summary).
    pub connected: u32,
    /// Fewest connected at once after the first connection was lost.
    pub fewest_connected: u32,
    /// Connect attempts, first connections included.
    pub connect_attempts: u64,
    /// Connect attempts by clients that had been connected before: the
    /// reconnects a lost connection set off, failed ones included.
    pub reconnect_attempts: u64,
    pub connections_lost: u64,
    /// When the first connection was lost.
    pub first_lost: Option<SimTime>,
    /// When every client was connected again after the last lost
    /// connection; `None` while (or if, at the end) some are not.
    pub whole_again: Option<SimTime>,
    /// Reconnect attempts since the group was last whole.
    episode_attempts: u64,
    /// Clients that lost their connection when the dying instance's
    /// in-flight work was reset, just before `disconnect_clients` drops the
    /// rest: counted into its one event.
    lost_in_eviction: u32,
}

impl ClientTotals {
    pub(super) fn new(clients: u32) -> Self {
        ClientTotals {
            clients,
            connected: 0,
            fewest_connected: clients,
            connect_attempts: 0,
            reconnect_attempts: 0,
            connections_lost: 0,
            first_lost: None,
            whole_again: None,
            episode_attempts: 0,
            lost_in_eviction: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Client {
    /// The instance it is connected to.
    instance: Option<InstanceId>,
    /// When its connect attempt in flight began, for the handshake's
    /// latency as the client sees it.
    attempt_at: SimTime,
    /// Failed connection attempts since it was last connected.
    attempts: u32,
    last_backoff: u64,
    /// Moves on at every connection, so a request scheduled in an earlier
    /// one is dropped.
    session: u32,
}

impl<O: Observer> Engine<'_, O> {
    /// Clients connect at random over their first think time.
    pub(super) fn start_clients(&mut self) {
        for (g, group) in self.topo.client_groups.iter().enumerate() {
            for k in 0..group.count {
                let u: f64 = rand::RngExt::random(&mut self.streams.clients[g]);
                let at = work::nearest(u * group.think as f64);
                self.queue.schedule(
                    SimTime(at),
                    Event::ClientConnect {
                        client: ClientId(group.first + k),
                    },
                );
            }
        }
    }

    fn group_of(&self, client: ClientId) -> usize {
        self.topo
            .client_groups
            .iter()
            .position(|g| (g.first..g.first + g.count).contains(&client.0))
            .expect("every client belongs to a group")
    }

    pub(super) fn on_client_connect(&mut self, client: ClientId) {
        let g = self.group_of(client);
        let connect = self.topo.client_groups[g].connect;
        // A client that has had a session before is reconnecting.
        let again = self.clients[client].session > 0;
        self.clients[client].attempt_at = self.now;
        let (outcomes, totals) = (
            &mut self.meters.clients[g],
            &mut self.meters.client_totals[g],
        );
        outcomes.arrivals += 1;
        totals.connect_attempts += 1;
        if again {
            outcomes.retries += 1;
            totals.reconnect_attempts += 1;
            totals.episode_attempts += 1;
        }
        if let Err(class) = self.dispatch(connect, Parent::Client(client)) {
            if O::TRACES {
                self.trace_rejected(client, connect, class);
            }
            self.meters.clients[g].record_failure(class, 0);
            self.schedule_reconnect(client);
        }
    }

    pub(super) fn on_client_request(&mut self, client: ClientId, session: u32) {
        let c = self.clients[client];
        let Some(instance) = c.instance else {
            return;
        };
        if c.session != session {
            return;
        }
        let g = self.group_of(client);
        let request = self.topo.client_groups[g].request;
        // To the instance it is connected to: no balancer in between.
        self.meters.endpoint[request].arrivals += 1;
        let admitted = self.admit(request, instance, Parent::Client(client));
        if O::TRACES
            && let Err(class) = admitted
        {
            self.trace_rejected(client, request, class);
        }
        match admitted {
            Ok(_) => {}
            Err(ErrorClass::Refused) => {
                if self.disconnect(client, g) {
                    self.clients_lost(g, instance, 1);
                }
            }
            Err(_) => self.schedule_request(client),
        }
    }

    fn trace_rejected(&mut self, client: ClientId, endpoint: EndpointId, class: ErrorClass) {
        let origin = Origin::Client { client: client.0 };
        self.trace(Traced::Rejected {
            origin,
            endpoint: endpoint.0,
            class,
        });
    }

    /// An activation a client sent has ended.
    pub(super) fn client_answered(
        &mut self,
        client: ClientId,
        endpoint: EndpointId,
        instance: InstanceId,
        outcome: Outcome,
    ) {
        let g = self.group_of(client);
        let is_connect = self.topo.client_groups[g].connect == endpoint;
        match (is_connect, outcome) {
            (true, Outcome::Ok) => {
                let c = &mut self.clients[client];
                let was_connected = c.instance.is_some();
                let latency = self.now - c.attempt_at;
                c.instance = Some(instance);
                c.attempts = 0;
                c.last_backoff = 0;
                c.session += 1;
                self.meters.clients[g].record_ok(latency);
                if !was_connected {
                    self.connected(g);
                }
                self.schedule_request(client);
            }
            (true, Outcome::Err(class)) => {
                let latency = self.now - self.clients[client].attempt_at;
                self.meters.clients[g].record_failure(class, latency);
                self.schedule_reconnect(client);
            }
            (false, Outcome::Err(ErrorClass::Refused)) => {
                // Only the connection the answer came over is lost.
                if self.clients[client].instance == Some(instance) && self.disconnect(client, g) {
                    if self.instances[instance].process == Process::Dead {
                        // Reset by the instance's death: every process
                        // death evicts its work, then drops the clients
                        // still connected, and one event tells them all.
                        self.meters.client_totals[g].lost_in_eviction += 1;
                    } else {
                        self.clients_lost(g, instance, 1);
                    }
                }
            }
            // An answered request, or an application error: on to the next.
            (false, _) => {
                if self.clients[client].instance == Some(instance) {
                    self.schedule_request(client);
                }
            }
        }
    }

    /// Every client connected to a dead instance loses its connection.
    pub(super) fn disconnect_clients(&mut self, instance: InstanceId) {
        for g in 0..self.topo.client_groups.len() {
            let group = &self.topo.client_groups[g];
            let mut lost = std::mem::take(&mut self.meters.client_totals[g].lost_in_eviction);
            for client in (group.first..group.first + group.count).map(ClientId) {
                if self.clients[client].instance == Some(instance) && self.disconnect(client, g) {
                    lost += 1;
                }
            }
            if lost > 0 {
                self.clients_lost(g, instance, lost);
            }
        }
    }

    /// Drops `client`'s connection (of group `g`) and schedules its
    /// reconnect; false when it had none.
    fn disconnect(&mut self, client: ClientId, g: usize) -> bool {
        if self.clients[client].instance.is_none() {
            return false;
        }
        self.clients[client].instance = None;
        let now = self.now;
        self.meters.connected[g].sub(now, 1);
        let totals = &mut self.meters.client_totals[g];
        totals.connected -= 1;
        totals.fewest_connected = totals.fewest_connected.min(totals.connected);
        totals.connections_lost += 1;
        if totals.first_lost.is_none() {
            totals.first_lost = Some(now);
        }
        totals.whole_again = None;
        if totals.connected + 1 == totals.clients {
            // The group was whole: a new episode of reconnects begins.
            totals.episode_attempts = 0;
        }
        self.schedule_reconnect(client);
        true
    }

    /// `count` clients of group `g` lost their connections to `instance`.
    fn clients_lost(&mut self, g: usize, instance: InstanceId, count: u32) {
        self.state_change(StateChange::ClientsDisconnected {
            group: g as u32,
            instance: instance.0,
            count,
        });
    }

    /// A client of group `g` that had no connection has one now.
    fn connected(&mut self, g: usize) {
        self.meters.connected[g].add(self.now, 1);
        let totals = &mut self.meters.client_totals[g];
        totals.connected += 1;
        if totals.connected == totals.clients && totals.first_lost.is_some() {
            totals.whole_again = Some(self.now);
            let attempts = u32::try_from(totals.episode_attempts).unwrap_or(u32::MAX);
            self.state_change(StateChange::ClientsReconnected {
                group: g as u32,
                attempts,
            });
        }
    }

    fn schedule_request(&mut self, client: ClientId) {
        let g = self.group_of(client);
        let think = self.topo.client_groups[g].think as f64;
        let gap: f64 = Exp1.sample(&mut self.streams.clients[g]);
        let at = self.now + work::nearest(gap * think);
        let session = self.clients[client].session;
        self.queue
            .schedule(at, Event::ClientRequest { client, session });
    }

    fn schedule_reconnect(&mut self, client: ClientId) {
        let g = self.group_of(client);
        let policy = self.topo.client_groups[g].reconnect;
        let c = self.clients[client];
        let sleep = retry::backoff(
            &policy,
            c.attempts + 1,
            c.last_backoff,
            &mut self.streams.clients[g],
        );
        let c = &mut self.clients[client];
        c.attempts += 1;
        c.last_backoff = sleep;
        self.queue
            .schedule(self.now + sleep, Event::ClientConnect { client });
    }
}
