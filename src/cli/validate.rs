//! `faultline validate FILE...`

use std::path::PathBuf;

use crate::plan::Plan;
use crate::spec::{self, Source};
use crate::topology::Topology;

pub(super) fn run(files: &[PathBuf]) -> crate::Result<i32> {
    let mut failed = false;
    for file in files {
        let result = Source::read(file).and_then(|source| {
            spec::check_syntax(&source)?;
            if spec::looks_like_scenario(&source) {
                let plan = Plan::load(file)?;
                let experiment = &plan.experiment;
                Ok(format!(
                    "scenario `{}` with model `{}` ({})",
                    experiment.scenario.name,
                    experiment.model.name,
                    experiment.model_source.path.display()
                ))
            } else {
                let topology = Topology::from_source(&source)?;
                Ok(format!(
                    "model `{}`: {} service{}, {} workload{}",
                    topology.name,
                    topology.services.len(),
                    plural(topology.services.len()),
                    topology.workloads.len(),
                    plural(topology.workloads.len())
                ))
            }
        });
        match result {
            Ok(what) => outln!("ok: {}: {what}", file.display()),
            Err(e) => {
                super::paint::error(&e.to_string());
                failed = true;
            }
        }
    }
    Ok(if failed { 2 } else { 0 })
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
