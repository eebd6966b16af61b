//! `relatedTo` and `matchAny`.

use super::*;

fn related(extra: Value) -> Value {
    let mut r = json!({"operator": "relatedTo", "blueprint": "domain", "value": "d1"});
    if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            r.insert(k.clone(), v.clone());
        }
    }
    r
}

#[test]
fn related_to() {
    assert_eq!(
        rule(related(json!({}))),
        Rule::RelatedTo {
            blueprint: "domain".into(),
            ids: vec!["d1".into()],
            direction: None,
            required: None,
        }
    );
    assert_eq!(
        rule(related(
            json!({"value": ["d1", "d2"], "direction": "upstream", "required": true})
        )),
        Rule::RelatedTo {
            blueprint: "domain".into(),
            ids: vec!["d1".into(), "d2".into()],
            direction: Some(Direction::Upstream),
            required: Some(true),
        }
    );
    assert_eq!(
        rule(related(
            json!({"direction": "downstream", "required": false})
        )),
        Rule::RelatedTo {
            blueprint: "domain".into(),
            ids: vec!["d1".into()],
            direction: Some(Direction::Downstream),
            required: Some(false),
        }
    );
    assert_eq!(
        rule(related(
            json!({"value": [], "direction": null, "required": null})
        )),
        Rule::RelatedTo {
            blueprint: "domain".into(),
            ids: vec![],
            direction: None,
            required: None,
        }
    );
    // The blueprint need not be a candidate, only exist.
    assert!(matches!(
        rule(related(json!({"blueprint": "orphan"}))),
        Rule::RelatedTo { .. }
    ));
}

#[test]
fn bad_related_to() {
    let too_many: Vec<String> = (0..=MAX_VALUES).map(|i| i.to_string()).collect();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            related(json!({"blueprint": "nope"})),
            "/blueprint",
            "unknown blueprint `nope`",
        ),
        (
            related(json!({"blueprint": null})),
            "/blueprint",
            "blueprint is required",
        ),
        (
            related(json!({"blueprint": 1})),
            "/blueprint",
            "must be a blueprint identifier",
        ),
        (
            related(json!({"value": null})),
            "/value",
            "value is required",
        ),
        (related(json!({"value": ""})), "/value", "must not be empty"),
        (
            related(json!({"value": ["a", ""]})),
            "/value/1",
            "must not be empty",
        ),
        (
            related(json!({"value": ["a", 1]})),
            "/value/1",
            "must be a string",
        ),
        (
            related(json!({"value": 5})),
            "/value",
            "an entity identifier or a list of them",
        ),
        (
            related(json!({"value": too_many})),
            "/value",
            "at most 1000 values",
        ),
        (
            related(json!({"direction": "sideways"})),
            "/direction",
            "direction must be `upstream` or `downstream`",
        ),
        (
            related(json!({"required": "yes"})),
            "/required",
            "required must be a boolean",
        ),
        (
            related(json!({"property": "name"})),
            "/property",
            "unknown member `property`",
        ),
    ];
    for (r, pointer, needle) in cases {
        assert_issue(r, pointer, needle);
    }
}

fn match_any(property: Value, value: Value) -> Value {
    json!({"property": property, "operator": "matchAny", "value": value})
}

fn step(relation: &str, max_hops: u8) -> PathStep {
    PathStep {
        relation: relation.to_owned(),
        max_hops,
    }
}

/// The `matchAny` rule of a one-rule query in `scope`.
fn match_any_rule(r: Value, scope: Option<&str>) -> Rule {
    match ok(&and([r.clone()]), scope).query.rules.as_slice() {
        [Node::Rule(rule)] => rule.clone(),
        other => panic!("{r}: {other:?}"),
    }
}

fn match_any_issues(r: Value, scope: Option<&str>) -> Vec<(String, String)> {
    issues(&and([r]), scope)
}

#[test]
fn match_any_paths() {
    /// The rule, the scope, then the expected path, `fromBlueprint` and values.
    type Case = (
        Value,
        Option<&'static str>,
        Vec<PathStep>,
        Option<&'static str>,
        Operand,
    );
    let cases: Vec<Case> = vec![
        (
            match_any(json!({"path": ["domain"]}), json!("d1")),
            Some("service"),
            vec![step("domain", 1)],
            None,
            Operand::One(s("d1")),
        ),
        (
            match_any(json!({"path": ["domain", "owner"]}), json!(["t1", "t2"])),
            Some("service"),
            vec![step("domain", 1), step("owner", 1)],
            None,
            Operand::Many(vec![s("t1"), s("t2")]),
        ),
        // Without a scope, the path may start from any candidate: `owner` is on `domain`.
        (
            match_any(json!({"path": ["owner"]}), json!("t1")),
            None,
            vec![step("owner", 1)],
            None,
            Operand::One(s("t1")),
        ),
        (
            match_any(
                json!({"path": [{"relation": "deps", "maxHops": 3}]}),
                json!("s1"),
            ),
            Some("service"),
            vec![step("deps", 3)],
            None,
            Operand::One(s("s1")),
        ),
        (
            match_any(
                json!({"path": ["domain", {"relation": "parent", "maxHops": 15}, "owner"]}),
                json!("t1"),
            ),
            Some("service"),
            vec![step("domain", 1), step("parent", 15), step("owner", 1)],
            None,
            Operand::One(s("t1")),
        ),
        // `maxHops: 1` does not need a self-relation; `{relation}` alone is a plain step.
        (
            match_any(
                json!({"path": [{"relation": "domain", "maxHops": 1}, {"relation": "owner"}]}),
                json!("t1"),
            ),
            Some("service"),
            vec![step("domain", 1), step("owner", 1)],
            None,
            Operand::One(s("t1")),
        ),
        // The last step's target need not exist.
        (
            match_any(json!({"path": ["ghost"]}), json!("g1")),
            Some("orphan"),
            vec![step("ghost", 1)],
            None,
            Operand::One(s("g1")),
        ),
        // fromBlueprint: the path starts there, whatever the candidates.
        (
            match_any(
                json!({"path": ["domain"], "fromBlueprint": "service"}),
                json!("s1"),
            ),
            Some("domain"),
            vec![step("domain", 1)],
            Some("service"),
            Operand::One(s("s1")),
        ),
        (
            match_any(
                json!({"path": ["domain"]}),
                json!({"context": "user", "property": "services"}),
            ),
            Some("service"),
            vec![step("domain", 1)],
            None,
            Operand::Context(ContextRef {
                source: ContextSource::User,
                property: "services".into(),
                want: Kind::String,
                list: true,
            }),
        ),
        (
            match_any(json!({"path": ["domain"]}), json!([])),
            Some("service"),
            vec![step("domain", 1)],
            None,
            Operand::Many(vec![]),
        ),
    ];
    for (r, scope, path, from, values) in cases {
        assert_eq!(
            match_any_rule(r.clone(), scope),
            Rule::MatchAny {
                path,
                from_blueprint: from.map(str::to_owned),
                values
            },
            "{r}"
        );
    }
}

#[test]
fn bad_match_any_paths() {
    let twenty_one: Vec<&str> = vec!["deps"; 21];
    let twenty: Vec<&str> = vec!["deps"; 20];
    assert!(matches!(
        match_any_rule(
            match_any(json!({"path": twenty}), json!("s")),
            Some("service")
        ),
        Rule::MatchAny { .. }
    ));
    let cases: Vec<(Value, Option<&str>, &str, &str)> = vec![
        (
            match_any(json!({"path": ["nope"]}), json!("x")),
            Some("service"),
            "/property/path/0",
            "unknown relation `nope`: blueprint `service` has no such relation",
        ),
        (
            match_any(json!({"path": ["domain", "nope"]}), json!("x")),
            Some("service"),
            "/property/path/1",
            "unknown relation `nope`: blueprint `domain` has no such relation",
        ),
        (
            match_any(json!({"path": ["nope"]}), json!("x")),
            None,
            "/property/path/0",
            "unknown relation `nope`: none of the blueprints searched has such a relation",
        ),
        // The failure that got furthest is the one reported.
        (
            match_any(json!({"path": ["parent", "nope"]}), json!("x")),
            None,
            "/property/path/1",
            "blueprint `domain` has no such relation",
        ),
        (
            match_any(
                json!({"path": [{"relation": "domain", "maxHops": 2}]}),
                json!("x"),
            ),
            Some("service"),
            "/property/path/0/maxHops",
            "`maxHops` above 1 needs a self-relation, but `domain` of blueprint `service` targets `domain`",
        ),
        // Even when another candidate lacks the relation entirely.
        (
            match_any(
                json!({"path": [{"relation": "domain", "maxHops": 2}]}),
                json!("x"),
            ),
            None,
            "/property/path/0/maxHops",
            "needs a self-relation",
        ),
        (
            match_any(
                json!({"path": [{"relation": "deps", "maxHops": 2}, {"relation": "domain", "maxHops": 1}]}),
                json!("x"),
            ),
            Some("service"),
            "/property/path/1/maxHops",
            "only one step of a path may have `maxHops`",
        ),
        (
            match_any(json!({"path": ["ghost", "x"]}), json!("x")),
            Some("orphan"),
            "/property/path/0",
            "targets `missing`, which does not exist",
        ),
        (
            match_any(json!({"path": ["domain"]}), json!("x")),
            Some("team"),
            "/property/path/0",
            "blueprint `team` has no such relation",
        ),
        (
            match_any(
                json!({"path": ["domain"], "fromBlueprint": "team"}),
                json!("x"),
            ),
            Some("service"),
            "/property/path/0",
            "blueprint `team` has no such relation",
        ),
        (
            match_any(
                json!({"path": ["domain"], "fromBlueprint": "nope"}),
                json!("x"),
            ),
            Some("service"),
            "/property/fromBlueprint",
            "unknown blueprint `nope`",
        ),
        (
            match_any(json!({"path": []}), json!("x")),
            Some("service"),
            "/property/path",
            "at least one",
        ),
        (
            match_any(json!({"path": twenty_one}), json!("x")),
            Some("service"),
            "/property/path",
            "at most 20 steps",
        ),
        (
            match_any(json!({"path": "domain"}), json!("x")),
            Some("service"),
            "/property/path",
            "path must be an array",
        ),
        (
            match_any(json!({"path": [5]}), json!("x")),
            Some("service"),
            "/property/path/0",
            "a path step must be",
        ),
        (
            match_any(json!({"path": [""]}), json!("x")),
            Some("service"),
            "/property/path/0",
            "a path step must be",
        ),
        (
            match_any(json!({"path": [{"relation": ""}]}), json!("x")),
            Some("service"),
            "/property/path/0/relation",
            "relation must be a relation identifier",
        ),
        (
            match_any(json!({"path": ["domain"], "from": "x"}), json!("x")),
            Some("service"),
            "/property/from",
            "unknown member `from`",
        ),
        (
            match_any(json!({"path": ["domain"]}), json!(5)),
            Some("service"),
            "/value",
            "an entity identifier or a list of them",
        ),
        (
            match_any(json!({"path": ["domain"]}), json!(["a", 1])),
            Some("service"),
            "/value/1",
            "must be a string",
        ),
        (
            match_any(json!({"path": ["domain"]}), json!("")),
            Some("service"),
            "/value",
            "must not be empty",
        ),
        (
            json!({"property": {"path": ["domain"]}, "operator": "matchAny"}),
            Some("service"),
            "/value",
            "value is required",
        ),
        (
            match_any(json!("domain"), json!("x")),
            Some("service"),
            "/operator",
            "operator `matchAny` needs `property: {path",
        ),
        (
            json!({"property": {"path": ["domain"]}, "operator": "=", "value": "x"}),
            Some("service"),
            "/operator",
            "takes operator `matchAny`",
        ),
    ];
    for (r, scope, pointer, needle) in cases {
        let found = match_any_issues(r.clone(), scope);
        let pointer = format!("/rules/0{pointer}");
        assert!(
            matches!(found.as_slice(), [(p, m)] if *p == pointer && m.contains(needle)),
            "{r} in {scope:?}: expected one issue at {pointer} containing {needle:?}, got {found:?}"
        );
    }
}

#[test]
fn bad_max_hops() {
    for hops in [
        json!(0),
        json!(16),
        json!(1.5),
        json!("2"),
        json!(-1),
        json!(300),
    ] {
        let r = match_any(
            json!({"path": [{"relation": "deps", "maxHops": hops}]}),
            json!("x"),
        );
        assert_issue(
            r,
            "/property/path/0/maxHops",
            "maxHops must be an integer from 1 to 15",
        );
    }
    let r = match_any(json!({"path": [{"rel": "deps"}]}), json!("x"));
    let found = rule_issues(r);
    let pointers: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        pointers,
        ["/property/path/0/rel", "/property/path/0/relation"]
    );
}
