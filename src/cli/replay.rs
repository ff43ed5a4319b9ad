//! `faultline replay RUN_DIR [--from T --to T]`

use std::path::PathBuf;

use crate::experiment::replay::{self, Verdict};
use crate::plan::Plan;
use crate::spec::units::Duration;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A run directory (`output/<scenario>/<variant>/seed-<n>`). Inputs are
    /// found where its run.json says, relative paths from the working
    /// directory: replay from where the run was made.
    run_dir: PathBuf,
    /// Also write RUN_DIR/trace.jsonl: every hop of the requests that
    /// arrive from this virtual time (e.g. "55s")...
    #[arg(long, requires = "to", value_parser = Duration::parse)]
    from: Option<Duration>,
    /// ...up to this one (exclusive, e.g. "1m 5s").
    #[arg(long, requires = "from", value_parser = Duration::parse)]
    to: Option<Duration>,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let recorded = replay::read_manifest(&args.run_dir)?;
    let built_in = [super::demo::SCENARIO, super::demo::MODEL];
    let (scenario, model) = replay::read_inputs(&recorded, &args.run_dir, &built_in)?;
    let changed = replay::changed_inputs(&recorded, &scenario, &model);
    if !changed.is_empty() {
        for change in &changed {
            outln!("{change}");
        }
        outln!("not replayed: the run cannot be remade from inputs that changed");
        return Ok(1);
    }
    let plan = Plan::all_from_texts(scenario, model, &replay::settings(&recorded))?.swap_remove(0);
    let plan = replay::with_variant(plan, &recorded.variant, &args.run_dir)?;
    let plan = if recorded.per_instance {
        plan.with_per_instance()?
    } else {
        plan
    };
    let window = match (args.from, args.to) {
        (Some(from), Some(to)) => {
            let duration = Duration(plan.config.duration);
            if from >= to || to > duration {
                super::paint::error(&format!(
                    "--from {from} --to {to}: the window must start before it ends and \
                     lie within the run (0s to {duration})"
                ));
                return Ok(2);
            }
            Some((from.0, to.0))
        }
        _ => None,
    };
    if recorded.tool.version != env!("CARGO_PKG_VERSION") {
        eprintln!(
            "note: the run was made by faultline {}, this is {}",
            recorded.tool.version,
            env!("CARGO_PKG_VERSION")
        );
    }
    let verdict = replay::rerun(&plan, &recorded, &args.run_dir, args.budget.budget())?;
    if !verdict.identical() {
        report_mismatch(&verdict);
        return Ok(1);
    }
    outln!(
        "identical: {} replayed with seed {}, {} events, trace digest {}",
        args.run_dir.display(),
        recorded.seed,
        verdict.summary.events,
        verdict.replayed_digest
    );
    if let Some((from, to)) = window {
        let (summary, tracer) =
            replay::trace_window(&plan, recorded.seed, from, to, args.budget.budget())?;
        // Tracing only watches; a traced run that went differently would
        // make the trace describe some other run.
        if summary.trace_digest != verdict.replayed_digest {
            super::paint::error(&format!(
                "the traced run differs from the run (trace digest {}): a bug in faultline's tracing",
                summary.trace_digest
            ));
            return Ok(1);
        }
        let (path, lines) = replay::write_trace(&args.run_dir, &plan.topology, &tracer)?;
        outln!(
            "wrote {} ({lines} lines: one per hop of the requests that arrived in [{}, {}); \
             {} still in flight when the run ended)",
            path.display(),
            Duration(from),
            Duration(to),
            tracer.in_flight()
        );
    }
    Ok(0)
}

fn report_mismatch(verdict: &Verdict) {
    outln!("NOT identical");
    if verdict.recorded_digest != verdict.replayed_digest {
        outln!(
            "trace digest recorded {}, replayed {}",
            verdict.recorded_digest,
            verdict.replayed_digest
        );
    }
    if let Some((first, rest)) = verdict.differences.split_first() {
        outln!("first difference: {first}");
        if !rest.is_empty() {
            let files: Vec<&str> = rest.iter().map(|d| d.file()).collect();
            outln!("also differ: {}", files.join(", "));
        }
    }
}
