//! `validate` against a compiled blueprint, relation helpers and generated identifiers.

use std::sync::Arc;

use serde_json::json;

use super::super::*;
use super::{many, obj, one, rels};
use crate::blueprint::Blueprint;

fn compiled() -> CompiledBlueprint {
    let bp = Blueprint::parse(&json!({
        "identifier": "service",
        "title": "Service",
        "schema": {
            "properties": {
                "lang": {"type": "string", "enum": ["go", "rust"]},
                "port": {"type": "number"},
            },
            "required": ["lang"],
        },
        "relations": {
            "domain": {"target": "domain", "required": true},
            "owner": {"target": "team"},
            "deps": {"target": "service", "many": true},
        },
    }));
    let bp = match bp {
        Ok(b) => b,
        Err(issues) => panic!("{issues:?}"),
    };
    match CompiledBlueprint::compile(Arc::new(bp), 1) {
        Ok(c) => c,
        Err(issues) => panic!("{issues:?}"),
    }
}

fn valid_entity() -> EntityData {
    EntityData {
        identifier: "svc".into(),
        title: Some("Svc".into()),
        icon: None,
        team: vec!["a".into()],
        properties: obj(json!({"lang": "go", "port": 80})),
        relations: rels(&[
            ("domain", one("pay")),
            ("owner", one("t")),
            ("deps", many(&["a", "b"])),
        ]),
    }
}

#[test]
fn validate_table() {
    let c = compiled();
    let with_relations = |r: &[(&str, RelationValue)]| EntityData {
        relations: rels(r),
        ..valid_entity()
    };
    let cases: Vec<(&str, EntityData, Vec<&str>)> = vec![
        ("valid", valid_entity(), vec![]),
        (
            "only required",
            with_relations(&[("domain", one("pay"))]),
            vec![],
        ),
        (
            "empty many",
            with_relations(&[("domain", one("pay")), ("deps", many(&[]))]),
            vec![],
        ),
        (
            "bad property",
            EntityData {
                properties: obj(json!({"lang": "c"})),
                ..valid_entity()
            },
            vec!["/properties/lang"],
        ),
        (
            "missing property",
            EntityData {
                properties: Map::new(),
                ..valid_entity()
            },
            vec!["/properties/lang"],
        ),
        (
            "unknown property",
            EntityData {
                properties: obj(json!({"lang": "go", "x": 1})),
                ..valid_entity()
            },
            vec!["/properties/x"],
        ),
        (
            "unknown relation",
            with_relations(&[("domain", one("pay")), ("nope", one("x"))]),
            vec!["/relations/nope"],
        ),
        (
            "many as string",
            with_relations(&[("domain", one("pay")), ("deps", one("x"))]),
            vec!["/relations/deps"],
        ),
        (
            "single as array",
            with_relations(&[("domain", one("pay")), ("owner", many(&["t", "u"]))]),
            vec!["/relations/owner"],
        ),
        (
            "single as one-element array",
            with_relations(&[("domain", one("pay")), ("owner", many(&["t"]))]),
            vec!["/relations/owner"],
        ),
        (
            "required missing",
            with_relations(&[]),
            vec!["/relations/domain"],
        ),
        (
            "required null",
            with_relations(&[("domain", RelationValue::Null)]),
            vec!["/relations/domain"],
        ),
        (
            "title too long",
            EntityData {
                title: Some("t".repeat(MAX_TITLE + 1)),
                ..valid_entity()
            },
            vec!["/title"],
        ),
        (
            "title at limit",
            EntityData {
                title: Some("é".repeat(MAX_TITLE)),
                ..valid_entity()
            },
            vec![],
        ),
        (
            "too many teams",
            EntityData {
                team: (0..=MAX_TEAMS).map(|i| i.to_string()).collect(),
                ..valid_entity()
            },
            vec!["/team"],
        ),
        (
            "everything at once",
            EntityData {
                title: Some("t".repeat(MAX_TITLE + 1)),
                properties: obj(json!({"port": "80"})),
                relations: rels(&[("deps", one("x"))]),
                ..valid_entity()
            },
            vec![
                "/properties/lang",
                "/properties/port",
                "/relations/deps",
                "/relations/domain",
                "/title",
            ],
        ),
    ];
    for (name, entity, want) in cases {
        let mut got: Vec<String> = validate(&c, &entity)
            .into_iter()
            .map(|i| i.pointer)
            .collect();
        got.sort();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn validate_messages() {
    let c = compiled();
    let messages = |r: &[(&str, RelationValue)]| -> Vec<String> {
        let mut all = rels(&[("domain", one("pay"))]);
        all.extend(rels(r));
        validate(
            &c,
            &EntityData {
                relations: all,
                ..valid_entity()
            },
        )
        .into_iter()
        .map(|i| i.message)
        .collect()
    };
    assert_eq!(
        messages(&[("deps", one("x"))]),
        ["relation deps is many: give an array"]
    );
    assert_eq!(
        messages(&[("owner", many(&["t"]))]),
        ["relation owner is single: give one entity identifier as a string, not an array"]
    );
    let missing = validate(
        &c,
        &EntityData {
            relations: IndexMap::new(),
            ..valid_entity()
        },
    );
    assert_eq!(missing[0].message, "relation domain is required");
}

#[test]
fn relation_value_helpers() {
    assert!(RelationValue::Null.targets().is_empty());
    assert_eq!(one("a").targets(), ["a"]);
    assert_eq!(many(&["a", "b"]).targets(), ["a", "b"]);
    assert_eq!(RelationValue::Null.to_json(), Value::Null);
    assert_eq!(one("a").to_json(), json!("a"));
    assert_eq!(many(&["a", "b"]).to_json(), json!(["a", "b"]));
}

#[test]
fn generated_identifiers() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        let id = generate_identifier();
        assert_eq!(id.len(), 18, "{id}");
        assert!(id.starts_with("e_"));
        assert!(id[2..].chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert!(crate::ids::validate_entity_identifier(&id).is_ok());
        assert!(seen.insert(id));
    }
}
