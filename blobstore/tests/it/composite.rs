//! Composite objects (completed multipart uploads kept as their parts):
//! reads, ranges and conditions across parts, listing, replacement in every
//! direction with the old files gone and usage right, deletion, the start-up
//! sweep, and completion without a copy.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

const QUOTA: u64 = 100_000;

async fn quota_env() -> Env {
    Env::start_with(|c| c.limits.quota_bytes = QUOTA).await
}

/// Upload `parts` as `alice/id` without completing; the upload id.
async fn upload_parts(env: &Env, id: &str, parts: &[Vec<u8>]) -> String {
    let path = format!("/o/alice/{id}");
    let up = create_upload(env, "alice", &path).await;
    for (i, p) in parts.iter().enumerate() {
        let r = env
            .put(
                "alice",
                &format!("{path}?uploadId={up}&partNumber={}", i + 1),
                p.clone(),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    up
}

async fn complete(env: &Env, id: &str, up: &str) -> Value {
    let r = env
        .req(
            Method::POST,
            "alice",
            &format!("/o/alice/{id}?uploadId={up}&complete"),
        )
        .send()
        .await
        .unwrap();
    let header = r.headers()["etag"].to_str().unwrap().to_string();
    let v = body_json(r).await;
    assert_eq!(v["etag"].as_str(), Some(header.as_str()));
    v
}

/// A composite `alice/id` made of `parts`; its upload id.
async fn composite(env: &Env, id: &str, parts: &[Vec<u8>]) -> String {
    let up = upload_parts(env, id, parts).await;
    let v = complete(env, id, &up).await;
    assert_eq!(v["size"], parts.iter().map(Vec::len).sum::<usize>());
    assert_eq!(v["etag"], format!("\"m-{up}\"").as_str());
    up
}

async fn ranged(env: &Env, user: &str, path: &str, range: &str) -> reqwest::Response {
    env.req(Method::GET, user, path)
        .header("range", range)
        .send()
        .await
        .unwrap()
}

/// Check alice's usage through the quota: `QUOTA - used` more bytes fit,
/// one more does not.
async fn assert_used(env: &Env, used: u64) {
    let room = (QUOTA - used) as usize;
    let r = env
        .put("alice", "/o/alice/zz-probe", vec![0u8; room + 1])
        .await;
    assert_eq!(error_code(r, 413).await, "QuotaExceeded", "used {used}");
    let r = env.put("alice", "/o/alice/zz-probe", vec![0u8; room]).await;
    assert_eq!(r.status(), 200, "used {used}");
    let r = env
        .req(Method::DELETE, "alice", "/o/alice/zz-probe")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// Alice's files under `top/` (relative names).
fn under(env: &Env, top: &str) -> Vec<String> {
    env.files()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with(top))
        .collect()
}

fn set_mtime(p: &Path, ago: Duration) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_across_parts() {
    let env = Env::start().await;
    // Parts 0..1000, 1000..1007, 1007..1008, 1008..1508.
    let parts = vec![data(1000, 1), data(7, 2), data(1, 3), data(500, 4)];
    let body = parts.concat();
    let up = composite(&env, "c", &parts).await;
    let etag = format!("\"m-{up}\"");

    let r = env.get("alice", "/o/alice/c").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert_eq!(r.headers()["content-length"], "1508");
    assert!(r.headers().contains_key("last-modified"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());
    let r = env
        .req(Method::HEAD, "alice", "/o/alice/c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert_eq!(r.headers()["content-length"], "1508");

    let cases: &[(&str, usize, usize)] = &[
        ("bytes=0-99", 0, 100),
        ("bytes=10-999", 10, 1000),
        ("bytes=999-1000", 999, 1001),
        ("bytes=1000-1006", 1000, 1007),
        ("bytes=1007-1007", 1007, 1008),
        ("bytes=995-1010", 995, 1011),
        ("bytes=1006-1008", 1006, 1009),
        ("bytes=1507-1507", 1507, 1508),
        ("bytes=1200-", 1200, 1508),
        ("bytes=-1", 1507, 1508),
        ("bytes=-505", 1003, 1508),
        ("bytes=-5000", 0, 1508),
        ("bytes=0-5000", 0, 1508),
    ];
    for (h, a, b) in cases {
        let r = ranged(&env, "alice", "/o/alice/c", h).await;
        assert_eq!(r.status(), 206, "{h}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {a}-{}/1508", b - 1).as_str(),
            "{h}"
        );
        assert_eq!(r.headers()["content-length"], (b - a).to_string().as_str());
        assert_eq!(&r.bytes().await.unwrap()[..], &body[*a..*b], "{h}");
    }
    let r = ranged(&env, "alice", "/o/alice/c", "bytes=1508-").await;
    assert_eq!(r.headers()["content-range"], "bytes */1508");
    assert_eq!(error_code(r, 416).await, "InvalidRange");

    // If-Match and If-Range, with the right and a wrong entity tag.
    let cond = |name: &'static str, value: String| {
        env.req(Method::GET, "alice", "/o/alice/c")
            .header("range", "bytes=990-1099")
            .header(name, value)
            .send()
    };
    let r = cond("if-match", etag.clone()).await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], &body[990..1100]);
    let r = cond("if-match", "\"m-0\"".into()).await.unwrap();
    assert_eq!(error_code(r, 412).await, "PreconditionFailed");
    let r = cond("if-range", etag.clone()).await.unwrap();
    assert_eq!(r.status(), 206);
    let r = cond("if-range", "\"stale\"".into()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());

    // Replaced: a resumed read with the old tag is refused.
    let v = complete(&env, "c", &upload_parts(&env, "c", &[data(9, 5)]).await).await;
    assert_ne!(v["etag"], etag.as_str());
    let r = cond("if-match", etag.clone()).await.unwrap();
    assert_eq!(error_code(r, 412).await, "PreconditionFailed");

    // Shared: the reader reads it, and sees it in /shared with its size.
    let r = env
        .req(Method::POST, "alice", "/o/alice/c?share=bob")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = ranged(&env, "bob", "/o/alice/c", "bytes=2-").await;
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], &data(9, 5)[2..]);
    let v = body_json(env.get("bob", "/shared").await).await;
    assert_eq!(v["objects"][0]["id"], "c");
    assert_eq!(v["objects"][0]["size"], 9);
    assert!(v["objects"][0]["etag"]
        .as_str()
        .unwrap()
        .starts_with("\"m-"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_with_plain_objects() {
    let env = Env::start().await;
    env.put("alice", "/o/alice/a1", data(10, 1)).await;
    env.put("alice", "/o/alice/b2", data(20, 2)).await;
    let a2 = composite(&env, "a2", &[data(300, 3), data(4, 4)]).await;
    composite(&env, "c1", &[data(5, 5)]).await;
    let e = &env;
    let list = |q: &'static str| async move {
        let v = body_json(e.get("alice", &format!("/o/alice{q}")).await).await;
        let items: Vec<(String, u64)> = v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["id"].as_str().unwrap().to_string(),
                    o["size"].as_u64().unwrap(),
                )
            })
            .collect();
        (items, v)
    };
    let own = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(i, s)| (i.to_string(), *s)).collect()
    };
    let (items, v) = list("").await;
    assert_eq!(
        items,
        own(&[("a1", 10), ("a2", 304), ("b2", 20), ("c1", 5)])
    );
    assert_eq!(v["objects"][1]["etag"], format!("\"m-{a2}\"").as_str());
    assert!(v["objects"][1]["lastModified"].is_string());
    assert_eq!(v["isTruncated"], false);
    let (items, _) = list("?prefix=a").await;
    assert_eq!(items, own(&[("a1", 10), ("a2", 304)]));
    let (items, _) = list("?after=a1").await;
    assert_eq!(items, own(&[("a2", 304), ("b2", 20), ("c1", 5)]));
    let (items, v) = list("?limit=2").await;
    assert_eq!(items, own(&[("a1", 10), ("a2", 304)]));
    assert_eq!(v["isTruncated"], true);
    assert_eq!(v["nextAfter"], "a2");
    let (items, v) = list("?after=a2&limit=2").await;
    assert_eq!(items, own(&[("b2", 20), ("c1", 5)]));
    assert_eq!(v["isTruncated"], false);
    let (items, v) = list("?prefix=c&limit=1").await;
    assert_eq!(items, own(&[("c1", 5)]));
    assert_eq!(v["isTruncated"], false);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_both_ways_and_deleted() {
    let mut env = quota_env().await;
    let u1 = composite(&env, "x", &[data(3000, 1), data(2000, 2)]).await;
    assert_eq!(under(&env, "cmp/"), ["cmp/alice/x"]);
    assert_eq!(
        under(&env, "cpt/"),
        [
            format!("cpt/alice/x/{u1}/part-00001"),
            format!("cpt/alice/x/{u1}/part-00002")
        ]
    );
    assert!(under(&env, "obj/").is_empty());
    assert!(under(&env, "mpu/").is_empty());
    assert_used(&env, 5000).await;

    // Composite replaced by plain.
    let plain = data(1234, 3);
    assert_eq!(
        env.put("alice", "/o/alice/x", plain.clone()).await.status(),
        200
    );
    assert_eq!(under(&env, "obj/"), ["obj/alice/x"]);
    assert!(under(&env, "cmp/").is_empty());
    assert!(under(&env, "cpt/").is_empty());
    let r = env.get("alice", "/o/alice/x").await;
    assert!(!r.headers()["etag"].to_str().unwrap().starts_with("\"m-"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), plain.as_slice());
    assert_used(&env, 1234).await;

    // Plain replaced by composite.
    let parts2 = vec![data(4000, 4), data(100, 5)];
    let u2 = composite(&env, "x", &parts2).await;
    assert!(under(&env, "obj/").is_empty());
    assert_eq!(under(&env, "cmp/"), ["cmp/alice/x"]);
    assert_eq!(under(&env, "cpt/").len(), 2);
    let r = env.get("alice", "/o/alice/x").await;
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        parts2.concat().as_slice()
    );
    assert_used(&env, 4100).await;

    // Composite replaced by composite.
    let parts3 = vec![data(700, 6)];
    let u3 = composite(&env, "x", &parts3).await;
    assert_ne!(u2, u3);
    assert_eq!(
        under(&env, "cpt/"),
        [format!("cpt/alice/x/{u3}/part-00001")]
    );
    assert_used(&env, 700).await;

    // A restart counts the composite's parts.
    env.restart(|_| {}).await;
    assert_used(&env, 700).await;
    let r = env.get("alice", "/o/alice/x").await;
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        parts3.concat().as_slice()
    );

    // DELETE removes the manifest and the parts.
    let del = || env.req(Method::DELETE, "alice", "/o/alice/x").send();
    assert_eq!(del().await.unwrap().status(), 204);
    assert!(under(&env, "cmp/").is_empty());
    assert!(under(&env, "cpt/").is_empty());
    assert_eq!(env.get("alice", "/o/alice/x").await.status(), 404);
    let r = env
        .req(Method::HEAD, "alice", "/o/alice/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(del().await.unwrap(), 404).await, "NoSuchKey");
    assert_used(&env, 0).await;
    env.restart(|_| {}).await;
    assert_used(&env, 0).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_moves_the_parts() {
    let env = Env::start().await;
    let parts = vec![data(200_000, 1), data(3, 2)];
    let up = upload_parts(&env, "m", &parts).await;
    let ino = |p: String| std::fs::metadata(env.data.join(p)).unwrap().ino();
    let before: Vec<u64> = (1..=2)
        .map(|n| ino(format!("mpu/alice/{up}/part-0000{n}")))
        .collect();
    complete(&env, "m", &up).await;
    let after: Vec<u64> = (1..=2)
        .map(|n| ino(format!("cpt/alice/m/{up}/part-0000{n}")))
        .collect();
    assert_eq!(before, after);
    assert!(under(&env, "mpu/").is_empty(), "{:?}", env.files());
    assert!(under(&env, "obj/").is_empty());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(env.data.join("cmp/alice/m")).unwrap()).unwrap();
    assert_eq!(manifest["v"], 1);
    assert_eq!(manifest["upload"], up.as_str());
    assert_eq!(manifest["size"], 200_003);
    assert_eq!(manifest["parts"], serde_json::json!([200_000, 3]));
    let r = env.get("alice", "/o/alice/m").await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), parts.concat().as_slice());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_sweep_removes_leftovers() {
    let mut env = quota_env().await;
    let keep = vec![data(100, 1), data(50, 2)];
    let uk = composite(&env, "keep", &keep).await;
    composite(&env, "pn", &[data(1000, 3)]).await;
    let cn = vec![data(2000, 4)];
    let ucn = composite(&env, "cn", &cn).await;
    let other = "0123456789abcdef0123456789abcdef";
    env.restart(|d: &Path| {
        let write = |rel: &str, bytes: &[u8]| {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        };
        // Moved parts with no manifest, and with a manifest naming another
        // upload (crashes before the manifest was written).
        write(&format!("cpt/alice/orphan/{other}/part-00001"), b"lost");
        write(&format!("cpt/alice/keep/{other}/part-00001"), b"lost too");
        // Both forms: the plain one newer (a plain PUT that replaced pn)...
        set_mtime(&d.join("cmp/alice/pn"), Duration::from_secs(3600));
        write("obj/alice/pn", b"plain wins");
        // ...and the composite newer (a completion that replaced cn).
        write("obj/alice/cn", b"plain loses");
        set_mtime(&d.join("obj/alice/cn"), Duration::from_secs(3600));
        // A completed upload whose record was not removed.
        let rec = format!("{{\"id\":\"keep\",\"created\":{}}}", now());
        write(&format!("mpu/alice/{uk}/upload.json"), rec.as_bytes());
    })
    .await;
    let mut names = under(&env, "c");
    names.sort();
    assert_eq!(
        names,
        [
            "cmp/alice/cn".to_string(),
            "cmp/alice/keep".to_string(),
            format!("cpt/alice/cn/{ucn}/part-00001"),
            format!("cpt/alice/keep/{uk}/part-00001"),
            format!("cpt/alice/keep/{uk}/part-00002"),
        ]
    );
    assert_eq!(under(&env, "obj/"), ["obj/alice/pn"]);
    assert!(under(&env, "mpu/").is_empty());
    let v = body_json(env.get("alice", "/o/alice?uploads").await).await;
    assert_eq!(v["uploads"].as_array().unwrap().len(), 0);
    let e = &env;
    let get = |id: &'static str| async move {
        let r = e.get("alice", &format!("/o/alice/{id}")).await;
        assert_eq!(r.status(), 200, "{id}");
        r.bytes().await.unwrap().to_vec()
    };
    assert_eq!(get("pn").await, b"plain wins");
    assert_eq!(get("cn").await, cn.concat());
    assert_eq!(get("keep").await, keep.concat());
    assert_used(&env, 150 + 10 + 2000).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_racing_replacements() {
    let env = Env::start().await;
    // Versions alternate plain and (one-part) composite; each has its own
    // size, so a listing's size names the version.
    let versions: Vec<Vec<u8>> = (0..24)
        .map(|i| data(3000 + i * 10, 100 + i as u64))
        .collect();
    env.put("alice", "/o/alice/r", versions[0].clone()).await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let writer = async {
        for (i, v) in versions.iter().enumerate().skip(1) {
            if i % 2 == 1 {
                composite(&env, "r", std::slice::from_ref(v)).await;
            } else {
                assert_eq!(
                    env.put("alice", "/o/alice/r", v.clone()).await.status(),
                    200
                );
            }
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = async {
        let (mut reads, mut changed) = (0, 0);
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let r = env.get("alice", "/o/alice/r").await;
            match r.status().as_u16() {
                200 => {
                    let b = r.bytes().await.unwrap();
                    assert!(versions.iter().any(|v| v[..] == b[..]), "a wrong body");
                    reads += 1;
                }
                // Replaced twice during one read: a documented answer.
                412 => changed += 1,
                s => panic!("GET answered {s}"),
            }
            let v = body_json(env.get("alice", "/o/alice").await).await;
            let size = v["objects"][0]["size"].as_u64().expect("listed");
            assert!(versions.iter().any(|v| v.len() as u64 == size));
        }
        (reads, changed)
    };
    let ((), (reads, changed)) = tokio::join!(writer, reader);
    assert!(reads > changed, "{reads} reads, {changed} refused");
    let got = env.get("alice", "/o/alice/r").await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), versions[23].as_slice());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_racing_completion_is_refused() {
    let env = quota_env().await;
    let parts = vec![data(1000, 1), data(2000, 2)];
    let up = upload_parts(&env, "p", &parts).await;
    // Part 3 is streaming (its staging file exists) when the upload is
    // completed.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let req = env
        .req(
            Method::PUT,
            "alice",
            &format!("/o/alice/p?uploadId={up}&partNumber=3"),
        )
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let part3 = tokio::spawn(req);
    tx.send(Ok(data(5000, 3).into())).await.unwrap();
    let staging = || {
        env.files()
            .iter()
            .any(|(n, _)| n.starts_with(&format!("mpu/alice/{up}/part-00003#")))
    };
    for _ in 0..500 {
        if staging() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(staging(), "{:?}", env.files());
    assert_eq!(complete(&env, "p", &up).await["size"], 3000);
    tx.send(Ok(data(5000, 4).into())).await.unwrap();
    drop(tx);
    let r = part3.await.unwrap().unwrap();
    assert_eq!(error_code(r, 404).await, "NoSuchUpload");
    let files = settled_files(&env).await;
    assert!(
        files.iter().all(|(n, _)| !n.starts_with("mpu/")),
        "{files:?}"
    );
    let got = env.get("alice", "/o/alice/p").await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), parts.concat().as_slice());
    assert_used(&env, 3000).await;
    env.stop().await;
}
