//! `Blueprint::parse`: every rule of a blueprint body, collecting all issues.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::property::check_property;
use super::{Blueprint, Ownership, RelationDef};
use crate::error::{Issues, escape_token};
use crate::ids::{validate_blueprint_identifier, validate_key};

pub const MAX_BLUEPRINT_TITLE: usize = 100;

/// Members a client may echo back from a read; ignored on write.
const READ_ONLY: &[&str] = &["createdAt", "updatedAt", "createdBy", "updatedBy"];

/// Members kept in the typed fields (everything else but [`READ_ONLY`] goes to `extra`).
const KNOWN: &[&str] = &[
    "identifier",
    "title",
    "description",
    "icon",
    "schema",
    "relations",
    "ownership",
    "teamInheritance",
    "mirrorProperties",
    "calculationProperties",
    "aggregationProperties",
    "changelogDestination",
];

/// Members Port defines that Portolan does not implement yet: only absent, null or `{}` pass.
const NOT_YET: &[&str] = &[
    "mirrorProperties",
    "calculationProperties",
    "aggregationProperties",
];

pub(super) fn parse(body: &Value) -> Result<Blueprint, Issues> {
    let mut issues = Issues::default();
    let Some(obj) = body.as_object() else {
        issues.push("", "a blueprint must be a JSON object");
        return Err(issues);
    };

    let identifier = required_string(obj, "identifier", &mut issues);
    if let Some(id) = &identifier
        && let Err(e) = validate_blueprint_identifier(id)
    {
        issues.push("/identifier", e);
    }
    let title = required_string(obj, "title", &mut issues);
    if let Some(t) = &title {
        let len = t.chars().count();
        if len == 0 {
            issues.push("/title", "title must not be empty");
        } else if len > MAX_BLUEPRINT_TITLE {
            issues.push(
                "/title",
                format!("title must be at most {MAX_BLUEPRINT_TITLE} characters"),
            );
        }
    }
    let description = optional_string(obj.get("description"), "/description", &mut issues);
    let icon = optional_string(obj.get("icon"), "/icon", &mut issues);

    let (properties, required, property_keys) = parse_schema(obj.get("schema"), &mut issues);
    let relations = parse_relations(obj.get("relations"), &property_keys, &mut issues);
    // The relation keys the body defines; `None` when `relations` itself is malformed (already
    // reported), so the ownership path is not blamed for it too.
    let relation_keys: Option<Vec<&str>> = match obj.get("relations") {
        Some(Value::Object(r)) => Some(r.keys().map(String::as_str).collect()),
        None | Some(Value::Null) => Some(Vec::new()),
        Some(_) => None,
    };
    let ownership = parse_ownership(obj, relation_keys.as_deref(), &mut issues);

    for name in NOT_YET {
        match obj.get(*name) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) if m.is_empty() => {}
            Some(Value::Object(m)) => {
                let keys: Vec<String> = m.keys().map(|k| format!("{k:?}")).collect();
                issues.push(
                    format!("/{name}"),
                    format!("{name} are not supported yet (got {})", keys.join(", ")),
                );
            }
            Some(_) => issues.push(format!("/{name}"), format!("{name} must be an object")),
        }
    }

    let changelog_destination = match obj.get("changelogDestination") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            issues.push(
                "/changelogDestination",
                "changelogDestination must be an object",
            );
            None
        }
    };

    let extra: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let blueprint = Blueprint {
        identifier: identifier.unwrap_or_default(),
        title: title.unwrap_or_default(),
        description,
        icon,
        properties,
        required,
        relations,
        ownership,
        changelog_destination,
        extra,
    };
    issues.into_result(blueprint)
}

fn required_string(obj: &Map<String, Value>, key: &str, issues: &mut Issues) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            issues.push(format!("/{key}"), format!("{key} is required"));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            issues.push(format!("/{key}"), format!("{key} must be a string"));
            None
        }
    }
}

/// Absent or null: `None`; a string: kept; anything else: an issue.
fn optional_string(value: Option<&Value>, ptr: &str, issues: &mut Issues) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            issues.push(ptr, "must be a string");
            None
        }
    }
}

fn optional_bool(value: Option<&Value>, ptr: &str, issues: &mut Issues) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            issues.push(ptr, "must be a boolean");
            false
        }
    }
}

type SchemaParts = (
    IndexMap<String, Map<String, Value>>,
    Vec<String>,
    Vec<String>,
);

/// Parses `schema`: the valid properties, the required list, and every property key the body
/// defines (valid or not, so later rules do not report the same mistake twice).
fn parse_schema(schema: Option<&Value>, issues: &mut Issues) -> SchemaParts {
    let mut properties = IndexMap::new();
    let mut required = Vec::new();
    let schema = match schema {
        None | Some(Value::Null) => {
            issues.push("/schema", "schema is required");
            return (properties, required, Vec::new());
        }
        Some(Value::Object(s)) => s,
        Some(_) => {
            issues.push("/schema", "schema must be an object");
            return (properties, required, Vec::new());
        }
    };
    for key in schema
        .keys()
        .filter(|k| *k != "properties" && *k != "required")
    {
        issues.push(
            format!("/schema/{}", escape_token(key)),
            format!("unknown member {key:?} of schema"),
        );
    }
    let mut keys = Vec::new();
    match schema.get("properties") {
        None | Some(Value::Null) => {
            issues.push(
                "/schema/properties",
                "schema.properties is required (it may be empty)",
            );
        }
        Some(Value::Object(props)) => {
            for (key, def) in props {
                keys.push(key.clone());
                let ptr = format!("/schema/properties/{}", escape_token(key));
                if let Err(e) = validate_key(key) {
                    issues.push(ptr.clone(), format!("property key {e}"));
                }
                if let Some(def) = check_property(def, &ptr, issues) {
                    properties.insert(key.clone(), def);
                }
            }
        }
        Some(_) => issues.push("/schema/properties", "schema.properties must be an object"),
    }
    match schema.get("required") {
        None | Some(Value::Null) => {}
        Some(Value::Array(names)) => {
            for (i, name) in names.iter().enumerate() {
                let ptr = format!("/schema/required/{i}");
                match name.as_str() {
                    None => issues.push(ptr, "must be a property key (string)"),
                    Some(n) if !keys.iter().any(|k| k == n) => {
                        issues.push(ptr, format!("{n:?} is not a property of this blueprint"));
                    }
                    Some(n) if required.iter().any(|r| r == n) => {
                        issues.push(ptr, format!("{n:?} is listed twice"));
                    }
                    Some(n) => required.push(n.to_owned()),
                }
            }
        }
        Some(_) => issues.push(
            "/schema/required",
            "schema.required must be an array of property keys",
        ),
    }
    (properties, required, keys)
}

const RELATION_MEMBERS: &[&str] = &["target", "title", "description", "required", "many"];

fn parse_relations(
    relations: Option<&Value>,
    property_keys: &[String],
    issues: &mut Issues,
) -> IndexMap<String, RelationDef> {
    let mut out = IndexMap::new();
    let relations = match relations {
        None | Some(Value::Null) => return out,
        Some(Value::Object(r)) => r,
        Some(_) => {
            issues.push("/relations", "relations must be an object");
            return out;
        }
    };
    for (key, rel) in relations {
        let ptr = format!("/relations/{}", escape_token(key));
        let before = issues.0.len();
        if let Err(e) = validate_key(key) {
            issues.push(ptr.clone(), format!("relation key {e}"));
        }
        if property_keys.iter().any(|p| p == key) {
            issues.push(ptr.clone(), format!("{key:?} is already a property key"));
        }
        let Some(rel) = rel.as_object() else {
            issues.push(ptr, "a relation must be an object");
            continue;
        };
        for member in rel
            .keys()
            .filter(|m| !RELATION_MEMBERS.contains(&m.as_str()))
        {
            issues.push(
                format!("{ptr}/{}", escape_token(member)),
                format!("unknown member {member:?} of a relation"),
            );
        }
        let target = match rel.get("target") {
            Some(Value::String(t)) => {
                if let Err(e) = validate_blueprint_identifier(t) {
                    issues.push(format!("{ptr}/target"), e);
                }
                t.clone()
            }
            None | Some(Value::Null) => {
                issues.push(format!("{ptr}/target"), "target is required");
                String::new()
            }
            Some(_) => {
                issues.push(
                    format!("{ptr}/target"),
                    "target must be a blueprint identifier (string)",
                );
                String::new()
            }
        };
        let def = RelationDef {
            title: optional_string(rel.get("title"), &format!("{ptr}/title"), issues),
            description: optional_string(
                rel.get("description"),
                &format!("{ptr}/description"),
                issues,
            ),
            target,
            required: optional_bool(rel.get("required"), &format!("{ptr}/required"), issues),
            many: optional_bool(rel.get("many"), &format!("{ptr}/many"), issues),
        };
        if def.many && def.required {
            issues.push(ptr, "a relation cannot be both many and required");
        }
        if issues.0.len() == before {
            out.insert(key.clone(), def);
        }
    }
    out
}

fn parse_ownership(
    obj: &Map<String, Value>,
    relation_keys: Option<&[&str]>,
    issues: &mut Issues,
) -> Option<Ownership> {
    let ownership = obj.get("ownership").filter(|v| !v.is_null());
    let legacy = obj.get("teamInheritance").filter(|v| !v.is_null());
    match (ownership, legacy) {
        (Some(_), Some(_)) => {
            issues.push(
                "/teamInheritance",
                "give either ownership or teamInheritance (legacy), not both",
            );
            None
        }
        (Some(o), None) => parse_modern_ownership(o, relation_keys, issues),
        (None, Some(t)) => {
            let Some(t) = t.as_object() else {
                issues.push("/teamInheritance", "teamInheritance must be an object");
                return None;
            };
            for member in t.keys().filter(|m| *m != "path") {
                issues.push(
                    format!("/teamInheritance/{}", escape_token(member)),
                    format!("unknown member {member:?}"),
                );
            }
            let path = inherited_path(
                t.get("path"),
                "/teamInheritance/path",
                relation_keys,
                issues,
            )?;
            Some(Ownership::Inherited { path })
        }
        (None, None) => None,
    }
}

fn parse_modern_ownership(
    o: &Value,
    relation_keys: Option<&[&str]>,
    issues: &mut Issues,
) -> Option<Ownership> {
    let Some(o) = o.as_object() else {
        issues.push("/ownership", "ownership must be an object");
        return None;
    };
    for member in o.keys().filter(|m| *m != "type" && *m != "path") {
        issues.push(
            format!("/ownership/{}", escape_token(member)),
            format!("unknown member {member:?}"),
        );
    }
    match o.get("type").and_then(Value::as_str) {
        Some("Direct") => {
            if o.get("path").is_some_and(|p| !p.is_null()) {
                issues.push(
                    "/ownership/path",
                    "path only applies to Inherited ownership",
                );
            }
            Some(Ownership::Direct)
        }
        Some("Inherited") => {
            let path = inherited_path(o.get("path"), "/ownership/path", relation_keys, issues)?;
            Some(Ownership::Inherited { path })
        }
        _ => {
            issues.push(
                "/ownership/type",
                "ownership type must be \"Direct\" or \"Inherited\"",
            );
            None
        }
    }
}

/// A dot-separated chain of relation keys whose first one is a relation of this blueprint.
fn inherited_path(
    path: Option<&Value>,
    ptr: &str,
    relation_keys: Option<&[&str]>,
    issues: &mut Issues,
) -> Option<String> {
    let path = match path {
        Some(Value::String(p)) => p,
        None | Some(Value::Null) => {
            issues.push(ptr, "path is required for inherited ownership");
            return None;
        }
        Some(_) => {
            issues.push(ptr, "path must be a string of dot-separated relation keys");
            return None;
        }
    };
    let before = issues.0.len();
    for segment in path.split('.') {
        if let Err(e) = validate_key(segment) {
            issues.push(ptr, format!("segment {segment:?} of the path: {e}"));
        }
    }
    if issues.0.len() == before {
        let first = path.split('.').next().unwrap_or_default();
        if relation_keys.is_some_and(|keys| !keys.contains(&first)) {
            issues.push(
                ptr,
                format!("{first:?} is not a relation of this blueprint"),
            );
        }
    }
    (issues.0.len() == before).then(|| path.clone())
}
