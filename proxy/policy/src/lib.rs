//! # kms-proxy-policy
//!
//! Key policies and identity policies in the AWS policy JSON grammar, with
//! KMS's evaluation rule: an explicit Deny anywhere wins; otherwise a request
//! is allowed if the key policy allows the principal directly, or delegates to
//! the account (`arn:aws:iam::<account>:root`) and an identity policy of the
//! principal allows it; otherwise a grant may allow it; otherwise it is
//! denied. Pure: no I/O, no clock (the caller passes `aws:CurrentTime`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::BTreeMap;

pub mod condition;
mod document;
pub mod glob;

pub use document::{
    default_key_policy, Effect, Matcher, Policy, PolicyKind, Principals, Statement,
    MAX_POLICY_BYTES,
};

use glob::{substitute_cow, wildcard_match};

/// A policy that cannot be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The AWS error type (`MalformedPolicyDocumentException`, ...).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    pub(crate) fn malformed(message: String) -> Self {
        Self {
            code: "MalformedPolicyDocumentException",
            message,
        }
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Who is calling.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The principal's ARN, e.g. `arn:aws:iam::111122223333:user/alice`.
    pub arn: String,
    /// Its 12-digit account.
    pub account: String,
}

/// One request, as the policy engine sees it.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// The caller.
    pub caller: Caller,
    /// The action, e.g. `kms:Decrypt`.
    pub action: String,
    /// The resource ARN (the key).
    pub resource: String,
    /// Condition keys (canonical names, see [`condition::canonical_key`]) and
    /// their values. Multi-valued keys have several.
    pub keys: BTreeMap<String, Vec<String>>,
}

impl RequestContext {
    /// A request with no condition keys yet.
    pub fn new(caller: Caller, action: &str, resource: &str) -> Self {
        Self {
            caller,
            action: action.into(),
            resource: resource.into(),
            keys: BTreeMap::new(),
        }
    }

    /// Set a condition key (any case for the service prefix).
    pub fn set(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.keys.insert(condition::canonical_key(key), values);
        self
    }

    /// Add the encryption context: `kms:EncryptionContext:<k>` for each pair and
    /// `kms:EncryptionContextKeys`.
    pub fn set_encryption_context(&mut self, ctx: &BTreeMap<String, String>) -> &mut Self {
        for (k, v) in ctx {
            self.set(&format!("kms:EncryptionContext:{k}"), vec![v.clone()]);
        }
        self.set("kms:EncryptionContextKeys", ctx.keys().cloned().collect());
        self
    }

    /// The values of a condition key.
    pub fn get(&self, key: &str) -> Option<&Vec<String>> {
        self.keys.get(&condition::canonical_key(key))
    }

    /// The values of a condition key given by its canonical name.
    pub fn get_canonical(&self, key: &str) -> Option<&Vec<String>> {
        self.keys.get(key)
    }

    /// Set a condition key given by its canonical name (no case folding).
    pub fn set_canonical(&mut self, key: String, values: Vec<String>) -> &mut Self {
        debug_assert_eq!(key, condition::canonical_key(&key));
        self.keys.insert(key, values);
        self
    }

    /// The value of a policy variable (single-valued keys only).
    pub fn variable(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(v) if v.len() == 1 => Some(v[0].clone()),
            _ => None,
        }
    }
}

/// How a statement's principal matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PrincipalMatch {
    No,
    /// Named directly, or `*`.
    Direct,
    /// Through the account root: delegated to identity policies.
    Account,
}

fn principal_match(stmt: &Statement, caller: &Caller) -> PrincipalMatch {
    let Some((is, p)) = &stmt.principal else {
        return PrincipalMatch::Direct;
    };
    let is_root = |arn: &str| {
        arn.strip_prefix("arn:aws:iam::")
            .and_then(|r| r.strip_suffix(":root"))
            .is_some_and(|a| a == caller.account)
    };
    let m = match p {
        Principals::Any => PrincipalMatch::Direct,
        Principals::List(list) => {
            if list.contains(&caller.arn) {
                PrincipalMatch::Direct
            } else if list.iter().any(|x| is_root(x) || *x == caller.account) {
                if is_root(&caller.arn) {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::Account
                }
            } else {
                PrincipalMatch::No
            }
        }
    };
    match (is, m) {
        (true, m) => m,
        (false, PrincipalMatch::No) => PrincipalMatch::Direct,
        (false, _) => PrincipalMatch::No,
    }
}

fn matcher_hits(m: &Matcher, value: &str, ignore_case: bool, ctx: &RequestContext) -> bool {
    let hit = |list: &Vec<String>| {
        list.iter().any(|p| {
            substitute_cow(p, &|n| ctx.variable(n))
                .is_some_and(|p| wildcard_match(&p, value, ignore_case))
        })
    };
    match m {
        Matcher::Is(l) => hit(l),
        Matcher::Not(l) => !hit(l),
    }
}

/// Whether a statement applies to a request, and how its principal matched.
fn statement_applies(stmt: &Statement, ctx: &RequestContext) -> PrincipalMatch {
    let pm = principal_match(stmt, &ctx.caller);
    if pm == PrincipalMatch::No
        || !matcher_hits(&stmt.action, &ctx.action, true, ctx)
        || !stmt
            .resource
            .as_ref()
            .is_none_or(|r| matcher_hits(r, &ctx.resource, false, ctx))
        || !stmt.conditions.iter().all(|c| c.eval(ctx))
    {
        return PrincipalMatch::No;
    }
    pm
}

/// Where a decision came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// `key policy`, `identity policy <name>` or `grant <id>`.
    pub policy: String,
    /// The statement id, or `#<index>` when it has none.
    pub statement: String,
}

/// The outcome of an evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, by these statements (the key policy's, and the identity
    /// policy's when delegated) or by a grant.
    Allow(Vec<Source>),
    /// Denied by an explicit Deny.
    ExplicitDeny(Source),
    /// Denied because nothing allowed it.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

fn source(policy: &str, i: usize, s: &Statement) -> Source {
    Source {
        policy: policy.to_string(),
        statement: s.sid.clone().unwrap_or_else(|| format!("#{i}")),
    }
}

/// A grant: lets a grantee perform some operations on one key, optionally
/// only with a given encryption context.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The grant id.
    pub id: String,
    /// The key ARN.
    pub key_arn: String,
    /// The grantee principal ARN.
    pub grantee: String,
    /// Operations without the `kms:` prefix, e.g. `Decrypt`.
    pub operations: Vec<String>,
    /// `EncryptionContextEquals`: the request's context must be exactly this.
    pub context_equals: Option<BTreeMap<String, String>>,
    /// `EncryptionContextSubset`: the request's context must contain these pairs.
    pub context_subset: Option<BTreeMap<String, String>>,
}

impl Grant {
    /// Whether the grant allows this request with this encryption context.
    pub fn allows(&self, ctx: &RequestContext, context: &BTreeMap<String, String>) -> bool {
        let op = ctx.action.strip_prefix("kms:").unwrap_or(&ctx.action);
        self.key_arn == ctx.resource
            && self.grantee == ctx.caller.arn
            && self.operations.iter().any(|o| o == op)
            && self.context_equals.as_ref().is_none_or(|e| e == context)
            && self
                .context_subset
                .as_ref()
                .is_none_or(|s| s.iter().all(|(k, v)| context.get(k) == Some(v)))
    }
}

/// Evaluate a request against the key policy, the caller's identity policies
/// (named), and the key's grants.
pub fn evaluate(
    ctx: &RequestContext,
    key_policy: &Policy,
    identity_policies: &[(String, Policy)],
    grants: &[Grant],
    encryption_context: &BTreeMap<String, String>,
) -> Decision {
    let mut key_allow: Option<(PrincipalMatch, Source)> = None;
    for (i, s) in key_policy.statements.iter().enumerate() {
        let m = statement_applies(s, ctx);
        if m == PrincipalMatch::No {
            continue;
        }
        match s.effect {
            Effect::Deny => return Decision::ExplicitDeny(source("key policy", i, s)),
            Effect::Allow => {
                let better = match &key_allow {
                    None => true,
                    Some((prev, _)) => {
                        *prev == PrincipalMatch::Account && m == PrincipalMatch::Direct
                    }
                };
                if better {
                    key_allow = Some((m, source("key policy", i, s)));
                }
            }
        }
    }
    let mut identity_allow: Option<Source> = None;
    for (name, p) in identity_policies {
        let label = || format!("identity policy {name}");
        for (i, s) in p.statements.iter().enumerate() {
            if statement_applies(s, ctx) == PrincipalMatch::No {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny(source(&label(), i, s)),
                Effect::Allow => {
                    if identity_allow.is_none() {
                        identity_allow = Some(source(&label(), i, s));
                    }
                }
            }
        }
    }
    match (key_allow, identity_allow) {
        (Some((PrincipalMatch::Direct, k)), _) => return Decision::Allow(vec![k]),
        (Some((PrincipalMatch::Account, k)), Some(i)) => return Decision::Allow(vec![k, i]),
        _ => {}
    }
    if let Some(g) = grants.iter().find(|g| g.allows(ctx, encryption_context)) {
        return Decision::Allow(vec![Source {
            policy: format!("grant {}", g.id),
            statement: "-".into(),
        }]);
    }
    Decision::ImplicitDeny
}

/// KMS's lockout safety check: after `new_policy` is put, may `caller` still
/// put a key policy? (`identity_policies` are the caller's.)
pub fn passes_lockout_check(
    new_policy: &Policy,
    caller: &Caller,
    key_arn: &str,
    identity_policies: &[(String, Policy)],
) -> bool {
    let ctx = RequestContext::new(caller.clone(), "kms:PutKeyPolicy", key_arn);
    evaluate(&ctx, new_policy, identity_policies, &[], &BTreeMap::new()).allowed()
}
