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
use crate::components::retry;
use crate::components::work;
use crate::observe::Observer;
use crate::observe::trace::{Origin, Traced};

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Client {
    /// The instance it is connected to.
    instance: Option<InstanceId>,
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
        if let Err(class) = self.dispatch(connect, Parent::Client(client)) {
            if O::TRACES {
                self.trace_rejected(client, connect, class);
            }
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
            Err(ErrorClass::Refused) => self.disconnect(client),
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
                c.instance = Some(instance);
                c.attempts = 0;
                c.last_backoff = 0;
                c.session += 1;
                self.schedule_request(client);
            }
            (true, Outcome::Err(_)) => self.schedule_reconnect(client),
            (false, Outcome::Err(ErrorClass::Refused)) => self.disconnect(client),
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
        if self.clients.is_empty() {
            return;
        }
        for client in (0..self.clients.len() as u32).map(ClientId) {
            if self.clients[client].instance == Some(instance) {
                self.disconnect(client);
            }
        }
    }

    fn disconnect(&mut self, client: ClientId) {
        if self.clients[client].instance.is_none() {
            return;
        }
        self.clients[client].instance = None;
        self.schedule_reconnect(client);
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
