//! `faultline report DIR`: redraws the charts and reports of run
//! directories from their files, without simulating again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{JsonPath, Problem};
use crate::spec::Source;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A run directory (`output/<scenario>/<variant>/seed-<n>`), a
    /// comparison (`output/<scenario>/compare`), or any directory above
    /// them: every one found below is redrawn.
    dir: PathBuf,
}

/// Run directories at or below `dir`, in path order.
fn run_dirs(dir: &Path, found: &mut Vec<PathBuf>) {
    if dir.join("run.json").is_file() || dir.join("compare.json").is_file() {
        found.push(dir.to_path_buf());
        return;
    }
    let children = crate::experiment::output::subdirectories(dir);
    for child in children {
        run_dirs(&child, found);
    }
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let mut found = Vec::new();
    run_dirs(&args.dir, &mut found);
    if found.is_empty() {
        let source = Source {
            path: args.dir.clone(),
            text: String::new(),
        };
        return Err(source.invalid(vec![Problem::new(
            JsonPath::root(),
            "no run directory here or below it: expected a directory holding run.json \
             (e.g. output/shop-steady/baseline/seed-42) or compare.json",
        )]));
    }
    for dir in found {
        let started = Instant::now();
        if dir.join("compare.json").is_file() {
            crate::report::comparison::write_compare_report(&dir)?;
        } else {
            crate::report::write_run_report(&dir)?;
        }
        outln!("wrote {}/report.html and report.md", dir.display());
        note!("  drawn in {:.2} s", started.elapsed().as_secs_f64());
    }
    Ok(0)
}
