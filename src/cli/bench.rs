//! `faultline bench`: simulated events and requests per wall-clock second on
//! the benchmark models, one thread, with the full engine (metrics windows,
//! histograms, trace digest) but no file output.

use std::path::PathBuf;
use std::time::Instant;

use crate::observe::NullObserver;
use crate::plan::Plan;
use crate::sim::simulate_within;
use crate::spec::{self, Source};

/// (name, scenario path, scenario text, model path, model text)
const BENCHES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "mm8",
        "scenarios/bench/mm8.json",
        include_str!("../../scenarios/bench/mm8.json"),
        "models/bench/mm8.json",
        include_str!("../../models/bench/mm8.json"),
    ),
    (
        "three-tier",
        "scenarios/bench/three-tier.json",
        include_str!("../../scenarios/bench/three-tier.json"),
        "models/bench/three-tier.json",
        include_str!("../../models/bench/three-tier.json"),
    ),
    (
        "large",
        "scenarios/bench/large.json",
        include_str!("../../scenarios/bench/large.json"),
        "models/bench/large.json",
        include_str!("../../models/bench/large.json"),
    ),
];

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Run only these benchmarks (mm8, three-tier, large).
    #[arg(long = "only", value_delimiter = ',')]
    only: Vec<String>,
    /// Override every benchmark's simulated duration (e.g. "60s").
    #[arg(long)]
    duration: Option<String>,
}

/// Peak resident memory of this process so far, from /proc (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    if let Some(unknown) = args
        .only
        .iter()
        .find(|n| !BENCHES.iter().any(|(name, ..)| name == n))
    {
        super::paint::error(&format!(
            "unknown benchmark `{unknown}` (benchmarks: mm8, three-tier, large)"
        ));
        return Ok(2);
    }
    let duration = match &args.duration {
        Some(text) => match spec::units::Duration::parse(text) {
            Ok(d) if d.0 > 0 => Some(d.0),
            Ok(_) => {
                super::paint::error("--duration: expected a positive duration");
                return Ok(2);
            }
            Err(e) => {
                super::paint::error(&format!("--duration: {e}"));
                return Ok(2);
            }
        },
        None => None,
    };
    outln!(
        "{:<11} {:>10} {:>12} {:>9} {:>13} {:>14} {:>16} {:>10}",
        "benchmark",
        "simulated",
        "events",
        "wall s",
        "M events/s",
        "M requests/s",
        "M activations/s",
        "peak MiB"
    );
    for (name, scenario_path, scenario_text, model_path, model_text) in BENCHES {
        if !args.only.is_empty() && !args.only.iter().any(|n| n == name) {
            continue;
        }
        let plan = Plan::from_texts(
            Source {
                path: PathBuf::from(scenario_path),
                text: scenario_text.to_string(),
            },
            Source {
                path: PathBuf::from(model_path),
                text: model_text.to_string(),
            },
        )?;
        let mut config = plan.config(None);
        if let Some(d) = duration {
            config.duration = d;
            config.warmup = 0;
        }
        let started = Instant::now();
        // The benchmark models are ours and their durations the user's: a
        // budget would only cut a long measurement short.
        let (summary, _) = simulate_within(
            &plan.topology,
            &[],
            config,
            crate::sim::Budget::UNLIMITED,
            NullObserver,
        );
        let wall = started.elapsed().as_secs_f64();
        // Requests: what the clients sent. Activations: every endpoint
        // execution those requests caused.
        let requests: u64 = summary.entries.iter().map(|e| e.arrivals).sum();
        outln!(
            "{:<11} {:>9}s {:>12} {:>9.2} {:>13.2} {:>14.3} {:>16.3} {:>10.0}",
            name,
            config.duration / 1_000_000_000,
            summary.events,
            wall,
            summary.events as f64 / wall / 1e6,
            requests as f64 / wall / 1e6,
            summary.activations as f64 / wall / 1e6,
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    Ok(0)
}
