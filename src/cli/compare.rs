//! `faultline compare SCENARIO --seeds N [--jobs J] [--shard I/N] [--out DIR]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::compare::{self, Seeds, Shard, partial, report};
use crate::plan::Plan;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Scenario file; its `variants` are compared (with the baseline).
    scenario: PathBuf,
    /// Seeds per variant: the scenario's seed and the next N-1.
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// First seed, instead of the scenario's.
    #[arg(long, short = 's')]
    first_seed: Option<u64>,
    /// Threads (default: every core). The results do not depend on it.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..1025))]
    jobs: Option<u64>,
    /// Run only slice I of N of the variant x seed grid (I counts from 0)
    /// and write a partial result for `faultline merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Base output directory.
    #[arg(long, short = 'o', default_value = "output")]
    out: PathBuf,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    // Every variant compiled once, when the scenario loads.
    let variants = Plan::load_all(&args.scenario)?;
    let seeds = Seeds {
        first: args.first_seed.unwrap_or(variants[0].config.seed),
        count: args.seeds,
    };
    let jobs = args
        .jobs
        .map_or_else(rayon::current_num_threads, |j| j as usize);
    match args.shard {
        Some(shard) => run_shard(
            report::Inputs::from_variants(&variants, seeds),
            &variants,
            shard,
            jobs,
            args.budget.budget(),
            &args.out,
        ),
        None => compare_whole(&variants, seeds, jobs, args.budget.budget(), &args.out).map(|_| ()),
    }?;
    Ok(0)
}

/// Runs `cells` of the grid on `jobs` threads with a progress bar, and
/// says on stderr how fast it went.
pub(super) fn run_grid(
    variants: &[Plan],
    seeds: Seeds,
    cells: &[u64],
    jobs: usize,
    budget: crate::sim::Budget,
) -> crate::Result<Vec<compare::RunFigures>> {
    let bar = super::progress::Progress::new(
        cells.len() as u64,
        "{spinner} runs [{bar:40}] {pos}/{len} ({eta})",
        |done, total, wall| format!("comparing: {done} of {total} runs done after {wall:.0} s"),
    );
    let started = Instant::now();
    let progress = bar.clone();
    let figures = compare::run_cells(variants, seeds, cells, jobs, budget, &move || {
        progress.inc(1)
    });
    bar.finish_and_clear();
    let figures = figures?;
    let wall = started.elapsed().as_secs_f64();
    let events: u64 = figures.iter().map(|f| f.events).sum();
    note!(
        "{} runs, {} events in {:.2} s wall clock on {jobs} thread{} ({:.2} M events/s, {:.2} M events/s per thread)",
        cells.len(),
        events,
        wall,
        if jobs == 1 { "" } else { "s" },
        events as f64 / wall / 1e6,
        events as f64 / wall / 1e6 / jobs as f64
    );
    Ok(figures)
}

/// The whole grid: writes `<out>/<scenario>/compare/`, prints the table,
/// and returns the directory written.
pub(super) fn compare_whole(
    variants: &[Plan],
    seeds: Seeds,
    jobs: usize,
    budget: crate::sim::Budget,
    out: &Path,
) -> crate::Result<PathBuf> {
    let inputs = report::Inputs::from_variants(variants, seeds);
    let cells: Vec<u64> = Shard::WHOLE.cells(inputs.cells()).collect();
    let figures = run_grid(variants, seeds, &cells, jobs, budget)?;
    let (dir, comparison) = report::write(out, &inputs, &figures)?;
    out!("{}", super::paint::verdicts(&report::table(&comparison)));
    outln!();
    outln!(
        "wrote {}/: compare.json, compare.csv, runs.csv, report.html (report.md + PNGs)",
        dir.display()
    );
    Ok(dir)
}

/// One slice of the grid of `inputs` (a comparison's or a sweep's),
/// written as a partial result for `merge`.
pub(super) fn run_shard(
    inputs: report::Inputs,
    variants: &[Plan],
    shard: Shard,
    jobs: usize,
    budget: crate::sim::Budget,
    out: &Path,
) -> crate::Result<()> {
    let cells: Vec<u64> = shard.cells(inputs.cells()).collect();
    let figures = run_grid(variants, inputs.seeds, &cells, jobs, budget)?;
    let partial = partial::Partial {
        format: partial::FORMAT.to_string(),
        shard,
        cells: cells
            .iter()
            .zip(figures)
            .map(|(&index, figures)| {
                let (variant, seed) = inputs.cell(index);
                partial::Cell {
                    index,
                    variant: variant.to_string(),
                    seed,
                    figures,
                }
            })
            .collect(),
        inputs,
    };
    let dir = partial::write(out, &partial)?;
    outln!(
        "shard {}/{}: {} of {} runs; wrote {}/{}",
        shard.index,
        shard.count,
        partial.cells.len(),
        partial.inputs.cells(),
        dir.display(),
        partial::FILE_NAME
    );
    outln!(
        "when every shard is done: faultline merge {}",
        out.join(&partial.inputs.scenario.name).display()
    );
    Ok(())
}
