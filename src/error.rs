//! The library's errors. A simulated outage is data in the metrics, never an
//! `Err`: these are only for input the tool cannot use and output it cannot
//! write.

use std::fmt;
use std::path::PathBuf;

/// One step of a JSON path: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A location inside a JSON document, printed as `services.gateway.workers`
/// or `workload.checkout.schedule[1].rate`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonPath(pub Vec<Segment>);

impl JsonPath {
    pub fn root() -> Self {
        JsonPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_string()));
        JsonPath(segments)
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        JsonPath(segments)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                // Keys come from the file: shown escaped and cut short.
                Segment::Key(key) if i == 0 => write!(f, "{}", echo(key))?,
                Segment::Key(key) => write!(f, ".{}", echo(key))?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A value from a file as a message may show it: control characters (and
/// so terminal escape sequences) escaped, and no more than 60 characters.
pub fn echo(value: &str) -> String {
    // Bounded after escaping: a character outside the printable range
    // escapes to up to ten (`\u{10ffff}`).
    const SHOWN: usize = 60;
    let mut escaped = String::new();
    let mut shown = 0;
    for c in value.chars() {
        let e = c.escape_debug();
        shown += e.len();
        if shown > SHOWN {
            return format!("{escaped}… ({} bytes)", value.len());
        }
        escaped.extend(e);
    }
    escaped
}

/// One thing wrong with an input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: JsonPath,
    /// 1-based line and column of the offending value, where known.
    pub position: Option<(usize, usize)>,
    /// What was found and what was expected.
    pub message: String,
    /// An obvious fix, such as a close name ("did you mean ...").
    pub suggestion: Option<String>,
}

impl Problem {
    pub fn new(path: JsonPath, message: impl Into<String>) -> Self {
        Problem {
            path,
            position: None,
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn with_suggestion(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: another faultline (process {pid}) is writing it now; wait for it to finish, or write elsewhere with --out",
        path.display()
    )]
    Busy { path: PathBuf, pid: u32 },
    /// A run stopped by its budget; nothing was written.
    #[error("{run}: stopped at {at_s:.3} s of virtual time, {what}; nothing was written")]
    Budget {
        /// The scenario, variant and seed.
        run: String,
        at_s: f64,
        /// Which limit, why it is there and how to raise it.
        what: String,
    },
}

impl Error {
    /// Exit code for the command line: 2 for input the tool cannot use, 3 for
    /// output it could not write.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Read { .. } | Error::Invalid { .. } | Error::Budget { .. } => 2,
            Error::Write { .. } | Error::Busy { .. } => 3,
        }
    }

    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }
}

fn render_problems(file: &std::path::Path, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}: {}", file.display(), problem.path));
        if let Some((line, column)) = problem.position {
            out.push_str(&format!(" (line {line}, column {column})"));
        }
        out.push_str(&format!(": {}", problem.message));
        if let Some(suggestion) = &problem.suggestion {
            out.push_str(&format!("; {suggestion}"));
        }
    }
    if problems.len() > 1 {
        out.push_str(&format!("\n{} problems found", problems.len()));
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The candidate closest to `name`, if it is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        // A typo, not another word: at most a third of the longer name, and
        // never all of a short one.
        .filter(|(distance, candidate)| {
            *distance <= (name.len().max(candidate.len()) / 3).max(1) && *distance < name.len()
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}
