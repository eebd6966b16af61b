//! Names shared by the row-level-security migration and the store.

/// The role a tenant transaction switches to (`SET LOCAL ROLE`); RLS policies apply to it.
pub const APP_ROLE: &str = "portolan_tenant";
/// The per-transaction setting that holds the current org id.
pub const ORG_SETTING: &str = "portolan.org_id";
/// Every tenant-owned table and the column that holds its org.
pub const TENANT_TABLES: &[(&str, &str)] = &[
    ("organizations", "id"),
    ("credentials", "org_id"),
    ("blueprints", "org_id"),
    ("entities", "org_id"),
    ("entity_relations", "org_id"),
    ("events", "org_id"),
    ("data_migrations", "org_id"),
];
