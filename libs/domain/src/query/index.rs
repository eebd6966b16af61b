//! What the search index holds for an entity: one row per indexed scalar.
//!
//! The store keeps these rows in `entity_values` next to the entity (same transaction), with
//! B-tree indexes on `(org, blueprint, key, s|n|t)`. They make equality, `in`, `containsAny`,
//! `beginsWith` and ranges index lookups for any property of any blueprint, on both databases,
//! without one index per property. The entity's JSON stays the truth: the SQL compiler only
//! uses a row where the row alone gives the exact answer.
//!
//! Keys: a scalar property is indexed under its key; each item of an array property under
//! `<key>[]`; each team under `$team[]` (property keys cannot contain `[` or `$`).

use chrono::DateTime;
use serde_json::{Map, Value};

use super::ast::{Item, Kind};
use crate::blueprint::Blueprint;

/// Strings longer than this many characters are indexed by their first `MAX_INDEXED_CHARS`
/// characters with `long = true`: `beginsWith` with a prefix of at most this length is still
/// exact, `=` with a value of at most this length excludes `long` rows.
pub const MAX_INDEXED_CHARS: usize = 256;

/// The key under which array items (and teams) are indexed.
pub fn item_key(key: &str) -> String {
    format!("{key}[]")
}

/// The index key of an entity's teams.
pub const TEAM_KEY: &str = "$team[]";

/// One indexed value; exactly one of `s`, `n`, `t` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub key: String,
    /// A string (at most `MAX_INDEXED_CHARS` characters).
    pub s: Option<String>,
    /// A number.
    pub n: Option<f64>,
    /// An instant, microseconds since the epoch.
    pub t: Option<i64>,
    /// `s` was cut to `MAX_INDEXED_CHARS` characters.
    pub long: bool,
}

impl IndexRow {
    fn string(key: &str, s: &str) -> IndexRow {
        let long = s.chars().nth(MAX_INDEXED_CHARS).is_some();
        let s = if long {
            s.chars().take(MAX_INDEXED_CHARS).collect()
        } else {
            s.to_owned()
        };
        IndexRow {
            key: key.to_owned(),
            s: Some(s),
            n: None,
            t: None,
            long,
        }
    }
    fn number(key: &str, n: f64) -> IndexRow {
        IndexRow {
            key: key.to_owned(),
            s: None,
            n: Some(n),
            t: None,
            long: false,
        }
    }
    fn instant(key: &str, t: i64) -> IndexRow {
        IndexRow {
            key: key.to_owned(),
            s: None,
            n: None,
            t: Some(t),
            long: false,
        }
    }
}

/// The kind of a property definition (`type`, `format`, `items`).
pub fn kind_of(def: &Map<String, Value>) -> Option<Kind> {
    let is_date = |d: &Map<String, Value>| {
        matches!(
            d.get("format").and_then(Value::as_str),
            Some("date-time" | "timer")
        )
    };
    Some(match def.get("type")?.as_str()? {
        "string" if is_date(def) => Kind::Date,
        "string" => Kind::String,
        "number" => Kind::Number,
        "boolean" => Kind::Boolean,
        "object" => Kind::Object,
        "array" => {
            let items = def.get("items").and_then(Value::as_object);
            let item = match items.and_then(|i| i.get("type")).and_then(Value::as_str) {
                Some("string") if items.is_some_and(is_date) => Item::Date,
                Some("string") => Item::String,
                Some("number") => Item::Number,
                Some("boolean") => Item::Boolean,
                _ => Item::Any,
            };
            Kind::Array(item)
        }
        _ => return None,
    })
}

/// An RFC 3339 instant (or a bare `YYYY-MM-DD`, taken as UTC midnight) in microseconds since
/// the epoch. Sub-microsecond digits are truncated.
pub fn parse_instant(s: &str) -> Option<i64> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_micros());
    }
    if s.len() == 10 {
        let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    None
}

/// The index rows of an entity of blueprint `bp`. Values that do not fit their declared kind
/// (which validation prevents) are skipped. Duplicate items are indexed once.
pub fn index_rows(
    bp: &Blueprint,
    properties: &Map<String, Value>,
    team: &[String],
) -> Vec<IndexRow> {
    let mut rows = Vec::new();
    for (key, value) in properties {
        let Some(kind) = bp.properties.get(key).and_then(kind_of) else {
            continue;
        };
        match (kind, value) {
            (Kind::String, Value::String(s)) => rows.push(IndexRow::string(key, s)),
            (Kind::Number, Value::Number(n)) => {
                if let Some(n) = n.as_f64() {
                    rows.push(IndexRow::number(key, n));
                }
            }
            (Kind::Date, Value::String(s)) => {
                if let Some(t) = parse_instant(s) {
                    rows.push(IndexRow::instant(key, t));
                }
            }
            (Kind::Array(item), Value::Array(items)) => {
                let k = item_key(key);
                let start = rows.len();
                for v in items {
                    let row = match (item, v) {
                        (Item::String, Value::String(s)) => IndexRow::string(&k, s),
                        (Item::Number, Value::Number(n)) => match n.as_f64() {
                            Some(n) => IndexRow::number(&k, n),
                            None => continue,
                        },
                        (Item::Date, Value::String(s)) => match parse_instant(s) {
                            Some(t) => IndexRow::instant(&k, t),
                            None => continue,
                        },
                        _ => continue,
                    };
                    if !rows[start..].contains(&row) {
                        rows.push(row);
                    }
                }
            }
            _ => {}
        }
    }
    let start = rows.len();
    for t in team {
        let row = IndexRow::string(TEAM_KEY, t);
        if !rows[start..].contains(&row) {
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bp() -> Blueprint {
        Blueprint::parse(&json!({
            "identifier": "svc",
            "title": "Service",
            "schema": {"properties": {
                "name": {"type": "string"},
                "port": {"type": "number"},
                "on": {"type": "boolean"},
                "at": {"type": "string", "format": "date-time"},
                "meta": {"type": "object"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "nums": {"type": "array", "items": {"type": "number"}},
                "any": {"type": "array"}
            }}
        }))
        .unwrap()
    }

    #[test]
    fn rows_per_kind() {
        let props = json!({
            "name": "api", "port": 8080, "on": true,
            "at": "2026-01-01T01:00:00+01:00", "meta": {"a": 1},
            "tags": ["a", "b", "a"], "nums": [1, 2.5], "any": [{"x": 1}],
            "unknown": "x"
        });
        let rows = index_rows(
            &bp(),
            props.as_object().unwrap(),
            &["t1".into(), "t1".into()],
        );
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "name", "port", "at", "tags[]", "tags[]", "nums[]", "nums[]", "$team[]"
            ]
        );
        assert_eq!(rows[2].t, parse_instant("2026-01-01T00:00:00Z"));
        assert_eq!(rows[1].n, Some(8080.0));
    }

    #[test]
    fn long_strings_are_cut_and_flagged() {
        let long = "é".repeat(MAX_INDEXED_CHARS + 1);
        let props = json!({ "name": long });
        let rows = index_rows(&bp(), props.as_object().unwrap(), &[]);
        assert!(rows[0].long);
        assert_eq!(
            rows[0].s.as_ref().unwrap().chars().count(),
            MAX_INDEXED_CHARS
        );
        let exact = json!({ "name": "é".repeat(MAX_INDEXED_CHARS) });
        let rows = index_rows(&bp(), exact.as_object().unwrap(), &[]);
        assert!(!rows[0].long);
    }

    #[test]
    fn instants_across_offsets() {
        assert_eq!(
            parse_instant("2026-03-01T23:30:00-01:00"),
            parse_instant("2026-03-02T00:30:00Z")
        );
        assert_eq!(
            parse_instant("2026-03-02"),
            parse_instant("2026-03-02T00:00:00Z")
        );
        assert_eq!(parse_instant("2026-02-30"), None);
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(
            parse_instant("1970-01-01T00:00:00.000001999Z"),
            Some(1),
            "sub-microsecond digits are truncated"
        );
    }
}
