//! Operator names, and which operators apply to which kind of field.

use crate::query::ast::{Item, Kind, Op};

/// A rule's `operator`, with negative forms folded into `negate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
    Compare { op: Op, negate: bool },
    Between { negate: bool },
    Empty { negate: bool },
    Expired { negate: bool },
    RelatedTo,
    MatchAny,
}

impl Operator {
    pub(super) fn from_name(name: &str) -> Option<Operator> {
        let cmp = |op, negate| Operator::Compare { op, negate };
        Some(match name {
            "=" => cmp(Op::Eq, false),
            "!=" => cmp(Op::Eq, true),
            ">" => cmp(Op::Gt, false),
            ">=" => cmp(Op::Ge, false),
            "<" => cmp(Op::Lt, false),
            "<=" => cmp(Op::Le, false),
            "contains" => cmp(Op::Contains, false),
            "doesNotContains" => cmp(Op::Contains, true),
            "containsAny" => cmp(Op::ContainsAny, false),
            "beginsWith" => cmp(Op::BeginsWith, false),
            "doesNotBeginsWith" => cmp(Op::BeginsWith, true),
            "endsWith" => cmp(Op::EndsWith, false),
            "doesNotEndsWith" => cmp(Op::EndsWith, true),
            "in" => cmp(Op::In, false),
            "notIn" => cmp(Op::In, true),
            "between" => Operator::Between { negate: false },
            "notBetween" => Operator::Between { negate: true },
            "isEmpty" => Operator::Empty { negate: false },
            "isNotEmpty" => Operator::Empty { negate: true },
            "isExpired" => Operator::Expired { negate: false },
            "isNotExpired" => Operator::Expired { negate: true },
            "relatedTo" => Operator::RelatedTo,
            "matchAny" => Operator::MatchAny,
            _ => return None,
        })
    }
}

/// Does `op` apply to a field of `kind`? (See [`Op`].)
pub(super) fn applies(op: Op, kind: Kind) -> bool {
    use Op::*;
    match kind {
        Kind::String => matches!(op, Eq | Contains | BeginsWith | EndsWith | In),
        Kind::Number | Kind::Date => matches!(op, Eq | Gt | Ge | Lt | Le | In),
        Kind::Boolean | Kind::Object | Kind::Array(Item::Any) => op == Eq,
        Kind::Array(_) => matches!(op, Eq | Contains | ContainsAny | In),
    }
}

/// Does `op` take a list value?
pub(super) fn takes_list(op: Op) -> bool {
    matches!(op, Op::In | Op::ContainsAny)
}

/// The kind of one item of a field of `kind` (the kind itself for scalars and untyped arrays).
pub(super) fn element(kind: Kind) -> Kind {
    match kind {
        Kind::Array(Item::String) => Kind::String,
        Kind::Array(Item::Number) => Kind::Number,
        Kind::Array(Item::Boolean) => Kind::Boolean,
        Kind::Array(Item::Date) => Kind::Date,
        other => other,
    }
}

/// The array kind whose items are of `kind`.
pub(super) fn array_of(kind: Kind) -> Kind {
    Kind::Array(match kind {
        Kind::String => Item::String,
        Kind::Number => Item::Number,
        Kind::Boolean => Item::Boolean,
        Kind::Date => Item::Date,
        Kind::Object | Kind::Array(_) => Item::Any,
    })
}

/// The kind a comparison's value is converted to, and whether the value is a list: the
/// element kind for list operators and `contains` on an array, else the field's kind.
pub(super) fn value_kind(kind: Kind, op: Op) -> (Kind, bool) {
    match (kind, op) {
        (_, Op::In | Op::ContainsAny) => (element(kind), true),
        (Kind::Array(_), Op::Contains) => (element(kind), false),
        _ => (kind, false),
    }
}

/// `string`, `number`, ..., `array of strings`: for messages.
pub(super) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "string",
        Kind::Number => "number",
        Kind::Boolean => "boolean",
        Kind::Date => "date",
        Kind::Object => "object",
        Kind::Array(Item::String) => "array of strings",
        Kind::Array(Item::Number) => "array of numbers",
        Kind::Array(Item::Boolean) => "array of booleans",
        Kind::Array(Item::Date) => "array of dates",
        Kind::Array(Item::Any) => "array",
    }
}

/// What a value of `kind` must be: `a string`, `a date (...)`: for messages.
pub(super) fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "a string",
        Kind::Number => "a number",
        Kind::Boolean => "a boolean",
        Kind::Date => "a date (RFC 3339, e.g. `2024-01-31T12:00:00Z`, or `YYYY-MM-DD`)",
        Kind::Object => "an object",
        Kind::Array(_) => "an array",
    }
}

/// The plural of [`expected`] for list items: `strings`, `numbers`, ...
pub(super) fn expected_items(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "strings",
        Kind::Number => "numbers",
        Kind::Boolean => "booleans",
        Kind::Date => "dates",
        Kind::Object => "objects",
        Kind::Array(_) => "arrays",
    }
}
