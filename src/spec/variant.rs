//! Variants: named RFC 7396 merge patches over the experiment. A patch's
//! `faults`, `hypothesis` and `stop` keys patch the scenario's (what is
//! injected, what is checked and what stops it: "kill one, then two", a fault's severity, a crash
//! against a host loss); every other key patches the model. A patched
//! file is parsed as if it had been written by hand (and compiled by
//! `plan`, as the model is); every problem is reported in the scenario
//! file at `variants.<name>.…`, where the user wrote the patch.

use serde_json::{Map, Value};

use super::{Experiment, ModelSpec, ScenarioSpec, Source, deserialize};
use crate::error::closest;
use crate::error::{Error, JsonPath, Problem, Result, Segment};

/// The reference variant: the one named so in the scenario, or else the
/// model as written.
pub const BASELINE: &str = "baseline";

/// The scenario's keys a variant patches; the rest of a patch is the model's.
pub(super) const SCENARIO_KEYS: [&str; 3] = ["faults", "hypothesis", "stop"];

/// Scenario keys that are settings of the whole comparison: one run
/// length, one warm-up, one seed series for every variant, or the
/// comparison would not be paired.
pub(super) const RUN_KEYS: [&str; 10] = [
    "expect",
    "model",
    "duration",
    "warmup",
    "seed",
    "window",
    "percentile_digits",
    "analysis",
    "compare",
    "variants",
];

/// Keys whose values are objects keyed by user-chosen names. A patch key
/// missing there is a new entry, or a misspelt one; elsewhere serde's
/// unknown-field check catches misspellings after patching.
fn is_keyed_collection(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["services"]
            | ["workload"]
            | ["clients"]
            | ["faults"]
            | ["hypothesis"]
            | ["stop"]
            | ["services", _, "endpoints"]
            | ["services", _, "endpoints", _, "calls"]
            | ["services", _, "instances", "placement"]
    )
}

/// What a patch says before it is applied: `problems`, removing what is
/// not there; `suspects`, new entries named close to an existing one
/// (`apl` beside `api`). A suspect is a typo only if the entry it adds is
/// not whole on its own: a new call `writes` with its `to` beside `write`,
/// or a placement in a declared zone `az-b` beside `az-a`, is a legitimate
/// addition, while `{"apl": {"workers": 512}}` is a service without
/// endpoints, the misspelt patch of `api`.
#[derive(Default)]
struct Targets {
    problems: Vec<Problem>,
    suspects: Vec<Problem>,
}

fn check_targets(
    patch: &Map<String, Value>,
    tree: &Value,
    at: &mut Vec<String>,
    found: &mut Targets,
) {
    let Some(tree) = tree.as_object() else {
        return;
    };
    for (key, value) in patch {
        at.push(key.clone());
        match tree.get(key) {
            Some(existing) => {
                if let Value::Object(inner) = value {
                    check_targets(inner, existing, at, found);
                }
            }
            None => {
                let suggestion = closest(key, tree.keys().map(String::as_str))
                    .map(|name| format!("did you mean `{name}`?"));
                let path = JsonPath(at.iter().cloned().map(Segment::Key).collect());
                if value.is_null() {
                    found.problems.push(
                        Problem::new(path, format!("removes `{key}`, which is not there"))
                            .with_suggestion(suggestion),
                    );
                } else if is_keyed_collection(&at[..at.len() - 1]) && suggestion.is_some() {
                    found.suspects.push(
                        Problem::new(path, format!("there is no `{key}` here"))
                            .with_suggestion(suggestion),
                    );
                }
            }
        }
        at.pop();
    }
}

/// `patch` applied to `source`'s tree and the result parsed as `T`, or the
/// problems of the patch at their paths in the patched file (the caller
/// moves them under the variant): a problem inside a suspect entry is
/// the suspect's typo; any other is said to come after patching.
fn patched<T: serde::de::DeserializeOwned>(
    source: &Source,
    tree: Result<Value>,
    patch: &Map<String, Value>,
) -> std::result::Result<T, Vec<Problem>> {
    let mut tree: Value = tree.map_err(|e| {
        vec![Problem::new(
            JsonPath::root(),
            format!("{} cannot be patched: {e}", source.path.display()),
        )]
    })?;
    let mut targets = Targets::default();
    check_targets(patch, &tree, &mut Vec::new(), &mut targets);
    if !targets.problems.is_empty() {
        return Err(targets.problems);
    }
    json_patch::merge(&mut tree, &Value::Object(patch.clone()));
    // Written out as JSON, whatever the file was written in.
    let text = Source {
        path: source.path.with_extension("json"),
        text: serde_json::to_string_pretty(&tree).expect("JSON values serialise"),
    };
    match deserialize(&text) {
        Ok(parsed) => Ok(parsed),
        Err(Error::Invalid { problems, .. }) => {
            let mut out: Vec<Problem> = Vec::new();
            for mut p in problems {
                let suspect = targets
                    .suspects
                    .iter()
                    .find(|s| p.path.0.starts_with(&s.path.0));
                match suspect {
                    Some(s) => {
                        if !out.iter().any(|o| o.path == s.path) {
                            out.push(s.clone());
                        }
                    }
                    None => {
                        p.message = format!("after patching, {}", p.message);
                        p.position = None;
                        out.push(p);
                    }
                }
            }
            Err(out)
        }
        Err(other) => Err(vec![Problem::new(JsonPath::root(), other.to_string())]),
    }
}

/// A variant's patch as (the scenario's part, the model's part).
type Parts = (Map<String, Value>, Map<String, Value>);

/// A variant's patch split into the scenario's part and the model's, or
/// the keys it may not patch.
fn split(patch: &Map<String, Value>) -> std::result::Result<Parts, Vec<Problem>> {
    let mut scenario = Map::new();
    let mut model = Map::new();
    let mut problems = Vec::new();
    for (key, value) in patch {
        if SCENARIO_KEYS.contains(&key.as_str()) {
            scenario.insert(key.clone(), value.clone());
        } else if RUN_KEYS.contains(&key.as_str()) {
            problems.push(Problem::new(
                JsonPath::root().key(key),
                format!(
                    "a variant patches the model, the faults, the hypotheses and the stop guards; `{key}` is a \
                     setting of the whole comparison, the same for every variant (for a what-if \
                     of one run, `faultline run --set {key}=…`)"
                ),
            ));
        } else {
            model.insert(key.clone(), value.clone());
        }
    }
    if problems.is_empty() {
        Ok((scenario, model))
    } else {
        Err(problems)
    }
}

/// `problem` at a model path, moved under `variants.<name>` in the
/// scenario file.
fn under_variant(name: &str, mut problem: Problem) -> Problem {
    let mut path = JsonPath::root().key("variants").key(name);
    path.0.append(&mut problem.path.0);
    problem.path = path;
    problem.position = None;
    problem
}

/// Problems of variant `name`'s patched model, each moved from its path in
/// the model to `variants.<name>.…` in the scenario file.
pub fn at_variant(name: &str, problems: Vec<Problem>) -> Vec<Problem> {
    problems
        .into_iter()
        .map(|p| under_variant(name, p))
        .collect()
}

impl Experiment {
    /// Variant names in comparison order: the baseline first (implicit when
    /// the scenario does not name one), then the others as written.
    pub fn variant_names(&self) -> Vec<String> {
        let mut names = vec![BASELINE.to_string()];
        names.extend(
            self.scenario
                .variants
                .keys()
                .filter(|name| *name != BASELINE)
                .cloned(),
        );
        names
    }

    /// A scenario that names its baseline compares against that patch.
    pub(super) fn with_baseline(self) -> Result<Experiment> {
        if self.scenario.variants.contains_key(BASELINE) {
            self.with_variant(BASELINE)
        } else {
            Ok(self)
        }
    }

    /// This experiment with variant `name`'s patch applied to the model.
    /// The model source stays the file as written (its hash detects edits);
    /// the parsed model, and so the manifest's model hash, is the patched
    /// one. The baseline without a patch is the model as written.
    pub fn with_variant(&self, name: &str) -> Result<Experiment> {
        if name == BASELINE && !self.scenario.variants.contains_key(BASELINE) {
            if self.variant == BASELINE {
                return Ok(self.clone());
            }
            return Ok(Experiment {
                model: self.written_model()?,
                scenario: self.written_scenario()?,
                variant: BASELINE.to_string(),
                ..self.clone()
            });
        }
        self.patched(name)
            .map_err(|problems| self.scenario_invalid(problems))
    }

    /// This experiment with the patch of the scenario's variant `name`
    /// applied to the model as written, or the problems of the patch (or of
    /// the name), each at its path in the scenario file.
    pub fn patched(&self, name: &str) -> std::result::Result<Experiment, Vec<Problem>> {
        let Some(patch) = self.scenario.variants.get(name) else {
            let names = self.variant_names();
            let suggestion = closest(name, names.iter().map(String::as_str))
                .map(|n| format!("did you mean `{n}`?"));
            return Err(vec![
                Problem::new(
                    JsonPath::root().key("variants"),
                    format!(
                        "no variant `{name}`; the scenario has: {}",
                        names.join(", ")
                    ),
                )
                .with_suggestion(suggestion),
            ]);
        };
        let under = |problems: Vec<Problem>| at_variant(name, problems);
        let (scenario_part, model_part) = split(patch).map_err(under)?;
        let model_tree = self.tree(&self.model_source, super::set::Target::Model);
        let model: ModelSpec =
            patched(&self.model_source, model_tree, &model_part).map_err(under)?;
        let scenario: ScenarioSpec = if scenario_part.is_empty() {
            self.written_scenario()
                .map_err(|e| vec![Problem::new(JsonPath::root(), e.to_string())])?
        } else {
            let tree = self.tree(&self.scenario_source, super::set::Target::Scenario);
            let parsed: ScenarioSpec =
                patched(&self.scenario_source, tree, &scenario_part).map_err(under)?;
            let problems = super::validate::scenario(&parsed);
            if !problems.is_empty() {
                return Err(under(problems));
            }
            parsed
        };
        Ok(Experiment {
            scenario,
            model,
            scenario_source: self.scenario_source.clone(),
            model_source: self.model_source.clone(),
            variant: name.to_string(),
            sets: self.sets.clone(),
        })
    }

    /// `problems` of this experiment's model, compiled: in the model file
    /// for the model as written, at `variants.<name>.…` in the scenario file
    /// for a model a patch made.
    pub fn model_invalid(&self, problems: Vec<Problem>) -> Error {
        if self.scenario.variants.contains_key(&self.variant) {
            self.scenario_source
                .invalid(at_variant(&self.variant, problems))
        } else {
            self.written_invalid(&self.model_source, super::set::Target::Model, problems)
        }
    }

    /// `problems` of the scenario, compiled against its model: where they
    /// are in the scenario file, or after the settings that changed it.
    pub fn scenario_invalid(&self, problems: Vec<Problem>) -> Error {
        self.written_invalid(
            &self.scenario_source,
            super::set::Target::Scenario,
            problems,
        )
    }

    fn written_invalid(
        &self,
        source: &Source,
        target: super::set::Target,
        problems: Vec<Problem>,
    ) -> Error {
        if self.sets.iter().any(|s| s.target == target) {
            // Problems under a variant's patch are where the patch is
            // written; the rest may come from a setting.
            let (patch, rest): (Vec<Problem>, Vec<Problem>) = problems
                .into_iter()
                .partition(|p| p.path.0.first() == Some(&Segment::Key("variants".into())));
            let mut problems = super::after_sets(&self.sets, rest);
            problems.extend(patch);
            Error::Invalid {
                file: source.path.clone(),
                problems,
            }
        } else {
            source.invalid(problems)
        }
    }
}
