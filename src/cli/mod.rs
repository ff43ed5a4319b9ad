//! The command line: clap arguments in, library calls out, errors mapped to
//! exit codes (0 ok, 1 a check failed, 2 bad input, 3 output not written).

/// `print!` to standard output, for a reader that may go away: `faultline
/// run … | head` must not panic when `head` has read enough. What cannot be
/// written is dropped and the command goes on to its own exit code (its
/// files are written either way).
/// Through `anstream`, which drops colour where it is not wanted (not a
/// terminal, `NO_COLOR`, `--color never`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        $crate::cli::printed(write!(anstream::stdout(), $($arg)*));
    }};
}

/// `println!` to standard output; see `out!`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        $crate::cli::printed(writeln!(anstream::stdout(), $($arg)*));
    }};
}

/// `eprintln!` for what `-q` silences (timings, progress lines).
macro_rules! note {
    ($($arg:tt)*) => {{
        if $crate::cli::verbosity() > $crate::cli::Verbosity::Quiet {
            anstream::eprintln!($($arg)*);
        }
    }};
}

mod bench;
mod check;
mod compare;
mod completions;
mod demo;
mod diff;
mod graph;
mod import;
mod lint;
mod merge;
mod new;
mod paint;
mod progress;
mod replay;
mod report;
mod run;
mod schema;
mod search;
mod sweep;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Deterministic chaos experiments on service architectures, before they
/// are built.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, long_about = None)]
pub struct Cli {
    /// Colour on a terminal: `auto` (off when `NO_COLOR` is set or output
    /// is not a terminal), `always`, `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// Print less: verdicts and where results went; no progress, no
    /// timings, no lint summary before a run.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more: before a run, every lint finding (notes too) with why it
    /// matters and what to change.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// How much the commands say: `-q`, default, `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

static VERBOSITY: std::sync::atomic::AtomicU8 =
    std::sync::atomic::AtomicU8::new(Verbosity::Normal as u8);

pub(crate) fn verbosity() -> Verbosity {
    match VERBOSITY.load(std::sync::atomic::Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario (no argument: the bundled demo) and write its run
    /// directory.
    Run(run::Args),
    /// Re-run a run directory from its recorded inputs and seed and prove
    /// it identical (exit 1 naming the first difference); optionally trace
    /// the requests of a window.
    Replay(replay::Args),
    /// Redraw the charts and reports of run directories from their files.
    Report(report::Args),
    /// Set two runs of one model side by side (seeds, variants, versions):
    /// where their traces first part, per-window differences of each
    /// component's figures, and whose health differs and when.
    Diff(diff::Args),
    /// Run every variant of a scenario over many seeds, in parallel, and
    /// compare them with confidence intervals.
    Compare(compare::Args),
    /// Combine the partial results of `compare --shard` runs into the
    /// comparison one unsharded run writes.
    Merge(merge::Args),
    /// Run one variant of a scenario over a grid of settings x seeds, in
    /// parallel: a heat map of a metric, metastable cells marked, and for
    /// a swept load the goodput against the load offered.
    Sweep(sweep::Args),
    /// Search the model's failure space for the smallest sets of faults
    /// that break the scenario's hypotheses: every instance, zone, service
    /// and link, alone, then in pairs (and triples), ranked, each written
    /// as a scenario to run.
    Search(search::Args),
    /// Run every scenario (and each of its variants) once and judge its
    /// hypotheses against what the scenario expects: a pass table, JUnit
    /// XML with --junit, exit 1 when any does not come out as expected.
    Check(check::Args),
    /// Write a commented model and scenario to start from (a fault, a
    /// hypothesis, variants), that validate and run as written.
    New(new::Args),
    /// Turn a Chaos Toolkit experiment or an AWS FIS experiment template
    /// into a scenario over a model, with a table of what each item became
    /// (or why it did not).
    Import(import::Args),
    /// Check model or scenario files and report every problem found.
    Validate {
        /// Model or scenario files (a scenario also checks its model).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Find what a model that validates may do that its author did not
    /// mean: single points of failure, timeouts longer than their caller's,
    /// retries multiplying down a path, pools and health checks that turn a
    /// slow dependency into an outage.
    Lint(lint::Args),
    /// Print the service dependency graph of a model (or a scenario's model).
    Graph(graph::Args),
    /// Print the JSON Schema of model or scenario files, for editors.
    Schema(schema::Args),
    /// Measure simulated events and requests per wall-clock second.
    Bench(bench::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell,
    /// elvish).
    Completions(completions::Args),
}

/// The limits a run is stopped at, for the commands that simulate.
#[derive(Debug, Clone, Copy, clap::Args)]
struct BudgetArgs {
    /// Stop a run that handles more events than this (exit 2, nothing
    /// written): a model that validates can still be far busier than meant.
    #[arg(long, value_name = "N", default_value_t = crate::sim::Budget::DEFAULT.max_events,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_events: u64,
    /// Stop a run with more requests than this in the system at once (exit
    /// 2, nothing written): what memory grows with.
    #[arg(long, value_name = "N", default_value_t = crate::sim::Budget::DEFAULT.max_in_flight,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight: u64,
}

impl BudgetArgs {
    fn budget(self) -> crate::sim::Budget {
        crate::sim::Budget {
            max_events: self.max_events,
            max_in_flight: self.max_in_flight,
        }
    }
}

/// The subcommand a mistyped one was probably meant to be, when clap's own
/// suggestion (by Jaro similarity) misses a transposition such as `rnu`.
fn mistyped_subcommand(e: &clap::Error) -> Option<String> {
    use clap::CommandFactory as _;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::InvalidSubcommand || e.get(ContextKind::SuggestedSubcommand).is_some()
    {
        return None;
    }
    let Some(ContextValue::String(typed)) = e.get(ContextKind::InvalidSubcommand) else {
        return None;
    };
    let command = Cli::command();
    let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
    crate::error::closest(typed, names.iter().copied()).map(str::to_string)
}

/// What became of a write to standard output: a closed pipe is the reader's
/// choice and not worth a word; any other failure is said once, on stderr.
pub(crate) fn printed(result: std::io::Result<()>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SAID: AtomicBool = AtomicBool::new(false);
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
        && !SAID.swap(true, Ordering::Relaxed)
    {
        paint::error(&format!("cannot write to standard output: {e}"));
    }
}

/// Parses the process arguments and runs the command; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            if let Some(name) = mistyped_subcommand(&e) {
                anstream::eprintln!("\n  tip: did you mean `faultline {name}`?");
            }
            return code;
        }
    };
    match cli.color {
        ColorWhen::Auto => {}
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
    }
    let level = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    VERBOSITY.store(level as u8, std::sync::atomic::Ordering::Relaxed);
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Report(args) => report::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Search(args) => search::run(args),
        Command::Check(args) => check::run(args),
        Command::New(args) => new::run(args),
        Command::Import(args) => import::run(args),
        Command::Validate { files } => validate::run(&files),
        Command::Lint(args) => lint::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Completions(args) => completions::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            paint::error(&e.to_string());
            e.exit_code()
        }
    }
}
