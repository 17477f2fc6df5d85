//! Quotas and the maximum object size: 413 with the right code, and no
//! partial data left behind.

use reqwest::Method;

use crate::common::*;

const KIB: usize = 1024;

async fn limited() -> Env {
    Env::start_with(|c| {
        c.limits.quota_bytes = 1024 * KIB as u64;
        c.limits.max_object_bytes = 600 * KIB as u64;
        c.limits
            .user_quota_bytes
            .insert("bob".into(), 2048 * KIB as u64);
    })
    .await
}

/// Bytes of alice's objects and parts (of uploads and composites) on disk.
fn alice_bytes(env: &Env) -> u64 {
    env.files()
        .iter()
        .filter(|(n, _)| {
            ["obj/alice/", "mpu/alice/", "cpt/alice/"]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .filter(|(n, _)| !n.ends_with("upload.json"))
        .map(|(_, s)| s)
        .sum()
}

fn chunks(total: usize, seed: u64) -> Vec<Vec<u8>> {
    data(total, seed)
        .chunks(64 * KIB)
        .map(<[u8]>::to_vec)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_size_limit() {
    let env = limited().await;
    // Declared too large: refused before any byte is stored.
    let r = env.put("alice", "/o/alice/big", data(601 * KIB, 1)).await;
    assert_eq!(error_code(r, 413).await, "ObjectTooLarge");
    // Streamed without a length: refused once it passes the limit, and the
    // partial data is removed.
    let r = env
        .put(
            "alice",
            "/o/alice/big",
            stream_body(chunks(700 * KIB, 2), false),
        )
        .await;
    assert_eq!(error_code(r, 413).await, "ObjectTooLarge");
    settled_files(&env).await;
    assert_eq!(alice_bytes(&env), 0);
    assert_eq!(env.get("alice", "/o/alice/big").await.status(), 404);
    // Exactly the limit is fine.
    let r = env.put("alice", "/o/alice/big", data(600 * KIB, 3)).await;
    assert_eq!(r.status(), 200);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_quota() {
    let env = limited().await;
    assert_eq!(
        env.put("alice", "/o/alice/a", data(500 * KIB, 1))
            .await
            .status(),
        200
    );
    assert_eq!(
        env.put("alice", "/o/alice/b", data(500 * KIB, 2))
            .await
            .status(),
        200
    );
    // 1000 KiB used of 1024: 100 KiB more does not fit, declared or streamed.
    let r = env.put("alice", "/o/alice/c", data(100 * KIB, 3)).await;
    assert_eq!(error_code(r, 413).await, "QuotaExceeded");
    let r = env
        .put(
            "alice",
            "/o/alice/c",
            stream_body(chunks(100 * KIB, 4), false),
        )
        .await;
    assert_eq!(error_code(r, 413).await, "QuotaExceeded");
    settled_files(&env).await;
    assert_eq!(alice_bytes(&env), 1000 * KIB as u64);
    assert_eq!(env.get("alice", "/o/alice/c").await.status(), 404);
    // Replacing an object counts the new size only once it is committed.
    assert_eq!(
        env.put("alice", "/o/alice/b", data(20 * KIB, 5))
            .await
            .status(),
        200
    );
    assert_eq!(
        env.put("alice", "/o/alice/c", data(400 * KIB, 6))
            .await
            .status(),
        200
    );
    // Deleting frees space.
    let r = env.put("alice", "/o/alice/d", data(200 * KIB, 7)).await;
    assert_eq!(error_code(r, 413).await, "QuotaExceeded");
    env.req(Method::DELETE, "alice", "/o/alice/a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.put("alice", "/o/alice/d", data(200 * KIB, 7))
            .await
            .status(),
        200
    );
    // Bob has a quota of his own, larger.
    for i in 0..3 {
        let r = env
            .put("bob", &format!("/o/bob/{i}"), data(600 * KIB, 8))
            .await;
        assert_eq!(r.status(), 200);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_limits_remove_the_failed_part() {
    let env = limited().await;
    let path = "/o/alice/m";
    let up = create_upload(&env, "alice", path).await;
    let part = |n: u32| format!("{path}?uploadId={up}&partNumber={n}");
    assert_eq!(
        env.put("alice", &part(1), data(400 * KIB, 1))
            .await
            .status(),
        200
    );
    // Parts together may not exceed the object size: streamed part 2 is
    // refused part-way and removed.
    let r = env
        .put("alice", &part(2), stream_body(chunks(300 * KIB, 2), false))
        .await;
    assert_eq!(error_code(r, 413).await, "ObjectTooLarge");
    settled_files(&env).await;
    assert_eq!(alice_bytes(&env), 400 * KIB as u64);
    // A part that fits the object size but not the quota.
    assert_eq!(
        env.put("alice", "/o/alice/other", data(550 * KIB, 3))
            .await
            .status(),
        200
    );
    let r = env
        .put("alice", &part(2), stream_body(chunks(100 * KIB, 4), false))
        .await;
    assert_eq!(error_code(r, 413).await, "QuotaExceeded");
    settled_files(&env).await;
    assert_eq!(alice_bytes(&env), 950 * KIB as u64);
    let v = body_json(env.get("alice", &format!("{path}?uploadId={up}")).await).await;
    assert_eq!(v["parts"].as_array().unwrap().len(), 1);
    // Aborting releases the parts' bytes.
    env.req(Method::DELETE, "alice", &format!("{path}?uploadId={up}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.put("alice", "/o/alice/more", data(450 * KIB, 5))
            .await
            .status(),
        200
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = kms_blobstore::jwt::generate_key().unwrap();
    let mut cfg = config(dir.path(), &key);
    cfg.limits.quota_bytes = 1024 * KIB as u64;
    let token = kms_blobstore::jwt::sign(
        &key,
        &serde_json::json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600}),
    );
    let c = client();
    let run = kms_blobstore::server::start(&cfg).await.unwrap();
    let url = format!("http://{}", run.addr);
    let r = c
        .put(format!("{url}/o/alice/a"))
        .bearer_auth(&token)
        .body(data(900 * KIB, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    run.shutdown().await.unwrap();
    let run = kms_blobstore::server::start(&cfg).await.unwrap();
    let url = format!("http://{}", run.addr);
    let r = c
        .put(format!("{url}/o/alice/b"))
        .bearer_auth(&token)
        .body(data(200 * KIB, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 413).await, "QuotaExceeded");
    run.shutdown().await.unwrap();
}
