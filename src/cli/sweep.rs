//! `faultline sweep SCENARIO --set PATH=V1,V2,… [--set …] --seeds N
//! [--metric M] [--variant V] [--jobs J] [--shard I/N] [--out DIR]`

use std::path::PathBuf;

use crate::compare::report::{AxisRef, SweepRef};
use crate::compare::{Seeds, Shard};
use crate::error::{Error, JsonPath, Problem};
use crate::sweep;

/// The files a sweep directory holds, as the command says it.
pub(super) const FILES: &str =
    "sweep.json, sweep.csv, runs.csv, heatmap.svg/png (and goodput.svg/png for a swept load)";

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Scenario file.
    scenario: PathBuf,
    /// A setting: `PATH=VALUE` holds in every cell, `PATH=V1,V2,…` is an
    /// axis of the grid (at most two); paths as `run --set`.
    #[arg(long = "set", value_name = "PATH=V1,V2,…", required = true, value_parser = sweep::parse_axis)]
    sets: Vec<AxisRef>,
    /// Seeds per cell: the scenario's seed and the next N-1.
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// First seed, instead of the scenario's.
    #[arg(long, short = 's')]
    first_seed: Option<u64>,
    /// What the heat map and the table show.
    #[arg(long, default_value = "availability", value_parser = sweep::METRICS)]
    metric: String,
    /// The scenario's variant swept (a key of its `variants`).
    #[arg(long, default_value = crate::spec::BASELINE)]
    variant: String,
    /// Threads (default: every core). The results do not depend on it.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..1025))]
    jobs: Option<u64>,
    /// Run only slice I of N of the cell x seed grid (I counts from 0)
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
    let (axes, fixed): (Vec<AxisRef>, Vec<AxisRef>) =
        args.sets.into_iter().partition(|a| a.values.len() > 1);
    let refuse = |message: String| Error::Invalid {
        file: PathBuf::from("--set"),
        problems: vec![Problem::new(JsonPath::root(), message)],
    };
    if axes.is_empty() {
        return Err(refuse(
            "a sweep needs an axis: a --set with two or more values, such as `workload.users.rate=200/s,400/s,800/s`"
                .to_string(),
        ));
    }
    if axes.len() > 2 {
        return Err(refuse(format!(
            "a sweep has at most two axes (the heat map's), here {}: give the others one value, or sweep them in turn",
            axes.len()
        )));
    }
    let spec = SweepRef {
        variant: args.variant,
        fixed: fixed
            .iter()
            .map(|a| format!("{}={}", a.path, a.values[0]))
            .collect(),
        axes,
        metric: args.metric,
    };
    let plans = sweep::plans(&args.scenario, &spec)?;
    let seeds = Seeds {
        first: args.first_seed.unwrap_or(plans[0].config.seed),
        count: args.seeds,
    };
    let jobs = args
        .jobs
        .map_or_else(rayon::current_num_threads, |j| j as usize);
    let inputs = sweep::inputs(&plans, seeds, spec);
    let budget = args.budget.budget();
    if let Some(shard) = args.shard {
        super::compare::run_shard(inputs, &plans, shard, jobs, budget, &args.out)?;
        return Ok(0);
    }
    let cells: Vec<u64> = Shard::WHOLE.cells(inputs.cells()).collect();
    let figures = super::compare::run_grid(&plans, seeds, &cells, jobs, budget)?;
    let (dir, sweep) = sweep::write(&args.out, &inputs, &figures)?;
    out!("{}", sweep::table(&sweep));
    outln!();
    outln!("wrote {}/: {FILES}", dir.display());
    Ok(0)
}
