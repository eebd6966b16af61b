//! The API's integration tests: real HTTP against a real server on port 0, each test with
//! its own PostgreSQL database (or SQLite file).

#![allow(clippy::unwrap_used)]

mod helpers;

mod audit;
mod auth;
mod blueprints;
mod entities;
mod http;
mod identity;
mod isolation;
mod limits;
mod migrations;
mod openapi;
mod organization;
mod perimeter;
mod rbac;
mod search;
mod token_attacks;
