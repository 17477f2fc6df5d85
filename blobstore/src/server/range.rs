//! `Range: bytes=...` (RFC 9110 §14). One range is served as 206; a
//! syntactically invalid header, another unit, or several ranges are
//! ignored (the whole object is served, as the RFC allows); a valid range
//! that selects nothing is 416.

use std::ops::Range;

/// What a `Range` header asks for, against an object of a given size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAnswer {
    /// Serve everything (200).
    Full,
    /// Serve these bytes (206).
    Partial(Range<u64>),
    /// Nothing can be served (416).
    Unsatisfiable,
}

/// Resolve `header` against `size`.
pub fn resolve(header: &str, size: u64) -> RangeAnswer {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Full;
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAnswer::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    if a.is_empty() {
        // bytes=-n: the last n bytes.
        let Some(n) = num(b) else {
            return RangeAnswer::Full;
        };
        if n == 0 || size == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        return RangeAnswer::Partial(size.saturating_sub(n)..size);
    }
    let Some(first) = num(a) else {
        return RangeAnswer::Full;
    };
    let last = if b.is_empty() {
        None
    } else {
        match num(b) {
            Some(l) if l >= first => Some(l),
            _ => return RangeAnswer::Full,
        }
    };
    if first >= size {
        return RangeAnswer::Unsatisfiable;
    }
    let end = last.map_or(size, |l| l.saturating_add(1).min(size));
    RangeAnswer::Partial(first..end)
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(resolve("bytes=0-9", 100), Partial(0..10));
        assert_eq!(resolve("bytes=10-", 100), Partial(10..100));
        assert_eq!(resolve("bytes=-10", 100), Partial(90..100));
        assert_eq!(resolve("bytes=-1000", 100), Partial(0..100));
        assert_eq!(resolve("bytes=90-1000", 100), Partial(90..100));
        assert_eq!(resolve("bytes=99-99", 100), Partial(99..100));
        assert_eq!(resolve("bytes=100-", 100), Unsatisfiable);
        assert_eq!(resolve("bytes=-0", 100), Unsatisfiable);
        assert_eq!(resolve("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(resolve("bytes=-5", 0), Unsatisfiable);
        for ignored in [
            "bytes=5-1",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=",
            "bytes=-",
        ] {
            assert_eq!(resolve(ignored, 100), Full, "{ignored}");
        }
        assert_eq!(resolve("bytes=18446744073709551615-", 10), Unsatisfiable);
        assert_eq!(resolve("bytes=99999999999999999999-", 10), Full);
    }
}
