//! `faultline import`: a Chaos Toolkit experiment (JSON or YAML) or an AWS
//! FIS experiment template (JSON) turned into a scenario over a model.
//!
//! Each format's reader (`fis.rs`, `chaostoolkit.rs`) walks the file and
//! tells a `Builder` what each item becomes: a fault on the experiment's
//! clock, a hypothesis check, a stop guard, or nothing, with why. Every key
//! the reader meets is listed in the mapping table, mapped or not, so no
//! field is dropped in silence. The scenario is then compiled through
//! `Plan` before it is written: an import that does not compile is an
//! error, never a file left behind.

mod chaostoolkit;
mod fis;
mod targets;

use std::path::{Component as PathPart, Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::error::{Error, JsonPath, Problem, Result};
use crate::plan::Plan;
use crate::spec::Source;
use crate::spec::units::Duration;
use crate::topology::Topology;

/// Run time before the experiment starts, so the steady state the
/// analysis learns is there before the first fault.
pub const WARMUP_NS: u64 = 30 * SECOND;
/// Steady run time between the warm-up and the experiment's start: the
/// `before` phase a hypothesis is checked in, as Chaos Toolkit checks it
/// before the method.
pub const LEAD_NS: u64 = 30 * SECOND;
/// Run time after the experiment ends, to show the recovery.
pub const RECOVERY_NS: u64 = 120 * SECOND;
const SECOND: u64 = 1_000_000_000;

/// The seed an imported scenario runs with; `run --seed` overrides it.
const SEED: u64 = 1;

/// The two formats read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Fis,
    ChaosToolkit,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Fis => "AWS FIS experiment template",
            Format::ChaosToolkit => "Chaos Toolkit experiment",
        }
    }
}

/// What became of one item of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The scenario entries it became, in words.
    Mapped(String),
    /// Why it has no counterpart.
    Unmapped(String),
}

/// One line of the mapping table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Where the item is in the file.
    pub path: String,
    /// What the item is (an action id, a probe's name, a key).
    pub item: String,
    pub outcome: Outcome,
}

/// An imported experiment: the scenario's text and how it was made.
#[derive(Clone, Debug)]
pub struct Imported {
    pub format: Format,
    pub scenario: Value,
    pub text: String,
    pub rows: Vec<Row>,
}

/// Reads `input` (either format), maps it against the model in
/// `model_source` (read from `model_path`), and compiles the scenario that
/// `out` would hold. Nothing is written.
pub fn import(input: &Source, model_source: &Source, out: &Path) -> Result<Imported> {
    let tree = input.tree()?;
    let Value::Object(root) = &tree else {
        return Err(input.invalid(vec![Problem::new(
            JsonPath::root(),
            format!("expected an object: {}", EXPECTED_FORMATS),
        )]));
    };
    let format = detect(root).ok_or_else(|| {
        input.invalid(vec![Problem::new(
            JsonPath::root(),
            format!("neither format: {EXPECTED_FORMATS}"),
        )])
    })?;
    let topology = Topology::from_source(model_source)?;
    let names = targets::Names {
        topology: &topology,
    };
    let mut builder = Builder::new(names);
    match format {
        Format::Fis => fis::read(root, &mut builder),
        Format::ChaosToolkit => chaostoolkit::read(root, &mut builder),
    }
    if !builder.problems.is_empty() {
        return Err(input.invalid(builder.problems));
    }
    let name = scenario_name(&input.path);
    let model = relative_model_path(&model_source.path, out)?;
    let scenario = builder.scenario(&name, &model);
    let mut text = serde_json::to_string_pretty(&scenario).expect("a JSON tree prints");
    text.push('\n');
    Plan::all_from_texts(
        Source {
            path: out.to_path_buf(),
            text: text.clone(),
        },
        model_source.clone(),
        &[],
    )?;
    Ok(Imported {
        format,
        scenario,
        text,
        rows: builder.rows,
    })
}

/// Writes the scenario under a temporary name beside `out` and renames it
/// into place: a scenario file that exists is whole.
pub fn write(imported: &Imported, out: &Path) -> Result<()> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = out.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    std::fs::write(&tmp, &imported.text).map_err(|e| Error::write(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::write(out, e)
    })
}

const EXPECTED_FORMATS: &str = "expected a Chaos Toolkit experiment (with `method`, or `steady-state-hypothesis`) or an AWS FIS experiment template (with `actions` whose entries have `actionId`)";

fn detect(root: &Map<String, Value>) -> Option<Format> {
    let fis_actions = root
        .get("actions")
        .and_then(Value::as_object)
        .is_some_and(|a| a.values().any(|v| v.get("actionId").is_some()));
    if fis_actions || (root.contains_key("targets") && root.contains_key("stopConditions")) {
        return Some(Format::Fis);
    }
    if root.get("method").is_some_and(Value::is_array)
        || root.contains_key("steady-state-hypothesis")
    {
        return Some(Format::ChaosToolkit);
    }
    None
}

/// The scenario's name: the input's file stem, made a valid name.
fn scenario_name(input: &Path) -> String {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    entry_name(&stem, "imported")
}

/// `text` as a name faultline accepts (letters, digits, `-`, `_`, at most
/// 64 bytes, starting with a letter or digit), or `fallback`.
fn entry_name(text: &str, fallback: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches(['-', '_']).to_string();
    name.truncate(64);
    if name.is_empty() {
        fallback.to_string()
    } else {
        name
    }
}

/// The model's path as the scenario file at `out` names it: relative to
/// the scenario's directory.
pub(crate) fn relative_model_path(model: &Path, out: &Path) -> Result<String> {
    let absolute = |p: &Path| std::path::absolute(p);
    let model_abs = absolute(model).map_err(|source| Error::Read {
        file: model.to_path_buf(),
        source,
    })?;
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let dir_abs = absolute(dir.unwrap_or(Path::new("."))).map_err(|e| Error::write(out, e))?;
    fn clean(p: &Path) -> Vec<PathPart<'_>> {
        let mut parts = Vec::new();
        for part in p.components() {
            match part {
                PathPart::CurDir => {}
                PathPart::ParentDir if matches!(parts.last(), Some(PathPart::Normal(_))) => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts
    }
    let (from, to) = (clean(&dir_abs), clean(&model_abs));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for part in &to[common..] {
        rel.push(part.as_os_str());
    }
    Ok(rel.to_string_lossy().replace('\\', "/"))
}

/// A duration as the scenario writes it (`"1m 30s"`).
fn duration_text(ns: u64) -> String {
    Duration(ns).to_string()
}

/// Collects a scenario's entries and the mapping table while a reader
/// walks a file. Times are on the experiment's clock, which starts
/// `LEAD_NS` after the warm-up.
pub(crate) struct Builder<'t> {
    names: targets::Names<'t>,
    description: Option<String>,
    faults: IndexMap<String, Value>,
    hypothesis: IndexMap<String, Value>,
    stop: IndexMap<String, Value>,
    rows: Vec<Row>,
    problems: Vec<Problem>,
    /// The experiment's last instant: its last fault's end, or the end of
    /// its method's pauses.
    end: u64,
}

impl<'t> Builder<'t> {
    fn new(names: targets::Names<'t>) -> Self {
        Builder {
            names,
            description: None,
            faults: IndexMap::new(),
            hypothesis: IndexMap::new(),
            stop: IndexMap::new(),
            rows: Vec::new(),
            problems: Vec::new(),
            end: 0,
        }
    }

    fn mapped(&mut self, path: &JsonPath, item: impl Into<String>, entry: impl Into<String>) {
        self.rows.push(Row {
            path: path.to_string(),
            item: item.into(),
            outcome: Outcome::Mapped(entry.into()),
        });
    }

    fn unmapped(&mut self, path: &JsonPath, item: impl Into<String>, why: impl Into<String>) {
        self.rows.push(Row {
            path: path.to_string(),
            item: item.into(),
            outcome: Outcome::Unmapped(why.into()),
        });
    }

    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Every key of `object` not in `known`, listed as unmapped with `why`.
    fn rest(&mut self, object: &Map<String, Value>, known: &[&str], path: &JsonPath, why: &str) {
        for key in object.keys() {
            if !known.contains(&key.as_str()) {
                self.unmapped(&path.key(key), key.clone(), why.to_string());
            }
        }
    }

    fn reach(&mut self, instant: u64) {
        self.end = self.end.max(instant);
    }

    /// Adds a fault starting at `start` on the experiment's clock, lasting
    /// `length` (`None`: an instant fault, or one lasting to the end of the
    /// run); returns its name in the scenario.
    fn fault(
        &mut self,
        hint: &str,
        mut body: Map<String, Value>,
        start: u64,
        length: Option<u64>,
    ) -> String {
        let name = unique(&self.faults, &entry_name(hint, "fault"));
        body.insert(
            "at".into(),
            json!(duration_text(WARMUP_NS + LEAD_NS + start)),
        );
        if let Some(length) = length {
            body.insert("for".into(), json!(duration_text(length)));
        }
        self.reach(start + length.unwrap_or(0));
        self.faults.insert(name.clone(), Value::Object(body));
        name
    }

    fn check(&mut self, hint: &str, body: Value) -> String {
        let name = unique(&self.hypothesis, &entry_name(hint, "check"));
        self.hypothesis.insert(name.clone(), body);
        name
    }

    fn guard(&mut self, hint: &str, body: Value) -> String {
        let name = unique(&self.stop, &entry_name(hint, "guard"));
        self.stop.insert(name.clone(), body);
        name
    }

    fn has_faults(&self) -> bool {
        !self.faults.is_empty()
    }

    fn scenario(&self, name: &str, model: &str) -> Value {
        let mut scenario = Map::new();
        scenario.insert("name".into(), json!(name));
        if let Some(description) = &self.description {
            scenario.insert("description".into(), json!(description));
        }
        scenario.insert("model".into(), json!(model));
        let duration = WARMUP_NS + LEAD_NS + self.end + RECOVERY_NS;
        scenario.insert("duration".into(), json!(duration_text(duration)));
        scenario.insert("warmup".into(), json!(duration_text(WARMUP_NS)));
        scenario.insert("seed".into(), json!(SEED));
        for (key, entries) in [
            ("faults", &self.faults),
            ("hypothesis", &self.hypothesis),
            ("stop", &self.stop),
        ] {
            if !entries.is_empty() {
                let map: Map<String, Value> = entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                scenario.insert(key.into(), Value::Object(map));
            }
        }
        Value::Object(scenario)
    }

    /// Kills `selection` of the instances in `scope`. A whole zone taken
    /// out with no service named is the zone's outage, lasting `length`
    /// (`None`: to the end of the run, as for hosts terminated).
    #[allow(clippy::too_many_arguments)]
    fn kill(
        &mut self,
        hint: &str,
        path: &JsonPath,
        item: &str,
        scope: targets::Scope,
        selection: targets::Selection,
        mode: &str,
        start: u64,
        length: Option<u64>,
    ) {
        let Some(service) = scope.service else {
            let zone = scope.zone.expect("a scope names a service or a zone");
            self.zone_outage(hint, path, item, zone, selection, start, length);
            return;
        };
        let instances = self.names.instances(service, scope.zone);
        let count = selection.of(instances.len() as u32);
        if count == 0 {
            let where_ = scope
                .zone
                .map(|z| format!(" in {}", self.names.zone_name(z)))
                .unwrap_or_default();
            self.unmapped(
                path,
                item,
                format!(
                    "`{}` has no instance{where_} to kill",
                    self.names.service_name(service)
                ),
            );
            return;
        }
        let mut entries = Vec::new();
        if scope.zone.is_none() {
            let mut body = Map::new();
            body.insert("kind".into(), json!("instance_kill"));
            body.insert("target".into(), json!(self.names.service_name(service)));
            body.insert("count".into(), json!(count));
            body.insert("mode".into(), json!(mode));
            let name = self.fault(hint, body, start, None);
            entries.push(format!(
                "{name}: instance_kill {count} of {}'s {} instances, {mode} (selection {})",
                self.names.service_name(service),
                instances.len(),
                selection.describe()
            ));
        } else {
            for &instance in instances.iter().take(count as usize) {
                let mut body = Map::new();
                body.insert("kind".into(), json!("instance_kill"));
                body.insert("target".into(), json!(self.names.instance_name(instance)));
                body.insert("mode".into(), json!(mode));
                let name = self.fault(hint, body, start, None);
                entries.push(format!(
                    "{name}: instance_kill {} {mode}",
                    self.names.instance_name(instance)
                ));
            }
        }
        if let Some(length) = length {
            self.reach(start + length);
        }
        self.mapped(path, item, entries.join("; "));
    }

    #[allow(clippy::too_many_arguments)]
    fn zone_outage(
        &mut self,
        hint: &str,
        path: &JsonPath,
        item: &str,
        zone: usize,
        selection: targets::Selection,
        start: u64,
        length: Option<u64>,
    ) {
        if selection != targets::Selection::All
            && selection.of(self.names.zone_instances(zone) as u32)
                < self.names.zone_instances(zone) as u32
        {
            self.unmapped(
                path,
                item,
                format!(
                    "a part ({}) of every instance in zone {}: faultline kills a share of a service's instances, or a whole zone; name a service",
                    selection.describe(),
                    self.names.zone_name(zone)
                ),
            );
            return;
        }
        let mut body = Map::new();
        body.insert("kind".into(), json!("zone_outage"));
        body.insert("zone".into(), json!(self.names.zone_name(zone)));
        let name = self.fault(hint, body, start, length);
        let until = length.map_or("to the end of the run".to_string(), |l| {
            format!("for {}", duration_text(l))
        });
        self.mapped(
            path,
            item,
            format!(
                "{name}: zone_outage {} {until} (every instance of the zone)",
                self.names.zone_name(zone)
            ),
        );
    }

    /// A fault whose kind takes a `target` (latency, errors, cpu stress):
    /// the whole service when the selection takes every instance, else one
    /// fault per instance taken. `fields` are the kind's own.
    #[allow(clippy::too_many_arguments)]
    fn targeted(
        &mut self,
        hint: &str,
        path: &JsonPath,
        item: &str,
        kind: &str,
        fields: Map<String, Value>,
        scope: targets::Scope,
        selection: targets::Selection,
        start: u64,
        length: u64,
    ) {
        let Some(service) = scope.service else {
            let zone = scope.zone.expect("a scope names a service or a zone");
            self.unmapped(
                path,
                item,
                format!(
                    "{kind} on zone {} as a whole: faultline puts {kind} on a service or an instance; name a service",
                    self.names.zone_name(zone)
                ),
            );
            return;
        };
        let instances = self.names.instances(service, scope.zone);
        let count = selection.of(instances.len() as u32) as usize;
        let what: String = fields
            .iter()
            .map(|(k, v)| format!("{k} {}", compact(v)))
            .collect::<Vec<_>>()
            .join(", ");
        let targets: Vec<String> = if scope.zone.is_none() && count == instances.len() {
            vec![self.names.service_name(service).to_string()]
        } else {
            instances
                .iter()
                .take(count)
                .map(|&i| self.names.instance_name(i).to_string())
                .collect()
        };
        if targets.is_empty() {
            self.unmapped(
                path,
                item,
                format!(
                    "`{}` has no instance in scope",
                    self.names.service_name(service)
                ),
            );
            return;
        }
        let mut entries = Vec::new();
        for target in targets {
            let mut body = Map::new();
            body.insert("kind".into(), json!(kind));
            body.insert("target".into(), json!(target));
            body.extend(fields.clone());
            let name = self.fault(hint, body, start, Some(length));
            entries.push(format!(
                "{name}: {kind} on {target} ({what}) for {}",
                duration_text(length)
            ));
        }
        self.mapped(path, item, entries.join("; "));
    }

    /// The probe names of the model, for hypothesis checks and guards.
    fn probe_exists(&self, probe: &str) -> bool {
        crate::plan::resolve_probe(self.names.topology, probe).is_some()
    }

    fn probe_names(&self) -> Vec<String> {
        let t = self.names.topology;
        t.workloads
            .iter()
            .map(|w| w.name.clone())
            .chain(t.endpoints.iter().map(|e| e.full_name.clone()))
            .chain(t.services.iter().map(|s| s.name.clone()))
            .collect()
    }

    /// The probe a free text (a URL path, a probe's name) names: the
    /// longest workload, endpoint or service name found in it between
    /// non-alphanumeric characters, an endpoint as `service.endpoint` or
    /// `service/endpoint`.
    fn probe_in(&self, text: &str) -> Option<String> {
        let text = text.replace('/', ".");
        let bounded = |name: &str| {
            text.match_indices(name).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + name.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric())
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric())
            })
        };
        self.probe_names()
            .into_iter()
            .filter(|name| bounded(name))
            .max_by_key(|name| name.len())
    }
}

/// `base`, or `base-2`, `base-3`… when taken.
fn unique(taken: &IndexMap<String, Value>, base: &str) -> String {
    if !taken.contains_key(base) {
        return base.to_string();
    }
    (2..)
        .map(|k| format!("{base}-{k}"))
        .find(|n| !taken.contains_key(n))
        .expect("some suffix is free")
}

/// A JSON value in one short line, for the table.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON number or numeric string as `f64`.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// A duration given as seconds (a number) or as text (`"PT5M"`, `"30s"`).
fn seconds_or_text(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .map(|s| (s * 1e9).round() as u64),
        Value::String(s) => Duration::parse(s).ok().map(Duration::nanos),
        _ => None,
    }
}

/// Milliseconds given as a number or text (`100`, `"100"`, `"100ms"`).
fn millis(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) if s.trim().chars().any(|c| c.is_ascii_alphabetic()) => {
            Duration::parse(s).ok().map(Duration::nanos)
        }
        other => number(other)
            .filter(|ms| *ms >= 0.0 && *ms < 1e12)
            .map(|ms| (ms * 1e6).round() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_model_path_is_relative_to_the_scenario() {
        let rel = relative_model_path(Path::new("/p/models/shop.json"), Path::new("/p/out/x.json"))
            .unwrap();
        assert_eq!(rel, "../models/shop.json");
        let rel =
            relative_model_path(Path::new("/p/models/shop.json"), Path::new("/p/x.json")).unwrap();
        assert_eq!(rel, "models/shop.json");
    }

    #[test]
    fn import_entry_names_are_valid_names() {
        assert_eq!(entry_name("Stop ECS Tasks!", "x"), "stop-ecs-tasks");
        assert_eq!(entry_name("***", "x"), "x");
        assert!(crate::spec::names::problem("fault", &entry_name("a/b:c", "x")).is_none());
    }

    #[test]
    fn import_durations_read_seconds_and_iso() {
        assert_eq!(seconds_or_text(&json!(30)), Some(30 * SECOND));
        assert_eq!(seconds_or_text(&json!("PT5M")), Some(300 * SECOND));
        assert_eq!(millis(&json!(250)), Some(250_000_000));
        assert_eq!(millis(&json!("1s")), Some(SECOND));
    }

    /// Trees built from the words both formats use, so that the readers
    /// go deep rather than stopping at the top.
    fn tree() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        const WORDS: &[&str] = &[
            "actions",
            "actionId",
            "targets",
            "startAfter",
            "parameters",
            "duration",
            "selectionMode",
            "resourceTags",
            "resourceArns",
            "filters",
            "path",
            "values",
            "stopConditions",
            "source",
            "value",
            "tags",
            "method",
            "type",
            "action",
            "probe",
            "provider",
            "module",
            "func",
            "arguments",
            "pauses",
            "before",
            "after",
            "name",
            "steady-state-hypothesis",
            "probes",
            "tolerance",
            "url",
            "http",
            "python",
            "rollbacks",
            "range",
            "orders",
            "az-a",
            "PT1M",
            "ALL",
            "PERCENT(50)",
            "COUNT(2)",
            "aws:ecs:stop-task",
            "aws:network:disrupt-connectivity",
            "aws:rds:failover-db-cluster",
            "aws:ssm:send-command",
            "aws:fis:wait",
            "chaosk8s.pod.actions",
            "terminate_pods",
            "label_selector",
            "app=orders",
            "qty",
            "mode",
            "percentage",
            "latency",
            "scope",
            "percentage",
            "aws:cloudwatch:alarm",
            "checkout-error-rate-above-5pct",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            proptest::sample::select(WORDS).prop_map(|w| json!(w)),
            ".{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((proptest::sample::select(WORDS), inner), 0..6).prop_map(
                    |pairs| {
                        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                    }
                ),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn import_never_panics_on_arbitrary_json(
            tree in tree(),
            action in tree(),
            targets in tree(),
            shape in 0..3u8,
        ) {
            // Shapes of each format around the arbitrary parts, so the
            // readers get past detection.
            let tree = match shape {
                0 => tree,
                1 => json!({
                    "targets": targets,
                    "actions": { "a": { "actionId": "aws:ecs:stop-task", "targets": {"Tasks": "t"}, "x": action } },
                    "stopConditions": tree,
                }),
                _ => json!({
                    "method": [action, { "type": "action", "provider": targets }],
                    "steady-state-hypothesis": { "probes": [tree] },
                }),
            };
            let model = Source {
                path: PathBuf::from("models/shop.json"),
                text: include_str!("../../models/shop.json").to_string(),
            };
            let input = Source {
                path: PathBuf::from("experiment.json"),
                text: tree.to_string(),
            };
            let _ = import(&input, &model, Path::new("out/experiment.json"));
        }
    }
}
