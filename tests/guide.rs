//! `docs/first-model.md` as it is read: each file it shows is written, each
//! command it shows is run, and each output it shows is checked — exactly
//! (`text`), or line by line, in order, with runs of spaces taken as one
//! (`text excerpt`, for summaries whose tables are abridged).

use std::fs;
use std::process::Output;

use crate::common::*;

fn normalised(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn said(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_first_model_guide_runs_as_written() {
    let guide = fs::read_to_string(repo().join("docs/first-model.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut lines = guide.lines();
    let mut last: Option<(String, Output)> = None;
    let (mut files, mut commands, mut outputs) = (0, 0, 0);
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let mut text = block.join("\n");
        text.push('\n');
        if let Some(file) = info.strip_prefix("yaml file=") {
            let file = dir.path().join(file);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
            files += 1;
        } else if info == "sh" {
            for command in block {
                let output = documented_line(dir.path(), command);
                last = Some((command.to_string(), output));
                commands += 1;
            }
        } else if info == "text" || info == "text excerpt" {
            let (command, output) = last.as_ref().expect("an output follows a command");
            let stdout = String::from_utf8_lossy(&output.stdout);
            if info == "text" {
                assert_eq!(
                    stdout.trim_end(),
                    text.trim_end(),
                    "`{command}` printed something else than the guide shows"
                );
            } else {
                let printed: Vec<String> = stdout.lines().map(normalised).collect();
                let mut at = 0;
                for shown in block.iter().map(|l| normalised(l)) {
                    match printed[at..].iter().position(|p| p.contains(&shown)) {
                        Some(i) => at += i + 1,
                        None => panic!(
                            "`{command}` did not print, in this order, the guide's line\n  {shown}\n{}",
                            said(output)
                        ),
                    }
                }
            }
            outputs += 1;
        }
    }
    assert!(
        files >= 4 && commands >= 6 && outputs >= 6,
        "the guide's blocks were not found ({files} files, {commands} commands, {outputs} outputs)"
    );
}
