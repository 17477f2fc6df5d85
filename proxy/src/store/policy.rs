//! Storage for authorisation: identity policies and where they are attached,
//! groups, principal tags, and grants.

use std::collections::BTreeMap;

use super::StoreResult;

/// What an identity policy is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyTarget {
    /// One principal, by name.
    Principal(String),
    /// A group of principals, by name.
    Group(String),
}

impl PolicyTarget {
    /// `principal` or `group`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Principal(_) => "principal",
            Self::Group(_) => "group",
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        match self {
            Self::Principal(n) | Self::Group(n) => n,
        }
    }
}

/// A grant on a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    /// The grant id (64 hex characters).
    pub id: String,
    /// The key id.
    pub key_id: String,
    /// The grantee principal ARN.
    pub grantee: String,
    /// The principal that may retire it, if any.
    pub retiring: Option<String>,
    /// The principal that created it.
    pub issuer: String,
    /// Operations, without `kms:`.
    pub operations: Vec<String>,
    /// `EncryptionContextEquals`.
    pub context_equals: Option<BTreeMap<String, String>>,
    /// `EncryptionContextSubset`.
    pub context_subset: Option<BTreeMap<String, String>>,
    /// A friendly name (unique per key, optional).
    pub name: Option<String>,
    /// The grant token handed back at creation.
    pub token: String,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// Storage of policies, groups, tags and grants. Each method is atomic.
pub trait PolicyStore {
    /// Create or replace an identity policy document.
    fn put_identity_policy(&self, name: &str, document: &str) -> StoreResult<()>;
    /// An identity policy document.
    fn get_identity_policy(&self, name: &str) -> StoreResult<Option<String>>;
    /// Delete an identity policy and its attachments; false if there was none.
    fn delete_identity_policy(&self, name: &str) -> StoreResult<bool>;
    /// Every identity policy, by name.
    fn list_identity_policies(&self) -> StoreResult<Vec<(String, String)>>;
    /// Attach a policy (which must exist) to a principal or group.
    fn attach_policy(&self, policy: &str, target: &PolicyTarget) -> StoreResult<()>;
    /// Detach; false if it was not attached.
    fn detach_policy(&self, policy: &str, target: &PolicyTarget) -> StoreResult<bool>;
    /// The policies (name, document) attached to a principal directly or
    /// through any of `groups` or the principal's stored groups.
    fn policies_for(
        &self,
        principal: &str,
        groups: &[String],
    ) -> StoreResult<Vec<(String, String)>>;
    /// Add a principal to a group.
    fn add_group_member(&self, group: &str, principal: &str) -> StoreResult<()>;
    /// Remove a principal from a group; false if it was not a member.
    fn remove_group_member(&self, group: &str, principal: &str) -> StoreResult<bool>;
    /// The groups a principal belongs to in the store.
    fn groups_of(&self, principal: &str) -> StoreResult<Vec<String>>;
    /// Set (Some) or remove (None) a principal tag.
    fn set_principal_tag(&self, principal: &str, key: &str, value: Option<&str>)
        -> StoreResult<()>;
    /// A principal's tags.
    fn principal_tags(&self, principal: &str) -> StoreResult<BTreeMap<String, String>>;
    /// A counter that changes whenever policies, attachments, groups, tags or
    /// grants change (so callers may cache them by it).
    fn policy_generation(&self) -> StoreResult<i64>;

    /// Create a grant.
    fn create_grant(&self, g: &GrantRecord) -> StoreResult<()>;
    /// A grant by id.
    fn get_grant(&self, id: &str) -> StoreResult<Option<GrantRecord>>;
    /// A grant by token.
    fn get_grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>>;
    /// The grants of a key, by id.
    fn list_grants(&self, key_id: &str) -> StoreResult<Vec<GrantRecord>>;
    /// The grants a principal may retire, by id.
    fn list_retirable_grants(&self, principal: &str) -> StoreResult<Vec<GrantRecord>>;
    /// Delete a grant; false if there was none.
    fn delete_grant(&self, id: &str) -> StoreResult<bool>;
}
