//! A search split into shards. What a level runs depends on the levels
//! below it, so each shard runs those in full (they are the small ones:
//! singles decide which pairs run) and its own slice of the last level,
//! cells `k` with `k mod N = I`. `merge` checks that the shards are of one
//! search, that they agree on every level below the last, and that they
//! cover the last exactly once, then writes what one unsharded search
//! writes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Enumerated, LevelRun, RunRecord, SearchInputs};
use crate::compare::Shard;
use crate::error::{Error, JsonPath, Problem, Result};
use crate::experiment::output::Staging;

/// Identifies the file format, so that merge refuses anything else.
pub const FORMAT: &str = "faultline-search-partial/1";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    pub format: String,
    pub search: SearchInputs,
    pub shard: Shard,
    /// The levels run in full, from the control up.
    pub levels: Vec<LevelRun>,
    /// The last level's sets and this shard's cells of it; `None` when the
    /// search stopped (on its budget, or a control that broke) before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Slice>,
}

/// A shard's part of the last level.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Slice {
    pub size: u32,
    pub enumerated: Enumerated,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    pub index: u64,
    pub run: RunRecord,
}

/// Writes a shard's partial result atomically; returns its directory.
pub fn write(base: &Path, partial: &Partial) -> Result<PathBuf> {
    let dir = crate::compare::partial::shard_dir(
        base,
        &partial.search.inputs.scenario.name,
        "search",
        partial.shard,
    );
    let staging = Staging::new(&dir)?;
    staging.write_file(
        crate::compare::partial::FILE_NAME,
        &crate::record::to_json(partial),
    )?;
    staging.commit()?;
    Ok(dir)
}

fn problem(file: &Path, path: JsonPath, message: impl Into<String>) -> Error {
    Error::Invalid {
        file: file.to_path_buf(),
        problems: vec![Problem::new(path, message)],
    }
}

/// Whether the file at `path` is a search's partial (rather than a
/// comparison's or a sweep's).
pub fn is_search(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.contains(FORMAT))
}

/// Reads and checks one partial file.
pub fn read(path: &Path) -> Result<Partial> {
    let source = crate::spec::Source::read(path)?;
    let partial: Partial = crate::spec::deserialize(&source)?;
    if partial.format != FORMAT {
        return Err(problem(
            path,
            JsonPath::root().key("format"),
            format!("expected \"{FORMAT}\", found \"{}\"", partial.format),
        ));
    }
    let inputs = &partial.search.inputs;
    for (what, name, at) in [
        ("scenario", &inputs.scenario.name, "scenario"),
        ("variant", &partial.search.variant, "variant"),
    ] {
        if let Some(message) = crate::spec::names::problem(what, name) {
            let path_in = JsonPath::root().key("search");
            let path_in = if at == "scenario" {
                path_in.key("inputs").key("scenario").key("name")
            } else {
                path_in.key("variant")
            };
            return Err(problem(path, path_in, message));
        }
    }
    let per = inputs.seeds.count;
    for (l, level) in partial.levels.iter().enumerate() {
        if level.runs.len() as u64 != level.enumerated.sets.len() as u64 * per {
            return Err(problem(
                path,
                JsonPath::root().key("levels").index(l).key("runs"),
                format!(
                    "expected {} runs ({} sets × {per} seeds), found {}",
                    level.enumerated.sets.len() as u64 * per,
                    level.enumerated.sets.len(),
                    level.runs.len()
                ),
            ));
        }
    }
    let atoms = partial.search.space.len() as u32;
    let sets = partial
        .levels
        .iter()
        .map(|l| &l.enumerated)
        .chain(partial.last.as_ref().map(|s| &s.enumerated));
    for set in sets.flat_map(|e| e.sets.iter()) {
        if let Some(a) = set.iter().find(|a| **a >= atoms) {
            return Err(problem(
                path,
                JsonPath::root().key("levels"),
                format!("a set names fault {a}, but the search has {atoms}"),
            ));
        }
    }
    if let Some(last) = &partial.last {
        let total = last.enumerated.sets.len() as u64 * per;
        let expected: Vec<u64> = partial.shard.cells(total).collect();
        let found: Vec<u64> = last.cells.iter().map(|c| c.index).collect();
        if expected != found {
            return Err(problem(
                path,
                JsonPath::root().key("last").key("cells"),
                format!(
                    "shard {}/{} of {total} cells should hold {} cells, holds {} (or others)",
                    partial.shard.index,
                    partial.shard.count,
                    expected.len(),
                    found.len()
                ),
            ));
        }
    }
    Ok(partial)
}

/// What decides a search's sets, apart from where its files were.
fn decisive(s: &SearchInputs) -> serde_json::Value {
    serde_json::json!({
        "variant": s.variant,
        "depth": s.depth,
        "window": s.window,
        "severity": s.severity,
        "max_candidates": s.max_candidates,
        "hypotheses": s.hypotheses,
        "space": s.space,
    })
}

/// Combines partials into the search's inputs and every level in full,
/// refusing partials of another search, of another split, repeated shards,
/// missing ones, and shards that disagree on the levels they all ran.
pub fn merge(files: &[PathBuf]) -> Result<(SearchInputs, Vec<LevelRun>)> {
    if files.is_empty() {
        return Err(Error::Read {
            file: PathBuf::from("."),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no partial results given"),
        });
    }
    let mut partials: Vec<(PathBuf, Partial)> = Vec::new();
    for file in files {
        partials.push((file.clone(), read(file)?));
    }
    partials.sort_by_key(|(_, p)| p.shard.index);
    let (reference_file, reference) = &partials[0];
    for (file, partial) in &partials[1..] {
        let what =
            crate::compare::partial::difference(&reference.search.inputs, &partial.search.inputs)
                .or_else(|| {
                    (decisive(&reference.search) != decisive(&partial.search)).then(|| {
                        "a different search (variant, depth, window, severity, budget or faults)"
                            .to_string()
                    })
                });
        if let Some(what) = what {
            return Err(problem(
                file,
                JsonPath::root().key("search"),
                format!("does not belong with {}: {what}", reference_file.display()),
            ));
        }
        if partial.levels != reference.levels
            || partial.last.as_ref().map(|l| (&l.enumerated, l.size))
                != reference.last.as_ref().map(|l| (&l.enumerated, l.size))
        {
            return Err(problem(
                file,
                JsonPath::root().key("levels"),
                format!(
                    "its levels below the last differ from those of {}: shards of one search run them alike, so these are not of one search (or not of this faultline)",
                    reference_file.display()
                ),
            ));
        }
    }
    let shards: Vec<(PathBuf, Shard)> =
        partials.iter().map(|(f, p)| (f.clone(), p.shard)).collect();
    crate::compare::partial::check_split(&shards, "search")?;
    let search = reference.search.clone();
    let mut levels = reference.levels.clone();
    let last = reference
        .last
        .as_ref()
        .map(|l| (l.size, l.enumerated.clone()));
    if let Some((size, enumerated)) = last {
        let total = enumerated.sets.len() as u64 * search.inputs.seeds.count;
        let mut runs: Vec<Option<RunRecord>> = vec![None; total as usize];
        for (_, partial) in partials {
            for cell in partial.last.expect("checked alike").cells {
                runs[cell.index as usize] = Some(cell.run);
            }
        }
        levels.push(LevelRun {
            size,
            enumerated,
            runs: runs
                .into_iter()
                .map(|r| r.expect("every shard checked complete"))
                .collect(),
        });
    }
    Ok((search, levels))
}
