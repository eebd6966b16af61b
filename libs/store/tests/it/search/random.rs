//! Property-based: random catalogs (three blueprints with every kind of property, relations
//! with a self-relation on each, cycles), random queries; the store's answer (paged, sorted or
//! not, counted) must be the evaluator's on both databases.
//!
//! Reproduce one seed with `PORTOLAN_SEARCH_SEED=<seed>` (and `PORTOLAN_SEARCH_QUERIES=<n>`).

use std::collections::BTreeSet;

use indexmap::IndexMap;
use portolan_domain::OrgId;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::event::Actor;
use portolan_domain::query::eval::field_value;
use portolan_domain::query::index::kind_of;
use portolan_domain::query::{
    Combinator, ContextRef, ContextSource, DateRange, Direction, Field, Item, Kind, MAX_HOPS, Meta,
    Node, Op, Operand, PathStep, Preset, Query, QueryContext, Rule, Scalar, bind, parse_instant,
};
use portolan_store::Store;
use portolan_store::entities::{self, WriteMode};
use portolan_store::search::{self, Sort, SortKey};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::{Run, World, backend_name, blueprints_of, count_of, key_of, page_all};
use crate::support::{both, create_blueprints, new_org, opts, request, tenant};

const SEEDS: [u64; 3] = [0x5EED_0001, 0x5EED_0002, 0x5EED_0003];
const QUERIES: usize = 150;

fn blueprints() -> Vec<Value> {
    vec![
        json!({
            "identifier": "gamma",
            "title": "Gamma",
            "schema": {"properties": {
                "s": {"type": "string"},
                "n": {"type": "number"},
                "t": {"type": "string", "format": "date-time"},
                "k": {"type": "boolean"},
            }},
            "relations": {"g_next": {"target": "gamma", "required": false, "many": false}},
        }),
        json!({
            "identifier": "beta",
            "title": "Beta",
            "schema": {"properties": {
                "s": {"type": "string"},
                "n": {"type": "number"},
                "d": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "k": {"type": "number"},
            }},
            "relations": {
                "home": {"target": "gamma", "required": true, "many": false},
                "mate": {"target": "beta", "required": false, "many": false},
            },
        }),
        json!({
            "identifier": "alpha",
            "title": "Alpha",
            "schema": {"properties": {
                "s": {"type": "string"},
                "n": {"type": "number"},
                "b": {"type": "boolean"},
                "d": {"type": "string", "format": "date-time"},
                "o": {"type": "object"},
                "ss": {"type": "array", "items": {"type": "string"}},
                "ns": {"type": "array", "items": {"type": "number"}},
                "ds": {"type": "array", "items": {"type": "string", "format": "date-time"}},
                "bs": {"type": "array", "items": {"type": "boolean"}},
                "anys": {"type": "array"},
                "k": {"type": "string"},
            }},
            "relations": {
                "home": {"target": "gamma", "required": true, "many": false},
                "next": {"target": "alpha", "required": false, "many": false},
                "links": {"target": "alpha", "required": false, "many": true},
                "peer": {"target": "beta", "required": false, "many": false},
            },
        }),
    ]
}

const PIECES: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "abc",
    "a_c",
    "a%c",
    "a\\c",
    "naïve",
    "nai",
    "日本",
    "日本語",
    "😀",
    "x😀y",
    "Zeta",
    "zeta",
    "%",
    "_",
    "\\",
    "'",
    "\"",
];

fn rand_string(rng: &mut StdRng) -> String {
    let mut s = String::new();
    if rng.gen_bool(0.1) {
        // Around the index's 256-character cut.
        s.push_str(&"L".repeat(rng.gen_range(250..262)));
    }
    for _ in 0..rng.gen_range(1..=2) {
        s.push_str(PIECES.choose(rng).expect("not empty"));
    }
    s
}

fn rand_number(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..10) {
        0 => json!(0),
        1 => json!(1),
        2 => json!(1.0),
        3 => json!(-1),
        4 => json!(2.5),
        5 => json!(100),
        6 => json!(1e10),
        7 => json!(-0.5),
        8 => json!(3),
        _ => json!(rng.gen_range(-5..50)),
    }
}

const INSTANTS: &[&str] = &[
    "2020-01-01T00:00:00Z",
    "2024-02-29T12:00:00Z",
    "2024-02-29T12:00:00.5Z",
    "2024-02-29T12:00:00.123456Z",
    "1999-12-31T23:59:59Z",
    "2030-06-15T08:30:00Z",
];

fn rand_instant(rng: &mut StdRng) -> i64 {
    let base = parse_instant(INSTANTS.choose(rng).expect("not empty")).expect("an instant");
    if rng.gen_bool(0.2) {
        base + rng.gen_range(-3_600_000_000i64..3_600_000_000)
    } else {
        base
    }
}

/// An instant written with a random offset.
fn rand_date(rng: &mut StdRng) -> String {
    let t = rand_instant(rng);
    let offset = *[0, 0, 19_800, -28_800, 50_400, -18_000]
        .choose(rng)
        .expect("not empty");
    let dt = chrono::DateTime::from_timestamp_micros(t)
        .expect("an instant")
        .with_timezone(&chrono::FixedOffset::east_opt(offset).expect("offset"));
    dt.to_rfc3339_opts(
        chrono::SecondsFormat::AutoSi,
        offset == 0 && rng.gen_bool(0.5),
    )
}

fn rand_object(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..10) {
        0 => json!({}),
        9 => json!({"q\"k": [1, {"it's": null}], "b\\s": "日本"}),
        1 => json!({"a": 1}),
        2 => json!({"a": 1.0}),
        3 => json!({"a": 1, "b": [1, 2]}),
        4 => json!({"b": [1, 2], "a": 1}),
        5 => json!({"k": "日本"}),
        6 => json!({"a": {"b": null}}),
        7 => json!({"a.b": 1, "日本": true}),
        _ => json!({"a": [{"x": "y"}]}),
    }
}

fn rand_array(rng: &mut StdRng, max: usize, f: impl Fn(&mut StdRng) -> Value) -> Value {
    let n = rng.gen_range(0..=max);
    Value::Array((0..n).map(|_| f(rng)).collect())
}

fn rand_any_array(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..4) {
        0 => json!([]),
        1 => json!([{"k": 1}]),
        2 => json!([1, "a"]),
        _ => json!([[1], null]),
    }
}

/// A random value for a property definition.
fn rand_value(rng: &mut StdRng, def: &Map<String, Value>) -> Value {
    match kind_of(def).expect("a kind") {
        Kind::String => Value::String(rand_string(rng)),
        Kind::Number => rand_number(rng),
        Kind::Boolean => Value::Bool(rng.gen_bool(0.5)),
        Kind::Date => Value::String(rand_date(rng)),
        Kind::Object => rand_object(rng),
        Kind::Array(Item::String) => rand_array(rng, 3, |r| Value::String(rand_string(r))),
        Kind::Array(Item::Number) => rand_array(rng, 3, rand_number),
        Kind::Array(Item::Date) => rand_array(rng, 2, |r| Value::String(rand_date(r))),
        Kind::Array(Item::Boolean) => rand_array(rng, 2, |r| Value::Bool(r.gen_bool(0.5))),
        Kind::Array(Item::Any) => rand_any_array(rng),
    }
}

fn rand_actor(rng: &mut StdRng) -> Actor {
    Actor {
        by: ["alice", "bob", "carol"]
            .choose(rng)
            .expect("not empty")
            .to_string(),
        origin: "API".into(),
        datasource: [None, Some("ds/1"), Some("日本/2")]
            .choose(rng)
            .expect("not empty")
            .map(str::to_owned),
    }
}

async fn write_random(
    store: &Store,
    org: OrgId,
    rng: &mut StdRng,
    bp: &str,
    bodies: Vec<Value>,
    mode: WriteMode,
) {
    // Two or three transactions, a few milliseconds apart: timestamps differ.
    let n = bodies.len();
    let mut it = bodies.into_iter();
    let cut = [n / 2, n - n / 2];
    for size in cut {
        let chunk: Vec<Value> = it.by_ref().take(size).collect();
        if chunk.is_empty() {
            continue;
        }
        let actor = rand_actor(rng);
        let t = tenant(store, org).await;
        let reqs = chunk
            .into_iter()
            .enumerate()
            .map(|(i, b)| request(i, b))
            .collect();
        let (_, failed) = entities::write(&t, bp, reqs, &opts(mode), &actor)
            .await
            .unwrap_or_else(|e| panic!("write to {bp}: {e}"));
        assert!(
            failed.is_empty(),
            "random writes failed: {:?}",
            failed
                .iter()
                .map(|f| format!("{:?}: {}", f.identifier, f.error))
                .collect::<Vec<_>>()
        );
        t.commit().await.expect("commit");
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
}

/// Writes a random catalog into `org`: gamma, then beta and alpha (with their required `home`),
/// then every optional relation (self-relations with cycles) as merges.
async fn random_catalog(store: &Store, org: OrgId, rng: &mut StdRng) {
    create_blueprints(store, org, &blueprints()).await;
    let bps = blueprints_of(store, org).await;
    let counts = [
        ("gamma", rng.gen_range(8..20)),
        ("beta", rng.gen_range(15..40)),
        ("alpha", rng.gen_range(35..90)),
    ];
    let mut ids: IndexMap<&str, Vec<String>> = IndexMap::new();
    for (bp, n) in counts {
        // Identifiers overlap between blueprints (`e7` may be a gamma, a beta and an alpha).
        let mut pool: Vec<usize> = (0..120).collect();
        pool.shuffle(rng);
        ids.insert(bp, pool[..n].iter().map(|i| format!("e{i}")).collect());
    }
    for (bp, _) in counts {
        let def = &bps[bp];
        let mut bodies = Vec::new();
        for id in &ids[bp] {
            let mut props = Map::new();
            for (key, d) in &def.properties {
                if rng.gen_bool(0.7) {
                    props.insert(key.clone(), rand_value(rng, d));
                }
            }
            let mut body = json!({"identifier": id, "properties": props});
            if rng.gen_bool(0.7) {
                body["title"] = Value::String(rand_string(rng));
            }
            if rng.gen_bool(0.2) {
                body["icon"] = json!("Service");
            }
            if rng.gen_bool(0.6) {
                // A team name longer than the index keeps.
                let long_team = "T".repeat(300);
                let mut team: Vec<&str> = ["t1", "t2", "日本", "team_%", long_team.as_str()]
                    .into_iter()
                    .filter(|_| rng.gen_bool(0.35))
                    .collect();
                team.shuffle(rng);
                body["team"] = json!(team);
            }
            if def.relations.contains_key("home") {
                body["relations"] = json!({"home": ids["gamma"].choose(rng).expect("not empty")});
            }
            bodies.push(body);
        }
        write_random(store, org, rng, bp, bodies, WriteMode::Create).await;
    }
    // Optional relations, cycles included.
    for (bp, _) in counts {
        let mut bodies = Vec::new();
        for id in &ids[bp] {
            if !rng.gen_bool(0.75) {
                continue;
            }
            let mut rels = Map::new();
            for (key, def) in &bps[bp].relations {
                if def.required || !rng.gen_bool(0.6) {
                    continue;
                }
                let targets = &ids[def.target.as_str()];
                let v = if def.many {
                    let n = rng.gen_range(0..=3);
                    json!(
                        (0..n)
                            .map(|_| targets.choose(rng).expect("not empty").clone())
                            .collect::<Vec<_>>()
                    )
                } else if rng.gen_bool(0.15) && def.target == bp {
                    json!(id)
                } else {
                    json!(targets.choose(rng).expect("not empty"))
                };
                rels.insert(key.clone(), v);
            }
            bodies.push(json!({"identifier": id, "relations": rels}));
        }
        write_random(store, org, rng, bp, bodies, WriteMode::Merge).await;
    }
    // Updates: properties changed or removed, teams changed (the index follows).
    for (bp, _) in counts {
        let def = &bps[bp];
        let mut bodies = Vec::new();
        for id in &ids[bp] {
            if !rng.gen_bool(0.2) {
                continue;
            }
            let mut props = Map::new();
            for (key, d) in &def.properties {
                match rng.gen_range(0..6) {
                    0 => {
                        props.insert(key.clone(), Value::Null);
                    }
                    1 => {
                        props.insert(key.clone(), rand_value(rng, d));
                    }
                    _ => {}
                }
            }
            let mut body = json!({"identifier": id, "properties": props});
            if rng.gen_bool(0.3) {
                body["team"] = json!(["t2"]);
            }
            bodies.push(body);
        }
        write_random(store, org, rng, bp, bodies, WriteMode::Merge).await;
    }
    // Deletes, with dependents: the index rows and edges go too, optional relations to the
    // deleted entities are cleared.
    for (bp, _) in counts {
        let doomed: Vec<String> = ids[bp]
            .iter()
            .filter(|_| rng.gen_bool(0.05))
            .cloned()
            .collect();
        let t = tenant(store, org).await;
        for id in doomed {
            // An earlier cascade may have taken it already.
            match entities::delete(&t, bp, &id, true, &rand_actor(rng)).await {
                Ok(_) | Err(portolan_store::StoreError::NotFound { .. }) => {}
                Err(e) => panic!("delete {bp}/{id}: {e}"),
            }
        }
        t.commit().await.expect("commit");
    }
    super::maintenance::assert_index(store, org, "after the random catalog").await;
}

/// Random queries over one catalog.
struct Gen<'a> {
    rng: StdRng,
    world: &'a World,
    bps: &'a IndexMap<String, Blueprint>,
    cands: Vec<String>,
}

const ALL_OPS: [Op; 10] = [
    Op::Eq,
    Op::Gt,
    Op::Ge,
    Op::Lt,
    Op::Le,
    Op::Contains,
    Op::BeginsWith,
    Op::EndsWith,
    Op::In,
    Op::ContainsAny,
];

/// The operators the parser accepts for a kind.
fn valid_ops(kind: Kind) -> &'static [Op] {
    match kind {
        Kind::String => &[Op::Eq, Op::Contains, Op::BeginsWith, Op::EndsWith, Op::In],
        Kind::Number | Kind::Date => &[Op::Eq, Op::Gt, Op::Ge, Op::Lt, Op::Le, Op::In],
        Kind::Boolean | Kind::Object | Kind::Array(Item::Any) => &[Op::Eq],
        Kind::Array(_) => &[Op::Eq, Op::Contains, Op::ContainsAny, Op::In],
    }
}

fn element(kind: Kind) -> Kind {
    match kind {
        Kind::Array(Item::String) => Kind::String,
        Kind::Array(Item::Number) => Kind::Number,
        Kind::Array(Item::Boolean) => Kind::Boolean,
        Kind::Array(Item::Date) => Kind::Date,
        Kind::Array(Item::Any) => Kind::Object,
        k => k,
    }
}

/// A JSON value read as a scalar of `kind` (`Kind::Object` keeps any JSON).
fn scalar_of(kind: Kind, v: &Value) -> Option<Scalar> {
    match kind {
        Kind::String => v.as_str().map(|s| Scalar::Str(s.to_owned())),
        Kind::Number => v.as_f64().map(Scalar::Num),
        Kind::Boolean => v.as_bool().map(Scalar::Bool),
        Kind::Date => v.as_str().and_then(parse_instant).map(Scalar::Time),
        Kind::Object | Kind::Array(_) => Some(Scalar::Json(v.clone())),
    }
}

/// `1` -> `1.0` and back, recursively: JSON equality must not care.
fn renumber(v: &Value) -> Value {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => json!(i as f64),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(renumber).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), renumber(v))).collect())
        }
        _ => v.clone(),
    }
}

impl Gen<'_> {
    fn candidates(&self) -> Vec<&Blueprint> {
        self.cands.iter().filter_map(|c| self.bps.get(c)).collect()
    }

    /// The fields a query over the candidates may name (as the parser allows them).
    fn fields(&self) -> Vec<Field> {
        let mut out: Vec<Field> = Meta::ALL.iter().map(|m| Field::Meta(*m)).collect();
        let mut props: IndexMap<String, Vec<Kind>> = IndexMap::new();
        let mut rels: IndexMap<String, Vec<bool>> = IndexMap::new();
        for bp in self.candidates() {
            for (k, d) in &bp.properties {
                props
                    .entry(k.clone())
                    .or_default()
                    .push(kind_of(d).expect("a kind"));
            }
            for (k, d) in &bp.relations {
                rels.entry(k.clone()).or_default().push(d.many);
            }
        }
        for (key, kinds) in props {
            if kinds.iter().all(|k| *k == kinds[0]) {
                out.push(Field::Property {
                    key,
                    kind: kinds[0],
                });
            }
        }
        for (key, many) in rels {
            if many.iter().all(|m| *m == many[0]) {
                out.push(Field::Relation { key, many: many[0] });
            }
        }
        out
    }

    /// Values of `field` among the candidates' entities (non-null).
    fn values(&self, field: &Field) -> Vec<&Value> {
        self.world
            .entities
            .iter()
            .filter(|e| self.cands.iter().any(|c| e["blueprint"] == c.as_str()))
            .filter_map(|e| field_value(e, field))
            .collect()
    }

    /// Scalars of kind `want` found in `field` (array items for arrays).
    fn scalars(&self, field: &Field, want: Kind) -> Vec<Scalar> {
        let mut out = Vec::new();
        for v in self.values(field) {
            match (field.kind(), v) {
                (Kind::Array(_), Value::Array(items)) if want != field.kind() => {
                    out.extend(items.iter().filter_map(|i| scalar_of(want, i)));
                }
                _ => out.extend(scalar_of(want, v)),
            }
        }
        out
    }

    fn rand_scalar(&mut self, kind: Kind) -> Scalar {
        match kind {
            Kind::String => Scalar::Str(rand_string(&mut self.rng)),
            Kind::Number => Scalar::Num(rand_number(&mut self.rng).as_f64().expect("negatable")),
            Kind::Boolean => Scalar::Bool(self.rng.gen_bool(0.5)),
            Kind::Date => Scalar::Time(rand_instant(&mut self.rng)),
            Kind::Object => Scalar::Json(rand_object(&mut self.rng)),
            Kind::Array(Item::String) => Scalar::Json(json!([rand_string(&mut self.rng)])),
            Kind::Array(_) => Scalar::Json(json!([])),
        }
    }

    /// A scalar of kind `want`, usually one the catalog holds in `field`.
    fn pick(&mut self, field: &Field, want: Kind) -> Scalar {
        let found = self.scalars(field, want);
        if !found.is_empty() && self.rng.gen_bool(0.8) {
            let s = found.choose(&mut self.rng).expect("not empty").clone();
            return match s {
                Scalar::Json(v) if self.rng.gen_bool(0.3) => Scalar::Json(renumber(&v)),
                s => s,
            };
        }
        self.rand_scalar(want)
    }

    /// A piece of a catalog string: a prefix, a suffix or a middle part.
    fn piece(&mut self, field: &Field, op: Op) -> Scalar {
        let Scalar::Str(s) = self.pick(field, Kind::String) else {
            return Scalar::Str(String::new());
        };
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let (from, to) = match op {
            Op::BeginsWith => (0, self.rng.gen_range(0..=n)),
            Op::EndsWith => (self.rng.gen_range(0..=n), n),
            _ => {
                let a = self.rng.gen_range(0..=n);
                (a, self.rng.gen_range(a..=n))
            }
        };
        Scalar::Str(chars[from..to].iter().collect())
    }

    fn operand(&mut self, field: &Field, op: Op) -> Operand {
        let kind = field.kind();
        if self.rng.gen_bool(0.02) {
            return Operand::Nothing;
        }
        let list = matches!(op, Op::In | Op::ContainsAny);
        if list || self.rng.gen_bool(0.03) {
            let want = element(kind);
            let n = self.rng.gen_range(0..=4);
            let items: Vec<Scalar> = (0..n).map(|_| self.pick(field, want)).collect();
            if list && n == 1 && self.rng.gen_bool(0.3) {
                return Operand::One(items[0].clone());
            }
            return Operand::Many(items);
        }
        let s = match (kind, op) {
            (Kind::String, Op::Contains | Op::BeginsWith | Op::EndsWith) => self.piece(field, op),
            (Kind::Array(_) | Kind::Object, Op::Eq) => self.pick(field, kind),
            (Kind::Array(_), _) => self.pick(field, element(kind)),
            (k, _) => self.pick(field, k),
        };
        Operand::One(s)
    }

    /// `{context, property}`: a value of the caller (its user entity or its teams' entities),
    /// resolved by `bind`.
    fn context(&mut self, kind: Kind, op: Op) -> Operand {
        let list = matches!(op, Op::In | Op::ContainsAny);
        let property = [
            "$identifier",
            "$team",
            "$title",
            "s",
            "n",
            "d",
            "ss",
            "nope",
        ]
        .choose(&mut self.rng)
        .expect("not empty");
        Operand::Context(ContextRef {
            source: if self.rng.gen_bool(0.7) {
                ContextSource::User
            } else {
                ContextSource::UserTeams
            },
            property: (*property).to_owned(),
            want: if list { element(kind) } else { kind },
            list,
        })
    }

    fn date_fields(&self) -> Vec<Field> {
        self.fields()
            .into_iter()
            .filter(|f| f.kind() == Kind::Date)
            .collect()
    }

    fn instant_near(&mut self, field: &Field) -> i64 {
        let mut t = match self.pick(field, Kind::Date) {
            Scalar::Time(t) => t,
            _ => rand_instant(&mut self.rng),
        };
        if self.rng.gen_bool(0.3) {
            t += self.rng.gen_range(-2_000_000i64..2_000_000);
        }
        t
    }

    fn ids_of(&mut self, bp: &str, n: usize) -> Vec<String> {
        let all: Vec<String> = self
            .world
            .entities
            .iter()
            .filter(|e| e["blueprint"] == bp)
            .map(|e| key_of(e).1)
            .collect();
        let mut out: Vec<String> = (0..n)
            .filter_map(|_| all.choose(&mut self.rng).cloned())
            .collect();
        if self.rng.gen_bool(0.1) {
            out.push("nope".into());
        }
        out
    }

    /// A path of relations walked forward from `start` (a self-relation may get `max_hops`).
    fn path_from(&mut self, start: &str) -> (Vec<PathStep>, String) {
        let mut bp = start.to_owned();
        let mut path = Vec::new();
        let len = if self.rng.gen_bool(0.03) {
            0
        } else {
            self.rng.gen_range(1..=3)
        };
        let mut hopped = false;
        for _ in 0..len {
            let rels: Vec<(String, String)> = self.bps[&bp]
                .relations
                .iter()
                .map(|(k, d)| (k.clone(), d.target.clone()))
                .collect();
            let Some((rel, target)) = rels.choose(&mut self.rng).cloned() else {
                break;
            };
            let max_hops = if target == bp && !hopped && self.rng.gen_bool(0.4) {
                hopped = true;
                if self.rng.gen_bool(0.2) {
                    MAX_HOPS
                } else {
                    self.rng.gen_range(2..=5)
                }
            } else {
                1
            };
            path.push(PathStep {
                relation: rel,
                max_hops,
            });
            bp = target;
        }
        (path, bp)
    }

    fn rule(&mut self) -> Rule {
        let fields = self.fields();
        match self.rng.gen_range(0..100) {
            0..=59 => {
                let field = fields.choose(&mut self.rng).expect("not empty").clone();
                let op = if self.rng.gen_bool(0.05) {
                    *ALL_OPS.choose(&mut self.rng).expect("not empty")
                } else {
                    *valid_ops(field.kind())
                        .choose(&mut self.rng)
                        .expect("not empty")
                };
                let value = if self.rng.gen_bool(0.06) {
                    self.context(field.kind(), op)
                } else {
                    self.operand(&field, op)
                };
                if self.rng.gen_bool(0.03) {
                    // A rule about the caller: `bind` makes it constant.
                    let Operand::Context(field) = self.context(field.kind(), op) else {
                        unreachable!()
                    };
                    return Rule::OnContext {
                        field,
                        op,
                        value,
                        negate: self.rng.gen_bool(0.3),
                    };
                }
                Rule::Compare {
                    field,
                    op,
                    value,
                    negate: self.rng.gen_bool(0.3),
                }
            }
            60..=65 => {
                let field = self
                    .date_fields()
                    .choose(&mut self.rng)
                    .expect("not empty")
                    .clone();
                let (a, b) = (self.instant_near(&field), self.instant_near(&field));
                let (from, to) = if self.rng.gen_bool(0.9) {
                    (a.min(b), a.max(b))
                } else {
                    (a.max(b), a.min(b))
                };
                let range = if self.rng.gen_bool(0.3) {
                    DateRange::Preset(Preset::ALL.choose(&mut self.rng).expect("not empty").1)
                } else {
                    DateRange::Fixed { from, to }
                };
                Rule::Between {
                    field,
                    range,
                    negate: self.rng.gen_bool(0.3),
                }
            }
            66..=70 => {
                let field = self
                    .date_fields()
                    .choose(&mut self.rng)
                    .expect("not empty")
                    .clone();
                let now = self.instant_near(&field);
                Rule::Expired {
                    field,
                    negate: self.rng.gen_bool(0.3),
                    now: self.rng.gen_bool(0.8).then_some(now),
                }
            }
            71..=79 => Rule::Empty {
                field: fields.choose(&mut self.rng).expect("not empty").clone(),
                negate: self.rng.gen_bool(0.4),
            },
            80..=87 => {
                let bp = ["alpha", "beta", "gamma"]
                    .choose(&mut self.rng)
                    .expect("not empty");
                let n = self.rng.gen_range(0..=3);
                Rule::RelatedTo {
                    blueprint: (*bp).to_owned(),
                    ids: self.ids_of(bp, n),
                    direction: [None, Some(Direction::Upstream), Some(Direction::Downstream)]
                        .choose(&mut self.rng)
                        .copied()
                        .expect("not empty"),
                    required: [None, Some(true), Some(false)]
                        .choose(&mut self.rng)
                        .copied()
                        .expect("not empty"),
                }
            }
            88..=97 => {
                let n = self.rng.gen_range(1..=3);
                if self.rng.gen_bool(0.6) {
                    let start = self.cands.choose(&mut self.rng).expect("not empty").clone();
                    let (path, end) = self.path_from(&start);
                    let ids = self.ids_of(&end, n);
                    Rule::MatchAny {
                        path,
                        from_blueprint: None,
                        values: Operand::Many(ids.into_iter().map(Scalar::Str).collect()),
                    }
                } else {
                    let from = ["alpha", "beta", "gamma"]
                        .choose(&mut self.rng)
                        .expect("not empty");
                    let (path, _) = self.path_from(from);
                    let ids = self.ids_of(from, n);
                    let values = if ids.len() == 1 && self.rng.gen_bool(0.5) {
                        Operand::One(Scalar::Str(ids[0].clone()))
                    } else {
                        Operand::Many(ids.into_iter().map(Scalar::Str).collect())
                    };
                    Rule::MatchAny {
                        path,
                        from_blueprint: Some((*from).to_owned()),
                        values,
                    }
                }
            }
            _ => Rule::Const(self.rng.gen_bool(0.5)),
        }
    }

    fn query(&mut self, depth: usize) -> Query {
        let n = if self.rng.gen_bool(0.08) {
            0
        } else {
            self.rng.gen_range(1..=4)
        };
        let rules = (0..n)
            .map(|_| {
                if depth < 3 && self.rng.gen_bool(0.2) {
                    Node::Query(self.query(depth + 1))
                } else {
                    Node::Rule(self.rule())
                }
            })
            .collect();
        Query {
            combinator: if self.rng.gen_bool(0.5) {
                Combinator::And
            } else {
                Combinator::Or
            },
            rules,
        }
    }

    fn sort(&mut self) -> Option<Sort> {
        let key = match self.rng.gen_range(0..11) {
            0 | 1 => return None,
            2 => SortKey::Meta(Meta::Identifier),
            3 => SortKey::Meta(Meta::Title),
            4 => SortKey::Meta(Meta::CreatedAt),
            5 => SortKey::Meta(Meta::UpdatedAt),
            6 => SortKey::Meta(Meta::CreatedBy),
            7 => SortKey::Property {
                key: "s".into(),
                kind: Kind::String,
            },
            8 => SortKey::Property {
                key: "n".into(),
                kind: Kind::Number,
            },
            9 if !self.cands.iter().any(|c| c == "gamma") => SortKey::Property {
                key: "d".into(),
                kind: Kind::Date,
            },
            _ => SortKey::Meta(Meta::Datasource),
        };
        Some(Sort {
            key,
            descending: self.rng.gen_bool(0.5),
        })
    }
}

/// The value an entity is sorted by (strings, numbers, instants; `None` sorts last).
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum SortValue {
    Text(String),
    Number(f64),
    Instant(i64),
}

fn sort_value(e: &Value, key: &SortKey) -> Option<SortValue> {
    let v = match key {
        SortKey::Meta(m) => field_value(e, &Field::Meta(*m))?,
        SortKey::Property { key, .. } => e["properties"].get(key).filter(|v| !v.is_null())?,
    };
    let kind = match key {
        SortKey::Meta(m) => m.kind(),
        SortKey::Property { kind, .. } => *kind,
    };
    match kind {
        Kind::Number => v.as_f64().map(SortValue::Number),
        Kind::Date => v.as_str().and_then(parse_instant).map(SortValue::Instant),
        _ => v.as_str().map(|s| SortValue::Text(s.to_owned())),
    }
}

/// Is `found` in the order the sort (then identifier, then blueprint) requires?
fn check_order(found: &[Value], sort: Option<&Sort>) -> Result<(), String> {
    for w in found.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (ka, kb) = (key_of(a), key_of(b));
        let tie = (&ka.1, &ka.0).cmp(&(&kb.1, &kb.0));
        let ord = match sort {
            None => tie,
            Some(s) => {
                let (va, vb) = (sort_value(a, &s.key), sort_value(b, &s.key));
                let by_value = match (&va, &vb) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => {
                        let o = x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal);
                        if s.descending { o.reverse() } else { o }
                    }
                };
                by_value.then(tie)
            }
        };
        if ord != std::cmp::Ordering::Less {
            let values = sort.map(|s| (sort_value(a, &s.key), sort_value(b, &s.key)));
            return Err(format!(
                "{ka:?} comes before {kb:?} (sort values {values:?})"
            ));
        }
    }
    Ok(())
}

fn seeds() -> Vec<u64> {
    match std::env::var("PORTOLAN_SEARCH_SEED") {
        Ok(s) => vec![s.parse().expect("PORTOLAN_SEARCH_SEED: a number")],
        Err(_) => SEEDS.to_vec(),
    }
}

fn queries() -> usize {
    std::env::var("PORTOLAN_SEARCH_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(QUERIES)
}

async fn run_seed(store: &Store, seed: u64) {
    let backend = backend_name(store);
    let org = new_org(store).await;
    let mut rng = StdRng::seed_from_u64(seed);
    random_catalog(store, org, &mut rng).await;
    let bps = blueprints_of(store, org).await;
    let world = World::load(store, org).await;
    let all: Vec<String> = bps.keys().cloned().collect();
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed ^ 0xABCD),
        world: &world,
        bps: &bps,
        cands: Vec::new(),
    };
    let now = chrono::Utc::now().timestamp_micros();
    // Queries whose answer is neither nothing nor every candidate: the informative ones.
    let mut informative = 0;
    for i in 0..queries() {
        g.cands = match g.rng.gen_range(0..4) {
            0 | 1 => vec![all.choose(&mut g.rng).expect("not empty").clone()],
            2 => {
                let mut two: Vec<String> = all.choose_multiple(&mut g.rng, 2).cloned().collect();
                two.sort_by_key(|b| bps.get_index_of(b));
                two
            }
            _ => all.clone(),
        };
        // Bound as the API binds them: a random caller (an entity of the catalog as its user,
        // some as its teams, or none), "now" fixed.
        let n_teams = g.rng.gen_range(0..3);
        let caller = QueryContext {
            user: g.rng.gen_bool(0.8).then(|| {
                world
                    .entities
                    .choose(&mut g.rng)
                    .expect("not empty")
                    .clone()
            }),
            teams: world
                .entities
                .choose_multiple(&mut g.rng, n_teams)
                .cloned()
                .collect(),
            now,
        };
        let query = bind(&g.query(0), &caller);
        let filter = g.rng.gen_bool(0.15).then(|| bind(&g.query(1), &caller));
        let sort = g.sort();
        let limit = *[7u64, 7, 50, 1000].choose(&mut g.rng).expect("not empty");
        let context = || {
            format!(
                "{backend}, seed {seed}, query #{i}\ncandidates: {:?}\nquery: {query:#?}\nfilter: {filter:#?}\nsort: {sort:?}, limit {limit}",
                g.cands
            )
        };
        let expected = world.expected(&query, filter.as_ref(), &g.cands, now);
        let candidates = world
            .entities
            .iter()
            .filter(|e| g.cands.iter().any(|c| e["blueprint"] == c.as_str()))
            .count();
        if !expected.is_empty() && expected.len() < candidates {
            informative += 1;
        }
        let run = Run {
            query: &query,
            filter: filter.as_ref(),
            candidates: &g.cands,
            sort: sort.clone(),
            limit,
        };
        let found = page_all(store, org, &bps, &run).await;
        let got: BTreeSet<(String, String)> = found.iter().map(key_of).collect();
        if got != expected {
            let missing: Vec<&Value> = world
                .entities
                .iter()
                .filter(|e| expected.contains(&key_of(e)) && !got.contains(&key_of(e)))
                .take(3)
                .collect();
            let extra: Vec<&Value> = world
                .entities
                .iter()
                .filter(|e| got.contains(&key_of(e)) && !expected.contains(&key_of(e)))
                .take(3)
                .collect();
            panic!(
                "the search disagrees with the evaluator\n{}\nmissing ({}): {missing:#?}\nextra ({}): {extra:#?}",
                context(),
                expected.difference(&got).count(),
                got.difference(&expected).count(),
            );
        }
        // Sort values are read on the evaluator's copies (they hold `$datasource`).
        let seen: Vec<Value> = found
            .iter()
            .map(|e| {
                let (b, i) = key_of(e);
                world.get(&b, &i).clone()
            })
            .collect();
        if let Err(e) = check_order(&seen, sort.as_ref()) {
            panic!("results out of order: {e}\n{}", context());
        }
        let n = count_of(store, org, &bps, &query, filter.as_ref(), &g.cands).await;
        assert_eq!(n, expected.len() as u64, "count\n{}", context());
        if filter.is_none() {
            let t = tenant(store, org).await;
            let ids = search::identifiers(&t, &query, &bps, &g.cands, 1000)
                .await
                .unwrap_or_else(|e| panic!("identifiers: {e}\n{}", context()));
            drop(t);
            let mut want: Vec<String> = expected.iter().map(|(_, i)| i.clone()).collect();
            want.sort();
            assert_eq!(ids, want, "identifiers\n{}", context());
        }
    }
    assert!(
        informative * 4 >= queries(),
        "{backend}, seed {seed}: only {informative} of {} queries tell matches from \
         non-matches; the generator needs work",
        queries()
    );
}

#[tokio::test]
async fn search_agrees_with_the_evaluator() {
    both(|store| async move {
        for seed in seeds() {
            run_seed(&store, seed).await;
        }
    })
    .await;
}
