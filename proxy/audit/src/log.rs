//! The writer: group commit into the active segment, rotation, recovery and
//! queries.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::verify::{first_seq, segments};
use crate::{seal_into, Event, Record, SegmentHeader, SegmentStart, SerializedEvent, GENESIS};

/// Most events written by one group commit.
const MAX_BATCH: usize = 4096;

/// How long a commit waits for the events of requests still running (see
/// [`AuditLog::announce`]) before it writes. An `fdatasync` costs the
/// machine about 80 µs of CPU however many events it carries, so under load
/// gathering more events per batch saves more CPU than the wait costs; with
/// no request running, or a batch smaller than [`GATHER_FROM`] (light load,
/// where the wait would only add latency), nothing waits.
const GATHER: std::time::Duration = std::time::Duration::from_micros(300);

/// The smallest batch that waits [`GATHER`] for more.
const GATHER_FROM: usize = 16;

type Reply = oneshot::Sender<Result<u64, String>>;

enum Cmd {
    Append(SerializedEvent, Reply),
    Rotate(oneshot::Sender<Result<PathBuf, String>>),
}

struct Head {
    seq: u64,
    hash: String,
}

/// The last successful use of each key.
type Usage = HashMap<String, (String, String)>;

/// An open audit log.
pub struct AuditLog {
    dir: PathBuf,
    tx: mpsc::Sender<Cmd>,
    usage: Arc<Mutex<Usage>>,
    head: Arc<Mutex<(u64, String)>>,
    running: Arc<AtomicUsize>,
}

/// A request that will append an event (from [`AuditLog::announce`]); the
/// announcement ends when this is dropped, which must happen before the
/// event is appended.
#[derive(Debug)]
pub struct Announced(Arc<AtomicUsize>);

impl Drop for Announced {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("audit-{first:012}.jsonl"))
}

/// Read a segment, dropping a torn last line (a write that never completed,
/// so never acknowledged); any other damage is an error. Returns the last
/// record.
fn recover_segment(path: &Path) -> std::io::Result<(Option<Record>, Option<SegmentStart>)> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut good_len = 0u64;
    let mut last = None;
    let mut start = None;
    let mut reader = BufReader::new(&mut f);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') {
            // A torn tail: the write never completed, so it was never acknowledged.
            break;
        }
        if good_len == 0 {
            if let Ok(h) = serde_json::from_str::<SegmentHeader>(line.trim_end()) {
                start = Some(h.segment_start);
                good_len += n as u64;
                continue;
            }
        }
        match serde_json::from_str::<Record>(line.trim_end()) {
            Ok(r) => last = Some(r),
            Err(e) => {
                // A complete line that is not a record: never drop it; refuse
                // to extend a chain that is broken.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: a complete line is not an audit record ({e}); run `kms-proxy audit verify`",
                        path.display()
                    ),
                ));
            }
        }
        good_len += n as u64;
    }
    drop(reader);
    if f.metadata()?.len() != good_len {
        f.set_len(good_len)?;
        f.sync_all()?;
    }
    Ok((last, start))
}

/// Create a segment that starts with its header line, durably.
fn new_segment(dir: &Path, seq: u64, prev: &str) -> std::io::Result<File> {
    let path = segment_path(dir, seq);
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)?;
    let header = SegmentHeader {
        segment_start: SegmentStart {
            seq,
            prev: prev.to_string(),
        },
    };
    let mut line = serde_json::to_vec(&header).expect("headers serialise");
    line.push(b'\n');
    file.write_all(&line)?;
    file.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

impl AuditLog {
    /// Open (or create) the log in `dir`, recovering from a crash.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let files = segments(&[dir.to_path_buf()])?;
        let mut head = Head {
            seq: 0,
            hash: GENESIS.to_string(),
        };
        let mut usage = Usage::new();
        for f in &files {
            let (last, start) = recover_segment(f)?;
            for r in read_records(f)? {
                note_usage(&mut usage, &r);
            }
            if let Some(r) = last {
                head = Head {
                    seq: r.seq,
                    hash: r.hash,
                };
            } else if let Some(st) = start {
                head = Head {
                    seq: st.seq.saturating_sub(1),
                    hash: st.prev,
                };
            }
        }
        let file = match files.last() {
            Some(p) => OpenOptions::new().append(true).open(p)?,
            None => new_segment(dir, head.seq + 1, &head.hash)?,
        };
        let usage = Arc::new(Mutex::new(usage));
        let shared_head = Arc::new(Mutex::new((head.seq, head.hash.clone())));
        let (tx, rx) = mpsc::channel();
        let running = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            running: running.clone(),
            dir: dir.to_path_buf(),
            file,
            head,
            usage: usage.clone(),
            shared_head: shared_head.clone(),
            failed: None,
        };
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tx,
            usage,
            head: shared_head,
            running,
        })
    }

    /// Announce that a running request will append an event soon: while
    /// some are announced, a group commit waits briefly for them (at most
    /// once per batch, see `GATHER`). Drop the result before appending.
    pub fn announce(&self) -> Announced {
        self.running.fetch_add(1, Ordering::Relaxed);
        Announced(self.running.clone())
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn send(&self, cmd: Cmd) -> Result<(), String> {
        self.tx
            .send(cmd)
            .map_err(|_| "the audit writer stopped".to_string())
    }

    /// Append an event; resolves with its sequence number once it is durable.
    pub async fn append(&self, event: Event) -> Result<u64, String> {
        self.append_serialized(SerializedEvent::new(&event)).await
    }

    /// [`append`](Self::append) of an event serialised beforehand (so the
    /// caller's thread, not the writer, pays for it). The event is queued
    /// before the first await point.
    pub fn append_serialized(
        &self,
        event: SerializedEvent,
    ) -> impl std::future::Future<Output = Result<u64, String>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(Cmd::Append(event, tx));
        async move {
            sent?;
            rx.await
                .map_err(|_| "the audit writer stopped".to_string())?
        }
    }

    /// [`append`](Self::append) for a thread that is not async (it blocks
    /// until the event is durable). Must not be called on an async worker.
    pub fn append_blocking(&self, event: Event) -> Result<u64, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Append(SerializedEvent::new(&event), tx))?;
        rx.blocking_recv()
            .map_err(|_| "the audit writer stopped".to_string())?
    }

    /// Close the active segment and start a new one; returns the closed
    /// segment's path, which may then be archived.
    pub async fn rotate(&self) -> Result<PathBuf, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Rotate(tx))?;
        rx.await
            .map_err(|_| "the audit writer stopped".to_string())?
    }

    /// The sequence number and hash of the last durable record.
    pub fn head(&self) -> (u64, String) {
        self.head
            .lock()
            .map(|h| h.clone())
            .unwrap_or((0, GENESIS.into()))
    }

    /// When and by which operation a key was last used successfully.
    pub fn key_last_usage(&self, key_arn: &str) -> Option<(String, String)> {
        self.usage.lock().ok()?.get(key_arn).cloned()
    }

    /// Records matching `q`, newest first, from this log's directory and
    /// `archives`; `q.before_seq` continues a previous page.
    pub fn lookup(
        &self,
        q: &Query,
        archives: &[PathBuf],
    ) -> std::io::Result<(Vec<Record>, Option<u64>)> {
        let mut dirs = vec![self.dir.clone()];
        dirs.extend_from_slice(archives);
        let mut files = segments(&dirs)?;
        files.reverse();
        let mut out = Vec::new();
        let max = q.max_results.clamp(1, 1000);
        for f in files {
            if let (Some(first), Some(before)) = (first_seq(&f), q.before_seq) {
                if first >= before {
                    continue;
                }
            }
            let mut recs = read_records(&f)?;
            recs.reverse();
            for r in recs {
                if q.before_seq.is_some_and(|b| r.seq >= b) || !q.matches(&r) {
                    continue;
                }
                if out.len() == max {
                    let next = out.last().map(|l: &Record| l.seq);
                    return Ok((out, next));
                }
                out.push(r);
            }
        }
        Ok((out, None))
    }
}

/// A LookupEvents-style filter.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Only events on this key ARN.
    pub key_arn: Option<String>,
    /// Only events of this principal.
    pub principal: Option<String>,
    /// Only events of this operation.
    pub event_name: Option<String>,
    /// Only events at or after this RFC 3339 time.
    pub start_time: Option<String>,
    /// Only events before this RFC 3339 time.
    pub end_time: Option<String>,
    /// Page size (1–1000).
    pub max_results: usize,
    /// Continue below this sequence number (the previous page's token).
    pub before_seq: Option<u64>,
}

impl Query {
    fn matches(&self, r: &Record) -> bool {
        let e = &r.event;
        self.key_arn
            .as_ref()
            .is_none_or(|k| e.key_arn.as_ref() == Some(k))
            && self.principal.as_ref().is_none_or(|p| &e.principal == p)
            && self.event_name.as_ref().is_none_or(|n| &e.event_name == n)
            && self
                .start_time
                .as_ref()
                .is_none_or(|t| e.event_time.as_str() >= t.as_str())
            && self
                .end_time
                .as_ref()
                .is_none_or(|t| e.event_time.as_str() < t.as_str())
    }
}

fn read_records(path: &Path) -> std::io::Result<Vec<Record>> {
    let f = File::open(path)?;
    let mut out = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line?;
        if let Ok(r) = serde_json::from_str::<Record>(&line) {
            out.push(r);
        }
    }
    Ok(out)
}

fn note_usage(usage: &mut Usage, r: &Record) {
    if let (Some(k), true, None) = (&r.event.key_arn, r.event.allowed, &r.event.error_code) {
        usage.insert(
            k.clone(),
            (r.event.event_time.clone(), r.event.event_name.clone()),
        );
    }
}

struct Writer {
    running: Arc<AtomicUsize>,
    dir: PathBuf,
    file: File,
    head: Head,
    usage: Arc<Mutex<Usage>>,
    shared_head: Arc<Mutex<(u64, String)>>,
    failed: Option<String>,
}

/// Events sealed into the buffer, not yet durable.
#[derive(Default)]
struct Pending {
    /// Their JSON lines, in order.
    lines: Vec<u8>,
    /// Their callers, by sequence number.
    replies: Vec<(u64, Reply)>,
    /// Their key uses.
    usage: Vec<(String, String, String)>,
    /// The hash of the last one.
    last_hash: String,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut pending = Pending::default();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            let mut n = 0;
            let mut gathered = false;
            loop {
                self.seal_all(&rx, &mut next, &mut n, &mut pending);
                // Requests running now append within microseconds: wait for
                // them once, so that one fdatasync carries their events too.
                if gathered
                    || !(GATHER_FROM..MAX_BATCH).contains(&n)
                    || self.running.load(Ordering::Relaxed) == 0
                {
                    break;
                }
                gathered = true;
                std::thread::sleep(GATHER);
                next = rx.try_recv().ok();
            }
            self.commit(&mut pending);
        }
    }

    /// Seal `next` and whatever else is queued (up to [`MAX_BATCH`] in all)
    /// into `pending`.
    fn seal_all(
        &mut self,
        rx: &mpsc::Receiver<Cmd>,
        next: &mut Option<Cmd>,
        n: &mut usize,
        pending: &mut Pending,
    ) {
        while let Some(cmd) = next.take() {
            match cmd {
                Cmd::Append(event, reply) => {
                    let seq = self.head.seq + 1 + pending.replies.len() as u64;
                    let prev = if pending.replies.is_empty() {
                        &self.head.hash
                    } else {
                        &pending.last_hash
                    };
                    let hash = seal_into(seq, prev, &event.json, &mut pending.lines);
                    pending.last_hash = hash;
                    pending.replies.push((seq, reply));
                    pending.usage.extend(event.usage);
                }
                Cmd::Rotate(reply) => {
                    self.commit(pending);
                    let _ = reply.send(self.rotate());
                }
            }
            *n += 1;
            if *n < MAX_BATCH {
                *next = rx.try_recv().ok();
            }
        }
    }

    /// Write the pending lines, sync, then answer their callers.
    fn commit(&mut self, pending: &mut Pending) {
        if pending.replies.is_empty() {
            return;
        }
        let replies = std::mem::take(&mut pending.replies);
        let usage = std::mem::take(&mut pending.usage);
        if let Some(e) = &self.failed {
            pending.lines.clear();
            for (_, reply) in replies {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
        let start = self.file.seek(SeekFrom::End(0)).unwrap_or(0);
        let result = self
            .file
            .write_all(&pending.lines)
            .and_then(|_| self.file.sync_data());
        pending.lines.clear();
        match result {
            Ok(()) => {
                let last_seq = replies.last().map(|(s, _)| *s).expect("non-empty");
                let last_hash = std::mem::take(&mut pending.last_hash);
                if let Ok(mut u) = self.usage.lock() {
                    for (k, time, name) in usage {
                        u.insert(k, (time, name));
                    }
                }
                if let Ok(mut h) = self.shared_head.lock() {
                    *h = (last_seq, last_hash.clone());
                }
                self.head = Head {
                    seq: last_seq,
                    hash: last_hash,
                };
                for (seq, reply) in replies {
                    let _ = reply.send(Ok(seq));
                }
            }
            Err(e) => {
                // Nothing of this batch is acknowledged; undo the partial write
                // and refuse everything after, so no call proceeds unrecorded.
                let _ = self.file.set_len(start);
                let msg = format!("the audit log cannot be written: {e}");
                self.failed = Some(msg.clone());
                for (_, reply) in replies {
                    let _ = reply.send(Err(msg.clone()));
                }
            }
        }
    }

    fn rotate(&mut self) -> Result<PathBuf, String> {
        let closed = segments(std::slice::from_ref(&self.dir))
            .ok()
            .and_then(|s| s.last().cloned())
            .ok_or("no active segment")?;
        if segment_path(&self.dir, self.head.seq + 1) == closed {
            return Err("the active segment is empty; nothing to rotate".into());
        }
        self.file = new_segment(&self.dir, self.head.seq + 1, &self.head.hash)
            .map_err(|e| format!("cannot start a new segment: {e}"))?;
        Ok(closed)
    }
}
