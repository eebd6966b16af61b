//! `{context, property}` as a value and as a property; Port's `My Teams`.

use super::*;

fn ctx(source: ContextSource, property: &str, want: Kind, list: bool) -> ContextRef {
    ContextRef {
        source,
        property: property.to_owned(),
        want,
        list,
    }
}

#[test]
fn context_values_take_the_kind_the_operator_needs() {
    use ContextSource::{User, UserTeams};
    let cases: Vec<(&str, &str, Value, ContextRef)> = vec![
        (
            "name",
            "=",
            json!("user"),
            ctx(User, "$identifier", Kind::String, false),
        ),
        (
            "name",
            "in",
            json!("userTeams"),
            ctx(UserTeams, "$identifier", Kind::String, true),
        ),
        (
            "port",
            "<",
            json!("user"),
            ctx(User, "$identifier", Kind::Number, false),
        ),
        (
            "port",
            "notIn",
            json!("user"),
            ctx(User, "$identifier", Kind::Number, true),
        ),
        (
            "at",
            ">=",
            json!("user"),
            ctx(User, "$identifier", Kind::Date, false),
        ),
        (
            "tags",
            "containsAny",
            json!("userTeams"),
            ctx(UserTeams, "$identifier", Kind::String, true),
        ),
        (
            "tags",
            "contains",
            json!("user"),
            ctx(User, "$identifier", Kind::String, false),
        ),
        (
            "tags",
            "=",
            json!("user"),
            ctx(User, "$identifier", Kind::Array(Item::String), false),
        ),
        (
            "meta",
            "=",
            json!("user"),
            ctx(User, "$identifier", Kind::Object, false),
        ),
        (
            "$team",
            "in",
            json!("userTeams"),
            ctx(UserTeams, "$identifier", Kind::String, true),
        ),
    ];
    for (property, op, source, expected) in cases {
        let r = json!({"property": property, "operator": op,
                       "value": {"context": source, "property": "$identifier"}});
        match rule(r.clone()) {
            Rule::Compare {
                value: Operand::Context(got),
                ..
            } => assert_eq!(got, expected, "{r}"),
            other => panic!("{r}: {other:?}"),
        }
    }
}

#[test]
fn bad_context_values() {
    let with = |value: Value| json!({"property": "name", "operator": "=", "value": value});
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(json!({"context": "admin", "property": "x"})),
            "/value/context",
            "context must be `user` or `userTeams`",
        ),
        (
            with(json!({"context": "user"})),
            "/value/property",
            "property is required",
        ),
        (
            with(json!({"context": "user", "property": ""})),
            "/value/property",
            "must not be empty",
        ),
        (
            with(json!({"context": "user", "property": 1})),
            "/value/property",
            "property must be a string",
        ),
        (
            with(json!({"context": "user", "property": "x", "default": "y"})),
            "/value/default",
            "unknown member `default`",
        ),
    ];
    for (r, pointer, needle) in cases {
        assert_issue(r, pointer, needle);
    }
}

#[test]
fn my_teams_is_the_callers_teams() {
    let my_teams = || {
        Operand::Context(ctx(
            ContextSource::UserTeams,
            "$identifier",
            Kind::String,
            true,
        ))
    };
    for (op, got_op, negate) in [
        ("in", Op::In, false),
        ("notIn", Op::In, true),
        ("containsAny", Op::ContainsAny, false),
    ] {
        assert_eq!(
            rule(json!({"property": "$team", "operator": op, "value": ["My Teams"]})),
            cmp(Field::Meta(Meta::Team), got_op, my_teams(), negate),
            "{op}"
        );
    }
    // Only exactly `["My Teams"]` on `$team`.
    assert_eq!(
        rule(json!({"property": "$team", "operator": "in", "value": ["My Teams", "x"]})),
        cmp(
            Field::Meta(Meta::Team),
            Op::In,
            Operand::Many(vec![s("My Teams"), s("x")]),
            false
        )
    );
    assert_eq!(
        rule(json!({"property": "tags", "operator": "in", "value": ["My Teams"]})),
        cmp(
            prop("tags", Kind::Array(Item::String)),
            Op::In,
            Operand::Many(vec![s("My Teams")]),
            false
        )
    );
}

fn on_context(source: &str, property: &str, op: &str, value: Value) -> Value {
    json!({"property": {"context": source, "property": property}, "operator": op, "value": value})
}

#[test]
fn rules_about_the_caller() {
    use ContextSource::{User, UserTeams};
    let cases: Vec<(Value, ContextRef, Op, Operand, bool)> = vec![
        (
            on_context("user", "$identifier", "=", json!("alice")),
            ctx(User, "$identifier", Kind::String, false),
            Op::Eq,
            Operand::One(s("alice")),
            false,
        ),
        (
            on_context("user", "$identifier", "notIn", json!(["a", "b"])),
            ctx(User, "$identifier", Kind::String, false),
            Op::In,
            Operand::Many(vec![s("a"), s("b")]),
            true,
        ),
        (
            on_context("user", "email", "endsWith", json!("@example.com")),
            ctx(User, "email", Kind::String, false),
            Op::EndsWith,
            Operand::One(s("@example.com")),
            false,
        ),
        (
            on_context("user", "age", ">", json!(30)),
            ctx(User, "age", Kind::Number, false),
            Op::Gt,
            Operand::One(Scalar::Num(30.0)),
            false,
        ),
        (
            on_context("user", "level", "in", json!([1, 2])),
            ctx(User, "level", Kind::Number, false),
            Op::In,
            Operand::Many(vec![Scalar::Num(1.0), Scalar::Num(2.0)]),
            false,
        ),
        (
            on_context("user", "joined", "<=", json!("2024-01-01")),
            ctx(User, "joined", Kind::Date, false),
            Op::Le,
            Operand::One(t("2024-01-01")),
            false,
        ),
        (
            on_context("user", "admin", "!=", json!(true)),
            ctx(User, "admin", Kind::Boolean, false),
            Op::Eq,
            Operand::One(Scalar::Bool(true)),
            true,
        ),
        // A date string under `=` is compared as a string.
        (
            on_context("user", "joined", "=", json!("2024-01-01")),
            ctx(User, "joined", Kind::String, false),
            Op::Eq,
            Operand::One(s("2024-01-01")),
            false,
        ),
        // A user property may be an array: array operators pass.
        (
            on_context("user", "roles", "containsAny", json!(["admin", "owner"])),
            ctx(User, "roles", Kind::String, false),
            Op::ContainsAny,
            Operand::Many(vec![s("admin"), s("owner")]),
            false,
        ),
        (
            on_context("user", "scores", "contains", json!(3)),
            ctx(User, "scores", Kind::Number, false),
            Op::Contains,
            Operand::One(Scalar::Num(3.0)),
            false,
        ),
        // Many values: the user's teams, or any property of the team entities.
        (
            on_context("user", "$team", "containsAny", json!(["a", "b"])),
            ctx(User, "$team", Kind::String, true),
            Op::ContainsAny,
            Operand::Many(vec![s("a"), s("b")]),
            false,
        ),
        (
            on_context("userTeams", "$identifier", "contains", json!("platform")),
            ctx(UserTeams, "$identifier", Kind::String, true),
            Op::Contains,
            Operand::One(s("platform")),
            false,
        ),
        (
            on_context("userTeams", "$identifier", "in", json!(["a"])),
            ctx(UserTeams, "$identifier", Kind::String, true),
            Op::In,
            Operand::Many(vec![s("a")]),
            false,
        ),
    ];
    for (r, field, op, value, negate) in cases {
        assert_eq!(
            rule(r.clone()),
            Rule::OnContext {
                field,
                op,
                value,
                negate
            },
            "{r}"
        );
    }
}

#[test]
fn bad_rules_about_the_caller() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"property": {"context": "user", "property": "x"}, "operator": "isEmpty"}),
            "/operator",
            "not supported on a context property",
        ),
        (
            on_context("user", "x", "between", json!({"preset": "today"})),
            "/operator",
            "not supported on a context property",
        ),
        (
            on_context("user", "x", ">", json!("abc")),
            "/value",
            "takes a number or a date",
        ),
        (
            on_context(
                "user",
                "x",
                "=",
                json!({"context": "user", "property": "y"}),
            ),
            "/value",
            "another context reference",
        ),
        (
            on_context("userTeams", "$identifier", "=", json!("a")),
            "/operator",
            "one value per team",
        ),
        (
            on_context("user", "$team", ">", json!(1)),
            "/operator",
            "of type array of numbers",
        ),
        (
            on_context("user", "admin", "beginsWith", json!(true)),
            "/operator",
            "operator `beginsWith` is not valid for context property `admin` of type boolean or array of booleans",
        ),
        (
            on_context("user", "x", "beginsWith", json!(3)),
            "/operator",
            "operator `beginsWith` is not valid for context property `x` of type number or array of numbers",
        ),
        (
            on_context("user", "x", "in", json!([1, "a"])),
            "/value/1",
            "item must be a number",
        ),
        (
            on_context("friends", "x", "=", json!("a")),
            "/property/context",
            "context must be",
        ),
        (
            json!({"property": {"context": "user"}, "operator": "=", "value": "a"}),
            "/property/property",
            "property is required",
        ),
        (
            on_context("user", "x", "matchAny", json!("a")),
            "/operator",
            "needs `property: {path",
        ),
    ];
    for (r, pointer, needle) in cases {
        assert_issue(r, pointer, needle);
    }
}
