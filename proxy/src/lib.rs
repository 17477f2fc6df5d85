//! # kms-proxy
//!
//! A key service that speaks the AWS KMS JSON 1.1 protocol, so boto3, the
//! aws CLI and the AWS Encryption SDKs' KMS keyrings work against it
//! unchanged. Master keys live in an embedded SQLite store, sealed under a
//! root key; callers authenticate with SigV4 access keys or bearer JWTs.
//!
//! * [`config`]: TOML file plus `KMS_PROXY_*` overrides.
//! * [`rootkey`]: the root key (file, env, Argon2id passphrase) and sealing.
//! * [`store`]: the storage trait and its SQLite implementation.
//! * [`kms`]: the operations.
//! * [`auth`]: SigV4 and JWT authentication, and the authorization hook.
//! * [`server`]: the HTTP front; [`cors`]: its CORS allow-list.
//! * [`listen`]: the connection loop (TLS, timeouts, graceful shutdown).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod auth;
pub mod config;
pub mod cors;
pub mod error;
pub mod extensions;
pub mod kms;
pub mod listen;
pub mod rootkey;
pub mod server;
pub mod ssm;
pub mod store;
