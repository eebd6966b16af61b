//! Candidate blueprints, and property / relation lookups across them.

use super::*;

fn bp_rule(op: &str, value: Value) -> Value {
    json!({"property": "$blueprint", "operator": op, "value": value})
}

fn names(p: &Parsed) -> Vec<&str> {
    p.blueprints.iter().map(String::as_str).collect()
}

#[test]
fn candidate_blueprints() {
    let all = ["service", "domain", "team", "orphan"];
    let cases: Vec<(Value, Option<&str>, Vec<&str>)> = vec![
        (and([]), None, all.to_vec()),
        (and([]), Some("team"), vec!["team"]),
        // The scope wins over `$blueprint` rules.
        (
            and([bp_rule("=", json!("domain"))]),
            Some("team"),
            vec!["team"],
        ),
        (and([bp_rule("=", json!("domain"))]), None, vec!["domain"]),
        // Org order, not the rule's order.
        (
            and([bp_rule("in", json!(["team", "service"]))]),
            None,
            vec!["service", "team"],
        ),
        // Several rules intersect.
        (
            and([
                bp_rule("in", json!(["team", "service", "domain"])),
                bp_rule("in", json!(["domain", "service"])),
                bp_rule("=", json!("domain")),
            ]),
            None,
            vec!["domain"],
        ),
        (
            and([bp_rule("=", json!("service")), bp_rule("=", json!("team"))]),
            None,
            vec![],
        ),
        // Only `=` and `in`, only at the top level of an `and` query.
        (and([bp_rule("!=", json!("domain"))]), None, all.to_vec()),
        (
            and([bp_rule("notIn", json!(["domain"]))]),
            None,
            all.to_vec(),
        ),
        (
            and([bp_rule("beginsWith", json!("dom"))]),
            None,
            all.to_vec(),
        ),
        (
            json!({"combinator": "or", "rules": [bp_rule("=", json!("domain"))]}),
            None,
            all.to_vec(),
        ),
        (
            and([and([bp_rule("=", json!("domain"))])]),
            None,
            all.to_vec(),
        ),
        (
            and([bp_rule("in", json!({"context": "user", "property": "bps"}))]),
            None,
            all.to_vec(),
        ),
    ];
    for (q, scope, expected) in cases {
        assert_eq!(names(&ok(&q, scope)), expected, "{q} in {scope:?}");
    }
}

#[test]
fn an_unknown_scope_blueprint_is_reported_at_the_query() {
    match run(&and([]), Some("nope"), "/query") {
        Err(issues) => assert_eq!(issues.0, [Issue::new("/query", "unknown blueprint `nope`")]),
        Ok(p) => panic!("{p:?}"),
    }
}

#[test]
fn unknown_blueprint_names_in_blueprint_rules() {
    assert_eq!(
        issues(&and([bp_rule("in", json!(["service", "nope"]))]), None),
        [(
            "/rules/0/value/1".to_owned(),
            "unknown blueprint `nope`".to_owned()
        )]
    );
    // Anywhere in the query.
    assert_eq!(
        issues(&and([and([bp_rule("!=", json!("nope"))])]), None),
        [(
            "/rules/0/rules/0/value".to_owned(),
            "unknown blueprint `nope`".to_owned()
        )]
    );
}

#[test]
fn properties_are_looked_up_on_the_candidates() {
    let port = json!({"property": "port", "operator": ">", "value": 1});
    // `port` is on `service` only; searching everything is fine.
    let p = ok(&and([port.clone()]), None);
    assert_eq!(
        p.query.rules,
        [Node::Rule(cmp(
            prop("port", Kind::Number),
            Op::Gt,
            Operand::One(Scalar::Num(1.0)),
            false
        ))]
    );
    assert_eq!(
        issues(&and([bp_rule("=", json!("domain")), port.clone()]), None),
        [(
            "/rules/1/property".to_owned(),
            "unknown property `port`: blueprint `domain` has no such property".to_owned()
        )]
    );
    assert_eq!(
        issues(&and([port.clone()]), Some("team")),
        [(
            "/rules/0/property".to_owned(),
            "unknown property `port`: blueprint `team` has no such property".to_owned()
        )]
    );
    assert_eq!(
        issues(
            &and([json!({"property": "nope", "operator": "isEmpty"})]),
            None
        ),
        [(
            "/rules/0/property".to_owned(),
            "unknown property `nope`: none of the blueprints searched has it".to_owned()
        )]
    );
    let nothing = and([
        bp_rule("=", json!("service")),
        bp_rule("=", json!("team")),
        json!({"property": "name", "operator": "isEmpty"}),
    ]);
    assert_eq!(
        issues(&nothing, None),
        [(
            "/rules/2/property".to_owned(),
            "unknown property `name`: no blueprint can match this query".to_owned()
        )]
    );
}

#[test]
fn a_property_with_different_kinds_needs_a_blueprint_rule() {
    let shared = json!({"property": "shared", "operator": "=", "value": "x"});
    let found = issues(&and([shared.clone()]), None);
    match found.as_slice() {
        [(p, m)] => {
            assert_eq!(p, "/rules/0/property");
            assert!(m.contains("`service` (string), `domain` (number)"), "{m}");
            assert!(m.contains("add a `$blueprint` rule"), "{m}");
        }
        _ => panic!("{found:?}"),
    }
    let p = ok(&and([bp_rule("=", json!("service")), shared.clone()]), None);
    assert_eq!(
        p.query.rules.get(1),
        Some(&Node::Rule(cmp(
            prop("shared", Kind::String),
            Op::Eq,
            Operand::One(s("x")),
            false
        )))
    );
    // Same name, same kind on several blueprints: fine.
    let p = ok(
        &and([json!({"property": "name", "operator": "=", "value": "x"})]),
        None,
    );
    assert_eq!(names(&p), ["service", "domain", "team", "orphan"]);
}

#[test]
fn relations_are_looked_up_on_the_candidates() {
    let link = json!({"relation": "link", "operator": "isEmpty"});
    let found = issues(&and([link.clone()]), None);
    match found.as_slice() {
        [(p, m)] => {
            assert_eq!(p, "/rules/0/relation");
            assert!(m.contains("`service` (single), `domain` (many)"), "{m}");
        }
        _ => panic!("{found:?}"),
    }
    assert_eq!(
        ok(&and([bp_rule("=", json!("domain")), link]), None)
            .query
            .rules
            .get(1),
        Some(&Node::Rule(Rule::Empty {
            field: Field::Relation {
                key: "link".into(),
                many: true
            },
            negate: false
        }))
    );
    assert_eq!(
        ok(
            &and([json!({"relation": "owner", "operator": "=", "value": "t1"})]),
            None
        )
        .query
        .rules
        .len(),
        1
    );
    assert_issue(
        json!({"relation": "owner", "operator": "=", "value": "t1"}),
        "/relation",
        "unknown relation `owner`: blueprint `service` has no such relation",
    );
    assert_issue(
        json!({"relation": 3, "operator": "=", "value": "t1"}),
        "/relation",
        "relation must be a relation identifier",
    );
}
