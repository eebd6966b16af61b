use std::sync::{Arc, Mutex};

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

/// The server answers on threads of its own; a probe runs on the runtime that started it (here
/// the test's, on the test's one thread), which owns what it checks: a connection a probe
/// opens must not be tied to the server's threads, which end when it stops.
#[tokio::test]
async fn checks_run_on_the_runtime_that_started_the_server() {
    let test_thread = std::thread::current().id();
    let ran_on = Arc::new(Mutex::new(Vec::new()));
    let seen = ran_on.clone();
    let check = Check::new("thread", move || {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(std::thread::current().id());
            Ok::<(), String>(())
        }
    });
    let (status, _) = readyz(vec![check]).await;
    assert_eq!(status, 200);
    assert_eq!(*ran_on.lock().unwrap(), vec![test_thread]);
}

#[tokio::test]
async fn a_check_that_panics_counts_as_failed() {
    let check = Check::new("boom", || async {
        if true {
            panic!("the probe broke");
        }
        Ok::<(), String>(())
    });
    let body = json!({"ok": false, "checks": {"boom": "unavailable"}});
    assert_eq!(readyz(vec![check]).await, (503, body));
}

#[test]
fn starting_outside_a_tokio_runtime_is_an_error() {
    let Err(error) = serve_health("127.0.0.1:0", Vec::new(), 1) else {
        panic!("started outside a runtime");
    };
    assert!(format!("{error:#}").contains("Tokio runtime"), "{error:#}");
}

#[tokio::test]
async fn binding_a_busy_address_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let Err(error) = serve_health(&addr, Vec::new(), 1) else {
        panic!("bound {addr} twice");
    };
    assert!(format!("{error:#}").contains(&addr), "{error:#}");
}
