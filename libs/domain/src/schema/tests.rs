use std::sync::Arc;

use serde_json::json;

use super::*;

fn blueprint(body: Value) -> Blueprint {
    match Blueprint::parse(&body) {
        Ok(b) => b,
        Err(issues) => panic!("blueprint should parse: {issues:?}"),
    }
}

fn compiled(properties: Value, required: Value) -> CompiledBlueprint {
    let bp = blueprint(json!({
        "identifier": "service",
        "title": "Service",
        "schema": {"properties": properties, "required": required},
        "relations": {"domain": {"target": "domain", "required": true}},
    }));
    match CompiledBlueprint::compile(Arc::new(bp), 3) {
        Ok(c) => c,
        Err(issues) => panic!("should compile: {issues:?}"),
    }
}

fn props(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn pointers(issues: &[Issue]) -> Vec<&str> {
    issues.iter().map(|i| i.pointer.as_str()).collect()
}

#[test]
fn properties_schema_translates_and_drops_presentation() {
    let bp = blueprint(json!({
        "identifier": "svc",
        "title": "Svc",
        "schema": {
            "properties": {
                "lang": {
                    "type": "string", "title": "Language", "description": "d", "icon": "Go",
                    "enum": ["go", "rust"], "enumColors": {"go": "blue"}, "default": "go",
                },
                "tags": {
                    "type": "array", "minItems": 1, "maxItems": 3,
                    "items": {"type": "string", "enum": ["a", "b"], "enumColors": {"a": "red"}},
                },
                "spec": {"type": "string", "format": "url", "spec": "open-api"},
                "meta": {"type": "object", "properties": {"x": {"type": "number"}}, "additionalProperties": false},
                "n": {"type": "number", "minimum": 0, "maximum": 10},
            },
            "required": ["lang"],
        },
    }));
    assert_eq!(
        properties_schema(&bp),
        json!({
            "type": "object",
            "properties": {
                "lang": {"type": "string", "enum": ["go", "rust"]},
                "tags": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "string", "enum": ["a", "b"]}},
                "spec": {"type": "string", "format": "url"},
                "meta": {"type": "object", "properties": {"x": {"type": "number"}}, "additionalProperties": false},
                "n": {"type": "number", "minimum": 0, "maximum": 10},
            },
            "required": ["lang"],
            "additionalProperties": false,
        })
    );
}

#[test]
fn property_schema_skips_nulls() {
    let def = props(json!({"type": "string", "format": null, "title": "x"}));
    assert_eq!(property_schema(&def), json!({"type": "string"}));
}

#[test]
fn formats_are_asserted() {
    let c = compiled(
        json!({
            "dt": {"type": "string", "format": "date-time"},
            "url": {"type": "string", "format": "url"},
            "email": {"type": "string", "format": "email"},
            "idn": {"type": "string", "format": "idn-email"},
            "v4": {"type": "string", "format": "ipv4"},
            "v6": {"type": "string", "format": "ipv6"},
            "md": {"type": "string", "format": "markdown"},
            "yaml": {"type": "string", "format": "yaml"},
            "user": {"type": "string", "format": "user"},
            "team": {"type": "string", "format": "team"},
            "timer": {"type": "string", "format": "timer"},
            "proto": {"type": "string", "format": "proto"},
            "lurl": {"type": "string", "format": "labeled-url"},
            "bps": {"type": "array", "items": {"type": "string", "format": "blueprints"}},
        }),
        json!([]),
    );
    let cases = [
        ("dt", json!("2024-01-02T03:04:05Z"), json!("yesterday")),
        ("url", json!("https://example.com/a"), json!("not a url")),
        ("email", json!("a@b.co"), json!("nope")),
        ("idn", json!("jörg@bücher.de"), json!("jörg")),
        ("v4", json!("10.0.0.1"), json!("10.0.0.300")),
        ("v6", json!("::1"), json!("1:::2")),
        ("user", json!("dev@corp.io"), json!("dev")),
        ("team", json!("platform"), json!("")),
        (
            "timer",
            json!("2030-01-01T00:00:00+02:00"),
            json!("2030-01-01"),
        ),
        ("lurl", json!("http://localhost:3000"), json!("localhost")),
    ];
    for (key, good, bad) in cases {
        let ok = c.validate_properties(&props(json!({ key: good })));
        assert!(ok.is_empty(), "{key} should accept: {ok:?}");
        let ko = c.validate_properties(&props(json!({ key: bad })));
        assert_eq!(pointers(&ko), [format!("/properties/{key}")], "{key}");
    }
    for (key, any) in [
        ("md", json!("# hi")),
        ("yaml", json!("a: 1")),
        ("proto", json!("syntax = \"proto3\";")),
    ] {
        assert!(
            c.validate_properties(&props(json!({ key: any })))
                .is_empty(),
            "{key}"
        );
    }
    assert!(
        c.validate_properties(&props(json!({"bps": ["service", "x"]})))
            .is_empty()
    );
}

#[test]
fn validation_issues_point_at_the_value() {
    let c = compiled(
        json!({
            "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
            "port": {"type": "number", "minimum": 1, "maximum": 65535},
            "on": {"type": "boolean"},
            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "enum": ["a", "b"]}},
            "meta": {"type": "object"},
            "kind": {"type": "string", "enum": ["x", "y"]},
        }),
        json!(["name"]),
    );
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"name": "abc"}), vec![]),
        (
            json!({"name": "abc", "port": 80, "on": true, "tags": ["a"], "meta": {"k": 1}, "kind": "x"}),
            vec![],
        ),
        (json!({}), vec!["/properties/name"]),
        (json!({"name": "a"}), vec!["/properties/name"]),
        (json!({"name": "abcdef"}), vec!["/properties/name"]),
        (json!({"name": "AB"}), vec!["/properties/name"]),
        (json!({"name": 5}), vec!["/properties/name"]),
        (json!({"name": "ab", "port": 0}), vec!["/properties/port"]),
        (
            json!({"name": "ab", "port": "80"}),
            vec!["/properties/port"],
        ),
        (json!({"name": "ab", "on": "yes"}), vec!["/properties/on"]),
        (
            json!({"name": "ab", "tags": ["a", "c"]}),
            vec!["/properties/tags/1"],
        ),
        (
            json!({"name": "ab", "tags": ["a", "b", "a"]}),
            vec!["/properties/tags"],
        ),
        (json!({"name": "ab", "meta": []}), vec!["/properties/meta"]),
        (json!({"name": "ab", "kind": "z"}), vec!["/properties/kind"]),
        (
            json!({"name": "ab", "unknown": 1, "a/b": 2}),
            vec!["/properties/unknown", "/properties/a~1b"],
        ),
    ];
    for (instance, want) in cases {
        let got = c.validate_properties(&props(instance.clone()));
        let mut got = pointers(&got);
        got.sort_unstable();
        let mut want = want;
        want.sort_unstable();
        assert_eq!(got, want, "{instance}");
    }
}

#[test]
fn messages_are_readable_and_bounded() {
    let c = compiled(
        json!({"s": {"type": "string", "maxLength": 3}}),
        json!(["s"]),
    );
    let issues = c.validate_properties(&props(json!({"s": "x".repeat(5000)})));
    assert_eq!(issues.len(), 1);
    assert!(issues[0].message.len() < 300, "{}", issues[0].message);
    let issues = c.validate_properties(&Map::new());
    assert_eq!(issues[0].message, "required property \"s\" is missing");
    let issues = c.validate_properties(&props(json!({"s": "ab", "t": 1})));
    assert_eq!(
        issues[0].message,
        "unknown property \"t\": the schema does not define it"
    );
}

#[test]
fn apply_defaults_fills_only_missing() {
    let c = compiled(
        json!({
            "a": {"type": "string", "default": "x"},
            "b": {"type": "number", "default": 1},
            "c": {"type": "boolean"},
        }),
        json!([]),
    );
    let mut p = props(json!({"a": "given"}));
    c.apply_defaults(&mut p);
    assert_eq!(Value::Object(p), json!({"a": "given", "b": 1}));
}

#[test]
fn compile_keeps_blueprint_and_version() {
    let c = compiled(json!({}), json!([]));
    assert_eq!(c.version, 3);
    assert_eq!(c.blueprint.identifier, "service");
    let debug = format!("{c:?}");
    assert!(debug.contains("service") && debug.contains('3'), "{debug}");
    assert!(c.validate_properties(&Map::new()).is_empty());
}

#[test]
fn build_validator_reports_schema_errors() {
    let cases = [
        (
            json!({"type": "object", "properties": {"a": {"type": 5}}}),
            "/schema/properties/a/type",
        ),
        (
            json!({"type": "string", "format": "nope"}),
            "/schema/format",
        ),
        (
            json!({"type": "string", "pattern": "(?<=a)b"}),
            "/schema/pattern",
        ),
    ];
    for (schema, pointer) in cases {
        match build_validator(&schema) {
            Ok(_) => panic!("{schema} should not compile"),
            Err(issues) => assert_eq!(pointers(&issues.0), [pointer], "{schema}"),
        }
    }
    let Err(issues) = build_validator(&json!({"type": "string", "format": "nope"})) else {
        panic!("should fail");
    };
    assert!(
        issues.0[0].message.contains("unknown format \"nope\""),
        "{}",
        issues.0[0].message
    );
}

#[test]
fn no_external_references_are_fetched() {
    for uri in ["https://example.com/s.json", "file:///etc/passwd"] {
        let schema = json!({"$ref": uri});
        assert!(build_validator(&schema).is_err(), "{uri}");
    }
}
