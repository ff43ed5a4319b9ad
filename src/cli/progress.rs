//! Progress of a long command. On a terminal, an indicatif bar on stderr;
//! off one (a CI log, a pipe), where a bar draws nothing, a plain line on
//! stderr every few seconds, so an hour-long run is not silent for minutes.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain line is written off a terminal, unless
/// `FAULTLINE_PROGRESS_EVERY` (seconds) says otherwise.
const EVERY: Duration = Duration::from_secs(5);

fn every() -> Duration {
    std::env::var("FAULTLINE_PROGRESS_EVERY")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(EVERY, Duration::from_secs_f64)
}

#[derive(Clone)]
pub(super) struct Progress {
    bar: ProgressBar,
    plain: Option<Arc<Plain>>,
}

struct Plain {
    started: Instant,
    /// When the next line is due.
    due: Mutex<Instant>,
    every: Duration,
    position: AtomicU64,
    len: u64,
    /// The line for (position, length, wall seconds so far).
    line: Box<dyn Fn(u64, u64, f64) -> String + Send + Sync>,
}

impl Progress {
    /// A bar drawn with `template` over `len` steps, or off a terminal the
    /// `line` every few seconds.
    pub(super) fn new(
        len: u64,
        template: &str,
        line: impl Fn(u64, u64, f64) -> String + Send + Sync + 'static,
    ) -> Self {
        let quiet = super::verbosity() == super::Verbosity::Quiet;
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(len)
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("static template")
                .progress_chars("=> "),
        );
        let plain = (!quiet && !std::io::stderr().is_terminal()).then(|| {
            let started = Instant::now();
            let every = every();
            Arc::new(Plain {
                started,
                due: Mutex::new(started + every),
                every,
                position: AtomicU64::new(0),
                len,
                line: Box::new(line),
            })
        });
        Progress { bar, plain }
    }

    pub(super) fn set_position(&self, position: u64) {
        self.bar.set_position(position);
        if let Some(plain) = &self.plain {
            plain.position.store(position, Ordering::Relaxed);
            plain.maybe_say();
        }
    }

    pub(super) fn inc(&self, steps: u64) {
        self.bar.inc(steps);
        if let Some(plain) = &self.plain {
            plain.position.fetch_add(steps, Ordering::Relaxed);
            plain.maybe_say();
        }
    }

    pub(super) fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}

impl Plain {
    fn maybe_say(&self) {
        let now = Instant::now();
        let Ok(mut due) = self.due.try_lock() else {
            return;
        };
        if now < *due {
            return;
        }
        *due = now + self.every;
        let wall = (now - self.started).as_secs_f64();
        let line = (self.line)(self.position.load(Ordering::Relaxed), self.len, wall);
        eprintln!("{line}");
    }
}
