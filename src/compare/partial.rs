//! Shards: a slice of the grid run on its own (another process, another
//! machine) writes a partial result; `merge` checks that partials belong to
//! the same inputs and cover the grid exactly once, then writes what one
//! unsharded `compare` would have written.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::Inputs;
use super::{RunFigures, Shard};
use crate::error::{Error, JsonPath, Problem, Result};
use crate::experiment::output::Staging;

/// Identifies the file format, so that merge refuses anything else.
pub const FORMAT: &str = "faultline-compare-partial/2";
pub const FILE_NAME: &str = "partial.json";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the grid (variant-major).
    pub index: u64,
    pub variant: String,
    pub seed: u64,
    pub figures: RunFigures,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    pub format: String,
    pub inputs: Inputs,
    pub shard: Shard,
    pub cells: Vec<Cell>,
}

/// Where shard `shard` of `scenario`'s comparison (or sweep) goes under
/// `base`: beside `compare/` (or `sweep/`), which a merge replaces whole.
pub fn shard_dir(base: &Path, scenario: &str, kind: &str, shard: Shard) -> PathBuf {
    base.join(scenario)
        .join(format!("{kind}-shard-{}-of-{}", shard.index, shard.count))
}

/// Writes a shard's partial result atomically; returns its directory.
pub fn write(base: &Path, partial: &Partial) -> Result<PathBuf> {
    let kind = if partial.inputs.sweep.is_some() {
        "sweep"
    } else {
        "compare"
    };
    let dir = shard_dir(base, &partial.inputs.scenario.name, kind, partial.shard);
    let staging = Staging::new(&dir)?;
    let mut text = serde_json::to_string_pretty(partial).expect("partials serialise");
    text.push('\n');
    staging.write_file(FILE_NAME, &text)?;
    staging.commit()?;
    Ok(dir)
}

fn problem(file: &Path, path: JsonPath, message: impl Into<String>) -> Error {
    Error::Invalid {
        file: file.to_path_buf(),
        problems: vec![Problem::new(path, message)],
    }
}

/// The partial files named by `paths`: a `partial.json`, a shard
/// directory holding one, or any directory above shard directories (an
/// output directory, a scenario's directory), searched a few levels down.
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            found.push(candidate);
            return;
        }
        if depth == 0 {
            return;
        }
        // Sorted, so the order partials are read in (and the error that
        // names the first bad one) does not depend on the file system.
        let dirs = crate::experiment::output::subdirectories(dir);
        for d in dirs {
            walk(&d, depth - 1, found);
        }
    }
    let mut found = Vec::new();
    for path in paths {
        if path.is_file() {
            found.push(path.clone());
        } else if path.is_dir() {
            let before = found.len();
            walk(path, 3, &mut found);
            if found.len() == before {
                return Err(Error::Read {
                    file: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "no {FILE_NAME} in it or below it (shards write <out>/<scenario>/compare-shard-I-of-N/{FILE_NAME})"
                        ),
                    ),
                });
            }
        } else {
            return Err(Error::Read {
                file: path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
    }
    Ok(found)
}

/// Reads and checks one partial file.
pub fn read(path: &Path) -> Result<Partial> {
    let source = crate::spec::Source::read(path)?;
    if !source.text.contains(FORMAT) {
        return Err(problem(
            path,
            JsonPath::root(),
            format!(
                "not a partial comparison (expected \"format\": \"{FORMAT}\" as written by `compare --shard`)"
            ),
        ));
    }
    let partial: Partial = crate::spec::deserialize(&source)?;
    if partial.format != FORMAT {
        return Err(problem(
            path,
            JsonPath::root().key("format"),
            format!("expected \"{FORMAT}\", found \"{}\"", partial.format),
        ));
    }
    let mut problems = name_problems(&partial);
    problems.extend(sweep_problems(&partial));
    if !problems.is_empty() {
        return Err(source.invalid(problems));
    }
    let total = partial.inputs.cells();
    let expected: Vec<u64> = partial.shard.cells(total).collect();
    let found: Vec<u64> = partial.cells.iter().map(|c| c.index).collect();
    if expected != found {
        return Err(problem(
            path,
            JsonPath::root().key("cells"),
            format!(
                "shard {}/{} of {total} cells should hold cells {:?}, holds {:?}",
                partial.shard.index, partial.shard.count, expected, found
            ),
        ));
    }
    for (i, cell) in partial.cells.iter().enumerate() {
        let (variant, seed) = partial.inputs.cell(cell.index);
        if cell.variant != variant || cell.seed != seed {
            return Err(problem(
                path,
                JsonPath::root().key("cells").index(i),
                format!(
                    "cell {} is variant `{variant}` on seed {seed} in this grid, but holds `{}` on seed {}",
                    cell.index, cell.variant, cell.seed
                ),
            ));
        }
    }
    Ok(partial)
}

/// The scenario and variant names a merge turns into directories pass the
/// rule a scenario file's names do: a partial file is input like any other,
/// and a name such as `../..` or `/tmp/x` must not put the merged
/// comparison (or the removal of an old one) outside `--out`.
fn name_problems(partial: &Partial) -> Vec<Problem> {
    let inputs = JsonPath::root().key("inputs");
    let mut problems = Vec::new();
    if let Some(message) = crate::spec::names::problem("scenario", &partial.inputs.scenario.name) {
        problems.push(Problem::new(
            inputs.clone().key("scenario").key("name"),
            message,
        ));
    }
    for (i, variant) in partial.inputs.variants.iter().enumerate() {
        if let Some(message) = crate::spec::names::problem("variant", &variant.name) {
            problems.push(Problem::new(
                inputs.clone().key("variants").index(i).key("name"),
                message,
            ));
        }
    }
    problems
}

/// A sweep's grid as a sweep writes it: one or two axes whose values make
/// exactly its cells, or the merge would draw cells it does not have.
fn sweep_problems(partial: &Partial) -> Vec<Problem> {
    let Some(sweep) = &partial.inputs.sweep else {
        return Vec::new();
    };
    let cells: usize = sweep.axes.iter().map(|a| a.values.len()).product();
    if !super::report::SWEEP_METRICS.contains(&sweep.metric.as_str()) {
        return vec![Problem::new(
            JsonPath::root().key("inputs").key("sweep").key("metric"),
            format!(
                "expected one of {}, found \"{}\"",
                super::report::SWEEP_METRICS.join(", "),
                crate::spec::names::echo(&sweep.metric)
            ),
        )];
    }
    let fits = (1..=2).contains(&sweep.axes.len())
        && sweep.axes.iter().all(|a| !a.values.is_empty())
        && cells == partial.inputs.variants.len();
    if fits {
        Vec::new()
    } else {
        vec![Problem::new(
            JsonPath::root().key("inputs").key("sweep").key("axes"),
            format!(
                "expected one or two axes whose values make the grid's {} cells, as `sweep --shard` writes",
                partial.inputs.variants.len()
            ),
        )]
    }
}

/// What differs between two grids' inputs, in words; file paths may differ
/// (shards run from other directories) as long as the contents agree.
pub(crate) fn difference(a: &Inputs, b: &Inputs) -> Option<String> {
    if a.tool_version != b.tool_version {
        return Some(format!(
            "written by faultline {} and {}",
            a.tool_version, b.tool_version
        ));
    }
    if a.set != b.set {
        return Some(format!(
            "different what-ifs (--set {} and --set {})",
            a.set.join(" --set "),
            b.set.join(" --set ")
        ));
    }
    if a.scenario.sha256 != b.scenario.sha256 {
        return Some(format!(
            "different scenarios (`{}` {} and `{}` {})",
            a.scenario.name,
            &a.scenario.sha256[..12.min(a.scenario.sha256.len())],
            b.scenario.name,
            &b.scenario.sha256[..12.min(b.scenario.sha256.len())]
        ));
    }
    if a.model.sha256 != b.model.sha256 {
        return Some(format!(
            "different models (`{}` and `{}`, or the same one edited)",
            a.model.name, b.model.name
        ));
    }
    if a.variants != b.variants {
        return Some("different variants".to_string());
    }
    if a.sweep != b.sweep {
        return Some("different sweeps (their variant, settings, axes or metric)".to_string());
    }
    if a.seeds != b.seeds {
        return Some(format!(
            "different seeds ({} from {} and {} from {})",
            a.seeds.count, a.seeds.first, b.seeds.count, b.seeds.first
        ));
    }
    None
}

/// Combines partials (read from `files`) into the inputs and the figures
/// of every cell in grid order, refusing partials of other inputs, of
/// another split, repeated shards and missing ones.
pub fn merge(files: &[PathBuf]) -> Result<(Inputs, Vec<RunFigures>)> {
    let Some(first_file) = files.first() else {
        return Err(Error::Read {
            file: PathBuf::from("."),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no partial results given"),
        });
    };
    let mut partials: Vec<(PathBuf, Partial)> = Vec::new();
    for file in files {
        partials.push((file.clone(), read(file)?));
    }
    partials.sort_by_key(|(_, p)| p.shard.index);
    let (_, reference) = &partials[0];
    for (file, partial) in &partials {
        if let Some(what) = difference(&reference.inputs, &partial.inputs) {
            return Err(problem(
                file,
                JsonPath::root().key("inputs"),
                format!(
                    "does not belong with {}: {what}",
                    partials
                        .iter()
                        .find(|(_, p)| difference(&reference.inputs, &p.inputs).is_none())
                        .map_or(first_file.display().to_string(), |(f, _)| f
                            .display()
                            .to_string())
                ),
            ));
        }
    }
    let shards: Vec<(PathBuf, Shard)> =
        partials.iter().map(|(f, p)| (f.clone(), p.shard)).collect();
    check_split(&shards, "compare")?;
    let inputs = reference.inputs.clone();
    let mut figures: Vec<Option<RunFigures>> = vec![None; inputs.cells() as usize];
    for (_, partial) in partials {
        for cell in partial.cells {
            figures[cell.index as usize] = Some(cell.figures);
        }
    }
    let figures = figures
        .into_iter()
        .map(|f| f.expect("every shard checked complete"))
        .collect();
    Ok((inputs, figures))
}

/// Checks that the shards (sorted by index) are one split, each once, none
/// missing; `command` names what to run for a missing one.
pub(crate) fn check_split(shards: &[(PathBuf, Shard)], command: &str) -> Result<()> {
    let Some((first_file, first)) = shards.first() else {
        return Ok(());
    };
    let count = first.count;
    for (file, shard) in shards {
        if shard.count != count {
            return Err(problem(
                file,
                JsonPath::root().key("shard"),
                format!(
                    "is shard {}/{}, but {} is of a split into {count}: merge shards of one split",
                    shard.index,
                    shard.count,
                    first_file.display()
                ),
            ));
        }
    }
    for pair in shards.windows(2) {
        if pair[0].1.index == pair[1].1.index {
            return Err(problem(
                &pair[1].0,
                JsonPath::root().key("shard"),
                format!(
                    "shard {}/{count} is given twice (also {}): its cells would count twice",
                    pair[1].1.index,
                    pair[0].0.display()
                ),
            ));
        }
    }
    let present: Vec<u64> = shards.iter().map(|(_, s)| s.index).collect();
    let missing: Vec<String> = (0..count)
        .filter(|i| !present.contains(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(problem(
            first_file,
            JsonPath::root().key("shard"),
            format!(
                "shards missing: {} (run `faultline {command} … --shard I/{count}` for each)",
                missing.join(", ")
            ),
        ));
    }
    Ok(())
}
