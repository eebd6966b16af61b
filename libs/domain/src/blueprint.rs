//! Blueprint definitions: parsing (with full validation) and Port's JSON shape.
//!
//! Properties are kept as the JSON objects the client sent (after validation), so every Port
//! keyword round-trips unchanged; typed accessors read what the rules need.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::Issues;

mod parse;
mod property;

pub use parse::MAX_BLUEPRINT_TITLE;
pub use property::SPECS;

/// A validated blueprint definition (without store metadata such as timestamps).
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    pub identifier: String,
    pub title: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    /// Property key -> the property's definition object (validated).
    pub properties: IndexMap<String, Map<String, Value>>,
    /// Required property keys, each naming a defined property.
    pub required: Vec<String>,
    pub relations: IndexMap<String, RelationDef>,
    pub ownership: Option<Ownership>,
    pub changelog_destination: Option<Value>,
    /// Unknown top-level members, kept as sent (Port keeps them).
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RelationDef {
    pub title: Option<String>,
    pub description: Option<String>,
    pub target: String,
    pub required: bool,
    pub many: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ownership {
    Direct,
    /// `path` is a dot-separated chain of relation identifiers, e.g. `service.team`.
    Inherited {
        path: String,
    },
}

/// The JSON type of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    String,
    Number,
    Boolean,
    Object,
    Array,
}

impl Blueprint {
    /// Parses and fully validates a blueprint body (POST/PUT, or a PATCH already merged).
    /// Every problem is reported with its JSON pointer. Relation targets are checked for
    /// pattern only: whether they exist is the store's business.
    pub fn parse(body: &Value) -> Result<Blueprint, Issues> {
        parse::parse(body)
    }

    /// Port's JSON shape of the definition: identifier, title, icon, description,
    /// schema {properties, required}, relations, mirrorProperties {}, calculationProperties {},
    /// aggregationProperties {}, ownership (when set), changelogDestination (when set), extras.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("identifier".into(), Value::String(self.identifier.clone()));
        out.insert("title".into(), Value::String(self.title.clone()));
        if let Some(icon) = &self.icon {
            out.insert("icon".into(), Value::String(icon.clone()));
        }
        if let Some(description) = &self.description {
            out.insert("description".into(), Value::String(description.clone()));
        }
        let properties: Map<String, Value> = self
            .properties
            .iter()
            .map(|(k, def)| (k.clone(), Value::Object(def.clone())))
            .collect();
        let mut schema = Map::new();
        schema.insert("properties".into(), Value::Object(properties));
        schema.insert(
            "required".into(),
            Value::Array(self.required.iter().cloned().map(Value::String).collect()),
        );
        out.insert("schema".into(), Value::Object(schema));
        let relations: Map<String, Value> = self
            .relations
            .iter()
            .map(|(k, r)| (k.clone(), r.to_json()))
            .collect();
        out.insert("relations".into(), Value::Object(relations));
        for name in [
            "mirrorProperties",
            "calculationProperties",
            "aggregationProperties",
        ] {
            out.insert(name.into(), Value::Object(Map::new()));
        }
        if let Some(ownership) = &self.ownership {
            out.insert("ownership".into(), ownership.to_json());
        }
        if let Some(destination) = &self.changelog_destination {
            out.insert("changelogDestination".into(), destination.clone());
        }
        for (k, v) in &self.extra {
            if !out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }

    /// The type of property `key`, if defined.
    pub fn property_type(&self, key: &str) -> Option<PropType> {
        self.properties.get(key).and_then(prop_type)
    }
}

impl RelationDef {
    /// Port's shape: `{title?, description?, target, required, many}`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(title) = &self.title {
            out.insert("title".into(), Value::String(title.clone()));
        }
        if let Some(description) = &self.description {
            out.insert("description".into(), Value::String(description.clone()));
        }
        out.insert("target".into(), Value::String(self.target.clone()));
        out.insert("required".into(), Value::Bool(self.required));
        out.insert("many".into(), Value::Bool(self.many));
        Value::Object(out)
    }
}

impl Ownership {
    /// `{type: "Direct"}` or `{type: "Inherited", path}`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        match self {
            Ownership::Direct => {
                out.insert("type".into(), Value::String("Direct".into()));
            }
            Ownership::Inherited { path } => {
                out.insert("type".into(), Value::String("Inherited".into()));
                out.insert("path".into(), Value::String(path.clone()));
            }
        }
        Value::Object(out)
    }
}

impl PropType {
    /// The JSON Schema name of the type (`string`, `number`, ...).
    pub fn as_str(self) -> &'static str {
        property::type_name(self)
    }
}

/// Reads the `type` member of a property definition.
pub fn prop_type(def: &Map<String, Value>) -> Option<PropType> {
    match def.get("type")?.as_str()? {
        "string" => Some(PropType::String),
        "number" => Some(PropType::Number),
        "boolean" => Some(PropType::Boolean),
        "object" => Some(PropType::Object),
        "array" => Some(PropType::Array),
        _ => None,
    }
}

/// RFC 7396 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces.
/// PATCH of a blueprint is the merge of the body onto the stored definition's JSON.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (k, v) in patch_map {
            if v.is_null() {
                target_map.remove(k);
            } else {
                merge_patch(target_map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
