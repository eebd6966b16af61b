//! The runtime on its own: the health server with made-up checks, and a worker with a
//! background task on embedded defaults (a SQLite file and the in-process bus). The workers'
//! suite (`worker_suite!`) runs it against PostgreSQL and RabbitMQ.
#![allow(clippy::unwrap_used)]

mod health;
mod worker;

use std::net::SocketAddr;

/// GETs `path` on `addr`; returns the status and JSON body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}
