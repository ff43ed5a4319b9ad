//! The bundled demo, `faultline run` with no scenario: what faultline is
//! for, in a few seconds. A database slows down; the pool to it runs dry,
//! the gateway's workers fill with waiting checkouts and product pages that
//! never touch the database fail too (the cascade); the hypothesis fails;
//! then every mitigation the scenario offers is compared with the baseline
//! over a handful of seeds.

use std::path::{Path, PathBuf};

use crate::compare::Seeds;
use crate::plan::Plan;
use crate::spec::Source;

/// The demo scenario and its model, built into the binary so that the demo
/// runs from any directory (and `replay` finds them there).
pub(super) const SCENARIO: (&str, &str) = (
    "scenarios/slow-database.json",
    include_str!("../../scenarios/slow-database.json"),
);
pub(super) const MODEL: (&str, &str) = (
    "models/checkout.json",
    include_str!("../../models/checkout.json"),
);

/// Seeds per variant in the demo's comparison: enough for intervals that
/// separate the mitigations here, few enough to take about a second.
const SEEDS: u64 = 8;

fn sources() -> (Source, Source) {
    let source = |(path, text): (&str, &str)| Source {
        path: PathBuf::from(format!("(built-in) {path}")),
        text: text.to_string(),
    };
    (source(SCENARIO), source(MODEL))
}

/// The baseline's plan, with what-if settings.
pub(super) fn plan(sets: &[crate::spec::Setting]) -> crate::Result<Plan> {
    let (scenario, model) = sources();
    Ok(Plan::all_from_texts(scenario, model, sets)?.swap_remove(0))
}

/// After the demo's run: the comparison of its variants, then where to look
/// and what to do next. The demo exits 0 even though its baseline fails its
/// hypothesis: it is a tour, and says what a check would have done.
pub(super) fn compare_mitigations(
    run: &Plan,
    seed: u64,
    out: &Path,
    run_dir: &Path,
    budget: crate::sim::Budget,
    failed: bool,
) -> crate::Result<()> {
    let (scenario, model) = sources();
    let variants = Plan::all_from_texts(scenario, model, &[])?;
    let seeds = Seeds {
        first: seed,
        count: SEEDS,
    };
    outln!();
    outln!(
        "how the mitigations compare: each variant of the scenario against `baseline`, on seeds {}..={} (the same traffic and fault timing for every variant)",
        seeds.first,
        seeds.first + seeds.count - 1
    );
    let jobs = rayon::current_num_threads();
    let compare_dir = super::compare::compare_whole(&variants, seeds, jobs, budget, out)?;

    let name = &run.experiment.scenario.name;
    outln!();
    outln!("This was the built-in demo (scenario `{name}`). Open in a browser:");
    outln!(
        "  {}/report.html   the run: the cascade, charts, hypothesis",
        run_dir.display()
    );
    outln!(
        "  {}/report.html   the comparison: what each mitigation changes, with intervals",
        compare_dir.display()
    );
    if failed {
        outln!(
            "The baseline fails its hypothesis: run from its file, a scenario like this exits 1, as a CI check would; the demo exits 0."
        );
    }
    outln!("Next:");
    if Path::new(SCENARIO.0).is_file() {
        // In the source tree: the demo's own files, and the others beside them.
        outln!(
            "  faultline run {}                  this demo from its file (and scenarios/ holds more)",
            SCENARIO.0
        );
        outln!(
            "  faultline compare {} --seeds 20  the comparison on more seeds",
            SCENARIO.0
        );
    }
    outln!(
        "  faultline new my-design                       a commented model and scenario of your own to start from (`--template checkout` is this demo's)"
    );
    Ok(())
}
