use serde_json::json;

use super::*;

fn full_body() -> Value {
    json!({
        "identifier": "service",
        "title": "Service",
        "icon": "Microservice",
        "description": "A deployable unit",
        "schema": {
            "properties": {
                "language": {"type": "string", "title": "Language", "enum": ["go", "rust"], "enumColors": {"go": "blue"}},
                "port": {"type": "number", "minimum": 1, "maximum": 65535, "default": 8080},
                "repo": {"type": "string", "format": "url"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["language"],
        },
        "relations": {
            "domain": {"title": "Domain", "target": "domain", "required": true, "many": false},
            "deps": {"target": "service", "many": true, "description": "Dependencies"},
        },
        "mirrorProperties": {},
        "calculationProperties": {},
        "aggregationProperties": {},
        "ownership": {"type": "Inherited", "path": "domain.team"},
        "changelogDestination": {"type": "WEBHOOK", "url": "https://hooks.example.com/x"},
        "x-vendor": {"kept": true},
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedBy": "someone",
    })
}

fn parse_ok(body: &Value) -> Blueprint {
    match Blueprint::parse(body) {
        Ok(b) => b,
        Err(issues) => panic!("should parse: {issues:?}"),
    }
}

fn issue_pointers(body: &Value) -> Vec<String> {
    match Blueprint::parse(body) {
        Ok(_) => Vec::new(),
        Err(issues) => {
            let mut p: Vec<String> = issues.0.into_iter().map(|i| i.pointer).collect();
            p.sort();
            p
        }
    }
}

/// `full_body()` with `patch` merged on (RFC 7396: `null` deletes).
fn with(patch: Value) -> Value {
    let mut body = full_body();
    merge_patch(&mut body, &patch);
    body
}

#[test]
fn parses_a_full_body() {
    let bp = parse_ok(&full_body());
    assert_eq!(bp.identifier, "service");
    assert_eq!(bp.title, "Service");
    assert_eq!(bp.icon.as_deref(), Some("Microservice"));
    assert_eq!(bp.description.as_deref(), Some("A deployable unit"));
    assert_eq!(
        bp.properties.keys().collect::<Vec<_>>(),
        ["language", "port", "repo", "tags"]
    );
    assert_eq!(bp.required, ["language"]);
    assert_eq!(
        bp.relations.get("domain"),
        Some(&RelationDef {
            title: Some("Domain".into()),
            description: None,
            target: "domain".into(),
            required: true,
            many: false,
        })
    );
    assert_eq!(
        bp.relations.get("deps").map(|r| (r.many, r.required)),
        Some((true, false))
    );
    assert_eq!(
        bp.ownership,
        Some(Ownership::Inherited {
            path: "domain.team".into()
        })
    );
    assert_eq!(
        bp.changelog_destination,
        Some(json!({"type": "WEBHOOK", "url": "https://hooks.example.com/x"}))
    );
    assert_eq!(
        Value::Object(bp.extra.clone()),
        json!({"x-vendor": {"kept": true}})
    );
    assert_eq!(bp.property_type("port"), Some(PropType::Number));
    assert_eq!(bp.property_type("tags"), Some(PropType::Array));
    assert_eq!(bp.property_type("nope"), None);
}

#[test]
fn minimal_body() {
    let bp = parse_ok(&json!({"identifier": "x", "title": "X", "schema": {"properties": {}}}));
    assert!(bp.properties.is_empty() && bp.required.is_empty() && bp.relations.is_empty());
    assert_eq!(
        (
            bp.ownership,
            bp.changelog_destination,
            bp.icon,
            bp.description
        ),
        (None, None, None, None)
    );
    assert!(bp.extra.is_empty());
}

#[test]
fn nulls_mean_absent() {
    let bp = parse_ok(&json!({
        "identifier": "x", "title": "X", "icon": null, "description": null,
        "schema": {"properties": {"a": {"type": "string", "title": null}}, "required": null},
        "relations": null, "ownership": null, "teamInheritance": null,
        "mirrorProperties": null, "changelogDestination": null,
    }));
    assert_eq!(bp.icon, None);
    assert_eq!(
        bp.properties.get("a").map(|p| Value::Object(p.clone())),
        Some(json!({"type": "string"}))
    );
}

#[test]
fn ownership_variants() {
    let cases = [
        (
            json!({"ownership": {"type": "Direct", "path": null}}),
            Some(Ownership::Direct),
        ),
        (
            json!({"ownership": {"type": "Inherited", "path": "domain"}}),
            Some(Ownership::Inherited {
                path: "domain".into(),
            }),
        ),
        (
            json!({"ownership": null, "teamInheritance": {"path": "domain.owner"}}),
            Some(Ownership::Inherited {
                path: "domain.owner".into(),
            }),
        ),
        (json!({"ownership": null}), None),
    ];
    for (patch, want) in cases {
        assert_eq!(parse_ok(&with(patch.clone())).ownership, want, "{patch}");
    }
}

#[test]
fn invalid_bodies_report_every_issue() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"identifier": null}), vec!["/identifier"]),
        (json!({"identifier": 5}), vec!["/identifier"]),
        (json!({"identifier": ".."}), vec!["/identifier"]),
        (json!({"identifier": "a b"}), vec!["/identifier"]),
        (json!({"title": null}), vec!["/title"]),
        (json!({"title": ""}), vec!["/title"]),
        (json!({"title": "t".repeat(101)}), vec!["/title"]),
        (json!({"title": 1}), vec!["/title"]),
        (
            json!({"description": 1, "icon": []}),
            vec!["/description", "/icon"],
        ),
        (json!({"schema": null}), vec!["/schema"]),
        (json!({"schema": []}), vec!["/schema"]),
        (
            json!({"schema": {"properties": null, "required": null}}),
            vec!["/schema/properties"],
        ),
        (
            json!({"schema": {"properties": []}}),
            vec!["/schema/properties", "/schema/required/0"],
        ),
        (json!({"schema": {"extra": 1}}), vec!["/schema/extra"]),
        (
            json!({"schema": {"properties": {"a.b": {"type": "string"}}}}),
            vec!["/schema/properties/a.b"],
        ),
        (
            json!({"schema": {"properties": {"language": {"type": "str"}}}}),
            vec!["/schema/properties/language/type"],
        ),
        (
            json!({"schema": {"required": "language"}}),
            vec!["/schema/required"],
        ),
        (
            json!({"schema": {"required": ["language", "nope", 1, "language"]}}),
            vec![
                "/schema/required/1",
                "/schema/required/2",
                "/schema/required/3",
            ],
        ),
        (json!({"relations": []}), vec!["/relations"]),
        (json!({"relations": null}), vec!["/ownership/path"]),
        (
            json!({"relations": {"deps": "service"}}),
            vec!["/relations/deps"],
        ),
        (
            json!({"relations": {"deps": {"target": null}}}),
            vec!["/relations/deps/target"],
        ),
        (
            json!({"relations": {"deps": {"target": "a b"}}}),
            vec!["/relations/deps/target"],
        ),
        (
            json!({"relations": {"deps": {"target": 1}}}),
            vec!["/relations/deps/target"],
        ),
        (
            json!({"relations": {"deps": {"required": true}}}),
            vec!["/relations/deps"],
        ),
        (
            json!({"relations": {"deps": {"many": "yes", "required": 1}}}),
            vec!["/relations/deps/many", "/relations/deps/required"],
        ),
        (
            json!({"relations": {"deps": {"title": 1, "description": 2}}}),
            vec!["/relations/deps/description", "/relations/deps/title"],
        ),
        (
            json!({"relations": {"deps": {"color": "red"}}}),
            vec!["/relations/deps/color"],
        ),
        (
            json!({"relations": {"language": {"target": "x"}}}),
            vec!["/relations/language"],
        ),
        (
            json!({"relations": {"a/b": {"target": "x"}}}),
            vec!["/relations/a~1b"],
        ),
        (
            json!({"ownership": {"type": "Team"}}),
            vec!["/ownership/type"],
        ),
        (json!({"ownership": "Direct"}), vec!["/ownership"]),
        (
            json!({"ownership": {"type": "Direct", "path": "domain"}}),
            vec!["/ownership/path"],
        ),
        (
            json!({"ownership": {"type": "Direct", "path": null, "extra": 1}}),
            vec!["/ownership/extra"],
        ),
        (
            json!({"ownership": {"type": "Inherited", "path": null}}),
            vec!["/ownership/path"],
        ),
        (
            json!({"ownership": {"type": "Inherited", "path": 3}}),
            vec!["/ownership/path"],
        ),
        (
            json!({"ownership": {"type": "Inherited", "path": "nope.team"}}),
            vec!["/ownership/path"],
        ),
        (
            json!({"ownership": {"type": "Inherited", "path": "domain..team"}}),
            vec!["/ownership/path"],
        ),
        (
            json!({"ownership": {"type": "Inherited", "path": "deps"}, "teamInheritance": {"path": "domain"}}),
            vec!["/teamInheritance"],
        ),
        (
            json!({"ownership": null, "teamInheritance": {"path": "nope"}}),
            vec!["/teamInheritance/path"],
        ),
        (
            json!({"ownership": null, "teamInheritance": {"path": "domain", "x": 1}}),
            vec!["/teamInheritance/x"],
        ),
        (
            json!({"ownership": null, "teamInheritance": "domain"}),
            vec!["/teamInheritance"],
        ),
        (
            json!({"mirrorProperties": {"owner": {"path": "domain.$team"}}}),
            vec!["/mirrorProperties"],
        ),
        (
            json!({"calculationProperties": {"c": {}}}),
            vec!["/calculationProperties"],
        ),
        (
            json!({"aggregationProperties": {"a": {}}}),
            vec!["/aggregationProperties"],
        ),
        (json!({"mirrorProperties": []}), vec!["/mirrorProperties"]),
        (
            json!({"changelogDestination": "webhook"}),
            vec!["/changelogDestination"],
        ),
    ];
    for (patch, want) in cases {
        let body = with(patch.clone());
        assert_eq!(issue_pointers(&body), want, "{patch}");
    }
}

#[test]
fn non_object_body() {
    for body in [json!([]), json!("x"), json!(null)] {
        assert_eq!(issue_pointers(&body), [""]);
    }
    let mut all: Vec<String> = issue_pointers(&json!({}));
    all.sort();
    assert_eq!(all, ["/identifier", "/schema", "/title"]);
}

#[test]
fn not_yet_supported_messages_name_the_member() {
    let Err(issues) = Blueprint::parse(&with(json!({"mirrorProperties": {"owner": {}}}))) else {
        panic!("should fail");
    };
    assert!(
        issues.0[0]
            .message
            .contains("mirrorProperties are not supported yet"),
        "{}",
        issues.0[0].message
    );
    assert!(issues.0[0].message.contains("owner"));
    let Err(issues) = Blueprint::parse(&with(json!({"relations": {"deps": {"required": true}}})))
    else {
        panic!("should fail");
    };
    assert_eq!(
        issues.0[0].message,
        "a relation cannot be both many and required"
    );
}

mod json;
