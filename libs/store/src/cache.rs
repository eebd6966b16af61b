//! In-process caches in front of the database.
//!
//! The compiled-validator cache is keyed by (org, blueprint, version) and every entry keeps the
//! definition it was compiled from, which a hit must equal: a version number alone can name two
//! definitions (a blueprint deleted and created again, or a change that was rolled back after it
//! was compiled), and a stale validator must never be served.

use std::sync::Arc;

use portolan_domain::OrgId;
use portolan_domain::schema::CompiledBlueprint;
use quick_cache::sync::Cache;

/// (org, blueprint, version).
pub(crate) type CompiledKey = (OrgId, String, i64);

pub(crate) struct Caches {
    /// (org, blueprint, version) -> (definition, compiled validator).
    pub(crate) compiled: Cache<CompiledKey, Arc<(String, Arc<CompiledBlueprint>)>>,
}

impl Caches {
    pub(crate) fn new() -> Self {
        Caches {
            compiled: Cache::new(10_000),
        }
    }
}
