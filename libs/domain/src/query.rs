//! Port's query language: one typed AST, one parser, one in-memory evaluator.
//!
//! The same queries serve search, read policies, action conditions, scorecard rules,
//! aggregation queries and lookups in writes. The parser ([`parse()`]) checks a query against the
//! org's blueprints and produces a [`Query`] whose every rule is typed: the field's [`Kind`] is
//! known and the value has been converted (dates to microseconds, numbers to `f64`). The store
//! compiles that AST to SQL (PostgreSQL and SQLite); [`eval`] evaluates it on one entity in
//! memory. Both follow the semantics written on each type below, and a property-based test
//! checks that they agree.
//!
//! Semantics shared by every consumer:
//! - Negated operators (`!=`, `notIn`, `doesNotContains`, `doesNotBeginsWith`,
//!   `doesNotEndsWith`, `notBetween`, `isNotEmpty`, `isNotExpired`) are exactly `NOT` of their
//!   positive operator, so an entity without the property matches them.
//! - A positive comparison never matches a missing or `null` value.
//! - String comparisons are exact and case-sensitive, by Unicode scalar values.
//! - Dates compare as instants (microsecond precision), whatever their time zone offset.
//! - `and` of no rules matches everything, `or` of no rules matches nothing.

use serde_json::Value;

pub mod ast;
pub mod bind;
pub mod eval;
pub mod index;
pub mod parse;

pub use ast::*;
pub use bind::{QueryContext, bind};
pub use eval::{Edge, Graph, NoGraph, matches};
pub use index::{IndexRow, MAX_INDEXED_CHARS, index_rows, parse_instant};
pub use parse::{ParseScope, Parsed, parse};

/// Is this JSON value a query (`{combinator, rules}`) rather than a plain value? Used where
/// Port lets a query stand in for an identifier, a team or a relation target.
pub fn is_query(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("combinator") && o.contains_key("rules"))
}
