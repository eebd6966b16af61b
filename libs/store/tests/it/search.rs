//! Search: the SQL compiler (PostgreSQL and SQLite) against the semantics documented on the
//! query AST, operator by operator, and against the in-memory evaluator (`query::matches`):
//! every hand-written expectation here is checked on both databases *and* on the evaluator.
//!
//! Submodules: [`random`] (property-based: random catalogs and queries, store vs evaluator),
//! [`paging`] (keyset paging under concurrent writes), [`maintenance`] (the `entity_values`
//! index after updates, renames, schema changes and deletes; aggregates).

mod maintenance;
mod paging;
mod plans;
mod random;

use std::collections::{BTreeSet, HashMap};

use indexmap::IndexMap;
use portolan_domain::OrgId;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::event::Actor;
use portolan_domain::query::{
    Combinator, DateRange, Direction, Edge, Field, Graph, Item, Kind, Meta, Node, Op, Operand,
    PathStep, Query, Rule, Scalar, matches, parse_instant,
};
use portolan_store::entities::{self, ReadOptions, WriteMode};
use portolan_store::search::{self, Page, Position, SearchRequest, Sort, SortKey};
use portolan_store::{Store, Tenant};
use serde_json::{Value, json};

use crate::support::{both, create_blueprints, edges, entity_rows, new_org, opts, request, tenant};

// ---------------------------------------------------------------------------------------
// Query builders
// ---------------------------------------------------------------------------------------

pub(crate) fn prop(key: &str, kind: Kind) -> Field {
    Field::Property {
        key: key.into(),
        kind,
    }
}

pub(crate) fn meta(m: Meta) -> Field {
    Field::Meta(m)
}

pub(crate) fn relation(key: &str, many: bool) -> Field {
    Field::Relation {
        key: key.into(),
        many,
    }
}

pub(crate) fn cmp(field: Field, op: Op, value: Operand) -> Rule {
    Rule::Compare {
        field,
        op,
        value,
        negate: false,
    }
}

pub(crate) fn str_(s: &str) -> Scalar {
    Scalar::Str(s.into())
}

pub(crate) fn one_str(s: &str) -> Operand {
    Operand::One(str_(s))
}

pub(crate) fn one_num(n: f64) -> Operand {
    Operand::One(Scalar::Num(n))
}

pub(crate) fn one_time(rfc3339: &str) -> Operand {
    Operand::One(Scalar::Time(instant(rfc3339)))
}

pub(crate) fn one_json(v: Value) -> Operand {
    Operand::One(Scalar::Json(v))
}

pub(crate) fn strs(items: &[&str]) -> Operand {
    Operand::Many(items.iter().map(|s| str_(s)).collect())
}

pub(crate) fn instant(rfc3339: &str) -> i64 {
    parse_instant(rfc3339).unwrap_or_else(|| panic!("not an instant: {rfc3339}"))
}

pub(crate) fn and(rules: Vec<Node>) -> Query {
    Query {
        combinator: Combinator::And,
        rules,
    }
}

pub(crate) fn or(rules: Vec<Node>) -> Query {
    Query {
        combinator: Combinator::Or,
        rules,
    }
}

pub(crate) fn node(r: Rule) -> Node {
    Node::Rule(r)
}

pub(crate) fn sub(q: Query) -> Node {
    Node::Query(q)
}

/// The rule with `negate` flipped (`None` for rules without a negative form).
pub(crate) fn negated(r: &Rule) -> Option<Rule> {
    let mut r = r.clone();
    match &mut r {
        Rule::Compare { negate, .. }
        | Rule::Between { negate, .. }
        | Rule::Empty { negate, .. }
        | Rule::Expired { negate, .. } => *negate = !*negate,
        _ => return None,
    }
    Some(r)
}

fn step(relation: &str, max_hops: u8) -> PathStep {
    PathStep {
        relation: relation.into(),
        max_hops,
    }
}

// ---------------------------------------------------------------------------------------
// Running searches and the evaluator
// ---------------------------------------------------------------------------------------

pub(crate) fn backend_name(store: &Store) -> &'static str {
    match store.backend() {
        portolan_store::Backend::Postgres => "PostgreSQL",
        portolan_store::Backend::Sqlite => "SQLite",
    }
}

/// Every blueprint of the org, as the search sees them.
pub(crate) async fn blueprints_of(store: &Store, org: OrgId) -> IndexMap<String, Blueprint> {
    let t = tenant(store, org).await;
    (*search::blueprints(&t).await.expect("blueprints")).clone()
}

/// Relation edges indexed both ways (the evaluator's `MemoryGraph` scans every edge per
/// lookup, too slow for the random catalogs).
#[derive(Debug, Default)]
pub(crate) struct IndexedGraph {
    pub edges: Vec<Edge>,
    out: HashMap<(String, String), Vec<Edge>>,
    inc: HashMap<(String, String), Vec<Edge>>,
}

impl IndexedGraph {
    pub(crate) fn new(edges: Vec<Edge>) -> IndexedGraph {
        let mut g = IndexedGraph::default();
        for e in &edges {
            g.out
                .entry((e.source_blueprint.clone(), e.source_identifier.clone()))
                .or_default()
                .push(e.clone());
            g.inc
                .entry((e.target_blueprint.clone(), e.target_identifier.clone()))
                .or_default()
                .push(e.clone());
        }
        g.edges = edges;
        g
    }
}

impl Graph for IndexedGraph {
    fn outgoing(&self, blueprint: &str, identifier: &str) -> Vec<Edge> {
        self.out
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .cloned()
            .unwrap_or_default()
    }
    fn incoming(&self, blueprint: &str, identifier: &str) -> Vec<Edge> {
        self.inc
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .cloned()
            .unwrap_or_default()
    }
}

/// Every entity of the org in Port's read shape (plus `$datasource`), and the relation graph:
/// what the evaluator needs.
pub(crate) struct World {
    pub entities: Vec<Value>,
    pub graph: IndexedGraph,
}

impl World {
    pub(crate) async fn load(store: &Store, org: OrgId) -> World {
        let t = tenant(store, org).await;
        let bps = search::blueprints(&t).await.expect("blueprints");
        let mut entities = Vec::new();
        for bp in bps.keys() {
            entities.extend(
                entities::list(&t, bp, &ReadOptions::default())
                    .await
                    .expect("list"),
            );
        }
        drop(t);
        let mut datasource: HashMap<(String, String), Option<String>> = HashMap::new();
        for bp in bps.keys() {
            for m in entity_rows(store, org, bp).await {
                datasource.insert((m.blueprint, m.identifier), m.datasource);
            }
        }
        for e in &mut entities {
            let k = key_of(e);
            let ds = datasource.get(&k).cloned().flatten();
            e["$datasource"] = ds.map_or(Value::Null, Value::String);
        }
        let graph = IndexedGraph::new(
            edges(store, org)
                .await
                .into_iter()
                .map(|(sb, s, rel, tb, tgt, required)| Edge {
                    source_blueprint: sb,
                    source_identifier: s,
                    relation: rel,
                    required,
                    target_blueprint: tb,
                    target_identifier: tgt,
                })
                .collect(),
        );
        World { entities, graph }
    }

    /// The entities of `candidates` matching `query` (and `filter`) per the evaluator.
    pub(crate) fn expected(
        &self,
        query: &Query,
        filter: Option<&Query>,
        candidates: &[String],
        now: i64,
    ) -> BTreeSet<(String, String)> {
        self.entities
            .iter()
            .filter(|e| candidates.iter().any(|c| e["blueprint"] == c.as_str()))
            .filter(|e| matches(query, e, &self.graph, now))
            .filter(|e| filter.is_none_or(|f| matches(f, e, &self.graph, now)))
            .map(key_of)
            .collect()
    }

    pub(crate) fn get(&self, bp: &str, id: &str) -> &Value {
        self.entities
            .iter()
            .find(|e| e["blueprint"] == bp && e["identifier"] == id)
            .unwrap_or_else(|| panic!("no entity {bp}/{id}"))
    }
}

pub(crate) fn key_of(e: &Value) -> (String, String) {
    (
        e["blueprint"].as_str().expect("blueprint").to_owned(),
        e["identifier"].as_str().expect("identifier").to_owned(),
    )
}

/// One search, paged to the end.
pub(crate) struct Run<'a> {
    pub query: &'a Query,
    pub filter: Option<&'a Query>,
    pub candidates: &'a [String],
    pub sort: Option<Sort>,
    pub limit: u64,
}

/// `search_raw`'s page is `search`'s page as JSON text.
pub(crate) fn same_page(store: &Store, page: &Page, raw: &search::RawPage) {
    let backend = backend_name(store);
    let parsed: Vec<Value> =
        serde_json::from_slice(&raw.entities).expect("search_raw writes a JSON array");
    assert_eq!(parsed, page.entities, "{backend}: search_raw's entities");
    assert_eq!(raw.next, page.next, "{backend}: search_raw's next");
    let mut blueprints: Vec<String> = Vec::new();
    for e in &page.entities {
        let b = e["blueprint"].as_str().unwrap_or_default().to_owned();
        if !blueprints.contains(&b) {
            blueprints.push(b);
        }
    }
    assert_eq!(
        raw.blueprints, blueprints,
        "{backend}: search_raw's blueprints"
    );
}

/// One page (its own tenant transaction).
pub(crate) async fn one_page(
    store: &Store,
    org: OrgId,
    bps: &IndexMap<String, Blueprint>,
    run: &Run<'_>,
    after: Option<Position>,
) -> Page {
    page_checked(store, org, bps, run, after, true).await
}

/// [`one_page`], where `raw_too` also asks `search_raw` in the same transaction and checks
/// that it says the same (not under concurrent writes: the two statements see different
/// snapshots).
pub(crate) async fn page_checked(
    store: &Store,
    org: OrgId,
    bps: &IndexMap<String, Blueprint>,
    run: &Run<'_>,
    after: Option<Position>,
    raw_too: bool,
) -> Page {
    let t = tenant(store, org).await;
    let read = ReadOptions::default();
    let req = SearchRequest {
        query: run.query,
        filter: run.filter,
        blueprints: bps,
        candidates: run.candidates,
        sort: run.sort.clone(),
        after,
        limit: run.limit,
        read: &read,
    };
    let failed = |e: portolan_store::StoreError| -> ! {
        panic!(
            "{}: search failed: {e}\nquery: {:?}",
            backend_name(store),
            run.query
        )
    };
    let page = search::search(&t, &req).await.unwrap_or_else(|e| failed(e));
    // The routes' JSON-text rendering of the same page says the same.
    if raw_too {
        let raw = search::search_raw(&t, &req)
            .await
            .unwrap_or_else(|e| failed(e));
        same_page(store, &page, &raw);
    }
    drop(t);
    page
}

/// Every result of a search, page after page; panics on an entity returned twice.
pub(crate) async fn page_all(
    store: &Store,
    org: OrgId,
    bps: &IndexMap<String, Blueprint>,
    run: &Run<'_>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut after = None;
    loop {
        let page = one_page(store, org, bps, run, after).await;
        assert!(
            page.entities.len() as u64 <= run.limit,
            "a page holds more than the limit"
        );
        for e in page.entities {
            assert!(
                seen.insert(key_of(&e)),
                "{}: {:?} returned twice\nquery: {:?}",
                backend_name(store),
                key_of(&e),
                run.query
            );
            out.push(e);
        }
        match page.next {
            Some(p) => after = Some(p),
            None => break,
        }
    }
    out
}

pub(crate) async fn count_of(
    store: &Store,
    org: OrgId,
    bps: &IndexMap<String, Blueprint>,
    query: &Query,
    filter: Option<&Query>,
    candidates: &[String],
) -> u64 {
    let t = tenant(store, org).await;
    search::count(&t, query, filter, bps, candidates)
        .await
        .unwrap_or_else(|e| panic!("{}: count failed: {e}", backend_name(store)))
}

/// A fixture: an org, its blueprints and its entities as the evaluator sees them.
pub(crate) struct Fx {
    pub store: Store,
    pub org: OrgId,
    pub bps: IndexMap<String, Blueprint>,
    pub world: World,
    /// "Now" for the evaluator (rules here always fix their own "now").
    pub now: i64,
}

impl Fx {
    pub(crate) async fn new(store: Store, org: OrgId) -> Fx {
        let bps = blueprints_of(&store, org).await;
        let world = World::load(&store, org).await;
        Fx {
            store,
            org,
            bps,
            world,
            now: chrono::Utc::now().timestamp_micros(),
        }
    }

    pub(crate) async fn refresh(&mut self) {
        self.bps = blueprints_of(&self.store, self.org).await;
        self.world = World::load(&self.store, self.org).await;
    }

    /// Every identifier of blueprint `bp`.
    pub(crate) fn all(&self, bp: &str) -> BTreeSet<String> {
        self.world
            .entities
            .iter()
            .filter(|e| e["blueprint"] == bp)
            .map(|e| key_of(e).1)
            .collect()
    }

    /// `query` over `candidates` matches exactly `expected` (`blueprint/identifier`, or a bare
    /// identifier when there is one candidate): on the database (paged, sorted by identifier,
    /// also as a count) and on the evaluator.
    pub(crate) async fn check_in(&self, candidates: &[&str], query: &Query, expected: &[&str]) {
        let cands: Vec<String> = candidates.iter().map(|s| (*s).to_owned()).collect();
        let want: BTreeSet<(String, String)> = expected
            .iter()
            .map(|e| match e.split_once('/') {
                Some((b, i)) if cands.len() > 1 => (b.to_owned(), i.to_owned()),
                _ => (cands[0].clone(), (*e).to_owned()),
            })
            .collect();
        let backend = backend_name(&self.store);
        let evaluated = self.world.expected(query, None, &cands, self.now);
        assert_eq!(
            evaluated, want,
            "{backend}: the EVALUATOR disagrees with the expectation\nquery: {query:?}"
        );
        let run = Run {
            query,
            filter: None,
            candidates: &cands,
            sort: None,
            limit: 4,
        };
        let found = page_all(&self.store, self.org, &self.bps, &run).await;
        let got: BTreeSet<(String, String)> = found.iter().map(key_of).collect();
        assert_eq!(
            got, want,
            "{backend}: the SEARCH disagrees with the expectation\nquery: {query:?}"
        );
        // Unsorted pages come in (identifier, blueprint) order.
        let order: Vec<(String, String)> = found
            .iter()
            .map(|e| {
                let (b, i) = key_of(e);
                (i, b)
            })
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "{backend}: unsorted pages out of order");
        let n = count_of(&self.store, self.org, &self.bps, query, None, &cands).await;
        assert_eq!(
            n,
            want.len() as u64,
            "{backend}: COUNT disagrees\nquery: {query:?}"
        );
    }

    /// One rule on the `item` blueprint matches exactly `expected`; its negation (when it has
    /// one) matches every other item.
    pub(crate) async fn rule(&self, r: Rule, expected: &[&str]) {
        self.check_in(&["item"], &and(vec![node(r.clone())]), expected)
            .await;
        if let Some(n) = negated(&r) {
            let rest: Vec<String> = self
                .all("item")
                .into_iter()
                .filter(|i| !expected.contains(&i.as_str()))
                .collect();
            let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
            self.check_in(&["item"], &and(vec![node(n)]), &rest).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The operator fixture
// ---------------------------------------------------------------------------------------

pub(crate) fn person_bp() -> Value {
    json!({
        "identifier": "person",
        "title": "Person",
        "schema": {"properties": {"name": {"type": "string"}, "n": {"type": "number"}}},
        "relations": {"boss": {"target": "person", "required": true, "many": false}},
    })
}

pub(crate) fn item_bp() -> Value {
    json!({
        "identifier": "item",
        "title": "Item",
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
        }},
        "relations": {
            "owner": {"target": "person", "required": false, "many": false},
            "parent": {"target": "item", "required": false, "many": false},
            "deps": {"target": "item", "required": false, "many": true},
        },
    })
}

pub(crate) fn x(n: usize) -> String {
    "x".repeat(n)
}

fn alice() -> Actor {
    Actor {
        by: "alice".into(),
        origin: "API".into(),
        datasource: Some("portolan-tests/1.0".into()),
    }
}

fn bob() -> Actor {
    Actor {
        by: "bob".into(),
        origin: "API".into(),
        datasource: None,
    }
}

async fn write_as(t: &Tenant, bp: &str, bodies: Vec<Value>, mode: WriteMode, actor: &Actor) {
    let reqs = bodies
        .into_iter()
        .enumerate()
        .map(|(i, b)| request(i, b))
        .collect();
    let (_, failed) = entities::write(t, bp, reqs, &opts(mode), actor)
        .await
        .unwrap_or_else(|e| panic!("write to {bp}: {e}"));
    assert!(
        failed.is_empty(),
        "writes failed: {:?}",
        failed
            .iter()
            .map(|f| format!("{:?}: {}", f.identifier, f.error))
            .collect::<Vec<_>>()
    );
}

/// `person` p1 -> p2 -> p3 -> p1 (`boss`, required); items `a`..`g` written by alice (with a
/// datasource), then `h`..`m` by bob (without).
async fn operator_fixture(store: Store) -> Fx {
    let org = new_org(&store).await;
    create_blueprints(&store, org, &[person_bp(), item_bp()]).await;
    let t = tenant(&store, org).await;
    write_as(
        &t,
        "person",
        vec![
            json!({"identifier": "p1", "title": "Ann", "properties": {"name": "Ann", "n": 1},
                   "relations": {"boss": "p2"}}),
            json!({"identifier": "p2", "properties": {"name": "Bob"}, "relations": {"boss": "p3"}}),
            json!({"identifier": "p3", "relations": {"boss": "p1"}}),
        ],
        WriteMode::Create,
        &alice(),
    )
    .await;
    write_as(
        &t,
        "item",
        vec![
            json!({"identifier": "a", "title": "Alpha", "team": ["t1"],
                   "properties": {"s": "alpha", "n": 1, "b": true, "d": "2024-01-01T00:00:00Z",
                                  "o": {"x": 1, "y": [1, 2]}, "ss": ["x", "y"], "ns": [1, 2.5],
                                  "ds": ["2024-01-01T02:00:00+02:00", "2024-03-01T00:00:00Z"],
                                  "bs": [true], "anys": [{"k": 1}]},
                   "relations": {"owner": "p1", "parent": "b", "deps": ["b", "c"]}}),
            json!({"identifier": "b", "title": "naïve", "team": ["t1", "t2"],
                   "properties": {"s": "naïve", "n": 1.0, "b": false,
                                  "d": "2024-01-01T01:00:00+01:00",
                                  "o": {"y": [1, 2.0], "x": 1.0}, "ss": ["日本", "y"], "ns": [],
                                  "ds": [], "bs": [false], "anys": []},
                   "relations": {"owner": "p2", "parent": "a", "deps": ["a"]}}),
            json!({"identifier": "c",
                   "properties": {"s": "日本語😀", "n": -3.5, "d": "2025-06-30T23:59:59.999999Z",
                                  "o": {}, "ss": [], "ns": [2.5, -1], "bs": [true, false]},
                   "relations": {"parent": "c", "deps": []}}),
            json!({"identifier": "d", "title": "100%",
                   "properties": {"s": "100%_off\\now", "n": 100,
                                  "d": "2023-12-31T23:59:59.999+00:00",
                                  "o": {"q\"k": 1, "b\\s": [2], "it's": {"x.y": null}}},
                   "relations": {"deps": ["a", "b", "c"]}}),
            json!({"identifier": "e", "properties": {"s": format!("{}A", x(300)), "ss": [format!("{}A", x(300))]},
                   "relations": {"parent": "d"}}),
            json!({"identifier": "f", "properties": {"s": format!("{}B", x(300)), "ss": [format!("{}B", x(300))]}}),
            json!({"identifier": "g", "properties": {"s": x(256), "ss": [x(256)]}}),
        ],
        WriteMode::Create,
        &alice(),
    )
    .await;
    t.commit().await.expect("commit");
    // A later batch: other timestamps, another writer.
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let t = tenant(&store, org).await;
    write_as(
        &t,
        "item",
        vec![
            json!({"identifier": "h", "title": "h"}),
            json!({"identifier": "i", "properties": {"s": "", "n": 0, "b": false}}),
            json!({"identifier": "j", "properties": {"s": "ALPHA"}}),
            json!({"identifier": "k", "properties": {"s": "a_c"}}),
            json!({"identifier": "l", "properties": {"s": "abc"}}),
            json!({"identifier": "m", "properties": {"s": "a%c"}}),
        ],
        WriteMode::Create,
        &bob(),
    )
    .await;
    t.commit().await.expect("commit");
    Fx::new(store, org).await
}

/// The items with a value for `s` (all but `h`).
const STRING_ITEMS: [&str; 12] = ["a", "b", "c", "d", "e", "f", "g", "i", "j", "k", "l", "m"];

#[tokio::test]
async fn strings() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let s = || prop("s", Kind::String);
        let x300a = format!("{}A", x(300));
        let x300b = format!("{}B", x(300));
        let eq = |v: &str| cmp(s(), Op::Eq, one_str(v));
        fx.rule(eq("alpha"), &["a"]).await;
        fx.rule(eq("ALPHA"), &["j"]).await;
        fx.rule(eq("naïve"), &["b"]).await;
        fx.rule(eq("naive"), &[]).await;
        fx.rule(eq("日本語😀"), &["c"]).await;
        fx.rule(eq(""), &["i"]).await;
        fx.rule(eq("100%_off\\now"), &["d"]).await;
        fx.rule(eq("100%_off%"), &[]).await;
        fx.rule(eq("a_c"), &["k"]).await;
        fx.rule(eq("a%c"), &["m"]).await;
        // Long strings: the index holds 256 characters, `=` stays exact.
        fx.rule(eq(&x300a), &["e"]).await;
        fx.rule(eq(&x(256)), &["g"]).await;
        // Shorter than a cut row: no `long` test needed, and none matches.
        fx.rule(eq(&x(255)), &[]).await;
        fx.rule(eq(&x(300)), &[]).await;
        fx.rule(eq(&x(257)), &[]).await;
        let inn = |v: &[&str]| cmp(s(), Op::In, strs(v));
        fx.rule(inn(&["alpha", "abc", &x300b, "zzz"]), &["a", "l", "f"])
            .await;
        fx.rule(inn(&[&x(256), &x(300)]), &["g"]).await;
        fx.rule(inn(&[]), &[]).await;
        fx.rule(cmp(s(), Op::In, one_str("abc")), &["l"]).await;
        let contains = |v: &str| cmp(s(), Op::Contains, one_str(v));
        fx.rule(contains("lph"), &["a"]).await;
        fx.rule(contains("LPH"), &["j"]).await;
        fx.rule(contains("%"), &["d", "m"]).await;
        fx.rule(contains("_"), &["d", "k"]).await;
        fx.rule(contains("\\"), &["d"]).await;
        fx.rule(contains("本語"), &["c"]).await;
        fx.rule(contains("😀"), &["c"]).await;
        fx.rule(contains("ï"), &["b"]).await;
        fx.rule(contains("xA"), &["e"]).await;
        fx.rule(contains(""), &STRING_ITEMS).await;
        let begins = |v: &str| cmp(s(), Op::BeginsWith, one_str(v));
        fx.rule(begins("a"), &["a", "k", "l", "m"]).await;
        fx.rule(begins("a_"), &["k"]).await;
        fx.rule(begins("a%"), &["m"]).await;
        fx.rule(begins("A"), &["j"]).await;
        fx.rule(begins("日本"), &["c"]).await;
        fx.rule(begins("100%"), &["d"]).await;
        fx.rule(begins("100\\"), &[]).await;
        fx.rule(begins("100%_off\\"), &["d"]).await;
        fx.rule(begins(""), &STRING_ITEMS).await;
        fx.rule(begins(&x(256)), &["e", "f", "g"]).await;
        fx.rule(begins(&x(257)), &["e", "f"]).await;
        fx.rule(begins(&x300a), &["e"]).await;
        fx.rule(begins(&format!("{}A", x(255))), &[]).await;
        let ends = |v: &str| cmp(s(), Op::EndsWith, one_str(v));
        fx.rule(ends("c"), &["k", "l", "m"]).await;
        fx.rule(ends("_c"), &["k"]).await;
        fx.rule(ends("%c"), &["m"]).await;
        fx.rule(ends("\\now"), &["d"]).await;
        fx.rule(ends("😀"), &["c"]).await;
        fx.rule(ends("ve"), &["b"]).await;
        fx.rule(ends("A"), &["e", "j"]).await;
        fx.rule(ends(""), &STRING_ITEMS).await;
        fx.rule(ends(&format!("x{x300a}")), &[]).await;
    })
    .await;
}

#[tokio::test]
async fn numbers_booleans_objects() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let n = || prop("n", Kind::Number);
        fx.rule(cmp(n(), Op::Eq, one_num(1.0)), &["a", "b"]).await;
        fx.rule(cmp(n(), Op::Eq, one_num(-3.5)), &["c"]).await;
        fx.rule(cmp(n(), Op::Eq, one_num(0.0)), &["i"]).await;
        fx.rule(cmp(n(), Op::Eq, one_num(-0.0)), &["i"]).await;
        fx.rule(cmp(n(), Op::Gt, one_num(1.0)), &["d"]).await;
        fx.rule(cmp(n(), Op::Ge, one_num(1.0)), &["a", "b", "d"])
            .await;
        fx.rule(cmp(n(), Op::Lt, one_num(1.0)), &["c", "i"]).await;
        fx.rule(cmp(n(), Op::Le, one_num(0.0)), &["c", "i"]).await;
        fx.rule(cmp(n(), Op::Lt, one_num(-10.0)), &[]).await;
        fx.rule(cmp(n(), Op::Gt, one_num(-3.6)), &["a", "b", "c", "d", "i"])
            .await;
        let nums = |v: &[f64]| Operand::Many(v.iter().map(|n| Scalar::Num(*n)).collect());
        fx.rule(cmp(n(), Op::In, nums(&[1.0, 100.0, 7.0])), &["a", "b", "d"])
            .await;
        fx.rule(cmp(n(), Op::In, nums(&[])), &[]).await;

        let b = || prop("b", Kind::Boolean);
        fx.rule(cmp(b(), Op::Eq, Operand::One(Scalar::Bool(true))), &["a"])
            .await;
        fx.rule(
            cmp(b(), Op::Eq, Operand::One(Scalar::Bool(false))),
            &["b", "i"],
        )
        .await;

        let o = || prop("o", Kind::Object);
        let oeq = |v: Value| cmp(o(), Op::Eq, one_json(v));
        fx.rule(oeq(json!({"x": 1, "y": [1, 2]})), &["a", "b"])
            .await;
        fx.rule(oeq(json!({"y": [1.0, 2], "x": 1})), &["a", "b"])
            .await;
        fx.rule(oeq(json!({"x": 1})), &[]).await;
        fx.rule(oeq(json!({"x": 1, "y": [2, 1]})), &[]).await;
        fx.rule(oeq(json!({"x": 1, "y": [1, 2], "z": null})), &[])
            .await;
        fx.rule(oeq(json!({"x": "1", "y": [1, 2]})), &[]).await;
        fx.rule(oeq(json!({})), &["c"]).await;
        // Member names that need quoting in a JSON path.
        fx.rule(
            oeq(json!({"it's": {"x.y": null}, "q\"k": 1.0, "b\\s": [2]})),
            &["d"],
        )
        .await;
        fx.rule(
            oeq(json!({"it's": {"x.y": 0}, "q\"k": 1, "b\\s": [2]})),
            &[],
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn dates() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let d = || prop("d", Kind::Date);
        // a and b hold the same instant with different offsets.
        fx.rule(
            cmp(d(), Op::Eq, one_time("2024-01-01T00:00:00Z")),
            &["a", "b"],
        )
        .await;
        fx.rule(
            cmp(d(), Op::Eq, one_time("2023-12-31T19:00:00-05:00")),
            &["a", "b"],
        )
        .await;
        fx.rule(
            cmp(d(), Op::Eq, one_time("2025-06-30T23:59:59.999999Z")),
            &["c"],
        )
        .await;
        fx.rule(
            cmp(d(), Op::Eq, one_time("2025-06-30T23:59:59.999998Z")),
            &[],
        )
        .await;
        fx.rule(cmp(d(), Op::Gt, one_time("2024-01-01T00:00:00Z")), &["c"])
            .await;
        fx.rule(
            cmp(d(), Op::Ge, one_time("2024-01-01T00:00:00Z")),
            &["a", "b", "c"],
        )
        .await;
        fx.rule(cmp(d(), Op::Lt, one_time("2024-01-01T00:00:00Z")), &["d"])
            .await;
        fx.rule(
            cmp(d(), Op::Le, one_time("2024-01-01T01:00:00+01:00")),
            &["a", "b", "d"],
        )
        .await;
        fx.rule(
            cmp(
                d(),
                Op::In,
                Operand::Many(vec![
                    Scalar::Time(instant("2023-12-31T23:59:59.999Z")),
                    Scalar::Time(instant("2025-06-30T23:59:59.999999Z")),
                ]),
            ),
            &["c", "d"],
        )
        .await;
        let between = |from: &str, to: &str| Rule::Between {
            field: d(),
            range: DateRange::Fixed {
                from: instant(from),
                to: instant(to),
            },
            negate: false,
        };
        fx.rule(
            between("2024-01-01T00:00:00Z", "2025-06-30T23:59:59.999999Z"),
            &["a", "b", "c"],
        )
        .await;
        fx.rule(
            between("2024-01-01T00:00:00.000001Z", "2026-01-01T00:00:00Z"),
            &["c"],
        )
        .await;
        fx.rule(
            between("2023-01-01T00:00:00Z", "2023-12-31T23:59:59.999Z"),
            &["d"],
        )
        .await;
        fx.rule(between("2026-01-01T00:00:00Z", "2020-01-01T00:00:00Z"), &[])
            .await;
        let expired = |now: &str| Rule::Expired {
            field: d(),
            negate: false,
            now: Some(instant(now)),
        };
        fx.rule(expired("2024-06-01T00:00:00Z"), &["a", "b", "d"])
            .await;
        // Strictly before now.
        fx.rule(expired("2024-01-01T00:00:00Z"), &["d"]).await;
        fx.rule(expired("2000-01-01T00:00:00Z"), &[]).await;
    })
    .await;
}

#[tokio::test]
async fn arrays() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let ss = || prop("ss", Kind::Array(Item::String));
        let x300a = format!("{}A", x(300));
        fx.rule(cmp(ss(), Op::Contains, one_str("y")), &["a", "b"])
            .await;
        fx.rule(cmp(ss(), Op::Contains, one_str("日本")), &["b"])
            .await;
        fx.rule(cmp(ss(), Op::Contains, one_str("日")), &[]).await;
        fx.rule(cmp(ss(), Op::Contains, one_str(&x300a)), &["e"])
            .await;
        fx.rule(cmp(ss(), Op::Contains, one_str(&x(256))), &["g"])
            .await;
        fx.rule(cmp(ss(), Op::Contains, one_str("")), &[]).await;
        fx.rule(
            cmp(ss(), Op::ContainsAny, strs(&["x", "日本"])),
            &["a", "b"],
        )
        .await;
        fx.rule(
            cmp(
                ss(),
                Op::ContainsAny,
                strs(&[&format!("{}B", x(300)), "zz"]),
            ),
            &["f"],
        )
        .await;
        fx.rule(cmp(ss(), Op::In, strs(&["y"])), &["a", "b"]).await;
        fx.rule(cmp(ss(), Op::ContainsAny, strs(&[])), &[]).await;
        fx.rule(cmp(ss(), Op::Eq, one_json(json!(["x", "y"]))), &["a"])
            .await;
        fx.rule(cmp(ss(), Op::Eq, one_json(json!(["y", "x"]))), &[])
            .await;
        fx.rule(cmp(ss(), Op::Eq, one_json(json!([]))), &["c"])
            .await;

        let ns = || prop("ns", Kind::Array(Item::Number));
        fx.rule(cmp(ns(), Op::Contains, one_num(2.5)), &["a", "c"])
            .await;
        fx.rule(cmp(ns(), Op::Contains, one_num(1.0)), &["a"]).await;
        fx.rule(
            cmp(
                ns(),
                Op::ContainsAny,
                Operand::Many(vec![Scalar::Num(-1.0), Scalar::Num(7.0)]),
            ),
            &["c"],
        )
        .await;
        fx.rule(cmp(ns(), Op::Eq, one_json(json!([1.0, 2.5]))), &["a"])
            .await;
        fx.rule(cmp(ns(), Op::Eq, one_json(json!([]))), &["b"])
            .await;

        let ds = || prop("ds", Kind::Array(Item::Date));
        fx.rule(
            cmp(ds(), Op::Contains, one_time("2024-01-01T00:00:00Z")),
            &["a"],
        )
        .await;
        fx.rule(
            cmp(
                ds(),
                Op::ContainsAny,
                Operand::Many(vec![Scalar::Time(instant("2024-03-01T01:00:00+01:00"))]),
            ),
            &["a"],
        )
        .await;
        fx.rule(
            cmp(ds(), Op::Contains, one_time("2024-01-01T02:00:00Z")),
            &[],
        )
        .await;
        fx.rule(
            cmp(
                ds(),
                Op::Eq,
                one_json(json!(["2024-01-01T02:00:00+02:00", "2024-03-01T00:00:00Z"])),
            ),
            &["a"],
        )
        .await;

        let bs = || prop("bs", Kind::Array(Item::Boolean));
        fx.rule(
            cmp(bs(), Op::Contains, Operand::One(Scalar::Bool(true))),
            &["a", "c"],
        )
        .await;
        fx.rule(
            cmp(
                bs(),
                Op::ContainsAny,
                Operand::Many(vec![Scalar::Bool(false)]),
            ),
            &["b", "c"],
        )
        .await;

        let anys = || prop("anys", Kind::Array(Item::Any));
        fx.rule(cmp(anys(), Op::Eq, one_json(json!([{"k": 1}]))), &["a"])
            .await;
        fx.rule(cmp(anys(), Op::Eq, one_json(json!([{"k": 1.0}]))), &["a"])
            .await;
        fx.rule(cmp(anys(), Op::Eq, one_json(json!([]))), &["b"])
            .await;
    })
    .await;
}

#[tokio::test]
async fn empty() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let empty = |field| Rule::Empty {
            field,
            negate: false,
        };
        fx.rule(empty(prop("s", Kind::String)), &["h"]).await;
        fx.rule(
            empty(prop("n", Kind::Number)),
            &["e", "f", "g", "h", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(prop("o", Kind::Object)),
            &["e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(prop("ss", Kind::Array(Item::String))),
            &["c", "d", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(prop("ns", Kind::Array(Item::Number))),
            &["b", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(prop("d", Kind::Date)),
            &["e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(meta(Meta::Title)),
            &["c", "e", "f", "g", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(meta(Meta::Team)),
            &["c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(empty(meta(Meta::Identifier)), &[]).await;
        fx.rule(empty(meta(Meta::CreatedAt)), &[]).await;
        fx.rule(empty(meta(Meta::Icon)), &ALL_ITEMS).await;
        fx.rule(
            empty(meta(Meta::Datasource)),
            &["h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(relation("owner", false)),
            &["c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.rule(
            empty(relation("deps", true)),
            &["c", "e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
    })
    .await;
}

/// Every item of the operator fixture.
const ALL_ITEMS: [&str; 13] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
];

#[tokio::test]
async fn meta_properties() {
    both(|store| async move {
        let mut fx = operator_fixture(store).await;
        let id = || meta(Meta::Identifier);
        fx.rule(cmp(id(), Op::Eq, one_str("a")), &["a"]).await;
        fx.rule(cmp(id(), Op::In, strs(&["a", "c", "zz"])), &["a", "c"])
            .await;
        fx.rule(cmp(id(), Op::BeginsWith, one_str("a")), &["a"])
            .await;
        fx.rule(cmp(id(), Op::Contains, one_str("")), &ALL_ITEMS)
            .await;
        let title = || meta(Meta::Title);
        fx.rule(cmp(title(), Op::Eq, one_str("naïve")), &["b"])
            .await;
        fx.rule(cmp(title(), Op::Contains, one_str("%")), &["d"])
            .await;
        fx.rule(cmp(title(), Op::BeginsWith, one_str("A")), &["a"])
            .await;
        fx.rule(cmp(title(), Op::BeginsWith, one_str("a")), &[])
            .await;
        fx.rule(cmp(title(), Op::EndsWith, one_str("ve")), &["b"])
            .await;
        fx.rule(cmp(title(), Op::In, strs(&["h", "Alpha"])), &["a", "h"])
            .await;
        let team = || meta(Meta::Team);
        fx.rule(cmp(team(), Op::Contains, one_str("t2")), &["b"])
            .await;
        fx.rule(cmp(team(), Op::ContainsAny, strs(&["t1"])), &["a", "b"])
            .await;
        fx.rule(cmp(team(), Op::In, strs(&["t2", "zz"])), &["b"])
            .await;
        fx.rule(cmp(team(), Op::Eq, one_json(json!(["t1", "t2"]))), &["b"])
            .await;
        fx.rule(
            cmp(team(), Op::Eq, one_json(json!([]))),
            &["c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        let bp = || meta(Meta::Blueprint);
        fx.rule(cmp(bp(), Op::Eq, one_str("item")), &ALL_ITEMS)
            .await;
        fx.rule(cmp(bp(), Op::In, strs(&["person"])), &[]).await;
        fx.check_in(
            &["item", "person"],
            &and(vec![node(cmp(bp(), Op::Eq, one_str("person")))]),
            &["person/p1", "person/p2", "person/p3"],
        )
        .await;
        let batch1 = ["a", "b", "c", "d", "e", "f", "g"];
        let batch2 = ["h", "i", "j", "k", "l", "m"];
        fx.rule(
            cmp(meta(Meta::CreatedBy), Op::Eq, one_str("alice")),
            &batch1,
        )
        .await;
        fx.rule(cmp(meta(Meta::UpdatedBy), Op::Eq, one_str("bob")), &batch2)
            .await;
        fx.rule(
            cmp(
                meta(Meta::Datasource),
                Op::Eq,
                one_str("portolan-tests/1.0"),
            ),
            &batch1,
        )
        .await;
        fx.rule(
            cmp(meta(Meta::Datasource), Op::BeginsWith, one_str("portolan-")),
            &batch1,
        )
        .await;

        // Timestamps: each batch shares one instant.
        let created = |id: &str| -> String {
            fx.world.get("item", id)["createdAt"]
                .as_str()
                .expect("a string")
                .to_owned()
        };
        let (t1, t2) = (created("a"), created("h"));
        assert_ne!(t1, t2);
        let at = || meta(Meta::CreatedAt);
        fx.rule(cmp(at(), Op::Eq, one_time(&t1)), &batch1).await;
        fx.rule(cmp(at(), Op::Gt, one_time(&t1)), &batch2).await;
        fx.rule(cmp(at(), Op::Ge, one_time(&t1)), &ALL_ITEMS).await;
        fx.rule(cmp(at(), Op::Lt, one_time(&t2)), &batch1).await;
        fx.rule(cmp(at(), Op::Le, one_time(&t1)), &batch1).await;
        fx.rule(
            cmp(
                at(),
                Op::In,
                Operand::Many(vec![Scalar::Time(instant(&t2)), Scalar::Time(0)]),
            ),
            &batch2,
        )
        .await;
        // The same instants written with another offset.
        let shifted = chrono::DateTime::parse_from_rfc3339(&t1)
            .expect("an instant")
            .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).expect("offset"))
            .to_rfc3339();
        fx.rule(cmp(at(), Op::Eq, one_time(&shifted)), &batch1)
            .await;
        fx.rule(
            Rule::Between {
                field: at(),
                range: DateRange::Fixed {
                    from: instant(&t1),
                    to: instant(&t1),
                },
                negate: false,
            },
            &batch1,
        )
        .await;
        fx.rule(
            Rule::Expired {
                field: at(),
                negate: false,
                now: Some(instant(&t2)),
            },
            &batch1,
        )
        .await;

        // An update moves `updatedAt`, `updatedBy` and the datasource, not `createdAt`.
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        let t = tenant(&fx.store, fx.org).await;
        let carol = Actor {
            by: "carol".into(),
            origin: "API".into(),
            datasource: Some("x/2".into()),
        };
        write_as(
            &t,
            "item",
            vec![json!({"identifier": "a", "properties": {"n": 2}})],
            WriteMode::Merge,
            &carol,
        )
        .await;
        t.commit().await.expect("commit");
        fx.refresh().await;
        let t3 = fx.world.get("item", "a")["updatedAt"]
            .as_str()
            .expect("a string")
            .to_owned();
        fx.rule(cmp(meta(Meta::UpdatedAt), Op::Eq, one_time(&t3)), &["a"])
            .await;
        fx.rule(cmp(meta(Meta::UpdatedAt), Op::Gt, one_time(&t2)), &["a"])
            .await;
        fx.rule(cmp(at(), Op::Eq, one_time(&t1)), &batch1).await;
        fx.rule(cmp(meta(Meta::UpdatedBy), Op::Eq, one_str("carol")), &["a"])
            .await;
        fx.rule(
            cmp(meta(Meta::CreatedBy), Op::Eq, one_str("alice")),
            &batch1,
        )
        .await;
        fx.rule(cmp(meta(Meta::Datasource), Op::In, strs(&["x/2"])), &["a"])
            .await;
    })
    .await;
}

#[tokio::test]
async fn relation_fields() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let owner = || relation("owner", false);
        fx.rule(cmp(owner(), Op::Eq, one_str("p1")), &["a"]).await;
        fx.rule(cmp(owner(), Op::In, strs(&["p1", "p2", "p9"])), &["a", "b"])
            .await;
        fx.rule(cmp(owner(), Op::Contains, one_str("p")), &["a", "b"])
            .await;
        fx.rule(cmp(owner(), Op::BeginsWith, one_str("p2")), &["b"])
            .await;
        fx.rule(cmp(owner(), Op::EndsWith, one_str("1")), &["a"])
            .await;
        let parent = || relation("parent", false);
        fx.rule(cmp(parent(), Op::Eq, one_str("c")), &["c"]).await;
        fx.rule(cmp(parent(), Op::In, strs(&["a", "d"])), &["b", "e"])
            .await;
        let deps = || relation("deps", true);
        fx.rule(cmp(deps(), Op::Contains, one_str("a")), &["b", "d"])
            .await;
        fx.rule(cmp(deps(), Op::ContainsAny, strs(&["c"])), &["a", "d"])
            .await;
        fx.rule(cmp(deps(), Op::In, strs(&["b", "zz"])), &["a", "d"])
            .await;
        fx.rule(cmp(deps(), Op::Eq, one_json(json!(["b", "c"]))), &["a"])
            .await;
        fx.rule(cmp(deps(), Op::Eq, one_json(json!(["c", "b"]))), &[])
            .await;
        // An unset many relation shows as `[]`, on the blueprints that have the relation.
        fx.rule(
            cmp(deps(), Op::Eq, one_json(json!([]))),
            &["c", "e", "f", "g", "h", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.check_in(
            &["item", "person"],
            &and(vec![node(
                negated(&cmp(deps(), Op::Eq, one_json(json!([])))).expect("negatable"),
            )]),
            &[
                "item/a",
                "item/b",
                "item/d",
                "person/p1",
                "person/p2",
                "person/p3",
            ],
        )
        .await;
    })
    .await;
}

fn related(bp: &str, ids: &[&str], direction: Option<Direction>, required: Option<bool>) -> Rule {
    Rule::RelatedTo {
        blueprint: bp.into(),
        ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        direction,
        required,
    }
}

#[tokio::test]
async fn related_to() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let both_bps = ["item", "person"];
        let check = |r: Rule, expected: &'static [&'static str]| {
            let fx = &fx;
            async move {
                fx.check_in(&both_bps, &and(vec![node(r)]), expected).await;
            }
        };
        use Direction::{Downstream, Upstream};
        // Upstream from a: a -> p1, b, c; b -> p2, a; c -> c; persons: p1 -> p2 -> p3 -> p1.
        check(
            related("item", &["a"], Some(Upstream), None),
            &[
                "item/a",
                "item/b",
                "item/c",
                "person/p1",
                "person/p2",
                "person/p3",
            ],
        )
        .await;
        // The start is not reached when nothing leads back to it.
        check(
            related("item", &["e"], Some(Upstream), None),
            &[
                "item/a",
                "item/b",
                "item/c",
                "item/d",
                "person/p1",
                "person/p2",
                "person/p3",
            ],
        )
        .await;
        // Downstream from a: b and d point at a, a at b, e at d.
        check(
            related("item", &["a"], Some(Downstream), None),
            &["item/a", "item/b", "item/d", "item/e"],
        )
        .await;
        check(
            related("item", &["a"], None, None),
            &[
                "item/a",
                "item/b",
                "item/c",
                "item/d",
                "item/e",
                "person/p1",
                "person/p2",
                "person/p3",
            ],
        )
        .await;
        // Only required edges: the `boss` cycle.
        check(related("item", &["a"], Some(Upstream), Some(true)), &[]).await;
        check(
            related("person", &["p1"], Some(Upstream), Some(true)),
            &["person/p1", "person/p2", "person/p3"],
        )
        .await;
        check(
            related("person", &["p1"], Some(Downstream), Some(true)),
            &["person/p1", "person/p2", "person/p3"],
        )
        .await;
        check(
            related("person", &["p1"], Some(Downstream), Some(false)),
            &["item/a", "item/b", "item/d", "item/e"],
        )
        .await;
        check(
            related("person", &["p1"], None, Some(false)),
            &["item/a", "item/b", "item/d", "item/e"],
        )
        .await;
        check(related("person", &["p3"], Some(Upstream), Some(false)), &[]).await;
        check(related("item", &["c"], Some(Upstream), None), &["item/c"]).await;
        check(
            related("item", &["c", "e"], Some(Downstream), None),
            &["item/a", "item/b", "item/c", "item/d", "item/e"],
        )
        .await;
        check(related("item", &[], None, None), &[]).await;
        check(related("item", &["zz"], None, None), &[]).await;
        // Only the start's blueprint counts: there is no person `a`.
        check(related("person", &["a"], None, None), &[]).await;
        // One candidate.
        fx.check_in(
            &["item"],
            &and(vec![node(related(
                "person",
                &["p2"],
                Some(Downstream),
                None,
            ))]),
            &["b", "a", "d", "e"],
        )
        .await;
    })
    .await;
}

fn match_any(path: Vec<PathStep>, from: Option<&str>, values: &[&str]) -> Rule {
    Rule::MatchAny {
        path,
        from_blueprint: from.map(str::to_owned),
        values: strs(values),
    }
}

#[tokio::test]
async fn match_any_paths() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let item = |r: Rule, expected: &'static [&'static str]| {
            let fx = &fx;
            async move {
                fx.check_in(&["item"], &and(vec![node(r)]), expected).await;
            }
        };
        // Up: walking the path forward from the entity reaches one of the values.
        item(match_any(vec![step("parent", 1)], None, &["b"]), &["a"]).await;
        item(
            match_any(vec![step("parent", 1), step("parent", 1)], None, &["b"]),
            &["b"],
        )
        .await;
        item(
            match_any(vec![step("deps", 1), step("owner", 1)], None, &["p1"]),
            &["b", "d"],
        )
        .await;
        item(
            match_any(vec![step("owner", 1), step("boss", 1)], None, &["p2"]),
            &["a"],
        )
        .await;
        item(
            match_any(vec![step("owner", 1), step("boss", 3)], None, &["p1"]),
            &["a", "b"],
        )
        .await;
        item(
            match_any(vec![step("owner", 1), step("boss", 1)], None, &["p1", "p3"]),
            &["b"],
        )
        .await;
        // max_hops on a self-relation, with cycles.
        item(match_any(vec![step("parent", 3)], None, &["d"]), &["e"]).await;
        item(
            match_any(vec![step("parent", 3)], None, &["a"]),
            &["a", "b"],
        )
        .await;
        item(match_any(vec![step("parent", 1)], None, &["a"]), &["b"]).await;
        item(match_any(vec![step("parent", 15)], None, &["c"]), &["c"]).await;
        item(
            match_any(vec![step("deps", 2)], None, &["c"]),
            &["a", "b", "d"],
        )
        .await;
        item(
            match_any(vec![step("parent", 2), step("deps", 1)], None, &["c"]),
            &["a", "b", "e"],
        )
        .await;
        item(match_any(vec![step("parent", 1)], None, &[]), &[]).await;
        item(
            Rule::MatchAny {
                path: vec![step("parent", 1)],
                from_blueprint: None,
                values: Operand::Nothing,
            },
            &[],
        )
        .await;
        // Down: the entity is reached by walking the path from one of the values.
        item(
            match_any(vec![step("parent", 1)], Some("item"), &["a"]),
            &["b"],
        )
        .await;
        item(
            match_any(vec![step("deps", 1), step("deps", 1)], Some("item"), &["a"]),
            &["a"],
        )
        .await;
        item(
            match_any(vec![step("deps", 1), step("deps", 1)], Some("item"), &["d"]),
            &["a", "b", "c"],
        )
        .await;
        item(
            match_any(vec![step("parent", 4)], Some("item"), &["e"]),
            &["d"],
        )
        .await;
        // The start blueprint must be `from`.
        item(
            match_any(vec![step("parent", 1)], Some("person"), &["a"]),
            &[],
        )
        .await;
        let people = |r: Rule, expected: &'static [&'static str]| {
            let fx = &fx;
            async move {
                fx.check_in(&["person"], &and(vec![node(r)]), expected)
                    .await;
            }
        };
        people(
            match_any(vec![step("boss", 1)], Some("person"), &["p1"]),
            &["p2"],
        )
        .await;
        people(
            match_any(vec![step("boss", 2)], Some("person"), &["p1"]),
            &["p2", "p3"],
        )
        .await;
        people(
            match_any(
                vec![step("owner", 1), step("boss", 1)],
                Some("item"),
                &["a"],
            ),
            &["p2"],
        )
        .await;
        people(
            match_any(
                vec![step("owner", 1), step("boss", 9)],
                Some("item"),
                &["b"],
            ),
            &["p1", "p2", "p3"],
        )
        .await;
        // Both candidates: the path only exists on `item`.
        fx.check_in(
            &["item", "person"],
            &and(vec![node(match_any(vec![step("owner", 1)], None, &["p2"]))]),
            &["item/b"],
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn combinators() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let s = || prop("s", Kind::String);
        let n = || prop("n", Kind::Number);
        fx.check_in(&["item"], &and(vec![]), &ALL_ITEMS).await;
        fx.check_in(&["item"], &or(vec![]), &[]).await;
        fx.check_in(&["item"], &and(vec![sub(or(vec![]))]), &[])
            .await;
        fx.check_in(&["item"], &or(vec![sub(and(vec![]))]), &ALL_ITEMS)
            .await;
        fx.check_in(
            &["item"],
            &and(vec![sub(and(vec![])), sub(or(vec![sub(and(vec![]))]))]),
            &ALL_ITEMS,
        )
        .await;
        let q = or(vec![
            sub(and(vec![
                node(cmp(s(), Op::BeginsWith, one_str("a"))),
                node(Rule::Empty {
                    field: n(),
                    negate: false,
                }),
            ])),
            node(cmp(n(), Op::Gt, one_num(50.0))),
            sub(and(vec![
                node(negated(&cmp(s(), Op::Contains, one_str("x"))).expect("negatable")),
                node(cmp(n(), Op::Le, one_num(0.0))),
            ])),
        ]);
        // k, l, m (begin with a, no n); d (n = 100); c, i (n <= 0, no x).
        fx.check_in(&["item"], &q, &["c", "d", "i", "k", "l", "m"])
            .await;
        let q = and(vec![
            node(negated(&cmp(s(), Op::Eq, one_str("alpha"))).expect("negatable")),
            node(negated(&cmp(n(), Op::Eq, one_num(1.0))).expect("negatable")),
            sub(or(vec![
                node(Rule::Const(false)),
                node(
                    negated(&Rule::Empty {
                        field: s(),
                        negate: false,
                    })
                    .expect("negatable"),
                ),
            ])),
        ]);
        fx.check_in(
            &["item"],
            &q,
            &["c", "d", "e", "f", "g", "i", "j", "k", "l", "m"],
        )
        .await;
        fx.check_in(&["item"], &and(vec![node(Rule::Const(true))]), &ALL_ITEMS)
            .await;
        fx.check_in(&["item"], &or(vec![node(Rule::Const(false))]), &[])
            .await;
        // An unbound context matches nothing, its negation everything.
        let ctx = Operand::Context(portolan_domain::query::ContextRef {
            source: portolan_domain::query::ContextSource::User,
            property: "$identifier".into(),
            want: Kind::String,
            list: false,
        });
        fx.rule(cmp(s(), Op::Eq, ctx.clone()), &[]).await;
        fx.rule(cmp(s(), Op::Eq, Operand::Nothing), &[]).await;
        // Across blueprints: the property exists on one of them only.
        fx.check_in(
            &["item", "person"],
            &or(vec![
                node(cmp(prop("name", Kind::String), Op::Eq, one_str("Ann"))),
                node(cmp(s(), Op::Eq, one_str("abc"))),
            ]),
            &["person/p1", "item/l"],
        )
        .await;
        fx.check_in(
            &["item", "person"],
            &and(vec![node(cmp(n(), Op::Eq, one_num(1.0)))]),
            &["person/p1", "item/a", "item/b"],
        )
        .await;
        // No candidate blueprint: nothing.
        fx.check_in(&[], &and(vec![]), &[]).await;
    })
    .await;
}

/// Operator/kind pairs the parser refuses still follow the evaluator's documented decisions
/// (one-value operators given a list match nothing; `contains` on numbers and dates, prefix
/// tests on arrays match nothing; `in` on booleans is membership).
#[tokio::test]
async fn off_grammar_rules_follow_the_evaluator() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let many_s = strs(&["alpha", "abc"]);
        let s = || prop("s", Kind::String);
        for op in [Op::Eq, Op::Contains, Op::BeginsWith, Op::EndsWith, Op::Gt] {
            fx.rule(cmp(s(), op, many_s.clone()), &[]).await;
        }
        let nums = Operand::Many(vec![Scalar::Num(1.0), Scalar::Num(100.0)]);
        for op in [Op::Eq, Op::Gt, Op::Lt, Op::Contains] {
            fx.rule(cmp(prop("n", Kind::Number), op, nums.clone()), &[])
                .await;
        }
        fx.rule(
            cmp(prop("n", Kind::Number), Op::Contains, one_num(1.0)),
            &[],
        )
        .await;
        fx.rule(
            cmp(
                prop("d", Kind::Date),
                Op::Contains,
                one_time("2024-01-01T00:00:00Z"),
            ),
            &[],
        )
        .await;
        fx.rule(
            cmp(
                meta(Meta::CreatedAt),
                Op::Contains,
                one_time("2024-01-01T00:00:00Z"),
            ),
            &[],
        )
        .await;
        fx.rule(cmp(meta(Meta::Title), Op::Eq, strs(&["Alpha"])), &[])
            .await;
        fx.rule(cmp(meta(Meta::Team), Op::BeginsWith, one_str("t1")), &[])
            .await;
        fx.rule(
            cmp(relation("deps", true), Op::BeginsWith, one_str("a")),
            &[],
        )
        .await;
        fx.rule(
            cmp(
                prop("b", Kind::Boolean),
                Op::In,
                Operand::Many(vec![Scalar::Bool(false)]),
            ),
            &["b", "i"],
        )
        .await;
        fx.rule(
            cmp(
                prop("o", Kind::Object),
                Op::In,
                Operand::Many(vec![Scalar::Json(json!({}))]),
            ),
            &["c"],
        )
        .await;
        fx.rule(
            cmp(
                prop("anys", Kind::Array(Item::Any)),
                Op::Contains,
                one_json(json!({"k": 1})),
            ),
            &["a"],
        )
        .await;
        fx.rule(
            cmp(prop("ss", Kind::Array(Item::String)), Op::Gt, one_str("a")),
            &[],
        )
        .await;
        // `max_hops` above MAX_HOPS counts as MAX_HOPS.
        fx.rule(
            match_any(vec![step("parent", 200)], None, &["c", "d"]),
            &["c", "e"],
        )
        .await;
        // Empty paths end where they start.
        fx.rule(match_any(vec![], None, &["a", "c"]), &["a", "c"])
            .await;
        fx.rule(match_any(vec![], Some("item"), &["b"]), &["b"])
            .await;
        fx.rule(match_any(vec![], Some("person"), &["b"]), &[])
            .await;
    })
    .await;
}

/// One query through the parser (JSON -> AST -> SQL), sorted by a property.
#[tokio::test]
async fn parsed_query() {
    both(|store| async move {
        let fx = operator_fixture(store).await;
        let body = json!({
            "combinator": "and",
            "rules": [
                {"property": "$blueprint", "operator": "=", "value": "item"},
                {"combinator": "or", "rules": [
                    {"property": "s", "operator": "beginsWith", "value": "a_"},
                    {"property": "n", "operator": ">=", "value": 1.0},
                    {"property": "ss", "operator": "containsAny", "value": ["日本"]},
                ]},
            ],
        });
        let parsed = portolan_domain::query::parse(
            &body,
            &portolan_domain::query::ParseScope {
                blueprints: &fx.bps,
                blueprint: None,
                pointer: "",
            },
        )
        .expect("parse");
        assert_eq!(parsed.blueprints, vec!["item".to_owned()]);
        let run = Run {
            query: &parsed.query,
            filter: None,
            candidates: &parsed.blueprints,
            sort: Some(Sort {
                key: SortKey::Property {
                    key: "n".into(),
                    kind: Kind::Number,
                },
                descending: true,
            }),
            limit: 2,
        };
        let found = page_all(&fx.store, fx.org, &fx.bps, &run).await;
        let ids: Vec<String> = found.iter().map(|e| key_of(e).1).collect();
        // n: d 100, a 1, b 1.0, k none (nulls last).
        assert_eq!(ids, ["d", "a", "b", "k"]);
    })
    .await;
}
