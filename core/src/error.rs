//! Typed errors with stable codes.
//!
//! Every failure of the core is an [`Error`]. Each variant has a stable,
//! upper-snake-case [`Error::code`] that the CLI prints and the npm package
//! exposes as `KmsEnvelopeError.code`. Messages never contain key material,
//! plaintext or tags.

use core::fmt;

/// Result alias for the core.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A limit that a message exceeded while it was parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// More encrypted data keys than `max_encrypted_data_keys`.
    EncryptedDataKeys,
    /// A header larger than `max_header_size`.
    HeaderSize,
    /// A frame (or non-framed content) longer than `max_frame_length`.
    FrameLength,
    /// A body longer than `max_body_size`.
    BodySize,
    /// More frames than the format allows (2^32 - 1).
    FrameCount,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::EncryptedDataKeys => "maximum number of encrypted data keys",
            Limit::HeaderSize => "maximum header size",
            Limit::FrameLength => "maximum frame length",
            Limit::BodySize => "maximum body size",
            Limit::FrameCount => "maximum number of frames",
        }
    }
}

/// Why a key service (KMS or the KMS proxy) refused or failed a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KmsErrorKind {
    /// The caller may not use the key (`AccessDeniedException`, bad credentials).
    AccessDenied,
    /// The key does not exist (`NotFoundException`).
    KeyNotFound,
    /// The key is disabled or pending deletion (`DisabledException`, `KMSInvalidStateException`).
    KeyDisabled,
    /// The ciphertext, context or key did not match (`InvalidCiphertextException`).
    InvalidCiphertext,
    /// The service could not be reached, timed out, or kept failing.
    Unreachable,
    /// Any other error answer.
    Other,
}

/// Every error the core can return.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The message is not well formed; the text names the field.
    Malformed(&'static str),
    /// The message ended before it was complete.
    Truncated,
    /// Bytes follow the end of the message.
    TrailingData,
    /// The message format version is not 1 or 2.
    UnsupportedVersion(u8),
    /// The algorithm suite id is unknown, or not allowed here.
    UnsupportedSuite(u16),
    /// A configured parsing limit was exceeded.
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The configured maximum.
        max: u64,
        /// The value found (or a lower bound of it).
        found: u64,
    },
    /// The header authentication tag did not verify.
    HeaderAuthFailed,
    /// The key commitment in the header does not match the data key.
    CommitmentMismatch,
    /// A body frame's authentication tag did not verify.
    BodyAuthFailed,
    /// The footer signature did not verify.
    SignatureInvalid,
    /// The commitment policy forbids this algorithm suite.
    CommitmentPolicy(&'static str),
    /// A signed message was refused because `unsigned_only` was set.
    SignedMessageRefused,
    /// The encryption context is invalid or does not match what was required.
    EncryptionContext(String),
    /// No keyring could decrypt any of the encrypted data keys.
    NoDecryptableKey,
    /// A keyring failed; the text says why (never key material).
    Keyring(String),
    /// A key service call failed; the text is the service's message.
    Kms(KmsErrorKind, String),
    /// A key was unusable (wrong length, bad PEM, and so on).
    InvalidKey(&'static str),
    /// An argument was invalid (frame length 0, unknown suite, ...).
    InvalidArgument(String),
    /// A cryptographic primitive failed unexpectedly.
    Crypto(&'static str),
    /// The state machine was used out of order (for example after it failed).
    InvalidState(&'static str),
}

impl Error {
    /// A stable code that names the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "MALFORMED_MESSAGE",
            Error::Truncated => "TRUNCATED_MESSAGE",
            Error::TrailingData => "TRAILING_DATA",
            Error::UnsupportedVersion(_) => "UNSUPPORTED_VERSION",
            Error::UnsupportedSuite(_) => "UNSUPPORTED_SUITE",
            Error::LimitExceeded { .. } => "LIMIT_EXCEEDED",
            Error::HeaderAuthFailed => "HEADER_AUTH_FAILED",
            Error::CommitmentMismatch => "COMMITMENT_MISMATCH",
            Error::BodyAuthFailed => "BODY_AUTH_FAILED",
            Error::SignatureInvalid => "SIGNATURE_INVALID",
            Error::CommitmentPolicy(_) => "COMMITMENT_POLICY_VIOLATION",
            Error::SignedMessageRefused => "SIGNED_MESSAGE_REFUSED",
            Error::EncryptionContext(_) => "ENCRYPTION_CONTEXT_MISMATCH",
            Error::NoDecryptableKey => "NO_DECRYPTABLE_KEY",
            Error::Keyring(_) => "KEYRING_ERROR",
            Error::Kms(kind, _) => match kind {
                KmsErrorKind::AccessDenied => "KMS_ACCESS_DENIED",
                KmsErrorKind::KeyNotFound => "KMS_KEY_NOT_FOUND",
                KmsErrorKind::KeyDisabled => "KMS_KEY_DISABLED",
                KmsErrorKind::InvalidCiphertext => "KMS_INVALID_CIPHERTEXT",
                KmsErrorKind::Unreachable => "KMS_UNREACHABLE",
                KmsErrorKind::Other => "KMS_ERROR",
            },
            Error::InvalidKey(_) => "INVALID_KEY",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::Crypto(_) => "CRYPTO_ERROR",
            Error::InvalidState(_) => "INVALID_STATE",
        }
    }

    /// True for errors that mean "this message is not authentic or not for you"
    /// (as opposed to a usage error).
    pub fn is_decrypt_failure(&self) -> bool {
        !matches!(
            self,
            Error::InvalidArgument(_) | Error::InvalidState(_) | Error::InvalidKey(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(what) => write!(f, "malformed message: {what}"),
            Error::Truncated => f.write_str("the message is truncated"),
            Error::TrailingData => f.write_str("unexpected bytes after the end of the message"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported message format version {v}"),
            Error::UnsupportedSuite(id) => write!(f, "unsupported algorithm suite 0x{id:04x}"),
            Error::LimitExceeded { limit, max, found } => {
                write!(f, "{} exceeded: {found} > {max}", limit.name())
            }
            Error::HeaderAuthFailed => f.write_str("header authentication failed"),
            Error::CommitmentMismatch => f.write_str("key commitment does not match"),
            Error::BodyAuthFailed => f.write_str("body authentication failed"),
            Error::SignatureInvalid => f.write_str("message signature is invalid"),
            Error::CommitmentPolicy(why) => write!(f, "commitment policy violation: {why}"),
            Error::SignedMessageRefused => {
                f.write_str("signed message refused: unsigned-only decryption was requested")
            }
            Error::EncryptionContext(why) => write!(f, "encryption context: {why}"),
            Error::NoDecryptableKey => {
                f.write_str("no keyring could decrypt any encrypted data key of the message")
            }
            Error::Keyring(why) => write!(f, "keyring: {why}"),
            Error::Kms(_, why) => write!(f, "key service: {why}"),
            Error::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::Crypto(why) => write!(f, "cryptographic failure: {why}"),
            Error::InvalidState(why) => write!(f, "invalid state: {why}"),
        }
    }
}

impl std::error::Error for Error {}
