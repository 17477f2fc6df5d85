//! AWS-shaped errors: every failure a caller can see is a [`KmsError`] with
//! the `__type` and HTTP status AWS KMS uses. Messages never carry key
//! material, plaintext, tokens or signatures.

use std::fmt;

/// The kinds of error the proxy returns, named as AWS KMS names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request body is not valid JSON, or a field has the wrong type.
    Serialization,
    /// A parameter fails a constraint.
    Validation,
    /// The operation named in `X-Amz-Target` is unknown, or the header is missing.
    UnknownOperation,
    /// The key, alias or other resource does not exist.
    NotFound,
    /// The resource already exists.
    AlreadyExists,
    /// The key is disabled.
    Disabled,
    /// The key's state does not allow the operation (e.g. pending deletion).
    InvalidState,
    /// The ciphertext is malformed, or does not authenticate (wrong context).
    InvalidCiphertext,
    /// The ciphertext was encrypted under a different key than the one named.
    IncorrectKey,
    /// An ARN or alias name is malformed.
    InvalidArn,
    /// An alias name is malformed or reserved.
    InvalidAliasName,
    /// A pagination marker is invalid.
    InvalidMarker,
    /// The operation is not supported for this key (e.g. an asymmetric spec).
    UnsupportedOperation,
    /// A tag is malformed.
    Tag,
    /// The key's usage or algorithm does not fit the operation.
    InvalidKeyUsage,
    /// No credentials were supplied.
    MissingAuthenticationToken,
    /// The access key or token is unknown or invalid.
    UnrecognizedClient,
    /// The SigV4 signature does not match, is malformed or is out of its time window.
    InvalidSignature,
    /// The bearer token has expired.
    ExpiredToken,
    /// The principal may not perform the action.
    AccessDenied,
    /// A policy document is malformed or would lock administrators out.
    MalformedPolicyDocument,
    /// A size or count limit was exceeded.
    LimitExceeded,
    /// A grant token is not valid.
    InvalidGrantToken,
    /// A grant id is not valid.
    InvalidGrantId,
    /// A Parameter Store error, by its AWS name (`ParameterNotFound`, ...).
    Ssm(&'static str),
    /// The request body is larger than the configured limit.
    RequestTooLarge,
    /// The request was not completed within the configured timeout.
    RequestTimeout,
    /// Unexpected server-side failure (storage, I/O).
    Internal,
}

impl ErrorKind {
    /// The AWS error code, as written in `__type`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Serialization => "SerializationException",
            Self::Validation => "ValidationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::NotFound => "NotFoundException",
            Self::AlreadyExists => "AlreadyExistsException",
            Self::Disabled => "DisabledException",
            Self::InvalidState => "KMSInvalidStateException",
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::IncorrectKey => "IncorrectKeyException",
            Self::InvalidArn => "InvalidArnException",
            Self::InvalidAliasName => "InvalidAliasNameException",
            Self::InvalidMarker => "InvalidMarkerException",
            Self::UnsupportedOperation => "UnsupportedOperationException",
            Self::Tag => "TagException",
            Self::InvalidKeyUsage => "InvalidKeyUsageException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::AccessDenied => "AccessDeniedException",
            Self::MalformedPolicyDocument => "MalformedPolicyDocumentException",
            Self::LimitExceeded => "LimitExceededException",
            Self::InvalidGrantToken => "InvalidGrantTokenException",
            Self::InvalidGrantId => "InvalidGrantIdException",
            Self::Ssm(name) => name,
            Self::RequestTooLarge => "RequestEntityTooLargeException",
            Self::RequestTimeout => "RequestTimeoutException",
            Self::Internal => "KMSInternalException",
        }
    }

    /// The HTTP status KMS answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::MissingAuthenticationToken => 403,
            Self::RequestTooLarge => 413,
            Self::RequestTimeout => 408,
            Self::Internal => 500,
            _ => 400,
        }
    }
}

/// An error answered to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsError {
    /// The kind, which fixes `__type` and the status.
    pub kind: ErrorKind,
    /// A human-readable message (never containing secrets).
    pub message: String,
}

impl KmsError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The JSON body AWS SDKs parse: `{"__type": ..., "message": ...}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "__type": self.kind.code(), "message": self.message }).to_string()
    }

    /// A `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// A `NotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A `KMSInternalException`; the detail goes to the log, not to the caller.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            ErrorKind::Internal,
            "The request failed because of an internal error.",
        )
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for KmsError {}

/// Result alias for operations answered to callers.
pub type KmsResult<T> = Result<T, KmsError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_aws_shaped() {
        let e = KmsError::new(ErrorKind::Disabled, "key is disabled");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["__type"], "DisabledException");
        assert_eq!(v["message"], "key is disabled");
        assert_eq!(e.kind.status(), 400);
        assert_eq!(ErrorKind::Internal.status(), 500);
    }
}
