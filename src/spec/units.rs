//! Human units at the file boundary: durations (`"250ms"`), rates (`"500/s"`)
//! and probabilities. Each parses into an exact integer or float once, so the
//! engine never sees a string.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a human string (`"250ms"`, `"5s"`, `"1m 30s"`),
/// held as whole nanoseconds of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub u64);

impl Duration {
    pub fn nanos(self) -> u64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(format!(
                "a duration cannot be negative, found \"{text}\"; write e.g. \"250ms\" or \"5s\""
            ));
        }
        if trimmed.starts_with(['P', 'p']) {
            return iso8601_duration(trimmed)
                .map_err(|why| format!("expected an ISO 8601 duration such as \"PT5S\" or \"PT1H30M\", found \"{text}\" ({why})"));
        }
        let parsed = humantime::parse_duration(trimmed).map_err(|e| {
            format!(
                "expected a duration such as \"250ms\", \"5s\" or \"2m\", found \"{text}\" ({e})"
            )
        })?;
        let nanos = u64::try_from(parsed.as_nanos())
            .map_err(|_| format!("duration \"{text}\" is longer than 584 years"))?;
        Ok(Duration(nanos))
    }
}

/// An ISO 8601 duration, as AWS FIS templates and Chaos Toolkit users
/// write them (`"PT5S"`, `"PT1H30M"`, `"P1DT12H"`, `"P2W"`), to the
/// millisecond. Years and months are refused: their length depends on the
/// calendar, which a virtual clock does not have.
fn iso8601_duration(text: &str) -> Result<Duration, String> {
    use iso8601::Duration as Iso;
    let upper = text.to_ascii_uppercase();
    if !upper.bytes().any(|b| b.is_ascii_digit()) || upper.ends_with('T') {
        return Err("it names no amount of time".into());
    }
    let (rest, parsed) = iso8601::parsers::parse_duration(upper.as_bytes())
        .map_err(|_| "not in that form".to_string())?;
    if !rest.is_empty() {
        return Err(format!(
            "\"{}\" after the duration",
            &text[text.len() - rest.len()..]
        ));
    }
    const SECOND: u64 = 1_000_000_000;
    let nanos = match parsed {
        Iso::Weeks(weeks) => u64::from(weeks) * 7 * 86_400 * SECOND,
        Iso::YMDHMS {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millisecond,
        } => {
            if year != 0 || month != 0 {
                return Err(
                    "years and months have no fixed length; write days (\"P30D\") instead".into(),
                );
            }
            let seconds = u64::from(day) * 86_400
                + u64::from(hour) * 3_600
                + u64::from(minute) * 60
                + u64::from(second);
            seconds * SECOND + u64::from(millisecond) * 1_000_000
        }
    };
    Ok(Duration(nanos))
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        write!(
            f,
            "{}",
            humantime::format_duration(std::time::Duration::from_nanos(self.0))
        )
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"250ms\" or \"5s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration with units: ns, us, ms, s, m (minutes), h, d; parts may be combined (\"1m 30s\") and have decimals (\"1.5s\"); or ISO 8601 (\"PT5S\", \"PT1H30M\", \"P1DT12H\", \"P2W\").",
            "pattern": "^\\s*(([0-9]+(\\.[0-9]+)?\\s*[a-zµ]+\\s*)+|[Pp]([0-9]+[Ww]|[0-9]+[Dd]([Tt]([0-9]+[Hh]([0-9]+[Mm])?([0-9]+([.,][0-9]+)?[Ss])?|[0-9]+[Mm]([0-9]+([.,][0-9]+)?[Ss])?|[0-9]+([.,][0-9]+)?[Ss]))?|[Tt]([0-9]+[Hh]([0-9]+[Mm])?([0-9]+([.,][0-9]+)?[Ss])?|[0-9]+[Mm]([0-9]+([.,][0-9]+)?[Ss])?|[0-9]+([.,][0-9]+)?[Ss])))\\s*$",
            "examples": ["250ms", "1.5s", "2m", "1h 30m", "PT5S"]
        })
    }
}

/// The highest rate accepted: one per nanosecond, the clock's resolution.
pub const MAX_RATE_PER_SECOND: f64 = 1e9;

/// An arrival rate written as `"500/s"`, `"3000/min"` or `"20/ms"`, held as
/// events per second.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Rate(pub f64);

impl Rate {
    pub fn per_second(self) -> f64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = || {
            format!("expected a rate such as \"500/s\", \"3000/min\" or \"2/ms\", found \"{text}\"")
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(expected)?;
        let count: f64 = count.trim().parse().map_err(|_| expected())?;
        let seconds_per_unit = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "ms" => 1e-3,
            "min" | "m" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(expected()),
        };
        if !count.is_finite() || count < 0.0 {
            return Err(format!("a rate must be zero or positive, found \"{text}\""));
        }
        let per_second = count / seconds_per_unit;
        if per_second > MAX_RATE_PER_SECOND {
            return Err(format!(
                "\"{text}\" is more than one arrival per nanosecond ({MAX_RATE_PER_SECOND:e}/s), the virtual clock's resolution"
            ));
        }
        Ok(Rate(per_second))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate string such as \"500/s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                Rate::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Events per unit of time: \"500/s\", \"3000/min\", \"2/ms\", \"100/h\".",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*/\\s*(s|sec|second|ms|min|m|minute|h|hour)\\s*$",
            "examples": ["500/s", "3000/min"]
        })
    }
}

/// A size in bytes written as a human string (`"512MiB"`, `"2GiB"`, `"100KB"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Size(pub u64);

impl Size {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(format!("a size cannot be negative, found \"{text}\""));
        }
        if trimmed.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "expected a size with a unit such as \"512MiB\" or \"2GiB\", found \"{text}\""
            ));
        }
        trimmed
            .parse::<bytesize::ByteSize>()
            .map(|b| Size(b.as_u64()))
            .map_err(|e| {
                format!("expected a size such as \"512MiB\" or \"2GiB\", found \"{text}\" ({e})")
            })
    }
}

impl fmt::Display for Size {
    // Exact bytes, so that a file re-serialised for hashing loses nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B", self.0)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size string such as \"512MiB\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                Size::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A size in bytes with a unit: B, KB, KiB, MB, MiB, GB, GiB, ...",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[A-Za-z]+\\s*$",
            "examples": ["512MiB", "2GiB"]
        })
    }
}

/// A rate of growth in bytes, written as `"5MiB/s"` or `"300MiB/min"`, held
/// as bytes per second.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct ByteRate(pub f64);

impl ByteRate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (size, unit) = text.trim().split_once('/').ok_or_else(|| {
            format!("expected a growth rate such as \"5MiB/s\" or \"300MiB/min\", found \"{text}\"")
        })?;
        let size = Size::parse(size)?;
        // One of "unit" gives the seconds per unit, as for request rates.
        let per_unit = Rate::parse(&format!("1/{unit}"))?.per_second();
        Ok(ByteRate(size.0 as f64 * per_unit))
    }
}

impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B/s", self.0)
    }
}

impl Serialize for ByteRate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteRate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a growth rate string such as \"5MiB/s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteRate, E> {
                ByteRate::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for ByteRate {
    fn schema_name() -> Cow<'static, str> {
        "ByteRate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Bytes per unit of time: \"5MiB/s\", \"300MiB/min\".",
            "examples": ["5MiB/s", "300MiB/min"]
        })
    }
}

/// A share of a whole: `"0.1%"`, `"99.9%"`, or a plain number in [0, 1].
/// Held as a fraction.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Share(pub f64);

impl Share {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let expected =
            || format!("expected a share such as \"0.1%\" or \"99.9%\", found \"{text}\"");
        let value = match trimmed.strip_suffix('%') {
            Some(number) => number.trim().parse::<f64>().map_err(|_| expected())? / 100.0,
            None => trimmed.parse::<f64>().map_err(|_| expected())?,
        };
        if !(0.0..=1.0).contains(&value) {
            return Err(format!(
                "a share lies between 0% and 100%, found \"{text}\""
            ));
        }
        Ok(Share(value))
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rounded so that 0.999 reads "99.9%", not "99.89999999999999%".
        write!(f, "{}%", (self.0 * 100.0 * 1e9).round() / 1e9)
    }
}

impl Serialize for Share {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Share;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a share such as \"0.1%\", or a number between 0 and 1")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Share, E> {
                Share::parse(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Share, E> {
                Share::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Share, E> {
                Share::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Share, E> {
                Share::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Share {
    fn schema_name() -> Cow<'static, str> {
        "Share".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A share: \"0.1%\", \"99.9%\", or a number between 0 and 1.",
            "oneOf": [
                { "type": "string", "pattern": "^\\s*[0-9.]+\\s*%\\s*$" },
                { "type": "number", "minimum": 0, "maximum": 1 }
            ],
            "examples": ["0.1%", "99.9%"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON Schema an editor checks a file with accepts a duration
    /// exactly when faultline does.
    #[test]
    fn the_schema_pattern_agrees_with_the_parser() {
        let schema = Duration::json_schema(&mut SchemaGenerator::default());
        let pattern = schema.get("pattern").and_then(|p| p.as_str()).unwrap();
        let pattern = regex::Regex::new(pattern).unwrap();
        for text in [
            "250ms", "5s", "0.5ms", "1.5s", "2m", "1m 30s", " 1h 30m ", "3 days", "10us", "PT5S",
            "pt1m30s", "PT0.5S", "PT1H30M", "P1DT12H", "P1D", "P2W", "PT1,5S", "P", "PT", "P1M",
            "P1Y", "PT5Sx", "5S", "-5s", "5", "s", "", "P1DT", "1.s",
        ] {
            assert_eq!(
                pattern.is_match(text),
                Duration::parse(text).is_ok(),
                "{text:?}: schema {} but parser {:?}",
                pattern.is_match(text),
                Duration::parse(text)
            );
        }
        assert_eq!(Duration::parse("PT1H30M").unwrap().0, 5_400_000_000_000);
        assert_eq!(Duration::parse("P1DT12H").unwrap().0, 129_600_000_000_000);
        assert_eq!(Duration::parse("PT0.5S").unwrap().0, 500_000_000);
        assert_eq!(Duration::parse("P2W").unwrap().0, 1_209_600_000_000_000);
    }
    use proptest::prelude::*;

    #[test]
    fn durations_parse_to_exact_nanoseconds() {
        assert_eq!(Duration::parse("250ms").unwrap().0, 250_000_000);
        assert_eq!(Duration::parse("1m 30s").unwrap().0, 90_000_000_000);
        assert_eq!(Duration::parse("0s").unwrap().0, 0);
        assert!(Duration::parse("-5s").unwrap_err().contains("negative"));
        assert!(Duration::parse("5 sekunden").is_err());
        assert!(Duration::parse("12").is_err(), "a bare number has no unit");
    }

    #[test]
    fn sizes_and_growth_rates_parse_to_bytes() {
        assert_eq!(Size::parse("512MiB").unwrap().0, 512 << 20);
        assert_eq!(Size::parse("2GiB").unwrap().0, 2 << 30);
        assert_eq!(Size::parse(&Size(12345).to_string()).unwrap().0, 12345);
        assert!(Size::parse("-1GiB").is_err());
        assert!(Size::parse("1024").is_err(), "a bare number has no unit");
        assert_eq!(ByteRate::parse("5MiB/s").unwrap().0, (5 << 20) as f64);
        assert_eq!(ByteRate::parse("60MiB/min").unwrap().0, (1 << 20) as f64);
        assert!(ByteRate::parse("5MiB").is_err());
    }

    #[test]
    fn rates_parse_to_events_per_second() {
        assert_eq!(Rate::parse("500/s").unwrap().0, 500.0);
        assert_eq!(Rate::parse("3000/min").unwrap().0, 50.0);
        assert_eq!(Rate::parse("2/ms").unwrap().0, 2000.0);
        assert!(Rate::parse("-1/s").is_err());
        assert!(Rate::parse("500").is_err());
        assert!(Rate::parse("500/fortnight").is_err());
    }

    #[test]
    fn shares_read_percent_or_fraction() {
        assert_eq!(Share::parse("0.1%").unwrap().0, 0.001);
        assert!((Share::parse("99.9 %").unwrap().0 - 0.999).abs() < 1e-12);
        assert_eq!(Share(0.999).to_string(), "99.9%");
        assert_eq!(Share::parse("0.25").unwrap().0, 0.25);
        assert!(Share::parse("120%").is_err());
        assert!(Share::parse("-1%").is_err());
        assert!(Share::parse("half").is_err());
        let json: Share = serde_json::from_str("0.5").unwrap();
        assert_eq!(json.0, 0.5);
        let text = serde_json::to_string(&Share(0.001)).unwrap();
        assert_eq!(serde_json::from_str::<Share>(&text).unwrap().0, 0.001);
    }

    proptest! {
        #[test]
        fn duration_display_round_trips(nanos in 0u64..10_000_000_000_000_000) {
            let d = Duration(nanos);
            prop_assert_eq!(Duration::parse(&d.to_string()).unwrap(), d);
        }

        #[test]
        fn duration_parser_never_panics(text in "\\PC{0,24}") {
            let _ = Duration::parse(&text);
            let _ = Rate::parse(&text);
        }
    }
}
