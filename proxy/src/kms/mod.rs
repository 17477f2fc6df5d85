//! The KMS operations over a [`Store`]: key resolution (ids, ARNs, aliases),
//! key material (sealed under the root key, cached opened), lazy lifecycle
//! work (expired deletions, due automatic rotations) and dispatch.

pub mod aliases;
pub mod blob;
pub mod crypto;
pub mod grants;
pub mod keys;
pub mod managed;
pub mod params;
pub mod policy;
pub mod rotation;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use kms_envelope_core::SecretBytes;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::authz::{Authz, AuthzRequest};
use crate::auth::Principal;
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::rootkey::{random_bytes, RootKey};
use crate::store::{KeyManager, KeyRecord, KeyState, KeyVersion, Origin, Store, StoreError};

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A key reference as callers write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A key id (from a bare UUID or a key ARN).
    Id(String),
    /// An alias name, `alias/...` (from a name or an alias ARN).
    Alias(String),
}

/// The service.
pub struct Kms {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    region: String,
    account: String,
    /// Serialises read-modify-write sequences on the store.
    write_lock: Mutex<()>,
    material: RwLock<HashMap<(String, u32), Arc<SecretBytes>>>,
    authz: Authz,
}

fn store_err(e: StoreError) -> KmsError {
    KmsError::internal(e)
}

/// The sealing label of a key version's material.
pub fn material_aad(key_id: &str, version: u32) -> Vec<u8> {
    format!("kms-proxy/key-material/v1|{key_id}|{version}").into_bytes()
}

impl Kms {
    /// A service over a store whose root key has been checked.
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>, region: String, account: String) -> Self {
        Self {
            authz: Authz::new(&account, &region, Vec::new()),
            store,
            root,
            region,
            account,
            write_lock: Mutex::new(()),
            material: RwLock::new(HashMap::new()),
        }
    }

    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub fn key_arn(&self, id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{id}", self.region, self.account)
    }

    /// `arn:aws:kms:<region>:<account>:alias/<name>`.
    pub fn alias_arn(&self, name: &str) -> String {
        format!("arn:aws:kms:{}:{}:{name}", self.region, self.account)
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // A poisoned lock only means a panic elsewhere; the data is in the store.
        self.write_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run one operation for an authenticated principal.
    pub fn call(&self, op: &str, principal: &Principal, body: Value) -> KmsResult<Value> {
        match op {
            "CreateKey" => self.create_key(principal, body),
            "DescribeKey" => self.describe_key(principal, body),
            "ListKeys" => self.list_keys(principal, body),
            "EnableKey" => self.set_enabled(principal, body, true),
            "DisableKey" => self.set_enabled(principal, body, false),
            "ScheduleKeyDeletion" => self.schedule_deletion(principal, body),
            "CancelKeyDeletion" => self.cancel_deletion(principal, body),
            "UpdateKeyDescription" => self.update_description(principal, body),
            "TagResource" => self.tag_resource(principal, body),
            "UntagResource" => self.untag_resource(principal, body),
            "ListResourceTags" => self.list_tags(principal, body),
            "GenerateDataKey" => self.generate_data_key(principal, body, true),
            "GenerateDataKeyWithoutPlaintext" => self.generate_data_key(principal, body, false),
            "Encrypt" => self.encrypt(principal, body),
            "Decrypt" => self.decrypt(principal, body),
            "ReEncrypt" => self.re_encrypt(principal, body),
            "GenerateRandom" => self.generate_random(principal, body),
            "CreateAlias" => self.create_alias(principal, body),
            "UpdateAlias" => self.update_alias(principal, body),
            "DeleteAlias" => self.delete_alias(principal, body),
            "ListAliases" => self.list_aliases(principal, body),
            "EnableKeyRotation" => self.enable_rotation(principal, body),
            "DisableKeyRotation" => self.disable_rotation(principal, body),
            "GetKeyRotationStatus" => self.rotation_status(principal, body),
            "RotateKeyOnDemand" => self.rotate_on_demand(principal, body),
            "ListKeyRotations" => self.list_rotations(principal, body),
            "PutKeyPolicy" => self.put_key_policy(principal, body),
            "GetKeyPolicy" => self.get_key_policy(principal, body),
            "ListKeyPolicies" => self.list_key_policies(principal, body),
            "CreateGrant" => self.create_grant(principal, body),
            "ListGrants" => self.list_grants(principal, body),
            "ListRetirableGrants" => self.list_retirable_grants(principal, body),
            "RetireGrant" => self.retire_grant(principal, body),
            "RevokeGrant" => self.revoke_grant(principal, body),
            _ => Err(KmsError::new(
                ErrorKind::UnknownOperation,
                format!("Unknown operation {op}"),
            )),
        }
    }

    /// Parse a key reference; aliases only where the operation takes them.
    pub fn parse_key_ref(&self, s: &str, allow_alias: bool) -> KmsResult<KeyRef> {
        params::length(s, "KeyId", 1, 2048)?;
        let not_found = || KmsError::not_found(format!("Invalid keyId '{s}'"));
        let r = if s.starts_with("alias/") {
            KeyRef::Alias(s.to_string())
        } else if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(KmsError::new(
                    ErrorKind::InvalidArn,
                    format!("Invalid ARN '{s}'"),
                ));
            };
            if partition != "aws" || service != "kms" {
                return Err(KmsError::new(
                    ErrorKind::InvalidArn,
                    format!("Invalid ARN '{s}'"),
                ));
            }
            if region != self.region || account != self.account {
                return Err(not_found());
            }
            if let Some(id) = resource.strip_prefix("key/") {
                KeyRef::Id(Uuid::parse_str(id).map_err(|_| not_found())?.to_string())
            } else if resource.starts_with("alias/") {
                KeyRef::Alias(resource.to_string())
            } else {
                return Err(not_found());
            }
        } else {
            KeyRef::Id(Uuid::parse_str(s).map_err(|_| not_found())?.to_string())
        };
        if matches!(r, KeyRef::Alias(_)) && !allow_alias {
            return Err(KmsError::not_found(format!(
                "Invalid keyId '{s}': this operation takes a key id or key ARN, not an alias"
            )));
        }
        Ok(r)
    }

    /// Resolve a reference to a live key (purging an expired deletion and
    /// performing a due automatic rotation on the way). Internal keys are
    /// invisible to callers.
    pub fn resolve(&self, s: &str, allow_alias: bool) -> KmsResult<KeyRecord> {
        let missing = || KmsError::not_found(format!("Key '{s}' does not exist"));
        let id = match self.parse_key_ref(s, allow_alias)? {
            KeyRef::Id(id) => id,
            KeyRef::Alias(name) => {
                self.store
                    .get_alias(&name)
                    .map_err(store_err)?
                    .ok_or_else(|| KmsError::not_found(format!("Alias '{name}' does not exist")))?
                    .key_id
            }
        };
        let key = self.load_live(&id)?.ok_or_else(missing)?;
        if key.manager == KeyManager::Internal {
            return Err(missing());
        }
        Ok(key)
    }

    /// Resolve, then take the write lock and re-read the key, so that a
    /// read-modify-write sees the latest state.
    pub fn resolve_for_update(
        &self,
        s: &str,
        allow_alias: bool,
    ) -> KmsResult<(MutexGuard<'_, ()>, KeyRecord)> {
        let key = self.resolve(s, allow_alias)?;
        let g = self.lock();
        let key = self
            .store
            .get_key(&key.id)
            .map_err(store_err)?
            .ok_or_else(|| KmsError::not_found(format!("Key '{s}' does not exist")))?;
        Ok((g, key))
    }

    /// Load a key by id, applying due lifecycle work; None if absent or purged.
    pub fn load_live(&self, id: &str) -> KmsResult<Option<KeyRecord>> {
        let Some(key) = self.store.get_key(id).map_err(store_err)? else {
            return Ok(None);
        };
        let t = now();
        let deletion_due =
            key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= t);
        let rotation_due = key.state == KeyState::Enabled
            && key.rotation_enabled
            && key.next_rotation.is_some_and(|d| d <= t);
        if !deletion_due && !rotation_due {
            return Ok(Some(key));
        }
        let _g = self.lock();
        let Some(mut key) = self.store.get_key(id).map_err(store_err)? else {
            return Ok(None);
        };
        if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= t) {
            self.store.delete_key(id).map_err(store_err)?;
            self.forget_material(id);
            tracing::info!(key_id = %id, "key deleted at the end of its waiting period");
            return Ok(None);
        }
        if key.rotation_enabled
            && key.next_rotation.is_some_and(|d| d <= t)
            && key.state == KeyState::Enabled
        {
            key.next_rotation = Some(t + i64::from(key.rotation_period_days) * DAY);
            self.add_version_locked(&mut key, Origin::Automatic)?;
            tracing::info!(key_id = %id, version = key.current_version, "automatic rotation");
        }
        Ok(Some(key))
    }

    /// New random material, sealed for `(key_id, version)`.
    pub fn new_version(&self, key_id: &str, version: u32, origin: Origin) -> KeyVersion {
        let mut m = SecretBytes::zeroed(32);
        random_bytes(m.expose_mut());
        KeyVersion {
            key_id: key_id.to_string(),
            version,
            created: now(),
            origin,
            sealed_material: self.root.seal(&material_aad(key_id, version), m.expose()),
        }
    }

    /// Add a version to a key (the write lock must be held).
    pub fn add_version_locked(&self, key: &mut KeyRecord, origin: Origin) -> KmsResult<()> {
        let next = key.current_version + 1;
        let v = self.new_version(&key.id, next, origin);
        key.current_version = next;
        self.store.add_version(key, &v).map_err(store_err)
    }

    /// The opened material of a key version.
    pub fn material(&self, key_id: &str, version: u32) -> KmsResult<Arc<SecretBytes>> {
        let cache_key = (key_id.to_string(), version);
        if let Some(m) = self
            .material
            .read()
            .ok()
            .and_then(|c| c.get(&cache_key).cloned())
        {
            return Ok(m);
        }
        let v = self
            .store
            .get_version(key_id, version)
            .map_err(store_err)?
            .ok_or_else(|| {
                KmsError::new(
                    ErrorKind::InvalidCiphertext,
                    "The ciphertext refers to a key version that does not exist",
                )
            })?;
        let m = Arc::new(
            self.root
                .open(&material_aad(key_id, version), &v.sealed_material)
                .ok_or_else(|| {
                    KmsError::internal("key material does not open under the root key")
                })?,
        );
        if let Ok(mut c) = self.material.write() {
            c.insert(cache_key, m.clone());
        }
        Ok(m)
    }

    fn forget_material(&self, key_id: &str) {
        if let Ok(mut c) = self.material.write() {
            c.retain(|(id, _), _| id != key_id);
        }
    }

    /// The authorization hook, with the request's details.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: &'static str,
        key: Option<&KeyRecord>,
        encryption_context: Option<&std::collections::BTreeMap<String, String>>,
        request_alias: Option<&str>,
    ) -> KmsResult<()> {
        self.authz.authorize(
            self.store.as_ref(),
            principal,
            &AuthzRequest {
                action,
                key,
                encryption_context,
                request_alias,
                resource: None,
            },
        )
    }

    /// The authorization hook for a resource that is not a key.
    pub fn authorize_resource(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
    ) -> KmsResult<()> {
        self.authz.authorize(
            self.store.as_ref(),
            principal,
            &AuthzRequest {
                action,
                key: None,
                encryption_context: None,
                request_alias: None,
                resource: Some(resource),
            },
        )
    }

    /// The authoriser.
    pub fn authz(&self) -> &Authz {
        &self.authz
    }

    /// Configure authorisation: the groups every JWT principal is in, and
    /// whether policies are enforced.
    pub fn configure_authz(&mut self, jwt_groups: Vec<String>, enforce: bool) {
        let a = Authz::new(&self.account, &self.region, jwt_groups);
        self.authz = if enforce { a } else { a.without_enforcement() };
    }

    /// Fail unless the key can be used for cryptography.
    pub fn require_usable(&self, key: &KeyRecord) -> KmsResult<()> {
        match key.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::new(
                ErrorKind::Disabled,
                format!("{} is disabled.", self.key_arn(&key.id)),
            )),
            KeyState::PendingDeletion => Err(KmsError::new(
                ErrorKind::InvalidState,
                format!("{} is pending deletion.", self.key_arn(&key.id)),
            )),
        }
    }

    /// Fail unless callers may manage the key (customer-managed keys only):
    /// service-managed keys get `AccessDeniedException`, as AWS managed keys do.
    pub fn require_customer(&self, key: &KeyRecord) -> KmsResult<()> {
        if key.manager == KeyManager::Customer {
            Ok(())
        } else {
            Err(KmsError::new(
                ErrorKind::AccessDenied,
                format!(
                    "{} is a service-managed key: only kms-proxy manages it",
                    self.key_arn(&key.id)
                ),
            ))
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// A request alias, if the caller named the key by alias.
pub fn alias_of(key_id: &str) -> Option<&str> {
    if key_id.starts_with("alias/") {
        Some(key_id)
    } else {
        key_id.split_once(":alias/").map(|_| key_id)
    }
}

#[cfg(test)]
mod tests;
