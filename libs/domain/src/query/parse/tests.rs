//! Parser tests. The org: `service` -> `domain` -> `team`, with self-relations `service.deps`
//! (many) and `domain.parent`, a property `shared` of a different kind on `service` and
//! `domain`, a relation `link` single on one and many on the other, and `orphan` whose
//! relation targets a blueprint that does not exist.

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::*;
use crate::error::Issue;
use crate::query::ast::*;
use crate::query::index::parse_instant;

mod candidates;
mod context;
mod kinds;
mod relations;
mod structure;
mod values;

fn blueprint(body: Value) -> Blueprint {
    match Blueprint::parse(&body) {
        Ok(b) => b,
        Err(issues) => panic!("fixture blueprint should parse: {issues:?}"),
    }
}

fn org() -> IndexMap<String, Blueprint> {
    let service = blueprint(json!({
        "identifier": "service",
        "title": "Service",
        "schema": {"properties": {
            "name": {"type": "string"},
            "url": {"type": "string", "format": "url"},
            "port": {"type": "number"},
            "on": {"type": "boolean"},
            "at": {"type": "string", "format": "date-time"},
            "deadline": {"type": "string", "format": "timer"},
            "meta": {"type": "object"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "nums": {"type": "array", "items": {"type": "number"}},
            "flags": {"type": "array", "items": {"type": "boolean"}},
            "dates": {"type": "array", "items": {"type": "string", "format": "date-time"}},
            "any": {"type": "array"},
            "shared": {"type": "string"}
        }},
        "relations": {
            "domain": {"target": "domain", "required": true, "many": false},
            "deps": {"target": "service", "many": true},
            "link": {"target": "team", "many": false}
        }
    }));
    let domain = blueprint(json!({
        "identifier": "domain",
        "title": "Domain",
        "schema": {"properties": {
            "name": {"type": "string"},
            "shared": {"type": "number"},
            "budget": {"type": "number"}
        }},
        "relations": {
            "owner": {"target": "team", "many": false},
            "parent": {"target": "domain", "many": false},
            "link": {"target": "team", "many": true}
        }
    }));
    let team = blueprint(json!({
        "identifier": "team",
        "title": "Team",
        "schema": {"properties": {"name": {"type": "string"}}}
    }));
    let orphan = blueprint(json!({
        "identifier": "orphan",
        "title": "Orphan",
        "schema": {"properties": {}},
        "relations": {"ghost": {"target": "missing", "many": false}}
    }));
    [service, domain, team, orphan]
        .into_iter()
        .map(|b| (b.identifier.clone(), b))
        .collect()
}

/// Parses `q` against the test org.
fn run(q: &Value, blueprint: Option<&str>, pointer: &str) -> Result<Parsed, Issues> {
    let org = org();
    parse(
        q,
        &ParseScope {
            blueprints: &org,
            blueprint,
            pointer,
        },
    )
}

fn ok(q: &Value, blueprint: Option<&str>) -> Parsed {
    match run(q, blueprint, "") {
        Ok(p) => p,
        Err(issues) => panic!("{q} should parse: {issues:?}"),
    }
}

/// `(pointer, message)` of every issue; empty when the query parses.
fn issues(q: &Value, blueprint: Option<&str>) -> Vec<(String, String)> {
    match run(q, blueprint, "") {
        Ok(_) => Vec::new(),
        Err(issues) => issues
            .0
            .into_iter()
            .map(|i| (i.pointer, i.message))
            .collect(),
    }
}

fn and(rules: impl IntoIterator<Item = Value>) -> Value {
    json!({"combinator": "and", "rules": rules.into_iter().collect::<Vec<_>>()})
}

/// The rule of a one-rule query on `service`.
fn rule(r: Value) -> Rule {
    let parsed = ok(&and([r.clone()]), Some("service"));
    match parsed.query.rules.as_slice() {
        [Node::Rule(rule)] => rule.clone(),
        other => panic!("{r}: expected one rule, got {other:?}"),
    }
}

/// The issues of a one-rule query on `service`, pointers relative to the rule.
fn rule_issues(r: Value) -> Vec<(String, String)> {
    issues(&and([r]), Some("service"))
        .into_iter()
        .map(|(p, m)| match p.strip_prefix("/rules/0") {
            Some(rest) => (rest.to_owned(), m),
            None => panic!("issue outside the rule: {p}: {m}"),
        })
        .collect()
}

/// Asserts the rule has exactly one issue, at `pointer` (relative to the rule), whose message
/// contains `needle`.
fn assert_issue(r: Value, pointer: &str, needle: &str) {
    let found = rule_issues(r.clone());
    match found.as_slice() {
        [(p, m)] if p == pointer && m.contains(needle) => {}
        _ => panic!("{r}: expected one issue at {pointer:?} containing {needle:?}, got {found:?}"),
    }
}

fn prop(key: &str, kind: Kind) -> Field {
    Field::Property {
        key: key.to_owned(),
        kind,
    }
}

fn s(v: &str) -> Scalar {
    Scalar::Str(v.to_owned())
}

fn t(v: &str) -> Scalar {
    match parse_instant(v) {
        Some(t) => Scalar::Time(t),
        None => panic!("bad instant in test: {v}"),
    }
}

fn cmp(field: Field, op: Op, value: Operand, negate: bool) -> Rule {
    Rule::Compare {
        field,
        op,
        value,
        negate,
    }
}
