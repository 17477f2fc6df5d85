//! Service-managed keys and proxy-owned internal keys.
//!
//! * A **service-managed key** (`alias/managed/<service>`, `KeyManager: AWS`)
//!   is created on first use by one of the proxy's own features through
//!   [`Kms::ensure_managed_key`]. Callers can list and describe it, but not
//!   manage it: disabling, deleting, tagging, rotation settings, key policy
//!   and alias changes are refused with `AccessDeniedException`, as KMS does
//!   for AWS managed keys. Its key policy lets principals of the account use
//!   it only through the feature (`kms:ViaService` =
//!   `<service>.<region>.kms-proxy`, see [`Kms::as_service`]), and lets the
//!   account's identity policies grant read-only access. It rotates every
//!   365 days, automatically ([`Kms::rotate_due_keys`], run by [`maintenance`]).
//! * A **proxy-owned internal key** ([`Kms::ensure_internal_key`]) is never
//!   listed, described or usable by callers; the proxy seals and opens its
//!   own data with it ([`Kms::seal_internal`], [`Kms::open_internal`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::blob::{self, BlobKey};
use super::{now, Kms, DAY};
use crate::auth::Principal;
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::store::{AliasRecord, KeyManager, KeyRecord, KeyState, Origin, StoreError};

/// The alias prefix of service-managed keys.
pub const MANAGED_PREFIX: &str = "alias/managed/";
/// Service-managed and internal keys rotate this often.
pub const MANAGED_ROTATION_DAYS: u32 = 365;
const INTERNAL_META: &str = "internal-key/";

/// The name rule for services and internal keys: `[a-z0-9][a-z0-9-]{0,63}`.
pub fn check_name(what: &str, name: &str) -> KmsResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(KmsError::validation(format!(
            "{what} {name:?} must match [a-z0-9][a-z0-9-]{{0,63}}"
        )))
    }
}

fn managed_description(service: &str) -> String {
    format!("Default key that protects my {service} data when no other key is defined")
}

fn internal_description(name: &str) -> String {
    format!("kms-proxy internal key {name}")
}

impl Kms {
    /// The `kms:ViaService` value of a proxy feature.
    pub fn via_service(&self, service: &str) -> String {
        format!("{service}.{}.kms-proxy", self.region)
    }

    /// `caller`, acting through the proxy feature `service` (so the
    /// feature's service-managed key lets it in).
    pub fn as_service(&self, caller: &Principal, service: &str) -> Principal {
        let mut p = caller.clone();
        p.info.via_service = Some(self.via_service(service));
        p
    }

    /// The key policy of a service-managed key, shaped like AWS's policy for
    /// AWS managed keys.
    pub fn managed_key_policy(&self, service: &str) -> String {
        json!({
            "Version": "2012-10-17",
            "Id": format!("managed-key-policy-{service}"),
            "Statement": [
                {
                    "Sid": format!("Allow access through {service} for all principals in the account that are authorized to use {service}"),
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                               "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {
                        "kms:CallerAccount": self.account,
                        "kms:ViaService": self.via_service(service),
                    }}
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{}:root", self.account)},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*"
                }
            ]
        })
        .to_string()
    }

    /// The first key (by id) that `pred` accepts.
    fn find_key(&self, pred: impl Fn(&KeyRecord) -> bool) -> KmsResult<Option<KeyRecord>> {
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .store
                .list_keys(cursor.as_deref(), 200)
                .map_err(KmsError::internal)?;
            let done = page.len() < 200;
            for k in page {
                if pred(&k) {
                    return Ok(Some(k));
                }
                cursor = Some(k.id);
            }
            if done {
                return Ok(None);
            }
        }
    }

    fn new_owned_key(
        &self,
        manager: KeyManager,
        description: String,
        policy: Option<String>,
    ) -> KmsResult<KeyRecord> {
        let id = Uuid::new_v4().to_string();
        let t = now();
        let key = KeyRecord {
            id: id.clone(),
            created: t,
            description,
            state: KeyState::Enabled,
            manager,
            deletion_date: None,
            pending_window_days: None,
            rotation_enabled: true,
            rotation_period_days: MANAGED_ROTATION_DAYS,
            next_rotation: Some(t + i64::from(MANAGED_ROTATION_DAYS) * DAY),
            current_version: 1,
            tags: Default::default(),
            policy,
            policy_generation: None,
        };
        let first = self.new_version(&id, 1, Origin::Initial);
        self.store
            .create_key(&key, &first)
            .map_err(KmsError::internal)?;
        Ok(key)
    }

    /// The service-managed key of a proxy feature, created on first use
    /// (with its alias `alias/managed/<service>`). Safe to call concurrently.
    pub fn ensure_managed_key(&self, service: &str) -> KmsResult<KeyRecord> {
        check_name("Service name", service)?;
        let alias = format!("{MANAGED_PREFIX}{service}");
        let lookup = |s: &Self| -> KmsResult<Option<String>> {
            Ok(s.store
                .get_alias(&alias)
                .map_err(KmsError::internal)?
                .map(|a| a.key_id))
        };
        if let Some(id) = lookup(self)? {
            if let Some(k) = self.load_live(&id)? {
                return Ok(k);
            }
        }
        let key = {
            let _g = self.lock();
            if let Some(id) = lookup(self)? {
                if let Some(k) = self.store.get_key(&id).map_err(KmsError::internal)? {
                    return Ok(k);
                }
            }
            let description = managed_description(service);
            // A key made before a crash that left it without its alias.
            let key = match self
                .find_key(|k| k.manager == KeyManager::Service && k.description == description)?
            {
                Some(k) => k,
                None => self.new_owned_key(
                    KeyManager::Service,
                    description,
                    Some(self.managed_key_policy(service)),
                )?,
            };
            let t = now();
            match self.store.create_alias(&AliasRecord {
                name: alias.clone(),
                key_id: key.id.clone(),
                created: t,
                updated: t,
            }) {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(KmsError::internal(e)),
            }
            key
        };
        tracing::info!(service, key_id = %key.id, "service-managed key ready");
        Ok(key)
    }

    /// A proxy-owned internal key by name, created on first use. Callers
    /// never see it.
    pub fn ensure_internal_key(&self, name: &str) -> KmsResult<KeyRecord> {
        check_name("Internal key name", name)?;
        let meta = format!("{INTERNAL_META}{name}");
        let lookup = |s: &Self| -> KmsResult<Option<String>> {
            Ok(s.store
                .meta_get(&meta)
                .map_err(KmsError::internal)?
                .and_then(|v| String::from_utf8(v).ok()))
        };
        if let Some(id) = lookup(self)? {
            if let Some(k) = self.load_live(&id)? {
                return Ok(k);
            }
        }
        let _g = self.lock();
        if let Some(id) = lookup(self)? {
            if let Some(k) = self.store.get_key(&id).map_err(KmsError::internal)? {
                return Ok(k);
            }
        }
        let description = internal_description(name);
        let key = match self
            .find_key(|k| k.manager == KeyManager::Internal && k.description == description)?
        {
            Some(k) => k,
            None => self.new_owned_key(KeyManager::Internal, description, None)?,
        };
        self.store
            .meta_put(&meta, key.id.as_bytes())
            .map_err(KmsError::internal)?;
        Ok(key)
    }

    /// Encrypt the proxy's own data under an internal key's current version.
    pub fn seal_internal(
        &self,
        name: &str,
        context: &[u8],
        plaintext: &[u8],
    ) -> KmsResult<Vec<u8>> {
        let key = self.ensure_internal_key(name)?;
        let material = self.material(&key.id, key.current_version)?;
        let key_id = Uuid::parse_str(&key.id).map_err(KmsError::internal)?;
        Ok(blob::seal(
            &material,
            BlobKey {
                key_id,
                version: key.current_version,
            },
            context,
            plaintext,
        ))
    }

    /// Decrypt what [`Kms::seal_internal`] made with the same name and context.
    pub fn open_internal(
        &self,
        name: &str,
        context: &[u8],
        sealed: &[u8],
    ) -> KmsResult<kms_envelope_core::SecretBytes> {
        let key = self.ensure_internal_key(name)?;
        let bk = blob::parse(sealed)?;
        if bk.key_id.to_string() != key.id {
            return Err(KmsError::new(
                ErrorKind::IncorrectKey,
                "The ciphertext was not made under this internal key",
            ));
        }
        let material = self.material(&key.id, bk.version)?;
        blob::open(&material, sealed, context)
    }

    /// Apply due lifecycle work to every key: automatic rotations (service,
    /// internal and customer keys with rotation on) and deletions whose
    /// waiting period is over. Returns how many keys were touched.
    pub fn rotate_due_keys(&self) -> KmsResult<usize> {
        let t = now();
        let mut cursor: Option<String> = None;
        let mut touched = 0;
        loop {
            let page = self
                .store
                .list_keys(cursor.as_deref(), 200)
                .map_err(KmsError::internal)?;
            let done = page.len() < 200;
            for k in page {
                let due = (k.state == KeyState::Enabled
                    && k.rotation_enabled
                    && k.next_rotation.is_some_and(|d| d <= t))
                    || (k.state == KeyState::PendingDeletion
                        && k.deletion_date.is_some_and(|d| d <= t));
                if due {
                    self.load_live(&k.id)?;
                    touched += 1;
                }
                cursor = Some(k.id);
            }
            if done {
                return Ok(touched);
            }
        }
    }
}

/// Run [`Kms::rotate_due_keys`] now and then every `every`, forever.
pub async fn maintenance(kms: Arc<Kms>, every: Duration) {
    loop {
        let k = kms.clone();
        match tokio::task::spawn_blocking(move || k.rotate_due_keys()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(keys = n, "lifecycle sweep rotated or deleted keys"),
            Ok(Err(e)) => tracing::warn!(error = %e, "lifecycle sweep failed"),
            Err(e) => tracing::warn!(error = %e, "lifecycle sweep panicked"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests;
