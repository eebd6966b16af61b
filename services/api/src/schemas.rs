//! Request and response shapes for the OpenAPI document. Bodies are parsed by the domain
//! (so every Port keyword round-trips); these types describe them for clients.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A blueprint definition (Port's shape).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintBody {
    /// `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/-]+$`, at most 100 characters.
    pub identifier: String,
    /// 1 to 100 characters.
    pub title: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    /// `{properties: {<key>: <property>}, required: [keys]}`.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// `{<key>: {title, target, required, many, description}}`.
    #[schema(value_type = Option<Object>)]
    pub relations: Option<Value>,
    /// `{type: "Direct"}` or `{type: "Inherited", path: "rel1.rel2"}`.
    #[schema(value_type = Option<Object>)]
    pub ownership: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub mirror_properties: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub calculation_properties: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub aggregation_properties: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub changelog_destination: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BlueprintResponse {
    pub ok: bool,
    #[schema(value_type = Object)]
    pub blueprint: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BlueprintsResponse {
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub blueprints: Vec<Value>,
}

/// The answer to a blueprint change: with `dry_run=true`, what it would do.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintChangeResponse {
    pub ok: bool,
    /// The blueprint after the change (or as it would be).
    #[schema(value_type = Object)]
    pub blueprint: Value,
    /// Present when `dry_run=true`.
    pub dry_run: Option<bool>,
    pub impact: Option<portolan_store::error::Impact>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenamePropertyBody {
    pub new_property_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenameRelationBody {
    pub new_relation_identifier: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenameMirrorBody {
    pub new_mirror_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountResponse {
    pub ok: bool,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OkResponse {
    pub ok: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrationIdResponse {
    pub ok: bool,
    pub migration_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationResponse {
    pub ok: bool,
    /// `{id, status, sourceBlueprint, deleteBlueprint, total, processed, progress, ...}`.
    #[schema(value_type = Object)]
    pub migration: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationsResponse {
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub migrations: Vec<Value>,
}

/// An entity write (Port's shape).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntityBody {
    /// Generated when absent; at most 1000 characters.
    pub identifier: Option<String>,
    pub title: Option<String>,
    pub icon: Option<String>,
    /// A team name or a list of them.
    #[schema(value_type = Option<Object>)]
    pub team: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
    /// Relation key -> identifier (single), list of identifiers (many), or null.
    #[schema(value_type = Option<Object>)]
    pub relations: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityResponse {
    pub ok: bool,
    #[schema(value_type = Object)]
    pub entity: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntitiesResponse {
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub entities: Vec<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkBody {
    /// 1 to `PORTOLAN_BULK_MAX_ENTITIES` (default 1,000) entities.
    pub entities: Vec<EntityBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub index: usize,
    pub identifier: String,
    pub created: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkError {
    pub index: usize,
    pub identifier: Option<String>,
    pub status_code: u16,
    pub error: String,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// 200 when every entity was written, 207 when some failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    pub ok: bool,
    pub entities: Vec<BulkItem>,
    pub errors: Vec<BulkError>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkDeleteBody {
    /// 1 to 100 entity identifiers.
    pub entities: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkDeleteResponse {
    pub ok: bool,
    pub deleted_entities: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub audits: Vec<Value>,
    /// Pass back as `cursor` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Needed only when the email has users in several organizations.
    pub organization_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub ok: bool,
    pub access_token: String,
    /// Seconds.
    pub expires_in: u64,
    pub token_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionsResponse {
    pub ok: bool,
    #[schema(value_type = Object)]
    pub permissions: Value,
}

/// A query: `{combinator: "and" | "or", rules: [rule or query]}` (see docs/SEARCH.md).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryBody {
    /// `and` or `or`.
    pub combinator: String,
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Value>,
}

/// The body of a blueprint search.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlueprintSearchBody {
    pub query: Option<QueryBody>,
    /// Fields to keep, e.g. `properties.language`.
    pub include: Option<Vec<String>>,
    /// Fields to drop.
    pub exclude: Option<Vec<String>>,
    /// 1 to 1000; 200 by default.
    pub limit: Option<u64>,
    /// The `next` of the previous page.
    pub from: Option<String>,
    /// `{property, order: "asc" | "desc"}`: a meta-property or a string, number or date
    /// property. Ties (and the default order) go by identifier.
    #[schema(value_type = Option<Object>)]
    pub sort: Option<Value>,
    pub attach_title_to_relation: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub entities: Vec<Value>,
    /// Present when more entities match: pass it as `from`.
    pub next: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossSearchResponse {
    pub ok: bool,
    /// The blueprints of the entities returned.
    pub matching_blueprints: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub entities: Vec<Value>,
    /// Present when more entities match (with `?limit=`): pass it as `?from=`.
    pub next: Option<String>,
}

/// `{func, property?, query}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AggregateBody {
    /// `count`, `sum`, `min`, `max`, `average` or `median`.
    pub func: String,
    /// A number property; required for every function but `count`.
    pub property: Option<String>,
    pub query: QueryBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateResponse {
    pub ok: bool,
    /// `null` when no matching entity has a value.
    pub result: Option<f64>,
}

/// The organization as `GET /v1/organization` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Free-form settings; `allowSsoProvisioning` is a boolean when present.
    #[schema(value_type = Object)]
    pub settings: Value,
    pub created_at: String,
}

/// `PUT` (replace) or `PATCH` (merge) of the organization. `PUT` requires `name`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrganizationBody {
    /// 1 to 200 characters.
    pub name: Option<String>,
    /// A JSON object of at most 64 KiB. `PATCH` merges its top-level members (`null` removes
    /// one); `PUT` replaces the whole object.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationResponse {
    pub ok: bool,
    pub organization: Organization,
}

/// A new organization secret.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSecretBody {
    /// `^[A-Za-z0-9_-]{1,100}$`; templates read it as `{{ .secrets.NAME }}`.
    pub secret_name: String,
    /// 1 byte to 64 KiB. Stored encrypted; never returned.
    pub secret_value: String,
    /// At most 1000 characters.
    pub description: Option<String>,
}

/// A change to an organization secret: its value, its description, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSecretPatchBody {
    /// 1 byte to 64 KiB. Stored encrypted; never returned.
    pub secret_value: Option<String>,
    /// At most 1000 characters.
    pub description: Option<String>,
}

/// An organization secret's metadata (the value is never returned).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSecret {
    pub secret_name: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationSecretResponse {
    pub ok: bool,
    pub secret: OrganizationSecret,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationSecretsResponse {
    pub ok: bool,
    pub secrets: Vec<OrganizationSecret>,
}
