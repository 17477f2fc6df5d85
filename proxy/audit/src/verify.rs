//! Verification of the chain across segments.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::{record_hash, Record, SegmentHeader, GENESIS};

/// A verified log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of records.
    pub records: u64,
    /// Number of segment files.
    pub segments: usize,
    /// The last record's sequence number and hash (0 and [`GENESIS`] if empty).
    pub head: (u64, String),
}

/// The first problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The file.
    pub file: PathBuf,
    /// Its 1-based line.
    pub line: usize,
    /// The sequence number the record should have had.
    pub expected_seq: u64,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: record {}: {}",
            self.file.display(),
            self.line,
            self.expected_seq,
            self.reason
        )
    }
}

/// The segment files under `paths` (files, or directories of `audit-*.jsonl`),
/// in chain order.
pub(crate) fn segments(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in std::fs::read_dir(p)? {
                let path = e?.path();
                if is_segment(&path) {
                    files.push(path);
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    files.sort_by_key(|p| first_seq(p).unwrap_or(u64::MAX));
    Ok(files)
}

pub(crate) fn is_segment(p: &Path) -> bool {
    first_seq(p).is_some()
}

/// The first sequence number in a segment's name, `audit-<seq>.jsonl`.
pub(crate) fn first_seq(p: &Path) -> Option<u64> {
    let name = p.file_name()?.to_str()?;
    name.strip_prefix("audit-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

/// Verify the whole chain in `paths`, optionally against a head recorded
/// elsewhere (which also catches a truncated tail).
pub fn verify(
    paths: &[PathBuf],
    expected_head: Option<(u64, &str)>,
) -> Result<VerifyReport, VerifyFailure> {
    let files = segments(paths).map_err(|e| VerifyFailure {
        file: paths.first().cloned().unwrap_or_default(),
        line: 0,
        expected_seq: 1,
        reason: format!("cannot list the log: {e}"),
    })?;
    let mut seq = 0u64;
    let mut prev = GENESIS.to_string();
    for file in &files {
        let fail = |line: usize, expected_seq: u64, reason: String| VerifyFailure {
            file: file.clone(),
            line,
            expected_seq,
            reason,
        };
        let f = std::fs::File::open(file).map_err(|e| fail(0, seq + 1, e.to_string()))?;
        if let Some(first) = first_seq(file) {
            if first != seq + 1 {
                return Err(fail(
                    0,
                    seq + 1,
                    format!(
                        "the segment starts at record {first}: records are missing or repeated"
                    ),
                ));
            }
        }
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| fail(i + 1, seq + 1, e.to_string()))?;
            let want = seq + 1;
            if i == 0 {
                if let Ok(h) = serde_json::from_str::<SegmentHeader>(&line) {
                    if h.segment_start.seq != want || h.segment_start.prev != prev {
                        return Err(fail(
                            1,
                            want,
                            format!(
                                "the segment says it continues after record {}, not after record {seq}: a segment is missing or was replaced",
                                h.segment_start.seq.saturating_sub(1)
                            ),
                        ));
                    }
                    continue;
                }
            }
            let r: Record = serde_json::from_str(&line)
                .map_err(|e| fail(i + 1, want, format!("not a record: {e}")))?;
            if r.seq != want {
                return Err(fail(
                    i + 1,
                    want,
                    format!(
                        "found record {} where {want} belongs (deleted, inserted or reordered)",
                        r.seq
                    ),
                ));
            }
            if r.prev != prev {
                return Err(fail(
                    i + 1,
                    want,
                    "it does not follow the record before it".into(),
                ));
            }
            if record_hash(r.seq, &r.prev, &r.event) != r.hash {
                return Err(fail(i + 1, want, "its contents were changed".into()));
            }
            seq = r.seq;
            prev = r.hash;
        }
    }
    if let Some((hseq, hhash)) = expected_head {
        if hseq != seq || hhash != prev {
            let file = files.last().cloned().unwrap_or_default();
            return Err(VerifyFailure {
                file,
                line: 0,
                expected_seq: seq + 1,
                reason: format!("the log ends at record {seq}, but the recorded head is record {hseq}: the tail was cut or replaced"),
            });
        }
    }
    Ok(VerifyReport {
        records: seq,
        segments: files.len(),
        head: (seq, prev),
    })
}

/// Every record under `paths`, in chain order (unverified: call [`verify`] first).
pub fn records(paths: &[PathBuf]) -> std::io::Result<Vec<Record>> {
    let mut out = Vec::new();
    for f in segments(paths)? {
        for line in BufReader::new(std::fs::File::open(&f)?).lines() {
            let line = line?;
            if let Ok(r) = serde_json::from_str::<Record>(&line) {
                out.push(r);
            }
        }
    }
    Ok(out)
}
