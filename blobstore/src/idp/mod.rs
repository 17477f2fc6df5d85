//! `kms-demo-idp`: the demo login. It exchanges a demo user's password for
//! a short-lived ES256 JWT (`sub` = user name) that kms-blobstore and
//! kms-proxy verify with the IdP's public key. A real deployment brings its
//! own identity provider instead.

pub mod config;
pub mod ratelimit;
pub mod users;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use p256::ecdsa::SigningKey;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::jwt;
use crate::server::{cors, json, now, Running};
use config::IdpConfig;
use ratelimit::Limiter;
use users::{generate_password, hash_password, verify_password, User, Users};

/// Create the ES256 key pair (and an empty users file). Refuses to replace
/// an existing private key unless `force`.
pub fn init(cfg: &IdpConfig, force: bool) -> Result<(), String> {
    if cfg.private_key_file.exists() && !force {
        return Err(format!(
            "{} exists; pass --force to replace the key (tokens signed with the old key stop verifying)",
            cfg.private_key_file.display()
        ));
    }
    let key = jwt::generate_key()?;
    users::write_private(
        &cfg.private_key_file,
        jwt::private_key_pem(&key)?.as_bytes(),
    )?;
    let public = jwt::public_key_pem(key.verifying_key())?;
    if let Some(d) = cfg.public_key_file.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(&cfg.public_key_file, public)
        .map_err(|e| format!("{}: {e}", cfg.public_key_file.display()))?;
    if !cfg.users_file.exists() {
        Users::default().save(&cfg.users_file)?;
    }
    Ok(())
}

/// Add `name` (or, with `replace`, set a new password) and return the
/// password: `password` if given, else a generated one.
pub fn add_user(
    cfg: &IdpConfig,
    name: &str,
    password: Option<Zeroizing<String>>,
    replace: bool,
) -> Result<Zeroizing<String>, String> {
    if !crate::store::valid_name(name) || name.len() > 64 {
        return Err("user names must match [A-Za-z0-9._-]{1,64}".into());
    }
    let mut all = Users::load(&cfg.users_file)?;
    if all.users.contains_key(name) && !replace {
        return Err(format!("{name} exists; pass --reset to set a new password"));
    }
    let password = match password {
        Some(p) if p.is_empty() || p.len() > 1024 => {
            return Err("passwords must be 1 to 1024 bytes".into())
        }
        Some(p) => p,
        None => generate_password()?,
    };
    let hash = hash_password(&password, &cfg.argon2)?;
    all.users.insert(
        name.to_string(),
        User {
            argon2id: hash,
            created: now(),
        },
    );
    all.save(&cfg.users_file)?;
    Ok(password)
}

struct Idp {
    cfg: IdpConfig,
    key: SigningKey,
    /// Verified against for unknown users, so they take as long as known ones.
    dummy_hash: String,
    per_user: Limiter,
    per_ip: Limiter,
    hashing: Semaphore,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: Zeroizing<String>,
}

fn too_many(wait: u64) -> ApiError {
    ApiError::new(
        ErrorCode::TooManyRequests,
        format!("too many failed logins; retry in {wait} s"),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
}

impl Idp {
    fn token_for(&self, user: &str) -> Response {
        let now = now();
        let exp = now + i64::from(self.cfg.token_ttl_secs);
        let mut jti = [0u8; 16];
        let _ = getrandom::getrandom(&mut jti);
        let aud = match self.cfg.audience.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        let claims = json!({
            "iss": self.cfg.issuer, "aud": aud, "sub": user,
            "iat": now, "nbf": now, "exp": exp, "jti": hex::encode(jti),
        });
        let token = jwt::sign(&self.key, &claims);
        let mut r = json(
            StatusCode::OK,
            json!({"token": token, "tokenType": "Bearer", "expiresAt": exp,
                   "expiresIn": self.cfg.token_ttl_secs, "username": user}),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    async fn login(&self, ip: &str, body: &[u8]) -> ApiResult<Response> {
        let b: LoginBody = serde_json::from_slice(body).map_err(|_| {
            ApiError::invalid("the body must be {\"username\": \"...\", \"password\": \"...\"}")
        })?;
        let t = Instant::now();
        let user_key = b.username.to_ascii_lowercase();
        self.per_ip.check(ip, t).map_err(too_many)?;
        self.per_user.check(&user_key, t).map_err(too_many)?;
        let hash = if b.password.len() <= 1024 {
            Users::load(&self.cfg.users_file)
                .map_err(|e| ApiError::internal("users", e))?
                .users
                .get(&b.username)
                .map(|u| u.argon2id.clone())
        } else {
            None
        };
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| ApiError::internal("semaphore", e))?;
        let pw = b.password.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| ApiError::internal("verify", e))?;
        if ok && known {
            self.per_user.clear(&user_key);
            tracing::info!(user = %b.username, "login");
            return Ok(self.token_for(&b.username));
        }
        let t = Instant::now();
        self.per_user.fail(&user_key, t);
        self.per_ip.fail(ip, t);
        tracing::warn!(user = %b.username, ip, "failed login");
        Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong user name or password",
        ))
    }
}

async fn login(
    State(idp): State<Arc<Idp>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    if req.method() != Method::POST {
        return ApiError::new(ErrorCode::MethodNotAllowed, "POST /login").into_response();
    }
    let body = match axum::body::to_bytes(req.into_body(), 8 << 10).await {
        Ok(b) => b,
        Err(_) => return ApiError::invalid("the body is too large").into_response(),
    };
    let ip = peer.ip().to_string();
    idp.login(&ip, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn public_key(State(idp): State<Arc<Idp>>) -> Response {
    match jwt::public_key_pem(idp.key.verifying_key()) {
        Ok(pem) => {
            let mut r = Response::new(axum::body::Body::from(pem));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-pem-file"),
            );
            r
        }
        Err(e) => ApiError::internal("public key", e).into_response(),
    }
}

/// Load the key and serve `/login`, `/public-key.pem` and `/health`.
pub async fn start(cfg: &IdpConfig) -> Result<Running, String> {
    let pem = std::fs::read_to_string(&cfg.private_key_file)
        .map(Zeroizing::new)
        .map_err(|e| {
            format!(
                "{}: {e} (run `kms-demo-idp init` first)",
                cfg.private_key_file.display()
            )
        })?;
    let key = jwt::private_key_from_pem(&pem)
        .map_err(|e| format!("{}: {e}", cfg.private_key_file.display()))?;
    Users::load(&cfg.users_file)?;
    let dummy_hash = hash_password("not a password", &cfg.argon2)?;
    let rl = &cfg.rate_limit;
    let window = Duration::from_secs(rl.window_secs);
    let lockout = Duration::from_secs(rl.lockout_secs);
    let idp = Arc::new(Idp {
        cfg: cfg.clone(),
        key,
        dummy_hash,
        per_user: Limiter::new(rl.max_failures_per_user, window, lockout),
        per_ip: Limiter::new(rl.max_failures_per_ip, window, lockout),
        hashing: Semaphore::new(2),
    });
    let mut app = Router::new()
        .route("/login", any(login))
        .route("/public-key.pem", get(public_key))
        .route(
            "/health",
            get(|| async { json(StatusCode::OK, json!({"status": "ok"})) }),
        )
        .with_state(idp);
    if let Some(c) = cors::Cors::from_config(&cfg.cors) {
        app = app.layer(axum::middleware::from_fn_with_state(c, cors::layer));
    }
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("bind {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .await
    });
    Ok(Running::new(addr, tx, task))
}

/// The configuration: from `config` if given, else defaults in `dir`.
pub fn load_config(config: Option<&Path>, dir: &Path) -> Result<IdpConfig, String> {
    match config {
        Some(p) => IdpConfig::load(p),
        None => Ok(IdpConfig::in_dir(dir)),
    }
}
