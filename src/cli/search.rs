//! `faultline search SCENARIO [--depth D] [--seeds N] [--max-candidates M]
//! [--jobs J] [--shard I/N] [--out DIR]`

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use crate::compare::{Seeds, Shard};
use crate::plan::Plan;
use crate::search::partial::{self, Cell, Partial, Slice};
use crate::search::{self, LevelRun, RunRecord, Search, Settings, Severity, output};
use crate::spec::units::Duration;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Scenario file: its model is searched, its hypotheses judge each set
    /// of faults (its own faults are left out).
    scenario: PathBuf,
    /// The scenario's variant searched (a key of its `variants`).
    #[arg(long, default_value = crate::spec::BASELINE)]
    variant: String,
    /// The largest sets of faults tried together: 1 (singles), 2 (pairs)
    /// or 3 (triples).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=search::MAX_DEPTH as i64))]
    depth: u32,
    /// Seeds each set runs on: the scenario's seed and the next N-1.
    #[arg(long, short = 'n', default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// First seed, instead of the scenario's.
    #[arg(long, short = 's')]
    first_seed: Option<u64>,
    /// The most sets run in all; a level that would pass it is not run
    /// (and the search says so).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    max_candidates: u64,
    /// When every fault starts (default: when the scenario's first fault
    /// does, or a third into the measured run).
    #[arg(long, value_parser = Duration::parse)]
    at: Option<Duration>,
    /// How long the lasting faults last (default: as long as the
    /// scenario's own, or a third of the measured run).
    #[arg(long = "for", value_parser = Duration::parse)]
    lasting: Option<Duration>,
    /// Work times of a slowed service are multiplied by this.
    #[arg(long, default_value_t = 10.0)]
    slow_factor: f64,
    /// Share of an erroring service's requests that fail, in (0, 1].
    #[arg(long, default_value_t = 0.5)]
    error_share: f64,
    /// Minimal sets printed (all are written).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Threads (default: every core). The results do not depend on it.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..1025))]
    jobs: Option<u64>,
    /// Run the levels below the last in full and only slice I of N of the
    /// last (I counts from 0), and write a partial result for `faultline
    /// merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Base output directory.
    #[arg(long, short = 'o', default_value = "output")]
    out: PathBuf,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

fn bad_flag(flag: &str, message: String) -> crate::Error {
    crate::Error::Invalid {
        file: PathBuf::from(flag),
        problems: vec![crate::error::Problem::new(
            crate::error::JsonPath::root(),
            message,
        )],
    }
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    if !(args.slow_factor.is_finite() && args.slow_factor > 1.0) {
        return Err(bad_flag(
            "--slow-factor",
            format!("expected a factor above 1, found {}", args.slow_factor),
        ));
    }
    if !(args.error_share > 0.0 && args.error_share <= 1.0) {
        return Err(bad_flag(
            "--error-share",
            format!("expected a share in (0, 1], found {}", args.error_share),
        ));
    }
    let plan = Plan::load(&args.scenario)?.with_variant(&args.variant)?;
    let own: Vec<String> = plan.faults.iter().map(|f| f.name.clone()).collect();
    let guards: Vec<String> = plan.guards.iter().map(|g| g.name.clone()).collect();
    let settings = Settings {
        depth: args.depth,
        seeds: Seeds {
            first: args.first_seed.unwrap_or(plan.config.seed),
            count: args.seeds,
        },
        severity: Severity {
            slow_factor: args.slow_factor,
            error_share: args.error_share,
        },
        at_ns: args.at.map(|d| d.0),
        for_ns: args.lasting.map(|d| d.0),
        max_candidates: args.max_candidates,
    };
    let search = Search::new(plan, settings)?;
    let jobs = args
        .jobs
        .map_or_else(rayon::current_num_threads, |j| j as usize);
    let budget = args.budget.budget();
    let bounds = announce(&search, &own, &guards, jobs);
    let started = Instant::now();
    let first_break: Mutex<Option<f64>> = Mutex::new(None);
    let mut done: Vec<LevelRun> = Vec::new();
    loop {
        if let Some(why) = output::stop_reason(&search.inputs, &done) {
            note!("stopping: {why}");
            break;
        }
        let Some(next) = search.next_level(&done) else {
            break;
        };
        let size = done.len() as u32;
        let total = next.sets.len() as u64 * search.seeds().count;
        // A shard runs its slice of the last level only.
        let slice = args.shard.filter(|_| size == args.depth);
        let cells: Vec<u64> = slice.unwrap_or(Shard::WHOLE).cells(total).collect();
        let level_started = Instant::now();
        let runs = run_with_progress(
            &search,
            &next.sets,
            &cells,
            size,
            jobs,
            budget,
            &first_break,
            started,
        )?;
        if let Some(shard) = slice {
            let last = Slice {
                size,
                enumerated: next,
                cells: cells
                    .into_iter()
                    .zip(runs)
                    .map(|(index, run)| Cell { index, run })
                    .collect(),
            };
            return write_shard(&search, shard, done, Some(last), &args.out);
        }
        if size == 0 {
            estimate(
                &search,
                &bounds,
                level_started.elapsed().as_secs_f64(),
                jobs,
            );
        }
        done.push(LevelRun {
            size,
            enumerated: next,
            runs,
        });
    }
    if let Some(shard) = args.shard {
        // Stopped below the last level: every shard ran the same levels.
        return write_shard(&search, shard, done, None, &args.out);
    }
    let wall = started.elapsed().as_secs_f64();
    let sets: usize = done.iter().map(|l| l.enumerated.sets.len()).sum();
    let runs: usize = done.iter().map(|l| l.runs.len()).sum();
    let (dir, report) = output::write(&args.out, &search.inputs, &done)?;
    out!("{}", output::table(&report, args.top));
    outln!();
    outln!("wrote {}/: {}", dir.display(), output::FILES);
    let first = first_break.into_inner().unwrap_or_else(|e| e.into_inner());
    note!(
        "{sets} sets, {runs} runs in {wall:.1} s wall clock on {jobs} thread{} ({:.1} sets/s, {:.1} runs/s){}",
        if jobs == 1 { "" } else { "s" },
        sets as f64 / wall,
        runs as f64 / wall,
        first.map_or(String::new(), |t| format!(
            "; the first breaking set after {t:.1} s"
        ))
    );
    Ok(0)
}

/// Writes a shard's partial result: the levels it ran in full and its
/// slice of the last, if it got that far.
fn write_shard(
    search: &Search,
    shard: Shard,
    levels: Vec<LevelRun>,
    last: Option<Slice>,
    out: &std::path::Path,
) -> crate::Result<i32> {
    let partial = Partial {
        format: partial::FORMAT.to_string(),
        search: search.inputs.clone(),
        shard,
        levels,
        last,
    };
    let dir = partial::write(out, &partial)?;
    outln!(
        "shard {}/{}: wrote {}/partial.json; merge the shards with `faultline merge`",
        shard.index,
        shard.count,
        dir.display()
    );
    Ok(0)
}

/// What the search will do, before it does it: the failure space, the
/// window, and the most sets it may run.
/// Returns the most sets of each size the search may run (before what
/// breaks is known), the control's first.
fn announce(search: &Search, own: &[String], guards: &[String], jobs: usize) -> Vec<u64> {
    let inputs = &search.inputs;
    let mut classes: indexmap::IndexMap<&str, usize> = indexmap::IndexMap::new();
    for atom in &inputs.space.atoms {
        *classes.entry(atom.class.as_str()).or_default() += 1;
    }
    let singles = inputs.space.sets(1, &Default::default()).sets.len();
    note!(
        "failure space of `{}`: {} faults ({}), {} single sets once identical instances are taken once",
        inputs.inputs.model.name,
        inputs.space.len(),
        classes
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", "),
        singles
    );
    note!(
        "every fault at {}, the lasting ones for {}; judged by {}",
        Duration(inputs.window.at_ns),
        Duration(inputs.window.for_ns),
        inputs.hypotheses.join(", ")
    );
    if !own.is_empty() || !guards.is_empty() {
        note!(
            "left out of every set: the scenario's own faults ({}){}",
            if own.is_empty() {
                "none".to_string()
            } else {
                own.join(", ")
            },
            if guards.is_empty() {
                String::new()
            } else {
                format!(" and stop guards ({})", guards.join(", "))
            }
        );
    }
    let mut bounds = vec![1, singles as u64];
    let mut parts = vec!["1 control".to_string(), format!("{singles} singles")];
    for size in 2..=inputs.depth as usize {
        let n = inputs.space.sets(size, &Default::default()).sets.len() as u64;
        bounds.push(n);
        parts.push(format!(
            "at most {n} sets of {size} (fewer once sets that break are known)"
        ));
    }
    let bound: u64 = bounds.iter().sum();
    note!(
        "budget: {} = at most {bound} sets × {} seeds = {} runs on {jobs} thread{}; --max-candidates {}",
        parts.join(" + "),
        inputs.inputs.seeds.count,
        bound * inputs.inputs.seeds.count,
        if jobs == 1 { "" } else { "s" },
        inputs.max_candidates
    );
    bounds
}

/// The wall time to expect, from the control's runs and the most sets of
/// each size.
fn estimate(search: &Search, bounds: &[u64], control_s: f64, jobs: usize) {
    let inputs = &search.inputs;
    let seeds = inputs.inputs.seeds.count;
    let per_run = control_s * (jobs.min(seeds as usize)) as f64 / seeds as f64;
    let singles = bounds.get(1).copied().unwrap_or(0);
    let sets = bounds
        .iter()
        .skip(1)
        .sum::<u64>()
        .min(inputs.max_candidates);
    note!(
        "a run takes about {per_run:.3} s: the singles about {:.0} s, the whole search at most about {:.0} s on {jobs} thread{}",
        per_run * (singles * seeds) as f64 / jobs as f64,
        per_run * (sets * seeds) as f64 / jobs as f64,
        if jobs == 1 { "" } else { "s" }
    );
}

#[allow(clippy::too_many_arguments)]
fn run_with_progress(
    search: &Search,
    sets: &[search::Set],
    cells: &[u64],
    size: u32,
    jobs: usize,
    budget: crate::sim::Budget,
    first_break: &Mutex<Option<f64>>,
    started: Instant,
) -> crate::Result<Vec<RunRecord>> {
    let what = match size {
        0 => "no fault".to_string(),
        1 => "single faults".to_string(),
        n => format!("sets of {n}"),
    };
    let line_what = what.clone();
    let bar = super::progress::Progress::new(
        cells.len() as u64,
        &format!("{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{eta}})"),
        move |done, total, wall| {
            format!("searching {line_what}: {done} of {total} runs done after {wall:.0} s")
        },
    );
    let progress = bar.clone();
    let runs = search.run_cells(sets, cells, jobs, budget, &move |record| {
        if size > 0 && record.broke() {
            let mut first = first_break.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                *first = Some(started.elapsed().as_secs_f64());
            }
        }
        progress.inc(1)
    });
    bar.finish_and_clear();
    runs
}
