//! The request-level trace: what happened to each request of a time window,
//! hop by hop. The engine emits small `Copy` events only to observers that
//! ask for them (`Observer::TRACES`), so an ordinary run pays nothing; a
//! `Tracer` assembles them into one JSON line per hop (`trace.jsonl`).
//!
//! A hop is an activation: one endpoint executing on one instance. Slab
//! slots are reused, so an activation is named by its slot *and* the slot's
//! life; a call attempt is named by the caller's slot and the epoch it was
//! sent at (epochs only grow within a slot), which is how a callee finds the
//! attempt that created it even when it lands after its caller gave up.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::Observer;
use super::events::StateEvent;
use super::latencies::Latencies;
use super::metrics::Row;
use crate::base::ErrorClass;
use crate::topology::Component;
use crate::topology::Topology;

/// One activation over the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActivationId {
    pub slot: u32,
    pub life: u32,
}

impl ActivationId {
    fn render(self) -> String {
        format!("{}.{}", self.slot, self.life)
    }
}

/// Who a new activation works for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A client of an open-loop workload.
    Entry { workload: u32 },
    /// A connected (closed-loop) client.
    Client { client: u32 },
    /// The consumer of a queue service.
    Consumer { queue: u32 },
    /// A load balancer's health probe.
    Probe,
    /// A call attempt of another activation, sent from `slot` at `epoch`.
    Call { slot: u32, epoch: u32 },
}

/// A fallback that let an activation go on without its call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallbackTaken {
    Degraded,
    Enqueued,
}

impl FallbackTaken {
    fn name(self) -> &'static str {
        match self {
            FallbackTaken::Degraded => "degraded",
            FallbackTaken::Enqueued => "enqueued",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traced {
    /// A request reached an instance (queued, started or swallowed).
    Admitted {
        id: ActivationId,
        origin: Origin,
        endpoint: u32,
        instance: u32,
    },
    /// A request from outside (entry, client, consumer) was turned away
    /// before any activation existed.
    Rejected {
        origin: Origin,
        endpoint: u32,
        class: ErrorClass,
    },
    /// It took a worker.
    Started { id: ActivationId },
    /// An attempt (1-based) of one of its calls begins: breaker, pool, send.
    Attempt {
        id: ActivationId,
        call: u32,
        attempt: u32,
    },
    /// The current attempt left for the callee.
    Sent { id: ActivationId, epoch: u32 },
    /// The current attempt was answered successfully.
    Answered { id: ActivationId },
    /// The current attempt failed with the class its caller saw.
    Failed { id: ActivationId, class: ErrorClass },
    /// The failed attempt will be retried after this sleep (ns).
    Backoff { id: ActivationId, sleep: u64 },
    /// The failed call was given up and its fallback taken.
    Fallback {
        id: ActivationId,
        kind: FallbackTaken,
    },
    /// Its client (or a queue's consumer) stopped waiting for it.
    GaveUp { id: ActivationId },
    /// It ended; `error` is `None` for success.
    Completed {
        id: ActivationId,
        error: Option<ErrorClass>,
        degraded: bool,
    },
}

/// A traced happening at a virtual time (ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    pub time: u64,
    pub what: Traced,
}

#[derive(Clone, Debug)]
struct Attempt {
    call: u32,
    attempt: u32,
    sent: Option<u64>,
    answered: Option<u64>,
    /// `None` while waiting; `Some(None)` answered ok.
    outcome: Option<Option<ErrorClass>>,
    callee: Option<ActivationId>,
    backoff: Option<u64>,
    fallback: Option<FallbackTaken>,
}

#[derive(Clone, Debug)]
struct Hop {
    request: u64,
    /// Set on the first hop of a request only.
    origin: Option<Origin>,
    /// `None` for a request turned away before it had an activation.
    id: Option<ActivationId>,
    parent: Option<ActivationId>,
    endpoint: u32,
    instance: Option<u32>,
    arrived: u64,
    started: Option<u64>,
    finished: Option<u64>,
    /// `None` while in flight; `Some(None)` ok.
    outcome: Option<Option<ErrorClass>>,
    degraded: bool,
    gave_up: Option<u64>,
    attempts: Vec<Attempt>,
}

/// Collects the hops of the requests that arrive in `[from, to)` (with all
/// their descendants, whenever those run), passing everything else on to
/// `inner`.
pub struct Tracer<O: Observer> {
    inner: O,
    from: u64,
    to: u64,
    /// Requests from outside, numbered in arrival order from the start of
    /// the run, so a request keeps its number whatever the window.
    requests: u64,
    hops: Vec<Hop>,
    /// Per slab slot, the traced hop living in it.
    live: Vec<Option<(u32, usize)>>,
    /// Attempts of traced hops by (caller slot, epoch at sending): the
    /// hop and the attempt's index in it.
    sent: BTreeMap<(u32, u32), (usize, usize)>,
}

impl<O: Observer> Tracer<O> {
    pub fn new(inner: O, from: u64, to: u64) -> Self {
        Tracer {
            inner,
            from,
            to,
            requests: 0,
            hops: Vec::new(),
            live: Vec::new(),
            sent: BTreeMap::new(),
        }
    }

    pub fn into_inner(self) -> O {
        self.inner
    }

    /// The traced hop an activation is, if it is one.
    fn hop_of(&self, id: ActivationId) -> Option<usize> {
        match self.live.get(id.slot as usize) {
            Some(Some((life, hop))) if *life == id.life => Some(*hop),
            _ => None,
        }
    }

    fn last_attempt(&mut self, id: ActivationId) -> Option<&mut Attempt> {
        let hop = self.hop_of(id)?;
        self.hops[hop].attempts.last_mut()
    }

    fn in_window(&self, time: u64) -> bool {
        (self.from..self.to).contains(&time)
    }

    /// Numbers a request from outside; whether it is traced.
    fn new_request(&mut self, time: u64) -> Option<u64> {
        self.requests += 1;
        self.in_window(time).then_some(self.requests)
    }

    fn admitted(
        &mut self,
        time: u64,
        id: ActivationId,
        origin: Origin,
        endpoint: u32,
        instance: u32,
    ) {
        let (request, parent, root) = match origin {
            Origin::Probe => return,
            Origin::Call { slot, epoch } => {
                let Some(&(hop, attempt)) = self.sent.get(&(slot, epoch)) else {
                    return;
                };
                let caller = &mut self.hops[hop];
                caller.attempts[attempt].callee = Some(id);
                (caller.request, caller.id, None)
            }
            Origin::Entry { .. } | Origin::Client { .. } | Origin::Consumer { .. } => {
                match self.new_request(time) {
                    Some(request) => (request, None, Some(origin)),
                    None => return,
                }
            }
        };
        let slot = id.slot as usize;
        if self.live.len() <= slot {
            self.live.resize(slot + 1, None);
        }
        self.live[slot] = Some((id.life, self.hops.len()));
        self.hops.push(Hop {
            request,
            origin: root,
            id: Some(id),
            parent,
            endpoint,
            instance: Some(instance),
            arrived: time,
            started: None,
            finished: None,
            outcome: None,
            degraded: false,
            gave_up: None,
            attempts: Vec::new(),
        });
    }

    fn record(&mut self, event: &TraceEvent) {
        let time = event.time;
        match event.what {
            Traced::Admitted {
                id,
                origin,
                endpoint,
                instance,
            } => self.admitted(time, id, origin, endpoint, instance),
            Traced::Rejected {
                origin,
                endpoint,
                class,
            } => {
                if let Some(request) = self.new_request(time) {
                    self.hops.push(Hop {
                        request,
                        origin: Some(origin),
                        id: None,
                        parent: None,
                        endpoint,
                        instance: None,
                        arrived: time,
                        started: None,
                        finished: Some(time),
                        outcome: Some(Some(class)),
                        degraded: false,
                        gave_up: None,
                        attempts: Vec::new(),
                    });
                }
            }
            Traced::Started { id } => {
                if let Some(hop) = self.hop_of(id) {
                    self.hops[hop].started = Some(time);
                }
            }
            Traced::Attempt { id, call, attempt } => {
                if let Some(hop) = self.hop_of(id) {
                    self.hops[hop].attempts.push(Attempt {
                        call,
                        attempt,
                        sent: None,
                        answered: None,
                        outcome: None,
                        callee: None,
                        backoff: None,
                        fallback: None,
                    });
                }
            }
            Traced::Sent { id, epoch } => {
                if let Some(hop) = self.hop_of(id)
                    && let Some(index) = self.hops[hop].attempts.len().checked_sub(1)
                {
                    self.hops[hop].attempts[index].sent = Some(time);
                    self.sent.insert((id.slot, epoch), (hop, index));
                }
            }
            Traced::Answered { id } => {
                if let Some(attempt) = self.last_attempt(id) {
                    attempt.answered = Some(time);
                    attempt.outcome = Some(None);
                }
            }
            Traced::Failed { id, class } => {
                if let Some(attempt) = self.last_attempt(id) {
                    attempt.answered = Some(time);
                    attempt.outcome = Some(Some(class));
                }
            }
            Traced::Backoff { id, sleep } => {
                if let Some(attempt) = self.last_attempt(id) {
                    attempt.backoff = Some(sleep);
                }
            }
            Traced::Fallback { id, kind } => {
                if let Some(attempt) = self.last_attempt(id) {
                    attempt.fallback = Some(kind);
                }
            }
            Traced::GaveUp { id } => {
                if let Some(hop) = self.hop_of(id) {
                    self.hops[hop].gave_up = Some(time);
                }
            }
            Traced::Completed {
                id,
                error,
                degraded,
            } => {
                if let Some(hop) = self.hop_of(id) {
                    let h = &mut self.hops[hop];
                    h.finished = Some(time);
                    h.outcome = Some(error);
                    h.degraded = degraded;
                    self.live[id.slot as usize] = None;
                }
            }
        }
    }

    /// Number of hops traced so far.
    pub fn len(&self) -> usize {
        self.hops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// Hops that were activations (not requests turned away at the door).
    pub fn activations(&self) -> usize {
        self.hops.iter().filter(|h| h.id.is_some()).count()
    }

    /// Hops that had not ended when the run did.
    pub fn in_flight(&self) -> usize {
        self.hops.iter().filter(|h| h.outcome.is_none()).count()
    }

    /// The hops as JSON values, a request's hops together, requests in
    /// arrival order and a request's hops in the order they arrived.
    pub fn lines(&self, topology: &Topology) -> Vec<Value> {
        let mut order: Vec<usize> = (0..self.hops.len()).collect();
        // Stable: hops were recorded in arrival order.
        order.sort_by_key(|&i| self.hops[i].request);
        order
            .into_iter()
            .map(|i| hop_json(&self.hops[i], topology))
            .collect()
    }

    /// Writes one JSON line per hop; returns the number of lines.
    pub fn write_jsonl(&self, topology: &Topology, out: &mut impl Write) -> io::Result<usize> {
        let lines = self.lines(topology);
        for line in &lines {
            serde_json::to_writer(&mut *out, line)?;
            out.write_all(b"\n")?;
        }
        Ok(lines.len())
    }
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn millis(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn outcome_name(outcome: Option<Option<ErrorClass>>) -> &'static str {
    match outcome {
        None => "in_flight",
        Some(None) => "ok",
        Some(Some(class)) => class.name(),
    }
}

fn source(origin: Origin, topology: &Topology) -> String {
    match origin {
        Origin::Entry { workload } => {
            format!("workload {}", topology.workloads[workload as usize].name)
        }
        Origin::Client { client } => {
            let group = topology
                .client_groups
                .iter()
                .find(|g| (g.first..g.first + g.count).contains(&client))
                .expect("every client belongs to a group");
            format!("client {} #{}", group.name, client - group.first + 1)
        }
        Origin::Consumer { queue } => {
            format!("consumer of {}", topology.services[queue as usize].name)
        }
        Origin::Probe | Origin::Call { .. } => unreachable!("requests come from outside"),
    }
}

fn hop_json(hop: &Hop, topology: &Topology) -> Value {
    let calls: Vec<Value> = hop
        .attempts
        .iter()
        .map(|a| {
            let call = &topology.calls[a.call as usize];
            json!({
                "call": call.name,
                "to": topology.endpoints[call.to.index()].full_name,
                "attempt": a.attempt,
                "sent_s": a.sent.map(seconds),
                "callee": a.callee.map(ActivationId::render),
                "answered_s": a.answered.map(seconds),
                "outcome": outcome_name(a.outcome),
                "backoff_ms": a.backoff.map(millis),
                "fallback": a.fallback.map(FallbackTaken::name),
            })
        })
        .collect();
    json!({
        "request": hop.request,
        "source": hop.origin.map(|o| source(o, topology)),
        "id": hop.id.map(ActivationId::render),
        "parent": hop.parent.map(ActivationId::render),
        "endpoint": topology.endpoints[hop.endpoint as usize].full_name,
        "instance": hop.instance.map(|i| topology.instances[i as usize].name.as_str()),
        "arrived_s": seconds(hop.arrived),
        "wait_ms": hop.started.map(|s| millis(s - hop.arrived)),
        "finished_s": hop.finished.map(seconds),
        "outcome": outcome_name(hop.outcome),
        "degraded": hop.degraded,
        "gave_up_s": hop.gave_up.map(seconds),
        "calls": calls,
    })
}

impl<O: Observer> Observer for Tracer<O> {
    const TRACES: bool = true;

    fn window(&mut self, topology: &Topology, rows: &[Row]) {
        self.inner.window(topology, rows);
    }
    fn state_change(&mut self, topology: &Topology, event: &StateEvent) {
        self.inner.state_change(topology, event);
    }
    fn latencies(&mut self, component: Component, ok: &Latencies, failed: &Latencies) {
        self.inner.latencies(component, ok, failed);
    }
    fn trace(&mut self, event: &TraceEvent) {
        self.record(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::NullObserver;

    fn id(slot: u32, life: u32) -> ActivationId {
        ActivationId { slot, life }
    }

    fn feed(tracer: &mut Tracer<NullObserver>, time: u64, what: Traced) {
        tracer.trace(&TraceEvent { time, what });
    }

    fn entry(tracer: &mut Tracer<NullObserver>, time: u64, slot: u32, life: u32) {
        let origin = Origin::Entry { workload: 0 };
        let (endpoint, instance) = (0, 0);
        let id = id(slot, life);
        feed(
            tracer,
            time,
            Traced::Admitted {
                id,
                origin,
                endpoint,
                instance,
            },
        );
    }

    #[test]
    fn follows_requests_of_the_window_and_their_callees() {
        let mut t = Tracer::new(NullObserver, 10, 20);
        entry(&mut t, 5, 0, 0); // before the window: request 1, not traced
        entry(&mut t, 10, 1, 0); // request 2
        let caller = id(1, 0);
        feed(
            &mut t,
            11,
            Traced::Attempt {
                id: caller,
                call: 0,
                attempt: 1,
            },
        );
        feed(
            &mut t,
            11,
            Traced::Sent {
                id: caller,
                epoch: 7,
            },
        );
        // The untraced request's callee is not followed...
        feed(
            &mut t,
            11,
            Traced::Attempt {
                id: id(0, 0),
                call: 0,
                attempt: 1,
            },
        );
        feed(
            &mut t,
            11,
            Traced::Sent {
                id: id(0, 0),
                epoch: 7,
            },
        );
        let origin = Origin::Call { slot: 0, epoch: 7 };
        let (endpoint, instance) = (1, 1);
        feed(
            &mut t,
            12,
            Traced::Admitted {
                id: id(2, 0),
                origin,
                endpoint,
                instance,
            },
        );
        // ...the traced one's is, even after the caller timed out.
        feed(
            &mut t,
            13,
            Traced::Failed {
                id: caller,
                class: ErrorClass::Timeout,
            },
        );
        feed(
            &mut t,
            13,
            Traced::Backoff {
                id: caller,
                sleep: 2_000_000,
            },
        );
        let origin = Origin::Call { slot: 1, epoch: 7 };
        feed(
            &mut t,
            14,
            Traced::Admitted {
                id: id(3, 4),
                origin,
                endpoint,
                instance,
            },
        );
        let done = |id| Traced::Completed {
            id,
            error: None,
            degraded: false,
        };
        feed(&mut t, 15, done(caller));
        // Slot 1 reused by a later life: not the traced hop any more.
        entry(&mut t, 25, 1, 1); // request 3, after the window
        feed(&mut t, 26, done(id(1, 1)));
        assert_eq!(t.len(), 2);
        let (caller_hop, callee_hop) = (&t.hops[0], &t.hops[1]);
        assert_eq!((caller_hop.request, callee_hop.request), (2, 2));
        assert_eq!(callee_hop.parent, Some(caller));
        assert_eq!(caller_hop.finished, Some(15));
        assert_eq!(caller_hop.outcome, Some(None));
        let attempt = &caller_hop.attempts[0];
        assert_eq!(attempt.callee, Some(id(3, 4)));
        assert_eq!(attempt.outcome, Some(Some(ErrorClass::Timeout)));
        assert_eq!((attempt.sent, attempt.answered), (Some(11), Some(13)));
        assert_eq!(attempt.backoff, Some(2_000_000));
        assert_eq!(callee_hop.outcome, None, "still in flight");
    }

    #[test]
    fn rejected_requests_of_the_window_are_lines_without_an_activation() {
        let mut t = Tracer::new(NullObserver, 0, 10);
        let origin = Origin::Entry { workload: 0 };
        let class = ErrorClass::QueueFull;
        feed(
            &mut t,
            3,
            Traced::Rejected {
                origin,
                endpoint: 0,
                class,
            },
        );
        feed(
            &mut t,
            10,
            Traced::Rejected {
                origin,
                endpoint: 0,
                class,
            },
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t.hops[0].id, None);
        assert_eq!(t.hops[0].outcome, Some(Some(class)));
    }
}
