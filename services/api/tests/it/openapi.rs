//! The committed OpenAPI document must be exactly what the code generates.

#[test]
fn committed_openapi_matches_the_code() {
    let generated = portolan_api::openapi_json().expect("generate");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var_os("PORTOLAN_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).expect("write openapi.json");
        return;
    }
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: regenerate it with `cargo run -p portolan -- openapi > openapi/openapi.json` \
         (or PORTOLAN_UPDATE_OPENAPI=1 cargo test -p portolan-api --test it openapi)"
    );
}

#[test]
fn every_v1_operation_is_documented_with_security_and_an_error_shape() {
    let doc = serde_json::to_value(portolan_api::openapi()).expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 17, "paths: {:?}", paths.keys());
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("ops") {
            if path.starts_with("/operator/") {
                assert_eq!(
                    op["security"],
                    serde_json::json!([{"operator": []}]),
                    "{method} {path} must need the operator token"
                );
                continue;
            }
            if !path.starts_with("/v1/") {
                continue;
            }
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            if !path.starts_with("/v1/auth/") {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} has no security requirement"
                );
            }
        }
    }
}
