//! PUT, GET, HEAD, DELETE, LIST, names, health, CORS.

use std::io::{Read, Write};

use reqwest::Method;

use crate::common::*;

/// A request written by hand, path untouched; returns status and body.
fn raw_request(env: &Env, method: &str, path: &str, token: &str) -> (u16, String) {
    let addr = env.url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 1\r\nConnection: close\r\n\r\nx"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_head_delete() {
    let env = Env::start().await;
    let body = data(1 << 20, 1);
    let r = env.put("alice", "/o/alice/file-1", body.clone()).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let v = body_json(r).await;
    assert_eq!(v["size"], 1 << 20);
    assert_eq!(v["etag"], etag.as_str());

    let r = env.get("alice", "/o/alice/file-1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert_eq!(r.headers()["content-length"], "1048576");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert!(r.headers().contains_key("last-modified"));
    assert_eq!(&r.bytes().await.unwrap()[..], &body[..]);

    let r = env
        .req(Method::HEAD, "alice", "/o/alice/file-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "1048576");
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert!(r.bytes().await.unwrap().is_empty());

    // The bytes on disk are exactly the body.
    let on_disk = std::fs::read(env.data.join("obj/alice/file-1")).unwrap();
    assert_eq!(on_disk, body);

    let r = env
        .req(Method::DELETE, "alice", "/o/alice/file-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = env.get("alice", "/o/alice/file-1").await;
    assert_eq!(error_code(r, 404).await, "NoSuchKey");
    let r = env
        .req(Method::HEAD, "alice", "/o/alice/file-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = env
        .req(Method::DELETE, "alice", "/o/alice/file-1")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 404).await, "NoSuchKey");
    assert!(env.files().iter().all(|(n, _)| !n.starts_with("obj/")));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_empty_and_streamed_bodies() {
    let env = Env::start().await;
    let r = env.put("alice", "/o/alice/x", b"first".to_vec()).await;
    let e1 = body_json(r).await["etag"].clone();
    let r = env.put("alice", "/o/alice/x", b"second!".to_vec()).await;
    let e2 = body_json(r).await["etag"].clone();
    assert_ne!(e1, e2);
    let r = env.get("alice", "/o/alice/x").await;
    assert_eq!(&r.bytes().await.unwrap()[..], b"second!");

    // An empty object.
    let r = env.put("alice", "/o/alice/empty", Vec::new()).await;
    assert_eq!(body_json(r).await["size"], 0);
    let r = env.get("alice", "/o/alice/empty").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "0");
    assert!(r.bytes().await.unwrap().is_empty());

    // A chunked body of unknown length, larger than one write chunk.
    let chunks: Vec<Vec<u8>> = (0..9).map(|i| data(1 << 20, 100 + i)).collect();
    let whole: Vec<u8> = chunks.concat();
    let r = env
        .put("alice", "/o/alice/streamed", stream_body(chunks, false))
        .await;
    assert_eq!(body_json(r).await["size"], 9 << 20);
    let r = env.get("alice", "/o/alice/streamed").await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[..]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_prefix_and_pagination() {
    let env = Env::start().await;
    let ids = ["a1", "a2", "a3", "a4", "a5", "b1", "B0", "a-0"];
    for (i, id) in ids.iter().enumerate() {
        env.put("alice", &format!("/o/alice/{id}"), vec![b'x'; i + 1])
            .await;
    }
    env.put("bob", "/o/bob/a9", b"bob's".to_vec()).await;
    let list = |q: &'static str| {
        let env = &env;
        async move {
            let v = body_json(env.get("alice", &format!("/o/alice{q}")).await).await;
            let ids: Vec<String> = v["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect();
            (ids, v)
        }
    };
    let (all, v) = list("").await;
    assert_eq!(all, ["B0", "a-0", "a1", "a2", "a3", "a4", "a5", "b1"]);
    assert_eq!(v["isTruncated"], false);
    assert!(v["nextAfter"].is_null());
    assert_eq!(v["objects"][2]["size"], 1);
    assert!(v["objects"][2]["etag"].as_str().unwrap().starts_with('"'));

    // Page through with limit=3.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let v = body_json(
            env.get("alice", &format!("/o/alice?prefix=a&limit=3&after={after}"))
                .await,
        )
        .await;
        let page: Vec<String> = v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        assert!(page.len() <= 3);
        seen.extend(page);
        if v["isTruncated"] == false {
            break;
        }
        after = v["nextAfter"].as_str().unwrap().to_string();
    }
    assert_eq!(seen, ["a-0", "a1", "a2", "a3", "a4", "a5"]);
    let (ids, _) = list("/?after=a4").await;
    assert_eq!(ids, ["a5", "b1"]);
    let r = env.get("alice", "/o/alice?limit=0").await;
    assert_eq!(error_code(r, 400).await, "InvalidArgument");
    let r = env.get("alice", "/o/alice?limit=x").await;
    assert_eq!(error_code(r, 400).await, "InvalidArgument");
    // An owner with nothing yet.
    let v = body_json(env.get("carol", "/o/carol").await).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_routes_and_methods() {
    let env = Env::start().await;
    // Clients normalise "." and ".." away; send them raw.
    for bad in ["%2E%2E", "%2e", ".."] {
        let (status, body) =
            raw_request(&env, "PUT", &format!("/o/alice/{bad}"), &env.token("alice"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("\"InvalidName\""), "{body}");
    }
    for bad in ["a%20b", "a%2Fb", "caf%C3%A9"] {
        let r = env
            .put("alice", &format!("/o/alice/{bad}"), b"x".to_vec())
            .await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(r, 400).await, "InvalidName", "{bad}");
    }
    let long = "x".repeat(201);
    let r = env
        .put("alice", &format!("/o/alice/{long}"), b"x".to_vec())
        .await;
    assert_eq!(error_code(r, 400).await, "InvalidName");
    let ok = "y".repeat(200);
    let r = env
        .put("alice", &format!("/o/alice/{ok}"), b"x".to_vec())
        .await;
    assert_eq!(r.status(), 200);
    let r = env
        .put("alice", "/o/alice/.hidden...x", b"x".to_vec())
        .await;
    assert_eq!(r.status(), 200);

    let r = env
        .client
        .get(format!("{}/health", env.url))
        .send()
        .await
        .unwrap();
    assert_eq!(body_json(r).await["status"], "ok");
    let r = env.get("alice", "/nope").await;
    assert_eq!(error_code(r, 404).await, "NotFound");
    let r = env
        .req(Method::PATCH, "alice", "/o/alice/x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 405).await, "MethodNotAllowed");
    let r = env
        .req(Method::POST, "alice", "/o/alice/x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 400).await, "InvalidArgument");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allow_list() {
    let env = Env::start().await;
    env.put("alice", "/o/alice/c", b"0123456789".to_vec()).await;
    let pre = |origin: &'static str| {
        env.client
            .request(Method::OPTIONS, format!("{}/o/alice/c", env.url))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "authorization, range")
            .send()
    };
    let r = pre(ORIGIN).await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    for m in ["GET", "PUT", "POST", "DELETE", "HEAD"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("range"));
    let r = pre("http://evil.test").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("access-control-allow-origin"));

    let r = env
        .req(Method::GET, "alice", "/o/alice/c")
        .header("origin", ORIGIN)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in ["etag", "content-range", "content-length"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    let r = env
        .req(Method::GET, "alice", "/o/alice/c")
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    env.stop().await;
}
