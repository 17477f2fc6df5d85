//! Integration tests: servers on 127.0.0.1:0, a reqwest client.

mod access;
mod auth;
mod common;
mod composite;
mod crash;
mod idp;
mod multipart;
mod objects;
mod quota;
mod range;
