//! CORS with an exact allow-list of origins (no credentials: the API uses
//! bearer tokens, not cookies). Preflights from allowed origins get 204 with
//! the methods and headers; from others, 403 with no `Access-Control-*`
//! header. Answers to allowed origins expose `ETag`, `Content-Range` and
//! `Content-Length`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::CorsConfig;

/// Methods a page may use.
pub const ALLOWED_METHODS: &str = "GET, HEAD, PUT, POST, DELETE, OPTIONS";
/// Request headers a page may send.
pub const ALLOWED_HEADERS: &str = "authorization, content-type, range, if-match, if-range";
/// Response headers a page may read.
pub const EXPOSED_HEADERS: &str = "ETag, Content-Range, Content-Length, Accept-Ranges";

/// The allow-list.
#[derive(Debug)]
pub struct Cors {
    origins: Vec<String>,
    max_age: HeaderValue,
}

impl Cors {
    /// None when no origin is allowed (no CORS headers at all).
    pub fn from_config(c: &CorsConfig) -> Option<Arc<Self>> {
        if c.allowed_origins.is_empty() {
            return None;
        }
        Some(Arc::new(Self {
            origins: c.allowed_origins.clone(),
            max_age: HeaderValue::from(c.max_age_secs),
        }))
    }

    /// Whether `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}

/// The middleware.
pub async fn layer(State(cors): State<Arc<Cors>>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let allowed = origin.to_str().is_ok_and(|o| cors.allows(o));
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = if allowed {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        if allowed {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            h.insert(header::ACCESS_CONTROL_MAX_AGE, cors.max_age.clone());
        }
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    if allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    resp
}
