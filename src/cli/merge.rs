//! `faultline merge DIR... [--out DIR]`

use std::path::PathBuf;

use crate::compare::{partial, report};

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Partial results of `compare --shard`, `sweep --shard` or `search --shard`: shard directories, their
    /// `partial.json` files, or directories above them (searched).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Base output directory.
    #[arg(long, short = 'o', default_value = "output")]
    out: PathBuf,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let files = partial::find(&args.paths)?;
    if files.iter().any(|f| crate::search::partial::is_search(f)) {
        let (inputs, levels) = crate::search::partial::merge(&files)?;
        let (dir, report) = crate::search::output::write(&args.out, &inputs, &levels)?;
        out!("{}", crate::search::output::table(&report, 10));
        outln!();
        outln!(
            "merged {} partial results; wrote {}/: {}",
            files.len(),
            dir.display(),
            crate::search::output::FILES
        );
        return Ok(0);
    }
    let (inputs, figures) = partial::merge(&files)?;
    if inputs.sweep.is_some() {
        let (dir, sweep) = crate::sweep::write(&args.out, &inputs, &figures)?;
        out!("{}", crate::sweep::table(&sweep));
        outln!();
        outln!(
            "merged {} partial results; wrote {}/: {}",
            files.len(),
            dir.display(),
            super::sweep::FILES
        );
        return Ok(0);
    }
    let (dir, comparison) = report::write(&args.out, &inputs, &figures)?;
    out!("{}", super::paint::verdicts(&report::table(&comparison)));
    outln!();
    outln!(
        "merged {} partial results; wrote {}/: compare.json, compare.csv, runs.csv",
        files.len(),
        dir.display()
    );
    Ok(0)
}
