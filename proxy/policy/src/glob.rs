//! Wildcards (`*`, `?`) and policy variables (`${aws:username}`).

use std::borrow::Cow;

/// Whether `text` matches `pattern`, where `*` matches any run of characters
/// and `?` any single character.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if pattern == "*" {
        return true;
    }
    if pattern.is_ascii() && text.is_ascii() {
        // Every character is one byte: the same matcher on bytes, with no
        // allocation (the common case: actions, ARNs).
        return match_bytes(pattern.as_bytes(), text.as_bytes(), ignore_case);
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    // Iterative matcher with backtracking to the last star: O(|p|·|t|).
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// [`wildcard_match`] over ASCII bytes.
fn match_bytes(p: &[u8], t: &[u8], ignore_case: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || (p[pi] != b'*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// [`substitute`] without a copy when the value has no variable.
pub fn substitute_cow<'v>(
    value: &'v str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<Cow<'v, str>> {
    if !value.contains("${") {
        return Some(Cow::Borrowed(value));
    }
    substitute(value, lookup).map(Cow::Owned)
}

/// The names of the variables in a value (`${*}`, `${?}`, `${$}` excluded).
pub fn variables(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = after[..end].trim();
        if !matches!(name, "*" | "?" | "$") {
            out.push(name);
        }
        rest = &after[end + 1..];
    }
    out
}

/// Replace `${key}` policy variables using `lookup`. `${*}`, `${?}` and
/// `${$}` are the literal characters. A variable with no value makes the
/// whole value unusable (`None`), so it can match nothing.
pub fn substitute(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if !value.contains("${") {
        return Some(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = after[..end].trim();
        match name {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => out.push_str(&lookup(name)?),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether a value contains a policy variable.
pub fn has_variable(value: &str) -> bool {
    value.contains("${")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("kms:*", "kms:Decrypt", false));
        assert!(wildcard_match(
            "kms:Generate*",
            "kms:GenerateDataKey",
            false
        ));
        assert!(!wildcard_match("kms:Generate*", "kms:Decrypt", false));
        assert!(wildcard_match("KMS:decrypt", "kms:Decrypt", true));
        assert!(!wildcard_match("KMS:decrypt", "kms:Decrypt", false));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("a?c", "ac", false));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a*b*c", "axxbyyc", false));
        assert!(!wildcard_match("a*b*c", "axxbyy", false));
        // Non-ASCII text goes through the character matcher.
        assert!(wildcard_match("caf?", "caf\u{e9}", false));
        assert!(wildcard_match("CAF\u{c9}*", "caf\u{e9}s", true));
        assert!(!wildcard_match("caf??", "caf\u{e9}", false));
    }

    #[test]
    fn variables() {
        let l = |k: &str| (k == "aws:username").then(|| "alice".to_string());
        assert_eq!(
            substitute("home/${aws:username}/*", &l).unwrap(),
            "home/alice/*"
        );
        assert_eq!(substitute("${*}x${?}${$}", &l).unwrap(), "*x?$");
        assert_eq!(substitute("${jwt:sub}", &l), None);
        assert!(matches!(
            substitute_cow("plain", &l),
            Some(Cow::Borrowed("plain"))
        ));
        assert_eq!(
            super::variables("a/${aws:username}/${*}/${ jwt:sub }"),
            ["aws:username", "jwt:sub"]
        );
    }
}
