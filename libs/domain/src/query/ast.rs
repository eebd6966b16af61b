//! The typed query AST. Every consumer (SQL compilers, the evaluator) implements exactly the
//! semantics documented here.

use serde_json::Value;

/// Deepest nesting of queries accepted (a query inside a query counts one level).
pub const MAX_DEPTH: usize = 8;
/// Most rules in one query, counted over every level.
pub const MAX_RULES: usize = 200;
/// Most values in one `in` / `notIn` / `containsAny` / `relatedTo` / `matchAny` list.
pub const MAX_VALUES: usize = 1000;
/// `maxHops` of a relation path step: 1..=15.
pub const MAX_HOPS: u8 = 15;

/// `{combinator, rules}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub combinator: Combinator,
    pub rules: Vec<Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combinator {
    /// Matches when every rule matches; `and` of no rules matches everything.
    And,
    /// Matches when any rule matches; `or` of no rules matches nothing.
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Rule(Rule),
    Query(Query),
}

/// What a rule looks at on an entity.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Meta(Meta),
    /// A property of the entity's blueprint, `properties.<key>`.
    Property {
        key: String,
        kind: Kind,
    },
    /// A relation of the entity's blueprint (`{relation, operator, value}`), compared by target
    /// identifier(s). A single relation behaves as `Kind::String`, a `many` one as
    /// `Kind::Array(Item::String)`.
    Relation {
        key: String,
        many: bool,
    },
}

impl Field {
    /// The kind the field's value has.
    pub fn kind(&self) -> Kind {
        match self {
            Field::Meta(m) => m.kind(),
            Field::Property { kind, .. } => *kind,
            Field::Relation { many: false, .. } => Kind::String,
            Field::Relation { many: true, .. } => Kind::Array(Item::String),
        }
    }
}

/// Meta-properties: `$identifier $title $team $icon $blueprint $createdAt $updatedAt
/// $createdBy $updatedBy $datasource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Meta {
    Identifier,
    Title,
    /// The entity's teams: `Kind::Array(Item::String)`.
    Team,
    Icon,
    Blueprint,
    /// `Kind::Date`.
    CreatedAt,
    /// `Kind::Date`.
    UpdatedAt,
    CreatedBy,
    UpdatedBy,
    /// The User-Agent of the last writer.
    Datasource,
}

impl Meta {
    pub const ALL: [Meta; 10] = [
        Meta::Identifier,
        Meta::Title,
        Meta::Team,
        Meta::Icon,
        Meta::Blueprint,
        Meta::CreatedAt,
        Meta::UpdatedAt,
        Meta::CreatedBy,
        Meta::UpdatedBy,
        Meta::Datasource,
    ];

    /// `$identifier`, ...
    pub fn name(self) -> &'static str {
        match self {
            Meta::Identifier => "$identifier",
            Meta::Title => "$title",
            Meta::Team => "$team",
            Meta::Icon => "$icon",
            Meta::Blueprint => "$blueprint",
            Meta::CreatedAt => "$createdAt",
            Meta::UpdatedAt => "$updatedAt",
            Meta::CreatedBy => "$createdBy",
            Meta::UpdatedBy => "$updatedBy",
            Meta::Datasource => "$datasource",
        }
    }

    pub fn from_name(name: &str) -> Option<Meta> {
        Meta::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Meta::Team => Kind::Array(Item::String),
            Meta::CreatedAt | Meta::UpdatedAt => Kind::Date,
            _ => Kind::String,
        }
    }
}

/// The type of a field's value, from the blueprint's property definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `type: string` (any format but `date-time` and `timer`).
    String,
    Number,
    Boolean,
    /// `type: string` with `format: date-time` or `format: timer`: an RFC 3339 instant.
    Date,
    Object,
    /// `type: array`; items of the given kind.
    Array(Item),
}

/// The kind of an array's items (`items.type`, `items.format`; absent `items` is `Any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Item {
    String,
    Number,
    Boolean,
    Date,
    /// Objects, arrays or untyped items: only whole-array operators apply.
    Any,
}

/// A typed constant from a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    /// Every JSON number, as `f64` (so `1` and `1.0` are equal).
    Num(f64),
    Bool(bool),
    /// An instant, microseconds since the Unix epoch (UTC).
    Time(i64),
    /// An object or array, for `=` on `Kind::Object` and whole-array `=` on `Kind::Array`:
    /// equal when the JSON values are equal (objects ignore member order; numbers compare as
    /// `f64`).
    Json(Value),
}

/// A comparison's right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// One value (`=`, `>`, `contains`, `beginsWith`, ...).
    One(Scalar),
    /// A list (`in`, `notIn`, `containsAny`); may be empty, which matches nothing.
    Many(Vec<Scalar>),
    /// `{context: "user" | "userTeams", property}`: the caller's own entity (or teams).
    /// [`crate::query::bind`] replaces it with `One`, `Many` or `Nothing`; a compiler or the
    /// evaluator that meets an unbound context treats it as `Nothing`.
    Context(ContextRef),
    /// A value that resolved to nothing (e.g. a context property the caller lacks): the
    /// positive operator matches no entity (so its negation matches every entity).
    Nothing,
}

/// `{context, property}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRef {
    pub source: ContextSource,
    /// `$identifier`, `$team`, `$title`, ... or a property key of the user (or team) entity.
    pub property: String,
    /// The kind the resolved value must be converted to (the kind of the rule's field, or the
    /// element kind for list operators); fixed by the parser.
    pub want: Kind,
    /// Whether the operator takes a list (`in`, `containsAny`, ...): the resolved values are
    /// flattened into `Operand::Many`.
    pub list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextSource {
    /// The caller's user entity.
    User,
    /// The entities of the caller's teams (one value per team).
    UserTeams,
}

/// Comparison operators, positive forms only: the parser turns `!=` into `Eq` with
/// `negate: true`, `notIn` into `In`, `doesNotContains` into `Contains`, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// String, Number, Boolean, Date (same instant), Object (JSON equality), Array (whole
    /// array JSON equality, order matters).
    Eq,
    /// Number or Date.
    Gt,
    Ge,
    Lt,
    Le,
    /// String: substring. Array: some item equals the value.
    Contains,
    /// String: starts with.
    BeginsWith,
    /// String: ends with.
    EndsWith,
    /// String/Number/Date: the value is one of the list. Array (and `$team`): some item is one
    /// of the list (same as `ContainsAny`).
    In,
    /// Array (and `$team`, many relations): some item is one of the list.
    ContainsAny,
}

/// The range of `between` / `notBetween`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRange {
    /// Inclusive at both ends, microseconds since the epoch.
    Fixed { from: i64, to: i64 },
    /// Resolved against "now" by [`crate::query::bind`].
    Preset(Preset),
}

/// Port's date presets. `lastN`: `[now - N, now]`; `nextN`: `[now, now + N]`; `today`,
/// `yesterday`, `tomorrow`: the whole UTC day (`[00:00, next day 00:00 - 1µs]`).
/// Months are 30 days, `last12Months` 365, years 365 days each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Today,
    Tomorrow,
    Yesterday,
    LastDay,
    LastWeek,
    Last2Weeks,
    LastMonth,
    Last3Months,
    Last6Months,
    Last12Months,
    Last2Years,
    Last3Years,
    NextDay,
    NextWeek,
    Next2Weeks,
    NextMonth,
    Next3Months,
    Next6Months,
    Next12Months,
}

impl Preset {
    pub const ALL: [(&'static str, Preset); 19] = [
        ("today", Preset::Today),
        ("tomorrow", Preset::Tomorrow),
        ("yesterday", Preset::Yesterday),
        ("lastDay", Preset::LastDay),
        ("lastWeek", Preset::LastWeek),
        ("last2Weeks", Preset::Last2Weeks),
        ("lastMonth", Preset::LastMonth),
        ("last3Months", Preset::Last3Months),
        ("last6Months", Preset::Last6Months),
        ("last12Months", Preset::Last12Months),
        ("last2Years", Preset::Last2Years),
        ("last3Years", Preset::Last3Years),
        ("nextDay", Preset::NextDay),
        ("nextWeek", Preset::NextWeek),
        ("next2Weeks", Preset::Next2Weeks),
        ("nextMonth", Preset::NextMonth),
        ("next3Months", Preset::Next3Months),
        ("next6Months", Preset::Next6Months),
        ("next12Months", Preset::Next12Months),
    ];

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }
}

/// `relatedTo` direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Entities the start entity depends on: follow relation edges from source to target.
    Upstream,
    /// Entities that depend on the start entity: follow edges from target back to source.
    Downstream,
}

/// One step of a `matchAny` relation path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub relation: String,
    /// 1 for a plain step. Above 1 (only on a self-relation, at most one step per path): the
    /// step follows the relation 1 to `max_hops` times, and every entity reached on the way
    /// counts.
    pub max_hops: u8,
}

/// A rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `{property, operator, value}`. Matches when `field op value` holds (see [`Op`]), then
    /// inverted when `negate`. A missing or `null` value never satisfies the positive form.
    Compare {
        field: Field,
        op: Op,
        value: Operand,
        negate: bool,
    },
    /// `between` / `notBetween` on a `Kind::Date` field: `from <= value <= to`.
    Between {
        field: Field,
        range: DateRange,
        negate: bool,
    },
    /// `isEmpty` / `isNotEmpty`: empty means missing, `null`, or an empty array (`[]`, which
    /// also covers an entity without teams or a `many` relation without targets).
    Empty { field: Field, negate: bool },
    /// `isExpired` / `isNotExpired` on a `Kind::Date` field: expired means the instant is
    /// before "now" (fixed by [`crate::query::bind`], else the evaluation's clock).
    Expired {
        field: Field,
        negate: bool,
        /// "Now" in microseconds, set by `bind`.
        now: Option<i64>,
    },
    /// `relatedTo`: the entity is reachable from one of the `ids` entities of `blueprint` by
    /// one or more relation edges (cycle-safe, any depth), following `direction` (both when
    /// `None`) and only edges whose relation's `required` equals `required` when given. A
    /// start entity matches only when it is reached that way too (from another start, or back
    /// to itself through a cycle).
    RelatedTo {
        blueprint: String,
        ids: Vec<String>,
        direction: Option<Direction>,
        required: Option<bool>,
    },
    /// `matchAny` over a relation path. Without `from_blueprint` ("upstream"): walking `path`
    /// forward from the entity (edges source -> target) reaches an entity whose identifier is
    /// in `values`. With `from_blueprint` ("downstream"): the entity is reached by walking
    /// `path` forward from an entity of `from_blueprint` whose identifier is in `values`.
    MatchAny {
        path: Vec<PathStep>,
        from_blueprint: Option<String>,
        /// Identifiers: `One(Str)`, `Many([Str])`, a `Context` or `Nothing`.
        values: Operand,
    },
    /// A rule whose outcome does not depend on the entity (a rule about the caller, made
    /// constant by `bind`).
    Const(bool),
    /// A rule about the caller (`property: {context, property}`), kept until `bind` turns it
    /// into `Const`. Unbound, it matches nothing.
    OnContext {
        field: ContextRef,
        op: Op,
        value: Operand,
        negate: bool,
    },
}
