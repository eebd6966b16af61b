//! JSON -> typed [`Query`], checked against the org's blueprints.
//!
//! The parser collects every issue it can: a bad rule is reported and left out, and the rest
//! of the query is still checked. Files: [`operator`] (operator names and which apply to which
//! kind), [`value`] (values: scalars, lists, date ranges, context references), [`rule`]
//! (property, relation and context rules), [`relation`] (`relatedTo`, `matchAny` paths).

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::ast::{Combinator, MAX_DEPTH, MAX_RULES, Node, Query};
use crate::blueprint::Blueprint;
use crate::error::{Issues, escape_token};

mod operator;
mod relation;
mod rule;
mod value;

/// Longest string (in characters) accepted in a value: a compared string, a list item, an
/// identifier, a context property name.
pub const MAX_VALUE_CHARS: usize = 1000;

/// What a query is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ParseScope<'a> {
    /// Every blueprint of the org, by identifier.
    pub blueprints: &'a IndexMap<String, Blueprint>,
    /// The blueprint the search is confined to (the blueprint search route, a policy, a
    /// relation lookup), if any.
    pub blueprint: Option<&'a str>,
    /// JSON pointer of the query inside the request body (`""` when the body is the query,
    /// `/query` for the blueprint search body); prefixes every issue's pointer.
    pub pointer: &'a str,
}

/// A parsed query and the blueprints it can match.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub query: Query,
    /// The candidate blueprints, in the org's order: `scope.blueprint` when set; else those
    /// named by `$blueprint` `=` / `in` rules at the top level of an `and` query; else every
    /// blueprint of the org.
    pub blueprints: Vec<String>,
}

/// Parses and checks a query. Every problem is reported with the JSON pointer of the offending
/// member.
pub fn parse(body: &Value, scope: &ParseScope<'_>) -> Result<Parsed, Issues> {
    let blueprints = match scope.blueprint {
        Some(bp) if scope.blueprints.contains_key(bp) => vec![bp.to_owned()],
        Some(bp) => {
            let mut issues = Issues::default();
            issues.push(scope.pointer, format!("unknown blueprint `{bp}`"));
            return Err(issues);
        }
        None => candidates(body, scope.blueprints),
    };
    let mut parser = Parser {
        blueprints: scope.blueprints,
        candidates: blueprints
            .iter()
            .filter_map(|b| scope.blueprints.get(b))
            .collect(),
        issues: Issues::default(),
        rules: 0,
    };
    let query = parser.query(body, scope.pointer, 0);
    parser.issues.into_result(Parsed { query, blueprints })
}

/// The candidate blueprints when the scope names none: the intersection of the `$blueprint`
/// `=` (string) and `in` (list) rules directly in the top-level rules of an `and` query, or
/// every blueprint. Unknown names are dropped here and reported by the rule's own check.
fn candidates(body: &Value, all: &IndexMap<String, Blueprint>) -> Vec<String> {
    let mut named: Option<Vec<&str>> = None;
    if let Some(root) = body.as_object()
        && root.get("combinator").and_then(Value::as_str) == Some("and")
        && let Some(Value::Array(rules)) = root.get("rules")
    {
        for rule in rules.iter().filter_map(Value::as_object) {
            if rule.get("property").and_then(Value::as_str) != Some("$blueprint") {
                continue;
            }
            let names: Vec<&str> = match (
                rule.get("operator").and_then(Value::as_str),
                rule.get("value"),
            ) {
                (Some("="), Some(Value::String(s))) => vec![s.as_str()],
                (Some("in"), Some(Value::Array(items))) => {
                    items.iter().filter_map(Value::as_str).collect()
                }
                _ => continue,
            };
            named = Some(match named {
                None => names,
                Some(prev) => prev.into_iter().filter(|n| names.contains(n)).collect(),
            });
        }
    }
    match named {
        None => all.keys().cloned().collect(),
        Some(names) => all
            .keys()
            .filter(|k| names.contains(&k.as_str()))
            .cloned()
            .collect(),
    }
}

/// The state of one parse.
struct Parser<'a> {
    /// Every blueprint of the org.
    blueprints: &'a IndexMap<String, Blueprint>,
    /// The candidate blueprints ([`Parsed::blueprints`]), which property and relation rules
    /// are checked against.
    candidates: Vec<&'a Blueprint>,
    issues: Issues,
    /// Members of `rules` arrays seen so far, over every level.
    rules: usize,
}

/// `ptr` extended by one member name (escaped) or index.
fn join(ptr: &str, token: impl std::fmt::Display) -> String {
    format!("{ptr}/{}", escape_token(&token.to_string()))
}

/// The members a nested query may have (the root may carry others, e.g. a search body's
/// `limit` and `from`, which are the caller's business).
const QUERY_MEMBERS: &[&str] = &["combinator", "rules"];

impl Parser<'_> {
    /// A query at `depth` (the root is 0). On error, what could be parsed is returned and the
    /// issues are recorded.
    fn query(&mut self, v: &Value, ptr: &str, depth: usize) -> Query {
        let mut out = Query {
            combinator: Combinator::And,
            rules: Vec::new(),
        };
        let Some(obj) = v.as_object() else {
            self.issues.push(
                ptr,
                "a query must be an object with `combinator` and `rules`",
            );
            return out;
        };
        if depth > 0 {
            self.unknown_members(obj, ptr, QUERY_MEMBERS, "a nested query");
        }
        let cptr = join(ptr, "combinator");
        match obj.get("combinator") {
            Some(Value::String(s)) if s == "and" => out.combinator = Combinator::And,
            Some(Value::String(s)) if s == "or" => out.combinator = Combinator::Or,
            None | Some(Value::Null) => self
                .issues
                .push(cptr, "combinator is required: `and` or `or`"),
            Some(_) => self.issues.push(cptr, "combinator must be `and` or `or`"),
        }
        let rptr = join(ptr, "rules");
        let rules: &[Value] = match obj.get("rules") {
            Some(Value::Array(rules)) => rules,
            None | Some(Value::Null) => {
                self.issues
                    .push(&rptr, "rules is required (it may be empty)");
                &[]
            }
            Some(_) => {
                self.issues.push(&rptr, "rules must be an array");
                &[]
            }
        };
        for (i, rule) in rules.iter().enumerate() {
            let ptr = join(&rptr, i);
            self.rules += 1;
            if self.rules > MAX_RULES {
                self.issues.push(
                    ptr,
                    format!("a query may hold at most {MAX_RULES} rules, counted over every level"),
                );
                break;
            }
            if let Some(node) = self.node(rule, &ptr, depth) {
                out.rules.push(node);
            }
        }
        out
    }

    /// One member of a `rules` array of a query at `depth`: a nested query or a rule.
    fn node(&mut self, v: &Value, ptr: &str, depth: usize) -> Option<Node> {
        let Some(obj) = v.as_object() else {
            self.issues
                .push(ptr, "a rule must be an object (a rule or a nested query)");
            return None;
        };
        if obj.contains_key("combinator") || obj.contains_key("rules") {
            if depth >= MAX_DEPTH {
                self.issues.push(
                    ptr,
                    format!("queries may nest at most {MAX_DEPTH} levels deep"),
                );
                return None;
            }
            return Some(Node::Query(self.query(v, ptr, depth + 1)));
        }
        self.rule(obj, ptr).map(Node::Rule)
    }

    /// Reports every member of `obj` not in `allowed`.
    fn unknown_members(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        allowed: &[&str],
        what: &str,
    ) {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
                self.issues.push(
                    join(ptr, key),
                    format!("unknown member `{key}`: {what} has {}", list.join(", ")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
