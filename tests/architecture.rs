//! The layering ARCHITECTURE.md draws, checked against the source: every
//! import of a top-level module points down the list of layers there, the
//! modules form no cycle, and the engine and its components reach none of
//! the file formats, the command line, the plotting or the wall clock.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

use crate::common::repo;

/// Top-level modules of the library: `src/<m>.rs` or `src/<m>/`.
fn modules() -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(repo().join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            let is_module = p.is_dir() || p.extension().is_some_and(|x| x == "rs");
            (is_module && name != "lib" && name != "main").then_some(name)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn sources(module: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let src = repo().join("src");
    let mut out = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        out.push(file);
    }
    let dir = src.join(module);
    if dir.is_dir() {
        walk(&dir, &mut out);
    }
    out.sort();
    out
}

/// Source lines without comments (line comments and doc comments; the
/// code base has no block comments).
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let code = line.split("//").next().unwrap_or("");
            (!code.trim().is_empty()).then(|| (i + 1, code.to_string()))
        })
        .collect()
}

/// The modules a module names through `crate::x`, with where.
fn imports(module: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for path in sources(module) {
        for (line, code) in code_lines(&path) {
            let mut rest = code.as_str();
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `crate::Result` and `crate::Error` are re-exports of `error`.
                let name = match name.as_str() {
                    "Result" | "Error" => "error".to_string(),
                    _ => name,
                };
                if !name.is_empty() && name != module {
                    out.entry(name).or_insert_with(|| {
                        format!("{}:{line}", path.strip_prefix(repo()).unwrap().display())
                    });
                }
            }
        }
    }
    out
}

/// The layers of ARCHITECTURE.md, top first: each line of the block between
/// the `layers` markers is one layer, its modules separated by spaces.
fn layers() -> Vec<Vec<String>> {
    let text = fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let start = text
        .find("<!-- layers -->")
        .expect("ARCHITECTURE.md marks its layer list with <!-- layers -->");
    let end = text[start..]
        .find("<!-- /layers -->")
        .expect("the layer list ends with <!-- /layers -->")
        + start;
    text[start..end]
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("```") && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

type Imports = BTreeMap<String, BTreeMap<String, String>>;

/// Every import that does not point to a lower layer, and every module
/// without a layer.
fn layering_problems(layers: &[Vec<String>], imports: &Imports) -> Vec<String> {
    let level = |m: &str| layers.iter().position(|layer| layer.iter().any(|x| x == m));
    let mut problems = Vec::new();
    for (module, imported) in imports {
        let Some(mine) = level(module) else {
            problems.push(format!(
                "src/{module} is in no layer of ARCHITECTURE.md: place it"
            ));
            continue;
        };
        for (other, at) in imported {
            match level(other) {
                Some(theirs) if theirs > mine => {}
                Some(_) => problems.push(format!(
                    "{at}: `{module}` imports `{other}`, which is not below it in ARCHITECTURE.md's layers"
                )),
                None => problems.push(format!("{at}: `{other}` is in no layer")),
            }
        }
    }
    problems
}

#[test]
fn every_module_has_a_layer_and_imports_only_below_it() {
    let layers = layers();
    let modules = modules();
    for layer in &layers {
        for module in layer {
            assert!(
                modules.contains(module),
                "ARCHITECTURE.md lists `{module}`, which src/ does not have"
            );
        }
    }
    let imports: Imports = modules.iter().map(|m| (m.clone(), imports(m))).collect();
    let problems = layering_problems(&layers, &imports);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn an_upward_or_sideways_import_is_reported() {
    let layers = |rows: &[&[&str]]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|m| m.to_string()).collect())
            .collect()
    };
    let imports: Imports = [
        (
            "sim".to_string(),
            [("spec".to_string(), "src/sim/x.rs:3".to_string())].into(),
        ),
        ("spec".to_string(), BTreeMap::new()),
    ]
    .into();
    assert!(layering_problems(&layers(&[&["sim"], &["spec"]]), &imports).is_empty());
    let upward = layering_problems(&layers(&[&["spec"], &["sim"]]), &imports);
    assert_eq!(upward.len(), 1, "{upward:?}");
    assert!(upward[0].starts_with("src/sim/x.rs:3: `sim` imports `spec`"));
    let sideways = layering_problems(&layers(&[&["sim", "spec"]]), &imports);
    assert_eq!(sideways.len(), 1, "{sideways:?}");
    let unplaced = layering_problems(&layers(&[&["spec"]]), &imports);
    assert!(unplaced[0].contains("in no layer"), "{unplaced:?}");
}

#[test]
fn top_level_modules_form_no_cycle() {
    let modules = modules();
    let mut graph = DiGraph::<&str, ()>::new();
    let nodes: Vec<_> = modules.iter().map(|m| graph.add_node(m.as_str())).collect();
    for (i, module) in modules.iter().enumerate() {
        for imported in imports(module).keys() {
            if let Some(j) = modules.iter().position(|m| m == imported) {
                graph.add_edge(nodes[i], nodes[j], ());
            }
        }
    }
    if let Err(cycle) = toposort(&graph, None) {
        panic!(
            "the modules import each other in a cycle through `{}`",
            graph[cycle.node_id()]
        );
    }
}

/// The engine and the parts it wires speak the topology's runtime types
/// only: no file formats, no command line, no plotting, no wall clock, no
/// I/O, no hashing containers whose order could leak into a run.
#[test]
fn the_engine_reaches_no_file_format_cli_plotting_or_clock() {
    let forbidden = [
        "crate::spec",
        "serde",
        "clap",
        "plotters",
        "Instant",
        "SystemTime",
        "std::fs",
        "std::env",
        "HashMap",
        "HashSet",
    ];
    let mut problems = Vec::new();
    for module in ["sim", "components", "base"] {
        for path in sources(module) {
            for (line, code) in code_lines(&path) {
                for word in forbidden {
                    if code.contains(word) {
                        problems.push(format!(
                            "{}:{line}: `{word}` in {module}",
                            path.strip_prefix(repo()).unwrap().display()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
