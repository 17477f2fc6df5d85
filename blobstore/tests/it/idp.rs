//! kms-demo-idp: login, tokens the blob store accepts, failed-login
//! limits, and the command line (init, add-user, serve).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kms_blobstore::idp::{self, config::IdpConfig};
use serde_json::{json, Value};

use crate::common::*;

fn idp_config(dir: &std::path::Path) -> IdpConfig {
    let mut c = IdpConfig::in_dir(dir);
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.issuer = ISSUER.into();
    c.audience = vec!["kms-proxy".into(), AUDIENCE.into()];
    // Cheap hashes: the tests run unoptimised.
    c.argon2.memory_kib = 256;
    c.argon2.iterations = 1;
    c.rate_limit.max_failures_per_user = 3;
    c.rate_limit.max_failures_per_ip = 6;
    c.cors.allowed_origins = vec![ORIGIN.into()];
    c
}

async fn login(url: &str, user: &str, pw: &str) -> reqwest::Response {
    client()
        .post(format!("{url}/login"))
        .body(json!({"username": user, "password": pw}).to_string())
        .send()
        .await
        .unwrap()
}

fn claims(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

/// A blob store that trusts the IdP's public key.
async fn store_for(cfg: &IdpConfig) -> (kms_blobstore::server::Running, String, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let mut bc = config(d.path(), &kms_blobstore::jwt::generate_key().unwrap());
    bc.jwt.es256_public_key_file = cfg.public_key_file.clone();
    let run = kms_blobstore::server::start(&bc).await.unwrap();
    let url = format!("http://{}", run.addr);
    (run, url, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_issues_tokens_the_store_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = idp_config(dir.path());
    idp::init(&cfg, false).unwrap();
    assert!(
        idp::init(&cfg, false).is_err(),
        "init keeps an existing key"
    );
    let alice_pw = idp::add_user(&cfg, "alice", None, false).unwrap();
    let bob_pw = idp::add_user(&cfg, "bob", None, false).unwrap();
    assert_ne!(*alice_pw, *bob_pw);
    assert!(idp::add_user(&cfg, "alice", None, false).is_err());
    assert!(idp::add_user(&cfg, "al/ice", None, false).is_err());
    let run = idp::start(&cfg).await.unwrap();
    let url = format!("http://{}", run.addr);

    let r = login(&url, "alice", &alice_pw).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v = body_json(r).await;
    let token = v["token"].as_str().unwrap().to_string();
    let c = claims(&token);
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], json!(["kms-proxy", AUDIENCE]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert_eq!(v["expiresAt"], c["exp"]);
    assert!((c["exp"].as_i64().unwrap() - now() - 900).abs() <= 2);

    // The store verifies it with the public key file: alice writes her own
    // objects and nobody else's.
    let (store, surl, _d) = store_for(&cfg).await;
    let put = |path: &str, t: &str| {
        client()
            .put(format!("{surl}{path}"))
            .bearer_auth(t.to_string())
            .body("ciphertext")
            .send()
    };
    assert_eq!(put("/o/alice/f", &token).await.unwrap().status(), 200);
    assert_eq!(put("/o/bob/f", &token).await.unwrap().status(), 403);
    // The public key is also served, identical to the file.
    let pem = client()
        .get(format!("{url}/public-key.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pem, std::fs::read_to_string(&cfg.public_key_file).unwrap());
    // A token from a re-initialised IdP (another key) is refused.
    idp::init(&cfg, true).unwrap();
    let run2 = idp::start(&IdpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..cfg.clone()
    })
    .await
    .unwrap();
    let v = body_json(login(&format!("http://{}", run2.addr), "bob", &bob_pw).await).await;
    let r = put("/o/bob/f", v["token"].as_str().unwrap()).await.unwrap();
    assert_eq!(error_code(r, 401).await, "InvalidToken");

    // The demo page (another origin) may call /login.
    let r = client()
        .request(reqwest::Method::OPTIONS, format!("{url}/login"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let r = client()
        .post(format!("{url}/login"))
        .header("origin", "http://evil.test")
        .body(json!({"username": "alice", "password": &*alice_pw}).to_string())
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));

    // Wrong password, unknown user, bad bodies.
    let r = login(&url, "alice", "wrong").await;
    assert_eq!(error_code(r, 401).await, "InvalidCredentials");
    let r = login(&url, "mallory", "x").await;
    assert_eq!(error_code(r, 401).await, "InvalidCredentials");
    let r = client()
        .post(format!("{url}/login"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 400).await, "InvalidArgument");
    let r = client().get(format!("{url}/login")).send().await.unwrap();
    assert_eq!(error_code(r, 405).await, "MethodNotAllowed");
    run.shutdown().await.unwrap();
    run2.shutdown().await.unwrap();
    store.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = idp_config(dir.path());
    idp::init(&cfg, false).unwrap();
    let pw = idp::add_user(&cfg, "alice", None, false).unwrap();
    idp::add_user(&cfg, "bob", None, false).unwrap();
    let run = idp::start(&cfg).await.unwrap();
    let url = format!("http://{}", run.addr);
    // A success does not count; three failures lock the name.
    assert_eq!(login(&url, "alice", &pw).await.status(), 200);
    for _ in 0..3 {
        let r = login(&url, "alice", "guess").await;
        assert_eq!(error_code(r, 401).await, "InvalidCredentials");
    }
    let r = login(&url, "alice", &pw).await;
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(error_code(r, 429).await, "TooManyRequests");
    // Case variants of the name share the count.
    let r = login(&url, "ALICE", "guess").await;
    assert_eq!(error_code(r, 429).await, "TooManyRequests");
    // Bob is not locked, until the address reaches its own limit (6).
    for _ in 0..2 {
        let r = login(&url, "bob", "guess").await;
        assert_eq!(error_code(r, 401).await, "InvalidCredentials");
    }
    let r = login(&url, "carol", "guess").await;
    assert_eq!(error_code(r, 401).await, "InvalidCredentials");
    let r = login(&url, "dave", "guess").await;
    assert_eq!(error_code(r, 429).await, "TooManyRequests");
    run.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("idp.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "listen = \"127.0.0.1:0\"\nissuer = \"{ISSUER}\"\naudience = [\"{AUDIENCE}\"]\n\
             private_key_file = \"keys/private.pem\"\npublic_key_file = \"keys/public.pem\"\n\
             users_file = \"users.json\"\n[argon2]\nmemory_kib = 256\niterations = 1\n"
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_kms-demo-idp");
    let run = |args: &[&str]| {
        Command::new(bin)
            .arg("--config")
            .arg(&cfg_path)
            .args(args)
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    let out = run(&["init"]);
    assert!(out.status.success());
    let private = dir.path().join("keys/private.pem");
    assert!(std::fs::read_to_string(&private)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the private key is private");
    }
    assert!(!run(&["init"]).status.success());

    let out = run(&["add-user", "alice"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (name, pw) = stdout.trim().split_once(' ').unwrap();
    assert_eq!(name, "alice");
    assert!(pw.len() >= 20);
    assert!(!run(&["add-user", "alice"]).status.success());
    let users = std::fs::read_to_string(dir.path().join("users.json")).unwrap();
    assert!(users.contains("$argon2id$") && !users.contains(pw));
    // A password given on stdin.
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(&cfg_path)
        .args(["add-user", "bob", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"bob's password\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    let mut server = Command::new(bin)
        .arg("--config")
        .arg(&cfg_path)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("kms-demo-idp listening on ")
        .unwrap()
        .to_string();
    let v = body_json(login(&url, "alice", pw).await).await;
    assert_eq!(claims(v["token"].as_str().unwrap())["sub"], "alice");
    let v = body_json(login(&url, "bob", "bob's password").await).await;
    let bob_token = v["token"].as_str().unwrap().to_string();
    server.kill().unwrap();
    server.wait().unwrap();

    let cfg = IdpConfig::load(&cfg_path).unwrap();
    let (store, surl, _d) = store_for(&cfg).await;
    let r = client()
        .put(format!("{surl}/o/bob/x"))
        .bearer_auth(&bob_token)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    store.shutdown().await.unwrap();
}
