//! In-process caches in front of the database. Entries are keyed by version, so a stale
//! entry is never served: a new blueprint version is a new key.

use std::sync::Arc;

use portolan_domain::OrgId;
use portolan_domain::schema::CompiledBlueprint;
use quick_cache::sync::Cache;

pub(crate) struct Caches {
    /// (org, blueprint, version) -> compiled validator.
    pub(crate) compiled: Cache<(OrgId, String, i64), Arc<CompiledBlueprint>>,
}

impl Caches {
    pub(crate) fn new() -> Self {
        Caches {
            compiled: Cache::new(10_000),
        }
    }
}
