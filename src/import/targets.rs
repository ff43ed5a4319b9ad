//! What an experiment file's targets name, looked up in the model: a
//! service, a zone, an instance. The model has no tags, so a tag value, a
//! label selector's value, the last parts of an ARN or an argument such as
//! `service` are each tried as a name; what resolves to nothing is a
//! problem with the closest name the model has.

use crate::error::{JsonPath, Problem, closest};
use crate::topology::Topology;

/// A resolved target: a service, a zone, or a service's instances in a
/// zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) struct Scope {
    pub service: Option<usize>,
    pub zone: Option<usize>,
}

/// How many of the instances in scope an action takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Selection {
    All,
    Count(u32),
    /// Percent of them, rounded down but at least one, as Chaos Toolkit's
    /// `stop_random_tasks` and FIS count whole resources.
    Percent(f64),
}

impl Selection {
    /// The number of instances out of `total`.
    pub(super) fn of(self, total: u32) -> u32 {
        match self {
            Selection::All => total,
            Selection::Count(n) => n.min(total),
            Selection::Percent(p) => {
                let n = (f64::from(total) * p / 100.0).floor() as u32;
                if p > 0.0 { n.clamp(1, total) } else { 0 }
            }
        }
    }

    /// FIS's `selectionMode`: `ALL`, `COUNT(n)`, `PERCENT(n)`.
    pub(super) fn parse_fis(text: &str) -> Option<Selection> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("ALL") {
            return Some(Selection::All);
        }
        let inner = |prefix: &str| {
            let upper = text.to_ascii_uppercase();
            upper
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('('))
                .and_then(|rest| rest.strip_suffix(')'))
                .map(|n| n.trim().to_string())
        };
        if let Some(n) = inner("COUNT") {
            return n.parse().ok().filter(|n| *n > 0).map(Selection::Count);
        }
        if let Some(n) = inner("PERCENT") {
            return n
                .parse::<f64>()
                .ok()
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .map(Selection::Percent);
        }
        None
    }

    pub(super) fn describe(self) -> String {
        match self {
            Selection::All => "all".into(),
            Selection::Count(n) => format!("{n}"),
            Selection::Percent(p) => format!("{p}%"),
        }
    }
}

/// The model's names, for lookups.
pub(super) struct Names<'t> {
    pub topology: &'t Topology,
}

impl<'t> Names<'t> {
    pub(super) fn service(&self, name: &str) -> Option<usize> {
        self.topology.services.iter().position(|s| s.name == name)
    }

    /// A zone by its model name (`az-a`), or an AWS zone name whose last
    /// letter names it (`us-east-1a` → `az-a`): the model's zones are
    /// abstract, and a template's are a region's.
    pub(super) fn zone(&self, name: &str) -> Option<usize> {
        let zones = &self.topology.zones;
        if let Some(z) = zones.iter().position(|z| z == name) {
            return Some(z);
        }
        let bytes = name.as_bytes();
        match bytes {
            [.., digit, letter] if digit.is_ascii_digit() && letter.is_ascii_lowercase() => {
                let wanted = format!("az-{}", *letter as char);
                zones.iter().position(|z| *z == wanted)
            }
            _ => None,
        }
    }

    pub(super) fn instance(&self, name: &str) -> Option<usize> {
        self.topology.instances.iter().position(|i| i.name == name)
    }

    pub(super) fn service_name(&self, service: usize) -> &'t str {
        &self.topology.services[service].name
    }

    pub(super) fn zone_name(&self, zone: usize) -> &'t str {
        &self.topology.zones[zone]
    }

    /// The instances of `service` (in `zone` when given), in the model's
    /// order interleaved over zones: a subset taken from the front is
    /// spread as a scheduler spreads it.
    pub(super) fn instances(&self, service: usize, zone: Option<usize>) -> Vec<usize> {
        let range = self.topology.services[service].instances.clone();
        let mut by_zone: Vec<Vec<usize>> = vec![Vec::new(); self.topology.zones.len()];
        for i in range {
            let i = i as usize;
            let z = self.topology.instances[i].zone.index();
            if zone.is_none_or(|wanted| wanted == z) {
                by_zone[z].push(i);
            }
        }
        let mut out = Vec::new();
        for k in 0.. {
            let before = out.len();
            out.extend(by_zone.iter().filter_map(|list| list.get(k)));
            if out.len() == before {
                break;
            }
        }
        out
    }

    /// Every instance in a zone, of any service.
    pub(super) fn zone_instances(&self, zone: usize) -> usize {
        self.topology
            .instances
            .iter()
            .filter(|i| i.zone.index() == zone)
            .count()
    }

    pub(super) fn instance_name(&self, instance: usize) -> &'t str {
        &self.topology.instances[instance].name
    }

    /// The primary a replicated database starts with.
    pub(super) fn primary(&self, service: usize) -> Option<usize> {
        self.topology.services[service]
            .replication
            .map(|r| r.primary as usize)
    }

    /// Resolves candidate words (from tags, ARNs, selectors, arguments) to
    /// a scope; the first service and the first zone named win. A list
    /// that names neither is a problem at `path`.
    pub(super) fn resolve(
        &self,
        words: &[String],
        path: &JsonPath,
        what: &str,
    ) -> Result<Scope, Problem> {
        let mut scope = Scope::default();
        for word in words {
            if scope.service.is_none() {
                scope.service = self.service(word);
            }
            if scope.zone.is_none() {
                scope.zone = self.zone(word);
            }
            if scope.service.is_none()
                && let Some(i) = self.instance(word)
            {
                scope.service = Some(self.topology.instances[i].service.index());
                scope.zone = Some(self.topology.instances[i].zone.index());
            }
        }
        if scope.service.is_some() || scope.zone.is_some() {
            return Ok(scope);
        }
        Err(self.unresolved(words, path, what))
    }

    fn unresolved(&self, words: &[String], path: &JsonPath, what: &str) -> Problem {
        let names: Vec<&str> = self
            .topology
            .services
            .iter()
            .map(|s| s.name.as_str())
            .chain(self.topology.zones.iter().map(String::as_str))
            .collect();
        let hint = words
            .iter()
            .find_map(|w| closest(w, names.iter().copied()))
            .map(|n| format!("did you mean `{n}`?"));
        let shown: Vec<String> = words
            .iter()
            .map(|w| format!("`{}`", crate::error::echo(w)))
            .collect();
        let found = if shown.is_empty() {
            "nothing to match".to_string()
        } else {
            shown.join(", ")
        };
        Problem::new(
            path.clone(),
            format!(
                "{what} resolves to nothing in the model (found {found}): expected a service ({}) or a zone ({})",
                self.topology
                    .services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.topology.zones.join(", ")
            ),
        )
        .with_suggestion(hint)
    }
}

/// The words a reference may name a service or zone by: the text itself,
/// a selector's values (`app=orders,tier=web` → `orders`, `web`), and the
/// parts of an ARN or path (`arn:aws:rds:…:cluster:orders-db` →
/// `orders-db`).
pub(super) fn words(text: &str) -> Vec<String> {
    let mut out = vec![text.trim().to_string()];
    for part in text.split(',') {
        if let Some((_, value)) = part.split_once('=') {
            out.push(value.trim().to_string());
        }
    }
    out.extend(
        text.rsplit([':', '/'])
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
    );
    out.dedup();
    out
}

/// The words of every string in a JSON value (a string, a list of them, or
/// an object's values).
pub(super) fn words_of(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => words(s),
        serde_json::Value::Array(items) => items.iter().flat_map(words_of).collect(),
        serde_json::Value::Object(map) => map.values().flat_map(words_of).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_percent_rounds_down_but_takes_at_least_one() {
        assert_eq!(Selection::Percent(50.0).of(6), 3);
        assert_eq!(Selection::Percent(50.0).of(3), 1);
        assert_eq!(Selection::Percent(10.0).of(3), 1);
        assert_eq!(Selection::Percent(100.0).of(3), 3);
        assert_eq!(Selection::Count(9).of(3), 3);
        assert_eq!(Selection::All.of(4), 4);
    }

    #[test]
    fn import_fis_selection_modes_parse() {
        assert_eq!(Selection::parse_fis("ALL"), Some(Selection::All));
        assert_eq!(Selection::parse_fis("COUNT(2)"), Some(Selection::Count(2)));
        assert_eq!(
            Selection::parse_fis("PERCENT(25)"),
            Some(Selection::Percent(25.0))
        );
        assert_eq!(Selection::parse_fis("PERCENT(0)"), None);
        assert_eq!(Selection::parse_fis("SOME"), None);
    }

    #[test]
    fn import_words_take_selector_values_and_arn_parts() {
        let w = words("arn:aws:rds:eu-west-1:123:cluster:orders-db");
        assert!(w.contains(&"orders-db".to_string()));
        let w = words("app=orders,tier=web");
        assert!(w.contains(&"orders".to_string()) && w.contains(&"web".to_string()));
    }
}
