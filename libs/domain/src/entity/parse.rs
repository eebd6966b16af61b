//! `EntityInput::parse`: the shape of an entity write.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::{EntityInput, MAX_TEAMS, RelationValue};
use crate::error::{Issues, escape_token};
use crate::ids::{validate_entity_identifier, validate_key};

/// Most targets one many-relation may hold.
pub const MAX_RELATION_TARGETS: usize = 1000;

/// Members a client may echo back from a read; ignored on write.
const READ_ONLY: &[&str] = &[
    "blueprint",
    "createdAt",
    "createdBy",
    "updatedAt",
    "updatedBy",
    "scorecards",
];

pub(super) fn parse(body: &Value) -> Result<EntityInput, Issues> {
    let mut issues = Issues::default();
    let Some(obj) = body.as_object() else {
        issues.push("", "an entity must be a JSON object");
        return Err(issues);
    };
    let mut input = EntityInput::default();
    for (key, value) in obj {
        match key.as_str() {
            "identifier" => input.identifier = identifier(value, &mut issues),
            "title" => input.title = nullable_string(value, "/title", &mut issues),
            "icon" => input.icon = nullable_string(value, "/icon", &mut issues),
            "team" => input.team = team(value, &mut issues),
            "properties" => match value {
                Value::Null => {}
                Value::Object(p) => input.properties = Some(p.clone()),
                _ => issues.push("/properties", "properties must be an object"),
            },
            "relations" => input.relations = relations(value, &mut issues),
            k if READ_ONLY.contains(&k) => {}
            _ => issues.push(
                format!("/{}", escape_token(key)),
                format!("unknown member {key:?}"),
            ),
        }
    }
    issues.into_result(input)
}

fn identifier(value: &Value, issues: &mut Issues) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => {
            if let Err(e) = validate_entity_identifier(s) {
                issues.push("/identifier", e);
            }
            Some(s.clone())
        }
        Value::Object(_) => {
            issues.push(
                "/identifier",
                "an identifier query must be resolved to an identifier before the entity is parsed",
            );
            None
        }
        _ => {
            issues.push("/identifier", "identifier must be a string");
            None
        }
    }
}

/// Absent: `None` (never reached here); null: `Some(None)`; a string: `Some(Some(s))`.
fn nullable_string(value: &Value, ptr: &str, issues: &mut Issues) -> Option<Option<String>> {
    match value {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => {
            issues.push(ptr, "must be a string or null");
            None
        }
    }
}

/// A string, an array of strings (deduplicated, order kept), or null (no team).
fn team(value: &Value, issues: &mut Issues) -> Option<Vec<String>> {
    let items: Vec<(String, &Value)> = match value {
        Value::Null => return Some(Vec::new()),
        Value::String(_) => vec![("/team".to_owned(), value)],
        Value::Array(a) => {
            if a.len() > MAX_TEAMS {
                issues.push("/team", format!("at most {MAX_TEAMS} teams"));
                return None;
            }
            a.iter()
                .enumerate()
                .map(|(i, v)| (format!("/team/{i}"), v))
                .collect()
        }
        _ => {
            issues.push(
                "/team",
                "team must be a string, an array of strings, or null",
            );
            return None;
        }
    };
    let mut teams: Vec<String> = Vec::with_capacity(items.len());
    for (ptr, v) in items {
        match v.as_str() {
            Some(t) if !t.is_empty() => {
                if !teams.iter().any(|x| x == t) {
                    teams.push(t.to_owned());
                }
            }
            Some(_) => issues.push(ptr, "a team name must not be empty"),
            None => issues.push(ptr, "a team name must be a string"),
        }
    }
    Some(teams)
}

fn relations(value: &Value, issues: &mut Issues) -> Option<IndexMap<String, RelationValue>> {
    let map: &Map<String, Value> = match value {
        Value::Null => return None,
        Value::Object(m) => m,
        _ => {
            issues.push("/relations", "relations must be an object");
            return None;
        }
    };
    let mut out = IndexMap::with_capacity(map.len());
    for (key, v) in map {
        let ptr = format!("/relations/{}", escape_token(key));
        if let Err(e) = validate_key(key) {
            issues.push(ptr.clone(), format!("relation key {e}"));
        }
        if let Some(rv) = relation_value(v, &ptr, issues) {
            out.insert(key.clone(), rv);
        }
    }
    Some(out)
}

fn relation_value(value: &Value, ptr: &str, issues: &mut Issues) -> Option<RelationValue> {
    match value {
        Value::Null => Some(RelationValue::Null),
        Value::String(s) => {
            if let Err(e) = validate_entity_identifier(s) {
                issues.push(ptr, e);
            }
            Some(RelationValue::One(s.clone()))
        }
        Value::Array(items) => {
            if items.len() > MAX_RELATION_TARGETS {
                issues.push(
                    ptr,
                    format!("a relation holds at most {MAX_RELATION_TARGETS} targets"),
                );
                return None;
            }
            let mut targets: Vec<String> = Vec::with_capacity(items.len());
            let mut seen = HashSet::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => {
                        if let Err(e) = validate_entity_identifier(s) {
                            issues.push(format!("{ptr}/{i}"), e);
                        } else if seen.insert(s) {
                            targets.push(s.to_owned());
                        }
                    }
                    None => issues.push(
                        format!("{ptr}/{i}"),
                        "a relation target must be an entity identifier (string)",
                    ),
                }
            }
            Some(RelationValue::Many(targets))
        }
        Value::Object(_) => {
            issues.push(
                ptr,
                "a relation query must be resolved to identifiers before the entity is parsed",
            );
            None
        }
        _ => {
            issues.push(
                ptr,
                "a relation must be an entity identifier, an array of them, or null",
            );
            None
        }
    }
}
