//! Keyset paging while other transactions insert and delete matching entities: no entity is
//! returned twice, and every entity that exists throughout the paging is returned.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use portolan_domain::OrgId;
use portolan_domain::query::{Kind, Op};
use portolan_store::Store;
use portolan_store::entities::{self, WriteMode};
use portolan_store::search::{Sort, SortKey};
use rand::rngs::StdRng;
use rand::seq::IteratorRandom;
use rand::{Rng, SeedableRng};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::{Run, and, blueprints_of, cmp, key_of, node, one_str, page_checked, prop};
use crate::support::{actor, both, create_blueprints, is_postgres, new_org, opts, tenant, write};

/// What the concurrent writer did.
#[derive(Default)]
struct Log {
    /// Entities that exist now.
    alive: BTreeSet<String>,
    /// Inserted since the paging started.
    inserted: HashSet<String>,
    /// Deleted since the paging started.
    deleted: HashSet<String>,
    next: usize,
}

fn row(id: &str, k: usize) -> Value {
    if k.is_multiple_of(10) {
        json!({"identifier": id, "properties": {"tag": "x"}})
    } else {
        json!({"identifier": id, "properties": {"tag": "x", "k": k % 97}})
    }
}

/// One writer transaction: inserts a few matching entities (identifiers spread over the whole
/// range, so some land before the cursor and some after) and deletes a few existing ones.
async fn mutate(store: &Store, org: OrgId, log: &Mutex<Log>, rng: &mut StdRng) {
    let (new_ids, doomed) = {
        let mut l = log.lock().expect("lock");
        let mut new_ids = Vec::new();
        for _ in 0..20 {
            l.next += 1;
            new_ids.push(format!("r{:05}n{}", rng.gen_range(0..100_000), l.next));
        }
        let doomed: Vec<String> = l.alive.iter().cloned().choose_multiple(rng, 10);
        (new_ids, doomed)
    };
    let t = tenant(store, org).await;
    let bodies = new_ids
        .iter()
        .enumerate()
        .map(|(i, id)| row(id, i + 1))
        .collect();
    let (ok, failed) = write(&t, "row", bodies, &opts(WriteMode::Create)).await;
    assert!(failed.is_empty());
    assert_eq!(ok.len(), new_ids.len());
    entities::bulk_delete(&t, "row", &doomed, false, &actor())
        .await
        .expect("delete");
    t.commit().await.expect("commit");
    let mut l = log.lock().expect("lock");
    for id in new_ids {
        l.alive.insert(id.clone());
        l.inserted.insert(id);
    }
    for id in doomed {
        l.alive.remove(&id);
        l.deleted.insert(id);
    }
}

#[tokio::test]
async fn paging_under_concurrent_writes() {
    both(|store| async move {
        let pg = is_postgres(&store);
        let (n, limit) = if pg { (10_000, 500) } else { (3_000, 150) };
        let org = new_org(&store).await;
        create_blueprints(
            &store,
            org,
            &[json!({
                "identifier": "row",
                "title": "Row",
                "schema": {"properties": {"tag": {"type": "string"}, "k": {"type": "number"}}},
            })],
        )
        .await;
        let log = Arc::new(Mutex::new(Log::default()));
        for chunk in 0..n / 1000 {
            let t = tenant(&store, org).await;
            let bodies: Vec<Value> = (chunk * 1000..(chunk + 1) * 1000)
                .map(|i| row(&format!("r{:05}", i * 10), i))
                .collect();
            let (ok, failed) = write(&t, "row", bodies, &opts(WriteMode::Create)).await;
            assert!(failed.is_empty());
            t.commit().await.expect("commit");
            log.lock()
                .expect("lock")
                .alive
                .extend(ok.into_iter().map(|w| w.identifier));
            if pg && chunk == 0 {
                // Production tables have statistics (autovacuum). Before its first ANALYZE,
                // PostgreSQL estimates one row everywhere and joins entities to the value
                // index by a nested loop that rescans every matching value row per entity:
                // each page costs (page size x matches), minutes over these 10,000.
                store
                    .connection()
                    .execute_unprepared(
                        "ANALYZE entities, entity_values, entity_numbers, entity_dates",
                    )
                    .await
                    .expect("analyze");
            }
        }
        let bps = blueprints_of(&store, org).await;
        let query = and(vec![node(cmp(
            prop("tag", Kind::String),
            Op::Eq,
            one_str("x"),
        ))]);
        let candidates = vec!["row".to_owned()];
        let sorts = [
            None,
            Some(Sort {
                key: SortKey::Property {
                    key: "k".into(),
                    kind: Kind::Number,
                },
                descending: true,
            }),
        ];
        for (pass, sort) in sorts.into_iter().enumerate() {
            let start: BTreeSet<String> = {
                let mut l = log.lock().expect("lock");
                l.inserted.clear();
                l.deleted.clear();
                l.alive.clone()
            };
            let stop = Arc::new(AtomicBool::new(false));
            let writer = pg.then(|| {
                let (store, log, stop) = (store.clone(), log.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut rng = StdRng::seed_from_u64(7 + pass as u64);
                    let mut rounds = 0;
                    while !stop.load(Ordering::SeqCst) {
                        mutate(&store, org, &log, &mut rng).await;
                        rounds += 1;
                    }
                    rounds
                })
            });
            let mut rng = StdRng::seed_from_u64(11 + pass as u64);
            let run = Run {
                query: &query,
                filter: None,
                candidates: &candidates,
                sort: sort.clone(),
                limit,
            };
            let mut seen: HashSet<String> = HashSet::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let page = page_checked(&store, org, &bps, &run, after, false).await;
                pages += 1;
                for e in &page.entities {
                    let id = key_of(e).1;
                    assert!(seen.insert(id.clone()), "{id} returned twice (pass {pass})");
                }
                match page.next {
                    Some(p) => after = Some(p),
                    None => break,
                }
                if pg {
                    // Let the writer in between pages too.
                    tokio::task::yield_now().await;
                } else {
                    // One connection: the writes go between the pages.
                    mutate(&store, org, &log, &mut rng).await;
                    mutate(&store, org, &log, &mut rng).await;
                }
            }
            stop.store(true, Ordering::SeqCst);
            if let Some(w) = writer {
                let rounds = w.await.expect("writer");
                assert!(rounds > 0, "the writer never ran during the paging");
            }
            let l = log.lock().expect("lock");
            assert!(!l.deleted.is_empty() && !l.inserted.is_empty());
            let missing: Vec<&String> = start
                .iter()
                .filter(|id| !l.deleted.contains(*id) && !seen.contains(*id))
                .take(10)
                .collect();
            assert!(
                missing.is_empty(),
                "pass {pass}: entities that existed throughout were skipped: {missing:?}"
            );
            let strangers: Vec<&String> = seen
                .iter()
                .filter(|id| !start.contains(*id) && !l.inserted.contains(*id))
                .take(10)
                .collect();
            assert!(
                strangers.is_empty(),
                "unknown entities returned: {strangers:?}"
            );
            assert!(pages >= start.len() / limit as usize);
        }
    })
    .await;
}
