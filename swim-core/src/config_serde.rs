//! `serde` support for [`Config`](crate::Config) (feature `serde`).
//!
//! Durations are text with a unit (`"200ms"`, `"1.5s"`, `"5m"`), so a
//! configuration file reads as it would be written by hand. Secret keys are
//! never written in clear by plain serialisation: each becomes
//! `"redacted:<key id>"`, which deserialisation refuses with a message that
//! says so. [`Config::serialize_with_keys`](crate::Config::serialize_with_keys)
//! writes them as their 64 hexadecimal digits, for the one place that must
//! hold them (a key file the service alone can read).

use core::cell::Cell;
use core::fmt;
use core::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{Error as _, Serializer};

use crate::config::SecretKey;

thread_local! {
    /// Set while [`Config::serialize_with_keys`](crate::Config::serialize_with_keys) runs.
    static REVEAL_KEYS: Cell<bool> = const { Cell::new(false) };
}

/// Restores the previous reveal setting when dropped (also on a panic in a
/// serializer).
pub(crate) struct RevealGuard(bool);

impl RevealGuard {
    pub(crate) fn new() -> Self {
        RevealGuard(REVEAL_KEYS.with(|r| r.replace(true)))
    }
}

impl Drop for RevealGuard {
    fn drop(&mut self) {
        REVEAL_KEYS.with(|r| r.set(self.0));
    }
}

const REDACTED: &str = "redacted:";

/// `Encryption::encrypt_outgoing`'s default.
pub(crate) fn yes() -> bool {
    true
}

/// `Encryption::max_age`'s default.
pub(crate) fn minute() -> Duration {
    Duration::from_secs(60)
}

impl serde::Serialize for SecretKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if REVEAL_KEYS.with(Cell::get) {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_str(&format!("{REDACTED}{:08x}", self.id()))
        }
    }
}

impl<'de> serde::Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        if let Some(id) = text.strip_prefix(REDACTED) {
            return Err(de::Error::custom(format_args!(
                "key {id} was left out when this configuration was written (keys are written only by \
                 `Config::serialize_with_keys`); give the key's 64 hexadecimal digits"
            )));
        }
        text.parse().map_err(de::Error::custom)
    }
}

/// A duration as text: `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"500us"`.
pub(crate) mod duration {
    use super::*;

    /// Writes the duration in the largest unit that keeps it exact (down to
    /// microseconds; nanoseconds if it has any).
    pub(crate) fn format(d: Duration) -> String {
        let ns = d.as_nanos();
        let units: [(u128, &str); 5] =
            [(3_600_000_000_000, "h"), (60_000_000_000, "m"), (1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")];
        for (size, unit) in units {
            if ns.is_multiple_of(size) && (ns > 0 || unit == "s") {
                return format!("{}{unit}", ns / size);
            }
        }
        format!("{ns}ns")
    }

    /// Reads a number (decimals allowed) followed by a unit: `ns`, `us`
    /// (or `µs`), `ms`, `s`, `m`, `h`.
    pub(crate) fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let scale: f64 = match unit.trim() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("`{text}` has no unit (write e.g. \"200ms\" or \"1.5s\")")),
            other => return Err(format!("`{other}` in `{text}` is not a unit (ns, us, ms, s, m, h)")),
        };
        let value: f64 = number.parse().map_err(|_| format!("`{text}` does not start with a number"))?;
        Duration::try_from_secs_f64(value * scale).map_err(|e| format!("`{text}`: {e}"))
    }

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"200ms\" or \"1.5s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }
}

/// An optional duration as text, or absent.
pub(crate) mod option_duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&duration::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>> as serde::Deserialize>::deserialize(d)?;
        text.map(|t| duration::parse(&t).map_err(de::Error::custom)).transpose()
    }
}

/// The cluster label as text (labels are bytes; one that is not UTF-8
/// cannot be written this way).
pub(crate) mod label {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(label: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let text = core::str::from_utf8(label).map_err(|_| S::Error::custom("the label is not UTF-8 text"))?;
        s.serialize_str(text)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(<std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::duration::{format, parse};
    use crate::{Config, Encryption, SecretKey};
    use core::time::Duration;

    #[test]
    fn durations_read_as_written() {
        for (d, text) in [
            (Duration::from_millis(200), "200ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_micros(1500), "1500us"),
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(7), "7ns"),
        ] {
            assert_eq!(format(d), text);
            assert_eq!(parse(text), Ok(d));
        }
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(" 2 m"), Ok(Duration::from_secs(120)));
        assert!(parse("200").unwrap_err().contains("no unit"));
        assert!(parse("3 weeks").unwrap_err().contains("not a unit"));
        assert!(parse("s").unwrap_err().contains("number"));
        assert!(parse("1e400s").is_err());
    }

    #[test]
    fn a_config_round_trips_with_keys_redacted_unless_asked() {
        let mut config = Config::lan();
        config.label = b"prod".to_vec();
        config.security.reclaim_time = Some(Duration::from_secs(30));
        config.security.encryption = Some(Encryption::new(SecretKey([9; 32])));
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains(r#""probe":{"period":"1s""#), "{text}");
        assert!(text.contains(r#""label":"prod""#), "{text}");
        assert!(!text.contains(&SecretKey([9; 32]).to_hex()), "a key was written in clear: {text}");
        let err = serde_json::from_str::<Config>(&text).unwrap_err().to_string();
        assert!(err.contains("was left out"), "{err}");

        let mut out = Vec::new();
        config.serialize_with_keys(&mut serde_json::Serializer::new(&mut out)).unwrap();
        let back: Config = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, config);
        // The reveal ends with the call.
        assert!(!serde_json::to_string(&config).unwrap().contains(&SecretKey([9; 32]).to_hex()));
    }

    #[test]
    fn allowed_networks_are_written_and_read_as_text() {
        let config = Config::lan().with(|c| c.security.allowed_networks = vec!["10.0.0.0/8".parse().unwrap()]);
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains(r#""allowed_networks":["10.0.0.0/8"]"#), "{text}");
        assert_eq!(serde_json::from_str::<Config>(&text).unwrap(), config);
        let err = serde_json::from_str::<Config>(r#"{"security":{"allowed_networks":["10.0.0.0/40"]}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("10.0.0.0/40") && err.contains("longer"), "{err}");
    }

    #[test]
    fn a_partial_config_fills_in_from_the_lan_preset() {
        let config: Config = serde_json::from_str(r#"{"probe":{"period":"2s","timeout":"800ms"}}"#).unwrap();
        assert_eq!(config.probe.period, Duration::from_secs(2));
        assert_eq!(config.probe.timeout, Duration::from_millis(800));
        assert_eq!(config.suspicion.mult, Config::lan().suspicion.mult);
        assert_eq!(config.probe.min_timeout, Config::lan().probe.min_timeout, "the rest of the group too");
        let err = serde_json::from_str::<Config>(r#"{"probe":{"perod":"2s"}}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
        let err = serde_json::from_str::<Config>(r#"{"probe":{"period":"2 fortnights"}}"#).unwrap_err().to_string();
        assert!(err.contains("not a unit"), "{err}");
    }
}
