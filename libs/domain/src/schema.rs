//! Compiling a blueprint into a JSON Schema validator (the `jsonschema` crate), once per
//! blueprint version, and validating entity properties with it.

use std::sync::Arc;

use jsonschema::{ValidationError, error::ValidationErrorKind};
use serde_json::{Map, Value, json};

use crate::blueprint::Blueprint;
use crate::error::{Issue, Issues, escape_token};

pub mod formats;

/// A blueprint with its compiled property validator. Cheap to clone (shared).
#[derive(Clone)]
pub struct CompiledBlueprint {
    pub blueprint: Arc<Blueprint>,
    /// The version of the stored definition this was compiled from.
    pub version: i64,
    validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for CompiledBlueprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledBlueprint")
            .field("identifier", &self.blueprint.identifier)
            .field("version", &self.version)
            .finish()
    }
}

impl CompiledBlueprint {
    /// Builds the JSON Schema of the blueprint's `properties` object and compiles it.
    /// Port formats (user, team, timer, markdown, yaml, proto, labeled-url, blueprints, ...) are
    /// registered as custom formats; format validation is on.
    pub fn compile(blueprint: Arc<Blueprint>, version: i64) -> Result<Self, Issues> {
        let schema = properties_schema(&blueprint);
        let validator = build_validator(&schema)?;
        Ok(Self {
            blueprint,
            version,
            validator: Arc::new(validator),
        })
    }

    /// Validates an entity's `properties` object; every failure carries a pointer under
    /// `/properties`. Null values must already have been removed (null means absent).
    pub fn validate_properties(&self, properties: &Map<String, Value>) -> Vec<Issue> {
        let instance = Value::Object(properties.clone());
        let mut issues = Vec::new();
        for error in self.validator.iter_errors(&instance) {
            issues.extend(error_issues("/properties", &error));
        }
        issues
    }

    /// Fills each missing property that has a `default`.
    pub fn apply_defaults(&self, properties: &mut Map<String, Value>) {
        for (key, def) in &self.blueprint.properties {
            if let Some(default) = def.get("default")
                && !properties.contains_key(key)
            {
                properties.insert(key.clone(), default.clone());
            }
        }
    }
}

/// The JSON Schema (draft 2020-12) that an entity's `properties` object must satisfy.
pub fn properties_schema(blueprint: &Blueprint) -> Value {
    let properties: Map<String, Value> = blueprint
        .properties
        .iter()
        .map(|(key, def)| (key.clone(), property_schema(def)))
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": blueprint.required,
        "additionalProperties": false,
    })
}

/// The keywords of a Port property definition that constrain values (the others, such as
/// `title`, `icon`, `enumColors` or `default`, are presentation or behaviour).
const VALIDATION_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "items",
    "minItems",
    "maxItems",
    "properties",
    "additionalProperties",
];

/// The JSON Schema of one property definition: its validation keywords only, with `items`
/// translated the same way. Keyword positions are unchanged, so a pointer into this schema is
/// also a pointer into the definition.
pub fn property_schema(def: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (key, value) in def {
        if !VALIDATION_KEYWORDS.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        let value = match (key.as_str(), value) {
            ("items", Value::Object(items)) => property_schema(items),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// Compiles a schema the way every Portolan validator is compiled: draft 2020-12, formats
/// asserted (Port's custom ones registered, unknown ones refused), the linear-time `regex`
/// engine for `pattern`, and no retrieval of external references (no network, no files).
pub(crate) fn compile(schema: &Value) -> Result<jsonschema::Validator, ValidationError<'static>> {
    formats::register(jsonschema::options())
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .offline()
        .build(schema)
}

fn build_validator(schema: &Value) -> Result<jsonschema::Validator, Issues> {
    compile(schema).map_err(|e| {
        Issues(vec![Issue::new(
            format!("/schema{}", e.instance_path()),
            format!(
                "the blueprint's schema does not compile: {}",
                compile_message(&e)
            ),
        )])
    })
}

/// The message of a schema compilation error, in Portolan's words where the crate's own
/// would talk about its configuration.
pub(crate) fn compile_message(error: &ValidationError<'_>) -> String {
    let text = message(error);
    match (
        text.starts_with("Unknown format"),
        error.instance().as_ref(),
    ) {
        (true, Value::String(format)) => format!(
            "unknown format {format:?}: must be one of {}",
            formats::PORT_FORMATS.join(", ")
        ),
        _ => text,
    }
}

/// Longest error message that quotes the offending value; longer ones mask it.
const MAX_MESSAGE: usize = 300;

/// The message of a validation error, without echoing huge values back.
pub(crate) fn message(error: &ValidationError<'_>) -> String {
    let full = error.to_string();
    if full.chars().count() <= MAX_MESSAGE {
        full
    } else {
        error.masked_with("the value").to_string()
    }
}

/// Maps one validation error to issues under `prefix`. A missing required property and an
/// unexpected property point at the property itself rather than at the enclosing object.
pub(crate) fn error_issues(prefix: &str, error: &ValidationError<'_>) -> Vec<Issue> {
    let at = format!("{prefix}{}", error.instance_path());
    match error.kind() {
        ValidationErrorKind::Required {
            property: Value::String(name),
        } => {
            vec![Issue::new(
                format!("{at}/{}", escape_token(name)),
                format!("required property {name:?} is missing"),
            )]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } if !unexpected.is_empty() => {
            unexpected
                .iter()
                .map(|name| {
                    Issue::new(
                        format!("{at}/{}", escape_token(name)),
                        format!("unknown property {name:?}: the schema does not define it"),
                    )
                })
                .collect()
        }
        _ => vec![Issue::new(at, message(error))],
    }
}

#[cfg(test)]
mod tests;
