//! The JSON files faultline leaves behind, as types: `run.json`
//! ([`run::Manifest`]) and `compare.json` ([`compare::Comparison`]);
//! `analysis.json` is [`crate::analysis::Analysis`], one layer down. The
//! commands that write a file and the report that reads it back share one
//! struct, so a field renamed on one side is renamed on the other, and a
//! file that lacks a field is an error that names it, never a `?` in a
//! report.
//!
//! Only the shapes live here. What fills them from a run (`experiment`)
//! or a grid of runs (`compare`) stays with those, above the report.

pub mod compare;
pub mod run;
pub mod search;

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::spec::Source;

/// The program that wrote a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// Reads one of faultline's own JSON files into the struct that wrote it. A
/// missing or mistyped field is bad input naming the file, the JSON path and
/// the line.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T> {
    crate::spec::deserialize(&Source::read(path)?)
}

/// Pretty-printed with a final newline, as every JSON file is written.
pub fn to_json(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("output records serialise");
    text.push('\n');
    text
}

/// Rounds to a fixed number of decimals so a file reads well and stays
/// byte-stable.
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}
