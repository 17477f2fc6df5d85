//! Owners, readers and sharing.

use reqwest::Method;

use crate::common::*;

async fn status(env: &Env, m: Method, user: &str, path: &str) -> (u16, String) {
    let head = m == Method::HEAD;
    let r = env.req(m, user, path).body("x").send().await.unwrap();
    let s = r.status().as_u16();
    let code = if s >= 400 && !head {
        error_code(r, s).await
    } else {
        String::new()
    };
    (s, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_else_reads_or_writes_until_shared() {
    let env = Env::start().await;
    let secret = data(4096, 5);
    env.put("alice", "/o/alice/doc", secret.clone()).await;
    let denied = (403, "AccessDenied".to_string());
    for (m, path) in [
        (Method::GET, "/o/alice/doc"),
        (Method::HEAD, "/o/alice/doc"),
        (Method::PUT, "/o/alice/doc"),
        (Method::DELETE, "/o/alice/doc"),
        (Method::GET, "/o/alice"),
        (Method::GET, "/o/alice?uploads"),
        (Method::POST, "/o/alice/doc?uploads"),
        (Method::POST, "/o/alice/doc?share=bob"),
        (Method::DELETE, "/o/alice/doc?share=bob"),
        (Method::GET, "/o/alice/doc?acl"),
        // Whether an object exists is not revealed either.
        (Method::GET, "/o/alice/missing"),
    ] {
        let (s, code) = status(&env, m.clone(), "bob", path).await;
        if m == Method::HEAD {
            assert_eq!(s, 403, "{m} {path}");
        } else {
            assert_eq!((s, code), denied, "{m} {path}");
        }
    }
    // Alice's data is untouched.
    let got = env
        .get("alice", "/o/alice/doc")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), secret.as_slice());

    // Bob's multipart upload id does not open alice's namespace either.
    let r = env
        .req(Method::POST, "bob", "/o/bob/doc?uploads")
        .send()
        .await
        .unwrap();
    let up = body_json(r).await["uploadId"].as_str().unwrap().to_string();
    let (s, code) = status(
        &env,
        Method::PUT,
        "bob",
        &format!("/o/alice/doc?uploadId={up}&partNumber=1"),
    )
    .await;
    assert_eq!((s, code.as_str()), (403, "AccessDenied"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_and_unshare() {
    let env = Env::start().await;
    let secret = data(10_000, 6);
    env.put("alice", "/o/alice/doc", secret.clone()).await;
    let r = env
        .req(Method::POST, "alice", "/o/alice/doc?share=bob")
        .send()
        .await
        .unwrap();
    assert_eq!(body_json(r).await["readers"], serde_json::json!(["bob"]));
    // Sharing twice is idempotent; the ACL is a sidecar object.
    env.req(Method::POST, "alice", "/o/alice/doc?share=bob")
        .send()
        .await
        .unwrap();
    let acl: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.data.join("acl/alice/doc")).unwrap()).unwrap();
    assert_eq!(acl["readers"], serde_json::json!(["bob"]));
    let v = body_json(env.get("alice", "/o/alice/doc?acl").await).await;
    assert_eq!(v["readers"], serde_json::json!(["bob"]));

    // Bob reads (whole, ranged, HEAD) and finds it under /shared.
    let got = env.get("bob", "/o/alice/doc").await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), secret.as_slice());
    let r = env
        .req(Method::GET, "bob", "/o/alice/doc")
        .header("range", "bytes=-100")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &secret[9900..]);
    assert_eq!(
        status(&env, Method::HEAD, "bob", "/o/alice/doc").await.0,
        200
    );
    let v = body_json(env.get("bob", "/shared").await).await;
    assert_eq!(v["objects"][0]["owner"], "alice");
    assert_eq!(v["objects"][0]["id"], "doc");
    assert_eq!(v["objects"][0]["size"], 10_000);
    // ...but cannot write, delete, reshare or list.
    for (m, p) in [
        (Method::PUT, "/o/alice/doc"),
        (Method::DELETE, "/o/alice/doc"),
        (Method::POST, "/o/alice/doc?share=carol"),
        (Method::GET, "/o/alice"),
    ] {
        assert_eq!(status(&env, m, "bob", p).await.0, 403, "{p}");
    }
    // Carol still cannot read.
    assert_eq!(
        status(&env, Method::GET, "carol", "/o/alice/doc").await.0,
        403
    );
    let v = body_json(env.get("carol", "/shared").await).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 0);

    // Unshare.
    let r = env
        .req(Method::DELETE, "alice", "/o/alice/doc?share=bob")
        .send()
        .await
        .unwrap();
    assert_eq!(body_json(r).await["readers"], serde_json::json!([]));
    assert_eq!(
        status(&env, Method::GET, "bob", "/o/alice/doc").await.0,
        403
    );
    let v = body_json(env.get("bob", "/shared").await).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 0);

    // Sharing a missing object, with oneself, or with a bad name.
    let (s, c) = status(&env, Method::POST, "alice", "/o/alice/missing?share=bob").await;
    assert_eq!((s, c.as_str()), (404, "NoSuchKey"));
    let (s, c) = status(&env, Method::POST, "alice", "/o/alice/doc?share=alice").await;
    assert_eq!((s, c.as_str()), (400, "InvalidArgument"));
    let (s, c) = status(&env, Method::POST, "alice", "/o/alice/doc?share=b%2Fob").await;
    assert_eq!((s, c.as_str()), (400, "InvalidName"));

    // Deleting an object drops its ACL: a new object of the same id is private.
    env.req(Method::POST, "alice", "/o/alice/doc?share=bob")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(&env, Method::DELETE, "alice", "/o/alice/doc")
            .await
            .0,
        204
    );
    assert!(!env.data.join("acl/alice/doc").exists());
    env.put("alice", "/o/alice/doc", b"new".to_vec()).await;
    assert_eq!(
        status(&env, Method::GET, "bob", "/o/alice/doc").await.0,
        403
    );
    let v = body_json(env.get("bob", "/shared").await).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 0);
    env.stop().await;
}
