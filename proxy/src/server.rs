//! The HTTP front: `POST /` in the AWS JSON 1.1 protocol, `GET /health`.
//!
//! Order of checks: body size, authentication, target header, content type,
//! JSON, then the operation (which authorizes before touching state). Any
//! failure is an AWS-shaped error and changes nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::audit::{self as audit_note, AuditTrail};
use crate::auth::{Authenticator, HttpParts, Principal, RequestInfo};
use crate::cors::{self, Cors};
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::kms::{now, Kms};
use crate::listen::ConnInfo;
use kms_proxy_audit::{Announced, SerializedEvent};

/// Shared state of the server.
pub struct AppState {
    /// The service.
    pub kms: Arc<Kms>,
    /// The authenticator.
    pub auth: Arc<Authenticator>,
    /// The largest body accepted.
    pub max_body: usize,
    /// From the end of the headers to the response.
    pub request_timeout: Duration,
    /// CORS, when some origin is allowed.
    pub cors: Option<Arc<Cors>>,
    /// The audit trail; every request writes one event before it is answered.
    pub audit: Option<Arc<AuditTrail>>,
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    let cors = state.cors.clone();
    let r = Router::new()
        .route("/", post(handle))
        .route("/health", get(health))
        .with_state(state);
    match cors {
        Some(c) => r.layer(axum::middleware::from_fn_with_state(c, cors::layer)),
        None => r,
    }
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

/// A request id: unique (a random per-process half and a counter), cheap
/// (no system call per request), UUID-shaped as AWS's are.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        crate::rootkey::random_bytes(&mut b);
        u64::from_le_bytes(b)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    uuid::Uuid::from_u64_pair(prefix, n)
        .hyphenated()
        .to_string()
}

/// Operations that only read the store (through its read-only connections)
/// and compute: they run on the async worker, with no thread hand-off, and
/// wait for their audit event asynchronously. Everything else (writes with
/// `fsync`) runs on the blocking pool.
const INLINE_TARGETS: [&str; 7] = [
    "TrentService.GenerateDataKey",
    "TrentService.GenerateDataKeyWithoutPlaintext",
    "TrentService.Encrypt",
    "TrentService.Decrypt",
    "TrentService.ReEncrypt",
    "TrentService.GenerateRandom",
    "TrentService.DescribeKey",
];

fn runs_inline(headers: &HeaderMap) -> bool {
    headers
        .get("x-amz-target")
        .is_some_and(|t| INLINE_TARGETS.iter().any(|x| t.as_bytes() == x.as_bytes()))
}

async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let request_id = new_request_id();
    match tokio::time::timeout(
        state.request_timeout,
        handle_in_time(&state, req, &request_id),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(request_id = %request_id, "request timed out");
            error_response(
                &request_id,
                &KmsError::new(
                    ErrorKind::RequestTimeout,
                    "The request was not completed in time",
                ),
            )
        }
    }
}

async fn handle_in_time(state: &Arc<AppState>, req: Request, request_id: &str) -> Response {
    let started = Instant::now();
    let request_id = request_id.to_string();
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
    let conn = parts.extensions.get::<ConnInfo>().copied();
    let info = RequestInfo {
        source_ip: conn.map(|c| c.peer.ip().to_string()),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(256)
            .collect(),
        secure: conn.is_some_and(|c| c.secure),
        via_service: None,
    };
    if declared.is_some_and(|n| n > state.max_body) {
        return rejected(state, &parts.headers, &info, &request_id, too_large(), None).await;
    }
    let body = match axum::body::to_bytes(body, state.max_body).await {
        Ok(b) => b,
        Err(_) => {
            return rejected(state, &parts.headers, &info, &request_id, too_large(), None).await
        }
    };
    // From here the request runs without waiting on its client, and ends by
    // appending its event: the audit writer may wait for it.
    let announced = state.audit.as_ref().map(|t| t.log.announce());
    let parsed = Parsed {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let (op, result) = if runs_inline(&parsed.headers) {
        // Synchronous up to the audit append (which sends its event before
        // its first await), so a timeout cannot drop the event of an
        // operation that ran.
        audit_note::begin();
        let (op, principal, result) = process(state, &parsed, &request_id, info);
        let note = audit_note::take();
        let result = record_async(
            state,
            &op,
            principal.as_ref(),
            note,
            &request_id,
            result,
            announced,
        )
        .await;
        (op, result)
    } else {
        let st = state.clone();
        let rid = request_id.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            audit_note::begin();
            let (op, principal, result) = process(&st, &parsed, &rid, info);
            let note = audit_note::take();
            let result = record(&st, &op, principal.as_ref(), note, &rid, result, announced);
            (op, result)
        })
        .await;
        match outcome {
            Ok(r) => r,
            Err(e) => (String::new(), Err(KmsError::internal(e))),
        }
    };
    let elapsed_us = started.elapsed().as_micros() as u64;
    match result {
        Ok(v) => {
            tracing::debug!(request_id = %request_id, op = %op, status = 200, elapsed_us, "request");
            respond(&request_id, 200, v.to_string())
        }
        Err(e) => {
            tracing::debug!(
                request_id = %request_id, op = %op, status = e.kind.status(),
                error = e.kind.code(), elapsed_us, "request failed"
            );
            error_response(&request_id, &e)
        }
    }
}

/// [`record`] for the async path: the event is queued on the first poll,
/// then the answer waits until it is durable.
async fn record_async(
    state: &AppState,
    op: &str,
    principal: Option<&Principal>,
    note: audit_note::Note,
    request_id: &str,
    result: KmsResult<Value>,
    announced: Option<Announced>,
) -> KmsResult<Value> {
    let Some(trail) = &state.audit else {
        return result;
    };
    let event = audit_event(state, trail, op, principal, note, request_id, &result);
    let event = SerializedEvent::from(event);
    drop(announced);
    match trail.log.append_serialized(event).await {
        Ok(_) => result,
        Err(e) => {
            tracing::error!(error = %e, "audit event not written; failing the request");
            Err(KmsError::internal("the audit trail cannot be written"))
        }
    }
}

fn audit_event(
    state: &AppState,
    trail: &AuditTrail,
    op: &str,
    principal: Option<&Principal>,
    note: audit_note::Note,
    request_id: &str,
    result: &KmsResult<Value>,
) -> kms_proxy_audit::Event {
    trail.event(
        op,
        principal,
        principal
            .map(|p| state.kms.authz().principal_arn(p))
            .unwrap_or_default(),
        request_id,
        result.as_ref().err().map(|e| e.kind.code().to_string()),
        note,
    )
}

/// Write the request's audit event (blocking until it is durable). If it
/// cannot be written, the caller gets an internal error instead of the result:
/// no key use goes unrecorded.
fn record(
    state: &AppState,
    op: &str,
    principal: Option<&Principal>,
    note: audit_note::Note,
    request_id: &str,
    result: KmsResult<Value>,
    announced: Option<Announced>,
) -> KmsResult<Value> {
    let Some(trail) = &state.audit else {
        return result;
    };
    let event = audit_event(state, trail, op, principal, note, request_id, &result);
    drop(announced);
    match trail.log.append_blocking(event) {
        Ok(_) => result,
        Err(e) => {
            tracing::error!(error = %e, "audit event not written; failing the request");
            Err(KmsError::internal("the audit trail cannot be written"))
        }
    }
}

/// Answer a request refused before it reached an operation, after auditing it.
async fn rejected(
    state: &AppState,
    headers: &HeaderMap,
    info: &RequestInfo,
    request_id: &str,
    e: KmsError,
    announced: Option<Announced>,
) -> Response {
    if let Some(trail) = &state.audit {
        let op = operation_of(headers).1;
        let mut note = audit_note::Note {
            allowed: false,
            ..Default::default()
        };
        note.resources.clear();
        let mut event = trail.event(
            &op,
            None,
            String::new(),
            request_id,
            Some(e.kind.code().into()),
            note,
        );
        event.source_ip = info.source_ip.clone().unwrap_or_default();
        event.user_agent = info.user_agent.clone();
        drop(announced);
        if trail.log.append(event).await.is_err() {
            return error_response(
                request_id,
                &KmsError::internal("the audit trail cannot be written"),
            );
        }
    }
    error_response(request_id, &e)
}

/// The target header and the operation it names.
fn operation_of(headers: &HeaderMap) -> (String, String) {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let op = target
        .strip_prefix("TrentService.")
        .or_else(|| target.strip_prefix("KmsProxy."))
        .or_else(|| target.strip_prefix("AmazonSSM."))
        .unwrap_or("")
        .to_string();
    (target, op)
}

fn process(
    state: &AppState,
    req: &Parsed,
    request_id: &str,
    info: RequestInfo,
) -> (String, Option<Principal>, KmsResult<Value>) {
    let (target, op) = operation_of(&req.headers);
    let mut authenticated: Option<Principal> = None;
    let result = (|| {
        let mut principal = state.auth.authenticate(
            &HttpParts {
                method: req.method.as_str(),
                path: &req.path,
                query: &req.query,
                headers: &req.headers,
                body: &req.body,
            },
            now(),
        )?;
        principal.info = info;
        authenticated = Some(principal.clone());
        process_authenticated(state, req, request_id, &target, &op, &principal)
    })();
    (op, authenticated, result)
}

fn process_authenticated(
    state: &AppState,
    req: &Parsed,
    request_id: &str,
    target: &str,
    op: &str,
    principal: &Principal,
) -> KmsResult<Value> {
    let op = op.to_string();
    let target = target.to_string();
    let result = (|| {
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
        if target.starts_with("KmsProxy.") {
            return crate::extensions::call(state, &op, principal, body);
        }
        if target.starts_with("AmazonSSM.") {
            return state.kms.ssm_call(&op, principal, body);
        }
        state.kms.call(&op, principal, body)
    })();
    result
}
