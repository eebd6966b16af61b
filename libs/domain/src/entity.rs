//! Entities: the request shape, the stored shape, merge and validation against a blueprint.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{Issue, Issues, escape_token};
use crate::schema::CompiledBlueprint;

mod parse;

pub use parse::MAX_RELATION_TARGETS;

/// A relation's value as stored and as written by clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelationValue {
    /// `null`: no target.
    Null,
    One(String),
    Many(Vec<String>),
}

impl RelationValue {
    /// The target identifiers, in order.
    pub fn targets(&self) -> &[String] {
        match self {
            RelationValue::Null => &[],
            RelationValue::One(t) => std::slice::from_ref(t),
            RelationValue::Many(ts) => ts,
        }
    }
    pub fn to_json(&self) -> Value {
        match self {
            RelationValue::Null => Value::Null,
            RelationValue::One(t) => Value::String(t.clone()),
            RelationValue::Many(ts) => {
                Value::Array(ts.iter().cloned().map(Value::String).collect())
            }
        }
    }
}

/// An entity write as sent by a client, parsed for shape (not yet against a blueprint).
/// Members that were absent are `None`, so merge knows what to keep.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityInput {
    pub identifier: Option<String>,
    pub title: Option<Option<String>>,
    pub icon: Option<Option<String>>,
    pub team: Option<Vec<String>>,
    pub properties: Option<Map<String, Value>>,
    pub relations: Option<IndexMap<String, RelationValue>>,
}

/// An entity's content as stored (meta columns such as timestamps live in the store).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityData {
    pub identifier: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    pub team: Vec<String>,
    /// Never holds `null` values: null means absent.
    pub properties: Map<String, Value>,
    /// Only non-null relations are kept.
    pub relations: IndexMap<String, RelationValue>,
}

pub const MAX_TITLE: usize = 1000;
pub const MAX_TEAMS: usize = 100;

impl EntityInput {
    /// Parses a request body for shape: `identifier` (string matching Port's entity pattern; the
    /// API resolves an identifier, team or relation given as a query before parsing), `title`/`icon` (string or null), `team`
    /// (string, array of strings, or null), `properties` (object), `relations` (object whose
    /// values are a string, an array of strings, or null). Unknown members are refused.
    pub fn parse(body: &Value) -> Result<EntityInput, Issues> {
        parse::parse(body)
    }

    /// The entity this input describes on its own (create, or upsert without merge): absent
    /// members are empty; null properties/relations are dropped.
    pub fn into_data(self, identifier: String) -> EntityData {
        EntityData {
            identifier,
            title: self.title.flatten(),
            icon: self.icon.flatten(),
            team: self.team.unwrap_or_default(),
            properties: self
                .properties
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect(),
            relations: self
                .relations
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, v)| *v != RelationValue::Null)
                .collect(),
        }
    }

    /// Merge onto an existing entity (`merge=true`, PATCH): given members replace, properties
    /// and relations merge key by key, a null property or relation removes that key.
    pub fn merge_onto(self, existing: &EntityData) -> EntityData {
        let mut properties = existing.properties.clone();
        for (key, value) in self.properties.unwrap_or_default() {
            if value.is_null() {
                properties.remove(&key);
            } else {
                properties.insert(key, value);
            }
        }
        let mut relations = existing.relations.clone();
        for (key, value) in self.relations.unwrap_or_default() {
            if value == RelationValue::Null {
                relations.shift_remove(&key);
            } else {
                relations.insert(key, value);
            }
        }
        EntityData {
            identifier: existing.identifier.clone(),
            title: self.title.unwrap_or_else(|| existing.title.clone()),
            icon: self.icon.unwrap_or_else(|| existing.icon.clone()),
            team: self.team.unwrap_or_else(|| existing.team.clone()),
            properties,
            relations,
        }
    }
}

/// Validates an entity against its blueprint: properties through the compiled schema
/// (pointers under `/properties`), relations (unknown relation, a list for a single relation
/// or a string for a many relation, required relation missing: pointers under `/relations`),
/// title length, team count. Relation *targets* are checked by the store.
pub fn validate(blueprint: &CompiledBlueprint, entity: &EntityData) -> Vec<Issue> {
    let mut issues = Issues(blueprint.validate_properties(&entity.properties));
    let def = &blueprint.blueprint;
    for (key, value) in &entity.relations {
        let ptr = format!("/relations/{}", escape_token(key));
        let Some(rel) = def.relations.get(key) else {
            issues.push(
                ptr,
                format!("blueprint {:?} has no relation {key:?}", def.identifier),
            );
            continue;
        };
        match value {
            RelationValue::Null => {}
            RelationValue::One(_) if rel.many => {
                issues.push(ptr, format!("relation {key} is many: give an array"));
            }
            RelationValue::Many(_) if !rel.many => {
                issues.push(
                    ptr,
                    format!("relation {key} is single: give one entity identifier as a string, not an array"),
                );
            }
            RelationValue::Many(targets) if targets.len() > MAX_RELATION_TARGETS => {
                issues.push(
                    ptr,
                    format!("a relation holds at most {MAX_RELATION_TARGETS} targets"),
                );
            }
            RelationValue::One(_) | RelationValue::Many(_) => {}
        }
    }
    for (key, rel) in &def.relations {
        let missing = entity
            .relations
            .get(key)
            .is_none_or(|v| v.targets().is_empty());
        if rel.required && missing {
            issues.push(
                format!("/relations/{}", escape_token(key)),
                format!("relation {key} is required"),
            );
        }
    }
    if entity
        .title
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TITLE)
    {
        issues.push(
            "/title",
            format!("title must be at most {MAX_TITLE} characters"),
        );
    }
    if entity.team.len() > MAX_TEAMS {
        issues.push("/team", format!("at most {MAX_TEAMS} teams"));
    }
    issues.0
}

/// A generated identifier for entities created without one: `e_` + 16 random alphanumerics.
pub fn generate_identifier() -> String {
    use rand::Rng;
    let suffix: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    format!("e_{suffix}")
}

#[cfg(test)]
mod tests;
