use serde_json::{Value, json};

use super::*;
use crate::query::ast::{ContextRef, ContextSource, Preset};

const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

fn t(s: &str) -> i64 {
    parse_instant(s).unwrap()
}

fn entity() -> Value {
    json!({
        "identifier": "api",
        "title": "API ☃ service",
        "icon": "Service",
        "team": ["platform", "sre"],
        "blueprint": "service",
        "properties": {
            "name": "Größe-日本",
            "port": 8080,
            "ratio": 1.0,
            "on": true,
            "off": false,
            "at": "2026-01-01T01:00:00+01:00",
            "bad_at": "not a date",
            "meta": {"a": 1, "b": [1, "x"]},
            "tags": ["a", "b", "ü"],
            "nums": [1, 2.5],
            "dates": ["2025-06-01T00:00:00+02:00"],
            "flags": [true],
            "objs": [{"x": 1}],
            "empty": [],
            "nothing": null,
            "num_as_str": "42"
        },
        "relations": {
            "owner": "team-a",
            "deps": ["db", "cache"],
            "none": [],
            "unset": null
        },
        "createdAt": "2025-12-31T23:00:00Z",
        "updatedAt": "2026-01-01T02:00:00+02:00",
        "createdBy": "alice@example.com",
        "updatedBy": "bob@example.com",
        "$datasource": "port-ocean/1.0"
    })
}

fn prop(key: &str, kind: Kind) -> Field {
    Field::Property {
        key: key.into(),
        kind,
    }
}

fn s(v: &str) -> Scalar {
    Scalar::Str(v.into())
}

fn cmp(field: Field, op: Op, value: Operand, negate: bool) -> Rule {
    Rule::Compare {
        field,
        op,
        value,
        negate,
    }
}

fn and(rules: Vec<Rule>) -> Query {
    Query {
        combinator: Combinator::And,
        rules: rules.into_iter().map(Node::Rule).collect(),
    }
}

fn or(rules: Vec<Rule>) -> Query {
    Query {
        combinator: Combinator::Or,
        rules: rules.into_iter().map(Node::Rule).collect(),
    }
}

fn eval_on(rule: Rule, e: &Value) -> bool {
    matches(&and(vec![rule]), e, &NoGraph, NOW)
}

fn eval(rule: Rule) -> bool {
    eval_on(rule, &entity())
}

/// The positive form matches `expect`, and the negated form its opposite.
fn check(field: Field, op: Op, value: Operand, expect: bool) {
    assert_eq!(
        eval(cmp(field.clone(), op, value.clone(), false)),
        expect,
        "{field:?} {op:?} {value:?}"
    );
    assert_eq!(
        eval(cmp(field.clone(), op, value.clone(), true)),
        !expect,
        "NOT {field:?} {op:?} {value:?}"
    );
}

#[test]
fn combinators() {
    assert!(matches(&and(vec![]), &entity(), &NoGraph, NOW));
    assert!(!matches(&or(vec![]), &entity(), &NoGraph, NOW));
    assert!(matches(
        &and(vec![Rule::Const(true), Rule::Const(true)]),
        &entity(),
        &NoGraph,
        NOW
    ));
    assert!(!matches(
        &and(vec![Rule::Const(true), Rule::Const(false)]),
        &entity(),
        &NoGraph,
        NOW
    ));
    assert!(matches(
        &or(vec![Rule::Const(false), Rule::Const(true)]),
        &entity(),
        &NoGraph,
        NOW
    ));
    let nested = Query {
        combinator: Combinator::And,
        rules: vec![
            Node::Rule(Rule::Const(true)),
            Node::Query(or(vec![Rule::Const(false), Rule::Const(true)])),
            Node::Query(and(vec![])),
        ],
    };
    assert!(matches(&nested, &entity(), &NoGraph, NOW));
    let nested_false = Query {
        combinator: Combinator::Or,
        rules: vec![
            Node::Query(or(vec![])),
            Node::Query(and(vec![Rule::Const(false)])),
        ],
    };
    assert!(!matches(&nested_false, &entity(), &NoGraph, NOW));
}

#[test]
fn field_access() {
    let e = entity();
    let meta = |m| field_value(&e, &Field::Meta(m)).cloned();
    assert_eq!(meta(Meta::Identifier), Some(json!("api")));
    assert_eq!(meta(Meta::Team), Some(json!(["platform", "sre"])));
    assert_eq!(meta(Meta::Datasource), Some(json!("port-ocean/1.0")));
    assert_eq!(meta(Meta::CreatedBy), Some(json!("alice@example.com")));
    assert_eq!(
        field_value(&e, &prop("port", Kind::Number)),
        Some(&json!(8080))
    );
    assert_eq!(field_value(&e, &prop("nothing", Kind::Number)), None);
    assert_eq!(field_value(&e, &prop("absent", Kind::Number)), None);
    let rel = |key: &str, many| Field::Relation {
        key: key.into(),
        many,
    };
    assert_eq!(
        field_value(&e, &rel("owner", false)),
        Some(&json!("team-a"))
    );
    assert_eq!(field_value(&e, &rel("unset", false)), None);
    assert_eq!(named_value(&e, "$title"), Some(&json!("API ☃ service")));
    assert_eq!(named_value(&e, "port"), Some(&json!(8080)));
    assert_eq!(named_value(&e, "$nope"), None);
    assert_eq!(
        field_value(&json!("not an entity"), &prop("port", Kind::Number)),
        None
    );
}

#[test]
fn string_operators() {
    let name = || prop("name", Kind::String);
    let one = |v: &str| Operand::One(s(v));
    check(name(), Op::Eq, one("Größe-日本"), true);
    check(name(), Op::Eq, one("größe-日本"), false);
    check(name(), Op::Eq, one("Größe"), false);
    check(name(), Op::Contains, one("ße-日"), true);
    check(name(), Op::Contains, one(""), true);
    check(name(), Op::Contains, one("SSE"), false);
    check(name(), Op::BeginsWith, one("Grö"), true);
    check(name(), Op::BeginsWith, one("rö"), false);
    check(name(), Op::EndsWith, one("日本"), true);
    check(name(), Op::EndsWith, one("日"), false);
    check(
        name(),
        Op::In,
        Operand::Many(vec![s("x"), s("Größe-日本")]),
        true,
    );
    check(name(), Op::In, Operand::Many(vec![s("x")]), false);
    check(name(), Op::In, Operand::Many(vec![]), false);
    check(name(), Op::In, one("Größe-日本"), true);
    // Mismatched types.
    check(name(), Op::Eq, Operand::One(Scalar::Num(1.0)), false);
    check(
        prop("num_as_str", Kind::Number),
        Op::Eq,
        Operand::One(Scalar::Num(42.0)),
        false,
    );
    check(prop("port", Kind::String), Op::Eq, one("8080"), false);
    check(name(), Op::Gt, one("A"), false);
    // One-value operators with a list match nothing.
    check(name(), Op::Eq, Operand::Many(vec![s("Größe-日本")]), false);
    // Meta and single relations are strings.
    check(Field::Meta(Meta::Title), Op::Contains, one("☃"), true);
    check(
        Field::Meta(Meta::Datasource),
        Op::Contains,
        one("ocean"),
        true,
    );
    check(Field::Meta(Meta::Blueprint), Op::Eq, one("service"), true);
    check(Field::Meta(Meta::Identifier), Op::Eq, one("API"), false);
    check(
        Field::Relation {
            key: "owner".into(),
            many: false,
        },
        Op::BeginsWith,
        one("team-"),
        true,
    );
}

#[test]
fn missing_and_null_never_satisfy_positive_operators() {
    let ops = [
        Op::Eq,
        Op::Gt,
        Op::Ge,
        Op::Lt,
        Op::Le,
        Op::Contains,
        Op::BeginsWith,
        Op::EndsWith,
        Op::In,
        Op::ContainsAny,
    ];
    let fields = [
        prop("absent", Kind::String),
        prop("nothing", Kind::String),
        prop("nothing", Kind::Number),
        prop("absent", Kind::Date),
        prop("absent", Kind::Array(Item::String)),
        prop("nothing", Kind::Object),
        Field::Relation {
            key: "unset".into(),
            many: false,
        },
        Field::Relation {
            key: "absent".into(),
            many: true,
        },
    ];
    let values = [
        Operand::One(s("")),
        Operand::One(Scalar::Num(0.0)),
        Operand::One(Scalar::Time(0)),
        Operand::One(Scalar::Json(Value::Null)),
        Operand::Many(vec![s(""), Scalar::Num(0.0)]),
    ];
    for f in &fields {
        for op in ops {
            for v in &values {
                check(f.clone(), op, v.clone(), false);
            }
        }
    }
    // No entity members at all.
    assert!(!eval_on(
        cmp(
            Field::Meta(Meta::Team),
            Op::ContainsAny,
            Operand::Many(vec![s("x")]),
            false
        ),
        &json!({})
    ));
    assert!(eval_on(
        cmp(Field::Meta(Meta::Title), Op::Eq, Operand::One(s("x")), true),
        &json!({})
    ));
}

#[test]
fn nothing_and_unbound_context() {
    let ctx = Operand::Context(ContextRef {
        source: ContextSource::User,
        property: "$identifier".into(),
        want: Kind::String,
        list: false,
    });
    for f in [prop("name", Kind::String), Field::Meta(Meta::Identifier)] {
        for op in [Op::Eq, Op::Contains, Op::In] {
            check(f.clone(), op, Operand::Nothing, false);
            check(f.clone(), op, ctx.clone(), false);
        }
    }
    let on_ctx = |negate| Rule::OnContext {
        field: ContextRef {
            source: ContextSource::User,
            property: "$identifier".into(),
            want: Kind::String,
            list: false,
        },
        op: Op::Eq,
        value: Operand::One(s("x")),
        negate,
    };
    assert!(!eval(on_ctx(false)));
    assert!(
        !eval(on_ctx(true)),
        "an unbound rule about the caller matches nothing"
    );
    assert!(eval(Rule::Const(true)));
    assert!(!eval(Rule::Const(false)));
}

#[test]
fn number_operators() {
    let port = || prop("port", Kind::Number);
    let n = |v: f64| Operand::One(Scalar::Num(v));
    check(port(), Op::Eq, n(8080.0), true);
    check(port(), Op::Eq, n(8080.5), false);
    check(prop("ratio", Kind::Number), Op::Eq, n(1.0), true);
    check(port(), Op::Gt, n(8079.0), true);
    check(port(), Op::Gt, n(8080.0), false);
    check(port(), Op::Ge, n(8080.0), true);
    check(port(), Op::Ge, n(8081.0), false);
    check(port(), Op::Lt, n(8081.0), true);
    check(port(), Op::Lt, n(8080.0), false);
    check(port(), Op::Le, n(8080.0), true);
    check(port(), Op::Le, n(-1.0), false);
    check(
        port(),
        Op::In,
        Operand::Many(vec![Scalar::Num(1.0), Scalar::Num(8080.0)]),
        true,
    );
    check(port(), Op::In, Operand::Many(vec![Scalar::Num(1.0)]), false);
    check(port(), Op::Contains, n(8080.0), false);
    check(port(), Op::BeginsWith, Operand::One(s("80")), false);
    check(port(), Op::Gt, Operand::One(s("1")), false);
}

#[test]
fn boolean_operators() {
    let b = |v| Operand::One(Scalar::Bool(v));
    check(prop("on", Kind::Boolean), Op::Eq, b(true), true);
    check(prop("on", Kind::Boolean), Op::Eq, b(false), false);
    check(prop("off", Kind::Boolean), Op::Eq, b(false), true);
    check(prop("off", Kind::Boolean), Op::Eq, b(true), false);
    check(prop("absent", Kind::Boolean), Op::Eq, b(false), false);
    check(prop("on", Kind::Boolean), Op::Gt, b(false), false);
    check(
        prop("on", Kind::Boolean),
        Op::In,
        Operand::Many(vec![Scalar::Bool(true)]),
        true,
    );
}

#[test]
fn date_operators_across_offsets() {
    let at = || prop("at", Kind::Date);
    let tm = |v: &str| Operand::One(Scalar::Time(t(v)));
    // "2026-01-01T01:00:00+01:00" is 2026-01-01T00:00:00Z.
    check(at(), Op::Eq, tm("2026-01-01T00:00:00Z"), true);
    check(at(), Op::Eq, tm("2025-12-31T19:00:00-05:00"), true);
    check(at(), Op::Eq, tm("2026-01-01T00:00:00.000001Z"), false);
    check(at(), Op::Gt, tm("2025-12-31T23:59:59.999999Z"), true);
    check(at(), Op::Gt, tm("2026-01-01T00:00:00Z"), false);
    check(at(), Op::Ge, tm("2026-01-01T09:00:00+09:00"), true);
    check(at(), Op::Lt, tm("2026-01-01T00:00:01Z"), true);
    check(at(), Op::Lt, tm("2026-01-01"), false);
    check(at(), Op::Le, tm("2026-01-01"), true);
    check(
        at(),
        Op::In,
        Operand::Many(vec![Scalar::Time(0), Scalar::Time(NOW)]),
        true,
    );
    // A date is not compared as a string.
    check(
        at(),
        Op::Eq,
        Operand::One(s("2026-01-01T01:00:00+01:00")),
        false,
    );
    check(at(), Op::Contains, Operand::One(s("2026")), false);
    // Unparseable dates are missing.
    check(
        prop("bad_at", Kind::Date),
        Op::Lt,
        Operand::One(Scalar::Time(i64::MAX)),
        false,
    );
    check(
        prop("bad_at", Kind::Date),
        Op::Gt,
        Operand::One(Scalar::Time(i64::MIN)),
        false,
    );
    // Meta dates.
    check(
        Field::Meta(Meta::UpdatedAt),
        Op::Eq,
        tm("2026-01-01T00:00:00Z"),
        true,
    );
    check(
        Field::Meta(Meta::CreatedAt),
        Op::Lt,
        tm("2026-01-01T00:30:00+01:00"),
        true,
    );
}

#[test]
fn object_equality() {
    let meta = || prop("meta", Kind::Object);
    let j = |v: Value| Operand::One(Scalar::Json(v));
    check(meta(), Op::Eq, j(json!({"b": [1.0, "x"], "a": 1.0})), true);
    check(meta(), Op::Eq, j(json!({"a": 1, "b": ["x", 1]})), false);
    check(meta(), Op::Eq, j(json!({"a": 1})), false);
    check(
        meta(),
        Op::Eq,
        j(json!({"a": 1, "b": [1, "x"], "c": null})),
        false,
    );
    check(meta(), Op::Eq, j(json!({"a": "1", "b": [1, "x"]})), false);
    check(meta(), Op::Contains, j(json!({"a": 1})), false);
    assert!(json_eq(&json!([1, 2.0]), &json!([1.0, 2])));
    assert!(!json_eq(&json!([1, 2]), &json!([2, 1])));
    assert!(!json_eq(&json!(1), &json!("1")));
    assert!(json_eq(&json!(null), &json!(null)));
}

#[test]
fn array_operators() {
    let tags = || prop("tags", Kind::Array(Item::String));
    check(tags(), Op::Contains, Operand::One(s("ü")), true);
    check(tags(), Op::Contains, Operand::One(s("u")), false);
    check(tags(), Op::Contains, Operand::One(s("")), false);
    check(
        tags(),
        Op::ContainsAny,
        Operand::Many(vec![s("z"), s("b")]),
        true,
    );
    check(tags(), Op::ContainsAny, Operand::Many(vec![s("z")]), false);
    check(tags(), Op::ContainsAny, Operand::Many(vec![]), false);
    check(tags(), Op::In, Operand::Many(vec![s("a")]), true);
    check(tags(), Op::In, Operand::Many(vec![s("A")]), false);
    check(tags(), Op::BeginsWith, Operand::One(s("a")), false);
    // Whole-array equality: order matters.
    check(
        tags(),
        Op::Eq,
        Operand::One(Scalar::Json(json!(["a", "b", "ü"]))),
        true,
    );
    check(
        tags(),
        Op::Eq,
        Operand::One(Scalar::Json(json!(["b", "a", "ü"]))),
        false,
    );
    check(tags(), Op::Eq, Operand::One(s("a")), false);
    let nums = || prop("nums", Kind::Array(Item::Number));
    check(nums(), Op::Contains, Operand::One(Scalar::Num(2.5)), true);
    check(nums(), Op::Contains, Operand::One(Scalar::Num(1.0)), true);
    check(nums(), Op::Contains, Operand::One(s("1")), false);
    check(
        nums(),
        Op::Eq,
        Operand::One(Scalar::Json(json!([1.0, 2.5]))),
        true,
    );
    check(nums(), Op::Gt, Operand::One(Scalar::Num(0.0)), false);
    let dates = || prop("dates", Kind::Array(Item::Date));
    check(
        dates(),
        Op::Contains,
        Operand::One(Scalar::Time(t("2025-05-31T22:00:00Z"))),
        true,
    );
    check(
        dates(),
        Op::ContainsAny,
        Operand::Many(vec![Scalar::Time(t("2025-06-01T00:00:00Z"))]),
        false,
    );
    check(
        prop("flags", Kind::Array(Item::Boolean)),
        Op::Contains,
        Operand::One(Scalar::Bool(true)),
        true,
    );
    check(
        prop("objs", Kind::Array(Item::Any)),
        Op::Contains,
        Operand::One(Scalar::Json(json!({"x": 1.0}))),
        true,
    );
    check(
        prop("empty", Kind::Array(Item::String)),
        Op::ContainsAny,
        Operand::Many(vec![s("a")]),
        false,
    );
    check(
        prop("empty", Kind::Array(Item::String)),
        Op::Eq,
        Operand::One(Scalar::Json(json!([]))),
        true,
    );
    // A value that is not an array.
    check(
        prop("name", Kind::Array(Item::String)),
        Op::Contains,
        Operand::One(s("Größe-日本")),
        false,
    );
}

#[test]
fn teams_and_many_relations() {
    let team = || Field::Meta(Meta::Team);
    check(team(), Op::In, Operand::Many(vec![s("sre")]), true);
    check(
        team(),
        Op::ContainsAny,
        Operand::Many(vec![s("x"), s("platform")]),
        true,
    );
    check(
        team(),
        Op::ContainsAny,
        Operand::Many(vec![s("SRE")]),
        false,
    );
    check(team(), Op::Contains, Operand::One(s("sre")), true);
    let deps = || Field::Relation {
        key: "deps".into(),
        many: true,
    };
    check(deps(), Op::ContainsAny, Operand::Many(vec![s("db")]), true);
    check(deps(), Op::In, Operand::Many(vec![s("queue")]), false);
    check(deps(), Op::Contains, Operand::One(s("cache")), true);
    check(
        Field::Relation {
            key: "none".into(),
            many: true,
        },
        Op::ContainsAny,
        Operand::Many(vec![s("db")]),
        false,
    );
    let no_team = json!({"identifier": "x", "team": []});
    assert!(!eval_on(
        cmp(
            team(),
            Op::ContainsAny,
            Operand::Many(vec![s("sre")]),
            false
        ),
        &no_team
    ));
    assert!(eval_on(
        cmp(team(), Op::ContainsAny, Operand::Many(vec![s("sre")]), true),
        &no_team
    ));
}

#[test]
fn empty() {
    let rule = |field, negate| Rule::Empty { field, negate };
    for (field, empty) in [
        (prop("absent", Kind::String), true),
        (prop("nothing", Kind::String), true),
        (prop("empty", Kind::Array(Item::String)), true),
        (prop("tags", Kind::Array(Item::String)), false),
        (prop("name", Kind::String), false),
        (prop("off", Kind::Boolean), false),
        (prop("meta", Kind::Object), false),
        (Field::Meta(Meta::Team), false),
        (Field::Meta(Meta::Icon), false),
        (
            Field::Relation {
                key: "none".into(),
                many: true,
            },
            true,
        ),
        (
            Field::Relation {
                key: "unset".into(),
                many: false,
            },
            true,
        ),
        (
            Field::Relation {
                key: "deps".into(),
                many: true,
            },
            false,
        ),
    ] {
        assert_eq!(eval(rule(field.clone(), false)), empty, "{field:?}");
        assert_eq!(eval(rule(field.clone(), true)), !empty, "{field:?}");
    }
    let e = json!({"identifier": "x", "team": [], "properties": {"s": ""}});
    assert!(eval_on(rule(Field::Meta(Meta::Team), false), &e));
    assert!(eval_on(rule(Field::Meta(Meta::Title), false), &e));
    assert!(
        !eval_on(rule(prop("s", Kind::String), false), &e),
        "\"\" is not empty"
    );
}

#[test]
fn between() {
    let rule = |field, range, negate| Rule::Between {
        field,
        range,
        negate,
    };
    let at = || prop("at", Kind::Date);
    let fixed = |from: &str, to: &str| DateRange::Fixed {
        from: t(from),
        to: t(to),
    };
    for (range, inside) in [
        (fixed("2025-12-31T00:00:00Z", "2026-01-02T00:00:00Z"), true),
        (fixed("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), true),
        (
            fixed("2026-01-01T01:00:00+01:00", "2026-01-02T00:00:00Z"),
            true,
        ),
        (
            fixed("2025-01-01T00:00:00Z", "2025-12-31T23:59:59.999999Z"),
            false,
        ),
        (
            fixed("2026-01-01T00:00:00.000001Z", "2027-01-01T00:00:00Z"),
            false,
        ),
        (fixed("2027-01-01T00:00:00Z", "2025-01-01T00:00:00Z"), false),
    ] {
        assert_eq!(eval(rule(at(), range, false)), inside, "{range:?}");
        assert_eq!(eval(rule(at(), range, true)), !inside, "{range:?}");
    }
    let all = DateRange::Fixed {
        from: i64::MIN,
        to: i64::MAX,
    };
    for missing in [
        prop("absent", Kind::Date),
        prop("nothing", Kind::Date),
        prop("bad_at", Kind::Date),
    ] {
        assert!(!eval(rule(missing.clone(), all, false)));
        assert!(eval(rule(missing, all, true)));
    }
    assert!(eval(rule(Field::Meta(Meta::CreatedAt), all, false)));
    // Unbound presets resolve against the evaluation's now (2026-01-01T00:00:00Z); days are
    // UTC days: this instant is 2026-01-01T01:00:00Z.
    let e = json!({"properties": {"d": "2025-12-31T22:00:00-03:00"}});
    let d = || prop("d", Kind::Date);
    let q = |p, negate| and(vec![rule(d(), DateRange::Preset(p), negate)]);
    assert!(matches(&q(Preset::Today, false), &e, &NoGraph, NOW));
    assert!(!matches(&q(Preset::Yesterday, false), &e, &NoGraph, NOW));
    assert!(matches(&q(Preset::Yesterday, true), &e, &NoGraph, NOW));
    assert!(!matches(&q(Preset::LastDay, false), &e, &NoGraph, NOW));
    assert!(matches(&q(Preset::NextDay, false), &e, &NoGraph, NOW));
    assert!(matches(
        &q(Preset::Yesterday, false),
        &e,
        &NoGraph,
        NOW + 86_400_000_000
    ));
}

#[test]
fn expired() {
    let rule = |field, negate, now| Rule::Expired { field, negate, now };
    let at = || prop("at", Kind::Date); // == NOW
    assert!(!eval(rule(at(), false, None)), "not before now");
    assert!(eval(rule(at(), true, None)));
    assert!(eval(rule(at(), false, Some(NOW + 1))));
    assert!(!eval(rule(at(), true, Some(NOW + 1))));
    assert!(!eval(rule(at(), false, Some(NOW - 1))));
    assert!(matches(
        &and(vec![rule(at(), false, None)]),
        &entity(),
        &NoGraph,
        NOW + 1
    ));
    assert!(
        !matches(
            &and(vec![rule(at(), false, Some(NOW))]),
            &entity(),
            &NoGraph,
            NOW + 1
        ),
        "the bound now wins"
    );
    for missing in [
        prop("absent", Kind::Date),
        prop("nothing", Kind::Date),
        prop("bad_at", Kind::Date),
    ] {
        assert!(!eval(rule(missing.clone(), false, Some(i64::MAX))));
        assert!(eval(rule(missing, true, Some(i64::MAX))));
    }
    assert!(eval(rule(Field::Meta(Meta::CreatedAt), false, None)));
}

fn edge(src: (&str, &str), relation: &str, required: bool, dst: (&str, &str)) -> Edge {
    Edge {
        source_blueprint: src.0.into(),
        source_identifier: src.1.into(),
        relation: relation.into(),
        required,
        target_blueprint: dst.0.into(),
        target_identifier: dst.1.into(),
    }
}

fn node(bp: &str, id: &str) -> Value {
    json!({"blueprint": bp, "identifier": id})
}

/// svc:a -> svc:b (required) -> db:c (optional) -> svc:a (optional, a cycle);
/// svc:b -> db:d (optional); svc:x -> svc:a (required); db:c on another blueprint than svc:c.
fn graph() -> MemoryGraph {
    MemoryGraph::new(vec![
        edge(("svc", "a"), "dep", true, ("svc", "b")),
        edge(("svc", "b"), "db", false, ("db", "c")),
        edge(("db", "c"), "back", false, ("svc", "a")),
        edge(("svc", "b"), "db", false, ("db", "d")),
        edge(("svc", "x"), "dep", true, ("svc", "a")),
    ])
}

fn related(ids: &[&str], direction: Option<Direction>, required: Option<bool>) -> Query {
    and(vec![Rule::RelatedTo {
        blueprint: "svc".into(),
        ids: ids.iter().map(|s| (*s).into()).collect(),
        direction,
        required,
    }])
}

fn reached(q: &Query, g: &dyn Graph) -> Vec<String> {
    [
        ("svc", "a"),
        ("svc", "b"),
        ("db", "c"),
        ("svc", "c"),
        ("db", "d"),
        ("svc", "x"),
        ("svc", "lonely"),
    ]
    .into_iter()
    .filter(|(bp, id)| matches(q, &node(bp, id), g, NOW))
    .map(|(bp, id)| format!("{bp}:{id}"))
    .collect()
}

#[test]
fn related_to() {
    let g = graph();
    let up = Some(Direction::Upstream);
    let down = Some(Direction::Downstream);
    // Upstream from b: b -> c -> a -> b (cycle back to the start), b -> d.
    assert_eq!(
        reached(&related(&["b"], up, None), &g),
        ["svc:a", "svc:b", "db:c", "db:d"]
    );
    // Downstream from b: a -> b, c -> a, x -> a, b -> c (cycle).
    assert_eq!(
        reached(&related(&["b"], down, None), &g),
        ["svc:a", "svc:b", "db:c", "svc:x"]
    );
    // Both directions.
    assert_eq!(
        reached(&related(&["b"], None, None), &g),
        ["svc:a", "svc:b", "db:c", "db:d", "svc:x"]
    );
    // Required edges only: upstream from a reaches b and stops; the start is not reached.
    assert_eq!(reached(&related(&["a"], up, Some(true)), &g), ["svc:b"]);
    assert_eq!(
        reached(&related(&["b"], down, Some(true)), &g),
        ["svc:a", "svc:x"]
    );
    // Optional edges only: upstream from b: c, d, a (a -> b is required, so no cycle back).
    assert_eq!(
        reached(&related(&["b"], up, Some(false)), &g),
        ["svc:a", "db:c", "db:d"]
    );
    // A start is matched when reached from another start.
    assert_eq!(
        reached(&related(&["x", "lonely"], up, Some(true)), &g),
        ["svc:a", "svc:b"]
    );
    assert_eq!(
        reached(&related(&["x", "a"], up, Some(true)), &g),
        ["svc:a", "svc:b"]
    );
    // Without edges nothing matches; unknown starts match nothing.
    assert!(reached(&related(&["lonely"], None, None), &g).is_empty());
    assert!(reached(&related(&["zzz"], None, None), &g).is_empty());
    assert!(reached(&related(&[], None, None), &g).is_empty());
    // The start blueprint matters: `svc:c` does not exist, `db:c` is not a svc start.
    let from_db = and(vec![Rule::RelatedTo {
        blueprint: "db".into(),
        ids: vec!["c".into()],
        direction: up,
        required: None,
    }]);
    assert_eq!(reached(&from_db, &g), ["svc:a", "svc:b", "db:c", "db:d"]);
    // Directions are not mixed within one walk: downstream from d reaches b, and from b
    // only what depends on b.
    assert_eq!(
        reached(
            &and(vec![Rule::RelatedTo {
                blueprint: "db".into(),
                ids: vec!["d".into()],
                direction: None,
                required: None,
            }]),
            &g
        ),
        ["svc:a", "svc:b", "db:c", "svc:x"]
    );
    // An entity without identity matches nothing.
    assert!(!matches(&related(&["b"], None, None), &json!({}), &g, NOW));
}

#[test]
fn related_to_long_cycle_terminates() {
    let mut edges = Vec::new();
    for i in 0..500 {
        let (a, b) = (i.to_string(), ((i + 1) % 500).to_string());
        edges.push(edge(("n", &a), "next", false, ("n", &b)));
    }
    let g = MemoryGraph::new(edges);
    let q = and(vec![Rule::RelatedTo {
        blueprint: "n".into(),
        ids: vec!["0".into()],
        direction: None,
        required: None,
    }]);
    assert!(matches(&q, &node("n", "0"), &g, NOW));
    assert!(matches(&q, &node("n", "250"), &g, NOW));
    assert!(!matches(&q, &node("n", "500"), &g, NOW));
}

fn step(relation: &str, max_hops: u8) -> PathStep {
    PathStep {
        relation: relation.into(),
        max_hops,
    }
}

fn match_any(path: Vec<PathStep>, from: Option<&str>, values: Operand) -> Query {
    and(vec![Rule::MatchAny {
        path,
        from_blueprint: from.map(Into::into),
        values,
    }])
}

/// A chain of services by `parent` (s1 -> s2 -> s3 -> s4 -> s2: a cycle), each service
/// `owner`-related to a team: s1 -> t1, s2 -> t2, s3 -> t3, s4 -> t4; teams `org` -> o.
fn path_graph() -> MemoryGraph {
    MemoryGraph::new(vec![
        edge(("svc", "s1"), "parent", false, ("svc", "s2")),
        edge(("svc", "s2"), "parent", false, ("svc", "s3")),
        edge(("svc", "s3"), "parent", false, ("svc", "s4")),
        edge(("svc", "s4"), "parent", false, ("svc", "s2")),
        edge(("svc", "s1"), "owner", true, ("team", "t1")),
        edge(("svc", "s2"), "owner", true, ("team", "t2")),
        edge(("svc", "s3"), "owner", true, ("team", "t3")),
        edge(("svc", "s4"), "owner", true, ("team", "t4")),
        edge(("team", "t1"), "org", false, ("org", "o")),
        edge(("team", "t4"), "org", false, ("org", "o")),
        edge(("svc", "s9"), "owner", true, ("team", "t1")),
    ])
}

#[test]
fn match_any_upstream() {
    let g = path_graph();
    let m = |path, values, bp: &str, id: &str| {
        matches(&match_any(path, None, values), &node(bp, id), &g, NOW)
    };
    let one = |v: &str| Operand::One(s(v));
    // One step.
    assert!(m(vec![step("owner", 1)], one("t1"), "svc", "s1"));
    assert!(!m(vec![step("owner", 1)], one("t2"), "svc", "s1"));
    assert!(!m(vec![step("parent", 1)], one("t1"), "svc", "s1"));
    // Two steps.
    assert!(m(
        vec![step("owner", 1), step("org", 1)],
        one("o"),
        "svc",
        "s1"
    ));
    assert!(!m(
        vec![step("owner", 1), step("org", 1)],
        one("o"),
        "svc",
        "s2"
    ));
    assert!(m(
        vec![step("owner", 1), step("org", 1)],
        one("o"),
        "svc",
        "s4"
    ));
    // maxHops: every entity reached at hops 1..=n counts.
    let parents = |n| vec![step("parent", n)];
    assert!(m(parents(1), one("s2"), "svc", "s1"));
    assert!(!m(parents(1), one("s3"), "svc", "s1"));
    assert!(m(parents(2), one("s2"), "svc", "s1"));
    assert!(m(parents(2), one("s3"), "svc", "s1"));
    assert!(!m(parents(2), one("s4"), "svc", "s1"));
    assert!(m(parents(3), one("s4"), "svc", "s1"));
    assert!(
        !m(parents(15), one("s1"), "svc", "s1"),
        "s1 is never reached"
    );
    assert!(
        m(parents(3), one("s2"), "svc", "s2"),
        "reached again through the cycle"
    );
    assert!(!m(parents(2), one("s2"), "svc", "s2"));
    // maxHops then another step: owners of s2, s3, s4.
    let path = || vec![step("parent", 3), step("owner", 1)];
    assert!(m(path(), one("t4"), "svc", "s1"));
    assert!(!m(path(), one("t1"), "svc", "s1"));
    assert!(m(
        path(),
        Operand::Many(vec![s("zz"), s("t3")]),
        "svc",
        "s1"
    ));
    assert!(m(
        vec![step("parent", 2), step("owner", 1)],
        one("t3"),
        "svc",
        "s1"
    ));
    assert!(!m(
        vec![step("parent", 2), step("owner", 1)],
        one("t4"),
        "svc",
        "s1"
    ));
    // A step before the hops.
    assert!(m(
        vec![step("owner", 1), step("org", 3)],
        one("o"),
        "svc",
        "s4"
    ));
    // Values: Nothing, Context, empty list, non-strings.
    assert!(!m(parents(3), Operand::Many(vec![]), "svc", "s1"));
    assert!(!m(parents(3), Operand::Nothing, "svc", "s1"));
    assert!(!m(parents(3), Operand::One(Scalar::Num(2.0)), "svc", "s1"));
    assert!(!m(
        parents(3),
        Operand::Context(ContextRef {
            source: ContextSource::User,
            property: "$identifier".into(),
            want: Kind::String,
            list: true,
        }),
        "svc",
        "s1"
    ));
}

#[test]
fn match_any_downstream() {
    let g = path_graph();
    let m = |path, from: &str, values, bp: &str, id: &str| {
        matches(&match_any(path, Some(from), values), &node(bp, id), &g, NOW)
    };
    let one = |v: &str| Operand::One(s(v));
    // Walking `owner` forward from svc:s1 (or svc:s9) reaches team:t1, so t1 matches
    // `fromBlueprint: svc, value: s1`.
    assert!(m(vec![step("owner", 1)], "svc", one("s1"), "team", "t1"));
    assert!(m(vec![step("owner", 1)], "svc", one("s9"), "team", "t1"));
    assert!(!m(vec![step("owner", 1)], "svc", one("s2"), "team", "t1"));
    assert!(
        !m(vec![step("owner", 1)], "team", one("s1"), "team", "t1"),
        "blueprint checked"
    );
    // Two steps: the org reached from s1 and s4.
    let owner_org = || vec![step("owner", 1), step("org", 1)];
    assert!(m(owner_org(), "svc", one("s1"), "org", "o"));
    assert!(m(owner_org(), "svc", one("s4"), "org", "o"));
    assert!(!m(owner_org(), "svc", one("s2"), "org", "o"));
    assert!(m(
        owner_org(),
        "svc",
        Operand::Many(vec![s("s3"), s("s4")]),
        "org",
        "o"
    ));
    // maxHops: s4 is reached from s1 in 3 hops, from s3 in 1, from s2 in 2.
    let parents = |n| vec![step("parent", n)];
    assert!(m(parents(3), "svc", one("s1"), "svc", "s4"));
    assert!(!m(parents(2), "svc", one("s1"), "svc", "s4"));
    assert!(m(parents(2), "svc", one("s2"), "svc", "s4"));
    assert!(m(parents(1), "svc", one("s3"), "svc", "s4"));
    assert!(!m(parents(15), "svc", one("s1"), "svc", "s1"));
    assert!(
        m(parents(3), "svc", one("s2"), "svc", "s2"),
        "through the cycle"
    );
    // Steps are walked in reverse: t2 is owned by s2, reached from s1 in 1 hop.
    assert!(m(
        vec![step("parent", 1), step("owner", 1)],
        "svc",
        one("s1"),
        "team",
        "t2"
    ));
    assert!(!m(
        vec![step("parent", 1), step("owner", 1)],
        "svc",
        one("s1"),
        "team",
        "t3"
    ));
    assert!(m(
        vec![step("parent", 2), step("owner", 1)],
        "svc",
        one("s1"),
        "team",
        "t3"
    ));
    assert!(!m(
        vec![step("owner", 1), step("parent", 1)],
        "svc",
        one("s1"),
        "team",
        "t2"
    ));
    assert!(!m(parents(3), "svc", Operand::Nothing, "svc", "s4"));
    // Forward and backward walks agree on every pair.
    let svcs = ["s1", "s2", "s3", "s4", "s9"];
    for hops in 1..=4 {
        for from in svcs {
            for to in svcs {
                let up = matches(
                    &match_any(parents(hops), None, one(to)),
                    &node("svc", from),
                    &g,
                    NOW,
                );
                let down = m(parents(hops), "svc", one(from), "svc", to);
                assert_eq!(up, down, "{from} -> {to} in {hops}");
            }
        }
    }
}

#[test]
fn match_any_hops_are_bounded() {
    // A chain of 40 services: at most MAX_HOPS hops are followed.
    let edges = (0..40)
        .map(|i| {
            edge(
                ("svc", &i.to_string()),
                "parent",
                false,
                ("svc", &(i + 1).to_string()),
            )
        })
        .collect();
    let g = MemoryGraph::new(edges);
    let q = |hops, id: &str| match_any(vec![step("parent", hops)], None, Operand::One(s(id)));
    assert!(matches(&q(15, "15"), &node("svc", "0"), &g, NOW));
    assert!(!matches(&q(15, "16"), &node("svc", "0"), &g, NOW));
    assert!(!matches(&q(u8::MAX, "16"), &node("svc", "0"), &g, NOW));
    assert!(
        matches(&q(0, "1"), &node("svc", "0"), &g, NOW),
        "0 hops count as 1"
    );
}
