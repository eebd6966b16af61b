//! The in-memory evaluator: does one entity match a query?
//!
//! Decisions beyond the AST's documentation (the SQL compilers follow them too):
//! - A value whose JSON type does not fit the field's kind (a string where a number is
//!   expected, an unparseable date, ...) is treated as missing; array items that do not fit the
//!   item kind are skipped.
//! - Operators that take one value (`Eq`, `Gt`, `Contains`, `BeginsWith`, ...) match nothing
//!   when given `Operand::Many`; list operators (`In`, `ContainsAny`) take `Operand::One` as a
//!   list of one value.
//! - `Eq` on an array field compares the whole array with a `Scalar::Json` (JSON equality, see
//!   [`json_eq`]); with any other scalar it matches nothing. `Gt`/`Ge`/`Lt`/`Le` apply to
//!   numbers and dates only; `BeginsWith`/`EndsWith` to strings only; `Contains` to strings
//!   (substring) and arrays (some item equals the value).
//! - `In` and `ContainsAny` are the same operator: on an array field some item is one of the
//!   list, on any other field the value is one of the list.
//! - `relatedTo` walks each direction separately (an upstream walk never turns downstream);
//!   an entity matches when some walk reaches it by one or more edges, so a start entity
//!   matches only when reached from another start or back through a cycle.
//! - `matchAny` compares identifiers only (non-string values are ignored; the blueprint is
//!   checked only against `from_blueprint`); an empty path ends where it starts (the entity).

use std::collections::{HashSet, VecDeque};

use serde_json::Value;

use super::ast::{
    Combinator, DateRange, Direction, Field, Item, Kind, MAX_HOPS, Meta, Node, Op, Operand,
    PathStep, Query, Rule, Scalar,
};
use super::bind::preset_range;
use super::index::parse_instant;

/// A relation edge between two entities.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Edge {
    pub source_blueprint: String,
    pub source_identifier: String,
    pub relation: String,
    /// The relation's `required` flag.
    pub required: bool,
    pub target_blueprint: String,
    pub target_identifier: String,
}

/// Access to relation edges, for `relatedTo` and `matchAny`.
pub trait Graph {
    /// Edges whose source is the entity.
    fn outgoing(&self, blueprint: &str, identifier: &str) -> Vec<Edge>;
    /// Edges whose target is the entity.
    fn incoming(&self, blueprint: &str, identifier: &str) -> Vec<Edge>;
}

/// A graph without edges (queries without relation rules).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGraph;

impl Graph for NoGraph {
    fn outgoing(&self, _: &str, _: &str) -> Vec<Edge> {
        Vec::new()
    }
    fn incoming(&self, _: &str, _: &str) -> Vec<Edge> {
        Vec::new()
    }
}

/// A graph held in memory as a list of edges (tests, small in-memory stores).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryGraph {
    pub edges: Vec<Edge>,
}

impl MemoryGraph {
    pub fn new(edges: Vec<Edge>) -> MemoryGraph {
        MemoryGraph { edges }
    }
}

impl Graph for MemoryGraph {
    fn outgoing(&self, blueprint: &str, identifier: &str) -> Vec<Edge> {
        self.edges
            .iter()
            .filter(|e| e.source_blueprint == blueprint && e.source_identifier == identifier)
            .cloned()
            .collect()
    }
    fn incoming(&self, blueprint: &str, identifier: &str) -> Vec<Edge> {
        self.edges
            .iter()
            .filter(|e| e.target_blueprint == blueprint && e.target_identifier == identifier)
            .cloned()
            .collect()
    }
}

/// Does `entity` match `query`? `entity` is in Port's read shape (`identifier`, `title`,
/// `icon`, `team`, `blueprint`, `properties`, `relations`, `createdAt`, `updatedAt`,
/// `createdBy`, `updatedBy`) plus an optional top-level `$datasource` string. `now` (µs since
/// the epoch) serves `isExpired` rules that `bind` did not fix.
pub fn matches(query: &Query, entity: &Value, graph: &dyn Graph, now: i64) -> bool {
    let ev = Evaluator { entity, graph, now };
    ev.query(query)
}

struct Evaluator<'a> {
    entity: &'a Value,
    graph: &'a dyn Graph,
    now: i64,
}

impl Evaluator<'_> {
    fn query(&self, q: &Query) -> bool {
        match q.combinator {
            Combinator::And => q.rules.iter().all(|n| self.node(n)),
            Combinator::Or => q.rules.iter().any(|n| self.node(n)),
        }
    }

    fn node(&self, n: &Node) -> bool {
        match n {
            Node::Rule(r) => self.rule(r),
            Node::Query(q) => self.query(q),
        }
    }

    fn rule(&self, r: &Rule) -> bool {
        match r {
            Rule::Compare {
                field,
                op,
                value,
                negate,
            } => compare(field.kind(), field_value(self.entity, field), *op, value) != *negate,
            Rule::Between {
                field,
                range,
                negate,
            } => {
                let (from, to) = match *range {
                    DateRange::Fixed { from, to } => (from, to),
                    DateRange::Preset(p) => preset_range(p, self.now),
                };
                let inside = instant(field.kind(), field_value(self.entity, field))
                    .is_some_and(|t| from <= t && t <= to);
                inside != *negate
            }
            Rule::Empty { field, negate } => {
                let empty = match field_value(self.entity, field) {
                    None => true,
                    Some(Value::Array(items)) => items.is_empty(),
                    Some(_) => false,
                };
                empty != *negate
            }
            Rule::Expired { field, negate, now } => {
                let now = now.unwrap_or(self.now);
                let expired =
                    instant(field.kind(), field_value(self.entity, field)).is_some_and(|t| t < now);
                expired != *negate
            }
            Rule::RelatedTo {
                blueprint,
                ids,
                direction,
                required,
            } => {
                let Some(me) = entity_node(self.entity) else {
                    return false;
                };
                let starts: Vec<(String, String)> = ids
                    .iter()
                    .map(|id| (blueprint.clone(), id.clone()))
                    .collect();
                let dirs: &[Direction] = match direction {
                    Some(Direction::Upstream) => &[Direction::Upstream],
                    Some(Direction::Downstream) => &[Direction::Downstream],
                    None => &[Direction::Upstream, Direction::Downstream],
                };
                dirs.iter()
                    .any(|d| reaches(self.graph, &starts, *d, *required, (me.0, me.1)))
            }
            Rule::MatchAny {
                path,
                from_blueprint,
                values,
            } => {
                let ids = identifiers(values);
                if ids.is_empty() {
                    return false;
                }
                let Some((bp, id)) = entity_node(self.entity) else {
                    return false;
                };
                let start = (bp.to_owned(), id.to_owned());
                match from_blueprint {
                    None => walk_path(self.graph, start, path.iter(), false)
                        .iter()
                        .any(|(_, id)| ids.contains(&id.as_str())),
                    Some(from) => walk_path(self.graph, start, path.iter().rev(), true)
                        .iter()
                        .any(|(b, id)| b == from && ids.contains(&id.as_str())),
                }
            }
            Rule::Const(b) => *b,
            Rule::OnContext { .. } => false,
        }
    }
}

/// The entity's member holding a meta-property (`$team` -> `team`, `$datasource` ->
/// `$datasource`).
pub fn meta_key(m: Meta) -> &'static str {
    match m {
        Meta::Identifier => "identifier",
        Meta::Title => "title",
        Meta::Team => "team",
        Meta::Icon => "icon",
        Meta::Blueprint => "blueprint",
        Meta::CreatedAt => "createdAt",
        Meta::UpdatedAt => "updatedAt",
        Meta::CreatedBy => "createdBy",
        Meta::UpdatedBy => "updatedBy",
        Meta::Datasource => "$datasource",
    }
}

/// The value of `field` on `entity` (Port's read shape); `None` when missing or `null`.
pub fn field_value<'a>(entity: &'a Value, field: &Field) -> Option<&'a Value> {
    let v = match field {
        Field::Meta(m) => entity.get(meta_key(*m)),
        Field::Property { key, .. } => entity.get("properties")?.get(key),
        Field::Relation { key, .. } => entity.get("relations")?.get(key),
    };
    v.filter(|v| !v.is_null())
}

/// The value named `name` on `entity`: a meta-property (`$identifier`, `$team`, ...) or else
/// `properties[name]`; `None` when missing or `null`. Used to read context properties.
pub fn named_value<'a>(entity: &'a Value, name: &str) -> Option<&'a Value> {
    let v = match Meta::from_name(name) {
        Some(m) => entity.get(meta_key(m)),
        None => entity.get("properties")?.get(name),
    };
    v.filter(|v| !v.is_null())
}

/// JSON equality where numbers compare as `f64` (`1 == 1.0`) and object member order does
/// not matter.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, xv)| y.get(k).is_some_and(|yv| json_eq(xv, yv)))
        }
        _ => a == b,
    }
}

/// A field value read according to its kind.
#[derive(Debug, Clone, Copy)]
enum Typed<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Time(i64),
    Json(&'a Value),
}

impl Typed<'_> {
    fn of_kind(kind: Kind, v: &Value) -> Option<Typed<'_>> {
        match kind {
            Kind::String => v.as_str().map(Typed::Str),
            Kind::Number => v.as_f64().map(Typed::Num),
            Kind::Boolean => v.as_bool().map(Typed::Bool),
            Kind::Date => v.as_str().and_then(parse_instant).map(Typed::Time),
            Kind::Object | Kind::Array(_) => Some(Typed::Json(v)),
        }
    }

    fn of_item(item: Item, v: &Value) -> Option<Typed<'_>> {
        match item {
            Item::String => v.as_str().map(Typed::Str),
            Item::Number => v.as_f64().map(Typed::Num),
            Item::Boolean => v.as_bool().map(Typed::Bool),
            Item::Date => v.as_str().and_then(parse_instant).map(Typed::Time),
            Item::Any => Some(Typed::Json(v)),
        }
    }

    fn eq(self, s: &Scalar) -> bool {
        match (self, s) {
            (Typed::Str(a), Scalar::Str(b)) => a == b,
            (Typed::Num(a), Scalar::Num(b)) => a == *b,
            (Typed::Bool(a), Scalar::Bool(b)) => a == *b,
            (Typed::Time(a), Scalar::Time(b)) => a == *b,
            (Typed::Json(a), Scalar::Json(b)) => json_eq(a, b),
            _ => false,
        }
    }

    fn cmp(self, s: &Scalar) -> Option<std::cmp::Ordering> {
        match (self, s) {
            (Typed::Num(a), Scalar::Num(b)) => a.partial_cmp(b),
            (Typed::Time(a), Scalar::Time(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// The instant held by a date value (`None` when missing, not a date field, or unparseable).
fn instant(kind: Kind, value: Option<&Value>) -> Option<i64> {
    match kind {
        Kind::Date => value?.as_str().and_then(parse_instant),
        _ => None,
    }
}

/// Does `value` (of kind `kind`; `None` when missing or `null`) satisfy the positive operator
/// `op` against `operand`? A missing or `null` value, `Operand::Nothing` and an unbound
/// `Operand::Context` never do. Shared by the evaluator and `bind` (rules about the caller).
pub fn compare(kind: Kind, value: Option<&Value>, op: Op, operand: &Operand) -> bool {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return false;
    };
    let list: &[Scalar] = match operand {
        Operand::One(s) => std::slice::from_ref(s),
        Operand::Many(l) => l,
        Operand::Nothing | Operand::Context(_) => return false,
    };
    let one = match operand {
        Operand::One(s) => Some(s),
        _ => None,
    };
    let typed = || Typed::of_kind(kind, v);
    let items = || -> Vec<Typed<'_>> {
        match (kind, v) {
            (Kind::Array(item), Value::Array(items)) => items
                .iter()
                .filter_map(|i| Typed::of_item(item, i))
                .collect(),
            _ => Vec::new(),
        }
    };
    let strings = |f: fn(&str, &str) -> bool| match (kind, v, one) {
        (Kind::String, Value::String(a), Some(Scalar::Str(b))) => f(a, b),
        _ => false,
    };
    let ordered = |f: fn(std::cmp::Ordering) -> bool| {
        one.is_some_and(|s| typed().and_then(|t| t.cmp(s)).is_some_and(f))
    };
    match op {
        Op::Eq => one.is_some_and(|s| typed().is_some_and(|t| t.eq(s))),
        Op::Gt => ordered(|o| o.is_gt()),
        Op::Ge => ordered(|o| o.is_ge()),
        Op::Lt => ordered(|o| o.is_lt()),
        Op::Le => ordered(|o| o.is_le()),
        Op::Contains => match kind {
            Kind::Array(_) => one.is_some_and(|s| items().iter().any(|t| t.eq(s))),
            _ => strings(|a, b| a.contains(b)),
        },
        Op::BeginsWith => strings(|a, b| a.starts_with(b)),
        Op::EndsWith => strings(|a, b| a.ends_with(b)),
        Op::In | Op::ContainsAny => match kind {
            Kind::Array(_) => items().iter().any(|t| list.iter().any(|s| t.eq(s))),
            _ => typed().is_some_and(|t| list.iter().any(|s| t.eq(s))),
        },
    }
}

/// The identifiers of a `matchAny` value (strings only).
fn identifiers(values: &Operand) -> Vec<&str> {
    match values {
        Operand::One(Scalar::Str(s)) => vec![s.as_str()],
        Operand::Many(l) => l
            .iter()
            .filter_map(|s| match s {
                Scalar::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The entity's `(blueprint, identifier)`.
fn entity_node(entity: &Value) -> Option<(&str, &str)> {
    Some((
        entity.get("blueprint")?.as_str()?,
        entity.get("identifier")?.as_str()?,
    ))
}

type GraphNode = (String, String);

/// Is `target` reached by one or more edges from any of `starts`, walking in `dir` only?
fn reaches(
    graph: &dyn Graph,
    starts: &[GraphNode],
    dir: Direction,
    required: Option<bool>,
    target: (&str, &str),
) -> bool {
    let mut expanded: HashSet<GraphNode> = HashSet::new();
    let mut queue: VecDeque<GraphNode> = starts.iter().cloned().collect();
    while let Some(node) = queue.pop_front() {
        if expanded.contains(&node) {
            continue;
        }
        let edges = match dir {
            Direction::Upstream => graph.outgoing(&node.0, &node.1),
            Direction::Downstream => graph.incoming(&node.0, &node.1),
        };
        expanded.insert(node);
        for e in edges {
            if required.is_some_and(|r| e.required != r) {
                continue;
            }
            let next = match dir {
                Direction::Upstream => (e.target_blueprint, e.target_identifier),
                Direction::Downstream => (e.source_blueprint, e.source_identifier),
            };
            if next.0 == target.0 && next.1 == target.1 {
                return true;
            }
            if !expanded.contains(&next) {
                queue.push_back(next);
            }
        }
    }
    false
}

/// The entities at the end of `steps` walked from `start`: forward (source -> target) or
/// `backwards` (target -> source). A step with `max_hops` n follows its relation 1 to n times
/// and every entity reached on the way continues to the next step.
fn walk_path<'p>(
    graph: &dyn Graph,
    start: GraphNode,
    steps: impl Iterator<Item = &'p PathStep>,
    backwards: bool,
) -> HashSet<GraphNode> {
    let mut frontier: HashSet<GraphNode> = HashSet::from([start]);
    for step in steps {
        let hops = step.max_hops.clamp(1, MAX_HOPS);
        let mut reached: HashSet<GraphNode> = HashSet::new();
        let mut current: Vec<GraphNode> = frontier.into_iter().collect();
        for _ in 0..hops {
            let mut next = Vec::new();
            for (bp, id) in &current {
                let edges = if backwards {
                    graph.incoming(bp, id)
                } else {
                    graph.outgoing(bp, id)
                };
                for e in edges.into_iter().filter(|e| e.relation == step.relation) {
                    let node = if backwards {
                        (e.source_blueprint, e.source_identifier)
                    } else {
                        (e.target_blueprint, e.target_identifier)
                    };
                    if reached.insert(node.clone()) {
                        next.push(node);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            current = next;
        }
        frontier = reached;
        if frontier.is_empty() {
            break;
        }
    }
    frontier
}

#[cfg(test)]
mod tests;
