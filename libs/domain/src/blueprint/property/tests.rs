use serde_json::json;

use super::*;

/// Runs `check_property` at pointer `/p` and returns the issue pointers (sorted).
fn check(def: Value) -> (Option<Map<String, Value>>, Vec<String>) {
    let mut issues = Issues::default();
    let out = check_property(&def, "/p", &mut issues);
    let mut ptrs: Vec<String> = issues.0.iter().map(|i| i.pointer.clone()).collect();
    ptrs.sort();
    assert_eq!(
        out.is_some(),
        ptrs.is_empty(),
        "a definition is kept iff it has no issue: {def}"
    );
    (out, ptrs)
}

#[test]
fn valid_definitions() {
    let cases = [
        json!({"type": "string"}),
        json!({"type": "string", "title": "T", "description": "D", "icon": "Git"}),
        json!({"type": "string", "format": "url", "spec": "open-api", "specAuthentication": {"clientId": "x"}}),
        json!({"type": "string", "format": "markdown"}),
        json!({"type": "string", "minLength": 0, "maxLength": 0}),
        json!({"type": "string", "minLength": 1, "maxLength": 10, "pattern": "^[a-z]+$", "default": "abc"}),
        json!({"type": "string", "enum": ["a", "b"], "enumColors": {"a": "red", "b": "blue"}, "default": "a"}),
        json!({"type": "string", "format": "date-time", "default": "2024-01-01T00:00:00Z"}),
        json!({"type": "number", "minimum": -1.5, "maximum": 2, "default": 0}),
        json!({"type": "number", "enum": [1, 2.5], "enumColors": {"1": "red", "2.5": "blue"}}),
        json!({"type": "boolean", "default": false}),
        json!({"type": "boolean", "enum": [true]}),
        json!({"type": "object", "spec": "async-api"}),
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}),
        json!({"type": "object", "additionalProperties": {"type": "number"}, "default": {"x": 1}}),
        json!({"type": "array"}),
        json!({"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string", "format": "user"}}),
        json!({"type": "array", "items": {"type": "string", "format": "blueprints"}}),
        json!({"type": "array", "items": {"type": "string", "enum": ["x"], "enumColors": {"x": "green"}, "pattern": "x"}}),
        json!({"type": "array", "items": {"type": "number", "enum": [1, 2]}, "default": [1, 2]}),
        json!({"type": "array", "items": {"type": "object"}}),
        json!({"type": "string", "title": null, "format": null}),
    ];
    for def in cases {
        let (out, ptrs) = check(def.clone());
        assert!(ptrs.is_empty(), "{def} should be valid: {ptrs:?}");
        let out = out.unwrap_or_default();
        assert!(out.values().all(|v| !v.is_null()), "nulls are dropped");
    }
}

#[test]
fn invalid_definitions() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!("string"), vec!["/p"]),
        (json!({}), vec!["/p/type"]),
        (json!({"type": "integer"}), vec!["/p/type"]),
        (json!({"type": 1}), vec!["/p/type"]),
        (json!({"type": "string", "bogus": 1}), vec!["/p/bogus"]),
        (json!({"type": "string", "a/b": 1}), vec!["/p/a~1b"]),
        (
            json!({"type": "string", "title": 1, "icon": false}),
            vec!["/p/icon", "/p/title"],
        ),
        (
            json!({"type": "string", "format": "entity"}),
            vec!["/p/format"],
        ),
        (json!({"type": "string", "format": 3}), vec!["/p/format"]),
        (
            json!({"type": "number", "format": "url"}),
            vec!["/p/format"],
        ),
        (json!({"type": "array", "format": "url"}), vec!["/p/format"]),
        (
            json!({"type": "number", "minLength": 1}),
            vec!["/p/minLength"],
        ),
        (
            json!({"type": "string", "minLength": -1}),
            vec!["/p/minLength"],
        ),
        (
            json!({"type": "string", "maxLength": 1.5}),
            vec!["/p/maxLength"],
        ),
        (
            json!({"type": "string", "minLength": 5, "maxLength": 2}),
            vec!["/p/maxLength"],
        ),
        (
            json!({"type": "string", "pattern": "(unclosed"}),
            vec!["/p/pattern"],
        ),
        (json!({"type": "string", "pattern": 1}), vec!["/p/pattern"]),
        (json!({"type": "string", "minimum": 1}), vec!["/p/minimum"]),
        (
            json!({"type": "number", "minimum": "1"}),
            vec!["/p/minimum"],
        ),
        (
            json!({"type": "number", "minimum": 3, "maximum": 1}),
            vec!["/p/maximum"],
        ),
        (json!({"type": "string", "enum": []}), vec!["/p/enum"]),
        (json!({"type": "string", "enum": "a"}), vec!["/p/enum"]),
        (
            json!({"type": "string", "enum": ["a", 1]}),
            vec!["/p/enum/1"],
        ),
        (
            json!({"type": "string", "enum": ["a", "b", "a"]}),
            vec!["/p/enum/2"],
        ),
        (
            json!({"type": "number", "enum": [1, 1.0]}),
            vec!["/p/enum/1"],
        ),
        (json!({"type": "object", "enum": [{}]}), vec!["/p/enum"]),
        (
            json!({"type": "string", "enumColors": {"a": "red"}}),
            vec!["/p/enumColors"],
        ),
        (
            json!({"type": "string", "enum": ["a"], "enumColors": {"b": "red"}}),
            vec!["/p/enumColors/b"],
        ),
        (
            json!({"type": "string", "enum": ["a"], "enumColors": {"a": 1}}),
            vec!["/p/enumColors/a"],
        ),
        (
            json!({"type": "string", "enum": ["a"], "enumColors": []}),
            vec!["/p/enumColors"],
        ),
        (
            json!({"type": "string", "items": {"type": "string"}}),
            vec!["/p/items"],
        ),
        (
            json!({"type": "array", "items": "string"}),
            vec!["/p/items"],
        ),
        (json!({"type": "array", "items": {}}), vec!["/p/items/type"]),
        (
            json!({"type": "array", "items": {"type": "string", "format": "nope"}}),
            vec!["/p/items/format"],
        ),
        (
            json!({"type": "array", "items": {"type": "number", "format": "url"}}),
            vec!["/p/items/format"],
        ),
        (
            json!({"type": "array", "items": {"type": "string", "minLength": 1}}),
            vec!["/p/items/minLength"],
        ),
        (
            json!({"type": "array", "items": {"type": "string", "title": "x"}}),
            vec!["/p/items/title"],
        ),
        (
            json!({"type": "array", "items": {"type": "string", "enum": [1]}}),
            vec!["/p/items/enum/0"],
        ),
        (
            json!({"type": "array", "minItems": 3, "maxItems": 1}),
            vec!["/p/maxItems"],
        ),
        (
            json!({"type": "array", "minItems": "1"}),
            vec!["/p/minItems"],
        ),
        (
            json!({"type": "string", "spec": "swagger"}),
            vec!["/p/spec"],
        ),
        (
            json!({"type": "number", "spec": "open-api"}),
            vec!["/p/spec"],
        ),
        (
            json!({"type": "string", "specAuthentication": {}}),
            vec!["/p/specAuthentication"],
        ),
        (
            json!({"type": "string", "spec": "open-api", "specAuthentication": 1}),
            vec!["/p/specAuthentication"],
        ),
        (
            json!({"type": "string", "properties": {}}),
            vec!["/p/properties"],
        ),
        (
            json!({"type": "object", "properties": []}),
            vec!["/p/properties"],
        ),
        (
            json!({"type": "object", "additionalProperties": 1}),
            vec!["/p/additionalProperties"],
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": 5}}}),
            vec!["/p/properties/a/type"],
        ),
        (
            json!({"type": "object", "properties": {"a": {"$ref": "https://x.io/s.json"}}}),
            vec!["/p"],
        ),
        (json!({"type": "string", "default": 1}), vec!["/p/default"]),
        (
            json!({"type": "string", "format": "email", "default": "nope"}),
            vec!["/p/default"],
        ),
        (
            json!({"type": "string", "enum": ["a"], "default": "b"}),
            vec!["/p/default"],
        ),
        (
            json!({"type": "string", "maxLength": 2, "default": "abc"}),
            vec!["/p/default"],
        ),
        (
            json!({"type": "number", "maximum": 2, "default": 3}),
            vec!["/p/default"],
        ),
        (
            json!({"type": "array", "items": {"type": "string"}, "default": ["a", 2]}),
            vec!["/p/default/1"],
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": 1}}),
            vec!["/p/default/a"],
        ),
        // Several problems at once are all reported.
        (
            json!({"type": "string", "minimum": 1, "format": "nope", "x": 1}),
            vec!["/p/format", "/p/minimum", "/p/x"],
        ),
    ];
    for (def, want) in cases {
        let (_, got) = check(def.clone());
        assert_eq!(got, want, "{def}");
    }
}

#[test]
fn messages_explain() {
    let mut issues = Issues::default();
    check_property(
        &json!({"type": "number", "pattern": "x"}),
        "/p",
        &mut issues,
    );
    assert_eq!(
        issues.0[0].message,
        "pattern does not apply to a property of type number"
    );
    let mut issues = Issues::default();
    check_property(
        &json!({"type": "string", "format": "entity"}),
        "/p",
        &mut issues,
    );
    assert!(
        issues.0[0].message.starts_with("unknown format \"entity\""),
        "{}",
        issues.0[0].message
    );
    let mut issues = Issues::default();
    check_property(
        &json!({"type": "object", "properties": {"a": {"type": "string", "format": "zz"}}}),
        "/p",
        &mut issues,
    );
    assert_eq!(issues.0[0].pointer, "/p/properties/a/format");
    assert!(
        issues.0[0].message.contains("unknown format \"zz\""),
        "{}",
        issues.0[0].message
    );
}

#[test]
fn type_names_round_trip() {
    for t in ALL {
        assert_eq!(parse_type(type_name(*t)), Some(*t));
    }
    assert_eq!(parse_type("integer"), None);
}
