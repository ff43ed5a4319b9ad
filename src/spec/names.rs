//! The one rule for names that become identifiers, directory names and
//! lines on a terminal: scenario, variant, service, endpoint, call, zone,
//! workload and client names, in the files a user writes and in the files
//! faultline writes and reads back (a shard's `partial.json`).
//!
//! Short, ASCII letters, digits, `-` and `_`, starting with a letter or a
//! digit: nothing that can climb out of a directory (`..`, `/`), reach a
//! terminal as an escape sequence, or exceed a file system's name limit.

/// Longest name accepted, in bytes: far below the 255 of common file
/// systems, so that `<name>` and `compare-shard-I-of-N` suffixes fit.
pub const MAX_NAME_BYTES: usize = 100;

/// Why `name` is not acceptable as a `what` name, or `None` if it is. The
/// name is echoed escaped and cut short, whatever it holds.
pub fn problem(what: &str, name: &str) -> Option<String> {
    let shape = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !shape {
        return Some(format!(
            "{what} name \"{}\" must start with a letter or digit and hold only letters, digits, '-' and '_'",
            echo(name)
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!(
            "{what} name \"{}\" is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            echo(name),
            name.len()
        ));
    }
    None
}

pub use crate::error::echo;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_that_could_leave_a_directory_or_reach_a_terminal_are_refused() {
        for bad in [
            "",
            "../x",
            "/etc",
            "a/b",
            "..",
            ".hidden",
            "a b",
            "é",
            "\u{1b}[31mred",
            "-x",
        ] {
            assert!(problem("scenario", bad).is_some(), "{bad:?}");
        }
        for good in ["steady", "kill-app-1", "v_2", "9lives"] {
            assert_eq!(problem("scenario", good), None, "{good:?}");
        }
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        assert!(problem("zone", &long).unwrap().contains("101 bytes long"));
    }

    proptest! {
        /// Whatever a name holds, the message about it is short and free of
        /// control characters.
        #[test]
        fn a_message_echoes_a_bounded_escaped_name(name in ".{0,400}") {
            if let Some(message) = problem("zone", &name) {
                prop_assert!(message.chars().count() < 400);
                prop_assert!(!message.chars().any(char::is_control));
            }
        }
    }
}
