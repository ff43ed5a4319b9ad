//! File formats: serde structs of model and scenario files, their parsing
//! with JSON paths and positions, and the file-level checks that collect
//! every problem a field has on its own.
//!
//! Nothing here knows the engine or the topology, and nothing here looks a
//! name up: what a model's names refer to is resolved, once, when
//! `topology::Topology::compile` compiles it (running the model's file-level
//! checks first), and what a scenario says about its model (fault targets,
//! probes) when `plan` compiles them.

pub mod fault;
pub mod locate;
pub mod model;
pub mod names;
pub mod scenario;
pub mod set;
pub mod units;
mod validate;
mod variant;
mod yaml;

pub use validate::{MAX_INSTANCES_PER_SERVICE, check_work, model as check_model};

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{Error, JsonPath, Problem, Result, Segment, closest};
pub use model::ModelSpec;
pub use scenario::ScenarioSpec;
pub use set::Setting;
pub use variant::{BASELINE, at_variant};

/// The largest input file read: far beyond any real model or scenario.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// The text of an input file and the name it is reported under.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// Reads an input file: a regular file (a device such as `/dev/zero`
    /// would never end, a FIFO would block), of at most `MAX_INPUT_BYTES`.
    pub fn read(path: &Path) -> Result<Self> {
        use std::io::Read as _;
        let refuse = |message: String| Error::Read {
            file: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
        };
        let read_err = |source| Error::Read {
            file: path.to_path_buf(),
            source,
        };
        // Following links, as opening does: a link to a regular file is one.
        let meta = std::fs::metadata(path).map_err(read_err)?;
        if !meta.is_file() {
            return Err(refuse(
                "not a regular file (a directory, a device or a pipe); give the path of a JSON or YAML file"
                    .into(),
            ));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_INPUT_BYTES {
            return Err(refuse(format!(
                "larger than {} MiB, more than any model, scenario or run file needs",
                MAX_INPUT_BYTES >> 20
            )));
        }
        // A byte-order mark, as some Windows editors write: JSON allows a
        // reader to ignore it, and serde does not.
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            refuse(format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Ok(Source {
            path: path.to_path_buf(),
            text,
        })
    }

    /// Whether the file is YAML (by its extension, `.yaml` or `.yml`);
    /// otherwise it is JSON.
    pub fn is_yaml(&self) -> bool {
        self.path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    }

    /// The file as a JSON tree, JSON or YAML; a syntax error at its line
    /// and column.
    pub fn tree(&self) -> Result<serde_json::Value> {
        if self.is_yaml() {
            return yaml::to_json(&self.text).map_err(|e| {
                let mut problem = Problem::new(JsonPath::root(), e.message);
                problem.position = e.position;
                Error::Invalid {
                    file: self.path.clone(),
                    problems: vec![problem],
                }
            });
        }
        deserialize::<serde_json::Value>(self)
    }

    /// 1-based (line, column) of the value at `path` in the file.
    pub fn position_of(&self, path: &JsonPath) -> Option<(usize, usize)> {
        if self.is_yaml() {
            yaml::position_of(&self.text, path)
        } else {
            locate::position_of(&self.text, path)
        }
    }

    pub fn invalid(&self, mut problems: Vec<Problem>) -> Error {
        for problem in &mut problems {
            if problem.position.is_none() {
                problem.position = self.position_of(&problem.path);
            }
        }
        Error::Invalid {
            file: self.path.clone(),
            problems,
        }
    }
}

/// A scenario (parsed and checked) with its model (parsed; `plan` compiles
/// it), and the variant of the model (`BASELINE` as loaded: the scenario's
/// `baseline` patch when it has one; see `with_variant`).
#[derive(Clone, Debug)]
pub struct Experiment {
    pub scenario: ScenarioSpec,
    pub model: ModelSpec,
    pub scenario_source: Source,
    pub model_source: Source,
    pub variant: String,
    /// What-if settings (`--set`), applied to the files as written, before
    /// any variant's patch.
    pub sets: Vec<Setting>,
}

/// A file's tree with the settings of `target` applied, or their problems
/// (reported as `--set`'s, which is where they were written).
fn tree_with_sets(
    source: &Source,
    sets: &[Setting],
    target: set::Target,
) -> Result<serde_json::Value> {
    let mut tree = source.tree()?;
    let problems = set::apply_all(sets, target, &mut tree);
    if problems.is_empty() {
        Ok(tree)
    } else {
        Err(Error::Invalid {
            file: PathBuf::from("--set"),
            problems,
        })
    }
}

/// A file parsed as `T` with the settings of `target` applied. Without any,
/// the file is parsed as written (its problems at line:column); with some,
/// from the set tree, whose problems are said to come after the settings
/// and have no place in the file.
fn parse_with_sets<T: DeserializeOwned>(
    source: &Source,
    sets: &[Setting],
    target: set::Target,
) -> Result<T> {
    if !sets.iter().any(|s| s.target == target) {
        return deserialize(source);
    }
    let tree = tree_with_sets(source, sets, target)?;
    let set = Source {
        path: source.path.with_extension("json"),
        text: serde_json::to_string_pretty(&tree).expect("JSON values serialise"),
    };
    deserialize(&set).map_err(|e| match e {
        Error::Invalid { problems, .. } => Error::Invalid {
            file: source.path.clone(),
            problems: after_sets(sets, problems),
        },
        other => other,
    })
}

/// Problems of a file the settings changed: no line:column (the file does
/// not say it), and the message names the settings.
pub(crate) fn after_sets(sets: &[Setting], problems: Vec<Problem>) -> Vec<Problem> {
    let texts: Vec<&str> = sets.iter().map(|s| s.text.as_str()).collect();
    problems
        .into_iter()
        .map(|mut p| {
            p.position = None;
            p.message = format!("with --set {}: {}", texts.join(" --set "), p.message);
            p
        })
        .collect()
}

impl Experiment {
    /// The model as written, with this experiment's settings.
    pub fn written_model(&self) -> Result<ModelSpec> {
        parse_with_sets(&self.model_source, &self.sets, set::Target::Model)
    }

    /// The scenario as written, with this experiment's settings, checked.
    pub fn written_scenario(&self) -> Result<ScenarioSpec> {
        scenario_with_sets(&self.scenario_source, &self.sets)
    }

    /// A file's tree with this experiment's settings of `target`.
    fn tree(&self, source: &Source, target: set::Target) -> Result<serde_json::Value> {
        tree_with_sets(source, &self.sets, target)
    }
}

/// Parses and validates a scenario file with settings applied.
fn scenario_with_sets(source: &Source, sets: &[Setting]) -> Result<ScenarioSpec> {
    let scenario: ScenarioSpec = parse_with_sets(source, sets, set::Target::Scenario)?;
    let problems = validate::scenario(&scenario);
    if problems.is_empty() {
        Ok(scenario)
    } else if sets.iter().any(|s| s.target == set::Target::Scenario) {
        Err(Error::Invalid {
            file: source.path.clone(),
            problems: after_sets(sets, problems),
        })
    } else {
        Err(source.invalid(problems))
    }
}

/// Parses a model file: its JSON and its types, with the JSON path and
/// position of a problem. The model is checked, its names resolved, by
/// `topology::Topology::compile`, in one pass that reports every problem.
pub fn parse_model(source: &Source) -> Result<ModelSpec> {
    deserialize(source)
}

/// Parses and validates a scenario file (not its model).
pub fn parse_scenario(source: &Source) -> Result<ScenarioSpec> {
    scenario_with_sets(source, &[])
}

/// Loads a scenario file and the model it names, relative to the scenario.
pub fn load_experiment(path: &Path) -> Result<Experiment> {
    load_experiment_with(path, &[])
}

/// As `load_experiment`, with what-if settings applied to the files.
pub fn load_experiment_with(path: &Path, sets: &[Setting]) -> Result<Experiment> {
    let scenario_source = Source::read(path)?;
    if !looks_like_scenario(&scenario_source) && looks_like_model(&scenario_source) {
        return Err(scenario_source.invalid(vec![
            Problem::new(
                JsonPath::root(),
                "this is a model file; a scenario file is expected here",
            )
            .with_suggestion(Some(format!(
                "write a scenario that names it, e.g. {{\"name\": \"steady\", \"model\": \"{}\", \"duration\": \"5m\", \"seed\": 1}}",
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            ))),
        ]));
    }
    let scenario = scenario_with_sets(&scenario_source, sets)?;
    let model_path = path.parent().unwrap_or(Path::new("")).join(&scenario.model);
    let model_source = Source::read(&model_path).map_err(|e| match e {
        Error::Read { source, .. } => scenario_source.invalid(vec![Problem::new(
            JsonPath::root().key("model"),
            format!(
                "cannot read the model file {} ({source}); the path is relative to the scenario file",
                model_path.display()
            ),
        )]),
        other => other,
    })?;
    let model = parse_with_sets(&model_source, sets, set::Target::Model)?;
    Experiment {
        scenario,
        model,
        scenario_source,
        model_source,
        variant: BASELINE.to_string(),
        sets: sets.to_vec(),
    }
    .with_baseline()
}

/// Builds an experiment from texts held in memory (the embedded demo, a
/// replay), with what-if settings applied to them.
pub fn experiment_from_texts(
    scenario_source: Source,
    model_source: Source,
    sets: &[Setting],
) -> Result<Experiment> {
    let scenario = scenario_with_sets(&scenario_source, sets)?;
    let model = parse_with_sets(&model_source, sets, set::Target::Model)?;
    Experiment {
        scenario,
        model,
        scenario_source,
        model_source,
        variant: BASELINE.to_string(),
        sets: sets.to_vec(),
    }
    .with_baseline()
}

/// The file's JSON syntax, checked before its kind is guessed: a syntax
/// error is the problem of either kind of file, reported where the parser
/// stopped.
pub fn check_syntax(source: &Source) -> Result<()> {
    source.tree().map(|_| ())
}

/// What kind of file a document is: scenarios name a model.
pub fn looks_like_scenario(source: &Source) -> bool {
    source
        .tree()
        .ok()
        .and_then(|v| v.get("model").map(|m| m.is_string()))
        .unwrap_or(false)
}

/// Model files have services; scenarios do not.
fn looks_like_model(source: &Source) -> bool {
    source
        .tree()
        .ok()
        .is_some_and(|v| v.get("services").is_some())
}

/// Reads a file's text as `T`, or every structural problem in it.
///
/// serde stops at the first problem, and a typo in one service would hide
/// a malformed duration in another. So after the first, the file is read
/// again as a JSON tree with each offending value taken out (an unknown
/// key, a value of the wrong type or form), and again, until it reads or
/// nothing more can be taken out; a required field missing only because
/// its value was taken out is not a problem of the file, and takes out
/// the object that holds it instead. An element of a list is never taken
/// out, since that would shift the indices of the problems after it: the
/// search stops there.
pub(crate) fn deserialize<T: DeserializeOwned>(source: &Source) -> Result<T> {
    if source.is_yaml() {
        let tree = source.tree()?;
        return serde_path_to_error::deserialize::<_, T>(&tree).map_err(|err| {
            let first = problem_of(source, &err, true, 0, 0);
            Error::Invalid {
                file: source.path.clone(),
                problems: every_problem::<T>(source, tree.clone(), first),
            }
        });
    }
    let mut de = serde_json::Deserializer::from_str(&source.text);
    let result: std::result::Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match result {
        Ok(value) => value,
        Err(err) => {
            let first = problem_of(
                source,
                &err,
                err.inner().is_data(),
                err.inner().line(),
                err.inner().column(),
            );
            let tree = serde_json::from_str::<serde_json::Value>(&source.text);
            let problems = match tree {
                Ok(tree) if err.inner().is_data() => every_problem::<T>(source, tree, first),
                _ => vec![first],
            };
            return Err(Error::Invalid {
                file: source.path.clone(),
                problems,
            });
        }
    };
    de.end().map_err(|err| {
        let mut problem = Problem::new(JsonPath::root(), strip_position(&err.to_string()));
        problem.position = Some((err.line(), err.column().max(1)));
        Error::Invalid {
            file: source.path.clone(),
            problems: vec![problem],
        }
    })?;
    Ok(value)
}

/// The problem a serde error describes, at its path. A data error (wrong
/// type, unknown field, bad duration) is shown at the start of the
/// offending key, as for later checks; a syntax error where the parser
/// stopped.
fn problem_of(
    source: &Source,
    err: &serde_path_to_error::Error<serde_json::Error>,
    is_data: bool,
    line: usize,
    column: usize,
) -> Problem {
    let (path, message) = join_nested(
        convert_path(err.path()),
        strip_position(&err.inner().to_string()),
    );
    let position = if is_data && !path.0.is_empty() {
        source.position_of(&path)
    } else {
        (line > 0).then(|| (line, column.max(1)))
    };
    let suggestion = suggest_for_unknown_field(&message);
    let mut problem = Problem::new(path, message).with_suggestion(suggestion);
    problem.position = position;
    problem
}

/// At most this many problems from one file: past it, the file is more
/// likely the wrong kind of file than one with that many typos.
const MAX_PROBLEMS: usize = 50;

/// `first` and the structural problems after it (see `deserialize`).
fn every_problem<T: DeserializeOwned>(
    source: &Source,
    mut tree: serde_json::Value,
    first: Problem,
) -> Vec<Problem> {
    let mut problems = vec![first];
    let mut taken: Vec<JsonPath> = Vec::new();
    while problems.len() < MAX_PROBLEMS {
        let err = match serde_path_to_error::deserialize::<_, T>(&tree) {
            Ok(_) => break,
            Err(err) => err,
        };
        let problem = problem_of(source, &err, true, 0, 0);
        let missing = problem
            .message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(field, _)| problem.path.key(field));
        // Missing because taken out, or because misspelt: a typo already
        // reported with this field as its suggestion.
        let explained = |field: &JsonPath| {
            taken.contains(field)
                || field.0.last().is_some_and(|last| {
                    let Segment::Key(name) = last else {
                        return false;
                    };
                    let suggestion = format!("did you mean `{name}`?");
                    problems.iter().any(|p| {
                        p.suggestion.as_deref() == Some(suggestion.as_str())
                            && p.path.0.split_last().map(|(_, parent)| parent)
                                == field.0.split_last().map(|(_, parent)| parent)
                    })
                })
        };
        let out = match missing {
            Some(field) if explained(&field) => problem.path.clone(),
            _ => {
                let out = problem.path.clone();
                if !problems
                    .iter()
                    .any(|p| p.path == problem.path && p.message == problem.message)
                {
                    problems.push(problem);
                }
                out
            }
        };
        if !take_out(&mut tree, &out) {
            break;
        }
        taken.push(out);
    }
    problems
}

/// Removes the key at `path` from its object; false when `path` is the
/// root, in a list, or not in the tree.
fn take_out(tree: &mut serde_json::Value, path: &JsonPath) -> bool {
    let Some((last, parents)) = path.0.split_last() else {
        return false;
    };
    let mut node = tree;
    for segment in parents {
        let next = match segment {
            Segment::Key(key) => node.get_mut(key.as_str()),
            Segment::Index(index) => node.get_mut(*index),
        };
        let Some(next) = next else {
            return false;
        };
        node = next;
    }
    match (last, node) {
        (Segment::Key(key), serde_json::Value::Object(map)) => map.shift_remove(key).is_some(),
        _ => false,
    }
}

fn convert_path(path: &serde_path_to_error::Path) -> JsonPath {
    use serde_path_to_error::Segment as S;
    JsonPath(
        path.iter()
            .filter_map(|segment| match segment {
                S::Seq { index } => Some(Segment::Index(*index)),
                S::Map { key } => Some(Segment::Key(key.clone())),
                S::Enum { variant } => Some(Segment::Key(variant.clone())),
                S::Unknown => None,
            })
            .collect(),
    )
}

/// Marks a message that carries the path of a problem inside a value read
/// in two steps (a fault: its kind, then its body); serde's `custom` errors
/// hold only a message, and `deserialize` moves the path back out of it.
const NESTED: char = '\u{1e}';

/// An error from inside a value read in two steps, with its inner path.
fn nested_error<E: serde::de::Error>(path: JsonPath, inner: &serde_json::Error) -> E {
    let segments: Vec<serde_json::Value> = path
        .0
        .into_iter()
        .map(|segment| match segment {
            Segment::Key(key) => serde_json::Value::String(key),
            Segment::Index(index) => serde_json::Value::from(index),
        })
        .collect();
    let message = strip_position(&inner.to_string());
    E::custom(format_args!(
        "{NESTED}{}{NESTED}{message}",
        serde_json::Value::Array(segments)
    ))
}

/// The full path and the message of an error that `nested_error` made;
/// other errors as they are.
fn join_nested(mut path: JsonPath, message: String) -> (JsonPath, String) {
    let Some((inner, rest)) = message
        .strip_prefix(NESTED)
        .and_then(|m| m.split_once(NESTED))
    else {
        return (path, message);
    };
    let Ok(serde_json::Value::Array(segments)) = serde_json::from_str(inner) else {
        return (path, rest.to_string());
    };
    path.0
        .extend(segments.into_iter().filter_map(|segment| match segment {
            serde_json::Value::String(key) => Some(Segment::Key(key)),
            serde_json::Value::Number(n) => n.as_u64().map(|i| Segment::Index(i as usize)),
            _ => None,
        }));
    (path, rest.to_string())
}

/// serde_json appends " at line L column C"; the position is reported apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Turns serde's "unknown field `wrokers`, expected one of `a`, `b`" into a
/// "did you mean `workers`?" when one expected name is close.
fn suggest_for_unknown_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (found, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    closest(found, candidates.iter().copied()).map(|name| format!("did you mean `{name}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source {
            path: PathBuf::from("models/test.json"),
            text: text.to_string(),
        }
    }

    #[test]
    fn unknown_field_names_path_position_and_suggestion() {
        let text = r#"{"name": "m", "zones": ["a"],
  "services": {"api": {"wrokers": 4, "endpoints": {"x": {"work": {"constant": "1ms"}}}}},
  "workload": {}}"#;
        let err = parse_model(&source(text)).unwrap_err();
        let Error::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(problems[0].path.to_string(), "services.api.wrokers");
        assert_eq!(problems[0].position.map(|p| p.0), Some(2));
        assert_eq!(
            problems[0].suggestion.as_deref(),
            Some("did you mean `workers`?")
        );
        assert!(
            err.to_string()
                .starts_with("models/test.json: services.api.wrokers (line 2")
        );
    }

    #[test]
    fn malformed_duration_is_reported_at_its_path() {
        let text = r#"{"name": "m", "zones": ["a"],
  "services": {"api": {"workers": 4, "endpoints": {"x": {"work": {"constant": "5 sekunden"}}}}},
  "workload": {}}"#;
        let err = parse_model(&source(text)).unwrap_err().to_string();
        assert!(
            err.contains("services.api.endpoints.x.work.constant"),
            "{err}"
        );
        assert!(err.contains("expected a duration"), "{err}");
    }

    fn scenario_problem(faults: &str) -> Problem {
        let text = format!(
            "{{\"name\": \"s\", \"model\": \"m.json\", \"duration\": \"1m\",\n  \"faults\": {faults}}}"
        );
        let err = parse_scenario(&source(&text)).unwrap_err();
        let Error::Invalid { mut problems, .. } = err else {
            panic!("{err}")
        };
        problems.remove(0)
    }

    #[test]
    fn error_inside_a_fault_names_its_field() {
        let problem = scenario_problem(
            r#"{"e": {"kind": "errors", "target": "db",
    "fraction": "50%", "at": "10s"}}"#,
        );
        assert_eq!(problem.path.to_string(), "faults.e.fraction");
        assert_eq!(problem.position, Some((3, 5)));
        assert!(
            problem.message.starts_with("invalid type: string"),
            "{}",
            problem.message
        );

        let problem = scenario_problem(
            r#"{"slow": {"kind": "latency", "target": "db", "at": "1s", "add": {"constant": "1 sekunde"}}}"#,
        );
        assert_eq!(problem.path.to_string(), "faults.slow.add.constant");

        let problem = scenario_problem(
            r#"{"p": {"kind": "network_partition", "between": [[1], ["b"]], "at": "1s"}}"#,
        );
        assert_eq!(problem.path.to_string(), "faults.p.between[0][0]");

        let problem =
            scenario_problem(r#"{"k": {"kind": "instance_kil", "target": "a", "at": "1s"}}"#);
        assert_eq!(problem.path.to_string(), "faults.k.kind");
        assert_eq!(
            problem.suggestion.as_deref(),
            Some("did you mean `instance_kill`?")
        );

        let problem =
            scenario_problem(r#"{"k": {"kind": "instance_kill", "taget": "a", "at": "1s"}}"#);
        assert_eq!(problem.path.to_string(), "faults.k.taget");
        assert_eq!(
            problem.suggestion.as_deref(),
            Some("did you mean `target`?")
        );

        let problem = scenario_problem(r#"{"k": {"target": "a", "at": "1s"}}"#);
        assert_eq!(problem.path.to_string(), "faults.k");
        assert_eq!(problem.message, "missing field `kind`");
    }

    #[test]
    fn closest_name_only_for_near_misses() {
        assert_eq!(closest("ordres", ["orders", "users"]), Some("orders"));
        assert_eq!(closest("inventory", ["orders", "users"]), None);
        assert_eq!(closest("d", ["a", "b", "c"]), None);
        assert_eq!(closest("wrokers", ["workers", "queue"]), Some("workers"));
    }
}
