//! The `kms-blobstore` binary: start-up line, atomic writes across a
//! SIGKILL in the middle of PUTs, recovery at restart, graceful SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Method;

use crate::common::*;

fn spawn(config: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kms-blobstore"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("kms-blobstore listening on ")
        .unwrap_or_else(|| panic!("start-up line: {line:?}"))
        .to_string();
    (child, url)
}

/// A PUT whose body is fed through a channel, so it stays open.
fn open_put(
    url: String,
    token: String,
) -> (
    tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let task = tokio::spawn(async move {
        let _ = client()
            .put(url)
            .bearer_auth(token)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await;
    });
    (tx, task)
}

async fn wait_for_file(path: &Path, at_least: u64) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if std::fs::metadata(path).is_ok_and(|m| m.len() >= at_least) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never reached {at_least} bytes", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_put_leaves_no_partial_object() {
    let dir = tempfile::tempdir().unwrap();
    let key = kms_blobstore::jwt::generate_key().unwrap();
    let cfg = config(dir.path(), &key);
    let data_dir = cfg.data_dir.clone();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[jwt]\nes256_public_key_file = \"idp-public.pem\"\n\
         issuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\n"
    );
    let cfg_path = dir.path().join("blobstore.toml");
    std::fs::write(&cfg_path, toml).unwrap();
    let token = kms_blobstore::jwt::sign(
        &key,
        &serde_json::json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600}),
    );
    let c = client();

    let (mut child, url) = spawn(&cfg_path);
    let v1 = data(100_000, 1);
    let r = c
        .put(format!("{url}/o/alice/doc"))
        .bearer_auth(&token)
        .body(v1.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Two PUTs in flight: one replacing doc, one creating fresh. Each has
    // sent 5 MiB; the server has written at least 4 MiB of each to disk
    // (the body streams to disk; it is not buffered whole).
    let mut open = Vec::new();
    for id in ["doc", "fresh"] {
        let (tx, task) = open_put(format!("{url}/o/alice/{id}"), token.clone());
        for i in 0..5 {
            tx.send(Ok(Bytes::from(data(1 << 20, 10 + i))))
                .await
                .unwrap();
        }
        open.push((tx, task));
    }
    wait_for_file(&data_dir.join("obj/alice/doc#1"), 4 << 20).await;
    wait_for_file(&data_dir.join("obj/alice/fresh#1"), 4 << 20).await;
    child.kill().unwrap();
    child.wait().unwrap();
    for (tx, task) in open {
        drop(tx);
        task.await.unwrap();
    }
    // The old doc is whole and unchanged; fresh does not exist; the partial
    // data is only in staging files the store never shows.
    assert_eq!(std::fs::read(data_dir.join("obj/alice/doc")).unwrap(), v1);
    assert!(!data_dir.join("obj/alice/fresh").exists());
    assert!(data_dir.join("obj/alice/fresh#1").exists());

    // Restart: staging files are removed; reads and lists see the old state.
    let (mut child, url) = spawn(&cfg_path);
    let files = files_under(&data_dir);
    assert!(files.iter().all(|(n, _)| !n.contains('#')), "{files:?}");
    let r = c
        .get(format!("{url}/o/alice/doc"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), v1.as_slice());
    let r = c
        .get(format!("{url}/o/alice/fresh"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(format!("{url}/o/alice"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let v = body_json(r).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 1);
    assert_eq!(v["objects"][0]["size"], 100_000);

    // SIGTERM: a graceful exit with status 0.
    let r = c
        .request(Method::GET, format!("{url}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
