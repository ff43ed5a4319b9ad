//! `faultline schema [model|scenario]`

use clap::ValueEnum;

use crate::spec::{ModelSpec, ScenarioSpec};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Kind {
    Model,
    Scenario,
}

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Which file kind; without it, a schema that accepts either.
    kind: Option<Kind>,
}

/// The JSON Schema of a file kind, or of both (`anyOf`).
pub(super) fn schema_json(kind: Option<Kind>) -> serde_json::Value {
    match kind {
        Some(Kind::Model) => schemars::schema_for!(ModelSpec).to_value(),
        Some(Kind::Scenario) => schemars::schema_for!(ScenarioSpec).to_value(),
        None => {
            let mut model = schemars::schema_for!(ModelSpec).to_value();
            let mut scenario = schemars::schema_for!(ScenarioSpec).to_value();
            // Each sub-schema keeps its own definitions under a distinct
            // name so the two sets cannot collide.
            let defs_model = model.as_object_mut().and_then(|o| o.remove("$defs"));
            let defs_scenario = scenario.as_object_mut().and_then(|o| o.remove("$defs"));
            let mut defs = serde_json::Map::new();
            for d in [defs_model, defs_scenario].into_iter().flatten() {
                if let serde_json::Value::Object(map) = d {
                    defs.extend(map);
                }
            }
            for s in [&mut model, &mut scenario] {
                if let Some(o) = s.as_object_mut() {
                    o.remove("$schema");
                }
            }
            serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "faultline model or scenario",
                "anyOf": [model, scenario],
                "$defs": defs,
            })
        }
    }
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let text = serde_json::to_string_pretty(&schema_json(args.kind)).expect("schema serialises");
    outln!("{text}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schemas shipped in `schemas/` (referenced by `$schema` in the
    /// shipped files) must be what the binary prints.
    #[test]
    fn shipped_schemas_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (kind, file) in [
            (Kind::Model, "schemas/model.schema.json"),
            (Kind::Scenario, "schemas/scenario.schema.json"),
        ] {
            let shipped = std::fs::read_to_string(root.join(file)).unwrap();
            let current = serde_json::to_string_pretty(&schema_json(Some(kind))).unwrap() + "\n";
            assert!(
                shipped == current,
                "{file} is stale: run `cargo run -- schema {} > {file}`",
                if matches!(kind, Kind::Model) {
                    "model"
                } else {
                    "scenario"
                }
            );
        }
    }

    #[test]
    fn combined_schema_accepts_either_kind() {
        let schema = schema_json(None);
        assert_eq!(schema["anyOf"].as_array().map(Vec::len), Some(2));
        assert!(schema["$defs"]["Duration"].is_object());
    }
}
