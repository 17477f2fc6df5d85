//! Wildcards (`*`, `?`) and policy variables (`${aws:username}`).

/// Whether `text` matches `pattern`, where `*` matches any run of characters
/// and `?` any single character.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
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
    }
}
