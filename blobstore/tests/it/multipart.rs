//! Multipart uploads: create, parts of any size, list, complete, abort, and
//! resuming after a dropped connection.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn part(env: &Env, path: &str, up: &str, n: u32, body: Vec<u8>) -> reqwest::Response {
    env.put(
        "alice",
        &format!("{path}?uploadId={up}&partNumber={n}"),
        body,
    )
    .await
}

async fn parts(env: &Env, path: &str, up: &str) -> Vec<(u64, u64)> {
    let v = body_json(env.get("alice", &format!("{path}?uploadId={up}")).await).await;
    v["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partNumber"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn complete(env: &Env, path: &str, up: &str, body: Option<Value>) -> reqwest::Response {
    let mut b = env.req(
        Method::POST,
        "alice",
        &format!("{path}?uploadId={up}&complete"),
    );
    if let Some(v) = body {
        b = b.body(v.to_string());
    }
    b.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_complete() {
    let env = Env::start().await;
    let path = "/o/alice/big";
    let up = create_upload(&env, "alice", path).await;
    assert_eq!(up.len(), 32);
    let p1 = data(5 << 20, 1);
    let p2 = data(7, 2);
    let p3 = data(1, 3);
    let mut etags = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2), (3, &p3)] {
        let r = part(&env, path, &up, n, p.clone()).await;
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let v = body_json(r).await;
        assert_eq!(v["partNumber"], n);
        assert_eq!(v["size"], p.len());
        etags.push(etag);
    }
    assert_eq!(parts(&env, path, &up).await, [(1, 5 << 20), (2, 7), (3, 1)]);
    // Not visible before completion.
    assert_eq!(env.get("alice", path).await.status(), 404);
    let v = body_json(env.get("alice", "/o/alice?uploads").await).await;
    assert_eq!(v["uploads"][0]["uploadId"], up.as_str());
    assert_eq!(v["uploads"][0]["id"], "big");

    // A list that does not match the parts is refused.
    let r = complete(
        &env,
        path,
        &up,
        Some(json!({"parts": [{"partNumber": 1}, {"partNumber": 2}]})),
    )
    .await;
    assert_eq!(error_code(r, 400).await, "InvalidPart");
    let wrong = json!({"parts": [{"partNumber": 1, "etag": "\"nope\""}, {"partNumber": 2}, {"partNumber": 3}]});
    let r = complete(&env, path, &up, Some(wrong)).await;
    assert_eq!(error_code(r, 400).await, "InvalidPart");

    let list: Vec<Value> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"partNumber": i + 1, "etag": e}))
        .collect();
    let r = complete(&env, path, &up, Some(json!({ "parts": list }))).await;
    let v = body_json(r).await;
    assert_eq!(v["size"], (5 << 20) + 8);
    let r = env.get("alice", path).await;
    // The entity tag answered at completion is the object's.
    assert_eq!(v["etag"].as_str(), r.headers()["etag"].to_str().ok());
    let got = r.bytes().await.unwrap();
    assert_eq!(got.as_ref(), [p1, p2, p3].concat().as_slice());
    // No staging file is left next to the object.
    assert!(
        env.files().iter().all(|(n, _)| !n.contains('#')),
        "{:?}",
        env.files()
    );
    // The upload and its parts are gone.
    assert!(env.files().iter().all(|(n, _)| !n.starts_with("mpu/")));
    let r = env.get("alice", &format!("{path}?uploadId={up}")).await;
    assert_eq!(error_code(r, 404).await, "NoSuchUpload");
    let r = complete(&env, path, &up, None).await;
    assert_eq!(error_code(r, 404).await, "NoSuchUpload");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_a_dropped_connection() {
    let env = Env::start().await;
    let path = "/o/alice/resumable";
    let up = create_upload(&env, "alice", path).await;
    let p1 = data(300_000, 11);
    assert_eq!(part(&env, path, &up, 1, p1.clone()).await.status(), 200);

    // Part 2 is cut off after 5 MiB: the client sees an error...
    let sent: Vec<Vec<u8>> = (0..5).map(|i| data(1 << 20, 20 + i)).collect();
    let r = env
        .req(
            Method::PUT,
            "alice",
            &format!("{path}?uploadId={up}&partNumber=2"),
        )
        .body(stream_body(sent, true))
        .send()
        .await;
    assert!(r.is_err() || !r.unwrap().status().is_success());
    // ...and the server keeps nothing of it.
    let files = settled_files(&env).await;
    assert!(
        !files.iter().any(|(n, _)| n.ends_with("part-00002")),
        "{files:?}"
    );
    assert_eq!(parts(&env, path, &up).await, [(1, 300_000)]);

    // The client resumes: it re-sends part 2, and replaces part 1.
    let p2 = data(6 << 20, 30);
    let p1b = data(200_000, 12);
    assert_eq!(part(&env, path, &up, 2, p2.clone()).await.status(), 200);
    assert_eq!(part(&env, path, &up, 1, p1b.clone()).await.status(), 200);
    assert_eq!(parts(&env, path, &up).await, [(1, 200_000), (2, 6 << 20)]);
    let r = complete(&env, path, &up, None).await;
    assert_eq!(body_json(r).await["size"], 200_000 + (6 << 20));
    let got = env.get("alice", path).await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), [p1b, p2].concat().as_slice());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaps_abort_and_bad_ids() {
    let env = Env::start().await;
    let path = "/o/alice/g";
    let up = create_upload(&env, "alice", path).await;
    let r = complete(&env, path, &up, None).await;
    assert_eq!(error_code(r, 400).await, "InvalidPart");
    part(&env, path, &up, 1, b"one".to_vec()).await;
    part(&env, path, &up, 3, b"three".to_vec()).await;
    let r = complete(&env, path, &up, None).await;
    assert_eq!(error_code(r, 400).await, "InvalidPart");
    // Empty parts are refused, declared or streamed.
    let r = part(&env, path, &up, 2, Vec::new()).await;
    assert_eq!(error_code(r, 400).await, "InvalidArgument");
    let r = env
        .put(
            "alice",
            &format!("{path}?uploadId={up}&partNumber=2"),
            stream_body(vec![], false),
        )
        .await;
    assert_eq!(error_code(r, 400).await, "InvalidArgument");
    assert_eq!(
        settled_files(&env)
            .await
            .iter()
            .filter(|(n, _)| n.contains("part-"))
            .count(),
        2
    );
    for n in ["0", "10001", "x"] {
        let r = env
            .put(
                "alice",
                &format!("{path}?uploadId={up}&partNumber={n}"),
                b"x".to_vec(),
            )
            .await;
        assert_eq!(error_code(r, 400).await, "InvalidArgument", "{n}");
    }
    // The upload belongs to one object id; and unknown ids are refused.
    let r = part(&env, "/o/alice/other", &up, 1, b"x".to_vec()).await;
    assert_eq!(error_code(r, 404).await, "NoSuchUpload");
    for bad in ["0123456789abcdef0123456789abcdef", "..", "zz"] {
        let r = part(&env, path, bad, 1, b"x".to_vec()).await;
        assert_eq!(error_code(r, 404).await, "NoSuchUpload", "{bad}");
    }
    let r = env
        .req(Method::DELETE, "alice", &format!("{path}?uploadId={up}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(env.files().iter().all(|(n, _)| !n.starts_with("mpu/")));
    let r = part(&env, path, &up, 2, b"two".to_vec()).await;
    assert_eq!(error_code(r, 404).await, "NoSuchUpload");
    let r = env
        .req(Method::DELETE, "alice", &format!("{path}?uploadId={up}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 404).await, "NoSuchUpload");
    let v = body_json(env.get("alice", "/o/alice?uploads").await).await;
    assert_eq!(v["uploads"].as_array().unwrap().len(), 0);
    env.stop().await;
}
