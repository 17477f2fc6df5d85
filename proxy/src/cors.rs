//! CORS for browsers, with an allow-list of origins.
//!
//! * A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   from an allowed origin gets 204 with the allowed methods and headers
//!   (`X-Amz-Target`, `Authorization`, `Content-Type` and the amz headers the
//!   AWS SDKs send); from any other origin, 403 without any
//!   `Access-Control-Allow-*` header, so the browser refuses.
//! * Other requests from an allowed origin get `Access-Control-Allow-Origin`
//!   (the origin itself, never `*` when credentials are allowed) and expose
//!   the request id. Requests from other origins are processed as usual but
//!   carry no CORS header, so a browser does not let the page read them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::CorsConfig;

/// Request headers a browser may send.
pub const ALLOWED_HEADERS: &str = "authorization, content-type, x-amz-target, x-amz-date, \
     x-amz-security-token, x-amz-user-agent, x-amz-content-sha256, amz-sdk-invocation-id, \
     amz-sdk-request";
/// Methods a browser may use.
pub const ALLOWED_METHODS: &str = "POST, GET, OPTIONS";
/// Response headers a page may read.
pub const EXPOSED_HEADERS: &str = "x-amzn-requestid";

/// The CORS policy.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<String>,
    any: bool,
    credentials: bool,
    max_age: HeaderValue,
}

impl Cors {
    /// From a validated configuration; None when no origin is allowed.
    pub fn from_config(c: &CorsConfig) -> Option<Arc<Self>> {
        if c.allowed_origins.is_empty() {
            return None;
        }
        Some(Arc::new(Self {
            any: c.any_origin(),
            // Never a wildcard with credentials (the configuration refuses it too).
            credentials: c.allow_credentials && !c.any_origin(),
            origins: c.allowed_origins.clone(),
            max_age: HeaderValue::from(c.max_age_secs),
        }))
    }

    /// Whether `origin` may read answers.
    pub fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o == origin)
    }

    fn allow_origin(&self, origin: &HeaderValue, h: &mut HeaderMap) {
        if self.any {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        } else {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// The middleware.
pub async fn layer(State(cors): State<Arc<Cors>>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let allowed = origin.to_str().is_ok_and(|o| cors.allows(o));
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut resp = Response::new(Body::empty());
        if !allowed {
            *resp.status_mut() = StatusCode::FORBIDDEN;
            resp.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Origin"));
            return resp;
        }
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        cors.allow_origin(&origin, h);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, cors.max_age.clone());
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        return resp;
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if allowed {
        cors.allow_origin(&origin, h);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    if !cors.any {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_and_wildcard() {
        let c = Cors::from_config(&CorsConfig {
            allowed_origins: vec!["https://a.example".into()],
            allow_credentials: true,
            max_age_secs: 60,
        })
        .unwrap();
        assert!(c.allows("https://a.example"));
        assert!(!c.allows("https://a.example.evil"));
        assert!(!c.allows("http://a.example"));
        let mut h = HeaderMap::new();
        c.allow_origin(&HeaderValue::from_static("https://a.example"), &mut h);
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");

        let w = Cors::from_config(&CorsConfig {
            allowed_origins: vec!["*".into()],
            allow_credentials: true,
            max_age_secs: 60,
        })
        .unwrap();
        let mut h = HeaderMap::new();
        w.allow_origin(&HeaderValue::from_static("https://x.example"), &mut h);
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        assert!(Cors::from_config(&CorsConfig::default()).is_none());
    }
}
