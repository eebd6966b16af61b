//! Values: scalars, lists, date ranges, context references, entity identifiers.

use serde_json::{Map, Value};

use super::operator::{expected, expected_items, value_kind};
use super::{MAX_VALUE_CHARS, Parser, join};
use crate::query::ast::{
    ContextRef, ContextSource, DateRange, Kind, MAX_VALUES, Op, Operand, Preset, Scalar,
};
use crate::query::index::parse_instant;

/// `null`, `string`, ...: for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Is `v` a `{context, property}` reference (any object with a `context` member)?
pub(super) fn as_context(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object().filter(|o| o.contains_key("context"))
}

impl Parser<'_> {
    /// The rule's required `value` member.
    pub(super) fn value<'v>(
        &mut self,
        rule: &'v Map<String, Value>,
        ptr: &str,
    ) -> Option<&'v Value> {
        match rule.get("value") {
            None | Some(Value::Null) => {
                self.issues.push(join(ptr, "value"), "value is required");
                None
            }
            Some(v) => Some(v),
        }
    }

    /// Reports a `value` member for an operator that takes none (absent or `null` pass).
    pub(super) fn no_value(&mut self, rule: &Map<String, Value>, ptr: &str, opname: &str) {
        if rule.get("value").is_some_and(|v| !v.is_null()) {
            self.issues.push(
                join(ptr, "value"),
                format!("operator `{opname}` takes no value"),
            );
        }
    }

    /// `s`, unless it is longer than [`MAX_VALUE_CHARS`].
    pub(super) fn bounded(&mut self, s: &str, ptr: &str) -> Option<String> {
        if s.chars().nth(MAX_VALUE_CHARS).is_some() {
            self.issues.push(
                ptr,
                format!("strings in a query are at most {MAX_VALUE_CHARS} characters"),
            );
            return None;
        }
        Some(s.to_owned())
    }

    /// One value of `kind`; `noun` names it in messages (`value`, `item`).
    pub(super) fn scalar(
        &mut self,
        kind: Kind,
        v: &Value,
        ptr: &str,
        noun: &str,
    ) -> Option<Scalar> {
        match (kind, v) {
            (Kind::String, Value::String(s)) => self.bounded(s, ptr).map(Scalar::Str),
            (Kind::Number, Value::Number(n)) => match n.as_f64() {
                Some(n) => Some(Scalar::Num(n)),
                None => {
                    self.issues
                        .push(ptr, format!("{noun} is not a representable number"));
                    None
                }
            },
            (Kind::Boolean, Value::Bool(b)) => Some(Scalar::Bool(*b)),
            (Kind::Date, Value::String(s)) => {
                let s = self.bounded(s, ptr)?;
                match parse_instant(&s) {
                    Some(t) => Some(Scalar::Time(t)),
                    None => {
                        self.issues
                            .push(ptr, format!("{noun} `{s}` is not {}", expected(Kind::Date)));
                        None
                    }
                }
            }
            (Kind::Object, Value::Object(_)) | (Kind::Array(_), Value::Array(_)) => {
                Some(Scalar::Json(v.clone()))
            }
            _ => {
                self.issues.push(
                    ptr,
                    format!("{noun} must be {}, not {}", expected(kind), json_type(v)),
                );
                None
            }
        }
    }

    /// The right-hand side of `op` on a field of `kind` (`ptr` is the value's pointer): a
    /// context reference, a list of element-kind values for list operators, else one value.
    pub(super) fn operand(
        &mut self,
        kind: Kind,
        op: Op,
        opname: &str,
        v: &Value,
        ptr: &str,
    ) -> Option<Operand> {
        let (want, list) = value_kind(kind, op);
        if let Some(obj) = as_context(v) {
            return self.context_ref(obj, ptr, want, list).map(Operand::Context);
        }
        if !list {
            if matches!(want, Kind::Array(_)) && !v.is_array() {
                self.issues.push(
                    ptr,
                    format!(
                        "operator `{opname}` on an array compares the whole array, so the value \
                         must be an array (use `contains` or `containsAny` to test items)"
                    ),
                );
                return None;
            }
            return self.scalar(want, v, ptr, "value").map(Operand::One);
        }
        let Value::Array(items) = v else {
            self.issues.push(
                ptr,
                format!(
                    "operator `{opname}` takes a list of {}, not {}",
                    expected_items(want),
                    json_type(v)
                ),
            );
            return None;
        };
        self.list(items, ptr, |p, item, iptr| {
            p.scalar(want, item, iptr, "item")
        })
        .map(Operand::Many)
    }

    /// Every item of a value list through `each`; `None` when the list is too long or an item
    /// is wrong (each reported).
    pub(super) fn list<T>(
        &mut self,
        items: &[Value],
        ptr: &str,
        mut each: impl FnMut(&mut Self, &Value, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        if items.len() > MAX_VALUES {
            self.issues.push(
                ptr,
                format!(
                    "a list holds at most {MAX_VALUES} values, not {}",
                    items.len()
                ),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match each(self, item, &join(ptr, i)) {
                Some(x) => out.push(x),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `{context: "user" | "userTeams", property}` at `ptr`.
    pub(super) fn context_ref(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        want: Kind,
        list: bool,
    ) -> Option<ContextRef> {
        self.unknown_members(obj, ptr, &["context", "property"], "a context reference");
        let cptr = join(ptr, "context");
        let source = match obj.get("context").and_then(Value::as_str) {
            Some("user") => Some(ContextSource::User),
            Some("userTeams") => Some(ContextSource::UserTeams),
            _ => {
                self.issues
                    .push(cptr, "context must be `user` or `userTeams`");
                None
            }
        };
        let pptr = join(ptr, "property");
        let property = match obj.get("property") {
            Some(Value::String(s)) if s.is_empty() => {
                self.issues.push(pptr, "property must not be empty");
                None
            }
            Some(Value::String(s)) => self.bounded(s, &pptr),
            None | Some(Value::Null) => {
                self.issues.push(pptr, "property is required");
                None
            }
            Some(_) => {
                self.issues.push(pptr, "property must be a string");
                None
            }
        };
        Some(ContextRef {
            source: source?,
            property: property?,
            want,
            list,
        })
    }

    /// The value of `between` / `notBetween`: `{from, to}` or `{preset}`.
    pub(super) fn range(&mut self, v: &Value, ptr: &str) -> Option<DateRange> {
        let Some(obj) = v.as_object() else {
            self.issues.push(
                ptr,
                format!(
                    "value must be `{{from, to}}` or `{{preset}}`, not {}",
                    json_type(v)
                ),
            );
            return None;
        };
        if obj.contains_key("preset") {
            self.unknown_members(obj, ptr, &["preset"], "a preset range");
            let pptr = join(ptr, "preset");
            return match obj.get("preset") {
                Some(Value::String(s)) => match Preset::from_name(s) {
                    Some(p) => Some(DateRange::Preset(p)),
                    None => {
                        let names: Vec<&str> = Preset::ALL.iter().map(|(n, _)| *n).collect();
                        self.issues.push(
                            pptr,
                            format!("unknown preset `{s}`: use one of {}", names.join(", ")),
                        );
                        None
                    }
                },
                _ => {
                    self.issues.push(pptr, "preset must be a string");
                    None
                }
            };
        }
        self.unknown_members(obj, ptr, &["from", "to"], "a date range");
        let bound = |p: &mut Self, name: &str| {
            let bptr = join(ptr, name);
            match obj.get(name) {
                None | Some(Value::Null) => {
                    p.issues.push(bptr, format!("{name} is required"));
                    None
                }
                Some(v) => match p.scalar(Kind::Date, v, &bptr, name)? {
                    Scalar::Time(t) => Some(t),
                    _ => None,
                },
            }
        };
        let from = bound(self, "from");
        let to = bound(self, "to");
        let (from, to) = (from?, to?);
        if to < from {
            self.issues
                .push(join(ptr, "to"), "`to` must not be before `from`");
            return None;
        }
        Some(DateRange::Fixed { from, to })
    }

    /// An entity identifier: a non-empty string.
    pub(super) fn id(&mut self, v: &Value, ptr: &str) -> Option<String> {
        match v {
            Value::String(s) if s.is_empty() => {
                self.issues
                    .push(ptr, "an entity identifier must not be empty");
                None
            }
            Value::String(s) => self.bounded(s, ptr),
            _ => {
                self.issues.push(
                    ptr,
                    format!(
                        "an entity identifier must be a string, not {}",
                        json_type(v)
                    ),
                );
                None
            }
        }
    }

    /// `id | [ids]`.
    pub(super) fn ids(&mut self, v: &Value, ptr: &str) -> Option<Vec<String>> {
        match v {
            Value::Array(items) => self.list(items, ptr, |p, item, iptr| p.id(item, iptr)),
            Value::String(_) => self.id(v, ptr).map(|id| vec![id]),
            _ => {
                self.issues.push(
                    ptr,
                    format!(
                        "value must be an entity identifier or a list of them, not {}",
                        json_type(v)
                    ),
                );
                None
            }
        }
    }
}
