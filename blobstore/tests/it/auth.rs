//! Bearer tokens: missing, malformed, expired, wrong audience or issuer,
//! not yet valid, another key, a subject that cannot own objects.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked() {
    let env = Env::start().await;
    env.put("alice", "/o/alice/x", b"data".to_vec()).await;
    let url = format!("{}/o/alice/x", env.url);

    let r = env.client.get(&url).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(r, 401).await, "MissingToken");
    let r = env
        .client
        .get(&url)
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 401).await, "MissingToken");

    let base = json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600});
    let with = |k: &str, v: serde_json::Value| {
        let mut c = base.clone();
        c[k] = v;
        env.token_with(c)
    };
    let other_key = kms_blobstore::jwt::generate_key().unwrap();
    let cases = [
        ("expired", with("exp", json!(now() - 3600)), "ExpiredToken"),
        (
            "wrong audience",
            with("aud", json!("kms-proxy")),
            "InvalidToken",
        ),
        (
            "audience list without ours",
            with("aud", json!(["a", "b"])),
            "InvalidToken",
        ),
        ("wrong issuer", with("iss", json!("evil")), "InvalidToken"),
        (
            "not yet valid",
            with("nbf", json!(now() + 3600)),
            "InvalidToken",
        ),
        (
            "no exp",
            {
                let mut c = base.clone();
                c.as_object_mut().unwrap().remove("exp");
                env.token_with(c)
            },
            "InvalidToken",
        ),
        (
            "other key",
            kms_blobstore::jwt::sign(&other_key, &base),
            "InvalidToken",
        ),
        ("garbage", "not.a.token".to_string(), "InvalidToken"),
    ];
    for (what, token, code) in cases {
        let r = env
            .client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
        assert_eq!(error_code(r, 401).await, code, "{what}");
        // Writes are refused alike, and nothing is written.
        let r = env
            .client
            .put(format!("{}/o/alice/y", env.url))
            .bearer_auth(&token)
            .body("z")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{what}");
    }
    assert_eq!(env.get("alice", "/o/alice/y").await.status(), 404);
    // Within the leeway (5 s here) a just-expired token still works.
    let r = env
        .client
        .get(&url)
        .bearer_auth(with("exp", json!(now() - 2)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // An audience list that includes ours is accepted.
    let r = env
        .client
        .get(&url)
        .bearer_auth(with("aud", json!(["kms-proxy", AUDIENCE])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A subject that is not a valid owner name.
    let r = env
        .client
        .get(&url)
        .bearer_auth(with("sub", json!("alice/x")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 403).await, "AccessDenied");
    let r = env
        .req(Method::GET, "alice", "/o/alice/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    env.stop().await;
}
