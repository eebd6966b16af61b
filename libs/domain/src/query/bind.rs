//! Binding a query to the moment and the caller: context values, date presets, "now".
//!
//! Context resolution (`{context, property}`):
//! - the property is read like a field: a meta name (`$identifier`, `$team`, ...) reads the
//!   entity's member, any other name `properties[name]`; `userTeams` reads it on every team
//!   entity (one value per team); without a user entity a `user` context is `Operand::Nothing`;
//! - array values are flattened into their items (unless the wanted kind is itself an array or
//!   an object and the operator takes one value: then the whole value is kept, as
//!   `Scalar::Json`), `null` and values that do not convert to the wanted kind are dropped,
//!   duplicates are removed;
//! - a list operator gets `Operand::Many` of every value (possibly empty); any other operator
//!   gets `Operand::One` when exactly one distinct value is left, else `Operand::Nothing` (a
//!   caller in two teams compared with `=` matches nothing, unless both teams hold the same
//!   value).
//!
//! A rule about the caller (`OnContext`) compares the caller's value(s) with the same code as
//! the evaluator: the property's value as a field of kind `want` when it is a single value, as
//! an array of `want` items when it is an array or comes from `userTeams` (all teams' values,
//! arrays flattened).

use serde_json::Value;

use super::ast::{
    ContextRef, ContextSource, DateRange, Item, Kind, Node, Operand, Preset, Query, Rule, Scalar,
};
use super::eval::{compare, named_value};
use super::index::parse_instant;

/// Who runs the query, and when.
#[derive(Debug, Clone, Default)]
pub struct QueryContext {
    /// The caller's user entity in Port's read shape (`None` for machine credentials).
    pub user: Option<Value>,
    /// The caller's team entities in Port's read shape.
    pub teams: Vec<Value>,
    /// Now, microseconds since the epoch.
    pub now: i64,
}

/// Returns `query` with every `Operand::Context` resolved (to `One`, `Many` or `Nothing`),
/// every `OnContext` rule turned into `Const`, every date preset into a fixed range and every
/// `Expired` rule's `now` set.
pub fn bind(query: &Query, ctx: &QueryContext) -> Query {
    Query {
        combinator: query.combinator,
        rules: query.rules.iter().map(|n| bind_node(n, ctx)).collect(),
    }
}

const DAY: i64 = 86_400_000_000;

/// The fixed range `[from, to]` (µs, inclusive) of a date preset at `now` (µs): `today`,
/// `tomorrow`, `yesterday` are whole UTC days (`[00:00, next day 00:00 - 1µs]`); `lastN` is
/// `[now - N, now]`, `nextN` `[now, now + N]`, with months of 30 days, `12 months` of 365 days
/// and years of 365 days.
pub fn preset_range(p: Preset, now: i64) -> (i64, i64) {
    let midnight = now.div_euclid(DAY).saturating_mul(DAY);
    let day_at = |offset: i64| {
        let from = midnight.saturating_add(offset.saturating_mul(DAY));
        (from, from.saturating_add(DAY - 1))
    };
    let last = |days: i64| (now.saturating_sub(days.saturating_mul(DAY)), now);
    let next = |days: i64| (now, now.saturating_add(days.saturating_mul(DAY)));
    match p {
        Preset::Today => day_at(0),
        Preset::Tomorrow => day_at(1),
        Preset::Yesterday => day_at(-1),
        Preset::LastDay => last(1),
        Preset::LastWeek => last(7),
        Preset::Last2Weeks => last(14),
        Preset::LastMonth => last(30),
        Preset::Last3Months => last(90),
        Preset::Last6Months => last(180),
        Preset::Last12Months => last(365),
        Preset::Last2Years => last(730),
        Preset::Last3Years => last(1095),
        Preset::NextDay => next(1),
        Preset::NextWeek => next(7),
        Preset::Next2Weeks => next(14),
        Preset::NextMonth => next(30),
        Preset::Next3Months => next(90),
        Preset::Next6Months => next(180),
        Preset::Next12Months => next(365),
    }
}

fn bind_node(n: &Node, ctx: &QueryContext) -> Node {
    match n {
        Node::Rule(r) => Node::Rule(bind_rule(r, ctx)),
        Node::Query(q) => Node::Query(bind(q, ctx)),
    }
}

fn bind_rule(r: &Rule, ctx: &QueryContext) -> Rule {
    match r {
        Rule::Compare {
            field,
            op,
            value,
            negate,
        } => Rule::Compare {
            field: field.clone(),
            op: *op,
            value: bind_operand(value, ctx),
            negate: *negate,
        },
        Rule::Between {
            field,
            range,
            negate,
        } => Rule::Between {
            field: field.clone(),
            range: match *range {
                DateRange::Preset(p) => {
                    let (from, to) = preset_range(p, ctx.now);
                    DateRange::Fixed { from, to }
                }
                fixed @ DateRange::Fixed { .. } => fixed,
            },
            negate: *negate,
        },
        Rule::Expired { field, negate, now } => Rule::Expired {
            field: field.clone(),
            negate: *negate,
            now: Some(now.unwrap_or(ctx.now)),
        },
        Rule::MatchAny {
            path,
            from_blueprint,
            values,
        } => Rule::MatchAny {
            path: path.clone(),
            from_blueprint: from_blueprint.clone(),
            values: bind_operand(values, ctx),
        },
        Rule::OnContext {
            field,
            op,
            value,
            negate,
        } => {
            let value = bind_operand(value, ctx);
            let left = context_value(field, ctx);
            let kind = match &left {
                Some(Value::Array(_)) => Kind::Array(item_of(field.want)),
                _ => field.want,
            };
            Rule::Const(compare(kind, left.as_ref(), *op, &value) != *negate)
        }
        Rule::Empty { .. } | Rule::RelatedTo { .. } | Rule::Const(_) => r.clone(),
    }
}

/// Resolves an `Operand::Context`; any other operand is returned as is.
pub fn bind_operand(operand: &Operand, ctx: &QueryContext) -> Operand {
    let Operand::Context(c) = operand else {
        return operand.clone();
    };
    if c.source == ContextSource::User && ctx.user.is_none() {
        return Operand::Nothing;
    }
    let whole = !c.list && matches!(c.want, Kind::Array(_) | Kind::Object);
    let mut values: Vec<Scalar> = Vec::new();
    let mut push = |s: Option<Scalar>| {
        if let Some(s) = s
            && !values.contains(&s)
        {
            values.push(s);
        }
    };
    for raw in raw_values(c, ctx) {
        match raw {
            Value::Array(items) if !whole => {
                let item = item_of(c.want);
                for i in items {
                    push(item_scalar(item, i));
                }
            }
            v if whole => push(Some(Scalar::Json(v.clone()))),
            v => push(kind_scalar(c.want, v)),
        }
    }
    if c.list {
        return Operand::Many(values);
    }
    match <[Scalar; 1]>::try_from(values) {
        Ok([one]) => Operand::One(one),
        Err(_) => Operand::Nothing,
    }
}

/// The context property's values: the user's one value, or one per team (`null` skipped).
fn raw_values<'a>(c: &ContextRef, ctx: &'a QueryContext) -> Vec<&'a Value> {
    match c.source {
        ContextSource::User => ctx
            .user
            .as_ref()
            .and_then(|u| named_value(u, &c.property))
            .into_iter()
            .collect(),
        ContextSource::UserTeams => ctx
            .teams
            .iter()
            .filter_map(|t| named_value(t, &c.property))
            .collect(),
    }
}

/// The left side of a rule about the caller: the user's value (as is), or the array of every
/// team's value (arrays flattened); `None` without a user entity or value.
fn context_value(c: &ContextRef, ctx: &QueryContext) -> Option<Value> {
    match c.source {
        ContextSource::User => raw_values(c, ctx).first().map(|v| (*v).clone()),
        ContextSource::UserTeams => {
            let mut all = Vec::new();
            for v in raw_values(c, ctx) {
                match v {
                    Value::Array(items) => all.extend(items.iter().cloned()),
                    v => all.push(v.clone()),
                }
            }
            Some(Value::Array(all))
        }
    }
}

/// The item kind matching a wanted kind (the kind itself for scalars, the items' for arrays).
fn item_of(want: Kind) -> Item {
    match want {
        Kind::String => Item::String,
        Kind::Number => Item::Number,
        Kind::Boolean => Item::Boolean,
        Kind::Date => Item::Date,
        Kind::Object => Item::Any,
        Kind::Array(item) => item,
    }
}

fn item_scalar(item: Item, v: &Value) -> Option<Scalar> {
    match item {
        Item::String => v.as_str().map(|s| Scalar::Str(s.to_owned())),
        Item::Number => v.as_f64().map(Scalar::Num),
        Item::Boolean => v.as_bool().map(Scalar::Bool),
        Item::Date => v.as_str().and_then(parse_instant).map(Scalar::Time),
        Item::Any => (!v.is_null()).then(|| Scalar::Json(v.clone())),
    }
}

fn kind_scalar(want: Kind, v: &Value) -> Option<Scalar> {
    match want {
        Kind::Object | Kind::Array(_) => Some(Scalar::Json(v.clone())),
        k => item_scalar(item_of(k), v),
    }
}

#[cfg(test)]
mod tests;
