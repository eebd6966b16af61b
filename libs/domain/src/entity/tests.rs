use serde_json::json;

use super::*;

fn parse_ok(body: Value) -> EntityInput {
    match EntityInput::parse(&body) {
        Ok(e) => e,
        Err(issues) => panic!("should parse: {issues:?}"),
    }
}

fn pointers(body: Value) -> Vec<String> {
    match EntityInput::parse(&body) {
        Ok(_) => Vec::new(),
        Err(issues) => {
            let mut p: Vec<String> = issues.0.into_iter().map(|i| i.pointer).collect();
            p.sort();
            p
        }
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn rels(pairs: &[(&str, RelationValue)]) -> IndexMap<String, RelationValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn one(s: &str) -> RelationValue {
    RelationValue::One(s.into())
}

fn many(v: &[&str]) -> RelationValue {
    RelationValue::Many(v.iter().map(|s| (*s).to_owned()).collect())
}

#[test]
fn parses_a_full_body() {
    let input = parse_ok(json!({
        "identifier": "svc-1",
        "title": "Service 1",
        "icon": "Go",
        "team": ["a", "b", "a"],
        "properties": {"lang": "go", "gone": null},
        "relations": {"domain": "payments", "deps": ["x", "y", "x"], "old": null},
        "blueprint": "service",
        "createdAt": "2024-01-01T00:00:00Z",
        "createdBy": "u",
        "updatedAt": "2024-01-01T00:00:00Z",
        "updatedBy": "u",
        "scorecards": {},
    }));
    assert_eq!(
        input,
        EntityInput {
            identifier: Some("svc-1".into()),
            title: Some(Some("Service 1".into())),
            icon: Some(Some("Go".into())),
            team: Some(vec!["a".into(), "b".into()]),
            properties: Some(obj(json!({"lang": "go", "gone": null}))),
            relations: Some(rels(&[
                ("domain", one("payments")),
                ("deps", many(&["x", "y"])),
                ("old", RelationValue::Null),
            ])),
        }
    );
}

#[test]
fn absent_null_and_single_forms() {
    let cases = [
        (json!({}), EntityInput::default()),
        (json!({"identifier": null}), EntityInput::default()),
        (
            json!({"title": null, "icon": null}),
            EntityInput {
                title: Some(None),
                icon: Some(None),
                ..Default::default()
            },
        ),
        (
            json!({"team": "platform"}),
            EntityInput {
                team: Some(vec!["platform".into()]),
                ..Default::default()
            },
        ),
        (
            json!({"team": null}),
            EntityInput {
                team: Some(vec![]),
                ..Default::default()
            },
        ),
        (
            json!({"team": []}),
            EntityInput {
                team: Some(vec![]),
                ..Default::default()
            },
        ),
        (
            json!({"properties": null, "relations": null}),
            EntityInput::default(),
        ),
        (
            json!({"properties": {}}),
            EntityInput {
                properties: Some(Map::new()),
                ..Default::default()
            },
        ),
        (
            json!({"relations": {}}),
            EntityInput {
                relations: Some(IndexMap::new()),
                ..Default::default()
            },
        ),
        (
            json!({"relations": {"deps": []}}),
            EntityInput {
                relations: Some(rels(&[("deps", many(&[]))])),
                ..Default::default()
            },
        ),
    ];
    for (body, want) in cases {
        assert_eq!(parse_ok(body.clone()), want, "{body}");
    }
}

#[test]
fn invalid_bodies() {
    let too_many_teams: Vec<String> = (0..=MAX_TEAMS).map(|i| format!("t{i}")).collect();
    let too_many_targets: Vec<String> = (0..=MAX_RELATION_TARGETS)
        .map(|i| format!("e{i}"))
        .collect();
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!([]), vec![""]),
        (json!("x"), vec![""]),
        (json!({"identifier": "a b"}), vec!["/identifier"]),
        (json!({"identifier": ""}), vec!["/identifier"]),
        (json!({"identifier": "x".repeat(1001)}), vec!["/identifier"]),
        (json!({"identifier": 5}), vec!["/identifier"]),
        (
            json!({"identifier": {"combinator": "and", "rules": []}}),
            vec!["/identifier"],
        ),
        (json!({"title": 1, "icon": {}}), vec!["/icon", "/title"]),
        (json!({"team": 1}), vec!["/team"]),
        (json!({"team": ["a", "", 3]}), vec!["/team/1", "/team/2"]),
        (json!({"team": ""}), vec!["/team"]),
        (json!({"team": too_many_teams}), vec!["/team"]),
        (json!({"properties": []}), vec!["/properties"]),
        (json!({"relations": "x"}), vec!["/relations"]),
        (json!({"relations": {"a.b": "x"}}), vec!["/relations/a.b"]),
        (json!({"relations": {"a/b": "x"}}), vec!["/relations/a~1b"]),
        (json!({"relations": {"d": "a b"}}), vec!["/relations/d"]),
        (json!({"relations": {"d": 1}}), vec!["/relations/d"]),
        (
            json!({"relations": {"d": {"combinator": "and", "rules": []}}}),
            vec!["/relations/d"],
        ),
        (
            json!({"relations": {"d": ["ok", 1, "a b"]}}),
            vec!["/relations/d/1", "/relations/d/2"],
        ),
        (
            json!({"relations": {"d": too_many_targets}}),
            vec!["/relations/d"],
        ),
        (
            json!({"unknown": 1, "$title": "x"}),
            vec!["/$title", "/unknown"],
        ),
        // Everything is reported at once.
        (
            json!({"identifier": 1, "team": 2, "bogus": 3}),
            vec!["/bogus", "/identifier", "/team"],
        ),
    ];
    for (body, want) in cases {
        assert_eq!(pointers(body.clone()), want, "{body}");
    }
}

#[test]
fn query_identifier_message() {
    let Err(issues) =
        EntityInput::parse(&json!({"identifier": {"combinator": "and", "rules": []}}))
    else {
        panic!("should fail");
    };
    assert_eq!(
        issues.0[0].message,
        "an identifier query must be resolved to an identifier before the entity is parsed"
    );
}

#[test]
fn relation_arrays_are_deduplicated_in_order() {
    let input = parse_ok(json!({"relations": {"d": ["c", "a", "c", "b", "a"]}}));
    assert_eq!(
        input.relations.and_then(|r| r.get("d").cloned()),
        Some(many(&["c", "a", "b"]))
    );
}

#[test]
fn into_data_drops_nulls() {
    let input = parse_ok(json!({
        "title": null,
        "icon": "Go",
        "properties": {"a": 1, "b": null},
        "relations": {"x": "t", "y": null, "z": ["u"]},
    }));
    let data = input.into_data("gen".into());
    assert_eq!(
        data,
        EntityData {
            identifier: "gen".into(),
            title: None,
            icon: Some("Go".into()),
            team: vec![],
            properties: obj(json!({"a": 1})),
            relations: rels(&[("x", one("t")), ("z", many(&["u"]))]),
        }
    );
    assert_eq!(
        EntityInput::default().into_data("e".into()),
        EntityData {
            identifier: "e".into(),
            ..Default::default()
        }
    );
}

fn existing() -> EntityData {
    EntityData {
        identifier: "svc".into(),
        title: Some("Old".into()),
        icon: Some("Go".into()),
        team: vec!["a".into()],
        properties: obj(json!({"lang": "go", "port": 80})),
        relations: rels(&[("domain", one("pay")), ("deps", many(&["x"]))]),
    }
}

#[test]
fn merge_onto_table() {
    let cases: Vec<(Value, EntityData)> = vec![
        (json!({}), existing()),
        (json!({"identifier": "other"}), existing()),
        (
            json!({"title": "New"}),
            EntityData {
                title: Some("New".into()),
                ..existing()
            },
        ),
        (
            json!({"title": null, "icon": null}),
            EntityData {
                title: None,
                icon: None,
                ..existing()
            },
        ),
        (
            json!({"team": "b"}),
            EntityData {
                team: vec!["b".into()],
                ..existing()
            },
        ),
        (
            json!({"team": null}),
            EntityData {
                team: vec![],
                ..existing()
            },
        ),
        (
            json!({"properties": {"port": 81, "lang": null, "new": true}}),
            EntityData {
                properties: obj(json!({"port": 81, "new": true})),
                ..existing()
            },
        ),
        (
            json!({"relations": {"domain": null, "deps": ["y", "z"], "owner": "t"}}),
            EntityData {
                relations: rels(&[("deps", many(&["y", "z"])), ("owner", one("t"))]),
                ..existing()
            },
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            parse_ok(body.clone()).merge_onto(&existing()),
            want,
            "{body}"
        );
    }
}

mod validate;
