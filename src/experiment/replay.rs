//! Replaying a run directory: find the inputs its `run.json` names, check
//! that they are the bytes the run read, run again with the recorded seed
//! into a scratch directory, and compare the trace digest and every file.
//! Optionally, run once more with a `Tracer` to write a request-level trace
//! of a window into the run directory.
//!
//! Where inputs are found: `run.json` records each input's path as the run
//! was given it. A relative path is resolved against the working directory
//! of `replay`, so replay from the directory the run was made in (usually
//! the project root). `(built-in) <path>` names a file built into the
//! binary (the demo).

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;

use super::{RunResult, manifest};
use crate::error::{Error, JsonPath, Problem, Result};
use crate::observe::NullObserver;
use crate::observe::trace::Tracer;
use crate::plan::Plan;
use crate::sim::{Budget, RunSummary, simulate_guarded};
use crate::spec::{self, Source};
use crate::topology::Topology;

/// How `run.json` marks an input built into the binary.
pub const BUILT_IN: &str = "(built-in) ";

/// What replay needs from `run.json` (the rest it regenerates and compares).
#[derive(Clone, Debug, Deserialize)]
pub struct Recorded {
    pub tool: RecordedTool,
    pub scenario: RecordedInput,
    pub model: RecordedInput,
    pub variant: String,
    /// What-if settings of the run (absent: none).
    #[serde(default)]
    pub set: Vec<String>,
    pub seed: u64,
    /// The run wrote per-instance rows (absent: it did not).
    #[serde(default)]
    pub per_instance: bool,
    pub engine: RecordedEngine,
    pub files: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RecordedTool {
    pub version: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RecordedInput {
    pub file: String,
    pub file_sha256: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RecordedEngine {
    pub trace_digest: String,
}

/// Reads `RUN_DIR/run.json`; a missing or garbled file is bad input, and
/// so is a `files` entry that is not a plain file name: replay opens each
/// inside the run directory, and `../x` or `/etc/passwd` must not take it
/// anywhere else.
pub fn read_manifest(run_dir: &Path) -> Result<Recorded> {
    let source = Source::read(&run_dir.join("run.json"))?;
    let recorded: Recorded = spec::deserialize(&source)?;
    let mut problems: Vec<Problem> = recorded
        .set
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            spec::Setting::parse(text)
                .err()
                .map(|e| Problem::new(JsonPath::root().key("set").index(i), e))
        })
        .collect();
    problems.extend(recorded
        .files
        .iter()
        .enumerate()
        .filter(|(_, file)| !is_plain_file_name(file))
        .map(|(i, file)| {
            Problem::new(
                JsonPath::root().key("files").index(i),
                format!(
                    "expected the plain name of a file in the run directory (such as `metrics.csv`), found \"{}\"",
                    spec::names::echo(file)
                ),
            )
        }));
    if problems.is_empty() {
        Ok(recorded)
    } else {
        Err(source.invalid(problems))
    }
}

/// One visible name, no directory: what a run writes into its directory.
fn is_plain_file_name(file: &str) -> bool {
    let mut components = Path::new(file).components();
    matches!(
        (components.next(), components.next()),
        (Some(std::path::Component::Normal(name)), None) if name == file
    ) && !file.starts_with('.')
}

/// An input whose bytes are not the ones the run read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub file: String,
    pub recorded: String,
    pub now: String,
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} changed since the run: sha256 recorded {}, now {}",
            self.file, self.recorded, self.now
        )
    }
}

/// The scenario and model files a run read, from where it recorded them.
/// `built_in` holds the (path, text) of files built into the binary.
pub fn read_inputs(
    recorded: &Recorded,
    run_dir: &Path,
    built_in: &[(&str, &str)],
) -> Result<(Source, Source)> {
    let run_json = run_dir.join("run.json");
    let read = |key: &str, input: &RecordedInput| -> Result<Source> {
        let problem = |message: String| Error::Invalid {
            file: run_json.clone(),
            problems: vec![Problem::new(JsonPath::root().key(key).key("file"), message)],
        };
        if let Some(name) = input.file.strip_prefix(BUILT_IN) {
            let (_, text) = built_in.iter().find(|(path, _)| *path == name).ok_or_else(|| {
                problem(format!(
                    "this faultline has no built-in `{name}`; replay with the version that made the run ({})",
                    recorded.tool.version
                ))
            })?;
            return Ok(Source {
                path: PathBuf::from(&input.file),
                text: text.to_string(),
            });
        }
        let path = PathBuf::from(&input.file);
        Source::read(&path).map_err(|e| match e {
            Error::Read { source, .. } => problem(format!(
                "cannot read the {key} file {} ({source}); a relative path is resolved against \
                 the working directory: replay from the directory the run was made in",
                input.file
            )),
            other => other,
        })
    };
    Ok((
        read("scenario", &recorded.scenario)?,
        read("model", &recorded.model)?,
    ))
}

/// The what-if settings the run recorded (checked when it was read).
pub fn settings(recorded: &Recorded) -> Vec<spec::Setting> {
    recorded
        .set
        .iter()
        .filter_map(|text| spec::Setting::parse(text).ok())
        .collect()
}

/// The inputs whose bytes differ from what the run recorded.
pub fn changed_inputs(recorded: &Recorded, scenario: &Source, model: &Source) -> Vec<Changed> {
    [(&recorded.scenario, scenario), (&recorded.model, model)]
        .into_iter()
        .filter_map(|(input, source)| {
            let now = manifest::sha256_hex(source.text.as_bytes());
            (now != input.file_sha256).then(|| Changed {
                file: input.file.clone(),
                recorded: input.file_sha256.clone(),
                now,
            })
        })
        .collect()
}

/// The experiment of the variant the run recorded. A scenario that no
/// longer has it changed since the run, which the input check reports
/// first; the error here names the run file for what is left.
pub fn with_variant(plan: Plan, variant: &str, run_dir: &Path) -> Result<Plan> {
    plan.with_variant(variant).map_err(|e| match e {
        Error::Invalid { problems, .. } => Error::Invalid {
            file: run_dir.join("run.json"),
            problems: problems
                .into_iter()
                .map(|p| Problem::new(JsonPath::root().key("variant"), p.message))
                .collect(),
        },
        other => other,
    })
}

/// The first place two versions of a run file part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// The run directory lacks a file the run wrote.
    Missing { file: String },
    /// Line `line` (1-based) differs; `None` is past the end of the file.
    Line {
        file: String,
        line: usize,
        recorded: Option<String>,
        replayed: Option<String>,
    },
}

impl Difference {
    pub fn file(&self) -> &str {
        match self {
            Difference::Missing { file } | Difference::Line { file, .. } => file,
        }
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing { file } => {
                write!(f, "{file} is missing from the run directory")
            }
            Difference::Line {
                file,
                line,
                recorded,
                replayed,
            } => {
                let show = |l: &Option<String>| match l {
                    Some(text) => text.clone(),
                    None => "(end of file)".to_string(),
                };
                write!(
                    f,
                    "{file} line {line} differs\n  recorded: {}\n  replayed: {}",
                    show(recorded),
                    show(replayed)
                )
            }
        }
    }
}

/// What a replay found.
#[derive(Debug)]
pub struct Verdict {
    pub recorded_digest: String,
    pub replayed_digest: String,
    /// The first difference of each differing file, in the order the run
    /// lists its files.
    pub differences: Vec<Difference>,
    pub summary: RunSummary,
}

impl Verdict {
    pub fn identical(&self) -> bool {
        self.recorded_digest == self.replayed_digest && self.differences.is_empty()
    }
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        // Unique per process and per call: tests replay in parallel.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("faultline-replay-{}-{n}", std::process::id()));
        if path.exists() {
            // Left by a killed process whose id came round again.
            let _ = fs::remove_dir_all(&path);
        }
        fs::create_dir_all(&path).map_err(|e| Error::write(&path, e))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs the experiment again with the recorded seed in a scratch
/// directory and compares it with `run_dir`, which it does not touch.
pub fn rerun(plan: &Plan, recorded: &Recorded, run_dir: &Path, budget: Budget) -> Result<Verdict> {
    let scratch = Scratch::new()?;
    let RunResult { dir, summary, .. } =
        super::run(plan, Some(recorded.seed), &scratch.0, budget, |_| {}, || {})?;
    let mut differences = Vec::new();
    for file in &recorded.files {
        let mine = run_dir.join(file);
        if !mine.is_file() {
            differences.push(Difference::Missing { file: file.clone() });
            continue;
        }
        let read_err = |path: &Path, source| Error::Read {
            file: path.to_path_buf(),
            source,
        };
        let theirs = dir.join(file);
        let recorded_file = fs::File::open(&mine).map_err(|e| read_err(&mine, e))?;
        let replayed_file = fs::File::open(&theirs).map_err(|e| read_err(&theirs, e))?;
        if let Some(d) =
            first_difference(file, recorded_file, replayed_file).map_err(|e| read_err(&mine, e))?
        {
            differences.push(d);
        }
    }
    Ok(Verdict {
        recorded_digest: recorded.engine.trace_digest.clone(),
        replayed_digest: summary.trace_digest.clone(),
        differences,
        summary,
    })
}

/// Longest line shown in a difference; a metrics row is well under it.
const SHOWN: usize = 2000;

fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line));
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// Compares two files line by line (streamed: metrics files can be large).
fn first_difference(
    file: &str,
    recorded: impl io::Read,
    replayed: impl io::Read,
) -> io::Result<Option<Difference>> {
    let (mut a, mut b) = (BufReader::new(recorded), BufReader::new(replayed));
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    let mut line = 0;
    loop {
        la.clear();
        lb.clear();
        let na = a.read_until(b'\n', &mut la)?;
        let nb = b.read_until(b'\n', &mut lb)?;
        line += 1;
        if na == 0 && nb == 0 {
            return Ok(None);
        }
        if la != lb {
            return Ok(Some(Difference::Line {
                file: file.to_string(),
                line,
                recorded: (na > 0).then(|| shown(&la)),
                replayed: (nb > 0).then(|| shown(&lb)),
            }));
        }
    }
}

/// Runs the experiment with a request-level tracer on `[from, to)` (ns),
/// and nothing else observed.
pub fn trace_window(
    plan: &Plan,
    seed: u64,
    from: u64,
    to: u64,
    budget: Budget,
) -> Result<(RunSummary, Tracer<NullObserver>)> {
    let config = plan.config(Some(seed));
    let (summary, tracer) = simulate_guarded(
        &plan.topology,
        &plan.faults,
        &plan.guards,
        config,
        budget,
        Tracer::new(NullObserver, from, to),
    );
    match summary.exhausted {
        Some(exhausted) => Err(super::budget_error(plan, seed, exhausted)),
        None => Ok((summary, tracer)),
    }
}

/// Writes `trace.jsonl` into `dir` under a temporary name and renames it
/// into place, so a killed replay leaves no half trace. Returns its path
/// and number of lines.
pub fn write_trace(
    dir: &Path,
    topology: &Topology,
    tracer: &Tracer<NullObserver>,
) -> Result<(PathBuf, usize)> {
    let path = dir.join("trace.jsonl");
    // A replay killed while writing leaves its partial trace; the next one
    // sweeps it away unless its writer still runs.
    let prefix = ".trace.jsonl.partial-";
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(prefix)
                && !super::output::process_alive(pid)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let partial = dir.join(format!("{prefix}{}", std::process::id()));
    let written = (|| -> io::Result<usize> {
        let mut out = BufWriter::new(fs::File::create(&partial)?);
        let lines = tracer.write_jsonl(topology, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(lines)
    })();
    let lines = written.map_err(|e| {
        let _ = fs::remove_file(&partial);
        Error::write(&path, e)
    })?;
    fs::rename(&partial, &path).map_err(|e| Error::write(&path, e))?;
    Ok((path, lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::BASELINE;

    fn diff(a: &str, b: &str) -> Option<Difference> {
        first_difference("f", a.as_bytes(), b.as_bytes()).unwrap()
    }

    #[test]
    fn identical_files_have_no_difference() {
        assert_eq!(diff("a\nb\n", "a\nb\n"), None);
        assert_eq!(diff("", ""), None);
    }

    #[test]
    fn first_differing_line_is_named_with_both_texts() {
        let d = diff("a\nb\nc\n", "a\nB\nC\n").unwrap();
        assert_eq!(
            d,
            Difference::Line {
                file: "f".into(),
                line: 2,
                recorded: Some("b".into()),
                replayed: Some("B".into()),
            }
        );
        assert_eq!(
            d.to_string(),
            "f line 2 differs\n  recorded: b\n  replayed: B"
        );
    }

    #[test]
    fn a_shorter_file_differs_where_it_ends() {
        let d = diff("a\n", "a\nb\n").unwrap();
        assert!(matches!(
            d,
            Difference::Line {
                line: 2,
                recorded: None,
                replayed: Some(_),
                ..
            }
        ));
        // A missing final newline is a difference too.
        assert!(diff("a", "a\n").is_some());
    }

    #[test]
    fn a_recorded_variant_is_patched_in_again() {
        let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/kill-app-server.json");
        let plan = Plan::load(&scenario).unwrap();
        assert!(with_variant(plan.clone(), BASELINE, Path::new("r")).is_ok());
        let patched = with_variant(plan.clone(), "round-robin", Path::new("r")).unwrap();
        assert_eq!(patched.experiment.variant, "round-robin");
        let err = with_variant(plan, "breaker", Path::new("r")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("r/run.json"), "{err}");
        assert!(err.to_string().contains("no variant `breaker`"), "{err}");
    }
}
