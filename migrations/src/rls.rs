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
    ("entity_values", "org_id"),
    ("entity_numbers", "org_id"),
    ("entity_dates", "org_id"),
    ("users", "org_id"),
    ("teams", "org_id"),
    ("team_members", "org_id"),
    ("permissions", "org_id"),
    ("org_secrets", "org_id"),
];

/// The SQL that puts `table` under row-level security for [`APP_ROLE`].
pub fn enable_sql(table: &str, col: &str) -> String {
    format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};
         ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {table} TO {APP_ROLE}
           USING ({col} = NULLIF(current_setting('{ORG_SETTING}', true), '')::uuid)
           WITH CHECK ({col} = NULLIF(current_setting('{ORG_SETTING}', true), '')::uuid);"
    )
}

/// The SQL that undoes [`enable_sql`].
pub fn disable_sql(table: &str) -> String {
    format!(
        "DROP POLICY IF EXISTS tenant_isolation ON {table};
         ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;
         REVOKE ALL ON {table} FROM {APP_ROLE};"
    )
}
