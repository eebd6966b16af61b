//! In-process caches in front of the database (and the store's counters).
//!
//! The compiled-validator cache is keyed by (org, blueprint, version) and every entry keeps the
//! definition it was compiled from, which a hit must equal: a version number alone can name two
//! definitions (a blueprint deleted and created again, or a change that was rolled back after it
//! was compiled), and a stale validator must never be served.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use indexmap::IndexMap;
use portolan_domain::OrgId;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::schema::CompiledBlueprint;
use quick_cache::sync::Cache;

/// (org, blueprint, version).
pub(crate) type CompiledKey = (OrgId, String, i64);

/// Every blueprint of an org, in identifier order.
pub(crate) type OrgBlueprints = Arc<IndexMap<String, Blueprint>>;

pub(crate) struct Caches {
    /// (org, blueprint, version) -> (definition, compiled validator).
    pub(crate) compiled: Cache<CompiledKey, Arc<(String, Arc<CompiledBlueprint>)>>,
    /// org -> (blueprint generation, the org's blueprints as committed at that generation or
    /// later). `organizations.blueprint_generation` rises in every transaction that writes a
    /// blueprint (a trigger, migration 9), and only committed rows are ever cached, so a
    /// transaction that began at generation `g` finds here what it would read itself, or
    /// something newer that committed since.
    pub(crate) blueprints: Cache<OrgId, Arc<(i64, OrgBlueprints)>>,
    /// Plan-mode switches made inside tenant transactions ([`crate::Tenant::plan_generic`],
    /// [`crate::Tenant::plan_custom`]): each is a round trip that a right guess of
    /// [`crate::Plans`] at the set-up saves.
    pub(crate) plan_switches: AtomicU64,
}

impl Caches {
    pub(crate) fn new() -> Self {
        Caches {
            compiled: Cache::new(10_000),
            blueprints: Cache::new(4_096),
            plan_switches: AtomicU64::new(0),
        }
    }
}
