//! What-if settings: `--set PATH=VALUE`, one value placed into the
//! scenario or the model before either is parsed, as if the file said it.
//!
//! `PATH` is dotted (`faults.db-slow.for`, `services.app.workers`,
//! `workload.users.schedule.1.rate`) or, for keys that hold a dot, a JSON
//! Pointer (`/services/app/workers`). The scenario's own keys (`faults`,
//! `hypothesis`, `duration`, `warmup`, `seed`, and `model` alone, the
//! model file) set the scenario; anything else sets the model;
//! `scenario.` or `model.` in front says which outright (a model's
//! `name`, say). `VALUE` is read as JSON when it
//! is JSON (`8`, `true`, `{"constant": "5ms"}`, `null`, which removes the
//! key) and as a string otherwise (`3m`, `600/s`), so units need no
//! quotes.
//!
//! A setting reaches only what is there: every key on its way must exist
//! (a misspelt one is an error with the close name), and only the last
//! may be new, so a typo cannot quietly set a value nothing reads.

use serde_json::Value;

use crate::error::{JsonPath, Problem, Segment, closest};

/// Which file a setting sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Scenario,
    Model,
}

/// One `--set PATH=VALUE`, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// As given on the command line: what run.json records and replay
    /// applies again.
    pub text: String,
    pub target: Target,
    /// Keys (and list indices, as digits) from the file's root.
    pub path: Vec<String>,
    pub value: Value,
}

impl Setting {
    /// Parses `PATH=VALUE`; the error says what was expected.
    pub fn parse(text: &str) -> Result<Setting, String> {
        let (path, value) = text.split_once('=').ok_or_else(|| {
            format!("expected PATH=VALUE (such as `faults.db-slow.for=3m`), found `{text}`")
        })?;
        let mut keys: Vec<String> = if let Some(pointer) = path.strip_prefix('/') {
            pointer
                .split('/')
                .map(|k| k.replace("~1", "/").replace("~0", "~"))
                .collect()
        } else {
            path.split('.').map(str::to_string).collect()
        };
        if keys.iter().any(String::is_empty) {
            return Err(format!(
                "`{path}` has an empty key; separate keys with single dots (`services.app.workers`)"
            ));
        }
        let target = match keys[0].as_str() {
            "scenario" | "model" if keys.len() > 1 => {
                let first = keys.remove(0);
                if first == "scenario" {
                    Target::Scenario
                } else {
                    Target::Model
                }
            }
            // Alone, `model` is the scenario's path to its model file.
            "model" => Target::Scenario,
            // The scenario's keys a variant patches and those it may not:
            // every key of the scenario that the model does not also have.
            first
                if super::variant::SCENARIO_KEYS.contains(&first)
                    || super::variant::RUN_KEYS.contains(&first) =>
            {
                Target::Scenario
            }
            _ => Target::Model,
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        Ok(Setting {
            text: text.to_string(),
            target,
            path: keys,
            value,
        })
    }

    /// Where the setting points, as problems print it.
    pub fn json_path(&self) -> JsonPath {
        JsonPath(self.path.iter().cloned().map(Segment::Key).collect())
    }

    /// Places the value into `tree` (a file of its target), or says which
    /// key on the way is not there.
    pub fn apply(&self, tree: &mut Value) -> Result<(), Problem> {
        let (last, way) = self.path.split_last().expect("a path has a key");
        let mut node = tree;
        let mut at = JsonPath::root();
        for key in way {
            let hint = |node: &Value| -> Option<String> {
                match node {
                    Value::Object(map) => closest(key, map.keys().map(String::as_str))
                        .map(|name| format!("did you mean `{name}`?")),
                    Value::Array(items) => Some(format!(
                        "a list of {} here: give an index from 0",
                        items.len()
                    )),
                    _ => None,
                }
            };
            let index = match &*node {
                Value::Array(items) => key.parse::<usize>().ok().filter(|i| *i < items.len()),
                _ => None,
            };
            at = if matches!(node, Value::Array(_)) {
                at.index(index.unwrap_or(0))
            } else {
                at.key(key)
            };
            let there = index.is_some() || node.get(key).is_some();
            if !there {
                return Err(Problem::new(
                    at,
                    format!("`--set {}`: there is no `{key}` here", self.text),
                )
                .with_suggestion(hint(node)));
            }
            node = match index {
                Some(i) => &mut node[i],
                None => &mut node[key.as_str()],
            };
        }
        match node {
            Value::Object(map) => {
                if self.value.is_null() {
                    if map.shift_remove(last).is_none() {
                        return Err(Problem::new(
                            self.json_path(),
                            format!("`--set {}` removes `{last}`, which is not there", self.text),
                        ));
                    }
                } else {
                    map.insert(last.clone(), self.value.clone());
                }
                Ok(())
            }
            Value::Array(items) => match last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                Some(i) => {
                    items[i] = self.value.clone();
                    Ok(())
                }
                None => Err(Problem::new(
                    self.json_path(),
                    format!(
                        "`--set {}`: a list of {} here, `{last}` is not an index of it",
                        self.text,
                        items.len()
                    ),
                )),
            },
            _ => Err(Problem::new(
                self.json_path(),
                format!(
                    "`--set {}`: the value on the way is not an object or a list",
                    self.text
                ),
            )),
        }
    }
}

/// Applies every setting of `target` to `tree`, in order; all problems.
pub fn apply_all(settings: &[Setting], target: Target, tree: &mut Value) -> Vec<Problem> {
    settings
        .iter()
        .filter(|s| s.target == target)
        .filter_map(|s| s.apply(tree).err())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_route_to_their_file_and_values_read_as_json_or_text() {
        let s = Setting::parse("faults.db-slow.for=3m").unwrap();
        assert_eq!(s.target, Target::Scenario);
        assert_eq!(s.value, json!("3m"));
        let s = Setting::parse("services.app.workers=8").unwrap();
        assert_eq!((s.target, s.value), (Target::Model, json!(8)));
        let s = Setting::parse("model.name=other").unwrap();
        assert_eq!(
            (s.target, s.path),
            (Target::Model, vec!["name".to_string()])
        );
        let s = Setting::parse("/services/a.b/workers=null").unwrap();
        assert_eq!(s.path, ["services", "a.b", "workers"]);
        assert!(s.value.is_null());
        assert!(Setting::parse("services.app.workers").is_err());
        assert!(Setting::parse("services..workers=1").is_err());
    }

    proptest::proptest! {
        /// Any dotted path of keys and any JSON value come back as given,
        /// and a value that is not JSON comes back as its text.
        #[test]
        fn a_setting_reads_back_its_path_and_value(
            keys in proptest::collection::vec("[a-z][a-z0-9_-]{0,8}", 1..5),
            number in proptest::num::i64::ANY,
            text in "[a-z0-9/ ]{1,12}",
        ) {
            let path = keys.join(".");
            let keys = if keys.len() > 1 && (keys[0] == "scenario" || keys[0] == "model") {
                keys[1..].to_vec()
            } else {
                keys
            };
            let s = Setting::parse(&format!("{path}={number}")).unwrap();
            proptest::prop_assert_eq!(&s.path, &keys);
            proptest::prop_assert_eq!(s.value, json!(number));
            let s = Setting::parse(&format!("{path}={text}")).unwrap();
            let expected = serde_json::from_str(&text).unwrap_or(json!(text));
            proptest::prop_assert_eq!(s.value, expected);
            let mut tree = json!({});
            let mut node = &mut tree;
            for key in &keys[..keys.len() - 1] {
                node[key.as_str()] = json!({});
                node = &mut node[key.as_str()];
            }
            Setting::parse(&format!("{path}=1")).unwrap().apply(&mut tree).unwrap();
            let pointer: String = keys.iter().map(|k| format!("/{k}")).collect();
            proptest::prop_assert_eq!(tree.pointer(&pointer), Some(&json!(1)));
        }
    }

    #[test]
    fn a_setting_reaches_only_what_is_there() {
        let mut tree = json!({"services": {"app": {"workers": 4, "list": [1, 2]}}});
        Setting::parse("services.app.workers=8")
            .unwrap()
            .apply(&mut tree)
            .unwrap();
        Setting::parse("services.app.list.1=5")
            .unwrap()
            .apply(&mut tree)
            .unwrap();
        Setting::parse("services.app.queue=16")
            .unwrap()
            .apply(&mut tree)
            .unwrap();
        assert_eq!(
            tree,
            json!({"services": {"app": {"workers": 8, "list": [1, 5], "queue": 16}}})
        );
        let typo = Setting::parse("services.apl.workers=8")
            .unwrap()
            .apply(&mut tree)
            .unwrap_err();
        assert_eq!(typo.path.to_string(), "services.apl");
        assert_eq!(typo.suggestion.as_deref(), Some("did you mean `app`?"));
        assert!(
            Setting::parse("services.app.list.7=1")
                .unwrap()
                .apply(&mut tree)
                .is_err()
        );
        assert!(
            Setting::parse("services.app.absent=null")
                .unwrap()
                .apply(&mut tree)
                .is_err()
        );
    }
}
