//! The command line: clap arguments in, library calls out, errors mapped to
//! exit codes (0 ok, 1 a check failed, 2 bad input, 3 output not written).

/// `print!` to standard output, for a reader that may go away: `faultline
/// run … | head` must not panic when `head` has read enough. What cannot be
/// written is dropped and the command goes on to its own exit code (its
/// files are written either way).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        $crate::cli::printed(write!(std::io::stdout(), $($arg)*));
    }};
}

/// `println!` to standard output; see `out!`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        $crate::cli::printed(writeln!(std::io::stdout(), $($arg)*));
    }};
}

mod bench;
mod compare;
mod demo;
mod graph;
mod lint;
mod merge;
mod new;
mod progress;
mod replay;
mod report;
mod run;
mod schema;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Deterministic chaos experiments on service architectures, before they
/// are built.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Run every variant of a scenario over many seeds, in parallel, and
    /// compare them with confidence intervals.
    Compare(compare::Args),
    /// Combine the partial results of `compare --shard` runs into the
    /// comparison one unsharded run writes.
    Merge(merge::Args),
    /// Write a commented model and scenario to start from (a fault, a
    /// hypothesis, variants), that validate and run as written.
    New(new::Args),
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

/// What became of a write to standard output: a closed pipe is the reader's
/// choice and not worth a word; any other failure is said once, on stderr.
pub(crate) fn printed(result: std::io::Result<()>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SAID: AtomicBool = AtomicBool::new(false);
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
        && !SAID.swap(true, Ordering::Relaxed)
    {
        eprintln!("error: cannot write to standard output: {e}");
    }
}

/// Parses the process arguments and runs the command; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Report(args) => report::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Merge(args) => merge::run(args),
        Command::New(args) => new::run(args),
        Command::Validate { files } => validate::run(&files),
        Command::Lint(args) => lint::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
