//! Policy documents: the AWS policy JSON grammar, validated when put.

use serde_json::Value;

use crate::condition::{canonical_key, parse_block, Condition};
use crate::glob::variables;
use crate::PolicyError;

/// The largest policy document accepted, in bytes (KMS's limit).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// Where a policy is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// A key policy: statements name a `Principal`.
    Key,
    /// An identity policy: attached to a principal or group, no `Principal`.
    Identity,
}

/// Allow or Deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principals {
    /// `"*"` or `{"AWS": "*"}`.
    Any,
    /// ARNs or 12-digit account ids.
    List(Vec<String>),
}

/// `Action`/`NotAction`, `Resource`/`NotResource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matcher {
    /// Matches the listed patterns.
    Is(Vec<String>),
    /// Matches anything but the listed patterns.
    Not(Vec<String>),
}

/// One statement.
#[derive(Clone, Debug)]
pub struct Statement {
    /// The statement id, if any.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// `Principal` (`Matcher::Is`-like) or `NotPrincipal`; `None` in identity policies.
    pub principal: Option<(bool, Principals)>,
    /// Actions.
    pub action: Matcher,
    /// Resources (`None`: every resource, as in key policies without `Resource`).
    pub resource: Option<Matcher>,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A parsed, validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `2012-10-17` or `2008-10-17`.
    pub version: String,
    /// The statements.
    pub statements: Vec<Statement>,
    /// The condition keys its conditions and policy variables read
    /// (canonical, sorted): a request context needs no other key.
    refs: Vec<String>,
}

fn bad(msg: impl Into<String>) -> PolicyError {
    PolicyError::malformed(msg.into())
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let list: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    if list.is_empty() {
        return Err(bad(format!("{what} is empty")));
    }
    list.into_iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("{what} must be a string or a list of strings")))
        })
        .collect()
}

fn principals(v: &Value) -> Result<Principals, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(o) => {
            let mut out = Vec::new();
            for (k, v) in o {
                if k != "AWS" {
                    return Err(bad(format!(
                        "unsupported principal type {k:?} (use \"AWS\")"
                    )));
                }
                for p in strings(v, "Principal")? {
                    if p == "*" {
                        return Ok(Principals::Any);
                    }
                    let account = p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit());
                    if !account && !p.starts_with("arn:aws:iam::") {
                        return Err(bad(format!("invalid principal {p:?}")));
                    }
                    out.push(p);
                }
            }
            if out.is_empty() {
                return Err(bad("Principal is empty"));
            }
            Ok(Principals::List(out))
        }
        _ => Err(bad("Principal must be \"*\" or {\"AWS\": ...}")),
    }
}

fn actions(v: &Value) -> Result<Vec<String>, PolicyError> {
    let list = strings(v, "Action")?;
    for a in &list {
        let ok = a == "*"
            || a.split_once(':').is_some_and(|(svc, name)| {
                matches!(
                    svc.to_ascii_lowercase().as_str(),
                    "kms" | "ssm" | "cloudtrail"
                ) && !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
            });
        if !ok {
            return Err(bad(format!("invalid action {a:?}")));
        }
    }
    Ok(list)
}

fn one_of<'v>(
    o: &'v serde_json::Map<String, Value>,
    yes: &str,
    no: &str,
) -> Result<Option<(bool, &'v Value)>, PolicyError> {
    match (o.get(yes), o.get(no)) {
        (Some(_), Some(_)) => Err(bad(format!("a statement cannot have both {yes} and {no}"))),
        (Some(v), None) => Ok(Some((true, v))),
        (None, Some(v)) => Ok(Some((false, v))),
        (None, None) => Ok(None),
    }
}

fn statement(v: &Value, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad("a statement must be an object"))?;
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(bad(format!("unknown statement element {k:?}")));
        }
    }
    let sid = match o.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("Sid must be a string")),
    };
    let effect = match o.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(bad("Effect must be \"Allow\" or \"Deny\"")),
    };
    let principal = match (kind, one_of(o, "Principal", "NotPrincipal")?) {
        (PolicyKind::Key, None) => return Err(bad("a key policy statement needs a Principal")),
        (PolicyKind::Key, Some((is, v))) => Some((is, principals(v)?)),
        (PolicyKind::Identity, None) => None,
        (PolicyKind::Identity, Some(_)) => {
            return Err(bad("an identity policy statement cannot name a Principal"))
        }
    };
    let action = match one_of(o, "Action", "NotAction")? {
        Some((true, v)) => Matcher::Is(actions(v)?),
        Some((false, v)) => Matcher::Not(actions(v)?),
        None => return Err(bad("a statement needs Action or NotAction")),
    };
    let resource = match one_of(o, "Resource", "NotResource")? {
        Some((true, v)) => Some(Matcher::Is(strings(v, "Resource")?)),
        Some((false, v)) => Some(Matcher::Not(strings(v, "NotResource")?)),
        None if kind == PolicyKind::Identity => {
            return Err(bad(
                "an identity policy statement needs Resource or NotResource",
            ))
        }
        None => None,
    };
    let mut conditions = Vec::new();
    if let Some(c) = o.get("Condition") {
        let c = c
            .as_object()
            .ok_or_else(|| bad("Condition must be an object"))?;
        for (op, body) in c {
            conditions.extend(parse_block(op, body)?);
        }
    }
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

impl Policy {
    /// Parse and validate a policy document.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError {
                code: "LimitExceededException",
                message: format!(
                    "the policy is {} bytes; the limit is {MAX_POLICY_BYTES}",
                    text.len()
                ),
            });
        }
        let v: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("the policy is not JSON: {e}")))?;
        let o = v
            .as_object()
            .ok_or_else(|| bad("the policy must be a JSON object"))?;
        for k in o.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(bad(format!("unknown policy element {k:?}")));
            }
        }
        let version = match o.get("Version") {
            None => "2008-10-17".to_string(),
            Some(Value::String(s)) if s == "2012-10-17" || s == "2008-10-17" => s.clone(),
            Some(_) => return Err(bad("Version must be \"2012-10-17\" or \"2008-10-17\"")),
        };
        let list: Vec<&Value> = match o.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => return Err(bad("Statement must be an object or a list of objects")),
        };
        if list.is_empty() {
            return Err(bad("the policy has no statements"));
        }
        let statements = list
            .into_iter()
            .map(|s| statement(s, kind))
            .collect::<Result<Vec<_>, _>>()?;
        let refs = referenced_keys(&statements);
        Ok(Self {
            version,
            statements,
            refs,
        })
    }

    /// The condition keys (canonical names, see
    /// [`canonical_key`](crate::condition::canonical_key)) that its
    /// conditions test or its policy variables name. Evaluating it reads no
    /// other key of a request context.
    pub fn referenced_keys(&self) -> &[String] {
        &self.refs
    }
}

fn referenced_keys(statements: &[Statement]) -> Vec<String> {
    let mut out = Vec::new();
    let mut vars = |v: &str| {
        for name in variables(v) {
            out.push(canonical_key(name));
        }
    };
    for s in statements {
        for m in [Some(&s.action), s.resource.as_ref()].into_iter().flatten() {
            let (Matcher::Is(l) | Matcher::Not(l)) = m;
            l.iter().for_each(|p| vars(p));
        }
        for c in &s.conditions {
            c.values.iter().for_each(|v| vars(v));
        }
    }
    for s in statements {
        for c in &s.conditions {
            out.push(c.key.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// KMS's default key policy: the account has full access, and identity
/// policies decide for its principals.
pub fn default_key_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}
