//! The OpenAPI document: generated from the route annotations (every route is registered
//! through utoipa-actix-web, so none can be missing) plus these top-level parts.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portolan",
        description = "A self-hosted internal developer portal API, wire-compatible with Port's public REST API (v1).",
        license(name = "Apache-2.0")
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Bearer),
    tags(
        (name = "Auth", description = "Access tokens"),
        (name = "Blueprints", description = "Typed entity schemas with relations"),
        (name = "Entities", description = "The catalog"),
        (name = "Search", description = "Port's query language over the catalog"),
        (name = "Migrations", description = "Async data migrations"),
        (name = "Audit", description = "The audit log"),
        (name = "Users", description = "People in the organization, their roles and teams"),
        (name = "Teams", description = "Teams: entity owners and permission holders"),
        (name = "Apps", description = "The organization's credential sets"),
        (name = "Organization", description = "The organization's settings and encrypted secrets"),
        (name = "Operator", description = "Organizations and signing keys, for whoever runs Portolan (operator token)"),
        (name = "Health", description = "Liveness and readiness")
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
