//! Variants: named RFC 7396 merge patches over the model. A patch is
//! applied to the model's JSON and the result parsed as if it had been
//! written by hand (and compiled by `plan`, as the model is); every problem
//! is reported in the scenario file at `variants.<name>.…`, where the user
//! wrote the patch.

use serde_json::{Map, Value};

use super::{Experiment, ModelSpec, Source, deserialize};
use crate::error::closest;
use crate::error::{Error, JsonPath, Problem, Result, Segment};

/// The reference variant: the one named so in the scenario, or else the
/// model as written.
pub const BASELINE: &str = "baseline";

/// Model keys whose values are objects keyed by user-chosen names. A patch
/// key missing there is a new entry, or a misspelt one; elsewhere serde's
/// unknown-field check catches misspellings after patching.
fn is_keyed_collection(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["services"]
            | ["workload"]
            | ["clients"]
            | ["services", _, "endpoints"]
            | ["services", _, "endpoints", _, "calls"]
            | ["services", _, "instances", "placement"]
    )
}

/// Problems a patch has before it is applied: removing what is not there,
/// or naming a service, endpoint or call that is not there when a close
/// name is (a typo would otherwise add a half-specified entry).
fn check_targets(patch: &Map<String, Value>, model: &Value, at: &mut Vec<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(model) = model.as_object() else {
        return problems;
    };
    for (key, value) in patch {
        at.push(key.clone());
        match model.get(key) {
            Some(existing) => {
                if let Value::Object(inner) = value {
                    problems.extend(check_targets(inner, existing, at));
                }
            }
            None => {
                let suggestion = closest(key, model.keys().map(String::as_str))
                    .map(|name| format!("did you mean `{name}`?"));
                let path = JsonPath(at.iter().cloned().map(Segment::Key).collect());
                if value.is_null() {
                    problems.push(
                        Problem::new(
                            path,
                            format!("removes `{key}`, which the model does not have here"),
                        )
                        .with_suggestion(suggestion),
                    );
                } else if is_keyed_collection(&at[..at.len() - 1]) && suggestion.is_some() {
                    problems.push(
                        Problem::new(path, format!("the model has no `{key}` here"))
                            .with_suggestion(suggestion),
                    );
                }
            }
        }
        at.pop();
    }
    problems
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

/// The model with variant `name`'s patch applied and parsed, or the
/// problems of the patch, each at its path in the scenario file.
fn patched_model(
    experiment_model: &Source,
    name: &str,
    patch: &Map<String, Value>,
) -> std::result::Result<ModelSpec, Vec<Problem>> {
    let under = |problems: Vec<Problem>| at_variant(name, problems);
    let mut model: Value = experiment_model.tree().map_err(|e| {
        vec![Problem::new(
            JsonPath::root().key("variants").key(name),
            format!("the model file cannot be patched: {e}"),
        )]
    })?;
    let problems = check_targets(patch, &model, &mut Vec::new());
    if !problems.is_empty() {
        return Err(under(problems));
    }
    json_patch::merge(&mut model, &Value::Object(patch.clone()));
    // Written out as JSON, whatever the model was written in.
    let patched = Source {
        path: experiment_model.path.with_extension("json"),
        text: serde_json::to_string_pretty(&model).expect("JSON values serialise"),
    };
    match deserialize(&patched) {
        Ok(spec) => Ok(spec),
        Err(Error::Invalid { problems, .. }) => Err(under(
            problems
                .into_iter()
                .map(|mut p| {
                    p.message = format!("after patching, {}", p.message);
                    p
                })
                .collect(),
        )),
        Err(other) => Err(vec![Problem::new(
            JsonPath::root().key("variants").key(name),
            other.to_string(),
        )]),
    }
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
                model: super::parse_model(&self.model_source)?,
                variant: BASELINE.to_string(),
                ..self.clone()
            });
        }
        self.patched(name)
            .map_err(|problems| self.scenario_source.invalid(problems))
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
        let model = patched_model(&self.model_source, name, patch)?;
        Ok(Experiment {
            scenario: self.scenario.clone(),
            model,
            scenario_source: self.scenario_source.clone(),
            model_source: self.model_source.clone(),
            variant: name.to_string(),
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
            self.model_source.invalid(problems)
        }
    }
}
