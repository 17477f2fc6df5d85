//! Key policies: PutKeyPolicy, GetKeyPolicy, ListKeyPolicies, and the checks
//! CreateKey applies to its `Policy`.

use kms_proxy_policy::{default_key_policy, passes_lockout_check, Policy, PolicyKind};
use serde::Deserialize;
use serde_json::{json, Value};

use super::params::{self, parse, required};
use super::Kms;
use crate::auth::Principal;
use crate::error::{ErrorKind, KmsError, KmsResult};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutKeyPolicyReq {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetKeyPolicyReq {
    key_id: Option<String>,
    policy_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeyPoliciesReq {
    key_id: Option<String>,
    limit: Option<i64>,
    #[allow(dead_code)]
    marker: Option<String>,
}

fn check_name(name: Option<String>) -> KmsResult<()> {
    match name.as_deref() {
        None | Some("default") => Ok(()),
        Some(_) => Err(KmsError::not_found(
            "The only key policy name is \"default\"",
        )),
    }
}

impl Kms {
    /// Validate a key policy before it is stored: the grammar, the size and,
    /// unless bypassed, KMS's lockout safety check (the caller must still be
    /// allowed to put a key policy afterwards).
    pub fn check_key_policy(
        &self,
        p: &Principal,
        text: &str,
        key_id: &str,
        bypass_lockout_check: bool,
    ) -> KmsResult<()> {
        let policy = Policy::parse(text, PolicyKind::Key).map_err(|e| {
            let kind = if e.code == "LimitExceededException" {
                ErrorKind::LimitExceeded
            } else {
                ErrorKind::MalformedPolicyDocument
            };
            KmsError::new(kind, e.message)
        })?;
        if bypass_lockout_check {
            return Ok(());
        }
        let identity = self
            .store()
            .policies_for(&p.name, &[])
            .map_err(KmsError::internal)?
            .into_iter()
            .filter_map(|(n, d)| {
                Policy::parse(&d, PolicyKind::Identity)
                    .ok()
                    .map(|pol| (n, pol))
            })
            .collect::<Vec<_>>();
        let caller = kms_proxy_policy::Caller {
            arn: self.authz().principal_arn(p),
            account: self.authz().account().to_string(),
        };
        if !passes_lockout_check(&policy, &caller, &self.key_arn(key_id), &identity) {
            return Err(KmsError::new(
                ErrorKind::MalformedPolicyDocument,
                "The new key policy will not allow you to update the key policy in the future.",
            ));
        }
        Ok(())
    }

    /// The policy a new key gets: the caller's, checked, or KMS's default.
    pub fn initial_key_policy(
        &self,
        p: &Principal,
        requested: Option<String>,
        key_id: &str,
        bypass: bool,
    ) -> KmsResult<String> {
        match requested {
            Some(text) => {
                self.check_key_policy(p, &text, key_id, bypass)?;
                Ok(text)
            }
            None => Ok(default_key_policy(self.authz().account())),
        }
    }

    pub(super) fn put_key_policy(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: PutKeyPolicyReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        check_name(r.policy_name)?;
        let text = required(r.policy, "Policy")?;
        params::length(&text, "Policy", 1, kms_proxy_policy::MAX_POLICY_BYTES)?;
        let key = self.resolve(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:PutKeyPolicy", Some(&key), None, None)?;
        self.check_key_policy(
            p,
            &text,
            &key.id,
            r.bypass_policy_lockout_safety_check == Some(true),
        )?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        key.policy = Some(text);
        self.store().update_key(&key).map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn get_key_policy(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: GetKeyPolicyReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        check_name(r.policy_name)?;
        let key = self.resolve(&id, false)?;
        self.authorize(p, "kms:GetKeyPolicy", Some(&key), None, None)?;
        let text = key
            .policy
            .clone()
            .unwrap_or_else(|| default_key_policy(self.authz().account()));
        Ok(json!({ "Policy": text, "PolicyName": "default" }))
    }

    pub(super) fn list_key_policies(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ListKeyPoliciesReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        params::limit(r.limit)?;
        let key = self.resolve(&id, false)?;
        self.authorize(p, "kms:ListKeyPolicies", Some(&key), None, None)?;
        Ok(json!({ "PolicyNames": ["default"], "Truncated": false }))
    }
}
