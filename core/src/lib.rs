//! # kms-envelope-core
//!
//! The AWS Encryption SDK message format in pure Rust, with no I/O:
//!
//! * [`header`], [`body`]: the message format, versions 1 (read) and 2 (read
//!   and write), every ESDK algorithm suite ([`suite`]).
//! * [`Encryptor`], [`Decryptor`]: sans-I/O streaming state machines that
//!   hold about one frame of buffer whatever the message size.
//! * [`keyring`]: raw AES, raw RSA and multi-keyrings, byte-compatible with
//!   the official SDKs; the [`Keyring`] trait is async so remote key sources
//!   plug in.
//! * [`crypto`]: the narrow backend trait (AES-GCM, HKDF, random, ECDSA) and
//!   its RustCrypto implementation.
//! * [`encrypt`] and [`decrypt`]: one-shot helpers.
//! * [`rewrap`]: a new header (new reader, new context) for an untouched body.
//!
//! Every error is an [`Error`] with a stable [`Error::code`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod body;
pub mod context;
pub mod crypto;
mod decrypt;
pub mod detached;
mod encrypt;
pub mod error;
pub mod header;
pub mod keyring;
pub mod materials;
mod oneshot;
pub mod rewrap;
pub mod secret;
pub mod seeded;
pub mod suite;
mod wire;

pub use context::EncryptionContext;
pub use decrypt::{DecryptOptions, Decryptor, Status};
pub use encrypt::{ciphertext_length, footer_len, EncryptOptions, Encryptor, DEFAULT_FRAME_LENGTH};
pub use error::{Error, KmsErrorKind, Limit, Result};
pub use header::{ContentType, Header, Limits};
pub use keyring::{Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding};
pub use oneshot::{decrypt, encrypt, Decrypted};
pub use secret::SecretBytes;
pub use suite::{AlgorithmSuite, CommitmentPolicy};

/// The version of this crate.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
