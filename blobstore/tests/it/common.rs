//! Shared helpers: an in-process kms-blobstore on 127.0.0.1:0 over a fresh
//! directory, tokens, and a look at what is on disk.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kms_blobstore::config::{Config, CorsConfig, JwtConfig, Limits};
use kms_blobstore::jwt;
use kms_blobstore::server::{self, Running};
use p256::ecdsa::SigningKey;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};

pub const ISSUER: &str = "test-idp";
pub const AUDIENCE: &str = "kms-blobstore";
pub const ORIGIN: &str = "http://app.test:8080";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A test's blob store.
pub struct Env {
    pub url: String,
    pub data: PathBuf,
    pub key: SigningKey,
    pub client: Client,
    cfg: Config,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

pub fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

/// A config over `dir` with the public key of `key`.
pub fn config(dir: &Path, key: &SigningKey) -> Config {
    let pem = dir.join("idp-public.pem");
    std::fs::write(&pem, jwt::public_key_pem(key.verifying_key()).unwrap()).unwrap();
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("data"),
        fsync: true,
        jwt: JwtConfig {
            es256_public_key_file: pem,
            issuer: Some(ISSUER.into()),
            audience: Some(AUDIENCE.into()),
            leeway_secs: 5,
        },
        limits: Limits::default(),
        cors: CorsConfig {
            allowed_origins: vec![ORIGIN.into()],
            max_age_secs: 60,
        },
    }
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = jwt::generate_key().unwrap();
        let mut cfg = config(dir.path(), &key);
        f(&mut cfg);
        let running = server::start(&cfg).await.unwrap();
        Self {
            url: format!("http://{}", running.addr),
            data: cfg.data_dir.clone(),
            key,
            client: client(),
            cfg,
            running: Some(running),
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }

    /// Stop the server, let `between` change the files, and start it again
    /// over the same directory (the start-up sweep runs).
    pub async fn restart(&mut self, between: impl FnOnce(&Path)) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
        between(&self.data);
        let running = server::start(&self.cfg).await.unwrap();
        self.url = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// A valid token for `sub`.
    pub fn token(&self, sub: &str) -> String {
        self.token_with(json!({"sub": sub, "iss": ISSUER, "aud": [AUDIENCE], "exp": now() + 600, "nbf": now() - 1}))
    }

    pub fn token_with(&self, claims: Value) -> String {
        jwt::sign(&self.key, &claims)
    }

    pub fn req(&self, method: Method, user: &str, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(self.token(user))
    }

    pub async fn put(&self, user: &str, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.req(Method::PUT, user, path)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, user: &str, path: &str) -> Response {
        self.req(Method::GET, user, path).send().await.unwrap()
    }

    /// Every file under the data directory, relative, with its size.
    pub fn files(&self) -> Vec<(String, u64)> {
        files_under(&self.data)
    }
}

pub fn files_under(root: &Path) -> Vec<(String, u64)> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, u64)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, e.metadata().map(|m| m.len()).unwrap_or(0)));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Pseudo-random bytes (xorshift), deterministic per seed.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A JSON error body's code, asserting the status.
pub async fn error_code(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "status");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    v["code"].as_str().unwrap().to_string()
}

pub async fn body_json(r: Response) -> Value {
    let status = r.status();
    let b = r.bytes().await.unwrap();
    assert!(
        status.is_success(),
        "status {status}: {}",
        String::from_utf8_lossy(&b)
    );
    serde_json::from_slice(&b).unwrap()
}

/// A body that yields `chunks` and then, if `fail`, an error (a dropped
/// connection as far as the server can tell).
pub fn stream_body(chunks: Vec<Vec<u8>>, fail: bool) -> reqwest::Body {
    let mut items: Vec<Result<Bytes, std::io::Error>> =
        chunks.into_iter().map(|c| Ok(Bytes::from(c))).collect();
    if fail {
        items.push(Err(std::io::Error::other("simulated drop")));
    }
    reqwest::Body::wrap_stream(futures_util::stream::iter(items))
}

/// Wait until no staging file is left (cleanup of a dropped write is
/// asynchronous), and return the files.
pub async fn settled_files(env: &Env) -> Vec<(String, u64)> {
    for _ in 0..100 {
        let f = env.files();
        if !f.iter().any(|(n, _)| n.contains('#')) {
            return f;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("staging files left: {:?}", env.files());
}

/// Open a multipart upload of `path` as `user`; its upload id.
pub async fn create_upload(env: &Env, user: &str, path: &str) -> String {
    let r = env
        .req(reqwest::Method::POST, user, &format!("{path}?uploads"))
        .send()
        .await
        .unwrap();
    body_json(r).await["uploadId"].as_str().unwrap().to_string()
}
