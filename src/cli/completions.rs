//! `faultline completions SHELL`: a completion script on standard output,
//! generated from the same clap definition the binary parses with, so it
//! cannot fall behind a new flag.

use clap::CommandFactory as _;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "faultline", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(0)
}
