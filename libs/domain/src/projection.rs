//! `include` / `exclude` of entity fields on reads (Port's query parameters).

use serde_json::{Map, Value};

/// Keeps only the fields named in `include` (when non-empty), then removes those in `exclude`.
/// A field is a top-level member (`identifier`, `title`, ...) or a dotted path one level
/// deeper (`properties.language`, `relations.domain`). `identifier` is always kept.
pub fn project(entity: &mut Value, include: &[String], exclude: &[String]) {
    let Value::Object(map) = entity else {
        return;
    };
    if !include.is_empty() {
        let fields: Vec<Field<'_>> = include.iter().map(|f| Field::parse(f)).collect();
        let old = std::mem::take(map);
        for (key, value) in old {
            let whole = key == "identifier"
                || fields
                    .iter()
                    .any(|f| matches!(f, Field::Member(m) if *m == key));
            if whole {
                map.insert(key, value);
                continue;
            }
            let wanted: Vec<&str> = fields
                .iter()
                .filter_map(|f| match f {
                    Field::Nested(m, k) if *m == key => Some(*k),
                    _ => None,
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            if let Value::Object(inner) = value {
                let kept: Map<String, Value> = inner
                    .into_iter()
                    .filter(|(k, _)| wanted.contains(&k.as_str()))
                    .collect();
                map.insert(key, Value::Object(kept));
            }
        }
    }
    for field in exclude {
        match Field::parse(field) {
            Field::Member("identifier") => {}
            Field::Member(m) => {
                map.shift_remove(m);
            }
            Field::Nested(m, k) => {
                if let Some(Value::Object(inner)) = map.get_mut(m) {
                    inner.shift_remove(k);
                }
            }
        }
    }
}

/// One `include`/`exclude` entry.
enum Field<'a> {
    /// A top-level member, e.g. `title` or `properties` (all of them).
    Member(&'a str),
    /// One key of an object member, e.g. `properties.language`.
    Nested(&'a str, &'a str),
}

impl<'a> Field<'a> {
    fn parse(s: &'a str) -> Self {
        match s.split_once('.') {
            Some((member, key)) => Field::Nested(member, key),
            None => Field::Member(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entity() -> Value {
        json!({
            "identifier": "svc",
            "title": "Service",
            "icon": "Go",
            "team": ["a"],
            "properties": {"language": "go", "port": 8080, "url": "https://x"},
            "relations": {"domain": "payments", "deps": ["a", "b"]},
            "blueprint": "service",
        })
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, Vec<&str>, Vec<&str>, Value)> = vec![
            ("nothing asked", vec![], vec![], entity()),
            (
                "include top-level",
                vec!["title"],
                vec![],
                json!({"identifier": "svc", "title": "Service"}),
            ),
            (
                "include nested",
                vec!["properties.language", "relations.domain"],
                vec![],
                json!({"identifier": "svc", "properties": {"language": "go"}, "relations": {"domain": "payments"}}),
            ),
            (
                "include whole properties and relations",
                vec!["properties", "relations"],
                vec![],
                json!({
                    "identifier": "svc",
                    "properties": {"language": "go", "port": 8080, "url": "https://x"},
                    "relations": {"domain": "payments", "deps": ["a", "b"]},
                }),
            ),
            (
                "whole member wins over a nested path",
                vec!["properties.port", "properties"],
                vec![],
                json!({"identifier": "svc", "properties": {"language": "go", "port": 8080, "url": "https://x"}}),
            ),
            (
                "include of a missing nested key keeps an empty object",
                vec!["properties.nope"],
                vec![],
                json!({"identifier": "svc", "properties": {}}),
            ),
            (
                "nested include under a non-object drops it",
                vec!["title.x"],
                vec![],
                json!({"identifier": "svc"}),
            ),
            (
                "exclude top-level and nested",
                vec![],
                vec![
                    "icon",
                    "team",
                    "blueprint",
                    "properties.url",
                    "relations.deps",
                ],
                json!({
                    "identifier": "svc",
                    "title": "Service",
                    "properties": {"language": "go", "port": 8080},
                    "relations": {"domain": "payments"},
                }),
            ),
            (
                "identifier is never excluded",
                vec![],
                vec![
                    "identifier",
                    "properties",
                    "relations",
                    "icon",
                    "team",
                    "blueprint",
                    "title",
                ],
                json!({"identifier": "svc"}),
            ),
            (
                "include then exclude",
                vec!["properties", "title"],
                vec!["properties.port", "title"],
                json!({"identifier": "svc", "properties": {"language": "go", "url": "https://x"}}),
            ),
            (
                "unknown fields are ignored",
                vec!["nope", "properties.a.b"],
                vec!["zzz", "nope.x"],
                json!({"identifier": "svc", "properties": {}}),
            ),
        ];
        for (name, include, exclude, want) in cases {
            let mut e = entity();
            project(&mut e, &strings(&include), &strings(&exclude));
            assert_eq!(e, want, "{name}");
        }
    }

    #[test]
    fn keeps_member_order() {
        let mut e = entity();
        project(&mut e, &strings(&["properties", "title"]), &[]);
        let keys: Vec<&String> = e
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["identifier", "title", "properties"]);
    }

    #[test]
    fn non_objects_are_left_alone() {
        let mut v = json!([1, 2]);
        project(&mut v, &strings(&["title"]), &strings(&["x"]));
        assert_eq!(v, json!([1, 2]));
    }
}
