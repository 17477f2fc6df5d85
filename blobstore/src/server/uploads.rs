//! Multipart handlers (owner only): create, upload part, list parts,
//! complete, abort.

use axum::body::BodyDataStream;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::objects::{content_length, require_owner};
use super::{json, quote_etag, AppState, Query};
use crate::error::{ApiError, ApiResult};

fn upload_id(q: &Query) -> &str {
    q.get("uploadId").unwrap_or("")
}

pub(super) async fn create(
    st: &AppState,
    user: &str,
    owner: &str,
    id: &str,
) -> ApiResult<Response> {
    require_owner(user, owner)?;
    let upload_id = st.blobs.create_upload(owner, id).await?;
    Ok(json(
        StatusCode::OK,
        json!({"uploadId": upload_id, "id": id}),
    ))
}

pub(super) async fn put_part(
    st: &AppState,
    user: &str,
    owner: &str,
    id: &str,
    q: &Query,
    h: &HeaderMap,
    body: &mut BodyDataStream,
) -> ApiResult<Response> {
    require_owner(user, owner)?;
    let number: u32 = q
        .get("partNumber")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::invalid("partNumber must be a number from 1"))?;
    let len = content_length(h)?;
    let p = st
        .blobs
        .put_part(owner, id, upload_id(q), number, body, len)
        .await?;
    let etag = quote_etag(p.etag.as_deref());
    let mut r = json(
        StatusCode::OK,
        json!({"partNumber": p.number, "size": p.size, "etag": etag}),
    );
    if let Some(e) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        r.headers_mut().insert(header::ETAG, e);
    }
    Ok(r)
}

pub(super) async fn list_parts(
    st: &AppState,
    user: &str,
    owner: &str,
    id: &str,
    q: &Query,
) -> ApiResult<Response> {
    require_owner(user, owner)?;
    let parts = st.blobs.list_parts(owner, id, upload_id(q)).await?;
    let list: Vec<_> = parts
        .iter()
        .map(|p| {
            json!({"partNumber": p.number, "size": p.size, "etag": quote_etag(p.etag.as_deref())})
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        json!({"uploadId": upload_id(q), "id": id, "parts": list}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CompletePart {
    part_number: u32,
    #[serde(default)]
    etag: Option<String>,
}

pub(super) async fn complete(
    st: &AppState,
    user: &str,
    owner: &str,
    id: &str,
    q: &Query,
    body: &mut BodyDataStream,
) -> ApiResult<Response> {
    require_owner(user, owner)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("the completion body is unreadable"))?;
        if bytes.len() + chunk.len() > 1 << 20 {
            return Err(ApiError::invalid("the completion body is over 1 MiB"));
        }
        bytes.extend_from_slice(&chunk);
    }
    let expected = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let b: CompleteBody = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::invalid(format!(
                "the body must be {{\"parts\": [{{\"partNumber\": N, \"etag\": \"...\"}}]}}: {e}"
            ))
        })?;
        Some(
            b.parts
                .into_iter()
                .map(|p| {
                    (
                        p.part_number,
                        p.etag.map(|e| e.trim_matches('"').to_string()),
                    )
                })
                .collect(),
        )
    };
    let w = st
        .blobs
        .complete_upload(owner, id, upload_id(q), expected)
        .await?;
    let etag = quote_etag(w.etag.as_deref());
    let mut r = json(
        StatusCode::OK,
        json!({"id": id, "size": w.size, "etag": etag}),
    );
    if let Some(e) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        r.headers_mut().insert(header::ETAG, e);
    }
    Ok(r)
}

pub(super) async fn abort(
    st: &AppState,
    user: &str,
    owner: &str,
    id: &str,
    q: &Query,
) -> ApiResult<Response> {
    require_owner(user, owner)?;
    st.blobs.abort_upload(owner, id, upload_id(q)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
