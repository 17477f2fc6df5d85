//! Key lifecycle operations and tags.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::params::{self, parse, required};
use super::{now, Kms, DAY};
use crate::auth::Principal;
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::store::{KeyManager, KeyRecord, KeyState, Origin};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyReq {
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    tags: Option<Vec<Tag>>,
    policy: Option<String>,
    multi_region: Option<bool>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdReq {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListReq {
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleReq {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescriptionReq {
    key_id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagReq {
    key_id: Option<String>,
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagReq {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTagsReq {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

fn tag_err(msg: impl Into<String>) -> KmsError {
    KmsError::new(ErrorKind::Tag, msg)
}

fn check_tags(tags: Vec<Tag>) -> KmsResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for t in tags {
        let k = required(t.tag_key, "TagKey")?;
        let v = required(t.tag_value, "TagValue")?;
        params::length(&k, "TagKey", 1, 128)?;
        params::length(&v, "TagValue", 0, 256)?;
        if k.starts_with("aws:") {
            return Err(tag_err("Tag keys beginning with 'aws:' are reserved"));
        }
        out.push((k, v));
    }
    Ok(out)
}

impl Kms {
    /// The `KeyMetadata` structure.
    pub fn metadata(&self, k: &KeyRecord) -> Value {
        let mut m = json!({
            "AWSAccountId": self.account,
            "KeyId": k.id,
            "Arn": self.key_arn(&k.id),
            "CreationDate": k.created as f64,
            "Enabled": k.state == KeyState::Enabled,
            "Description": k.description,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": k.state.as_str(),
            "Origin": "AWS_KMS",
            "KeyManager": if k.manager == KeyManager::Customer { "CUSTOMER" } else { "AWS" },
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false,
        });
        if k.state == KeyState::PendingDeletion {
            m["DeletionDate"] = json!(k.deletion_date.unwrap_or(0) as f64);
            m["PendingDeletionWindowInDays"] = json!(k.pending_window_days);
        }
        m
    }

    pub(super) fn create_key(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: CreateKeyReq = parse(body)?;
        let description = r.description.unwrap_or_default();
        params::length(&description, "Description", 0, 8192)?;
        if r.key_usage
            .as_deref()
            .is_some_and(|u| u != "ENCRYPT_DECRYPT")
        {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "Only ENCRYPT_DECRYPT keys are supported by this proxy",
            ));
        }
        for spec in [r.key_spec.as_deref(), r.customer_master_key_spec.as_deref()] {
            if spec.is_some_and(|s| s != "SYMMETRIC_DEFAULT") {
                return Err(KmsError::new(
                    ErrorKind::UnsupportedOperation,
                    "Only SYMMETRIC_DEFAULT keys are supported by this proxy",
                ));
            }
        }
        if r.origin.as_deref().is_some_and(|o| o != "AWS_KMS") {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "Only Origin AWS_KMS is supported by this proxy",
            ));
        }
        if r.multi_region == Some(true) {
            return Err(KmsError::new(
                ErrorKind::UnsupportedOperation,
                "Multi-Region keys are not supported by this proxy",
            ));
        }
        if let Some(policy) = &r.policy {
            params::length(policy, "Policy", 1, 32_768)?;
        }
        let tags = check_tags(r.tags.unwrap_or_default())?;
        self.authorize(p, "kms:CreateKey", None, None, None)?;
        let id = Uuid::new_v4().to_string();
        let policy = self.initial_key_policy(
            p,
            r.policy,
            &id,
            r.bypass_policy_lockout_safety_check == Some(true),
        )?;
        let key = KeyRecord {
            id: id.clone(),
            created: now(),
            description,
            state: KeyState::Enabled,
            manager: KeyManager::Customer,
            deletion_date: None,
            pending_window_days: None,
            rotation_enabled: false,
            rotation_period_days: 365,
            next_rotation: None,
            current_version: 1,
            tags: tags.into_iter().collect(),
            policy: Some(policy),
            policy_generation: None,
        };
        let first = self.new_version(&id, 1, Origin::Initial);
        self.store
            .create_key(&key, &first)
            .map_err(KmsError::internal)?;
        tracing::info!(key_id = %id, principal = %p.name, "key created");
        Ok(json!({ "KeyMetadata": self.metadata(&key) }))
    }

    pub(super) fn describe_key(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: KeyIdReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let key = self.resolve(&id, true)?;
        self.authorize(p, "kms:DescribeKey", Some(&key), None, super::alias_of(&id))?;
        Ok(json!({ "KeyMetadata": self.metadata(&key) }))
    }

    pub(super) fn list_keys(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ListReq = parse(body)?;
        let limit = params::limit(r.limit)?;
        let after = params::marker_in(r.marker.as_deref())?;
        self.authorize(p, "kms:ListKeys", None, None, None)?;
        let mut out = Vec::new();
        let mut cursor = after;
        let mut more = false;
        // Internal keys are skipped, so read until the page is full.
        'outer: loop {
            let batch = self
                .store
                .list_keys(cursor.as_deref(), limit + 1)
                .map_err(KmsError::internal)?;
            let done = batch.len() <= limit;
            for k in batch {
                cursor = Some(k.id.clone());
                if k.manager == KeyManager::Internal {
                    continue;
                }
                if out.len() == limit {
                    more = true;
                    break 'outer;
                }
                out.push(k);
            }
            if done {
                break;
            }
        }
        let keys: Vec<Value> = out
            .iter()
            .map(|k| json!({ "KeyId": k.id, "KeyArn": self.key_arn(&k.id) }))
            .collect();
        let mut resp = json!({ "Keys": keys, "Truncated": more });
        if more {
            if let Some(last) = out.last() {
                resp["NextMarker"] = json!(params::marker_out(&last.id));
            }
        }
        Ok(resp)
    }

    pub(super) fn set_enabled(&self, p: &Principal, body: Value, enable: bool) -> KmsResult<Value> {
        let r: KeyIdReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        let action = if enable {
            "kms:EnableKey"
        } else {
            "kms:DisableKey"
        };
        self.authorize(p, action, Some(&key), None, None)?;
        if key.state == KeyState::PendingDeletion {
            return Err(KmsError::new(
                ErrorKind::InvalidState,
                format!("{} is pending deletion.", self.key_arn(&key.id)),
            ));
        }
        let target = if enable {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        if key.state != target {
            key.state = target;
            if enable && key.rotation_enabled {
                // Rotation resumes from now on, as a disabled key does not rotate.
                key.next_rotation = key.next_rotation.map(|d| d.max(now()));
            }
            self.store.update_key(&key).map_err(KmsError::internal)?;
            tracing::info!(key_id = %key.id, state = target.as_str(), "key state changed");
        }
        Ok(json!({}))
    }

    pub(super) fn schedule_deletion(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ScheduleReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let days = params::range(
            r.pending_window_in_days.unwrap_or(30),
            "PendingWindowInDays",
            7,
            30,
        )?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:ScheduleKeyDeletion", Some(&key), None, None)?;
        if key.state == KeyState::PendingDeletion {
            return Err(KmsError::new(
                ErrorKind::InvalidState,
                format!("{} is pending deletion.", self.key_arn(&key.id)),
            ));
        }
        let date = now() + days * DAY;
        key.state = KeyState::PendingDeletion;
        key.deletion_date = Some(date);
        key.pending_window_days = Some(days as u32);
        self.store.update_key(&key).map_err(KmsError::internal)?;
        tracing::info!(key_id = %key.id, days, "key deletion scheduled");
        Ok(json!({
            "KeyId": self.key_arn(&key.id),
            "DeletionDate": date as f64,
            "KeyState": "PendingDeletion",
            "PendingWindowInDays": days,
        }))
    }

    pub(super) fn cancel_deletion(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: KeyIdReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:CancelKeyDeletion", Some(&key), None, None)?;
        if key.state != KeyState::PendingDeletion {
            return Err(KmsError::new(
                ErrorKind::InvalidState,
                format!("{} is not pending deletion.", self.key_arn(&key.id)),
            ));
        }
        // As in KMS, a key whose deletion is cancelled comes back disabled.
        key.state = KeyState::Disabled;
        key.deletion_date = None;
        key.pending_window_days = None;
        self.store.update_key(&key).map_err(KmsError::internal)?;
        tracing::info!(key_id = %key.id, "key deletion cancelled");
        Ok(json!({ "KeyId": self.key_arn(&key.id) }))
    }

    pub(super) fn update_description(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: DescriptionReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let description = required(r.description, "Description")?;
        params::length(&description, "Description", 0, 8192)?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:UpdateKeyDescription", Some(&key), None, None)?;
        key.description = description;
        self.store.update_key(&key).map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn tag_resource(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: TagReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let tags = check_tags(required(r.tags, "Tags")?)?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:TagResource", Some(&key), None, None)?;
        let mut merged: BTreeMap<String, String> = key.tags.clone();
        merged.extend(tags);
        if merged.len() > 50 {
            return Err(tag_err("A key can have at most 50 tags"));
        }
        key.tags = merged;
        self.store.update_key(&key).map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn untag_resource(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: UntagReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let keys = required(r.tag_keys, "TagKeys")?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:UntagResource", Some(&key), None, None)?;
        for k in &keys {
            key.tags.remove(k);
        }
        self.store.update_key(&key).map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn list_tags(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ListTagsReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let limit = params::limit(r.limit.or(Some(50)))?;
        let after = params::marker_in(r.marker.as_deref())?;
        let key = self.resolve(&id, false)?;
        self.authorize(p, "kms:ListResourceTags", Some(&key), None, None)?;
        let mut page: Vec<(&String, &String)> = key
            .tags
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let tags: Vec<Value> = page
            .iter()
            .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
            .collect();
        let mut resp = json!({ "Tags": tags, "Truncated": more });
        if more {
            if let Some((k, _)) = page.last() {
                resp["NextMarker"] = json!(params::marker_out(k));
            }
        }
        Ok(resp)
    }
}
