//! Rotation: each rotation adds a key version; new ciphertexts use the newest
//! version and every older version still decrypts (blobs name their version).

use serde::Deserialize;
use serde_json::{json, Value};

use super::params::{self, parse, required};
use super::{now, Kms, DAY};
use crate::auth::Principal;
use crate::error::{KmsError, KmsResult};
use crate::store::{KeyState, Origin};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnableReq {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdReq {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListReq {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

impl Kms {
    fn require_enabled_for_rotation(&self, key: &crate::store::KeyRecord) -> KmsResult<()> {
        if key.state == KeyState::Enabled {
            Ok(())
        } else {
            self.require_usable(key)
        }
    }

    pub(super) fn enable_rotation(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: EnableReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let period = params::range(
            r.rotation_period_in_days.unwrap_or(365),
            "RotationPeriodInDays",
            90,
            2560,
        )?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:EnableKeyRotation", Some(&key), None, None)?;
        self.require_enabled_for_rotation(&key)?;
        let versions = self
            .store
            .list_versions(&key.id)
            .map_err(KmsError::internal)?;
        let last_automatic_or_created = versions
            .iter()
            .rev()
            .find(|v| v.origin != Origin::OnDemand)
            .map(|v| v.created)
            .unwrap_or(key.created);
        let base = if key.rotation_enabled {
            last_automatic_or_created
        } else {
            now()
        };
        key.rotation_enabled = true;
        key.rotation_period_days = period as u32;
        key.next_rotation = Some(base + period * DAY);
        self.store.update_key(&key).map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn disable_rotation(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: KeyIdReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:DisableKeyRotation", Some(&key), None, None)?;
        self.require_enabled_for_rotation(&key)?;
        key.rotation_enabled = false;
        key.next_rotation = None;
        self.store.update_key(&key).map_err(KmsError::internal)?;
        Ok(json!({}))
    }

    pub(super) fn rotation_status(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: KeyIdReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let key = self.resolve(&id, false)?;
        self.authorize(p, "kms:GetKeyRotationStatus", Some(&key), None, None)?;
        let mut resp = json!({
            "KeyRotationEnabled": key.rotation_enabled,
            "KeyId": self.key_arn(&key.id),
        });
        if key.rotation_enabled {
            resp["RotationPeriodInDays"] = json!(key.rotation_period_days);
            if let Some(n) = key.next_rotation {
                resp["NextRotationDate"] = json!(n as f64);
            }
        }
        Ok(resp)
    }

    pub(super) fn rotate_on_demand(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: KeyIdReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let (_g, mut key) = self.resolve_for_update(&id, false)?;
        self.require_customer(&key)?;
        self.authorize(p, "kms:RotateKeyOnDemand", Some(&key), None, None)?;
        self.require_usable(&key)?;
        self.add_version_locked(&mut key, Origin::OnDemand)?;
        tracing::info!(key_id = %key.id, version = key.current_version, "on-demand rotation");
        Ok(json!({ "KeyId": self.key_arn(&key.id) }))
    }

    pub(super) fn list_rotations(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ListReq = parse(body)?;
        let id = required(r.key_id, "KeyId")?;
        let limit = params::limit(r.limit)?;
        let after: u32 = match params::marker_in(r.marker.as_deref())? {
            Some(m) => m.parse().map_err(|_| {
                KmsError::new(
                    crate::error::ErrorKind::InvalidMarker,
                    "The marker is not valid",
                )
            })?,
            None => 0,
        };
        let key = self.resolve(&id, false)?;
        self.authorize(p, "kms:ListKeyRotations", Some(&key), None, None)?;
        let versions = self
            .store
            .list_versions(&key.id)
            .map_err(KmsError::internal)?;
        let mut page: Vec<_> = versions
            .iter()
            .filter(|v| v.origin != Origin::Initial && v.version > after)
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let arn = self.key_arn(&key.id);
        let rotations: Vec<Value> = page
            .iter()
            .map(|v| {
                json!({
                    "KeyId": arn,
                    "RotationDate": v.created as f64,
                    "RotationType": v.origin.as_str(),
                })
            })
            .collect();
        let mut resp = json!({ "Rotations": rotations, "Truncated": more });
        if more {
            if let Some(v) = page.last() {
                resp["NextMarker"] = json!(params::marker_out(&v.version.to_string()));
            }
        }
        Ok(resp)
    }
}
