//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use serde::Deserialize;
use serde_json::{json, Value};

use super::params::{self, parse, required};
use super::{now, Kms};
use crate::auth::Principal;
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::store::{AliasRecord, KeyState, StoreError};

/// Alias prefixes callers may not create: AWS's, and the proxy's own
/// service-managed keys.
pub const RESERVED_PREFIXES: [&str; 2] = ["alias/aws/", "alias/managed/"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasReq {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliasesReq {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

fn check_name(name: &str) -> KmsResult<()> {
    params::length(name, "AliasName", 1, 256)?;
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            "Alias must start with the prefix \"alias/\"",
        ));
    };
    if rest.is_empty()
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            "Alias names may contain only alphanumeric characters, '/', '_' and '-'",
        ));
    }
    Ok(())
}

fn check_creatable(name: &str) -> KmsResult<()> {
    check_name(name)?;
    if RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Err(KmsError::new(
            ErrorKind::InvalidAliasName,
            format!("Aliases beginning with {RESERVED_PREFIXES:?} are reserved"),
        ));
    }
    Ok(())
}

impl Kms {
    fn alias_target(&self, target: &str) -> KmsResult<crate::store::KeyRecord> {
        let key = self.resolve(target, false)?;
        self.require_customer(&key)?;
        if key.state == KeyState::PendingDeletion {
            return Err(KmsError::new(
                ErrorKind::InvalidState,
                format!("{} is pending deletion.", self.key_arn(&key.id)),
            ));
        }
        Ok(key)
    }

    pub(super) fn create_alias(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: AliasReq = parse(body)?;
        let name = required(r.alias_name, "AliasName")?;
        let target = required(r.target_key_id, "TargetKeyId")?;
        check_creatable(&name)?;
        let key = self.alias_target(&target)?;
        self.authorize(p, "kms:CreateAlias", Some(&key), None, Some(&name))?;
        let t = now();
        let rec = AliasRecord {
            name: name.clone(),
            key_id: key.id.clone(),
            created: t,
            updated: t,
        };
        match self.store.create_alias(&rec) {
            Ok(()) => Ok(json!({})),
            Err(StoreError::Conflict(_)) => Err(KmsError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "An alias with the name {} already exists",
                    self.alias_arn(&name)
                ),
            )),
            Err(e) => Err(KmsError::internal(e)),
        }
    }

    pub(super) fn update_alias(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: AliasReq = parse(body)?;
        let name = required(r.alias_name, "AliasName")?;
        let target = required(r.target_key_id, "TargetKeyId")?;
        check_creatable(&name)?;
        let key = self.alias_target(&target)?;
        let _g = self.lock();
        let current = self
            .store
            .get_alias(&name)
            .map_err(KmsError::internal)?
            .ok_or_else(|| {
                KmsError::not_found(format!("Alias {} is not found.", self.alias_arn(&name)))
            })?;
        if let Some(old) = self
            .store
            .get_key(&current.key_id)
            .map_err(KmsError::internal)?
        {
            self.authorize(p, "kms:UpdateAlias", Some(&old), None, Some(&name))?;
        }
        self.authorize(p, "kms:UpdateAlias", Some(&key), None, Some(&name))?;
        self.store
            .update_alias(&name, &key.id, now())
            .map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn delete_alias(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: AliasReq = parse(body)?;
        let name = required(r.alias_name, "AliasName")?;
        check_name(&name)?;
        let _g = self.lock();
        let current = self
            .store
            .get_alias(&name)
            .map_err(KmsError::internal)?
            .ok_or_else(|| {
                KmsError::not_found(format!("Alias {} is not found.", self.alias_arn(&name)))
            })?;
        let key = self
            .store
            .get_key(&current.key_id)
            .map_err(KmsError::internal)?;
        if let Some(k) = &key {
            self.require_customer(k)?;
        }
        self.authorize(p, "kms:DeleteAlias", key.as_ref(), None, Some(&name))?;
        self.store.delete_alias(&name).map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn list_aliases(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ListAliasesReq = parse(body)?;
        let limit = params::limit(r.limit)?;
        let after = params::marker_in(r.marker.as_deref())?;
        let key = match &r.key_id {
            Some(k) => Some(self.resolve(k, false)?),
            None => None,
        };
        self.authorize(p, "kms:ListAliases", key.as_ref(), None, None)?;
        let mut page = self
            .store
            .list_aliases(
                key.as_ref().map(|k| k.id.as_str()),
                after.as_deref(),
                limit + 1,
            )
            .map_err(KmsError::internal)?;
        let more = page.len() > limit;
        page.truncate(limit);
        let aliases: Vec<Value> = page
            .iter()
            .map(|a| {
                json!({
                    "AliasName": a.name,
                    "AliasArn": self.alias_arn(&a.name),
                    "TargetKeyId": a.key_id,
                    "CreationDate": a.created as f64,
                    "LastUpdatedDate": a.updated as f64,
                })
            })
            .collect();
        let mut resp = json!({ "Aliases": aliases, "Truncated": more });
        if more {
            if let Some(a) = page.last() {
                resp["NextMarker"] = json!(params::marker_out(&a.name));
            }
        }
        Ok(resp)
    }
}
