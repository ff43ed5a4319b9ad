//! `faultline diff RUN_A RUN_B [-o DIR]`

use std::path::PathBuf;

use crate::diff::{self, Diff};
use crate::report::terminal;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The first run directory (`output/<scenario>/<variant>/seed-<n>`).
    run_a: PathBuf,
    /// The second, of the same model (another seed, variant or faultline
    /// version). Inputs are found where each run.json says, as for replay:
    /// diff from where the runs were made.
    run_b: PathBuf,
    /// Where to write diff.json, diff.csv and diff.svg/.png (default:
    /// output/<scenario>/diff-<variant>-seed-<n>-vs-<variant>-seed-<m>).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let built_in = [super::demo::SCENARIO, super::demo::MODEL];
    let diff = diff::diff(&args.run_a, &args.run_b, &built_in, args.budget.budget())?;
    print(&diff);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| diff.default_dir(std::path::Path::new("output")));
    diff.write(&dir)?;
    outln!(
        "wrote {}/ (diff.json, diff.csv, diff.svg, diff.png)",
        dir.display()
    );
    Ok(0)
}

fn side(which: &str, s: &diff::Side) -> String {
    format!(
        "{which}: {} ({}, seed {}, {} events, faultline {})",
        s.dir, s.variant, s.seed, s.events, s.tool_version
    )
}

/// Episodes out of band printed per component and run.
const SHOWN: usize = 4;

fn print(d: &Diff) {
    outln!("{}", side("A", &d.a));
    outln!("{}", side("B", &d.b));
    if d.model != "same" {
        outln!("model {} (the same components)", d.model);
    }
    if d.identical {
        outln!(
            "identical: the same trace (digest {}), every window's figures and every \
             component's health equal",
            d.a.trace_digest
        );
        return;
    }
    match (&d.divergence, &d.not_resimulated) {
        (Some(div), _) => outln!("first divergence {}", div.text),
        (None, None) => outln!("the traces do not part: every engine event is the same"),
        (None, Some(_)) => outln!("the state changes do not part"),
    }
    if let Some(why) = &d.not_resimulated {
        outln!("  (not simulated again: {why})");
    }
    if crate::cli::verbosity() == crate::cli::Verbosity::Quiet {
        return;
    }
    if d.top_windows.is_empty() {
        outln!("every window's figures are equal");
    } else {
        outln!("\nwhere the windows differ most (B − A):");
        let mut table = terminal::table(&[
            "window (s)",
            "component",
            "kind",
            "Δ arrivals",
            "errors A→B",
            "Δ error rate",
            "ok p99 ms A→B",
            "Δ queue",
        ]);
        terminal::left(&mut table, 1);
        terminal::left(&mut table, 2);
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("–".to_string(), f);
        for p in &d.top_windows {
            let (a, b) = (p.a, p.b);
            table.add_row(vec![
                format!("{}–{}", p.window_start_s, p.window_end_s),
                p.component.clone(),
                p.kind.name().to_string(),
                p.arrivals_delta().map_or("–".into(), |v| format!("{v:+}")),
                format!(
                    "{}→{}",
                    a.map_or("–".into(), |x| x.errors.to_string()),
                    b.map_or("–".into(), |x| x.errors.to_string())
                ),
                opt(p.error_rate_delta(), &|v| format!("{:+.1} pp", 100.0 * v)),
                format!(
                    "{}→{}",
                    opt(a.and_then(|x| x.p99_ms), &|v| format!("{v:.0}")),
                    opt(b.and_then(|x| x.p99_ms), &|v| format!("{v:.0}"))
                ),
                opt(p.queue_delta(), &|v| format!("{v:+.1}")),
            ]);
        }
        outln!("{table}");
        outln!(
            "  ok p99: of the window's successful requests (– where a run had none); queue: time-averaged"
        );
    }
    if d.health.is_empty() {
        outln!("\nevery component's health is the same in both runs");
    } else {
        outln!("\nhealth that differs:");
        let spans = |e: &[diff::windows::Episode]| {
            if e.is_empty() {
                "in band throughout".to_string()
            } else {
                // The whole list is in diff.json; a line stays readable.
                let mut shown: Vec<String> = e
                    .iter()
                    .take(SHOWN)
                    .map(|e| format!("{} {}–{} s", e.health.name(), e.from_s, e.to_s))
                    .collect();
                if e.len() > SHOWN {
                    shown.push(format!("… {} more", e.len() - SHOWN));
                }
                shown.join(", ")
            }
        };
        for h in &d.health {
            outln!(
                "  {} ({}), from {} s: A {}; B {}",
                h.component,
                h.kind.name(),
                h.differs_from_s,
                spans(&h.a),
                spans(&h.b)
            );
        }
    }
}
