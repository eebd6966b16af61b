//! Conversions between stored rows, domain data and Port's JSON shape.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::entity::{EntityData, RelationValue};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::models::entity;

/// The domain view of a stored row.
pub fn model_to_data(m: &entity::Model) -> EntityData {
    let team = match &m.team {
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let properties = match &m.properties {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let mut relations = IndexMap::new();
    if let Value::Object(o) = &m.relations {
        for (k, v) in o {
            let rv = match v {
                Value::String(s) => RelationValue::One(s.clone()),
                Value::Array(a) => RelationValue::Many(
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                ),
                _ => continue,
            };
            relations.insert(k.clone(), rv);
        }
    }
    EntityData {
        identifier: m.identifier.clone(),
        title: m.title.clone(),
        icon: m.icon.clone(),
        team,
        properties,
        relations,
    }
}

pub(crate) fn team_json(team: &[String]) -> Value {
    Value::Array(team.iter().cloned().map(Value::String).collect())
}

pub(crate) fn relations_json(rel: &IndexMap<String, RelationValue>) -> Value {
    Value::Object(
        rel.iter()
            .filter(|(_, v)| !matches!(v, RelationValue::Null))
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Port's entity shape: every property and relation of the blueprint is present (`null`, or
/// `[]` for a many relation, when unset); unknown stored keys are not shown.
pub fn entity_json(m: &entity::Model, bp: &Blueprint) -> Value {
    // Serializing into a `Value` fails only for map keys that are not strings; every key
    // here is a string.
    serde_json::to_value(EntityView { row: m, bp }).unwrap_or(Value::Null)
}

/// [`entity_json`] as JSON text, written straight from the row (no `Value` tree in between:
/// a search page renders up to 1,000 rows).
pub fn entity_raw(m: &entity::Model, bp: &Blueprint) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(&EntityView { row: m, bp })
}

/// The columns of a stored row, with its JSON columns parsed ([`entity::Model`]) or left as
/// the database's text ([`TextRow`]).
pub(crate) trait StoredRow {
    /// A JSON value of the row.
    type V: Serialize + ?Sized;
    fn identifier(&self) -> &str;
    fn title(&self) -> Option<&str>;
    fn icon(&self) -> Option<&str>;
    fn blueprint(&self) -> &str;
    fn team(&self) -> &Self::V;
    fn created_at(&self) -> chrono::DateTime<chrono::Utc>;
    fn created_by(&self) -> &str;
    fn updated_at(&self) -> chrono::DateTime<chrono::Utc>;
    fn updated_by(&self) -> &str;
    /// The stored value of a property.
    fn property(&self, key: &str) -> Option<&Self::V>;
    /// The stored value of a relation.
    fn relation(&self, key: &str) -> Stored<'_, Self::V>;
}

/// A stored relation value, as far as Port's shape needs to know it.
pub(crate) enum Stored<'a, V: ?Sized> {
    /// A string (one target).
    One(&'a V),
    /// An array, and its first element.
    Many(&'a V, Option<&'a V>),
    /// Not stored, or neither a string nor an array.
    Other,
}

impl StoredRow for entity::Model {
    type V = Value;
    fn identifier(&self) -> &str {
        &self.identifier
    }
    fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
    fn icon(&self) -> Option<&str> {
        self.icon.as_deref()
    }
    fn blueprint(&self) -> &str {
        &self.blueprint
    }
    fn team(&self) -> &Value {
        &self.team
    }
    fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.created_at
    }
    fn created_by(&self) -> &str {
        &self.created_by
    }
    fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.updated_at
    }
    fn updated_by(&self) -> &str {
        &self.updated_by
    }
    fn property(&self, key: &str) -> Option<&Value> {
        self.properties.as_object().and_then(|p| p.get(key))
    }
    fn relation(&self, key: &str) -> Stored<'_, Value> {
        match self.relations.as_object().and_then(|r| r.get(key)) {
            Some(v @ Value::String(_)) => Stored::One(v),
            Some(v @ Value::Array(a)) => Stored::Many(v, a.first()),
            _ => Stored::Other,
        }
    }
}

/// A row read with its JSON columns as the database's text (PostgreSQL writes `jsonb` with a
/// space after `:` and `,`, and numbers as stored): nothing is parsed beyond the top-level
/// keys of `properties` and `relations`.
pub(crate) struct TextRow<'a> {
    pub identifier: &'a str,
    pub title: Option<&'a str>,
    pub icon: Option<&'a str>,
    pub blueprint: &'a str,
    pub team: &'a RawValue,
    pub properties: BTreeMap<&'a str, &'a RawValue>,
    pub relations: BTreeMap<&'a str, &'a RawValue>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub created_by: &'a str,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: &'a str,
}

impl TextRow<'_> {
    /// The top-level members of a JSON object's text (`None` unless it is a valid JSON object
    /// whose keys have no escapes: the caller then parses the row instead). This one parse
    /// checks the whole text. A B-tree, not a hash map: an entity has a few dozen keys at
    /// most, and hashing each was a visible part of writing a page.
    pub fn members(text: &str) -> Option<BTreeMap<&str, &RawValue>> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).ok()
        } else {
            None
        }
    }
}

impl StoredRow for TextRow<'_> {
    type V = RawValue;
    fn identifier(&self) -> &str {
        self.identifier
    }
    fn title(&self) -> Option<&str> {
        self.title
    }
    fn icon(&self) -> Option<&str> {
        self.icon
    }
    fn blueprint(&self) -> &str {
        self.blueprint
    }
    fn team(&self) -> &RawValue {
        self.team
    }
    fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.created_at
    }
    fn created_by(&self) -> &str {
        self.created_by
    }
    fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.updated_at
    }
    fn updated_by(&self) -> &str {
        self.updated_by
    }
    fn property(&self, key: &str) -> Option<&RawValue> {
        self.properties.get(key).copied()
    }
    fn relation(&self, key: &str) -> Stored<'_, RawValue> {
        let Some(v) = self.relations.get(key).copied() else {
            return Stored::Other;
        };
        match v.get().trim_start().as_bytes().first() {
            Some(b'"') => Stored::One(v),
            Some(b'[') => {
                let first = serde_json::from_str::<Vec<&RawValue>>(v.get())
                    .ok()
                    .and_then(|a| a.first().copied());
                Stored::Many(v, first)
            }
            _ => Stored::Other,
        }
    }
}

/// [`entity_raw`] of a [`TextRow`], appended to `out` (a page is written into one buffer).
pub(crate) fn write_text_row(
    out: &mut Vec<u8>,
    row: &TextRow<'_>,
    bp: &Blueprint,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(out, &EntityView { row, bp })
}

/// [`entity_raw`], appended to `out`.
pub(crate) fn write_entity(
    out: &mut Vec<u8>,
    m: &entity::Model,
    bp: &Blueprint,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(out, &EntityView { row: m, bp })
}

/// A stored row in Port's shape, serialized on the fly: the one definition of that shape
/// ([`entity_json`], [`entity_raw`], [`write_entity`] and [`write_text_row`] all go through it).
struct EntityView<'a, R: StoredRow> {
    row: &'a R,
    bp: &'a Blueprint,
}

impl<R: StoredRow> Serialize for EntityView<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.row;
        let mut out = s.serialize_map(Some(11))?;
        out.serialize_entry("identifier", m.identifier())?;
        out.serialize_entry("title", &m.title())?;
        out.serialize_entry("icon", &m.icon())?;
        out.serialize_entry("blueprint", m.blueprint())?;
        out.serialize_entry("team", m.team())?;
        out.serialize_entry(
            "properties",
            &PropertiesView {
                row: m,
                bp: self.bp,
            },
        )?;
        out.serialize_entry(
            "relations",
            &RelationsView {
                row: m,
                bp: self.bp,
            },
        )?;
        out.serialize_entry("createdAt", &ts(&m.created_at()))?;
        out.serialize_entry("createdBy", m.created_by())?;
        out.serialize_entry("updatedAt", &ts(&m.updated_at()))?;
        out.serialize_entry("updatedBy", m.updated_by())?;
        out.end()
    }
}

/// Every property of the blueprint, in its order: the stored value or `null`.
struct PropertiesView<'a, R: StoredRow> {
    row: &'a R,
    bp: &'a Blueprint,
}

impl<R: StoredRow> Serialize for PropertiesView<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(self.bp.properties.len()))?;
        for key in self.bp.properties.keys() {
            match self.row.property(key) {
                Some(v) => out.serialize_entry(key, v)?,
                None => out.serialize_entry(key, &Value::Null)?,
            }
        }
        out.end()
    }
}

/// Every relation of the blueprint, in its order: a many relation is an array (`[]` when
/// unset), a single one a string or `null`.
struct RelationsView<'a, R: StoredRow> {
    row: &'a R,
    bp: &'a Blueprint,
}

impl<R: StoredRow> Serialize for RelationsView<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const EMPTY: [Value; 0] = [];
        let mut out = s.serialize_map(Some(self.bp.relations.len()))?;
        for (key, def) in &self.bp.relations {
            match (self.row.relation(key), def.many) {
                (Stored::Many(v, _), true) => out.serialize_entry(key, v)?,
                (Stored::One(v), true) => out.serialize_entry(key, &[v])?,
                (Stored::Other, true) => out.serialize_entry(key, &EMPTY)?,
                (Stored::One(v), false) => out.serialize_entry(key, v)?,
                (Stored::Many(_, Some(first)), false) => out.serialize_entry(key, first)?,
                (_, false) => out.serialize_entry(key, &Value::Null)?,
            }
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn blueprint() -> Blueprint {
        Blueprint::parse(&json!({
            "identifier": "service",
            "title": "Service",
            "schema": {"properties": {
                "name": {"type": "string"},
                "tier": {"type": "number"},
                "meta": {"type": "object"},
            }},
            "relations": {
                "team": {"target": "team", "many": false},
                "owners": {"target": "team", "many": true},
                "deps": {"target": "service", "many": true},
                "parent": {"target": "service", "many": false},
                "unset": {"target": "team", "many": true},
                "single": {"target": "team", "many": false},
            }
        }))
        .expect("blueprint")
    }

    fn row(properties: Value, relations: Value) -> entity::Model {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("date");
        entity::Model {
            org_id: uuid::Uuid::nil(),
            blueprint: "service".into(),
            identifier: "svc-é\"1".into(),
            title: Some("Ünïcode \u{1F680}".into()),
            icon: None,
            team: json!(["a", "b"]),
            properties,
            relations,
            blueprint_version: 1,
            created_at: at,
            updated_at: at + chrono::Duration::milliseconds(1_500),
            created_by: "me".into(),
            updated_by: "you".into(),
            datasource: None,
        }
    }

    #[test]
    fn every_property_and_relation_in_the_blueprints_order() {
        let m = row(
            json!({"meta": {"z": [1, 2.5, null]}, "name": "x", "stale": true}),
            json!({
                "owners": "t1", "team": ["t2", "t3"], "deps": ["a", "b"], "parent": "p",
                "single": 7, "gone": "g"
            }),
        );
        let want = json!({
            "identifier": "svc-é\"1",
            "title": "Ünïcode \u{1F680}",
            "icon": null,
            "blueprint": "service",
            "team": ["a", "b"],
            "properties": {"name": "x", "tier": null, "meta": {"z": [1, 2.5, null]}},
            "relations": {
                "team": "t2", "owners": ["t1"], "deps": ["a", "b"], "parent": "p",
                "unset": [], "single": null
            },
            "createdAt": "2026-01-02T03:04:05.000Z",
            "createdBy": "me",
            "updatedAt": "2026-01-02T03:04:06.500Z",
            "updatedBy": "you",
        });
        let got = entity_json(&m, &blueprint());
        assert_eq!(got, want);
        // The same order of keys, not only the same members.
        let keys = |v: &Value, at: &str| -> Vec<String> {
            v.pointer(at)
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        for at in ["", "/properties", "/relations"] {
            assert_eq!(keys(&got, at), keys(&want, at), "order of {at:?}");
        }
    }

    #[test]
    fn the_text_is_the_values_text() {
        let bp = blueprint();
        for (p, r) in [
            (json!({}), json!({})),
            (Value::Null, Value::Null),
            (
                json!({"name": "a\nb", "tier": 1e300}),
                json!({"deps": "only"}),
            ),
        ] {
            let m = row(p, r);
            let raw = entity_raw(&m, &bp).expect("raw");
            let value = entity_json(&m, &bp);
            assert_eq!(raw.get(), serde_json::to_string(&value).expect("text"));
        }
    }
    #[test]
    fn a_text_row_renders_like_its_parsed_row() {
        let bp = blueprint();
        // As PostgreSQL prints `jsonb`: spaces after `:` and `,`, numbers as stored.
        let properties = r#"{"meta": {"z": [1, 2.50, null], "q\"k": {}}, "name": "x\ny", "stale": true, "tier": 1e3}"#;
        let relations = r#"{"deps": ["a", "b"], "gone": "g", "owners": "t1", "parent": "p", "single": 7, "team": ["t2", "t3"]}"#;
        let team = r#"["a", "b"]"#;
        let m = row(
            serde_json::from_str(properties).expect("properties"),
            serde_json::from_str(relations).expect("relations"),
        );
        let raw = |s: &'static str| -> &'static RawValue {
            serde_json::from_str::<&RawValue>(s).expect("raw")
        };
        let text = TextRow {
            identifier: &m.identifier,
            title: m.title.as_deref(),
            icon: None,
            blueprint: &m.blueprint,
            team: raw(team),
            properties: TextRow::members(properties).expect("an object"),
            relations: TextRow::members(relations).expect("an object"),
            created_at: m.created_at,
            created_by: &m.created_by,
            updated_at: m.updated_at,
            updated_by: &m.updated_by,
        };
        let mut out = Vec::new();
        write_text_row(&mut out, &text, &bp).expect("render");
        let got: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(got, entity_json(&m, &bp));
        // The parsed path writes the same entity.
        let mut parsed = Vec::new();
        write_entity(&mut parsed, &m, &bp).expect("render");
        assert_eq!(serde_json::from_slice::<Value>(&parsed).expect("JSON"), got);
        // What the text path leaves to the parsed one.
        assert!(TextRow::members("null").is_none());
        assert!(TextRow::members("[1]").is_none());
        assert!(TextRow::members(r#"{"a\u0062": 1}"#).is_none());
        // Text that is not JSON throughout is not taken apart.
        assert!(TextRow::members(r#"{"a": [1,}"#).is_none());
        assert!(TextRow::members(r#"{"a": 1} x"#).is_none());
    }
}
