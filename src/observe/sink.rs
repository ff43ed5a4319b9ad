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
/// With per-instance rows, `STATUS_COLUMN` follows them.
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
    "err_throttled",
    "retries",
    "degraded",
    "cache_hits",
    "cache_misses",
    "availability",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "started",
    "waited_share",
    "wait_mean_ms",
    "wait_p99_ms",
    "queue_avg",
    "queue_max",
    "busy_avg",
    "busy_max",
    "in_system_avg",
    "in_system_max",
    "capacity",
    "in_use_avg",
    "in_use_max",
    "waiters_avg",
    "waiters_max",
    "memory_max_mib",
];

/// The last column of `metrics.csv` when it has per-instance rows: what the
/// instance was doing at the window's end; empty on the other rows. Without
/// them the file has no such column, byte for byte as before it existed.
pub const STATUS_COLUMN: &str = "status";

fn ms(nanos: f64) -> f64 {
    nanos / 1e6
}

fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// `metrics.csv`, written a row at a time as windows close.
pub struct MetricsCsv<W: Write> {
    csv: csv::Writer<W>,
    /// Whether rows end with `STATUS_COLUMN`.
    status: bool,
    /// Each number is formatted here before it becomes a field, so a row
    /// allocates nothing once the buffer has grown.
    field: String,
}

impl<W: Write> MetricsCsv<W> {
    /// Starts the file with its header; `status`: with `STATUS_COLUMN`.
    pub fn new(out: W, status: bool) -> csv::Result<Self> {
        let mut csv = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_writer(out);
        let extra: &[&str] = if status { &[STATUS_COLUMN] } else { &[] };
        csv.write_record(METRICS_COLUMNS.iter().chain(extra))?;
        Ok(MetricsCsv {
            csv,
            status,
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
        self.number(format_args!("{}", row.hits))?;
        self.number(format_args!("{}", row.misses))?;
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
        self.number(format_args!("{}", row.started))?;
        self.number(format_args!("{:.6}", row.waited_share()))?;
        self.number(format_args!("{:.3}", ms(row.mean_wait)))?;
        self.number(format_args!("{:.3}", ms(row.wait_p99 as f64)))?;
        self.number(format_args!("{:.3}", row.queue.0))?;
        self.number(format_args!("{}", row.queue.1))?;
        self.number(format_args!("{:.3}", row.busy.0))?;
        self.number(format_args!("{}", row.busy.1))?;
        self.number(format_args!("{:.3}", row.in_system.0))?;
        self.number(format_args!("{}", row.in_system.1))?;
        self.number(format_args!("{}", row.capacity))?;
        self.number(format_args!("{:.3}", row.in_use.0))?;
        self.number(format_args!("{}", row.in_use.1))?;
        self.number(format_args!("{:.3}", row.waiters.0))?;
        self.number(format_args!("{}", row.waiters.1))?;
        let mib = row.memory_max as f64 / (1u64 << 20) as f64;
        self.number(format_args!("{mib:.1}"))?;
        if self.status {
            self.csv
                .write_field(row.status.map_or("", |status| status.name()))?;
        }
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

/// One JSON line for a state change: what it happened to, and why, in
/// words a reader of the file needs no model open for.
pub fn write_event(
    out: &mut impl Write,
    topology: &Topology,
    names: &Names,
    event: &StateEvent,
) -> io::Result<()> {
    let (component, kind) = subject(topology, names, event.change);
    let line = EventLine {
        time_s: seconds(event.time),
        time_ns: event.time,
        event: event.change.name(),
        component,
        kind,
        cause: cause(topology, names, event.change),
    };
    serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// The scenario's names that events refer to by index.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub faults: Vec<String>,
    /// Stop guards.
    pub guards: Vec<String>,
}

fn name_at(names: &[String], index: u32) -> &str {
    names.get(index as usize).map_or("?", String::as_str)
}

/// The name and kind of what changed: an instance, the caller of a pool,
/// a fault, a breaker (by its instance), a service or a database.
fn subject<'a>(
    topology: &'a Topology,
    names: &'a Names,
    change: StateChange,
) -> (&'a str, &'static str) {
    let instance = |i: u32| topology.instances[i as usize].name.as_str();
    let service = |s: u32| topology.services[s as usize].name.as_str();
    match change {
        StateChange::QueueFull { instance: i }
        | StateChange::QueueRecovered { instance: i }
        | StateChange::InstanceKilled { instance: i, .. }
        | StateChange::InstanceUnreachable { instance: i, .. }
        | StateChange::InstanceReachable { instance: i }
        | StateChange::InstanceRestarting { instance: i }
        | StateChange::InstanceReady { instance: i }
        | StateChange::InstanceDraining { instance: i, .. }
        | StateChange::ReplicaLagging { instance: i, .. }
        | StateChange::ReplicaCaughtUp { instance: i }
        | StateChange::InstanceStopped { instance: i, .. }
        | StateChange::Ejected { instance: i }
        | StateChange::Readmitted { instance: i }
        | StateChange::InstanceFrozen { instance: i, .. }
        | StateChange::InstanceThawed { instance: i }
        | StateChange::MemoryAlert { instance: i, .. }
        | StateChange::OomKilled { instance: i } => (instance(i), "instance"),
        StateChange::PoolExhausted {
            caller_instance, ..
        }
        | StateChange::PoolRecovered {
            caller_instance, ..
        } => (instance(caller_instance), "pool"),
        StateChange::FaultStarted { fault }
        | StateChange::FaultEnded { fault }
        | StateChange::FaultRolledBack { fault } => (name_at(&names.faults, fault), "fault"),
        StateChange::ExperimentStopped { guard } => (name_at(&names.guards, guard), "stop_guard"),
        StateChange::BreakerOpened { instance: i, .. }
        | StateChange::BreakerHalfOpen { instance: i, .. }
        | StateChange::BreakerClosed { instance: i, .. } => (instance(i), "breaker"),
        StateChange::ScaledOut { service: s, .. } | StateChange::ScaledIn { service: s, .. } => {
            (service(s), "service")
        }
        StateChange::PrimaryLost { instance: i }
        | StateChange::PrimaryPromoted { instance: i, .. }
        | StateChange::FailoverCancelled { instance: i } => (instance(i), "database"),
        StateChange::FailoverFailed { service: s } => (service(s), "database"),
        StateChange::ClientsDisconnected { group, .. }
        | StateChange::ClientsReconnected { group, .. } => (
            topology.client_groups[group as usize].name.as_str(),
            "clients",
        ),
    }
}

/// Why it changed and what that does to callers.
fn cause(topology: &Topology, names: &Names, change: StateChange) -> String {
    let fault = |f: u32| name_at(&names.faults, f);
    match change {
        StateChange::QueueFull { instance } => queue_full(topology, instance),
        StateChange::QueueRecovered { .. } => "load fell to half of workers plus queue".into(),
        StateChange::PoolExhausted {
            pool_group,
            caller_instance,
        }
        | StateChange::PoolRecovered {
            pool_group,
            caller_instance,
        } => pool(topology, change, pool_group, caller_instance),
        StateChange::FaultStarted { .. } => "injected by the scenario".into(),
        StateChange::FaultEnded { .. } => "its time is up".into(),
        StateChange::ExperimentStopped { .. } => {
            "the stop guard tripped: every fault in force is rolled back, none still to come starts".into()
        }
        StateChange::FaultRolledBack { .. } => "rolled back: a stop guard tripped".into(),
        StateChange::InstanceKilled {
            fault: f,
            host_down,
            ..
        } => killed(fault(f), host_down),
        StateChange::InstanceUnreachable { fault: f, .. } => {
            format!(
                "zone out (fault `{}`): callers wait for their timeouts",
                fault(f)
            )
        }
        StateChange::InstanceReachable { .. } => "zone back: hung connections reset".into(),
        StateChange::InstanceRestarting { .. } => "restart policy: new process booting".into(),
        StateChange::InstanceReady { .. } => "booted: accepting work".into(),
        StateChange::ReplicaLagging { lag_ms, .. } => format!(
            "replica {lag_ms} ms behind the primary's acknowledged writes: above its lag alert"
        ),
        StateChange::ReplicaCaughtUp { .. } => "replica back below its lag alert".into(),
        StateChange::InstanceDraining { fault: Some(f), .. } => format!(
            "rolling restart (fault `{}`): out of the balancer, finishing what it holds",
            fault(f)
        ),
        StateChange::InstanceDraining { fault: None, .. } => {
            "memory reached the restart threshold: out of the balancer, finishing what it holds before a restart".into()
        }
        StateChange::InstanceStopped {
            drained, reset, ..
        } => format!(
            "{}: {reset} request{} still held reset; a new process boots",
            if drained {
                "stopped after draining"
            } else {
                "stopped abruptly (no `drain`)"
            },
            if reset == 1 { "" } else { "s" }
        ),
        StateChange::Ejected { .. } => {
            "health checks failed: the load balancer stopped routing to it".into()
        }
        StateChange::Readmitted { .. } => {
            "health checks passed: the load balancer routes to it again".into()
        }
        StateChange::InstanceFrozen { fault: f, .. } => format!(
            "fault `{}`: frozen, accepting connections but answering nothing",
            fault(f)
        ),
        StateChange::InstanceThawed { .. } => "thawed: working through what piled up".into(),
        StateChange::MemoryAlert { percent, .. } => {
            format!("memory above {percent} % of its limit")
        }
        StateChange::OomKilled { .. } => "memory reached the limit: OOM-killed".into(),
        StateChange::BreakerOpened { call, .. }
        | StateChange::BreakerHalfOpen { call, .. }
        | StateChange::BreakerClosed { call, .. } => breaker(topology, change, call),
        StateChange::ScaledOut { instances, .. } | StateChange::ScaledIn { instances, .. } => {
            format!("autoscaler: the fleet is now {instances} instances")
        }
        StateChange::PrimaryLost { .. } => {
            "the primary is gone: replication stops where each replica stood".into()
        }
        StateChange::PrimaryPromoted { lost_writes, .. } => format!(
            "promoted to primary; {lost_writes} acknowledged writes it had not received are lost"
        ),
        StateChange::FailoverFailed { .. } => "no replica up to promote: writes fail".into(),
        StateChange::FailoverCancelled { .. } => {
            "the lost primary is back before a replica took its place: the primary again, no failover"
                .into()
        }
        StateChange::ClientsDisconnected {
            group,
            instance,
            count,
        } => format!(
            "{count} of {} clients lost their connection to {}: reconnecting with backoff",
            topology.client_groups[group as usize].count,
            topology.instances[instance as usize].name
        ),
        StateChange::ClientsReconnected { group, attempts } => format!(
            "all {} clients connected again, after {attempts} reconnect attempts",
            topology.client_groups[group as usize].count
        ),
    }
}

fn queue_full(topology: &Topology, instance: u32) -> String {
    let i = &topology.instances[instance as usize];
    let s = &topology.services[i.service.index()];
    format!(
        "all {} workers busy and the queue of {} full: rejecting requests",
        s.workers, s.queue
    )
}

/// A pool exhausted or recovered, as `change` says.
fn pool(topology: &Topology, change: StateChange, pool_group: u32, caller_instance: u32) -> String {
    let g = &topology.pool_groups[pool_group as usize];
    let callee = &topology.services[g.callee.index()].name;
    let caller = &topology.instances[caller_instance as usize].name;
    if matches!(change, StateChange::PoolExhausted { .. }) {
        format!(
            "all {} connections from {caller} to {callee} in use: callers wait or fail",
            g.size
        )
    } else {
        format!("connections from {caller} to {callee} back under half use, nobody waiting")
    }
}

fn killed(fault: &str, host_down: bool) -> String {
    let how = if host_down {
        "host down: callers wait for their timeouts"
    } else {
        "process dead: connections refused"
    };
    format!("fault `{fault}`, {how}")
}

/// A breaker opened, half open or closed, as `change` says, on call site
/// `call`.
fn breaker(topology: &Topology, change: StateChange, call: u32) -> String {
    let c = &topology.calls[call as usize];
    let site = format!(
        "{} call `{}` to {}",
        topology.endpoints[c.from.index()].full_name,
        c.name,
        topology.endpoints[c.to.index()].full_name
    );
    match change {
        StateChange::BreakerOpened { .. } => {
            format!("{site}: too many failures in the window, calls fail at once unsent")
        }
        StateChange::BreakerHalfOpen { .. } => {
            format!("{site}: open time over, letting test calls through")
        }
        _ => format!("{site}: test calls succeeded, calls flow again"),
    }
}

/// Streams a run's metrics and events into files. I/O errors are kept and
/// reported when the run finishes, so the engine never sees them.
pub struct FileSink {
    metrics: MetricsCsv<File>,
    events: BufWriter<File>,
    warmup: u64,
    names: Names,
    error: Option<io::Error>,
    /// Called after each window with its end time (progress display).
    on_window: Option<Box<dyn FnMut(u64)>>,
}

impl FileSink {
    /// `per_instance`: the metrics have instance rows, and their status
    /// column.
    pub fn create(dir: &Path, warmup: u64, per_instance: bool, names: Names) -> io::Result<Self> {
        let metrics = MetricsCsv::new(File::create(dir.join("metrics.csv"))?, per_instance)?;
        let events = BufWriter::with_capacity(1 << 16, File::create(dir.join("events.jsonl"))?);
        Ok(FileSink {
            metrics,
            events,
            warmup,
            names,
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
            && let Err(e) = write_event(&mut self.events, topology, &self.names, event)
        {
            self.error = Some(e);
        }
    }
}

/// Error classes in file order, for readers that pair names with counts.
pub fn error_class_names() -> [&'static str; crate::base::ERROR_CLASSES] {
    ErrorClass::ALL.map(ErrorClass::name)
}
