//! Rules on a property, a meta-property, a relation or the caller (`{context, property}`).

use serde_json::{Map, Value};

use super::operator::{Operator, applies, array_of, kind_name, takes_list};
use super::value::as_context;
use super::{Parser, join};
use crate::query::ast::{ContextRef, ContextSource, Field, Kind, Meta, Op, Operand, Rule, Scalar};
use crate::query::index::{kind_of, parse_instant};

const PROPERTY_RULE: &[&str] = &["property", "operator", "value"];
const RELATION_RULE: &[&str] = &["relation", "operator", "value"];
const RELATED_TO_RULE: &[&str] = &["operator", "blueprint", "value", "direction", "required"];

/// Port's special `$team` value: the caller's teams.
const MY_TEAMS: &str = "My Teams";

impl Parser<'_> {
    /// A rule object (not a nested query).
    pub(super) fn rule(&mut self, obj: &Map<String, Value>, ptr: &str) -> Option<Rule> {
        if obj.contains_key("propertySchema") {
            self.issues.push(
                join(ptr, "propertySchema"),
                "propertySchema rules are not supported",
            );
            return None;
        }
        if let Some(scorecard) = obj.get("scorecard") {
            let message = match scorecard {
                Value::String(s) => format!("unknown scorecard `{s}`"),
                _ => "scorecard must be a scorecard identifier".to_owned(),
            };
            self.issues.push(join(ptr, "scorecard"), message);
            return None;
        }
        let optr = join(ptr, "operator");
        let opname = obj
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let operator = match obj.get("operator") {
            Some(Value::String(s)) => {
                let operator = Operator::from_name(s);
                if operator.is_none() {
                    self.issues.push(&optr, format!("unknown operator `{s}`"));
                }
                operator
            }
            None | Some(Value::Null) => {
                self.issues.push(&optr, "operator is required");
                None
            }
            Some(_) => {
                self.issues.push(&optr, "operator must be a string");
                None
            }
        };
        if operator == Some(Operator::RelatedTo) {
            self.unknown_members(obj, ptr, RELATED_TO_RULE, "a `relatedTo` rule");
            return self.related_to(obj, ptr);
        }

        let (key, members, what) = match (
            obj.contains_key("property"),
            obj.contains_key("relation"),
        ) {
            (true, true) => {
                self.issues.push(
                    join(ptr, "relation"),
                    "a rule has either `property` or `relation`, not both",
                );
                return None;
            }
            (false, true) => ("relation", RELATION_RULE, "a relation rule"),
            (true, false) => ("property", PROPERTY_RULE, "a property rule"),
            (false, false) => {
                self.issues.push(
                    join(ptr, "property"),
                    "property is required (or `relation`, or `blueprint` with operator `relatedTo`)",
                );
                return None;
            }
        };
        self.unknown_members(obj, ptr, members, what);
        let sptr = join(ptr, key);
        let subject = obj.get(key)?;
        let path = subject
            .as_object()
            .filter(|o| key == "property" && o.contains_key("path"));
        let Some(operator) = operator else {
            // Still report an unknown property or relation along with the operator.
            match subject {
                Value::String(k) if key == "relation" => _ = self.relation_field(k, &sptr),
                Value::String(k) => _ = self.property_field(k, &sptr),
                _ => {}
            }
            return None;
        };
        match (operator == Operator::MatchAny, path) {
            (true, Some(path)) => return self.match_any(path, obj, ptr),
            (true, None) => {
                self.issues.push(
                    optr,
                    "operator `matchAny` needs `property: {path: [relations...]}`",
                );
                return None;
            }
            (false, Some(_)) => {
                self.issues.push(
                    optr,
                    "a relation path (`property: {path}`) takes operator `matchAny`",
                );
                return None;
            }
            (false, None) => {}
        }
        let field = match subject {
            Value::String(k) if key == "relation" => self.relation_field(k, &sptr)?,
            Value::String(k) => self.property_field(k, &sptr)?,
            Value::Object(o) if key == "property" && o.contains_key("context") => {
                return self.on_context(o, operator, opname, obj, ptr);
            }
            _ if key == "relation" => {
                self.issues
                    .push(sptr, "relation must be a relation identifier");
                return None;
            }
            _ => {
                self.issues.push(
                    sptr,
                    "property must be a property key, a meta-property such as `$identifier`, \
                     `{context, property}` or `{path}`",
                );
                return None;
            }
        };
        self.on_field(field, operator, opname, obj, ptr)
    }

    /// `unknown property `k`: ...` with what the candidates say.
    fn unknown(&self, what: &str, key: &str) -> String {
        match self.candidates.as_slice() {
            [] => format!("unknown {what} `{key}`: no blueprint can match this query"),
            [one] => format!(
                "unknown {what} `{key}`: blueprint `{}` has no such {what}",
                one.identifier
            ),
            _ => format!("unknown {what} `{key}`: none of the blueprints searched has it"),
        }
    }

    /// A meta-property, or a property of the candidate blueprints with one kind.
    fn property_field(&mut self, key: &str, ptr: &str) -> Option<Field> {
        if key.starts_with('$') {
            return match Meta::from_name(key) {
                Some(m) => Some(Field::Meta(m)),
                None => {
                    let names: Vec<&str> = Meta::ALL.iter().map(|m| m.name()).collect();
                    self.issues.push(
                        ptr,
                        format!(
                            "unknown meta-property `{key}`: use one of {}",
                            names.join(", ")
                        ),
                    );
                    None
                }
            };
        }
        let found: Vec<(&str, Kind)> = self
            .candidates
            .iter()
            .copied()
            .filter_map(|bp| Some((bp.identifier.as_str(), kind_of(bp.properties.get(key)?)?)))
            .collect();
        let Some(&(_, kind)) = found.first() else {
            let message = self.unknown("property", key);
            self.issues.push(ptr, message);
            return None;
        };
        if found.iter().any(|(_, k)| *k != kind) {
            let list: Vec<String> = found
                .iter()
                .map(|(b, k)| format!("`{b}` ({})", kind_name(*k)))
                .collect();
            self.issues.push(
                ptr,
                format!(
                    "property `{key}` has different types on the blueprints searched ({}); \
                     add a `$blueprint` rule to pick one",
                    list.join(", ")
                ),
            );
            return None;
        }
        Some(Field::Property {
            key: key.to_owned(),
            kind,
        })
    }

    /// A relation of the candidate blueprints, single on all or many on all.
    fn relation_field(&mut self, key: &str, ptr: &str) -> Option<Field> {
        let found: Vec<(&str, bool)> = self
            .candidates
            .iter()
            .copied()
            .filter_map(|bp| Some((bp.identifier.as_str(), bp.relations.get(key)?.many)))
            .collect();
        let Some(&(_, many)) = found.first() else {
            let message = self.unknown("relation", key);
            self.issues.push(ptr, message);
            return None;
        };
        if found.iter().any(|(_, m)| *m != many) {
            let list: Vec<String> = found
                .iter()
                .map(|(b, m)| format!("`{b}` ({})", if *m { "many" } else { "single" }))
                .collect();
            self.issues.push(
                ptr,
                format!(
                    "relation `{key}` is single on some blueprints searched and many on others \
                     ({}); add a `$blueprint` rule to pick one",
                    list.join(", ")
                ),
            );
            return None;
        }
        Some(Field::Relation {
            key: key.to_owned(),
            many,
        })
    }

    /// `operator `>` is not valid for property `name` of type string`.
    fn invalid_operator(&mut self, ptr: &str, opname: &str, field: &Field) {
        let label = match field {
            Field::Meta(m) => format!("property `{}`", m.name()),
            Field::Property { key, .. } => format!("property `{key}`"),
            Field::Relation { key, .. } => format!("relation `{key}`"),
        };
        self.issues.push(
            ptr,
            format!(
                "operator `{opname}` is not valid for {label} of type {}",
                kind_name(field.kind())
            ),
        );
    }

    /// A rule on an entity's field.
    fn on_field(
        &mut self,
        field: Field,
        operator: Operator,
        opname: &str,
        rule: &Map<String, Value>,
        ptr: &str,
    ) -> Option<Rule> {
        let kind = field.kind();
        let optr = join(ptr, "operator");
        let vptr = join(ptr, "value");
        match operator {
            Operator::Empty { negate } => {
                self.no_value(rule, ptr, opname);
                Some(Rule::Empty { field, negate })
            }
            Operator::Expired { negate } => {
                self.no_value(rule, ptr, opname);
                if kind != Kind::Date {
                    self.invalid_operator(&optr, opname, &field);
                    return None;
                }
                Some(Rule::Expired {
                    field,
                    negate,
                    now: None,
                })
            }
            Operator::Between { negate } => {
                if kind != Kind::Date {
                    self.invalid_operator(&optr, opname, &field);
                    return None;
                }
                let v = self.value(rule, ptr)?;
                let range = self.range(v, &vptr)?;
                Some(Rule::Between {
                    field,
                    range,
                    negate,
                })
            }
            Operator::Compare { op, negate } => {
                if !applies(op, kind) {
                    self.invalid_operator(&optr, opname, &field);
                    return None;
                }
                let v = self.value(rule, ptr)?;
                let my_teams = matches!(
                    v.as_array().map(Vec::as_slice),
                    Some([Value::String(s)]) if s == MY_TEAMS
                );
                let value = if field == Field::Meta(Meta::Team) && takes_list(op) && my_teams {
                    Operand::Context(ContextRef {
                        source: ContextSource::UserTeams,
                        property: Meta::Identifier.name().to_owned(),
                        want: Kind::String,
                        list: true,
                    })
                } else {
                    self.operand(kind, op, opname, v, &vptr)?
                };
                if field == Field::Meta(Meta::Blueprint) && matches!(op, Op::Eq | Op::In) {
                    self.known_blueprints(&value, &vptr);
                }
                Some(Rule::Compare {
                    field,
                    op,
                    value,
                    negate,
                })
            }
            Operator::RelatedTo | Operator::MatchAny => None,
        }
    }

    /// Reports the blueprint names of a `$blueprint` `=` / `in` value that do not exist.
    fn known_blueprints(&mut self, value: &Operand, ptr: &str) {
        let check = |p: &mut Self, s: &Scalar, ptr: String| {
            if let Scalar::Str(name) = s
                && !p.blueprints.contains_key(name)
            {
                p.issues.push(ptr, format!("unknown blueprint `{name}`"));
            }
        };
        match value {
            Operand::One(s) => check(self, s, ptr.to_owned()),
            Operand::Many(items) => {
                for (i, s) in items.iter().enumerate() {
                    check(self, s, join(ptr, i));
                }
            }
            Operand::Context(_) | Operand::Nothing => {}
        }
    }

    /// `{property: {context, property}, operator, value}`: a rule about the caller. The kind is
    /// taken from the value: numbers and booleans as such, a date string only for `>`, `>=`,
    /// `<`, `<=`, every other value as a string (`want` is that kind). A context of many values
    /// (`userTeams`, or the user's `$team`: `list` is set) is an array of that kind: only
    /// `contains`, `containsAny`, `in` (and their negations) apply, and hold when some value
    /// does. Any other `user` property may be one value or an array: an operator valid on the
    /// kind or on an array of it is accepted.
    fn on_context(
        &mut self,
        prop: &Map<String, Value>,
        operator: Operator,
        opname: &str,
        rule: &Map<String, Value>,
        ptr: &str,
    ) -> Option<Rule> {
        let optr = join(ptr, "operator");
        let vptr = join(ptr, "value");
        let Operator::Compare { op, negate } = operator else {
            self.issues.push(
                optr,
                format!(
                    "operator `{opname}` is not supported on a context property; use a \
                     comparison operator"
                ),
            );
            return None;
        };
        let field = self.context_ref(prop, &join(ptr, "property"), Kind::String, false);
        let v = self.value(rule, ptr)?;
        if as_context(v).is_some() {
            self.issues.push(
                vptr,
                "a context property cannot be compared with another context reference",
            );
            return None;
        }
        let sample = match (takes_list(op), v) {
            (true, Value::Array(items)) => items.first(),
            _ => Some(v),
        };
        let want = match op {
            Op::Gt | Op::Ge | Op::Lt | Op::Le => match sample {
                Some(Value::Number(_)) => Kind::Number,
                Some(Value::String(s)) if parse_instant(s).is_some() => Kind::Date,
                _ => {
                    self.issues.push(
                        vptr,
                        format!(
                            "operator `{opname}` on a context property takes a number or a date"
                        ),
                    );
                    return None;
                }
            },
            _ => match sample {
                Some(Value::Number(_)) => Kind::Number,
                Some(Value::Bool(_)) => Kind::Boolean,
                _ => Kind::String,
            },
        };
        let field = field?;
        let list = field.source == ContextSource::UserTeams || field.property == Meta::Team.name();
        // A `user` property may hold one value or an array of them (the parser cannot know
        // which): an operator valid on either passes, and `bind` picks by the actual value.
        let allowed = if list {
            matches!(op, Op::Contains | Op::ContainsAny | Op::In)
        } else {
            applies(op, want) || applies(op, array_of(want))
        };
        let kind = if list || !applies(op, want) {
            array_of(want)
        } else {
            want
        };
        if !allowed {
            let kinds = if list {
                format!(
                    "{} (it has one value per team: use `contains`, `containsAny` or `in`)",
                    kind_name(kind)
                )
            } else {
                format!("{} or {}", kind_name(want), kind_name(array_of(want)))
            };
            self.issues.push(
                optr,
                format!(
                    "operator `{opname}` is not valid for context property `{}` of type {kinds}",
                    field.property,
                ),
            );
            return None;
        }
        let value = self.operand(kind, op, opname, v, &vptr)?;
        Some(Rule::OnContext {
            field: ContextRef {
                want,
                list,
                ..field
            },
            op,
            value,
            negate,
        })
    }
}
