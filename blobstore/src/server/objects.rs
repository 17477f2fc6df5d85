//! Object handlers: PUT, GET (with Range), HEAD, DELETE, LIST, sharing, and
//! the dispatch to the multipart handlers.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use object_store::ObjectMeta;
use serde_json::json;

use super::range::{resolve, RangeAnswer};
use super::{json, quote_etag, uploads, AppState, Query};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::store::check_name;

fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "the method is not allowed on this resource",
    )
}

/// Writes and owner-only operations.
pub(super) fn require_owner(user: &str, owner: &str) -> ApiResult<()> {
    if user == owner {
        Ok(())
    } else {
        Err(ApiError::denied(format!(
            "only {owner} may do this under /o/{owner}"
        )))
    }
}

pub(super) fn content_length(h: &HeaderMap) -> ApiResult<Option<u64>> {
    match h.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| ApiError::invalid("bad Content-Length")),
    }
}

fn http_date(m: &ObjectMeta) -> String {
    m.last_modified
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn meta_json(id: &str, m: &ObjectMeta) -> serde_json::Value {
    json!({
        "id": id,
        "size": m.size,
        "etag": quote_etag(m.e_tag.as_deref()),
        "lastModified": m.last_modified.to_rfc3339(),
    })
}

/// `/o/{owner}/{id}`.
pub(super) async fn object(
    State(st): State<AppState>,
    Path((owner, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let q = Query::of(&parts.uri);
    let mut stream = body.into_data_stream();
    let run = async {
        let user = st.authenticate(&parts.headers)?;
        check_name("owner", &owner)?;
        check_name("object id", &id)?;
        let h = &parts.headers;
        match parts.method {
            Method::GET if q.has("uploadId") => {
                uploads::list_parts(&st, &user, &owner, &id, &q).await
            }
            Method::GET if q.has("acl") => {
                require_owner(&user, &owner)?;
                st.blobs.head(&owner, &id).await?;
                let readers = st.blobs.readers(&owner, &id).await?;
                Ok(json(StatusCode::OK, json!({"id": id, "readers": readers})))
            }
            Method::GET => match get(&st, &user, &owner, &id, h, false).await {
                // Replaced between the metadata and the read: once more.
                Err(e)
                    if e.code == ErrorCode::PreconditionFailed
                        && !h.contains_key(header::IF_MATCH) =>
                {
                    get(&st, &user, &owner, &id, h, false).await
                }
                r => r,
            },
            Method::HEAD => get(&st, &user, &owner, &id, h, true).await,
            Method::PUT if q.has("uploadId") => {
                uploads::put_part(&st, &user, &owner, &id, &q, h, &mut stream).await
            }
            Method::PUT => {
                require_owner(&user, &owner)?;
                let len = content_length(h)?;
                let w = st.blobs.put(&owner, &id, &mut stream, len).await?;
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
            Method::POST if q.has("uploads") => uploads::create(&st, &user, &owner, &id).await,
            Method::POST if q.has("uploadId") && q.has("complete") => {
                uploads::complete(&st, &user, &owner, &id, &q, &mut stream).await
            }
            Method::POST if q.has("share") => share(&st, &user, &owner, &id, &q, true).await,
            Method::POST => Err(ApiError::invalid(
                "POST needs ?uploads, ?uploadId=U&complete or ?share=USER",
            )),
            Method::DELETE if q.has("uploadId") => {
                uploads::abort(&st, &user, &owner, &id, &q).await
            }
            Method::DELETE if q.has("share") => share(&st, &user, &owner, &id, &q, false).await,
            Method::DELETE => {
                require_owner(&user, &owner)?;
                st.blobs.delete(&owner, &id).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(method_not_allowed()),
        }
    };
    match run.await {
        Ok(r) => r,
        Err(e) => {
            // A refused upload: let the client finish sending and read the error.
            if matches!(parts.method, Method::PUT | Method::POST) {
                super::drain(&mut stream).await;
            }
            e.into_response()
        }
    }
}

async fn share(
    st: &AppState,
    user: &str,
    owner: &str,
    id: &str,
    q: &Query,
    add: bool,
) -> ApiResult<Response> {
    require_owner(user, owner)?;
    let reader = q.get("share").unwrap_or("");
    check_name("reader", reader)?;
    if reader == owner {
        return Err(ApiError::invalid("an owner cannot share with themselves"));
    }
    let readers = if add {
        st.blobs.share(owner, id, reader).await?
    } else {
        st.blobs.unshare(owner, id, reader).await?
    };
    Ok(json(StatusCode::OK, json!({"id": id, "readers": readers})))
}

/// GET and HEAD: the owner, or a reader the object was shared with.
async fn get(
    st: &AppState,
    user: &str,
    owner: &str,
    id: &str,
    h: &HeaderMap,
    head_only: bool,
) -> ApiResult<Response> {
    // The ACL is checked before the object, so a non-reader learns nothing
    // about whether it exists.
    if !st.blobs.can_read(user, owner, id).await? {
        return Err(ApiError::denied(format!(
            "{owner}/{id} is not shared with {user}"
        )));
    }
    let meta = st.blobs.head(owner, id).await?;
    let etag = quote_etag(meta.e_tag.as_deref());
    if let Some(want) = h.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        let ok = want
            .split(',')
            .map(str::trim)
            .any(|w| w == "*" || Some(w.trim_start_matches("W/")) == etag.as_deref());
        if !ok {
            return Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                "If-Match does not match the object's ETag",
            ));
        }
    }
    let size = meta.size;
    let mut answer = RangeAnswer::Full;
    if !head_only {
        if let Some(r) = h.get(header::RANGE).and_then(|v| v.to_str().ok()) {
            let if_range_ok = match h.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
                None => true,
                Some(v) => Some(v) == etag.as_deref(),
            };
            if if_range_ok {
                answer = resolve(r, size);
            }
        }
    }
    let mut resp = Response::new(Body::empty());
    let hs = resp.headers_mut();
    hs.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    hs.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    hs.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Some(e) = etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
        hs.insert(header::ETAG, e);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(&meta)) {
        hs.insert(header::LAST_MODIFIED, v);
    }
    let range = match answer {
        RangeAnswer::Unsatisfiable => {
            return Err(ApiError::new(
                ErrorCode::InvalidRange,
                format!("the range selects no byte of the {size}-byte object"),
            )
            .with_header(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            ));
        }
        RangeAnswer::Full => 0..size,
        RangeAnswer::Partial(r) => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let cr = format!("bytes {}-{}/{size}", r.start, r.end - 1);
            if let Ok(v) = HeaderValue::from_str(&cr) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
    };
    resp.headers_mut().insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(range.end - range.start),
    );
    if head_only || range.is_empty() {
        return Ok(resp);
    }
    // Read exactly the version whose metadata was answered.
    let body = st.blobs.read(owner, id, &meta, range).await?;
    *resp.body_mut() = Body::from_stream(body);
    Ok(resp)
}

/// `/o/{owner}`: LIST (`?prefix=&after=&limit=`) or open uploads (`?uploads`).
pub(super) async fn bucket(
    State(st): State<AppState>,
    Path(owner): Path<String>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let run = async {
        let user = st.authenticate(&parts.headers)?;
        check_name("owner", &owner)?;
        if parts.method != Method::GET {
            return Err(method_not_allowed());
        }
        require_owner(&user, &owner)?;
        let q = Query::of(&parts.uri);
        if q.has("uploads") {
            let ups = st.blobs.list_uploads(&owner).await?;
            let list: Vec<_> = ups
                .iter()
                .map(|u| json!({"uploadId": u.upload_id, "id": u.id, "created": u.created}))
                .collect();
            return Ok(json(
                StatusCode::OK,
                json!({"owner": owner, "uploads": list}),
            ));
        }
        let max = st.blobs.limits().max_list;
        let limit = match q.get("limit") {
            None | Some("") => max,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::invalid("limit must be a positive integer"))?
                .min(max),
        };
        let prefix = q.get("prefix").unwrap_or("");
        let after = q.get("after").unwrap_or("");
        let (objects, truncated) = st.blobs.list(&owner, prefix, after, limit).await?;
        let items: Vec<_> = objects
            .iter()
            .map(|m| meta_json(m.location.filename().unwrap_or(""), m))
            .collect();
        let next = if truncated {
            objects.last().and_then(|m| m.location.filename())
        } else {
            None
        };
        Ok(json(
            StatusCode::OK,
            json!({"owner": owner, "objects": items, "isTruncated": truncated, "nextAfter": next}),
        ))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /shared`: objects other users shared with the caller.
pub(super) async fn shared(State(st): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let run = async {
        let user = st.authenticate(&parts.headers)?;
        if parts.method != Method::GET {
            return Err(method_not_allowed());
        }
        let entries = st.blobs.shared_with(&user).await?;
        let items: Vec<_> = entries
            .iter()
            .map(|e| {
                let mut v = meta_json(&e.id, &e.meta);
                v["owner"] = json!(e.owner);
                v
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            json!({"reader": user, "objects": items}),
        ))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
