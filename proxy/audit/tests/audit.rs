use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kms_proxy_audit::*;

fn event(i: usize, key: &str) -> Event {
    Event {
        event_time: rfc3339(1_800_000_000 + i as i64, 0),
        event_name: if i % 2 == 0 {
            "GenerateDataKey"
        } else {
            "Decrypt"
        }
        .into(),
        principal: format!("arn:aws:iam::111122223333:user/u{}", i % 3),
        auth_method: "jwt".into(),
        source_ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        request_id: format!("req-{i}"),
        key_arn: Some(key.into()),
        key_version: Some(1),
        resources: vec![],
        allowed: true,
        decided_by: Some("key policy/OwnData".into()),
        error_code: None,
        encryption_context: ContextHasher::new(b"k")
            .hash_context(&[("owner".to_string(), "alice".to_string())].into()),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn write_n(log: &AuditLog, n: usize, key: &str) {
    rt().block_on(async {
        for i in 0..n {
            log.append(event(i, key)).await.unwrap();
        }
    });
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn put_lines(p: &Path, l: &[String]) {
    std::fs::write(p, l.iter().map(|x| format!("{x}\n")).collect::<String>()).unwrap();
}

fn only_segment(dir: &Path) -> PathBuf {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v.pop().unwrap()
}

#[test]
fn concurrent_appends_form_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open(dir.path()).unwrap());
    let seqs = rt().block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = Vec::new();
                for i in 0..200 {
                    s.push(log.append(event(t * 1000 + i, "k")).await.unwrap());
                }
                s
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=1600).collect::<Vec<u64>>());
    let report = verify(
        &[dir.path().to_path_buf()],
        Some((log.head().0, &log.head().1)),
    )
    .unwrap();
    assert_eq!(report.records, 1600);
}

#[test]
fn every_kind_of_tampering_is_caught_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    write_n(&log, 10, "k");
    let head = log.head();
    drop(log);
    let seg = only_segment(dir.path());
    let orig = lines(&seg);
    let check = |l: Vec<String>, seq: u64, what: &str| {
        put_lines(&seg, &l);
        let e = verify(&[dir.path().to_path_buf()], Some((head.0, &head.1))).unwrap_err();
        assert_eq!(e.expected_seq, seq, "{what}: {e}");
        put_lines(&seg, &orig);
    };
    // Line 0 is the segment header; line i holds record i.
    let mut edited = orig.clone();
    edited[5] = edited[5].replace("\"allowed\":true", "\"allowed\":false");
    assert_ne!(edited[5], orig[5]);
    check(edited, 5, "edit");
    let mut deleted = orig.clone();
    deleted.remove(5);
    check(deleted, 5, "deletion");
    let mut inserted = orig.clone();
    inserted.insert(4, orig[3].clone());
    check(inserted, 4, "insertion");
    let mut reordered = orig.clone();
    reordered.swap(7, 8);
    check(reordered, 7, "reordering");
    let mut rehashed = orig.clone();
    // An edit that also recomputes its own hash still breaks the next link.
    let mut r: Record = serde_json::from_str(&rehashed[3]).unwrap();
    r.event.principal = "someone-else".into();
    r.hash = record_hash(r.seq, &r.prev, &r.event);
    rehashed[3] = serde_json::to_string(&r).unwrap();
    check(rehashed, 4, "edit with a recomputed hash");
    let mut header = orig.clone();
    header[0] = header[0].replace("\"seq\":1", "\"seq\":2");
    check(header, 1, "a changed segment header");
    let mut cut = orig.clone();
    cut.truncate(9);
    check(cut, 9, "truncated tail against the recorded head");
    assert!(verify(&[dir.path().to_path_buf()], Some((head.0, &head.1))).is_ok());
}

#[test]
fn segments_rotate_archive_and_verify_across_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let rt = rt();
    let mut closed = Vec::new();
    for round in 0..3 {
        rt.block_on(async {
            for i in 0..5 {
                log.append(event(round * 10 + i, "k")).await.unwrap();
            }
            closed.push(log.rotate().await.unwrap());
        });
    }
    rt.block_on(async { log.append(event(99, "k")).await.unwrap() });
    for c in &closed[..2] {
        std::fs::rename(c, archive.path().join(c.file_name().unwrap())).unwrap();
    }
    let both = [dir.path().to_path_buf(), archive.path().to_path_buf()];
    let rep = verify(&both, None).unwrap();
    assert_eq!((rep.records, rep.segments), (16, 4));
    // Without the archive the chain has a hole at the start.
    let e = verify(&[dir.path().to_path_buf()], None).unwrap_err();
    assert_eq!(e.expected_seq, 1);
    // The active segment carries on the chain even though its predecessors
    // were archived: reopening continues from its header.
    drop(log);
    let log = AuditLog::open(dir.path()).unwrap();
    assert_eq!(log.head().0, 16);
    drop(log);
    // A missing middle segment is named.
    let middle = archive.path().join(closed[1].file_name().unwrap());
    std::fs::remove_file(&middle).unwrap();
    let e = verify(&both, None).unwrap_err();
    assert_eq!(e.expected_seq, 6, "{e}");
}

#[test]
fn a_torn_tail_is_dropped_and_the_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    write_n(&log, 3, "k");
    drop(log);
    let seg = only_segment(dir.path());
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(b"{\"seq\":4,\"prev\":\"ab")
        .unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    assert_eq!(log.head().0, 3);
    write_n(&log, 2, "k");
    assert_eq!(
        verify(&[dir.path().to_path_buf()], None).unwrap().records,
        5
    );
    drop(log);
    // A complete line that is not a record is never silently dropped.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(b"garbage\n")
        .unwrap();
    assert!(AuditLog::open(dir.path()).is_err());
    assert_eq!(
        lines(&seg).len(),
        7,
        "header, five records and the bad line"
    );
}

#[test]
fn lookup_filters_and_pages_and_last_usage() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    write_n(&log, 30, "key-a");
    rt().block_on(async {
        let mut e = event(100, "key-b");
        e.error_code = Some("AccessDeniedException".into());
        e.allowed = false;
        log.append(e).await.unwrap();
    });
    let q = Query {
        key_arn: Some("key-a".into()),
        event_name: Some("Decrypt".into()),
        max_results: 4,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = log
            .lookup(
                &Query {
                    before_seq: token,
                    ..q.clone()
                },
                &[],
            )
            .unwrap();
        assert!(page.len() <= 4);
        seen.extend(page.iter().map(|r| r.seq));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let want: Vec<u64> = (1..=30u64).rev().filter(|s| (s - 1) % 2 == 1).collect();
    assert_eq!(seen, want);
    let (p, _) = log
        .lookup(
            &Query {
                principal: Some("arn:aws:iam::111122223333:user/u0".into()),
                start_time: Some(rfc3339(1_800_000_010, 0)),
                max_results: 100,
                ..Default::default()
            },
            &[],
        )
        .unwrap();
    assert!(p
        .iter()
        .all(|r| r.event.principal.ends_with("/u0")
            && r.event.event_time >= rfc3339(1_800_000_010, 0)));
    assert_eq!(p.len(), (10..30).filter(|i| i % 3 == 0).count());
    assert_eq!(log.key_last_usage("key-a").unwrap().1, "Decrypt");
    assert_eq!(
        log.key_last_usage("key-b"),
        None,
        "a denied call is not a use"
    );
}

#[test]
fn announced_events_are_gathered_and_a_held_announcement_delays_but_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open(dir.path()).unwrap());
    // An announcement that is never followed by an event (a request that
    // hangs): commits wait for it at most once per batch.
    let held = log.announce();
    let started = std::time::Instant::now();
    let seqs = rt().block_on(async {
        let mut tasks = Vec::new();
        // 32 at a time, so that batches reach the size that gathers.
        for t in 0..32 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = Vec::new();
                for i in 0..10 {
                    let a = log.announce();
                    let e = SerializedEvent::new(&event(t * 1000 + i, "k"));
                    drop(a);
                    s.push(log.append_serialized(e).await.unwrap());
                }
                s
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    // At most 320 batches, each waiting 300 µs at most once.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    drop(held);
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=320).collect::<Vec<u64>>());
    let report = verify(
        &[dir.path().to_path_buf()],
        Some((log.head().0, &log.head().1)),
    )
    .unwrap();
    assert_eq!(report.records, 320);
    // The lines are the records as serde writes them.
    for l in lines(&only_segment(dir.path())).iter().skip(1) {
        let r: Record = serde_json::from_str(l).unwrap();
        assert_eq!(&serde_json::to_string(&r).unwrap(), l);
    }
}
