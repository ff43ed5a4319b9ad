//! `faultline lint FILE... [--deny warnings] [--format json]`

use std::path::PathBuf;

use clap::ValueEnum;

use crate::lint::{self, Finding, Severity};
use crate::plan::Plan;
use crate::spec::{self, Source};
use crate::topology::Topology;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Level {
    Errors,
    Warnings,
    Notes,
}

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Model or scenario files (a scenario lints its model as the baseline
    /// runs it, and its faults).
    #[arg(required_unless_present = "rules")]
    files: Vec<PathBuf>,
    /// Exit 1 when a finding at or above this level is not allowed.
    #[arg(long, value_enum, default_value = "errors")]
    deny: Level,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// List the rules and exit.
    #[arg(long)]
    rules: bool,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    if args.rules {
        for rule in lint::rules() {
            outln!(
                "{} {:<32} {:<8} {}",
                rule.code,
                rule.name,
                rule.severity.name(),
                rule.summary
            );
        }
        return Ok(0);
    }
    let deny = match args.deny {
        Level::Errors => Severity::Error,
        Level::Warnings => Severity::Warning,
        Level::Notes => Severity::Note,
    };
    let mut all: Vec<Finding> = Vec::new();
    for file in &args.files {
        all.extend(findings(file)?);
    }
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&all).expect("findings serialise")
        ),
        Format::Text => {
            for finding in &all {
                outln!("{}\n", super::paint::verdicts(&finding.to_string()));
            }
            outln!("lint: {}", lint::summary(&all));
        }
    }
    let denied = all
        .iter()
        .any(|f| f.allowed.is_none() && f.severity >= deny);
    Ok(if denied { 1 } else { 0 })
}

/// The findings on one file, a model or a scenario.
fn findings(file: &std::path::Path) -> crate::Result<Vec<Finding>> {
    let source = Source::read(file)?;
    spec::check_syntax(&source)?;
    if spec::looks_like_scenario(&source) {
        Ok(lint::plan(&Plan::load(file)?))
    } else {
        let model = spec::parse_model(&source)?;
        let topology = Topology::compile(&model).map_err(|p| source.invalid(p))?;
        Ok(lint::model(&topology, &source, model.lint.as_ref()))
    }
}
