//! `faultline sweep SCENARIO --set PATH=V1,V2,… [--set …] --seeds N
//! [--metric M] [--variant V] [--jobs J] [--shard I/N] [--out DIR]`

use std::path::PathBuf;

use crate::compare::Shard;
use crate::compare::report::{AxisRef, SweepRef};
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
    /// What the heat map and the table show.
    #[arg(long, default_value = "availability", value_parser = sweep::METRICS)]
    metric: String,
    /// The scenario's variant swept (a key of its `variants`).
    #[arg(long, default_value = crate::spec::BASELINE)]
    variant: String,
    #[command(flatten)]
    grid: super::compare::GridArgs,
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
    let grid = &args.grid;
    let seeds = grid.seeds(plans[0].config.seed);
    let inputs = sweep::inputs(&plans, seeds, spec);
    if let Some(shard) = grid.shard {
        super::compare::run_shard(inputs, &plans, shard, grid)?;
        return Ok(0);
    }
    let cells: Vec<u64> = Shard::WHOLE.cells(inputs.cells()).collect();
    let figures = super::compare::run_grid(&plans, seeds, &cells, grid.jobs(), grid.budget())?;
    let (dir, sweep) = sweep::write(&grid.out, &inputs, &figures)?;
    out!("{}", sweep::table(&sweep));
    outln!();
    outln!("wrote {}/: {FILES}", dir.display());
    Ok(0)
}
