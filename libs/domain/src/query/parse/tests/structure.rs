//! Query structure, rule forms, pointers, limits.

use super::*;

fn name_is(v: &str) -> Value {
    json!({"property": "name", "operator": "=", "value": v})
}

fn name_rule(v: &str) -> Node {
    Node::Rule(cmp(
        prop("name", Kind::String),
        Op::Eq,
        Operand::One(s(v)),
        false,
    ))
}

#[test]
fn nested_queries() {
    let q = json!({"combinator": "or", "rules": [
        name_is("a"),
        {"combinator": "and", "rules": [name_is("b"), {"combinator": "or", "rules": []}]},
    ]});
    assert_eq!(
        ok(&q, Some("service")).query,
        Query {
            combinator: Combinator::Or,
            rules: vec![
                name_rule("a"),
                Node::Query(Query {
                    combinator: Combinator::And,
                    rules: vec![
                        name_rule("b"),
                        Node::Query(Query {
                            combinator: Combinator::Or,
                            rules: vec![]
                        })
                    ]
                })
            ]
        }
    );
    assert_eq!(
        ok(&and([]), None).query,
        Query {
            combinator: Combinator::And,
            rules: vec![]
        }
    );
}

#[test]
fn malformed_queries() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "", "a query must be an object"),
        (
            json!({"rules": []}),
            "/combinator",
            "combinator is required",
        ),
        (
            json!({"combinator": "xor", "rules": []}),
            "/combinator",
            "must be `and` or `or`",
        ),
        (
            json!({"combinator": "AND", "rules": []}),
            "/combinator",
            "must be `and` or `or`",
        ),
        (json!({"combinator": "and"}), "/rules", "rules is required"),
        (
            json!({"combinator": "and", "rules": {}}),
            "/rules",
            "rules must be an array",
        ),
        (and([json!("name")]), "/rules/0", "a rule must be an object"),
        (
            and([json!({"rules": []})]),
            "/rules/0/combinator",
            "combinator is required",
        ),
        (
            and([json!({"combinator": "or", "rules": [], "not": true})]),
            "/rules/0/not",
            "unknown member `not`",
        ),
        (
            and([json!({"property": "name", "operator": "=", "value": "a", "valeu": "b"})]),
            "/rules/0/valeu",
            "unknown member `valeu`: a property rule has `property`, `operator`, `value`",
        ),
        (
            and([json!({"relation": "domain", "operator": "isEmpty", "blueprint": "x"})]),
            "/rules/0/blueprint",
            "unknown member `blueprint`: a relation rule has",
        ),
        (
            and([json!({"property": "name", "operator": "isEmpty", "a/b~": 1})]),
            "/rules/0/a~1b~0",
            "unknown member `a/b~`",
        ),
        (
            and([json!({"property": "name", "relation": "domain", "operator": "isEmpty"})]),
            "/rules/0/relation",
            "either `property` or `relation`, not both",
        ),
        (
            and([json!({"operator": "=", "value": "a"})]),
            "/rules/0/property",
            "property is required",
        ),
        (
            and([json!({"property": 1, "operator": "=", "value": "a"})]),
            "/rules/0/property",
            "property must be a property key",
        ),
        (
            and([json!({"property": {"key": "name"}, "operator": "=", "value": "a"})]),
            "/rules/0/property",
            "property must be a property key",
        ),
        (
            and([json!({"propertySchema": {"type": "string"}, "operator": "=", "value": "a"})]),
            "/rules/0/propertySchema",
            "propertySchema rules are not supported",
        ),
        (
            and([json!({"scorecard": "prod", "operator": "=", "value": "Gold"})]),
            "/rules/0/scorecard",
            "unknown scorecard `prod`",
        ),
        (
            and([
                json!({"scorecard": "prod", "scorecardRule": "r", "operator": "=", "value": true}),
            ]),
            "/rules/0/scorecard",
            "unknown scorecard `prod`",
        ),
    ];
    for (q, pointer, needle) in cases {
        let found = issues(&q, Some("service"));
        assert!(
            matches!(found.as_slice(), [(p, m)] if p == pointer && m.contains(needle)),
            "{q}: expected one issue at {pointer:?} containing {needle:?}, got {found:?}"
        );
    }
}

#[test]
fn the_root_may_carry_the_callers_members() {
    let q = json!({"combinator": "and", "rules": [], "limit": 10, "from": "abc"});
    assert!(ok(&q, None).query.rules.is_empty());
}

#[test]
fn pointers_are_prefixed_and_nested() {
    let q = json!({"combinator": "and", "rules": [
        name_is("a"),
        name_is("b"),
        {"combinator": "or", "rules": [
            {"property": "port", "operator": "in", "value": [1, "x"]}
        ]},
    ]});
    match run(&q, Some("service"), "/query") {
        Err(issues) => assert_eq!(
            issues.0,
            [crate::error::Issue::new(
                "/query/rules/2/rules/0/value/1",
                "item must be a number, not a string"
            )]
        ),
        Ok(p) => panic!("{p:?}"),
    }
}

#[test]
fn every_issue_is_collected() {
    let q = json!({"combinator": "nand", "rules": [
        {"property": "nope", "operator": "=", "value": "a"},
        name_is("fine"),
        {"property": "port", "operator": "contains", "value": 1},
        {"combinator": "or", "rules": [{"property": "on", "operator": "=", "value": 1}]},
        {"operator": "relatedTo", "blueprint": "nope", "value": "", "direction": "up"},
    ]});
    let pointers: Vec<String> = issues(&q, Some("service"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        pointers,
        [
            "/combinator",
            "/rules/0/property",
            "/rules/2/operator",
            "/rules/3/rules/0/value",
            "/rules/4/blueprint",
            "/rules/4/value",
            "/rules/4/direction",
        ]
    );
}

/// `depth` queries nested in the root, the innermost holding one rule.
fn nested(depth: usize) -> Value {
    let mut q = and([name_is("x")]);
    for _ in 0..depth {
        q = and([q]);
    }
    q
}

#[test]
fn nesting_depth() {
    assert!(ok(&nested(MAX_DEPTH), Some("service")).query.rules.len() == 1);
    let found = issues(&nested(MAX_DEPTH + 1), Some("service"));
    let pointer = format!("{}/rules/0", "/rules/0".repeat(MAX_DEPTH));
    match found.as_slice() {
        [(p, m)] => {
            assert_eq!(*p, pointer);
            assert_eq!(m, "queries may nest at most 8 levels deep");
        }
        _ => panic!("{found:?}"),
    }
}

#[test]
fn rule_count() {
    let full: Vec<Value> = (0..MAX_RULES).map(|_| name_is("x")).collect();
    assert_eq!(
        ok(&and(full.clone()), Some("service")).query.rules.len(),
        MAX_RULES
    );
    let mut over = full.clone();
    over.push(name_is("x"));
    assert_eq!(
        issues(&and(over), Some("service")),
        [(
            "/rules/200".to_owned(),
            "a query may hold at most 200 rules, counted over every level".to_owned()
        )]
    );
    // Counted over every level; a nested query counts as one member of its parent's rules.
    let half: Vec<Value> = (0..MAX_RULES / 2 - 1).map(|_| name_is("x")).collect();
    let q = and([and(half.clone()), and(half.clone())]);
    assert!(ok(&q, Some("service")).query.rules.len() == 2);
    let q = and([and(half.clone()), and(half.clone()), name_is("x")]);
    assert_eq!(
        issues(&q, Some("service")),
        [(
            "/rules/2".to_owned(),
            "a query may hold at most 200 rules, counted over every level".to_owned()
        )]
    );
}
