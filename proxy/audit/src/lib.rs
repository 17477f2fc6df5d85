//! # kms-proxy-audit
//!
//! The audit trail of kms-proxy: one event per API call, allowed or denied,
//! written durably before the response is sent.
//!
//! * **Append-only and hash-chained.** Each record carries its sequence
//!   number, the hash of the record before it, and its own hash
//!   (SHA-256 over the canonical JSON of `seq`, `prev` and the event).
//!   [`verify`] detects any edit, deletion, insertion or reordering and names
//!   the first bad record.
//! * **Group commit.** A writer thread takes every event waiting, writes them
//!   in one go and calls `fdatasync` once; each caller's future completes only
//!   after its event is on disk.
//! * **Segments.** The log is a series of JSON-lines files named by their
//!   first sequence number. [`AuditLog::rotate`] starts a new segment; old
//!   segments can be archived anywhere, and the chain continues across them.
//! * **Secrets.** Encryption-context values are HMAC-SHA-256 hashed with the
//!   log's key ([`ContextHasher`]); the keys stay readable.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod log;
mod verify;

pub use log::{Announced, AuditLog, Query};
pub use verify::{records, verify, VerifyFailure, VerifyReport};

/// What happened in one API call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// RFC 3339 UTC time, e.g. `2026-11-28T19:10:46.123Z`.
    pub event_time: String,
    /// The operation, e.g. `GenerateDataKey`.
    pub event_name: String,
    /// The caller's principal ARN (empty if unauthenticated).
    pub principal: String,
    /// `sigv4`, `jwt` or `none`.
    pub auth_method: String,
    /// The caller's IP address.
    pub source_ip: String,
    /// The caller's user agent.
    pub user_agent: String,
    /// The request id returned to the caller.
    pub request_id: String,
    /// The key used, if any.
    pub key_arn: Option<String>,
    /// The key version used, if any.
    pub key_version: Option<u32>,
    /// Other resources (parameter names, aliases).
    pub resources: Vec<String>,
    /// Whether authorisation allowed the call.
    pub allowed: bool,
    /// The statement or grant that decided, if any.
    pub decided_by: Option<String>,
    /// The error code returned, if the call failed.
    pub error_code: Option<String>,
    /// Encryption context: keys in clear, values HMAC-hashed.
    pub encryption_context: BTreeMap<String, String>,
}

/// One record of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Sequence number, from 1, with no gaps.
    pub seq: u64,
    /// Hex SHA-256 of the previous record (64 zeros for the first).
    pub prev: String,
    /// The event.
    pub event: Event,
    /// Hex SHA-256 of this record's `seq`, `prev` and `event`.
    pub hash: String,
}

/// The first line of every segment: where its records continue the chain.
/// Without it, a segment whose predecessors were archived could not be
/// extended or verified on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentStart {
    /// The sequence number of the segment's first record.
    pub seq: u64,
    /// The hash of the record before it ([`GENESIS`] for the first segment).
    pub prev: String,
}

/// A segment's header line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentHeader {
    /// The start.
    pub segment_start: SegmentStart,
}

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize)]
struct Unsealed<'a> {
    seq: u64,
    prev: &'a str,
    event: &'a Event,
}

/// The hash a record must carry.
pub fn record_hash(seq: u64, prev: &str, event: &Event) -> String {
    let bytes = serde_json::to_vec(&Unsealed { seq, prev, event }).expect("events serialise");
    hex::encode(Sha256::digest(bytes))
}

impl Record {
    /// Seal an event after `prev_hash`.
    pub fn seal(seq: u64, prev: &str, event: Event) -> Self {
        Self::seal_with_line(seq, prev, event).0
    }

    /// Seal an event and give its JSON line (newline included), serialising
    /// it once: the line is the hashed bytes with the hash appended, which is
    /// exactly what serialising the record gives (same fields, same order).
    pub fn seal_with_line(seq: u64, prev: &str, event: Event) -> (Self, Vec<u8>) {
        let json = serde_json::to_vec(&event).expect("events serialise");
        let mut line = Vec::with_capacity(json.len() + 200);
        let hash = seal_into(seq, prev, &json, &mut line);
        let record = Self {
            seq,
            prev: prev.to_string(),
            event,
            hash,
        };
        (record, line)
    }
}

/// Append the JSON line of the record `seq` (after `prev`) whose event
/// serialises to `event_json`, and return its hash. The hashed bytes are
/// `{"seq":..,"prev":"..","event":<event_json>}`, the serialisation of
/// `seq`, `prev` and the event, and the line is those bytes with
/// `,"hash":".."` inserted before the closing brace: the serialised
/// [`Record`], without serialising anything but the event.
pub(crate) fn seal_into(seq: u64, prev: &str, event_json: &[u8], out: &mut Vec<u8>) -> String {
    use std::io::Write as _;
    let start = out.len();
    out.extend_from_slice(b"{\"seq\":");
    let _ = write!(out, "{seq}");
    out.extend_from_slice(b",\"prev\":");
    serde_json::to_writer(&mut *out, prev).expect("strings serialise");
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(event_json);
    let mut h = Sha256::new();
    h.update(&out[start..]);
    h.update(b"}");
    let hash = hex::encode(h.finalize());
    out.extend_from_slice(b",\"hash\":\"");
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\"}\n");
    hash
}

/// An event serialised once (on the caller's thread), with what the log
/// keeps in memory about it.
#[derive(Clone, Debug)]
pub struct SerializedEvent {
    pub(crate) json: Vec<u8>,
    /// `(key ARN, event time, event name)` of a successful, allowed use of a key.
    pub(crate) usage: Option<(String, String, String)>,
}

impl From<Event> for SerializedEvent {
    /// Serialise an event, keeping its strings rather than copying them.
    fn from(event: Event) -> Self {
        let mut json = Vec::with_capacity(640);
        serde_json::to_writer(&mut json, &event).expect("events serialise");
        let usage = match (event.key_arn, event.allowed, event.error_code) {
            (Some(k), true, None) => Some((k, event.event_time, event.event_name)),
            _ => None,
        };
        Self { json, usage }
    }
}

impl SerializedEvent {
    /// Serialise an event.
    pub fn new(event: &Event) -> Self {
        let mut json = Vec::with_capacity(640);
        serde_json::to_writer(&mut json, event).expect("events serialise");
        let usage = match (&event.key_arn, event.allowed, &event.error_code) {
            (Some(k), true, None) => Some((
                k.clone(),
                event.event_time.clone(),
                event.event_name.clone(),
            )),
            _ => None,
        };
        Self { json, usage }
    }
}

/// Hashes encryption-context values with HMAC-SHA-256 under the log's key,
/// so the trail can be searched for a value without storing it.
pub struct ContextHasher {
    key: Vec<u8>,
}

impl std::fmt::Debug for ContextHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContextHasher([REDACTED])")
    }
}

impl Drop for ContextHasher {
    fn drop(&mut self) {
        self.key.iter_mut().for_each(|b| *b = 0);
    }
}

impl ContextHasher {
    /// A hasher with this key (at least 32 bytes are recommended).
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// `hmac-sha256:<hex>` of one value.
    pub fn hash(&self, value: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        m.update(value.as_bytes());
        format!("hmac-sha256:{}", hex::encode(m.finalize().into_bytes()))
    }

    /// The context with every value hashed.
    pub fn hash_context(&self, ctx: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        ctx.iter().map(|(k, v)| (k.clone(), self.hash(v))).collect()
    }
}

/// The current UTC time in RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_millis())
}

/// RFC 3339 UTC for Unix seconds and milliseconds.
pub fn rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_440_938_160, 5), "2015-08-30T12:36:00.005Z");
    }

    #[test]
    fn the_sealed_line_is_the_serialised_record() {
        let e = Event {
            event_name: "Decrypt".into(),
            principal: "p\"q\u{e9}".into(),
            ..Event::default()
        };
        let (r, line) = Record::seal_with_line(7, GENESIS, e);
        assert_eq!(
            line,
            format!("{}\n", serde_json::to_string(&r).unwrap()).into_bytes()
        );
        assert_eq!(r.hash, record_hash(7, GENESIS, &r.event));
    }

    #[test]
    fn hmac_hides_values() {
        let h = ContextHasher::new(b"k");
        let v = h.hash("alice");
        assert!(v.starts_with("hmac-sha256:") && !v.contains("alice"));
        assert_eq!(v, h.hash("alice"));
        assert_ne!(v, ContextHasher::new(b"other").hash("alice"));
        assert_eq!(format!("{h:?}"), "ContextHasher([REDACTED])");
    }
}
