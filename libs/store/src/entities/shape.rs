//! Conversions between stored rows, domain data and Port's JSON shape.

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
    serde_json::to_value(EntityView { m, bp }).unwrap_or(Value::Null)
}

/// [`entity_json`] as JSON text, written straight from the row (no `Value` tree in between:
/// a search page renders up to 1,000 rows).
pub fn entity_raw(m: &entity::Model, bp: &Blueprint) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(&EntityView { m, bp })
}

/// A stored row in Port's shape, serialized on the fly: the one definition of that shape
/// ([`entity_json`] and [`entity_raw`] both go through it).
struct EntityView<'a> {
    m: &'a entity::Model,
    bp: &'a Blueprint,
}

impl Serialize for EntityView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.m;
        let mut out = s.serialize_map(Some(11))?;
        out.serialize_entry("identifier", &m.identifier)?;
        out.serialize_entry("title", &m.title)?;
        out.serialize_entry("icon", &m.icon)?;
        out.serialize_entry("blueprint", &m.blueprint)?;
        out.serialize_entry("team", &m.team)?;
        out.serialize_entry(
            "properties",
            &PropertiesView {
                stored: m.properties.as_object(),
                bp: self.bp,
            },
        )?;
        out.serialize_entry(
            "relations",
            &RelationsView {
                stored: m.relations.as_object(),
                bp: self.bp,
            },
        )?;
        out.serialize_entry("createdAt", &ts(&m.created_at))?;
        out.serialize_entry("createdBy", &m.created_by)?;
        out.serialize_entry("updatedAt", &ts(&m.updated_at))?;
        out.serialize_entry("updatedBy", &m.updated_by)?;
        out.end()
    }
}

/// Every property of the blueprint, in its order: the stored value or `null`.
struct PropertiesView<'a> {
    stored: Option<&'a Map<String, Value>>,
    bp: &'a Blueprint,
}

impl Serialize for PropertiesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(self.bp.properties.len()))?;
        for key in self.bp.properties.keys() {
            let v = self.stored.and_then(|p| p.get(key)).unwrap_or(&Value::Null);
            out.serialize_entry(key, v)?;
        }
        out.end()
    }
}

/// Every relation of the blueprint, in its order: a many relation is an array (`[]` when
/// unset), a single one a string or `null`.
struct RelationsView<'a> {
    stored: Option<&'a Map<String, Value>>,
    bp: &'a Blueprint,
}

impl Serialize for RelationsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const EMPTY: [Value; 0] = [];
        let mut out = s.serialize_map(Some(self.bp.relations.len()))?;
        for (key, def) in &self.bp.relations {
            let stored = self.stored.and_then(|r| r.get(key));
            match (stored, def.many) {
                (Some(v @ Value::Array(_)), true) => out.serialize_entry(key, v)?,
                (Some(v @ Value::String(_)), true) => {
                    out.serialize_entry(key, std::slice::from_ref(v))?;
                }
                (_, true) => out.serialize_entry(key, &EMPTY)?,
                (Some(v @ Value::String(_)), false) => out.serialize_entry(key, v)?,
                (Some(Value::Array(a)), false) => {
                    out.serialize_entry(key, a.first().unwrap_or(&Value::Null))?;
                }
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
}
