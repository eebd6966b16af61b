use serde_json::{Value, json};

use portolan_runtime::{Check, serve_health};

use crate::get;

fn always(name: &'static str, ok: bool) -> Check {
    Check::new(name, move || async move {
        if ok { Ok(()) } else { Err("it is down") }
    })
}

/// Serves `checks`, asks `/healthz` (which must answer 200 whatever they say) and `/readyz`,
/// stops, and returns what `/readyz` answered.
async fn readyz(checks: Vec<Check>) -> (u16, Value) {
    let (addr, server) = serve_health("127.0.0.1:0", checks, 1).unwrap();
    let handle = server.handle();
    let serving = tokio::spawn(server);
    assert_eq!(get(addr, "/healthz").await, (200, json!({"ok": true})));
    let answer = get(addr, "/readyz").await;
    handle.stop(true).await;
    serving.await.unwrap().unwrap();
    answer
}

#[tokio::test]
async fn readyz_names_every_check_and_answers_503_when_one_fails() {
    let checks = vec![always("database", true), always("cache", false)];
    let body = json!({"ok": false, "checks": {"database": "ok", "cache": "unavailable"}});
    assert_eq!(readyz(checks).await, (503, body));
}

#[tokio::test]
async fn readyz_answers_200_when_every_check_passes() {
    let checks = vec![always("database", true), always("bus", true)];
    let body = json!({"ok": true, "checks": {"database": "ok", "bus": "ok"}});
    assert_eq!(readyz(checks).await, (200, body));
}

#[test]
fn binding_a_busy_address_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let Err(error) = serve_health(&addr, Vec::new(), 1) else {
        panic!("bound {addr} twice");
    };
    assert!(format!("{error:#}").contains(&addr), "{error:#}");
}
