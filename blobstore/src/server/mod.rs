//! The HTTP API of `kms-blobstore` (see the crate README for the reference).

pub mod cors;
mod objects;
pub mod range;
mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use object_store::chunked::ChunkedStore;
use object_store::local::LocalFileSystem;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::jwt::Verifier256;
use crate::store::{self, Blobs};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The object layer.
    pub blobs: Arc<Blobs>,
    /// Token verification.
    pub verifier: Arc<Verifier256>,
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl AppState {
    /// The verified subject of the request's bearer token.
    pub fn authenticate(&self, headers: &HeaderMap) -> ApiResult<String> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::MissingToken,
                    "an Authorization: Bearer token is required",
                )
            })?;
        let v = self.verifier.verify(token, now())?;
        if !store::valid_name(&v.subject) {
            return Err(ApiError::denied(
                "the token's subject is not a valid owner name",
            ));
        }
        Ok(v.subject)
    }
}

/// The query string as pairs; flags (`?uploads`) have empty values.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parse `uri`'s query.
    pub fn of(uri: &Uri) -> Self {
        Self(
            form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }

    /// Whether `k` is present.
    pub fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(a, _)| a == k)
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, v: serde_json::Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An entity tag as sent in headers (quoted).
pub fn quote_etag(e: Option<&str>) -> Option<String> {
    e.map(|e| format!("\"{}\"", e.trim_matches('"')))
}

/// After refusing a body part-way (quota, size, a vanished upload), read
/// and discard up to 16 MiB more, for at most 5 s, so that the client
/// finishes sending and reads the error instead of a reset connection.
pub async fn drain<S, E>(body: &mut S)
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    use futures_util::StreamExt;
    let mut left: usize = 16 << 20;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(chunk)) = body.next().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

async fn health() -> Response {
    json(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

async fn not_found() -> Response {
    ApiError::new(ErrorCode::NotFound, "no such endpoint").into_response()
}

/// The router, with CORS when configured.
pub fn router(state: AppState, cors: Option<Arc<cors::Cors>>) -> Router {
    let r = Router::new()
        .route("/health", get(health))
        .route("/shared", any(objects::shared))
        .route("/o/{owner}", any(objects::bucket))
        .route("/o/{owner}/", any(objects::bucket))
        .route("/o/{owner}/{id}", any(objects::object))
        .fallback(not_found)
        .with_state(state);
    match cors {
        Some(c) => r.layer(axum::middleware::from_fn_with_state(c, cors::layer)),
        None => r,
    }
}

/// A running server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// From its parts.
    pub fn new(
        addr: SocketAddr,
        shutdown: oneshot::Sender<()>,
        task: JoinHandle<std::io::Result<()>>,
    ) -> Self {
        Self {
            addr,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// Stop accepting, let requests in flight finish, and wait.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Build the store from `config` (creating the data directory, removing
/// stale staging files and orphaned uploads), bind, and serve.
pub async fn start(config: &Config) -> Result<Running, String> {
    let pem = std::fs::read_to_string(&config.jwt.es256_public_key_file)
        .map_err(|e| format!("{}: {e}", config.jwt.es256_public_key_file.display()))?;
    let mut verifier = Verifier256::from_pem(&pem)
        .map_err(|e| format!("{}: {e}", config.jwt.es256_public_key_file.display()))?;
    verifier.issuer = config.jwt.issuer.clone();
    verifier.audience = config.jwt.audience.clone();
    verifier.leeway = i64::from(config.jwt.leeway_secs);

    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let stale = store::remove_stale_staging_files(&config.data_dir)
        .map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    if stale > 0 {
        tracing::info!("removed {stale} staging files of interrupted writes");
    }
    let fs = LocalFileSystem::new_with_prefix(&config.data_dir)
        .map_err(|e| format!("{}: {e}", config.data_dir.display()))?
        .with_automatic_cleanup(true)
        .with_fsync(config.fsync);
    // Reads of local files go out in 512 KiB chunks (the backend's own
    // default is 8 KiB, one blocking-pool hop each).
    let store = ChunkedStore::new(Arc::new(fs), 512 << 10);
    let blobs = Blobs::new(Arc::new(store), config.limits.clone());
    let swept = blobs
        .sweep_uploads(config.limits.multipart_expiry_secs)
        .await
        .map_err(|e| e.to_string())?;
    if swept > 0 {
        tracing::info!("removed {swept} orphaned or expired multipart uploads");
    }
    let state = AppState {
        blobs,
        verifier: Arc::new(verifier),
    };
    let app = router(state, cors::Cors::from_config(&config.cors));
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("bind {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running::new(addr, tx, task))
}
