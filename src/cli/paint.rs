//! Colour for what a reader scans for on a terminal: PASS and FAIL, checks
//! met and missed, comparison verdicts, errors and warnings. Applied only
//! at printing; `anstream` strips it where colour is not wanted (not a
//! terminal, `NO_COLOR`, `--color never`), and no file ever holds it.

use anstyle::{AnsiColor, Style};

const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const MIXED: Style = AnsiColor::Yellow.on_default().bold();

fn styled(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// The first occurrence of each marker in a line, styled.
fn mark(line: &str, markers: &[(&str, Style)]) -> String {
    let mut line = line.to_string();
    for (marker, style) in markers {
        if let Some(at) = line.find(marker) {
            line.replace_range(at..at + marker.len(), &styled(*style, marker));
        }
    }
    line
}

/// Hypothesis verdicts (`PASS`/`FAIL` at a line's start, `✓`/`✗` before a
/// check), comparison verdicts (`better`, `worse`, `mixed` in the last
/// column of a ranking) and lint severities (`error[`, `warning[`).
pub(super) fn verdicts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let painted = if trimmed.starts_with("error[") {
            mark(line, &[("error", BAD)])
        } else if trimmed.starts_with("warning[") {
            mark(line, &[("warning", MIXED)])
        } else if trimmed.starts_with("PASS") {
            mark(line, &[("PASS", GOOD)])
        } else if trimmed.starts_with("FAIL") {
            mark(line, &[("FAIL", BAD)])
        } else if trimmed.starts_with('✓') {
            mark(line, &[("✓", GOOD)])
        } else if trimmed.starts_with('✗') {
            mark(line, &[("✗", BAD)])
        } else {
            let last = |word: &str| {
                line.rfind(&format!("  {word}"))
                    .map(|at| (at + 2, word.len()))
            };
            match [("better", GOOD), ("worse", BAD), ("mixed", MIXED)]
                .into_iter()
                .find_map(|(word, style)| last(word).map(|at| (at, style)))
            {
                Some(((at, len), style)) => {
                    let mut line = line.to_string();
                    let word = line[at..at + len].to_string();
                    line.replace_range(at..at + len, &styled(style, &word));
                    line
                }
                None => line.to_string(),
            }
        };
        out.push_str(&painted);
    }
    out
}

/// `error: …` on standard error.
pub(super) fn error(message: &str) {
    anstream::eprintln!("{}: {message}", styled(BAD, "error"));
}

/// `warning: …` on standard error.
pub(super) fn warning(message: &str) {
    anstream::eprintln!("{}: {message}", styled(MIXED, "warning"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_styled_and_nothing_else_changes() {
        let text = "FAIL  h (users during)\n      ✗ error_rate_below  measured 5 %\nPASS  g\n   1  fix   90.0  better: availability\nplain line\n";
        let painted = verdicts(text);
        assert!(painted.contains(&styled(BAD, "FAIL")));
        assert!(painted.contains(&styled(BAD, "✗")));
        assert!(painted.contains(&styled(GOOD, "PASS")));
        assert!(painted.contains(&styled(GOOD, "better")));
        // Stripped of its escapes, the text is what it was.
        let stripped: String = anstream::adapter::strip_str(&painted).to_string();
        assert_eq!(stripped, text);
    }
}
