use serde_json::{Value, json};

use super::*;
use crate::query::ast::{Combinator, Direction, Field, Meta, Op, PathStep};
use crate::query::eval::{NoGraph, matches};

const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
const HOUR: i64 = 3_600_000_000;

fn t(s: &str) -> i64 {
    parse_instant(s).unwrap()
}

fn s(v: &str) -> Scalar {
    Scalar::Str(v.into())
}

fn user() -> Value {
    json!({
        "identifier": "alice@example.com",
        "title": "Alice Ünver",
        "team": ["platform", "sre"],
        "blueprint": "_user",
        "properties": {
            "level": 3,
            "joined": "2024-01-01T00:00:00+01:00",
            "admin": true,
            "skills": ["rust", "go", "rust"],
            "prefs": {"x": 1},
            "none": null,
            "dates": ["2024-01-01", "not a date"]
        },
        "relations": {},
        "createdAt": "2023-05-01T10:00:00Z"
    })
}

fn teams() -> Vec<Value> {
    vec![
        json!({"identifier": "platform", "blueprint": "_team",
               "properties": {"budget": 10, "tags": ["a", "b"]}}),
        json!({"identifier": "sre", "blueprint": "_team",
               "properties": {"budget": 10, "tags": ["b", "c"]}}),
        json!({"identifier": "ops", "blueprint": "_team", "properties": {"budget": null}}),
    ]
}

fn ctx() -> QueryContext {
    QueryContext {
        user: Some(user()),
        teams: teams(),
        now: NOW,
    }
}

fn cref(source: ContextSource, property: &str, want: Kind, list: bool) -> ContextRef {
    ContextRef {
        source,
        property: property.into(),
        want,
        list,
    }
}

fn resolve(
    source: ContextSource,
    property: &str,
    want: Kind,
    list: bool,
    ctx: &QueryContext,
) -> Operand {
    bind_operand(&Operand::Context(cref(source, property, want, list)), ctx)
}

fn user_value(property: &str, want: Kind, list: bool) -> Operand {
    resolve(ContextSource::User, property, want, list, &ctx())
}

fn teams_value(property: &str, want: Kind, list: bool) -> Operand {
    resolve(ContextSource::UserTeams, property, want, list, &ctx())
}

fn query(rules: Vec<Rule>) -> Query {
    Query {
        combinator: Combinator::And,
        rules: rules.into_iter().map(Node::Rule).collect(),
    }
}

fn bind_rule_of(rule: Rule, ctx: &QueryContext) -> Rule {
    match bind(&query(vec![rule]), ctx).rules.pop() {
        Some(Node::Rule(r)) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn user_context_values() {
    use Kind::*;
    assert_eq!(
        user_value("$identifier", String, false),
        Operand::One(s("alice@example.com"))
    );
    assert_eq!(
        user_value("$title", String, false),
        Operand::One(s("Alice Ünver"))
    );
    assert_eq!(
        user_value("$identifier", String, true),
        Operand::Many(vec![s("alice@example.com")])
    );
    assert_eq!(
        user_value("$team", String, true),
        Operand::Many(vec![s("platform"), s("sre")])
    );
    assert_eq!(
        user_value("$team", String, false),
        Operand::Nothing,
        "two values for `=`"
    );
    assert_eq!(
        user_value("skills", String, true),
        Operand::Many(vec![s("rust"), s("go")]),
        "deduplicated"
    );
    assert_eq!(
        user_value("level", Number, false),
        Operand::One(Scalar::Num(3.0))
    );
    assert_eq!(
        user_value("level", String, false),
        Operand::Nothing,
        "no conversion"
    );
    assert_eq!(
        user_value("joined", Date, false),
        Operand::One(Scalar::Time(t("2023-12-31T23:00:00Z")))
    );
    assert_eq!(
        user_value("$createdAt", Date, false),
        Operand::One(Scalar::Time(t("2023-05-01T10:00:00Z")))
    );
    assert_eq!(
        user_value("dates", Date, true),
        Operand::Many(vec![Scalar::Time(t("2024-01-01T00:00:00Z"))]),
        "unparseable items are dropped"
    );
    assert_eq!(
        user_value("admin", Boolean, false),
        Operand::One(Scalar::Bool(true))
    );
    assert_eq!(
        user_value("prefs", Object, false),
        Operand::One(Scalar::Json(json!({"x": 1})))
    );
    assert_eq!(
        user_value("skills", Array(Item::String), false),
        Operand::One(Scalar::Json(json!(["rust", "go", "rust"]))),
        "whole array for whole-array `=`"
    );
    assert_eq!(
        user_value("skills", Array(Item::String), true),
        Operand::Many(vec![s("rust"), s("go")])
    );
    assert_eq!(user_value("none", String, false), Operand::Nothing);
    assert_eq!(user_value("none", String, true), Operand::Many(vec![]));
    assert_eq!(user_value("absent", String, false), Operand::Nothing);
    assert_eq!(user_value("absent", String, true), Operand::Many(vec![]));
}

#[test]
fn without_user() {
    let machine = QueryContext {
        user: None,
        teams: Vec::new(),
        now: NOW,
    };
    for list in [false, true] {
        assert_eq!(
            resolve(
                ContextSource::User,
                "$identifier",
                Kind::String,
                list,
                &machine
            ),
            Operand::Nothing
        );
    }
    assert_eq!(
        resolve(
            ContextSource::UserTeams,
            "$identifier",
            Kind::String,
            true,
            &machine
        ),
        Operand::Many(vec![])
    );
    assert_eq!(
        resolve(
            ContextSource::UserTeams,
            "$identifier",
            Kind::String,
            false,
            &machine
        ),
        Operand::Nothing
    );
}

#[test]
fn team_context_values() {
    assert_eq!(
        teams_value("$identifier", Kind::String, true),
        Operand::Many(vec![s("platform"), s("sre"), s("ops")])
    );
    assert_eq!(
        teams_value("$identifier", Kind::String, false),
        Operand::Nothing
    );
    assert_eq!(
        teams_value("budget", Kind::Number, false),
        Operand::One(Scalar::Num(10.0)),
        "one distinct value"
    );
    assert_eq!(
        teams_value("tags", Kind::String, true),
        Operand::Many(vec![s("a"), s("b"), s("c")])
    );
    let one_team = QueryContext {
        user: Some(user()),
        teams: teams().into_iter().take(1).collect(),
        now: NOW,
    };
    assert_eq!(
        resolve(
            ContextSource::UserTeams,
            "$identifier",
            Kind::String,
            false,
            &one_team
        ),
        Operand::One(s("platform"))
    );
}

#[test]
fn operands_without_context_are_kept() {
    for op in [
        Operand::One(s("x")),
        Operand::Many(vec![Scalar::Num(1.0)]),
        Operand::Nothing,
    ] {
        assert_eq!(bind_operand(&op, &ctx()), op);
    }
}

#[test]
fn binds_every_rule_recursively() {
    let team_ctx = Operand::Context(cref(ContextSource::User, "$team", Kind::String, true));
    let field = || Field::Property {
        key: "d".into(),
        kind: Kind::Date,
    };
    let q = Query {
        combinator: Combinator::Or,
        rules: vec![
            Node::Rule(Rule::Compare {
                field: Field::Meta(Meta::Team),
                op: Op::ContainsAny,
                value: team_ctx.clone(),
                negate: true,
            }),
            Node::Query(query(vec![
                Rule::Between {
                    field: field(),
                    range: DateRange::Preset(Preset::Today),
                    negate: false,
                },
                Rule::Between {
                    field: field(),
                    range: DateRange::Fixed { from: 1, to: 2 },
                    negate: true,
                },
                Rule::Expired {
                    field: field(),
                    negate: false,
                    now: None,
                },
                Rule::Expired {
                    field: field(),
                    negate: true,
                    now: Some(5),
                },
                Rule::MatchAny {
                    path: vec![PathStep {
                        relation: "owner".into(),
                        max_hops: 1,
                    }],
                    from_blueprint: None,
                    values: Operand::Context(cref(
                        ContextSource::UserTeams,
                        "$identifier",
                        Kind::String,
                        true,
                    )),
                },
                Rule::RelatedTo {
                    blueprint: "svc".into(),
                    ids: vec!["a".into()],
                    direction: Some(Direction::Upstream),
                    required: None,
                },
                Rule::Empty {
                    field: field(),
                    negate: true,
                },
                Rule::Const(false),
                Rule::OnContext {
                    field: cref(ContextSource::User, "admin", Kind::Boolean, false),
                    op: Op::Eq,
                    value: Operand::One(Scalar::Bool(true)),
                    negate: false,
                },
            ])),
        ],
    };
    let bound = bind(&q, &ctx());
    let expected = Query {
        combinator: Combinator::Or,
        rules: vec![
            Node::Rule(Rule::Compare {
                field: Field::Meta(Meta::Team),
                op: Op::ContainsAny,
                value: Operand::Many(vec![s("platform"), s("sre")]),
                negate: true,
            }),
            Node::Query(query(vec![
                Rule::Between {
                    field: field(),
                    range: DateRange::Fixed {
                        from: NOW,
                        to: NOW + DAY - 1,
                    },
                    negate: false,
                },
                Rule::Between {
                    field: field(),
                    range: DateRange::Fixed { from: 1, to: 2 },
                    negate: true,
                },
                Rule::Expired {
                    field: field(),
                    negate: false,
                    now: Some(NOW),
                },
                Rule::Expired {
                    field: field(),
                    negate: true,
                    now: Some(5),
                },
                Rule::MatchAny {
                    path: vec![PathStep {
                        relation: "owner".into(),
                        max_hops: 1,
                    }],
                    from_blueprint: None,
                    values: Operand::Many(vec![s("platform"), s("sre"), s("ops")]),
                },
                Rule::RelatedTo {
                    blueprint: "svc".into(),
                    ids: vec!["a".into()],
                    direction: Some(Direction::Upstream),
                    required: None,
                },
                Rule::Empty {
                    field: field(),
                    negate: true,
                },
                Rule::Const(false),
                Rule::Const(true),
            ])),
        ],
    };
    assert_eq!(bound, expected);
    assert_eq!(bind(&bound, &ctx()), bound, "binding is idempotent");
}

fn on_context(field: ContextRef, op: Op, value: Operand, negate: bool, ctx: &QueryContext) -> Rule {
    bind_rule_of(
        Rule::OnContext {
            field,
            op,
            value,
            negate,
        },
        ctx,
    )
}

#[test]
fn rules_about_the_caller_become_constants() {
    use ContextSource::*;
    let c = ctx();
    let case = |field: ContextRef, op, value: Operand, expect: bool| {
        assert_eq!(
            on_context(field.clone(), op, value.clone(), false, &c),
            Rule::Const(expect),
            "{field:?} {op:?} {value:?}"
        );
        assert_eq!(
            on_context(field.clone(), op, value.clone(), true, &c),
            Rule::Const(!expect),
            "NOT {field:?} {op:?} {value:?}"
        );
    };
    case(
        cref(User, "$identifier", Kind::String, false),
        Op::Eq,
        Operand::One(s("alice@example.com")),
        true,
    );
    case(
        cref(User, "$identifier", Kind::String, false),
        Op::EndsWith,
        Operand::One(s("@example.com")),
        true,
    );
    case(
        cref(User, "$title", Kind::String, false),
        Op::Contains,
        Operand::One(s("ünver")),
        false,
    );
    case(
        cref(User, "level", Kind::Number, false),
        Op::Gt,
        Operand::One(Scalar::Num(2.0)),
        true,
    );
    case(
        cref(User, "level", Kind::Number, false),
        Op::In,
        Operand::Many(vec![Scalar::Num(1.0), Scalar::Num(2.0)]),
        false,
    );
    case(
        cref(User, "joined", Kind::Date, false),
        Op::Lt,
        Operand::One(Scalar::Time(t("2024-01-01T00:00:00Z"))),
        true,
    );
    // An array property is compared as an array of `want` items.
    case(
        cref(User, "$team", Kind::String, false),
        Op::Contains,
        Operand::One(s("sre")),
        true,
    );
    case(
        cref(User, "$team", Kind::String, false),
        Op::ContainsAny,
        Operand::Many(vec![s("ops"), s("platform")]),
        true,
    );
    case(
        cref(User, "$team", Kind::String, false),
        Op::In,
        Operand::Many(vec![s("ops")]),
        false,
    );
    // Teams: one value per team.
    case(
        cref(UserTeams, "$identifier", Kind::String, true),
        Op::In,
        Operand::Many(vec![s("ops")]),
        true,
    );
    case(
        cref(UserTeams, "tags", Kind::String, true),
        Op::Contains,
        Operand::One(s("c")),
        true,
    );
    case(
        cref(UserTeams, "budget", Kind::Number, false),
        Op::Gt,
        Operand::One(Scalar::Num(5.0)),
        false,
    );
    // Missing values never satisfy the positive form.
    case(
        cref(User, "absent", Kind::String, false),
        Op::Eq,
        Operand::One(s("")),
        false,
    );
    case(
        cref(User, "none", Kind::String, false),
        Op::In,
        Operand::Many(vec![s("")]),
        false,
    );
    // The value may itself be a context.
    case(
        cref(User, "$identifier", Kind::String, false),
        Op::Eq,
        Operand::Context(cref(User, "$identifier", Kind::String, false)),
        true,
    );
    case(
        cref(User, "$identifier", Kind::String, false),
        Op::Eq,
        Operand::Context(cref(UserTeams, "$identifier", Kind::String, false)),
        false,
    );
    case(
        cref(User, "$team", Kind::String, false),
        Op::ContainsAny,
        Operand::Context(cref(UserTeams, "$identifier", Kind::String, true)),
        true,
    );
    // Without a user.
    let machine = QueryContext::default();
    let field = cref(User, "$identifier", Kind::String, false);
    let value = Operand::One(s("alice@example.com"));
    assert_eq!(
        on_context(field.clone(), Op::Eq, value.clone(), false, &machine),
        Rule::Const(false)
    );
    assert_eq!(
        on_context(field, Op::Eq, value, true, &machine),
        Rule::Const(true)
    );
}

#[test]
fn presets() {
    let at = |s: &str| t(s);
    let now = at("2026-03-15T17:45:12.345678Z");
    let day = |d: &str| {
        (
            at(&format!("{d}T00:00:00Z")),
            at(&format!("{d}T23:59:59.999999Z")),
        )
    };
    assert_eq!(preset_range(Preset::Today, now), day("2026-03-15"));
    assert_eq!(preset_range(Preset::Tomorrow, now), day("2026-03-16"));
    assert_eq!(preset_range(Preset::Yesterday, now), day("2026-03-14"));
    // Exactly at midnight, today starts now.
    let midnight = at("2026-03-15T00:00:00Z");
    assert_eq!(preset_range(Preset::Today, midnight), day("2026-03-15"));
    assert_eq!(preset_range(Preset::Yesterday, midnight), day("2026-03-14"));
    assert_eq!(
        preset_range(Preset::Today, midnight - 1),
        day("2026-03-14"),
        "1µs before midnight"
    );
    // Before the epoch.
    assert_eq!(preset_range(Preset::Today, -1), day("1969-12-31"));
    let days = |n: i64| n * DAY;
    for (p, back, fwd) in [
        (Preset::LastDay, days(1), 0),
        (Preset::LastWeek, days(7), 0),
        (Preset::Last2Weeks, days(14), 0),
        (Preset::LastMonth, days(30), 0),
        (Preset::Last3Months, days(90), 0),
        (Preset::Last6Months, days(180), 0),
        (Preset::Last12Months, days(365), 0),
        (Preset::Last2Years, days(730), 0),
        (Preset::Last3Years, days(1095), 0),
        (Preset::NextDay, 0, days(1)),
        (Preset::NextWeek, 0, days(7)),
        (Preset::Next2Weeks, 0, days(14)),
        (Preset::NextMonth, 0, days(30)),
        (Preset::Next3Months, 0, days(90)),
        (Preset::Next6Months, 0, days(180)),
        (Preset::Next12Months, 0, days(365)),
    ] {
        assert_eq!(preset_range(p, now), (now - back, now + fwd), "{p:?}");
    }
    assert_eq!(
        preset_range(Preset::LastWeek, now).0,
        at("2026-03-08T17:45:12.345678Z")
    );
    // Every preset is covered and never panics at the extremes.
    for (_, p) in Preset::ALL {
        let (from, to) = preset_range(p, now);
        assert!(from <= to);
        let _ = preset_range(p, i64::MIN);
        let _ = preset_range(p, i64::MAX);
    }
}

#[test]
fn bound_queries_evaluate() {
    let entity = json!({
        "identifier": "api",
        "blueprint": "service",
        "team": ["sre"],
        "properties": {"owner": "alice@example.com", "due": "2026-01-01T05:00:00+04:00"},
        "createdAt": "2025-12-31T23:00:00Z"
    });
    let eval =
        |rule: Rule, c: &QueryContext| matches(&bind(&query(vec![rule]), c), &entity, &NoGraph, 0);
    let mine = || Rule::Compare {
        field: Field::Property {
            key: "owner".into(),
            kind: Kind::String,
        },
        op: Op::Eq,
        value: Operand::Context(cref(
            ContextSource::User,
            "$identifier",
            Kind::String,
            false,
        )),
        negate: false,
    };
    assert!(eval(mine(), &ctx()));
    assert!(!eval(mine(), &QueryContext::default()));
    let my_teams = |negate| Rule::Compare {
        field: Field::Meta(Meta::Team),
        op: Op::ContainsAny,
        value: Operand::Context(cref(
            ContextSource::UserTeams,
            "$identifier",
            Kind::String,
            true,
        )),
        negate,
    };
    assert!(eval(my_teams(false), &ctx()));
    assert!(!eval(my_teams(true), &ctx()));
    assert!(!eval(my_teams(false), &QueryContext::default()));
    assert!(eval(my_teams(true), &QueryContext::default()));
    // Presets and expiry use the context's now, not the evaluation's.
    let due = || Field::Property {
        key: "due".into(),
        kind: Kind::Date,
    };
    let at = |now| QueryContext { now, ..ctx() };
    let today = Rule::Between {
        field: due(),
        range: DateRange::Preset(Preset::Today),
        negate: false,
    };
    assert!(eval(today.clone(), &at(NOW + 12 * HOUR)));
    assert!(!eval(today, &at(NOW - HOUR)));
    let expired = Rule::Expired {
        field: due(),
        negate: false,
        now: None,
    };
    assert!(eval(expired.clone(), &at(NOW + 2 * HOUR)));
    assert!(!eval(expired.clone(), &at(NOW + HOUR)), "not before now");
    assert!(!eval(expired, &at(NOW)));
    let created_last_day = Rule::Between {
        field: Field::Meta(Meta::CreatedAt),
        range: DateRange::Preset(Preset::LastDay),
        negate: false,
    };
    assert!(eval(created_last_day.clone(), &at(NOW)));
    assert!(!eval(created_last_day, &at(NOW + DAY)));
}
