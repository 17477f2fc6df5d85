//! API errors: an HTTP status, a stable `code` and a human `message`,
//! answered as `{"code": "...", "message": "..."}`.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The stable error codes. Clients match on [`ErrorCode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No `Authorization: Bearer` header (401).
    MissingToken,
    /// The token is malformed, badly signed, or has a wrong issuer/audience (401).
    InvalidToken,
    /// The token has expired (401).
    ExpiredToken,
    /// The caller may not do this (403).
    AccessDenied,
    /// The object does not exist, or the caller may not know it exists (404).
    NoSuchKey,
    /// The multipart upload does not exist (or belongs to another object) (404).
    NoSuchUpload,
    /// No such route (404).
    NotFound,
    /// The owner or object id is not `[A-Za-z0-9._-]{1,200}` (400).
    InvalidName,
    /// A query parameter or body is not valid (400).
    InvalidArgument,
    /// Multipart parts are missing, or do not match the list given (400).
    InvalidPart,
    /// The `Range` cannot be satisfied (416).
    InvalidRange,
    /// An `If-Match` precondition failed (412).
    PreconditionFailed,
    /// The user's byte quota would be exceeded (413).
    QuotaExceeded,
    /// The object would be larger than the maximum object size (413).
    ObjectTooLarge,
    /// The request body ended early or could not be read (400).
    IncompleteBody,
    /// The method is not allowed on this resource (405).
    MethodNotAllowed,
    /// Wrong user name or password (401, login only).
    InvalidCredentials,
    /// Too many failed logins; retry after `Retry-After` seconds (429).
    TooManyRequests,
    /// A storage or internal failure (500).
    InternalError,
}

impl ErrorCode {
    /// The stable string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "MissingToken",
            Self::InvalidToken => "InvalidToken",
            Self::ExpiredToken => "ExpiredToken",
            Self::AccessDenied => "AccessDenied",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NotFound => "NotFound",
            Self::InvalidName => "InvalidName",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidRange => "InvalidRange",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::QuotaExceeded => "QuotaExceeded",
            Self::ObjectTooLarge => "ObjectTooLarge",
            Self::IncompleteBody => "IncompleteBody",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::InvalidCredentials => "InvalidCredentials",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalError => "InternalError",
        }
    }

    /// The HTTP status for this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken
            | Self::ExpiredToken
            | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::NoSuchKey | Self::NoSuchUpload | Self::NotFound => StatusCode::NOT_FOUND,
            Self::InvalidName
            | Self::InvalidArgument
            | Self::InvalidPart
            | Self::IncompleteBody => StatusCode::BAD_REQUEST,
            Self::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::QuotaExceeded | Self::ObjectTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// A message for people.
    pub message: String,
    /// Extra headers (`Content-Range` on 416, `Retry-After` on 429).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

/// A result with an [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// With an extra response header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A storage failure: logged in full, answered without detail.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!("{context}: {e}");
        Self::new(ErrorCode::InternalError, "internal storage error")
    }

    /// `NoSuchKey`.
    pub fn no_such_key() -> Self {
        Self::new(ErrorCode::NoSuchKey, "the object does not exist")
    }

    /// `AccessDenied`.
    pub fn denied(why: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, why)
    }

    /// `InvalidArgument`.
    pub fn invalid(why: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, why)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code.as_str(), "message": self.message});
        let mut r = Response::new(Body::from(body.to_string()));
        *r.status_mut() = self.code.status();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.code.status() == StatusCode::UNAUTHORIZED
            && self.code != ErrorCode::InvalidCredentials
        {
            let v = if self.code == ErrorCode::MissingToken {
                "Bearer"
            } else {
                "Bearer error=\"invalid_token\""
            };
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
        }
        for (k, v) in self.headers {
            h.insert(k, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_their_statuses() {
        assert_eq!(ErrorCode::QuotaExceeded.status(), 413);
        assert_eq!(ErrorCode::ObjectTooLarge.status(), 413);
        assert_eq!(ErrorCode::InvalidRange.status(), 416);
        assert_eq!(ErrorCode::ExpiredToken.status(), 401);
        assert_eq!(ErrorCode::NoSuchUpload.as_str(), "NoSuchUpload");
        let r = ApiError::new(ErrorCode::InvalidToken, "x").into_response();
        assert_eq!(r.status(), 401);
        assert!(r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
    }
}
