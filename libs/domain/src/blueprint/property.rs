//! Validation of one property definition (`schema.properties.<key>`) of a blueprint.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::PropType;
use crate::error::{Issues, escape_token};
use crate::schema::{self, formats::PORT_FORMATS};

/// Values accepted by a string or object property's `spec`.
pub const SPECS: &[&str] = &["open-api", "async-api", "embedded-url"];

/// Where a definition sits: a property, or the `items` of an array property.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Property,
    Items,
}

use PropType::{Array, Boolean, Number, Object, String as Str};

const ALL: &[PropType] = &[Str, Number, Boolean, Object, Array];
const SCALARS: &[PropType] = &[Str, Number, Boolean];

/// Which types and levels a keyword applies to; `None` for an unknown keyword.
fn keyword_rule(keyword: &str) -> Option<(&'static [PropType], &'static [Level])> {
    use Level::{Items, Property};
    const BOTH: &[Level] = &[Property, Items];
    const PROP: &[Level] = &[Property];
    Some(match keyword {
        "type" => (ALL, BOTH),
        "title" | "description" | "icon" | "default" => (ALL, PROP),
        "format" | "pattern" => (&[Str], BOTH),
        "minLength" | "maxLength" => (&[Str], PROP),
        "minimum" | "maximum" => (&[Number], PROP),
        "enum" | "enumColors" => (SCALARS, BOTH),
        "items" | "minItems" | "maxItems" => (&[Array], PROP),
        "spec" | "specAuthentication" => (&[Str, Object], PROP),
        "properties" | "additionalProperties" => (&[Object], PROP),
        _ => return None,
    })
}

pub(super) fn type_name(t: PropType) -> &'static str {
    match t {
        Str => "string",
        Number => "number",
        Boolean => "boolean",
        Object => "object",
        Array => "array",
    }
}

fn parse_type(s: &str) -> Option<PropType> {
    ALL.iter().copied().find(|t| type_name(*t) == s)
}

/// Validates the property definition at `ptr` (issues are appended). Returns the definition
/// with its `null` members removed when it is valid.
pub(super) fn check_property(
    def: &Value,
    ptr: &str,
    issues: &mut Issues,
) -> Option<Map<String, Value>> {
    let before = issues.0.len();
    let map = check_definition(def, ptr, Level::Property, issues)?;
    if issues.0.len() > before {
        return None;
    }
    // Compile the property on its own: this checks the JSON Schema fragments of object
    // properties, and gives the validator for `default`.
    match schema::compile(&schema::property_schema(&map)) {
        Err(e) => {
            issues.push(
                format!("{ptr}{}", e.instance_path()),
                format!(
                    "invalid property definition: {}",
                    schema::compile_message(&e)
                ),
            );
        }
        Ok(validator) => {
            if let Some(default) = map.get("default") {
                for error in validator.iter_errors(default) {
                    issues
                        .0
                        .extend(schema::error_issues(&format!("{ptr}/default"), &error));
                }
            }
        }
    }
    (issues.0.len() == before).then_some(map)
}

fn check_definition(
    def: &Value,
    ptr: &str,
    level: Level,
    issues: &mut Issues,
) -> Option<Map<String, Value>> {
    let Some(obj) = def.as_object() else {
        issues.push(
            ptr,
            match level {
                Level::Property => "a property definition must be an object",
                Level::Items => "items must be an object",
            },
        );
        return None;
    };
    let map: Map<String, Value> = obj
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let ty = match map.get("type") {
        None => {
            issues.push(
                format!("{ptr}/type"),
                "type is required: string, number, boolean, object or array",
            );
            None
        }
        Some(Value::String(s)) => {
            let t = parse_type(s);
            if t.is_none() {
                issues.push(
                    format!("{ptr}/type"),
                    format!("unknown type {s:?}: must be string, number, boolean, object or array"),
                );
            }
            t
        }
        Some(_) => {
            issues.push(format!("{ptr}/type"), "type must be a string");
            None
        }
    };
    for (key, value) in &map {
        let kp = format!("{ptr}/{}", escape_token(key));
        let Some((types, levels)) = keyword_rule(key) else {
            issues.push(kp, format!("unknown keyword {key:?}"));
            continue;
        };
        if !levels.contains(&level) {
            issues.push(kp, format!("{key} is not allowed inside items"));
            continue;
        }
        if let Some(t) = ty
            && !types.contains(&t)
        {
            issues.push(
                kp,
                format!(
                    "{key} does not apply to a property of type {}",
                    type_name(t)
                ),
            );
            continue;
        }
        check_keyword(key, value, ty, &map, &kp, issues);
    }
    check_bounds(&map, ptr, "minLength", "maxLength", issues);
    check_bounds(&map, ptr, "minimum", "maximum", issues);
    check_bounds(&map, ptr, "minItems", "maxItems", issues);
    Some(map)
}

fn check_keyword(
    key: &str,
    value: &Value,
    ty: Option<PropType>,
    map: &Map<String, Value>,
    kp: &str,
    issues: &mut Issues,
) {
    match key {
        "title" | "description" | "icon" if !value.is_string() => {
            issues.push(kp, format!("{key} must be a string"));
        }
        "format" => match value.as_str() {
            Some(f) if PORT_FORMATS.contains(&f) => {}
            Some(f) => issues.push(
                kp,
                format!(
                    "unknown format {f:?}: must be one of {}",
                    PORT_FORMATS.join(", ")
                ),
            ),
            None => issues.push(kp, "format must be a string"),
        },
        "pattern" => match value.as_str() {
            Some(p) => {
                if let Err(e) = regex::Regex::new(p) {
                    issues.push(
                        kp,
                        format!("pattern is not a valid regular expression: {e}"),
                    );
                }
            }
            None => issues.push(kp, "pattern must be a string"),
        },
        "minLength" | "maxLength" | "minItems" | "maxItems" if value.as_u64().is_none() => {
            issues.push(kp, format!("{key} must be a non-negative integer"));
        }
        "minimum" | "maximum" if !value.is_number() => {
            issues.push(kp, format!("{key} must be a number"))
        }
        "enum" => check_enum(value, ty, kp, issues),
        "enumColors" => check_enum_colors(value, map.get("enum"), kp, issues),
        "items" => {
            check_definition(value, kp, Level::Items, issues);
        }
        "spec" => match value.as_str() {
            Some(s) if SPECS.contains(&s) => {}
            _ => issues.push(kp, format!("spec must be one of {}", SPECS.join(", "))),
        },
        "specAuthentication" => {
            if !value.is_object() {
                issues.push(kp, "specAuthentication must be an object");
            } else if !map.contains_key("spec") {
                issues.push(kp, "specAuthentication requires spec");
            }
        }
        "properties" if !value.is_object() => {
            issues.push(kp, "properties must be an object of JSON schemas")
        }
        "additionalProperties" if !value.is_object() && !value.is_boolean() => {
            issues.push(
                kp,
                "additionalProperties must be a boolean or a JSON schema object",
            );
        }
        _ => {}
    }
}

/// `min` <= `max` when both are numbers.
fn check_bounds(map: &Map<String, Value>, ptr: &str, min: &str, max: &str, issues: &mut Issues) {
    let (Some(lo), Some(hi)) = (
        map.get(min).and_then(Value::as_f64),
        map.get(max).and_then(Value::as_f64),
    ) else {
        return;
    };
    if lo > hi {
        issues.push(
            format!("{ptr}/{max}"),
            format!("{max} must not be less than {min}"),
        );
    }
}

fn matches_type(value: &Value, ty: PropType) -> bool {
    match ty {
        Str => value.is_string(),
        Number => value.is_number(),
        Boolean => value.is_boolean(),
        Object => value.is_object(),
        Array => value.is_array(),
    }
}

/// How an enum value is named as a key of `enumColors` (and compared for duplicates).
fn enum_label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string()),
        other => other.to_string(),
    }
}

fn check_enum(value: &Value, ty: Option<PropType>, kp: &str, issues: &mut Issues) {
    let Some(values) = value.as_array() else {
        issues.push(kp, "enum must be an array");
        return;
    };
    if values.is_empty() {
        issues.push(kp, "enum must not be empty");
        return;
    }
    let mut seen = HashSet::new();
    for (i, v) in values.iter().enumerate() {
        if let Some(t) = ty
            && !matches_type(v, t)
        {
            issues.push(
                format!("{kp}/{i}"),
                format!("enum values must be of type {}", type_name(t)),
            );
            continue;
        }
        // Numbers compare by value (1 and 1.0 are the same option).
        let canonical = match v {
            Value::Number(_) => format!("n:{}", enum_label(v)),
            Value::String(s) => format!("s:{s}"),
            other => format!("o:{other}"),
        };
        if !seen.insert(canonical) {
            issues.push(format!("{kp}/{i}"), format!("duplicate enum value {v}"));
        }
    }
}

fn check_enum_colors(value: &Value, enum_values: Option<&Value>, kp: &str, issues: &mut Issues) {
    let Some(colors) = value.as_object() else {
        issues.push(kp, "enumColors must be an object");
        return;
    };
    let Some(enum_values) = enum_values.and_then(Value::as_array) else {
        issues.push(kp, "enumColors requires enum");
        return;
    };
    let mut labels: Vec<String> = enum_values.iter().map(enum_label).collect();
    labels.extend(
        enum_values
            .iter()
            .filter(|v| v.is_number())
            .map(ToString::to_string),
    );
    for (key, color) in colors {
        let cp = format!("{kp}/{}", escape_token(key));
        if !labels.contains(key) {
            issues.push(cp, format!("{key:?} is not one of the enum values"));
        } else if !color.is_string() {
            issues.push(cp, "a color must be a string");
        }
    }
}

#[cfg(test)]
mod tests;
