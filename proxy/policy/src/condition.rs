//! Condition operators and condition keys.

use std::net::IpAddr;

use std::borrow::Cow;

use crate::glob::{has_variable, substitute_cow, wildcard_match};
use crate::{PolicyError, RequestContext};

/// The base operator of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Exact, case-sensitive.
    StringEquals,
    /// Negated StringEquals.
    StringNotEquals,
    /// Exact, ignoring case.
    StringEqualsIgnoreCase,
    /// Negated StringEqualsIgnoreCase.
    StringNotEqualsIgnoreCase,
    /// `*` and `?` wildcards, case-sensitive.
    StringLike,
    /// Negated StringLike.
    StringNotLike,
    /// Numbers.
    NumericEquals,
    /// Numbers.
    NumericNotEquals,
    /// Numbers.
    NumericLessThan,
    /// Numbers.
    NumericLessThanEquals,
    /// Numbers.
    NumericGreaterThan,
    /// Numbers.
    NumericGreaterThanEquals,
    /// Dates (ISO 8601 or epoch seconds).
    DateEquals,
    /// Dates.
    DateNotEquals,
    /// Dates.
    DateLessThan,
    /// Dates.
    DateLessThanEquals,
    /// Dates.
    DateGreaterThan,
    /// Dates.
    DateGreaterThanEquals,
    /// `true` / `false`.
    Bool,
    /// CIDR blocks.
    IpAddress,
    /// Negated IpAddress.
    NotIpAddress,
    /// Whether the key is absent (`true`) or present (`false`).
    Null,
    /// ARNs, exact.
    ArnEquals,
    /// ARNs, wildcards.
    ArnLike,
    /// Negated ArnEquals.
    ArnNotEquals,
    /// Negated ArnLike.
    ArnNotLike,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringNotEquals", Op::StringNotEquals),
    ("StringEqualsIgnoreCase", Op::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Op::StringNotEqualsIgnoreCase),
    ("StringLike", Op::StringLike),
    ("StringNotLike", Op::StringNotLike),
    ("NumericEquals", Op::NumericEquals),
    ("NumericNotEquals", Op::NumericNotEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("DateEquals", Op::DateEquals),
    ("DateNotEquals", Op::DateNotEquals),
    ("DateLessThan", Op::DateLessThan),
    ("DateLessThanEquals", Op::DateLessThanEquals),
    ("DateGreaterThan", Op::DateGreaterThan),
    ("DateGreaterThanEquals", Op::DateGreaterThanEquals),
    ("Bool", Op::Bool),
    ("IpAddress", Op::IpAddress),
    ("NotIpAddress", Op::NotIpAddress),
    ("Null", Op::Null),
    ("ArnEquals", Op::ArnEquals),
    ("ArnLike", Op::ArnLike),
    ("ArnNotEquals", Op::ArnNotEquals),
    ("ArnNotLike", Op::ArnNotLike),
];

impl Op {
    fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEquals
                | Op::StringNotEqualsIgnoreCase
                | Op::StringNotLike
                | Op::NumericNotEquals
                | Op::DateNotEquals
                | Op::NotIpAddress
                | Op::ArnNotEquals
                | Op::ArnNotLike
        )
    }

    fn is_string(self) -> bool {
        matches!(
            self,
            Op::StringEquals
                | Op::StringNotEquals
                | Op::StringEqualsIgnoreCase
                | Op::StringNotEqualsIgnoreCase
                | Op::StringLike
                | Op::StringNotLike
                | Op::ArnEquals
                | Op::ArnLike
                | Op::ArnNotEquals
                | Op::ArnNotLike
        )
    }
}

/// `ForAllValues:` / `ForAnyValue:` qualifiers for multi-valued keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    /// Plain operator.
    None,
    /// Every request value must match some condition value (true when there are none).
    ForAllValues,
    /// Some request value must match some condition value.
    ForAnyValue,
}

/// One `operator: { key: values }` entry.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The operator.
    pub op: Op,
    /// Its set qualifier.
    pub set: SetQualifier,
    /// The `...IfExists` suffix: true when the key is absent.
    pub if_exists: bool,
    /// The condition key, canonical (see [`canonical_key`]).
    pub key: String,
    /// The values (any may match).
    pub values: Vec<String>,
}

/// Canonical form of a condition key: service prefixes are case-insensitive,
/// while encryption-context keys, tag keys and JWT claim names keep their case.
pub fn canonical_key(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    for prefix in [
        "kms:encryptioncontext:",
        "aws:principaltag/",
        "aws:requesttag/",
        "jwt:",
    ] {
        if lower.starts_with(prefix) {
            return format!("{prefix}{}", &key[prefix.len()..]);
        }
    }
    lower
}

const KNOWN_KEYS: &[&str] = &[
    "kms:encryptioncontextkeys",
    "kms:calleraccount",
    "kms:viaservice",
    "kms:grantisforawsresource",
    "kms:requestalias",
    "kms:grantoperations",
    "kms:granteeprincipal",
    "kms:retiringprincipal",
    "kms:keyorigin",
    "kms:keyspec",
    "kms:keyusage",
    "aws:sourceip",
    "aws:currenttime",
    "aws:epochtime",
    "aws:securetransport",
    "aws:username",
    "aws:userid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:useragent",
    "ssm:recursive",
];

fn known_key(canonical: &str) -> bool {
    let prefixed = |p: &str| canonical.len() > p.len() && canonical.starts_with(p);
    KNOWN_KEYS.contains(&canonical)
        || prefixed("kms:encryptioncontext:")
        || prefixed("aws:principaltag/")
        || prefixed("aws:requesttag/")
        || prefixed("jwt:")
}

fn bad(msg: String) -> PolicyError {
    PolicyError::malformed(msg)
}

/// Parse `operator` (with qualifiers) and its `{key: values}` object.
pub(crate) fn parse_block(
    op_name: &str,
    body: &serde_json::Value,
) -> Result<Vec<Condition>, PolicyError> {
    let (set, rest) = if let Some(r) = op_name.strip_prefix("ForAllValues:") {
        (SetQualifier::ForAllValues, r)
    } else if let Some(r) = op_name.strip_prefix("ForAnyValue:") {
        (SetQualifier::ForAnyValue, r)
    } else {
        (SetQualifier::None, op_name)
    };
    let (if_exists, base) = match rest.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    let op = OPS
        .iter()
        .find(|(n, _)| *n == base)
        .map(|(_, o)| *o)
        .ok_or_else(|| bad(format!("unknown condition operator {op_name:?}")))?;
    if op == Op::Null && (if_exists || set != SetQualifier::None) {
        return Err(bad(format!("{op_name} is not a valid form of Null")));
    }
    let obj = body
        .as_object()
        .ok_or_else(|| bad(format!("condition {op_name} must be an object of keys")))?;
    let mut out = Vec::new();
    for (key, v) in obj {
        let canonical = canonical_key(key);
        if !known_key(&canonical) {
            return Err(bad(format!("unknown condition key {key:?}")));
        }
        let raw: Vec<&serde_json::Value> = match v {
            serde_json::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        if raw.is_empty() {
            return Err(bad(format!("condition key {key:?} has no values")));
        }
        let mut values = Vec::new();
        for r in raw {
            let s = match r {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    return Err(bad(format!(
                        "condition key {key:?} has a value that is not a string"
                    )))
                }
            };
            validate_value(op, &s).map_err(|m| bad(format!("{op_name} {key:?}: {m}")))?;
            values.push(s);
        }
        out.push(Condition {
            op,
            set,
            if_exists,
            key: canonical,
            values,
        });
    }
    Ok(out)
}

fn validate_value(op: Op, v: &str) -> Result<(), String> {
    if has_variable(v) && !op.is_string() {
        return Err("policy variables are allowed only in string and ARN conditions".into());
    }
    match op {
        Op::NumericEquals
        | Op::NumericNotEquals
        | Op::NumericLessThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThan
        | Op::NumericGreaterThanEquals => {
            v.parse::<f64>()
                .map_err(|_| format!("{v:?} is not a number"))?;
        }
        Op::DateEquals
        | Op::DateNotEquals
        | Op::DateLessThan
        | Op::DateLessThanEquals
        | Op::DateGreaterThan
        | Op::DateGreaterThanEquals => {
            parse_date(v).ok_or_else(|| format!("{v:?} is not a date"))?;
        }
        Op::Bool | Op::Null
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") =>
        {
            return Err(format!("{v:?} is not true or false"));
        }
        Op::IpAddress | Op::NotIpAddress => {
            parse_cidr(v).ok_or_else(|| format!("{v:?} is not an IP address or CIDR block"))?;
        }
        _ => {}
    }
    Ok(())
}

/// Seconds since the Unix epoch for an ISO 8601 date-time
/// (`2026-11-28`, `2026-11-28T19:10:46Z`, with optional fraction and
/// `±HH:MM` offset) or a number of epoch seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = 0i64;
    let mut offset = 0i64;
    if b.len() > 10 {
        if b[10] != b'T' || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        secs = hh * 3600 + mm * 60 + ss;
        let mut i = 19;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let st = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == st {
                return None;
            }
        }
        match &s[i..] {
            "Z" | "" => {}
            tz if (tz.starts_with('+') || tz.starts_with('-'))
                && tz.len() == 6
                && &tz[3..4] == ":" =>
            {
                let sign = if tz.starts_with('-') { -1 } else { 1 };
                offset = sign * (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60);
            }
            _ => return None,
        }
    }
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + secs - offset)
}

/// An address and prefix length.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (Some((net, len)), Ok(ip)) = (parse_cidr(cidr), ip.parse::<IpAddr>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Whether one request value matches one (substituted) condition value,
/// for the positive form of the operator.
fn matches_one(op: Op, req: &str, cond: &str) -> bool {
    let num = |s: &str| s.parse::<f64>().ok();
    let date = parse_date;
    match op {
        Op::StringEquals | Op::StringNotEquals | Op::ArnEquals | Op::ArnNotEquals => req == cond,
        Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase => {
            req.to_lowercase() == cond.to_lowercase()
        }
        Op::StringLike | Op::StringNotLike | Op::ArnLike | Op::ArnNotLike => {
            wildcard_match(cond, req, false)
        }
        Op::NumericEquals | Op::NumericNotEquals => {
            num(req).zip(num(cond)).is_some_and(|(a, b)| a == b)
        }
        Op::NumericLessThan => num(req).zip(num(cond)).is_some_and(|(a, b)| a < b),
        Op::NumericLessThanEquals => num(req).zip(num(cond)).is_some_and(|(a, b)| a <= b),
        Op::NumericGreaterThan => num(req).zip(num(cond)).is_some_and(|(a, b)| a > b),
        Op::NumericGreaterThanEquals => num(req).zip(num(cond)).is_some_and(|(a, b)| a >= b),
        Op::DateEquals | Op::DateNotEquals => {
            date(req).zip(date(cond)).is_some_and(|(a, b)| a == b)
        }
        Op::DateLessThan => date(req).zip(date(cond)).is_some_and(|(a, b)| a < b),
        Op::DateLessThanEquals => date(req).zip(date(cond)).is_some_and(|(a, b)| a <= b),
        Op::DateGreaterThan => date(req).zip(date(cond)).is_some_and(|(a, b)| a > b),
        Op::DateGreaterThanEquals => date(req).zip(date(cond)).is_some_and(|(a, b)| a >= b),
        Op::Bool => req.eq_ignore_ascii_case(cond),
        Op::IpAddress | Op::NotIpAddress => in_cidr(req, cond),
        Op::Null => false,
    }
}

impl Condition {
    /// Evaluate against a request.
    pub fn eval(&self, ctx: &RequestContext) -> bool {
        // The key is canonical since parsing.
        let present = ctx.get_canonical(&self.key);
        if self.op == Op::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return want_absent == present.is_none_or(|v| v.is_empty());
        }
        let values: Vec<Cow<'_, str>> = self
            .values
            .iter()
            .filter_map(|v| {
                if self.op.is_string() {
                    substitute_cow(v, &|name| ctx.variable(name))
                } else {
                    Some(Cow::Borrowed(v.as_str()))
                }
            })
            .collect();
        let any_match = |req: &str| values.iter().any(|c| matches_one(self.op, req, c));
        let req = match present {
            Some(r) if !r.is_empty() => r,
            _ => {
                return match self.set {
                    SetQualifier::ForAllValues => true,
                    SetQualifier::ForAnyValue => false,
                    SetQualifier::None => self.if_exists || self.op.negated(),
                }
            }
        };
        let positive = match self.set {
            SetQualifier::ForAllValues => req.iter().all(|r| any_match(r)),
            SetQualifier::ForAnyValue | SetQualifier::None => req.iter().any(|r| any_match(r)),
        };
        if self.op.negated() {
            // For a negated operator, a plain condition holds when no request
            // value matches any value; with qualifiers the negation is per value.
            match self.set {
                SetQualifier::None => !positive,
                SetQualifier::ForAllValues => req.iter().all(|r| !any_match(r)),
                SetQualifier::ForAnyValue => req.iter().any(|r| !any_match(r)),
            }
        } else {
            positive
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("2015-08-30T12:36:00Z"), Some(1_440_938_160));
        assert_eq!(parse_date("2015-08-30T14:36:00+02:00"), Some(1_440_938_160));
        assert_eq!(parse_date("2015-08-30"), Some(1_440_892_800));
        assert_eq!(parse_date("1440938160"), Some(1_440_938_160));
        assert_eq!(parse_date("2015-13-30"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn cidrs() {
        assert!(in_cidr("10.1.2.3", "10.0.0.0/8"));
        assert!(!in_cidr("11.1.2.3", "10.0.0.0/8"));
        assert!(in_cidr("127.0.0.1", "127.0.0.1"));
        assert!(in_cidr("::1", "::1/128"));
        assert!(!in_cidr("::1", "127.0.0.1/32"));
        assert!(in_cidr("1.2.3.4", "0.0.0.0/0"));
    }
}
