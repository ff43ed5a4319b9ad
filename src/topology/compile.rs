//! Spec → topology. The spec has been validated, so references resolve.

use indexmap::IndexMap;

use super::*;
use crate::spec::model::{self, Interpolate, ModelSpec, WorkSpec};

/// z such that Φ(z) = 0.99.
const Z99: f64 = 2.326_347_874_040_841;

pub fn work_time(spec: &WorkSpec) -> WorkTime {
    match spec {
        WorkSpec::Constant(d) => WorkTime::Constant(d.0),
        WorkSpec::Exponential { mean } => WorkTime::Exponential {
            mean: mean.0 as f64,
        },
        WorkSpec::Lognormal { mean, p99 } => {
            // mean = exp(μ + σ²/2) and p99 = exp(μ + zσ) give
            // σ²/2 − zσ + ln(p99/mean) = 0; the smaller root keeps the
            // distribution's bulk near the mean.
            let gap = (p99.0 as f64 / mean.0 as f64).ln();
            let sigma = Z99 - (Z99 * Z99 - 2.0 * gap).max(0.0).sqrt();
            let mu = (mean.0 as f64).ln() - sigma * sigma / 2.0;
            WorkTime::Lognormal { mu, sigma }
        }
        WorkSpec::Uniform { min, max } => WorkTime::Uniform {
            min: min.0,
            max: max.0,
        },
    }
}

fn lane(lanes: &mut Vec<TimerLane>, kind: TimerKind, duration: u64) -> u32 {
    let wanted = TimerLane { kind, duration };
    match lanes.iter().position(|l| *l == wanted) {
        Some(i) => i as u32,
        None => {
            lanes.push(wanted);
            (lanes.len() - 1) as u32
        }
    }
}

pub(super) fn compile(model: &ModelSpec) -> Topology {
    let zones = model.zones.clone();
    let service_index: IndexMap<&str, u32> = model
        .services
        .keys()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i as u32))
        .collect();
    let mut endpoint_index: IndexMap<String, u32> = IndexMap::new();
    for (service_name, service) in &model.services {
        for endpoint_name in service.endpoints.keys() {
            let next = endpoint_index.len() as u32;
            endpoint_index.insert(format!("{service_name}.{endpoint_name}"), next);
        }
    }

    let mut services = Vec::new();
    let mut instances = Vec::new();
    let mut endpoints = Vec::new();
    let mut calls = Vec::new();
    let mut timer_lanes = Vec::new();
    // (caller, callee) → pool group, in order of first appearance.
    let mut pool_groups: IndexMap<(u32, u32), PoolGroup> = IndexMap::new();

    for (s, (service_name, service)) in model.services.iter().enumerate() {
        let service_id = ServiceId(s as u32);
        let first_instance = instances.len() as u32;
        let placed = model::placement(service_name, service.instances.as_ref(), &zones);
        let initial_instances = placed.len() as u32;
        let mut per_zone = vec![0u32; zones.len()];
        for (name, z) in placed {
            per_zone[z as usize] += 1;
            instances.push(Instance {
                name,
                service: service_id,
                zone: ZoneId(z),
            });
        }
        // Spare slots for an autoscaler, spread over the zones in turn.
        let spare = service
            .autoscaling
            .as_ref()
            .map_or(0, |a| a.max.saturating_sub(initial_instances));
        for k in 0..spare {
            let z = k as usize % zones.len();
            per_zone[z] += 1;
            instances.push(Instance {
                name: format!("{service_name}-{}-{}", zones[z], per_zone[z]),
                service: service_id,
                zone: ZoneId(z as u32),
            });
        }
        let first_endpoint = endpoints.len() as u32;
        for (endpoint_name, endpoint) in &service.endpoints {
            let endpoint_id = EndpointId(endpoints.len() as u32);
            let first_call = calls.len() as u32;
            for (call_name, call) in &endpoint.calls {
                let to = endpoint_index[&call.to];
                let callee_name = call.to.split_once('.').unwrap().0;
                let callee = service_index[callee_name];
                let timeout_lane = call
                    .timeout
                    .map(|t| lane(&mut timer_lanes, TimerKind::CallTimeout, t.0));
                calls.push(Call {
                    name: call_name.clone(),
                    from: endpoint_id,
                    to: EndpointId(to),
                    to_service: ServiceId(callee),
                    timeout: call.timeout.map(|t| t.0),
                    timeout_lane,
                    pool_group: None,
                    probability: call.probability.unwrap_or(1.0),
                    retry: call.retry.as_ref().map(|r| RetryPolicy {
                        max_attempts: r.max_attempts,
                        backoff: r.backoff.0,
                        multiplier: r.multiplier.unwrap_or(2.0),
                        max_backoff: r.max_backoff.map_or(30_000_000_000, |d| d.0),
                        jitter: jitter(r.jitter),
                        on: retry_mask(r.on.as_deref()),
                        budget: r
                            .budget
                            .as_ref()
                            .map(|b| (b.ratio, b.min_per_s.unwrap_or(1.0))),
                        budget_index: 0,
                    }),
                    breaker: call.circuit_breaker.as_ref().map(|b| BreakerPolicy {
                        failure_rate: b.failure_rate,
                        window: b.window.unwrap_or(20),
                        window_time: b.window_time.map(|d| d.0),
                        min_calls: b.min_calls.unwrap_or(b.window.unwrap_or(20)),
                        slow_call: b.slow_call.map(|d| d.0),
                        open_for: b.open_for.0,
                        half_open_calls: b.half_open_calls.unwrap_or(3),
                        first: 0,
                    }),
                    fallback: match &call.fallback {
                        crate::spec::model::Fallback::Fail => Fallback::Fail,
                        crate::spec::model::Fallback::Degrade => Fallback::Degrade,
                        crate::spec::model::Fallback::Enqueue(q) => {
                            Fallback::Enqueue(ServiceId(service_index[q.as_str()]))
                        }
                    },
                    only_on_miss: call.when == crate::spec::model::CallWhen::Miss,
                });
                if let Some(pool) = &call.pool {
                    pool_groups.entry((s as u32, callee)).or_insert_with(|| {
                        let acquire_timeout = pool.acquire_timeout.map(|t| t.0);
                        PoolGroup {
                            caller: service_id,
                            callee: ServiceId(callee),
                            size: pool.size,
                            acquire_timeout,
                            acquire_lane: acquire_timeout
                                .filter(|t| *t > 0)
                                .map(|t| lane(&mut timer_lanes, TimerKind::AcquireTimeout, t)),
                            first_pool: 0,
                        }
                    });
                }
            }
            endpoints.push(Endpoint {
                service: service_id,
                name: endpoint_name.clone(),
                full_name: format!("{service_name}.{endpoint_name}"),
                work: work_time(&endpoint.work),
                calls: first_call..calls.len() as u32,
                hit_ratio: endpoint.hit_ratio,
                read: endpoint.access == Some(crate::spec::model::Access::Read),
            });
        }
        services.push(Service {
            name: service_name.clone(),
            kind: kind(service.kind),
            workers: service.workers.unwrap_or(UNLIMITED_WORKERS),
            queue: service.queue.unwrap_or(DEFAULT_QUEUE),
            policy: policy(service.load_balancer.policy),
            instances: first_instance..instances.len() as u32,
            endpoints: first_endpoint..endpoints.len() as u32,
            health_check: service
                .load_balancer
                .health_check
                .as_ref()
                .map(|hc| HealthCheck {
                    interval: hc.interval.0,
                    timeout: hc.timeout.0,
                    unhealthy_after: hc.unhealthy_after.unwrap_or(2),
                    healthy_after: hc.healthy_after.unwrap_or(2),
                    fail_above_memory: hc.fail_above_memory,
                    endpoint: hc
                        .endpoint
                        .as_ref()
                        .map(|e| EndpointId(endpoint_index[&format!("{service_name}.{e}")])),
                }),
            restart: service.restart.as_ref().map(|r| Restart {
                delay: r.delay.0,
                boot: r.boot.0,
            }),
            memory: service.memory.as_ref().map(|m| {
                let mut alerts = m.alerts.clone();
                alerts.sort_by(f64::total_cmp);
                Memory {
                    baseline: m.baseline.0,
                    limit: m.limit.0,
                    per_request: m.per_request.map_or(0, |s| s.0),
                    alerts,
                }
            }),
            shed_above_memory: service.load_shedding.as_ref().and_then(|l| l.memory_above),
            shed_above_queue: service.load_shedding.as_ref().and_then(|l| l.queue_above),
            initial_instances,
            autoscaling: service.autoscaling.as_ref().map(|a| Autoscaling {
                min: a.min,
                max: a.max,
                target: a.target_utilisation,
                interval: a.interval.map_or(15_000_000_000, |d| d.0),
                cooldown: a.cooldown.map_or(60_000_000_000, |d| d.0),
                boot: a.boot.map_or(30_000_000_000, |d| d.0),
            }),
            consumer: service.consumer.as_ref().map(|c| Consumer {
                concurrency: c.concurrency,
                timeout: c.timeout.0,
                timeout_lane: lane(&mut timer_lanes, TimerKind::ConsumerTimeout, c.timeout.0),
                retry_after: c.retry_after.map_or(1_000_000_000, |d| d.0),
            }),
            replication: service.replication.as_ref().map(|r| Replication {
                primary: r
                    .primary
                    .as_ref()
                    .and_then(|p| {
                        instances[first_instance as usize..]
                            .iter()
                            .position(|i| &i.name == p)
                    })
                    .map_or(first_instance, |k| first_instance + k as u32),
                lag: r.lag.0,
                catch_up: r.catch_up.unwrap_or(2.0),
                failover: r.failover.as_ref().map(|f| Failover {
                    detection: f.detection.0,
                    promotion: f.promotion.0,
                    follow: f.writers == crate::spec::model::Writers::ClusterEndpoint,
                }),
            }),
        });
    }

    // Calls without their own pool share the pool another call to the same
    // callee declared.
    for call in &mut calls {
        let caller = endpoints[call.from.index()].service.0;
        call.pool_group = pool_groups
            .get_index_of(&(caller, call.to_service.0))
            .map(|i| PoolGroupId(i as u32));
    }
    let mut first_breaker = 0;
    let mut budgets = 0;
    for call in &mut calls {
        let caller = endpoints[call.from.index()].service.index();
        if let Some(breaker) = &mut call.breaker {
            breaker.first = first_breaker;
            first_breaker += services[caller].instances.len() as u32;
        }
        if let Some(retry) = &mut call.retry
            && retry.budget.is_some()
        {
            retry.budget_index = budgets;
            budgets += 1;
        }
    }
    let mut first_pool = 0;
    let pool_groups: Vec<PoolGroup> = pool_groups
        .into_values()
        .map(|mut group| {
            group.first_pool = first_pool;
            first_pool += services[group.caller.index()].instances.len() as u32;
            group
        })
        .collect();

    let workloads = model
        .workload
        .iter()
        .map(|(name, spec)| {
            let points: Vec<(u64, f64)> = match (&spec.rate, &spec.schedule) {
                (Some(rate), _) => vec![(0, rate.per_second())],
                (None, Some(schedule)) => schedule
                    .iter()
                    .map(|p| (p.at.0, p.rate.per_second()))
                    .collect(),
                (None, None) => vec![(0, 0.0)],
            };
            Workload {
                name: name.clone(),
                endpoint: EndpointId(endpoint_index[&spec.endpoint]),
                segments: segments(&points, spec.interpolate),
                timeout: spec.timeout.map(|t| t.0),
                timeout_lane: spec
                    .timeout
                    .map(|t| lane(&mut timer_lanes, TimerKind::ClientTimeout, t.0)),
            }
        })
        .collect();

    let mut first_client = 0;
    let client_groups = model
        .clients
        .iter()
        .map(|(name, spec)| {
            let group = ClientGroup {
                name: name.clone(),
                count: spec.count,
                first: first_client,
                connect: EndpointId(endpoint_index[&spec.connect]),
                request: EndpointId(endpoint_index[&spec.request]),
                think: spec.think.0,
                reconnect: RetryPolicy {
                    max_attempts: u32::MAX,
                    backoff: spec.reconnect.backoff.0,
                    multiplier: spec.reconnect.multiplier.unwrap_or(2.0),
                    max_backoff: spec.reconnect.max_backoff.map_or(30_000_000_000, |d| d.0),
                    jitter: jitter(spec.reconnect.jitter),
                    on: u16::MAX,
                    budget: None,
                    budget_index: 0,
                },
            };
            first_client += spec.count;
            group
        })
        .collect();

    Topology {
        name: model.name.clone(),
        client_groups,
        zones,
        services,
        instances,
        endpoints,
        calls,
        pool_groups,
        workloads,
        timer_lanes,
    }
}

/// The error classes a retry policy retries, as a bit set.
fn retry_mask(on: Option<&[String]>) -> u16 {
    use crate::base::ErrorClass;
    match on {
        Some(names) => names
            .iter()
            .filter_map(|n| ErrorClass::from_name(n))
            .fold(0, |mask, c| mask | 1 << c as u16),
        None => ErrorClass::ALL
            .iter()
            .filter(|c| !matches!(c, ErrorClass::PoolExhausted | ErrorClass::CircuitOpen))
            .fold(0, |mask, c| mask | 1 << *c as u16),
    }
}

/// Piecewise segments from rate points (per second) sorted by time. Before
/// the first point the rate is zero; after the last it holds.
fn segments(points: &[(u64, f64)], interpolate: Interpolate) -> Vec<RateSegment> {
    const PER_NS: f64 = 1e-9;
    let mut out = Vec::new();
    if points[0].0 > 0 {
        out.push(RateSegment {
            start: 0,
            end: points[0].0,
            rate_start: 0.0,
            rate_end: 0.0,
        });
    }
    for (i, &(at, rate)) in points.iter().enumerate() {
        let (end, rate_end) = match points.get(i + 1) {
            Some(&(next_at, next_rate)) => (
                next_at,
                if interpolate == Interpolate::Linear {
                    next_rate
                } else {
                    rate
                },
            ),
            None => (u64::MAX, rate),
        };
        out.push(RateSegment {
            start: at,
            end,
            rate_start: rate * PER_NS,
            rate_end: rate_end * PER_NS,
        });
    }
    out
}

// The file's enums become the topology's own, so that the engine never sees
// a serde type: a renamed spelling in the file format stays a spec concern.

fn kind(kind: model::ServiceKind) -> ServiceKind {
    match kind {
        model::ServiceKind::Service => ServiceKind::Service,
        model::ServiceKind::Queue => ServiceKind::Queue,
        model::ServiceKind::Database => ServiceKind::Database,
        model::ServiceKind::Cache => ServiceKind::Cache,
        model::ServiceKind::External => ServiceKind::External,
    }
}

fn policy(policy: model::LbPolicy) -> LbPolicy {
    match policy {
        model::LbPolicy::RoundRobin => LbPolicy::RoundRobin,
        model::LbPolicy::LeastOutstanding => LbPolicy::LeastOutstanding,
        model::LbPolicy::Random => LbPolicy::Random,
        model::LbPolicy::PowerOfTwoChoices => LbPolicy::PowerOfTwoChoices,
    }
}

fn jitter(jitter: model::Jitter) -> Jitter {
    match jitter {
        model::Jitter::None => Jitter::None,
        model::Jitter::Full => Jitter::Full,
        model::Jitter::Equal => Jitter::Equal,
        model::Jitter::Decorrelated => Jitter::Decorrelated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::units::Duration;

    #[test]
    fn lognormal_fit_reproduces_mean_and_p99() {
        let w = work_time(&WorkSpec::Lognormal {
            mean: Duration(4_000_000),
            p99: Duration(20_000_000),
        });
        let WorkTime::Lognormal { mu, sigma } = w else {
            unreachable!()
        };
        let mean = (mu + sigma * sigma / 2.0).exp();
        let p99 = (mu + Z99 * sigma).exp();
        assert!((mean - 4e6).abs() < 1.0, "{mean}");
        assert!((p99 - 2e7).abs() < 10.0, "{p99}");
    }

    #[test]
    fn schedule_becomes_segments_with_zero_rate_before_first_point() {
        let s = segments(&[(10, 100.0), (20, 300.0)], Interpolate::Linear);
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].start, s[0].end, s[0].rate_start), (0, 10, 0.0));
        assert!((s[1].rate_start * 1e9 - 100.0).abs() < 1e-9);
        assert!((s[1].rate_end * 1e9 - 300.0).abs() < 1e-9);
        assert_eq!(s[2].end, u64::MAX);
    }
}
