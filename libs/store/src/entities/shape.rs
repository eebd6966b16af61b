//! Conversions between stored rows, domain data and Port's JSON shape.

use indexmap::IndexMap;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::entity::{EntityData, RelationValue};
use serde_json::{Map, Value, json};

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
    let stored_props = m.properties.as_object();
    let mut properties = Map::new();
    for key in bp.properties.keys() {
        let v = stored_props
            .and_then(|p| p.get(key))
            .cloned()
            .unwrap_or(Value::Null);
        properties.insert(key.clone(), v);
    }
    let stored_rel = m.relations.as_object();
    let mut relations = Map::new();
    for (key, def) in &bp.relations {
        let v = stored_rel.and_then(|r| r.get(key)).cloned();
        let v = match (v, def.many) {
            (Some(v @ Value::Array(_)), true) => v,
            (Some(Value::String(s)), true) => json!([s]),
            (None, true) | (Some(_), true) => json!([]),
            (Some(v @ Value::String(_)), false) => v,
            (Some(Value::Array(a)), false) => a.into_iter().next().unwrap_or(Value::Null),
            (_, false) => Value::Null,
        };
        relations.insert(key.clone(), v);
    }
    json!({
        "identifier": m.identifier,
        "title": m.title,
        "icon": m.icon,
        "blueprint": m.blueprint,
        "team": m.team,
        "properties": properties,
        "relations": relations,
        "createdAt": ts(&m.created_at),
        "createdBy": m.created_by,
        "updatedAt": ts(&m.updated_at),
        "updatedBy": m.updated_by,
    })
}
