//! Authorization: what an authenticated principal may do.
//!
//! **Current policy: every authenticated principal may perform every
//! action on every customer key.** This is the single hook where key
//! policies, identity policies and grants (the next issue) plug in; every
//! operation calls [`authorize`] after resolving its key and before changing
//! any state or using any key material, so an error here always leaves the
//! store untouched. The audit trail will record the decision taken here.

use std::collections::BTreeMap;

use super::Principal;
use crate::error::KmsResult;
use crate::store::KeyRecord;

/// What is being asked for.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    /// The IAM action, e.g. `kms:Decrypt`.
    pub action: &'static str,
    /// The key acted on, if any (None for CreateKey, ListKeys, GenerateRandom...).
    pub key: Option<&'a KeyRecord>,
    /// The encryption context of the request, for `kms:EncryptionContext:*`.
    pub encryption_context: Option<&'a BTreeMap<String, String>>,
    /// The alias named in the request, for `kms:RequestAlias`.
    pub request_alias: Option<&'a str>,
}

/// Decide whether `principal` may do `request`. Today: yes, for any
/// authenticated principal (see the module documentation).
pub fn authorize(principal: &Principal, request: &AuthzRequest<'_>) -> KmsResult<()> {
    tracing::debug!(
        principal = %principal.name,
        action = request.action,
        key = request.key.map(|k| k.id.as_str()),
        "authorized (authenticated principals are allowed)"
    );
    Ok(())
}
