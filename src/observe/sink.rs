//! Writes what the engine observes to `metrics.csv` and `events.jsonl` as the
//! run goes, so memory does not grow with the length of the run.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use super::Observer;
use super::events::{StateChange, StateEvent};
use super::metrics::Row;
use crate::base::ErrorClass;
use crate::topology::Topology;

/// Columns of `metrics.csv`, in order. Latencies are of successful requests,
/// in milliseconds; `*_avg` are time-weighted averages over the window.
pub const METRICS_COLUMNS: &[&str] = &[
    "window_start_s",
    "window_end_s",
    "phase",
    "component",
    "kind",
    "arrivals",
    "ok",
    "errors",
    "err_timeout",
    "err_queue_full",
    "err_pool_exhausted",
    "err_no_healthy_instance",
    "err_refused",
    "err_injected",
    "err_circuit_open",
    "err_shed",
    "err_downstream",
    "retries",
    "degraded",
    "availability",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "wait_mean_ms",
    "queue_avg",
    "queue_max",
    "busy_avg",
    "busy_max",
    "capacity",
    "in_use_avg",
    "in_use_max",
    "waiters_avg",
    "waiters_max",
    "memory_max_mib",
];

fn ms(nanos: f64) -> f64 {
    nanos / 1e6
}

fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// One CSV line for a row; names are validated to hold no commas or quotes.
pub fn write_row(
    out: &mut impl Write,
    topology: &Topology,
    warmup: u64,
    row: &Row,
) -> io::Result<()> {
    let (name, kind) = topology.component_name(row.component);
    let phase = if row.window_start < warmup {
        "warmup"
    } else {
        "run"
    };
    let l = &row.latency;
    write!(
        out,
        "{},{},{phase},{name},{kind},{},{},{}",
        seconds(row.window_start),
        seconds(row.window_end),
        row.arrivals,
        row.ok,
        row.errors.iter().sum::<u64>()
    )?;
    for count in row.errors {
        write!(out, ",{count}")?;
    }
    write!(out, ",{},{}", row.retries, row.degraded)?;
    writeln!(
        out,
        ",{:.6},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{:.3},{},{},{:.3},{},{:.3},{},{:.1}",
        row.availability(),
        ms(l.mean),
        ms(l.p50 as f64),
        ms(l.p90 as f64),
        ms(l.p99 as f64),
        ms(l.max as f64),
        ms(row.mean_wait),
        row.queue.0,
        row.queue.1,
        row.busy.0,
        row.busy.1,
        row.capacity,
        row.in_use.0,
        row.in_use.1,
        row.waiters.0,
        row.waiters.1,
        row.memory_max as f64 / (1u64 << 20) as f64,
    )
}

#[derive(Serialize)]
struct EventLine<'a> {
    time_s: f64,
    time_ns: u64,
    event: &'static str,
    component: &'a str,
    kind: &'static str,
    cause: String,
}

/// One JSON line for a state change.
pub fn write_event(
    out: &mut impl Write,
    topology: &Topology,
    fault_names: &[String],
    event: &StateEvent,
) -> io::Result<()> {
    let instance_name = |i: u32| topology.instances[i as usize].name.as_str();
    let (component, kind, cause) = match event.change {
        StateChange::QueueFull { instance } | StateChange::QueueRecovered { instance } => {
            let i = &topology.instances[instance as usize];
            let s = &topology.services[i.service.index()];
            let cause = if matches!(event.change, StateChange::QueueFull { .. }) {
                format!(
                    "all {} workers busy and the queue of {} full: rejecting requests",
                    s.workers, s.queue
                )
            } else {
                "load fell to half of workers plus queue".to_string()
            };
            (i.name.as_str(), "instance", cause)
        }
        StateChange::PoolExhausted {
            pool_group,
            caller_instance,
        }
        | StateChange::PoolRecovered {
            pool_group,
            caller_instance,
        } => {
            let g = &topology.pool_groups[pool_group as usize];
            let callee = &topology.services[g.callee.index()].name;
            let caller = &topology.instances[caller_instance as usize].name;
            let cause = if matches!(event.change, StateChange::PoolExhausted { .. }) {
                format!(
                    "all {} connections from {caller} to {callee} in use: callers wait or fail",
                    g.size
                )
            } else {
                format!("connections from {caller} to {callee} back under half use, nobody waiting")
            };
            (caller.as_str(), "pool", cause)
        }
        StateChange::FaultStarted { fault } | StateChange::FaultEnded { fault } => {
            let name = fault_names.get(fault as usize).map_or("?", String::as_str);
            let cause = if matches!(event.change, StateChange::FaultStarted { .. }) {
                "injected by the scenario"
            } else {
                "its time is up"
            };
            (name, "fault", cause.to_string())
        }
        StateChange::InstanceKilled {
            instance,
            fault,
            host_down,
        } => {
            let name = fault_names.get(fault as usize).map_or("?", String::as_str);
            let how = if host_down {
                "host down: callers wait for their timeouts"
            } else {
                "process dead: connections refused"
            };
            (
                instance_name(instance),
                "instance",
                format!("fault `{name}`, {how}"),
            )
        }
        StateChange::InstanceUnreachable { instance, fault } => {
            let name = fault_names.get(fault as usize).map_or("?", String::as_str);
            (
                instance_name(instance),
                "instance",
                format!("zone out (fault `{name}`): callers wait for their timeouts"),
            )
        }
        StateChange::InstanceReachable { instance } => (
            instance_name(instance),
            "instance",
            "zone back: hung connections reset".to_string(),
        ),
        StateChange::InstanceRestarting { instance } => (
            instance_name(instance),
            "instance",
            "restart policy: new process booting".to_string(),
        ),
        StateChange::InstanceReady { instance } => (
            instance_name(instance),
            "instance",
            "booted: accepting work".to_string(),
        ),
        StateChange::Ejected { instance } => (
            instance_name(instance),
            "instance",
            "health checks failed: the load balancer stopped routing to it".to_string(),
        ),
        StateChange::BreakerOpened { call, instance }
        | StateChange::BreakerHalfOpen { call, instance }
        | StateChange::BreakerClosed { call, instance } => {
            let c = &topology.calls[call as usize];
            let site = format!(
                "{} call `{}` to {}",
                topology.endpoints[c.from.index()].full_name,
                c.name,
                topology.endpoints[c.to.index()].full_name
            );
            let cause = match event.change {
                StateChange::BreakerOpened { .. } => {
                    format!("{site}: too many failures in the window, calls fail at once unsent")
                }
                StateChange::BreakerHalfOpen { .. } => {
                    format!("{site}: open time over, letting test calls through")
                }
                _ => format!("{site}: test calls succeeded, calls flow again"),
            };
            (instance_name(instance), "breaker", cause)
        }
        StateChange::ScaledOut { service, instances }
        | StateChange::ScaledIn { service, instances } => (
            topology.services[service as usize].name.as_str(),
            "service",
            format!("autoscaler: the fleet is now {instances} instances"),
        ),
        StateChange::PrimaryLost { instance } => (
            instance_name(instance),
            "database",
            "the primary is gone: replication stops where each replica stood".to_string(),
        ),
        StateChange::PrimaryPromoted {
            instance,
            lost_writes,
        } => (
            instance_name(instance),
            "database",
            format!(
                "promoted to primary; {lost_writes} acknowledged writes it had not received are lost"
            ),
        ),
        StateChange::FailoverFailed { service } => (
            topology.services[service as usize].name.as_str(),
            "database",
            "no replica up to promote: writes fail".to_string(),
        ),
        StateChange::InstanceFrozen { instance, fault } => {
            let name = fault_names.get(fault as usize).map_or("?", String::as_str);
            (
                instance_name(instance),
                "instance",
                format!("fault `{name}`: frozen, accepting connections but answering nothing"),
            )
        }
        StateChange::InstanceThawed { instance } => (
            instance_name(instance),
            "instance",
            "thawed: working through what piled up".to_string(),
        ),
        StateChange::MemoryAlert { instance, percent } => (
            instance_name(instance),
            "instance",
            format!("memory above {percent} % of its limit"),
        ),
        StateChange::OomKilled { instance } => (
            instance_name(instance),
            "instance",
            "memory reached the limit: OOM-killed".to_string(),
        ),
        StateChange::Readmitted { instance } => (
            instance_name(instance),
            "instance",
            "health checks passed: the load balancer routes to it again".to_string(),
        ),
    };
    let line = EventLine {
        time_s: seconds(event.time),
        time_ns: event.time,
        event: event.change.name(),
        component,
        kind,
        cause,
    };
    serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// Streams a run's metrics and events into files. I/O errors are kept and
/// reported when the run finishes, so the engine never sees them.
pub struct FileSink {
    metrics: BufWriter<File>,
    events: BufWriter<File>,
    warmup: u64,
    fault_names: Vec<String>,
    error: Option<io::Error>,
    /// Called after each window with its end time (progress display).
    on_window: Option<Box<dyn FnMut(u64)>>,
}

impl FileSink {
    pub fn create(dir: &Path, warmup: u64, fault_names: Vec<String>) -> io::Result<Self> {
        let mut metrics = BufWriter::with_capacity(1 << 16, File::create(dir.join("metrics.csv"))?);
        writeln!(metrics, "{}", METRICS_COLUMNS.join(","))?;
        let events = BufWriter::with_capacity(1 << 16, File::create(dir.join("events.jsonl"))?);
        Ok(FileSink {
            metrics,
            events,
            warmup,
            fault_names,
            error: None,
            on_window: None,
        })
    }

    /// Runs `f` after every window (the window's end, in ns); once per
    /// window, not per event, so a boxed closure costs nothing that matters.
    pub fn on_window(mut self, f: impl FnMut(u64) + 'static) -> Self {
        self.on_window = Some(Box::new(f));
        self
    }

    /// Flushes both files; the first I/O error of the run, if any.
    pub fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.metrics.flush()?;
        self.events.flush()
    }
}

impl Observer for FileSink {
    fn window(&mut self, topology: &Topology, rows: &[Row]) {
        if self.error.is_none() {
            for row in rows {
                if let Err(e) = write_row(&mut self.metrics, topology, self.warmup, row) {
                    self.error = Some(e);
                    break;
                }
            }
        }
        if let (Some(f), Some(row)) = (self.on_window.as_mut(), rows.first()) {
            f(row.window_end);
        }
    }

    fn state_change(&mut self, topology: &Topology, event: &StateEvent) {
        if self.error.is_none()
            && let Err(e) = write_event(&mut self.events, topology, &self.fault_names, event)
        {
            self.error = Some(e);
        }
    }
}

/// Error classes in file order, for readers that pair names with counts.
pub fn error_class_names() -> [&'static str; crate::base::ERROR_CLASSES] {
    ErrorClass::ALL.map(ErrorClass::name)
}
