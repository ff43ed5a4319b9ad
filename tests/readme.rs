//! Every command the README shows in its shell examples works as written,
//! with `faultline` on the PATH, from a copy of the project's files: the
//! documentation cannot drift from the binary unnoticed.

use std::fs;
use std::path::Path;

use crate::common::*;

/// The README's runnable example lines, in order: the lines of its `sh`
/// blocks that call `faultline`, leaving out the synopses (`[--seed N]`,
/// `SCENARIO`, `<name>`), which are not meant to run.
fn examples(readme: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_shell = false;
    // A command continued over lines with a trailing `\` is one command.
    let mut joined: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in readme.lines() {
        match line.strip_suffix('\\') {
            Some(head) if !line.starts_with("```") => pending.push_str(if pending.is_empty() {
                head
            } else {
                head.trim_start()
            }),
            _ => {
                pending.push_str(if pending.is_empty() {
                    line
                } else {
                    line.trim_start()
                });
                joined.push(std::mem::take(&mut pending));
            }
        }
    }
    for line in &joined {
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        let command = line.split(" # ").next().unwrap_or("").trim_end();
        // A synopsis shows its choices as `a|b` (a shell pipe has spaces).
        let placeholder = command.contains(['[', '<'])
            || command
                .split_whitespace()
                .any(|word| word.contains('|') && word != "|")
            || command.split_whitespace().any(|word| {
                word.len() >= 3
                    && word
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c == '.')
            });
        if in_shell && command.starts_with("faultline ") && !placeholder {
            lines.push(command.to_string());
        }
    }
    lines
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn every_example_in_the_readme_runs_as_written() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(
        examples.len() >= 6,
        "the README's examples were not found: {examples:?}"
    );
    let project = tempfile::tempdir().unwrap();
    for dir in ["models", "scenarios", "schemas", "examples"] {
        copy_tree(&repo().join(dir), &project.path().join(dir));
    }
    for example in &examples {
        documented_line(project.path(), example);
    }
}

#[test]
fn synopses_are_told_from_examples() {
    let readme = "```sh\nfaultline run [SCENARIO]\nfaultline graph MODEL --format dot|mermaid\nfaultline completions bash|zsh\nfaultline run scenarios/a.json   # why\nfaultline new my-design\nfaultline completions bash > f\n```\nfaultline run outside\n";
    assert_eq!(
        examples(readme),
        [
            "faultline run scenarios/a.json",
            "faultline new my-design",
            "faultline completions bash > f"
        ]
    );
}
