//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and
//! RevokeGrant. A grant lets its grantee perform some operations on one key,
//! optionally only with a given encryption context; the policy engine
//! consults a key's grants after its policies.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::params::{self, parse, required};
use super::{now, Kms};
use crate::audit::note;
use crate::auth::Principal;
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::rootkey::random_bytes;
use crate::store::policy::GrantRecord;

/// Operations a grant may allow (symmetric keys).
const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
];

/// Operations that take an encryption context (constraints need them).
const CRYPTO_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Constraints {
    encryption_context_subset: Option<BTreeMap<String, String>>,
    encryption_context_equals: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateGrantReq {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<Constraints>,
    name: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListGrantsReq {
    key_id: Option<String>,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRetirableReq {
    retiring_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GrantRefReq {
    key_id: Option<String>,
    grant_id: Option<String>,
    grant_token: Option<String>,
}

fn check_principal(s: &str, field: &str) -> KmsResult<()> {
    params::length(s, field, 1, 256)?;
    if !s.starts_with("arn:aws:iam::") {
        return Err(KmsError::validation(format!(
            "{field} must be an IAM principal ARN such as arn:aws:iam::111122223333:user/name"
        )));
    }
    Ok(())
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    random_bytes(&mut b);
    hex::encode(b)
}

fn page<'a>(
    grants: &'a [GrantRecord],
    marker: Option<&str>,
    limit: usize,
) -> KmsResult<(&'a [GrantRecord], Option<String>)> {
    let after = params::marker_in(marker)?;
    let start = match after {
        Some(a) => grants.iter().position(|g| g.id > a).unwrap_or(grants.len()),
        None => 0,
    };
    let rest = &grants[start..];
    if rest.len() > limit {
        Ok((
            &rest[..limit],
            Some(params::marker_out(&rest[limit - 1].id)),
        ))
    } else {
        Ok((rest, None))
    }
}

impl Kms {
    fn grant_json(&self, g: &GrantRecord) -> Value {
        let mut v = json!({
            "KeyId": self.key_arn(&g.key_id),
            "GrantId": g.id,
            "CreationDate": g.created,
            "GranteePrincipal": g.grantee,
            "IssuingAccount": format!("arn:aws:iam::{}:root", self.authz().account()),
            "Operations": g.operations,
        });
        if let Some(n) = &g.name {
            v["Name"] = json!(n);
        }
        if let Some(r) = &g.retiring {
            v["RetiringPrincipal"] = json!(r);
        }
        let mut c = serde_json::Map::new();
        if let Some(e) = &g.context_equals {
            c.insert("EncryptionContextEquals".into(), json!(e));
        }
        if let Some(s) = &g.context_subset {
            c.insert("EncryptionContextSubset".into(), json!(s));
        }
        if !c.is_empty() {
            v["Constraints"] = Value::Object(c);
        }
        v
    }

    pub(super) fn create_grant(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: CreateGrantReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let grantee = required(r.grantee_principal, "GranteePrincipal")?;
        check_principal(&grantee, "GranteePrincipal")?;
        if let Some(rp) = &r.retiring_principal {
            check_principal(rp, "RetiringPrincipal")?;
        }
        let mut ops = required(r.operations, "Operations")?;
        if ops.is_empty() {
            return Err(KmsError::validation(
                "Operations must name at least one operation",
            ));
        }
        ops.sort();
        ops.dedup();
        if let Some(bad) = ops.iter().find(|o| !GRANT_OPERATIONS.contains(&o.as_str())) {
            return Err(KmsError::validation(format!(
                "Operation {bad} cannot be granted on a symmetric encryption key"
            )));
        }
        let (equals, subset) = match r.constraints {
            None => (None, None),
            Some(c) => {
                if c.encryption_context_equals.is_some() && c.encryption_context_subset.is_some() {
                    return Err(KmsError::validation(
                        "A grant takes EncryptionContextEquals or EncryptionContextSubset, not both",
                    ));
                }
                if ops.iter().any(|o| !CRYPTO_OPERATIONS.contains(&o.as_str())) {
                    return Err(KmsError::validation(
                        "Encryption context constraints are valid only for cryptographic operations",
                    ));
                }
                (c.encryption_context_equals, c.encryption_context_subset)
            }
        };
        if let Some(n) = &r.name {
            params::length(n, "Name", 1, 256)?;
        }
        let key = self.resolve(&id, false)?;
        note(|n| n.resources.push(grantee.clone()));
        self.authorize(p, "kms:CreateGrant", Some(&key), None, None)?;
        let existing = self
            .store()
            .list_grants(&key.id)
            .map_err(KmsError::internal)?;
        if let Some(same) = existing.iter().find(|g| {
            r.name.is_some()
                && g.name == r.name
                && g.grantee == grantee
                && g.retiring == r.retiring_principal
                && g.operations == ops
                && g.context_equals == equals
                && g.context_subset == subset
        }) {
            return Ok(json!({ "GrantId": same.id, "GrantToken": same.token }));
        }
        if existing.len() >= 50_000 {
            return Err(KmsError::new(
                ErrorKind::LimitExceeded,
                "Too many grants on this key",
            ));
        }
        let mut token = [0u8; 48];
        random_bytes(&mut token);
        let g = GrantRecord {
            id: random_hex(32),
            key_id: key.id.clone(),
            grantee,
            retiring: r.retiring_principal,
            issuer: self.authz().principal_arn(p),
            operations: ops,
            context_equals: equals,
            context_subset: subset,
            name: r.name,
            token: URL_SAFE_NO_PAD.encode(token),
            created: now(),
        };
        self.store().create_grant(&g).map_err(KmsError::internal)?;
        note(|n| n.resources.push(format!("grant/{}", g.id)));
        Ok(json!({ "GrantId": g.id, "GrantToken": g.token }))
    }

    pub(super) fn list_grants(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ListGrantsReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let limit = params::limit(r.limit)?;
        let key = self.resolve(&id, false)?;
        self.authorize(p, "kms:ListGrants", Some(&key), None, None)?;
        let all: Vec<GrantRecord> = self
            .store()
            .list_grants(&key.id)
            .map_err(KmsError::internal)?
            .into_iter()
            .filter(|g| r.grant_id.as_ref().is_none_or(|id| &g.id == id))
            .filter(|g| {
                r.grantee_principal
                    .as_ref()
                    .is_none_or(|gp| &g.grantee == gp)
            })
            .collect();
        let (items, next) = page(&all, r.marker.as_deref(), limit)?;
        let mut out = json!({
            "Grants": items.iter().map(|g| self.grant_json(g)).collect::<Vec<_>>(),
            "Truncated": next.is_some(),
        });
        if let Some(m) = next {
            out["NextMarker"] = json!(m);
        }
        Ok(out)
    }

    pub(super) fn list_retirable_grants(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ListRetirableReq = parse(body)?;
        let who = required(r.retiring_principal, "RetiringPrincipal")?;
        check_principal(&who, "RetiringPrincipal")?;
        let limit = params::limit(r.limit)?;
        self.authorize(p, "kms:ListRetirableGrants", None, None, None)?;
        let all = self
            .store()
            .list_retirable_grants(&who)
            .map_err(KmsError::internal)?;
        let (items, next) = page(&all, r.marker.as_deref(), limit)?;
        let mut out = json!({
            "Grants": items.iter().map(|g| self.grant_json(g)).collect::<Vec<_>>(),
            "Truncated": next.is_some(),
        });
        if let Some(m) = next {
            out["NextMarker"] = json!(m);
        }
        Ok(out)
    }

    fn find_grant(&self, r: &GrantRefReq) -> KmsResult<GrantRecord> {
        let g = if let Some(t) = &r.grant_token {
            params::length(t, "GrantToken", 1, 8192)?;
            self.store()
                .get_grant_by_token(t)
                .map_err(KmsError::internal)?
                .ok_or_else(|| {
                    KmsError::new(ErrorKind::InvalidGrantToken, "The grant token is not valid")
                })?
        } else {
            let id = required(r.grant_id.clone(), "GrantId")?;
            let key_id = required(r.key_id.clone(), "KeyId")?;
            let key = self.resolve(&key_id, false)?;
            match self.store().get_grant(&id).map_err(KmsError::internal)? {
                Some(g) if g.key_id == key.id => g,
                _ => {
                    return Err(KmsError::new(
                        ErrorKind::InvalidGrantId,
                        format!("Grant {id} does not exist on this key"),
                    ))
                }
            }
        };
        note(|n| n.resources.push(format!("grant/{}", g.id)));
        Ok(g)
    }

    pub(super) fn retire_grant(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: GrantRefReq = parse(body)?;
        let g = self.find_grant(&r)?;
        let key = self.resolve(&self.key_arn(&g.key_id), false)?;
        let me = self.authz().principal_arn(p);
        let may = g.retiring.as_deref() == Some(me.as_str())
            || (g.grantee == me && g.operations.iter().any(|o| o == "RetireGrant"));
        if may {
            note(|n| {
                n.key_arn = Some(self.key_arn(&key.id));
                n.decided_by = Some(format!("grant {} retiring principal", g.id));
            });
        } else {
            self.authorize(p, "kms:RetireGrant", Some(&key), None, None)?;
        }
        self.store()
            .delete_grant(&g.id)
            .map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn revoke_grant(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: GrantRefReq = parse(body)?;
        let key_id = required(r.key_id.clone(), "KeyId")?;
        required(r.grant_id.clone(), "GrantId")?;
        let key = self.resolve(&key_id, false)?;
        self.authorize(p, "kms:RevokeGrant", Some(&key), None, None)?;
        let g = self.find_grant(&GrantRefReq {
            key_id: Some(key_id),
            grant_id: r.grant_id,
            grant_token: None,
        })?;
        self.store()
            .delete_grant(&g.id)
            .map_err(KmsError::internal)?;
        Ok(json!({}))
    }
}
