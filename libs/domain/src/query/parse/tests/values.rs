//! Values: conversion per kind, lists, date ranges, presets, limits.

use super::*;

#[test]
fn values_are_converted_to_the_field_kind() {
    let name = || prop("name", Kind::String);
    let tags = || prop("tags", Kind::Array(Item::String));
    let cases: Vec<(Value, Rule)> = vec![
        (
            json!({"property": "name", "operator": "=", "value": "api"}),
            cmp(name(), Op::Eq, Operand::One(s("api")), false),
        ),
        (
            json!({"property": "name", "operator": "!=", "value": "api"}),
            cmp(name(), Op::Eq, Operand::One(s("api")), true),
        ),
        (
            json!({"property": "name", "operator": "in", "value": []}),
            cmp(name(), Op::In, Operand::Many(vec![]), false),
        ),
        (
            json!({"property": "port", "operator": ">", "value": 1}),
            cmp(
                prop("port", Kind::Number),
                Op::Gt,
                Operand::One(Scalar::Num(1.0)),
                false,
            ),
        ),
        (
            json!({"property": "port", "operator": "notIn", "value": [1, 2.5, -3]}),
            cmp(
                prop("port", Kind::Number),
                Op::In,
                Operand::Many(vec![Scalar::Num(1.0), Scalar::Num(2.5), Scalar::Num(-3.0)]),
                true,
            ),
        ),
        (
            json!({"property": "on", "operator": "=", "value": false}),
            cmp(
                prop("on", Kind::Boolean),
                Op::Eq,
                Operand::One(Scalar::Bool(false)),
                false,
            ),
        ),
        (
            json!({"property": "at", "operator": "<=", "value": "2024-01-01T01:00:00+01:00"}),
            cmp(
                prop("at", Kind::Date),
                Op::Le,
                Operand::One(t("2024-01-01T00:00:00Z")),
                false,
            ),
        ),
        (
            json!({"property": "at", "operator": "in", "value": ["2024-01-01", "2024-01-02T00:00:00.5Z"]}),
            cmp(
                prop("at", Kind::Date),
                Op::In,
                Operand::Many(vec![t("2024-01-01T00:00:00Z"), t("2024-01-02T00:00:00.5Z")]),
                false,
            ),
        ),
        (
            json!({"property": "meta", "operator": "=", "value": {"a": [1, {"b": null}]}}),
            cmp(
                prop("meta", Kind::Object),
                Op::Eq,
                Operand::One(Scalar::Json(json!({"a": [1, {"b": null}]}))),
                false,
            ),
        ),
        (
            json!({"property": "tags", "operator": "=", "value": ["b", "a"]}),
            cmp(
                tags(),
                Op::Eq,
                Operand::One(Scalar::Json(json!(["b", "a"]))),
                false,
            ),
        ),
        (
            json!({"property": "tags", "operator": "doesNotContains", "value": "a"}),
            cmp(tags(), Op::Contains, Operand::One(s("a")), true),
        ),
        (
            json!({"property": "tags", "operator": "in", "value": ["a", "b"]}),
            cmp(tags(), Op::In, Operand::Many(vec![s("a"), s("b")]), false),
        ),
        (
            json!({"property": "nums", "operator": "containsAny", "value": [1, 2]}),
            cmp(
                prop("nums", Kind::Array(Item::Number)),
                Op::ContainsAny,
                Operand::Many(vec![Scalar::Num(1.0), Scalar::Num(2.0)]),
                false,
            ),
        ),
        (
            json!({"property": "dates", "operator": "contains", "value": "2024-01-01"}),
            cmp(
                prop("dates", Kind::Array(Item::Date)),
                Op::Contains,
                Operand::One(t("2024-01-01T00:00:00Z")),
                false,
            ),
        ),
        (
            json!({"property": "flags", "operator": "containsAny", "value": [true]}),
            cmp(
                prop("flags", Kind::Array(Item::Boolean)),
                Op::ContainsAny,
                Operand::Many(vec![Scalar::Bool(true)]),
                false,
            ),
        ),
        (
            json!({"property": "any", "operator": "=", "value": [{"x": 1}]}),
            cmp(
                prop("any", Kind::Array(Item::Any)),
                Op::Eq,
                Operand::One(Scalar::Json(json!([{"x": 1}]))),
                false,
            ),
        ),
        (
            json!({"property": "$identifier", "operator": "doesNotBeginsWith", "value": "tmp-"}),
            cmp(
                Field::Meta(Meta::Identifier),
                Op::BeginsWith,
                Operand::One(s("tmp-")),
                true,
            ),
        ),
        (
            json!({"property": "$createdAt", "operator": ">=", "value": "2024-01-01"}),
            cmp(
                Field::Meta(Meta::CreatedAt),
                Op::Ge,
                Operand::One(t("2024-01-01T00:00:00Z")),
                false,
            ),
        ),
        (
            json!({"property": "$team", "operator": "containsAny", "value": ["a"]}),
            cmp(
                Field::Meta(Meta::Team),
                Op::ContainsAny,
                Operand::Many(vec![s("a")]),
                false,
            ),
        ),
        (
            json!({"property": "$blueprint", "operator": "in", "value": ["service", "domain"]}),
            cmp(
                Field::Meta(Meta::Blueprint),
                Op::In,
                Operand::Many(vec![s("service"), s("domain")]),
                false,
            ),
        ),
        (
            json!({"relation": "domain", "operator": "=", "value": "d1"}),
            cmp(
                Field::Relation {
                    key: "domain".into(),
                    many: false,
                },
                Op::Eq,
                Operand::One(s("d1")),
                false,
            ),
        ),
        (
            json!({"relation": "deps", "operator": "contains", "value": "s1"}),
            cmp(
                Field::Relation {
                    key: "deps".into(),
                    many: true,
                },
                Op::Contains,
                Operand::One(s("s1")),
                false,
            ),
        ),
    ];
    for (r, expected) in cases {
        assert_eq!(rule(r.clone()), expected, "{r}");
    }
}

#[test]
fn wrong_values_are_reported_at_the_value() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"property": "name", "operator": "=", "value": 1}),
            "/value",
            "value must be a string, not a number",
        ),
        (
            json!({"property": "port", "operator": "=", "value": "1"}),
            "/value",
            "value must be a number, not a string",
        ),
        (
            json!({"property": "on", "operator": "=", "value": "true"}),
            "/value",
            "value must be a boolean",
        ),
        (
            json!({"property": "at", "operator": ">", "value": "yesterday"}),
            "/value",
            "value `yesterday` is not a date",
        ),
        (
            json!({"property": "at", "operator": ">", "value": 1700000000}),
            "/value",
            "value must be a date",
        ),
        (
            json!({"property": "at", "operator": "in", "value": ["2024-01-01", "2024-13-01"]}),
            "/value/1",
            "item `2024-13-01` is not a date",
        ),
        (
            json!({"property": "port", "operator": "in", "value": [1, "2"]}),
            "/value/1",
            "item must be a number, not a string",
        ),
        (
            json!({"property": "name", "operator": "in", "value": "api"}),
            "/value",
            "operator `in` takes a list of strings, not a string",
        ),
        (
            json!({"property": "tags", "operator": "containsAny", "value": "a"}),
            "/value",
            "takes a list of strings",
        ),
        (
            json!({"property": "tags", "operator": "=", "value": "a"}),
            "/value",
            "compares the whole array",
        ),
        (
            json!({"property": "tags", "operator": "contains", "value": ["a"]}),
            "/value",
            "value must be a string, not an array",
        ),
        (
            json!({"property": "nums", "operator": "contains", "value": "1"}),
            "/value",
            "value must be a number",
        ),
        (
            json!({"property": "meta", "operator": "=", "value": "x"}),
            "/value",
            "value must be an object, not a string",
        ),
        (
            json!({"property": "name", "operator": "="}),
            "/value",
            "value is required",
        ),
        (
            json!({"property": "name", "operator": "=", "value": null}),
            "/value",
            "value is required",
        ),
        (
            json!({"property": "name", "operator": "isEmpty", "value": ""}),
            "/value",
            "operator `isEmpty` takes no value",
        ),
        (
            json!({"property": "at", "operator": "isExpired", "value": true}),
            "/value",
            "operator `isExpired` takes no value",
        ),
        (
            json!({"property": "$blueprint", "operator": "=", "value": "nope"}),
            "/value",
            "unknown blueprint `nope`",
        ),
        (
            json!({"property": "$blueprint", "operator": "notIn", "value": ["service", "nope"]}),
            "/value/1",
            "unknown blueprint `nope`",
        ),
    ];
    for (r, pointer, needle) in cases {
        assert_issue(r, pointer, needle);
    }
}

#[test]
fn every_bad_list_item_is_reported() {
    let found =
        rule_issues(json!({"property": "port", "operator": "in", "value": [1, "a", true, 2]}));
    let pointers: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pointers, ["/value/1", "/value/2"]);
}

#[test]
fn blueprint_fragments_are_not_checked_as_names() {
    assert_eq!(
        rule(json!({"property": "$blueprint", "operator": "beginsWith", "value": "serv"})),
        cmp(
            Field::Meta(Meta::Blueprint),
            Op::BeginsWith,
            Operand::One(s("serv")),
            false
        )
    );
}

#[test]
fn string_and_list_limits() {
    let at_limit = "é".repeat(MAX_VALUE_CHARS);
    assert_eq!(
        rule(json!({"property": "name", "operator": "=", "value": at_limit})),
        cmp(
            prop("name", Kind::String),
            Op::Eq,
            Operand::One(s(&at_limit)),
            false
        )
    );
    let over = "é".repeat(MAX_VALUE_CHARS + 1);
    assert_issue(
        json!({"property": "name", "operator": "=", "value": over}),
        "/value",
        "at most 1000 characters",
    );
    assert_issue(
        json!({"property": "tags", "operator": "in", "value": ["a", over]}),
        "/value/1",
        "at most 1000 characters",
    );
    let full: Vec<String> = (0..MAX_VALUES).map(|i| i.to_string()).collect();
    match rule(json!({"property": "name", "operator": "in", "value": full})) {
        Rule::Compare {
            value: Operand::Many(items),
            ..
        } => assert_eq!(items.len(), MAX_VALUES),
        other => panic!("{other:?}"),
    }
    let too_many: Vec<String> = (0..=MAX_VALUES).map(|i| i.to_string()).collect();
    assert_issue(
        json!({"property": "name", "operator": "in", "value": too_many}),
        "/value",
        "at most 1000 values",
    );
}

#[test]
fn between_fixed_ranges() {
    assert_eq!(
        rule(json!({"property": "at", "operator": "between", "value": {
            "from": "2024-01-01T00:00:00+02:00", "to": "2024-01-31"
        }})),
        Rule::Between {
            field: prop("at", Kind::Date),
            range: DateRange::Fixed {
                from: parse_instant("2023-12-31T22:00:00Z").unwrap_or_default(),
                to: parse_instant("2024-01-31T00:00:00Z").unwrap_or_default(),
            },
            negate: false,
        }
    );
    // A one-instant range is fine.
    assert!(matches!(
        rule(json!({"property": "$updatedAt", "operator": "notBetween", "value": {
            "from": "2024-01-01", "to": "2024-01-01T00:00:00Z"
        }})),
        Rule::Between {
            range: DateRange::Fixed { from, to },
            negate: true,
            ..
        } if from == to
    ));
}

#[test]
fn between_presets() {
    for (name, preset) in Preset::ALL {
        assert_eq!(
            rule(json!({"property": "deadline", "operator": "between", "value": {"preset": name}})),
            Rule::Between {
                field: prop("deadline", Kind::Date),
                range: DateRange::Preset(preset),
                negate: false,
            },
            "{name}"
        );
    }
    assert_eq!(
        rule(
            json!({"property": "$createdAt", "operator": "notBetween", "value": {"preset": "lastWeek"}})
        ),
        Rule::Between {
            field: Field::Meta(Meta::CreatedAt),
            range: DateRange::Preset(Preset::LastWeek),
            negate: true,
        }
    );
}

#[test]
fn bad_ranges() {
    let between = |value: Value| json!({"property": "at", "operator": "between", "value": value});
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            between(json!("lastWeek")),
            "/value",
            "`{from, to}` or `{preset}`",
        ),
        (
            between(json!({"from": "2024-01-01"})),
            "/value/to",
            "to is required",
        ),
        (
            between(json!({"to": "2024-01-01"})),
            "/value/from",
            "from is required",
        ),
        (
            between(json!({"from": "2024-01-02", "to": "2024-01-01"})),
            "/value/to",
            "`to` must not be before `from`",
        ),
        (
            between(json!({"from": "soon", "to": "2024-01-01"})),
            "/value/from",
            "from `soon` is not a date",
        ),
        (
            between(json!({"from": "2024-01-01", "to": "2024-01-02", "tz": "UTC"})),
            "/value/tz",
            "unknown member `tz`",
        ),
        (
            between(json!({"preset": "lastCentury"})),
            "/value/preset",
            "unknown preset `lastCentury`",
        ),
        (
            between(json!({"preset": 7})),
            "/value/preset",
            "preset must be a string",
        ),
        (
            between(json!({"preset": "today", "from": "2024-01-01"})),
            "/value/from",
            "unknown member `from`",
        ),
        (
            json!({"property": "at", "operator": "between"}),
            "/value",
            "value is required",
        ),
    ];
    for (r, pointer, needle) in cases {
        assert_issue(r, pointer, needle);
    }
}
