//! `relatedTo` rules and `matchAny` relation paths.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::value::as_context;
use super::{Parser, join};
use crate::blueprint::Blueprint;
use crate::query::ast::{Direction, Kind, MAX_HOPS, Operand, PathStep, Rule, Scalar};

/// Most steps in a `matchAny` path.
const MAX_PATH_STEPS: usize = 20;

/// Why a path does not resolve from one start blueprint.
struct WalkError {
    /// The failing step.
    step: usize,
    /// The step's relation exists (the failure is about `maxHops` or the target).
    found: bool,
    /// Pointer suffix under the step (`/maxHops` or empty).
    suffix: &'static str,
    message: String,
}

/// Walks `steps` from `start`: each relation must exist on the current blueprint, a step with
/// `max_hops > 1` must be a self-relation, and every step but the last must lead to an existing
/// blueprint.
fn walk(
    all: &IndexMap<String, Blueprint>,
    start: &Blueprint,
    steps: &[PathStep],
) -> Result<(), WalkError> {
    let mut cur = start;
    for (i, step) in steps.iter().enumerate() {
        let Some(rel) = cur.relations.get(&step.relation) else {
            return Err(WalkError {
                step: i,
                found: false,
                suffix: "",
                message: format!(
                    "unknown relation `{}`: blueprint `{}` has no such relation",
                    step.relation, cur.identifier
                ),
            });
        };
        if step.max_hops > 1 && rel.target != cur.identifier {
            return Err(WalkError {
                step: i,
                found: true,
                suffix: "/maxHops",
                message: format!(
                    "`maxHops` above 1 needs a self-relation, but `{}` of blueprint `{}` targets `{}`",
                    step.relation, cur.identifier, rel.target
                ),
            });
        }
        if i + 1 < steps.len() {
            let Some(next) = all.get(&rel.target) else {
                return Err(WalkError {
                    step: i,
                    found: true,
                    suffix: "",
                    message: format!(
                        "relation `{}` of blueprint `{}` targets `{}`, which does not exist",
                        step.relation, cur.identifier, rel.target
                    ),
                });
            };
            cur = next;
        }
    }
    Ok(())
}

impl<'a> Parser<'a> {
    /// `{operator: "relatedTo", blueprint, value, direction?, required?}`.
    pub(super) fn related_to(&mut self, rule: &Map<String, Value>, ptr: &str) -> Option<Rule> {
        let blueprint = self.blueprint_member(rule.get("blueprint"), &join(ptr, "blueprint"), true);
        let ids = match self.value(rule, ptr) {
            Some(v) => self.ids(v, &join(ptr, "value")),
            None => None,
        };
        let dptr = join(ptr, "direction");
        let direction = match rule.get("direction") {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s == "upstream" => Some(Some(Direction::Upstream)),
            Some(Value::String(s)) if s == "downstream" => Some(Some(Direction::Downstream)),
            Some(_) => {
                self.issues
                    .push(dptr, "direction must be `upstream` or `downstream`");
                None
            }
        };
        let required = match rule.get("required") {
            None | Some(Value::Null) => Some(None),
            Some(Value::Bool(b)) => Some(Some(*b)),
            Some(_) => {
                self.issues
                    .push(join(ptr, "required"), "required must be a boolean");
                None
            }
        };
        Some(Rule::RelatedTo {
            blueprint: blueprint??.identifier.clone(),
            ids: ids?,
            direction: direction?,
            required: required?,
        })
    }

    /// A member naming a blueprint of the org: `Some(None)` when absent (and not `required`),
    /// `None` on an issue.
    fn blueprint_member(
        &mut self,
        v: Option<&Value>,
        ptr: &str,
        required: bool,
    ) -> Option<Option<&'a Blueprint>> {
        let blueprints = self.blueprints;
        match v {
            None | Some(Value::Null) if required => {
                self.issues.push(ptr, "blueprint is required");
                None
            }
            None | Some(Value::Null) => Some(None),
            Some(Value::String(b)) => match blueprints.get(b) {
                Some(bp) => Some(Some(bp)),
                None => {
                    self.issues.push(ptr, format!("unknown blueprint `{b}`"));
                    None
                }
            },
            Some(_) => {
                self.issues
                    .push(ptr, "must be a blueprint identifier (a string)");
                None
            }
        }
    }

    /// `{property: {path, fromBlueprint?}, operator: "matchAny", value}`; `prop` is the
    /// `property` object.
    pub(super) fn match_any(
        &mut self,
        prop: &Map<String, Value>,
        rule: &Map<String, Value>,
        ptr: &str,
    ) -> Option<Rule> {
        let pptr = join(ptr, "property");
        self.unknown_members(prop, &pptr, &["path", "fromBlueprint"], "a relation path");
        let from = self.blueprint_member(
            prop.get("fromBlueprint"),
            &join(&pptr, "fromBlueprint"),
            false,
        );
        let path_ptr = join(&pptr, "path");
        let steps = self.path(prop.get("path"), &path_ptr);
        let values = match self.value(rule, ptr) {
            Some(v) => self.match_values(v, &join(ptr, "value")),
            None => None,
        };
        let (from, steps) = (from?, steps?);
        let starts: Vec<&Blueprint> = match from {
            Some(bp) => vec![bp],
            None => self.candidates.clone(),
        };
        self.resolve(&starts, &steps, &path_ptr)?;
        Some(Rule::MatchAny {
            path: steps,
            from_blueprint: from.map(|bp| bp.identifier.clone()),
            values: values?,
        })
    }

    /// The steps of a path: `rel` or `{relation, maxHops?}`.
    fn path(&mut self, v: Option<&Value>, ptr: &str) -> Option<Vec<PathStep>> {
        let items = match v {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => {
                self.issues.push(ptr, "path is required");
                return None;
            }
            Some(_) => {
                self.issues
                    .push(ptr, "path must be an array of relation identifiers");
                return None;
            }
        };
        if items.is_empty() {
            self.issues
                .push(ptr, "path must name at least one relation");
            return None;
        }
        if items.len() > MAX_PATH_STEPS {
            self.issues.push(
                ptr,
                format!(
                    "a path has at most {MAX_PATH_STEPS} steps, not {}",
                    items.len()
                ),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        let mut with_hops = 0;
        for (i, item) in items.iter().enumerate() {
            let sptr = join(ptr, i);
            let step = match item {
                Value::String(r) if !r.is_empty() => Some(PathStep {
                    relation: r.clone(),
                    max_hops: 1,
                }),
                Value::Object(o) => {
                    self.unknown_members(o, &sptr, &["relation", "maxHops"], "a path step");
                    let relation = match o.get("relation") {
                        Some(Value::String(r)) if !r.is_empty() => Some(r.clone()),
                        None | Some(Value::Null) => {
                            self.issues
                                .push(join(&sptr, "relation"), "relation is required");
                            None
                        }
                        Some(_) => {
                            self.issues.push(
                                join(&sptr, "relation"),
                                "relation must be a relation identifier",
                            );
                            None
                        }
                    };
                    let hptr = join(&sptr, "maxHops");
                    let max_hops = match o.get("maxHops") {
                        None | Some(Value::Null) => Some(1),
                        Some(h) => {
                            with_hops += 1;
                            let hops = h
                                .as_u64()
                                .and_then(|h| u8::try_from(h).ok())
                                .filter(|h| (1..=MAX_HOPS).contains(h));
                            if hops.is_none() {
                                self.issues.push(
                                    &hptr,
                                    format!("maxHops must be an integer from 1 to {MAX_HOPS}"),
                                );
                            } else if with_hops > 1 {
                                self.issues
                                    .push(&hptr, "only one step of a path may have `maxHops`");
                                ok = false;
                            }
                            hops
                        }
                    };
                    match (relation, max_hops) {
                        (Some(relation), Some(max_hops)) => Some(PathStep { relation, max_hops }),
                        _ => None,
                    }
                }
                _ => {
                    self.issues.push(
                        &sptr,
                        "a path step must be a relation identifier or `{relation, maxHops}`",
                    );
                    None
                }
            };
            match step {
                Some(step) => out.push(step),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Checks that `steps` resolve from at least one of `starts`; otherwise reports the
    /// failure that got furthest.
    fn resolve(&mut self, starts: &[&Blueprint], steps: &[PathStep], ptr: &str) -> Option<()> {
        let mut furthest: Option<WalkError> = None;
        for start in starts {
            match walk(self.blueprints, start, steps) {
                Ok(()) => return Some(()),
                Err(e) => {
                    if furthest
                        .as_ref()
                        .is_none_or(|f| (e.step, e.found) > (f.step, f.found))
                    {
                        furthest = Some(e);
                    }
                }
            }
        }
        let Some(e) = furthest else {
            self.issues.push(
                ptr,
                "no blueprint can match this query, so the path has nowhere to start",
            );
            return None;
        };
        let message = match steps.first() {
            Some(first) if starts.len() > 1 && e.step == 0 && !e.found => format!(
                "unknown relation `{}`: none of the blueprints searched has such a relation",
                first.relation
            ),
            _ => e.message,
        };
        self.issues
            .push(format!("{}{}", join(ptr, e.step), e.suffix), message);
        None
    }

    /// The value of `matchAny`: `id`, `[ids]` or `{context, property}`.
    fn match_values(&mut self, v: &Value, ptr: &str) -> Option<Operand> {
        if let Some(obj) = as_context(v) {
            return self
                .context_ref(obj, ptr, Kind::String, true)
                .map(Operand::Context);
        }
        match v {
            Value::String(_) => self.id(v, ptr).map(|id| Operand::One(Scalar::Str(id))),
            _ => self
                .ids(v, ptr)
                .map(|ids| Operand::Many(ids.into_iter().map(Scalar::Str).collect())),
        }
    }
}
