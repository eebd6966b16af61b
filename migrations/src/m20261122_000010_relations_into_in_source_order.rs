//! The edges into an entity, in the order of their sources: `idx_relations_target` becomes
//! `(org_id, target_blueprint, target_identifier, source_blueprint, source_identifier,
//! relation)`, replacing `(org_id, target_blueprint, target_identifier, relation)`.
//!
//! A search page of the entities `relatedTo` one entity downstream ("the deployments of the
//! environment `production`") is sorted by identifier. With the old index the edges into the
//! start came in relation order, so every match was read, joined and sorted before the page
//! was cut: 1.4 s for an environment with 207,106 deployments (docs/benchmarks.md). Here the
//! edges into one entity from one blueprint come in the order of their sources' identifiers,
//! which is the page's order: the page joins them to the entities one by one and stops after
//! its last row, whether the start has ten dependents or a million. The relation stays in the
//! index (a filter on it needs no heap read), and every lookup the old index served (the edges
//! into an entity, of one relation; the foreign key's) still starts from its first three
//! columns.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum EntityRelations {
    Table,
    OrgId,
    SourceBlueprint,
    SourceIdentifier,
    Relation,
    TargetBlueprint,
    TargetIdentifier,
}

const NAME: &str = "idx_relations_target";

async fn replace(m: &SchemaManager<'_>, columns: &[EntityRelations]) -> Result<(), DbErr> {
    m.drop_index(
        Index::drop()
            .name(NAME)
            .table(EntityRelations::Table)
            .to_owned(),
    )
    .await?;
    let mut index = Index::create();
    index.name(NAME).table(EntityRelations::Table);
    for c in columns {
        index.col(*c);
    }
    m.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use EntityRelations::*;
        replace(
            m,
            &[
                OrgId,
                TargetBlueprint,
                TargetIdentifier,
                SourceBlueprint,
                SourceIdentifier,
                Relation,
            ],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use EntityRelations::*;
        replace(m, &[OrgId, TargetBlueprint, TargetIdentifier, Relation]).await
    }
}
