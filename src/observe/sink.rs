//! Writes what the engine observes to `metrics.csv` and `events.jsonl` as the
//! run goes, so memory does not grow with the length of the run.

use std::fmt::{self, Write as _};
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

/// `metrics.csv`, written a row at a time as windows close.
pub struct MetricsCsv<W: Write> {
    csv: csv::Writer<W>,
    /// Each number is formatted here before it becomes a field, so a row
    /// allocates nothing once the buffer has grown.
    field: String,
}

impl<W: Write> MetricsCsv<W> {
    /// Starts the file with its header.
    pub fn new(out: W) -> csv::Result<Self> {
        let mut csv = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_writer(out);
        csv.write_record(METRICS_COLUMNS)?;
        Ok(MetricsCsv {
            csv,
            field: String::new(),
        })
    }

    fn number(&mut self, value: fmt::Arguments<'_>) -> csv::Result<()> {
        self.field.clear();
        // Formatting into a String cannot fail.
        let _ = self.field.write_fmt(value);
        self.csv.write_field(&self.field)
    }

    /// One record for a row, in `METRICS_COLUMNS`' order. Names are
    /// validated to hold no commas or quotes, so none is quoted; one that
    /// did would be.
    pub fn write_row(&mut self, topology: &Topology, warmup: u64, row: &Row) -> csv::Result<()> {
        let (name, kind) = topology.component_name(row.component);
        let phase = if row.window_start < warmup {
            "warmup"
        } else {
            "run"
        };
        let l = &row.latency;
        self.number(format_args!("{}", seconds(row.window_start)))?;
        self.number(format_args!("{}", seconds(row.window_end)))?;
        self.csv.write_field(phase)?;
        self.csv.write_field(&name)?;
        self.csv.write_field(kind.name())?;
        self.number(format_args!("{}", row.arrivals))?;
        self.number(format_args!("{}", row.ok))?;
        self.number(format_args!("{}", row.errors.iter().sum::<u64>()))?;
        for count in row.errors {
            self.number(format_args!("{count}"))?;
        }
        self.number(format_args!("{}", row.retries))?;
        self.number(format_args!("{}", row.degraded))?;
        self.number(format_args!("{:.6}", row.availability()))?;
        for nanos in [
            l.mean,
            l.p50 as f64,
            l.p90 as f64,
            l.p99 as f64,
            l.max as f64,
        ] {
            self.number(format_args!("{:.3}", ms(nanos)))?;
        }
        self.number(format_args!("{:.3}", ms(row.mean_wait)))?;
        self.number(format_args!("{:.3}", row.queue.0))?;
        self.number(format_args!("{}", row.queue.1))?;
        self.number(format_args!("{:.3}", row.busy.0))?;
        self.number(format_args!("{}", row.busy.1))?;
        self.number(format_args!("{}", row.capacity))?;
        self.number(format_args!("{:.3}", row.in_use.0))?;
        self.number(format_args!("{}", row.in_use.1))?;
        self.number(format_args!("{:.3}", row.waiters.0))?;
        self.number(format_args!("{}", row.waiters.1))?;
        let mib = row.memory_max as f64 / (1u64 << 20) as f64;
        self.number(format_args!("{mib:.1}"))?;
        // No fields: ends the record begun field by field (and checks its
        // length against the header's).
        self.csv.write_record(None::<&[u8]>)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.csv.flush()
    }
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
    metrics: MetricsCsv<File>,
    events: BufWriter<File>,
    warmup: u64,
    fault_names: Vec<String>,
    error: Option<io::Error>,
    /// Called after each window with its end time (progress display).
    on_window: Option<Box<dyn FnMut(u64)>>,
}

impl FileSink {
    pub fn create(dir: &Path, warmup: u64, fault_names: Vec<String>) -> io::Result<Self> {
        let metrics = MetricsCsv::new(File::create(dir.join("metrics.csv"))?)?;
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
                if let Err(e) = self.metrics.write_row(topology, self.warmup, row) {
                    self.error = Some(e.into());
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
