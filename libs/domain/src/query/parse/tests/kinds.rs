//! Every operator on every kind of field: valid or not, and the AST it gives.

use super::*;

const ALL_OPERATORS: [&str; 21] = [
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "contains",
    "doesNotContains",
    "containsAny",
    "beginsWith",
    "doesNotBeginsWith",
    "endsWith",
    "doesNotEndsWith",
    "in",
    "notIn",
    "between",
    "notBetween",
    "isEmpty",
    "isNotEmpty",
    "isExpired",
    "isNotExpired",
];

const STRING_OPS: &str = "= != contains doesNotContains beginsWith doesNotBeginsWith endsWith \
                          doesNotEndsWith in notIn isEmpty isNotEmpty";
const NUMBER_OPS: &str = "= != > >= < <= in notIn isEmpty isNotEmpty";
const DATE_OPS: &str = "= != > >= < <= in notIn between notBetween isEmpty isNotEmpty isExpired \
                        isNotExpired";
const EQ_ONLY: &str = "= != isEmpty isNotEmpty";
const ARRAY_OPS: &str = "= != contains doesNotContains containsAny in notIn isEmpty isNotEmpty";

/// Field (a property key, a meta-property, or `relation:<key>`), its kind, the operators valid
/// on it, and one well-typed item.
fn table() -> Vec<(&'static str, Kind, &'static str, Value)> {
    vec![
        ("name", Kind::String, STRING_OPS, json!("api")),
        ("url", Kind::String, STRING_OPS, json!("https://x")),
        ("port", Kind::Number, NUMBER_OPS, json!(8080)),
        ("on", Kind::Boolean, EQ_ONLY, json!(true)),
        ("at", Kind::Date, DATE_OPS, json!("2024-01-01T00:00:00Z")),
        ("deadline", Kind::Date, DATE_OPS, json!("2024-01-01")),
        ("meta", Kind::Object, EQ_ONLY, json!({"a": 1})),
        ("tags", Kind::Array(Item::String), ARRAY_OPS, json!("a")),
        ("nums", Kind::Array(Item::Number), ARRAY_OPS, json!(1.5)),
        ("flags", Kind::Array(Item::Boolean), ARRAY_OPS, json!(false)),
        (
            "dates",
            Kind::Array(Item::Date),
            ARRAY_OPS,
            json!("2024-01-01"),
        ),
        ("any", Kind::Array(Item::Any), EQ_ONLY, json!({"x": 1})),
        ("$identifier", Kind::String, STRING_OPS, json!("api")),
        ("$title", Kind::String, STRING_OPS, json!("API")),
        ("$blueprint", Kind::String, STRING_OPS, json!("service")),
        (
            "$team",
            Kind::Array(Item::String),
            ARRAY_OPS,
            json!("platform"),
        ),
        ("$createdAt", Kind::Date, DATE_OPS, json!("2024-01-01")),
        ("$updatedAt", Kind::Date, DATE_OPS, json!("2024-01-01")),
        ("$datasource", Kind::String, STRING_OPS, json!("port-cli")),
        ("relation:domain", Kind::String, STRING_OPS, json!("d1")),
        (
            "relation:deps",
            Kind::Array(Item::String),
            ARRAY_OPS,
            json!("s1"),
        ),
    ]
}

fn is_array(kind: Kind) -> bool {
    matches!(kind, Kind::Array(_))
}

/// A well-typed value for `op` on a field of `kind` whose items look like `item`.
fn sample(kind: Kind, op: &str, item: &Value) -> Option<Value> {
    match op {
        "isEmpty" | "isNotEmpty" | "isExpired" | "isNotExpired" => None,
        "in" | "notIn" | "containsAny" => Some(json!([item])),
        "between" | "notBetween" => Some(json!({"from": "2024-01-01", "to": "2024-02-01"})),
        "=" | "!=" if is_array(kind) => Some(json!([item])),
        _ => Some(item.clone()),
    }
}

fn build(field: &str, op: &str, value: Option<Value>) -> Value {
    let mut r = match field.strip_prefix("relation:") {
        Some(rel) => json!({"relation": rel, "operator": op}),
        None => json!({"property": field, "operator": op}),
    };
    if let (Some(v), Some(obj)) = (value, r.as_object_mut()) {
        obj.insert("value".into(), v);
    }
    r
}

/// The positive operator and negation, written out independently of the parser.
fn expected_op(op: &str) -> Option<(Op, bool)> {
    Some(match op {
        "=" => (Op::Eq, false),
        "!=" => (Op::Eq, true),
        ">" => (Op::Gt, false),
        ">=" => (Op::Ge, false),
        "<" => (Op::Lt, false),
        "<=" => (Op::Le, false),
        "contains" => (Op::Contains, false),
        "doesNotContains" => (Op::Contains, true),
        "containsAny" => (Op::ContainsAny, false),
        "beginsWith" => (Op::BeginsWith, false),
        "doesNotBeginsWith" => (Op::BeginsWith, true),
        "endsWith" => (Op::EndsWith, false),
        "doesNotEndsWith" => (Op::EndsWith, true),
        "in" => (Op::In, false),
        "notIn" => (Op::In, true),
        _ => return None,
    })
}

#[test]
fn every_operator_on_every_kind() {
    for (field, kind, valid, item) in table() {
        let valid: Vec<&str> = valid.split_whitespace().collect();
        for op in ALL_OPERATORS {
            let r = build(field, op, sample(kind, op, &item));
            if !valid.contains(&op) {
                let found = rule_issues(r.clone());
                assert!(
                    matches!(found.as_slice(), [(p, m)] if p == "/operator" && m.contains("is not valid for")),
                    "{r}: should be refused at /operator, got {found:?}"
                );
                continue;
            }
            let parsed = rule(r.clone());
            let negative = op.starts_with("not")
                || op.starts_with("doesNot")
                || op.starts_with("isNot")
                || op == "!=";
            let got_field = match &parsed {
                Rule::Compare {
                    field,
                    op: got,
                    negate,
                    ..
                } => {
                    assert_eq!(Some((*got, *negate)), expected_op(op), "{r}");
                    field
                }
                Rule::Between { field, negate, .. }
                | Rule::Empty { field, negate }
                | Rule::Expired { field, negate, .. } => {
                    assert_eq!(*negate, negative, "{r}");
                    assert_eq!(expected_op(op), None, "{r}");
                    field
                }
                other => panic!("{r}: unexpected {other:?}"),
            };
            assert_eq!(got_field.kind(), kind, "{r}");
        }
    }
}

#[test]
fn the_rule_variant_follows_the_operator() {
    let at = || prop("at", Kind::Date);
    assert_eq!(
        rule(json!({"property": "at", "operator": "isExpired"})),
        Rule::Expired {
            field: at(),
            negate: false,
            now: None
        }
    );
    assert_eq!(
        rule(json!({"property": "at", "operator": "isNotExpired", "value": null})),
        Rule::Expired {
            field: at(),
            negate: true,
            now: None
        }
    );
    assert_eq!(
        rule(json!({"property": "name", "operator": "isNotEmpty"})),
        Rule::Empty {
            field: prop("name", Kind::String),
            negate: true
        }
    );
    assert_eq!(
        rule(json!({"relation": "deps", "operator": "isEmpty"})),
        Rule::Empty {
            field: Field::Relation {
                key: "deps".into(),
                many: true
            },
            negate: false
        }
    );
    assert_eq!(
        rule(json!({"property": "$team", "operator": "isEmpty"})),
        Rule::Empty {
            field: Field::Meta(Meta::Team),
            negate: false
        }
    );
}

#[test]
fn every_meta_property_is_known() {
    for m in Meta::ALL {
        assert_eq!(
            rule(json!({"property": m.name(), "operator": "isEmpty"})),
            Rule::Empty {
                field: Field::Meta(m),
                negate: false
            }
        );
    }
    assert_issue(
        json!({"property": "$owner", "operator": "isEmpty"}),
        "/property",
        "unknown meta-property `$owner`",
    );
}

#[test]
fn invalid_operator_messages_name_the_field_and_its_type() {
    assert_eq!(
        rule_issues(json!({"property": "name", "operator": ">", "value": "a"})),
        [(
            "/operator".to_owned(),
            "operator `>` is not valid for property `name` of type string".to_owned()
        )]
    );
    assert_issue(
        json!({"property": "$team", "operator": "beginsWith", "value": "a"}),
        "/operator",
        "property `$team` of type array of strings",
    );
    assert_issue(
        json!({"relation": "domain", "operator": "containsAny", "value": ["a"]}),
        "/operator",
        "relation `domain` of type string",
    );
    assert_issue(
        json!({"property": "port", "operator": "isExpired"}),
        "/operator",
        "operator `isExpired` is not valid for property `port` of type number",
    );
    assert_issue(
        json!({"property": "name", "operator": "between", "value": {"preset": "today"}}),
        "/operator",
        "operator `between` is not valid",
    );
}

#[test]
fn unknown_and_missing_operators() {
    assert_issue(
        json!({"property": "name", "operator": "like", "value": "a"}),
        "/operator",
        "unknown operator `like`",
    );
    assert_issue(
        json!({"property": "name", "value": "a"}),
        "/operator",
        "operator is required",
    );
    assert_issue(
        json!({"property": "name", "operator": 3, "value": "a"}),
        "/operator",
        "operator must be a string",
    );
    // The property is still checked.
    let found = rule_issues(json!({"property": "nmae", "operator": "like", "value": "a"}));
    let pointers: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pointers, ["/operator", "/property"]);
    // Port's spelling only.
    assert_issue(
        json!({"property": "name", "operator": "doesNotContain", "value": "a"}),
        "/operator",
        "unknown operator",
    );
}
