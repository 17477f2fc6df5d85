//! `kms-blobstore`: a ciphertext-only object store for the kms-envelope
//! demo, and `kms-demo-idp`, the demo login that issues the ES256 bearer
//! tokens both this store and kms-proxy accept.
//!
//! The store is a separate trust domain: it holds no KMS credentials and
//! never sees a data key; it stores opaque bytes under
//! `/o/{owner}/{id}` for the token's subject, with Range reads, S3-style
//! multipart uploads, sharing, quotas and atomic writes. See README.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod error;
pub mod idp;
pub mod jwt;
pub mod server;
pub mod store;
