//! `faultline import FILE --model MODEL [--out SCENARIO]`: a Chaos Toolkit
//! experiment or an AWS FIS experiment template as a scenario, with the
//! table of what each item of the file became.

use std::path::{Path, PathBuf};

use crate::import::{self, Outcome};
use crate::report::terminal;
use crate::spec::Source;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A Chaos Toolkit experiment (JSON or YAML) or an AWS FIS experiment
    /// template (JSON).
    file: PathBuf,
    /// The model the experiment runs against.
    #[arg(long, short = 'm')]
    model: PathBuf,
    /// Where to write the scenario. Default: `<FILE's stem>.scenario.json`
    /// in the current directory.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "imported".into());
        PathBuf::from(format!("{stem}.scenario.json"))
    });
    let input = Source::read(&args.file)?;
    if same_file(&args.file, &out) || same_file(&args.model, &out) {
        return Err(crate::Error::Invalid {
            file: out.clone(),
            problems: vec![crate::error::Problem::new(
                crate::error::JsonPath::root(),
                "--out names an input file: expected a new path for the scenario",
            )],
        });
    }
    let model = Source::read(&args.model)?;
    let imported = import::import(&input, &model, &out)?;
    import::write(&imported, &out)?;
    let mut table = terminal::table(&["from", "item", "to"]);
    terminal::left(&mut table, 1);
    terminal::left(&mut table, 2);
    let mut unmapped = 0;
    for row in &imported.rows {
        let to = match &row.outcome {
            Outcome::Mapped(entry) => entry.clone(),
            Outcome::Unmapped(why) => {
                unmapped += 1;
                format!("unmapped: {why}")
            }
        };
        table.add_row(vec![row.path.clone(), row.item.clone(), to]);
    }
    if super::verbosity() > super::Verbosity::Quiet {
        outln!("{} {}:", imported.format.name(), args.file.display());
        outln!("{table}");
        outln!(
            "timing: the experiment starts at {} (a {} warm-up, then {} of steady state); the run goes on {} after its end, for the recovery",
            crate::spec::units::Duration(import::WARMUP_NS + import::LEAD_NS),
            crate::spec::units::Duration(import::WARMUP_NS),
            crate::spec::units::Duration(import::LEAD_NS),
            crate::spec::units::Duration(import::RECOVERY_NS)
        );
    }
    outln!(
        "wrote {} ({} items mapped, {unmapped} unmapped); run it with `faultline run {}`",
        out.display(),
        imported.rows.len() - unmapped,
        out.display()
    );
    Ok(0)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
