//! The HTTP front: `POST /` in the AWS JSON 1.1 protocol, `GET /health`.
//!
//! Order of checks: body size, authentication, target header, content type,
//! JSON, then the operation (which authorizes before touching state). Any
//! failure is an AWS-shaped error and changes nothing.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::auth::{Authenticator, HttpParts};
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::kms::{now, Kms};

/// Shared state of the server.
pub struct AppState {
    /// The service.
    pub kms: Arc<Kms>,
    /// The authenticator.
    pub auth: Arc<Authenticator>,
    /// The largest body accepted.
    pub max_body: usize,
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/health", get(health))
        .with_state(state)
}

async fn health() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
}

const JSON_11: &str = "application/x-amz-json-1.1";

fn respond(request_id: &str, status: u16, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_11));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

fn error_response(request_id: &str, e: &KmsError) -> Response {
    respond(request_id, e.kind.status(), e.body())
}

struct Parsed {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let too_large = || {
        KmsError::new(
            ErrorKind::RequestTooLarge,
            format!("The request body is larger than {} bytes", state.max_body),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > state.max_body) {
        return error_response(&request_id, &too_large());
    }
    let body = match axum::body::to_bytes(body, state.max_body).await {
        Ok(b) => b,
        Err(_) => return error_response(&request_id, &too_large()),
    };
    let parsed = Parsed {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let st = state.clone();
    let rid = request_id.clone();
    let outcome = tokio::task::spawn_blocking(move || process(&st, &parsed, &rid)).await;
    let (op, result) = match outcome {
        Ok(r) => r,
        Err(e) => (String::new(), Err(KmsError::internal(e))),
    };
    let elapsed_us = started.elapsed().as_micros() as u64;
    match result {
        Ok(v) => {
            tracing::info!(request_id = %request_id, op = %op, status = 200, elapsed_us, "request");
            respond(&request_id, 200, v.to_string())
        }
        Err(e) => {
            tracing::info!(
                request_id = %request_id, op = %op, status = e.kind.status(),
                error = e.kind.code(), elapsed_us, "request failed"
            );
            error_response(&request_id, &e)
        }
    }
}

fn process(state: &AppState, req: &Parsed, request_id: &str) -> (String, KmsResult<Value>) {
    let target = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let op = target
        .strip_prefix("TrentService.")
        .unwrap_or("")
        .to_string();
    let result = (|| {
        let principal = state.auth.authenticate(
            &HttpParts {
                method: req.method.as_str(),
                path: &req.path,
                query: &req.query,
                headers: &req.headers,
                body: &req.body,
            },
            now(),
        )?;
        if target.is_empty() {
            return Err(KmsError::new(
                ErrorKind::UnknownOperation,
                "Missing X-Amz-Target header (expected TrentService.<Operation>)",
            ));
        }
        if op.is_empty() {
            return Err(KmsError::new(
                ErrorKind::UnknownOperation,
                "X-Amz-Target must be TrentService.<Operation>",
            ));
        }
        let ct = req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !(ct.starts_with(JSON_11) || ct.starts_with("application/x-amz-json-1.0")) {
            return Err(KmsError::new(
                ErrorKind::Serialization,
                format!("Content-Type must be {JSON_11}"),
            ));
        }
        let body: Value = if req.body.is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&req.body).map_err(|_| {
                KmsError::new(
                    ErrorKind::Serialization,
                    "The request body is not valid JSON",
                )
            })?
        };
        tracing::debug!(request_id, principal = %principal.name, op = %op, "authenticated");
        state.kms.call(&op, &principal, body)
    })();
    (op, result)
}
