//! `faultline new NAME [--template T] [--format yaml|json]`: a commented
//! model and a scenario with a fault, a hypothesis and a variant, that
//! validate, lint and run as written — a design to start from rather than a
//! blank file.

use std::path::PathBuf;

use crate::experiment::output::Staging;
use crate::spec::Source;

/// The templates, each a model and a scenario whose name is `__NAME__`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Template {
    /// Web and app servers behind health-checked balancers, a cache and a
    /// replicated database over three zones; a zone is lost.
    ThreeTier,
    /// The bundled demo's design: a gateway, a catalog, orders and one
    /// orders database with generous timeouts; the database slows down, and
    /// three mitigations are compared.
    Checkout,
}

impl Template {
    /// The model and scenario texts, in YAML with comments.
    pub(crate) fn texts(self) -> (&'static str, &'static str) {
        match self {
            Template::ThreeTier => (
                include_str!("../../templates/three-tier/model.yaml"),
                include_str!("../../templates/three-tier/scenario.yaml"),
            ),
            Template::Checkout => (
                include_str!("../../templates/checkout/model.yaml"),
                include_str!("../../templates/checkout/scenario.yaml"),
            ),
        }
    }
}

/// The file format written. YAML keeps the comments that explain each part;
/// JSON has no comments and carries only the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Yaml,
    Json,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Directory to create; its last part names the model and the scenario
    /// (letters, digits, '-' and '_').
    dir: PathBuf,
    /// The design to start from.
    #[arg(long, short = 't', value_enum, default_value_t = Template::ThreeTier)]
    template: Template,
    /// File format of the model and the scenario.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    format: Format,
}

/// The model and scenario files of `template` for a design named `name`,
/// as (file name, contents).
pub(crate) fn files(
    template: Template,
    name: &str,
    format: Format,
) -> crate::Result<[(String, String); 2]> {
    let (model, scenario) = template.texts();
    let model_file = format!("model.{}", format.extension());
    let scenario_file = format!("scenario.{}", format.extension());
    let named = |text: &str| text.replace("__NAME__", name);
    let (model, scenario) = (named(model), named(scenario));
    Ok(match format {
        Format::Yaml => [(model_file, model), (scenario_file, scenario)],
        Format::Json => {
            let tree = |file: &str, text: String| {
                Source {
                    path: PathBuf::from(format!("(template) {file}")),
                    text,
                }
                .tree()
            };
            let model = tree("model.yaml", model)?;
            let mut scenario = tree("scenario.yaml", scenario)?;
            scenario["model"] = serde_json::Value::String(model_file.clone());
            let pretty = |tree: &serde_json::Value| {
                let mut text = serde_json::to_string_pretty(tree).expect("a JSON tree prints");
                text.push('\n');
                text
            };
            [
                (model_file, pretty(&model)),
                (scenario_file, pretty(&scenario)),
            ]
        }
    })
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let name = args
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(problem) = crate::spec::names::problem("design", &name) {
        super::paint::error(&format!(
            "{}: the directory's last part names the design: {problem}",
            args.dir.display()
        ));
        return Ok(2);
    }
    if args.dir.exists() {
        super::paint::error(&format!(
            "{} already exists; nothing written (choose a new directory: `faultline new` never overwrites)",
            args.dir.display()
        ));
        return Ok(2);
    }
    let files = files(args.template, &name, args.format)?;
    // Staged beside the target and moved into place whole: an interrupted
    // `new` leaves no half-written design behind.
    let staging = Staging::new(&args.dir)?;
    for (file, text) in &files {
        staging.write_file(file, text)?;
    }
    staging.commit()?;

    let at = |file: &str| args.dir.join(file).display().to_string();
    let (model, scenario) = (at(&files[0].0), at(&files[1].0));
    outln!("wrote {}/", args.dir.display());
    outln!("  {model:<28} the architecture: services, instances, zones, calls, traffic");
    outln!("  {scenario:<28} an experiment on it: a fault, a hypothesis, variants to compare");
    outln!("next:");
    outln!("  faultline lint {scenario:<31} the traps of the design, before a run");
    outln!("  faultline run {scenario:<32} the fault, its cascade, the hypothesis verdict");
    outln!(
        "  faultline compare {scenario} --seeds 10   the variants over 10 seeds, with intervals"
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;
    use clap::ValueEnum as _;

    fn write(dir: &std::path::Path, template: Template, format: Format) -> PathBuf {
        let [model, scenario] = files(template, "my-design", format).unwrap();
        for (file, text) in [&model, &scenario] {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir.join(&scenario.0)
    }

    #[test]
    fn every_template_validates_and_lints_clean_in_both_formats() {
        for &template in Template::value_variants() {
            for format in [Format::Yaml, Format::Json] {
                let dir = tempfile::tempdir().unwrap();
                let scenario = write(dir.path(), template, format);
                let plans = Plan::load_all(&scenario)
                    .unwrap_or_else(|e| panic!("{template:?} {format:?}: {e}"));
                assert!(plans.len() >= 2, "{template:?}: a variant to compare");
                let plan = &plans[0];
                assert_eq!(plan.experiment.scenario.name, "my-design");
                assert_eq!(plan.experiment.model.name, "my-design");
                assert!(!plan.experiment.scenario.faults.is_empty(), "{template:?}");
                assert!(
                    !plan.experiment.scenario.hypothesis.is_empty(),
                    "{template:?}"
                );
                let shown: Vec<_> = crate::lint::plan(plan)
                    .into_iter()
                    .filter(|f| f.allowed.is_none())
                    .map(|f| format!("{} {}", f.rule, f.path))
                    .collect();
                assert!(shown.is_empty(), "{template:?} {format:?}: {shown:?}");
            }
        }
    }

    #[test]
    fn yaml_and_json_of_a_template_hold_the_same_tree() {
        for &template in Template::value_variants() {
            let yaml = files(template, "x", Format::Yaml).unwrap();
            let json = files(template, "x", Format::Json).unwrap();
            for (y, j) in yaml.iter().zip(&json) {
                let y = Source {
                    path: PathBuf::from(&y.0),
                    text: y.1.clone(),
                }
                .tree()
                .unwrap();
                let mut j: serde_json::Value = serde_json::from_str(&j.1).unwrap();
                if j.get("model").is_some() {
                    j["model"] = "model.yaml".into();
                }
                assert_eq!(y, j, "{template:?}");
            }
        }
    }

    /// The checkout template is the demo's design and experiment, with
    /// comments: the same tree but for names, paths and the reasons given
    /// for lint allowances.
    #[test]
    fn the_checkout_template_is_the_demo() {
        let [(_, model), (_, scenario)] = files(Template::Checkout, "x", Format::Json).unwrap();
        let tree = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        let strip = |mut tree: serde_json::Value| {
            let object = tree.as_object_mut().unwrap();
            for key in ["$schema", "name", "model"] {
                object.remove(key);
            }
            if let Some(allow) = object
                .get_mut("lint")
                .and_then(|l| l.get_mut("allow"))
                .and_then(|a| a.as_array_mut())
            {
                for entry in allow {
                    entry.as_object_mut().unwrap().remove("because");
                }
            }
            tree
        };
        let demo_model = tree(crate::cli::demo::MODEL.1);
        let demo_scenario = tree(crate::cli::demo::SCENARIO.1);
        assert_eq!(strip(tree(&model)), strip(demo_model));
        assert_eq!(strip(tree(&scenario)), strip(demo_scenario));
    }
}
