//! Parameter Store names, labels, selectors and limits, as SSM has them.

use crate::error::{ErrorKind, KmsError, KmsResult};

/// Most path levels in a hierarchical name.
pub const MAX_LEVELS: usize = 15;
/// Versions kept per parameter.
pub const MAX_VERSIONS: u64 = 100;
/// Labels per version.
pub const MAX_LABELS_PER_VERSION: usize = 10;
/// Standard tier value limit, bytes.
pub const STANDARD_MAX: usize = 4096;
/// Advanced tier value limit, bytes.
pub const ADVANCED_MAX: usize = 8192;
/// Longest parameter name.
pub const MAX_NAME: usize = 1011;

pub(crate) fn ssm(kind: &'static str, msg: impl Into<String>) -> KmsError {
    KmsError::new(ErrorKind::Ssm(kind), msg)
}

/// Check a parameter name: letters, digits and `_.-/`, a leading `/` for
/// hierarchies, at most 15 levels, no reserved `aws`/`ssm` prefix.
pub fn check_name(name: &str) -> KmsResult<()> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(KmsError::validation(format!(
            "Parameter name must be 1 to {MAX_NAME} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
    {
        return Err(KmsError::validation(
            "Parameter name: can contain only alphanumeric characters and the symbols _ . - /",
        ));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(KmsError::validation(
            "Parameter name: a hierarchical name must begin with /",
        ));
    }
    if name.contains("//") || (name.len() > 1 && name.ends_with('/')) {
        return Err(KmsError::validation(
            "Parameter name: a hierarchy level cannot be empty",
        ));
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(KmsError::validation(
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive)",
        ));
    }
    if levels(name) > MAX_LEVELS {
        return Err(ssm(
            "HierarchyLevelLimitExceededException",
            format!("A parameter name can have at most {MAX_LEVELS} levels"),
        ));
    }
    Ok(())
}

/// The number of levels of a name (`/a/b/c` has 3).
pub fn levels(name: &str) -> usize {
    name.trim_start_matches('/').split('/').count()
}

/// Check a path for GetParametersByPath: `/`, or `/a/b` (a trailing `/` is allowed).
pub fn check_path(path: &str) -> KmsResult<String> {
    if !path.starts_with('/') {
        return Err(KmsError::validation("The path must begin with /"));
    }
    if path == "/" {
        return Ok("/".into());
    }
    let p = path.trim_end_matches('/');
    check_name(p)?;
    Ok(format!("{p}/"))
}

/// A label: 1–100 characters of letters, digits, `.`, `-`, `_`; not starting
/// with a digit, `aws` or `ssm`.
pub fn label_ok(l: &str) -> bool {
    let lower = l.to_ascii_lowercase();
    !l.is_empty()
        && l.len() <= 100
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !l.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

/// A name with an optional `:version` or `:label` selector.
pub enum Selector {
    /// The latest version.
    Latest,
    /// A version number.
    Version(u64),
    /// A label.
    Label(String),
}

/// Split `name:selector`.
pub fn split_selector(s: &str) -> KmsResult<(String, Selector)> {
    match s.rsplit_once(':') {
        None => Ok((s.to_string(), Selector::Latest)),
        Some((name, sel)) => {
            if sel.is_empty() {
                return Err(KmsError::validation("An empty selector is not valid"));
            }
            if sel.chars().all(|c| c.is_ascii_digit()) {
                let v = sel
                    .parse::<u64>()
                    .map_err(|_| KmsError::validation("The version selector is not valid"))?;
                Ok((name.to_string(), Selector::Version(v)))
            } else {
                Ok((name.to_string(), Selector::Label(sel.to_string())))
            }
        }
    }
}
