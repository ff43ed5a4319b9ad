//! `faultline compare SCENARIO --seeds N [--jobs J] [--shard I/N] [--out DIR]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::compare::{self, Seeds, Shard, partial, report};
use crate::plan::Plan;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Scenario file; its `variants` are compared (with the baseline).
    scenario: PathBuf,
    /// A what-if for every variant, as `run --set`: the value at PATH set
    /// before any variant patches the files; repeatable, recorded in
    /// compare.json.
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = crate::spec::Setting::parse)]
    sets: Vec<crate::spec::Setting>,
    #[command(flatten)]
    grid: GridArgs,
}

/// How a grid of runs (compare's variants, a sweep's cells) x seeds is run.
#[derive(Debug, clap::Args)]
pub(super) struct GridArgs {
    /// Seeds per variant (per cell of a sweep): the scenario's seed and the
    /// next N-1.
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
    pub(super) seeds: u64,
    /// First seed, instead of the scenario's.
    #[arg(long, short = 's')]
    pub(super) first_seed: Option<u64>,
    /// Threads (default: every core). The results do not depend on it.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..1025))]
    jobs: Option<u64>,
    /// Run only slice I of N of the grid (I counts from 0) and write a
    /// partial result for `faultline merge`.
    #[arg(long, value_name = "I/N")]
    pub(super) shard: Option<Shard>,
    /// Base output directory.
    #[arg(long, short = 'o', default_value = "output")]
    pub(super) out: PathBuf,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

impl GridArgs {
    /// The seeds, from the scenario's own unless `--first-seed` says.
    pub(super) fn seeds(&self, scenario_seed: u64) -> Seeds {
        Seeds {
            first: self.first_seed.unwrap_or(scenario_seed),
            count: self.seeds,
        }
    }

    pub(super) fn jobs(&self) -> usize {
        self.jobs
            .map_or_else(rayon::current_num_threads, |j| j as usize)
    }

    pub(super) fn budget(&self) -> crate::sim::Budget {
        self.budget.budget()
    }
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    // Every variant compiled once, when the scenario loads.
    let variants = Plan::load_all_with(&args.scenario, &args.sets)?;
    let grid = &args.grid;
    let seeds = grid.seeds(variants[0].config.seed);
    let inputs = report::Inputs::from_variants(&variants, seeds);
    match grid.shard {
        Some(shard) => run_shard(inputs, &variants, shard, grid),
        None => compare_whole(&variants, seeds, grid.jobs(), grid.budget(), &grid.out).map(|_| ()),
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
    grid: &GridArgs,
) -> crate::Result<()> {
    let out = &grid.out;
    let cells: Vec<u64> = shard.cells(inputs.cells()).collect();
    let figures = run_grid(variants, inputs.seeds, &cells, grid.jobs(), grid.budget())?;
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
