//! Range reads: the three forms, clamping, 416, ignored headers,
//! If-Range and If-Match.

use reqwest::Method;

use crate::common::*;

async fn ranged(env: &Env, path: &str, range: &str) -> reqwest::Response {
    env.req(Method::GET, "alice", path)
        .header("range", range)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_forms_and_edges() {
    let env = Env::start().await;
    let body = data(1000, 7);
    env.put("alice", "/o/alice/r", body.clone()).await;
    let cases: &[(&str, usize, usize)] = &[
        ("bytes=0-99", 0, 100),
        ("bytes=990-", 990, 1000),
        ("bytes=-10", 990, 1000),
        ("bytes=-5000", 0, 1000),
        ("bytes=995-2000", 995, 1000),
        ("bytes=999-999", 999, 1000),
        ("bytes=0-0", 0, 1),
        ("bytes= 10-19", 10, 20),
    ];
    for (h, a, b) in cases {
        let r = ranged(&env, "/o/alice/r", h).await;
        assert_eq!(r.status(), 206, "{h}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {a}-{}/1000", b - 1).as_str(),
            "{h}"
        );
        assert_eq!(r.headers()["content-length"], (b - a).to_string().as_str());
        assert_eq!(&r.bytes().await.unwrap()[..], &body[*a..*b], "{h}");
    }
    for h in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
        let r = ranged(&env, "/o/alice/r", h).await;
        assert_eq!(r.headers()["content-range"], "bytes */1000", "{h}");
        assert_eq!(error_code(r, 416).await, "InvalidRange", "{h}");
    }
    // Invalid syntax, another unit, several ranges: the whole object.
    for h in [
        "bytes=5-1",
        "bytes=x-y",
        "items=0-5",
        "bytes=0-1,5-6",
        "bytes=-",
    ] {
        let r = ranged(&env, "/o/alice/r", h).await;
        assert_eq!(r.status(), 200, "{h}");
        assert!(!r.headers().contains_key("content-range"));
        assert_eq!(&r.bytes().await.unwrap()[..], &body[..], "{h}");
    }
    // An empty object has no satisfiable range.
    env.put("alice", "/o/alice/empty", Vec::new()).await;
    for h in ["bytes=0-", "bytes=-1", "bytes=0-0"] {
        let r = ranged(&env, "/o/alice/empty", h).await;
        assert_eq!(r.headers()["content-range"], "bytes */0");
        assert_eq!(error_code(r, 416).await, "InvalidRange");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_reads() {
    let env = Env::start().await;
    let body = data(500, 8);
    let r = env.put("alice", "/o/alice/c", body.clone()).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    // If-Range with the current ETag: the range; with a stale one: everything.
    let r = env
        .req(Method::GET, "alice", "/o/alice/c")
        .header("range", "bytes=100-199")
        .header("if-range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], &body[100..200]);
    let r = env
        .req(Method::GET, "alice", "/o/alice/c")
        .header("range", "bytes=100-199")
        .header("if-range", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 500);
    // If-Match: a resumed download of a replaced object is refused.
    let r = env
        .req(Method::GET, "alice", "/o/alice/c")
        .header("range", "bytes=250-")
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    env.put("alice", "/o/alice/c", data(600, 9)).await;
    let r = env
        .req(Method::GET, "alice", "/o/alice/c")
        .header("range", "bytes=250-")
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 412).await, "PreconditionFailed");
    let r = env
        .req(Method::GET, "alice", "/o/alice/c")
        .header("if-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    env.stop().await;
}
