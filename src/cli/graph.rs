//! `faultline graph MODEL --format dot|mermaid`

use std::path::PathBuf;

use clap::ValueEnum;

use crate::topology::graph;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Format {
    Dot,
    Mermaid,
}

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A model file, or a scenario file (its model is drawn).
    file: PathBuf,
    #[arg(long, value_enum, default_value = "dot")]
    format: Format,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let topology = crate::plan::topology_of(&args.file)?;
    let text = match args.format {
        Format::Dot => graph::to_dot(&topology),
        Format::Mermaid => graph::to_mermaid(&topology),
    };
    out!("{text}");
    Ok(0)
}
