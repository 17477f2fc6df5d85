//! Storage behind a trait. [`sqlite::SqliteStore`] is the embedded default;
//! a PostgreSQL store for several replicas can implement the same trait.
//!
//! Every method is atomic on its own. Callers that read, modify and write
//! (rotation, state changes) serialise through the service's write lock; a
//! multi-replica backend would use a transaction or a row version instead.
//! Key material and access-key secrets arrive here already sealed under the
//! root key: a store never sees them in the clear.

pub mod params;
pub mod policy;
pub mod sqlite;

use std::collections::BTreeMap;
use std::fmt;

/// Why a storage call failed.
#[derive(Debug)]
pub enum StoreError {
    /// A uniqueness constraint failed (the row already exists).
    Conflict(String),
    /// The row to change does not exist.
    Missing(String),
    /// The backend failed (I/O, corruption, schema).
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict(m) => write!(f, "conflict: {m}"),
            Self::Missing(m) => write!(f, "missing: {m}"),
            Self::Backend(m) => write!(f, "storage backend: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The lifecycle state of a key, as KMS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Not usable until enabled.
    Disabled,
    /// Scheduled for deletion; not usable; can be cancelled.
    PendingDeletion,
}

impl KeyState {
    /// The KMS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }

    /// Parse a KMS name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Enabled" => Some(Self::Enabled),
            "Disabled" => Some(Self::Disabled),
            "PendingDeletion" => Some(Self::PendingDeletion),
            _ => None,
        }
    }
}

/// Who manages a key (KMS's `KeyManager`, plus the proxy's hidden keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyManager {
    /// Created and managed by callers.
    Customer,
    /// Service-managed (`alias/managed/<service>`): visible, not manageable.
    Service,
    /// Owned by the proxy itself: never listed or usable by callers.
    Internal,
}

impl KeyManager {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "CUSTOMER",
            Self::Service => "AWS",
            Self::Internal => "INTERNAL",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CUSTOMER" => Some(Self::Customer),
            "AWS" => Some(Self::Service),
            "INTERNAL" => Some(Self::Internal),
            _ => None,
        }
    }
}

/// A key's metadata (its material lives in [`KeyVersion`]s). Records are
/// equal when their stored fields are (`policy_generation` is not stored).
#[derive(Clone, Debug, Eq)]
pub struct KeyRecord {
    /// The key id (a UUID).
    pub id: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Caller-supplied description.
    pub description: String,
    /// Lifecycle state.
    pub state: KeyState,
    /// Who manages it.
    pub manager: KeyManager,
    /// When a pending deletion takes effect, Unix seconds.
    pub deletion_date: Option<i64>,
    /// The pending window that was asked for, in days.
    pub pending_window_days: Option<u32>,
    /// Whether automatic rotation is on.
    pub rotation_enabled: bool,
    /// The automatic rotation period, in days.
    pub rotation_period_days: u32,
    /// When automatic rotation next happens, Unix seconds.
    pub next_rotation: Option<i64>,
    /// The version new ciphertexts use (versions count from 1).
    pub current_version: u32,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The key policy document, kept for the policy engine (not yet enforced).
    pub policy: Option<String>,
    /// The store's policy generation in the snapshot this record was read
    /// from (not stored; `None` for records made in memory). Authorisation
    /// decides with the policies of that generation, without reading it again.
    pub policy_generation: Option<i64>,
}

impl PartialEq for KeyRecord {
    fn eq(&self, o: &Self) -> bool {
        let Self {
            id,
            created,
            description,
            state,
            manager,
            deletion_date,
            pending_window_days,
            rotation_enabled,
            rotation_period_days,
            next_rotation,
            current_version,
            tags,
            policy,
            policy_generation: _,
        } = self;
        *id == o.id
            && *created == o.created
            && *description == o.description
            && *state == o.state
            && *manager == o.manager
            && *deletion_date == o.deletion_date
            && *pending_window_days == o.pending_window_days
            && *rotation_enabled == o.rotation_enabled
            && *rotation_period_days == o.rotation_period_days
            && *next_rotation == o.next_rotation
            && *current_version == o.current_version
            && *tags == o.tags
            && *policy == o.policy
    }
}

/// How a key version came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The material made when the key was created.
    Initial,
    /// Automatic (scheduled) rotation.
    Automatic,
    /// RotateKeyOnDemand.
    OnDemand,
}

impl Origin {
    /// The stored (and, for rotations, KMS `RotationType`) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "INITIAL",
            Self::Automatic => "AUTOMATIC",
            Self::OnDemand => "ON_DEMAND",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "INITIAL" => Some(Self::Initial),
            "AUTOMATIC" => Some(Self::Automatic),
            "ON_DEMAND" => Some(Self::OnDemand),
            _ => None,
        }
    }
}

/// One version of a key's material, sealed under the root key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyVersion {
    /// The key id.
    pub key_id: String,
    /// The version number, from 1.
    pub version: u32,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// How it came about.
    pub origin: Origin,
    /// The material, sealed under the root key (nonce || ciphertext || tag).
    pub sealed_material: Vec<u8>,
}

impl fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVersion")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .field("created", &self.created)
            .field("origin", &self.origin)
            .field("sealed_material", &"[SEALED]")
            .finish()
    }
}

/// An alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasRecord {
    /// The full name, `alias/...`.
    pub name: String,
    /// The key it points to.
    pub key_id: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last update, Unix seconds.
    pub updated: i64,
}

/// A principal known to the store (JWT principals need not be).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalRecord {
    /// The principal's name.
    pub name: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Free text.
    pub description: String,
}

/// A SigV4 access key. The secret is sealed under the root key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The access key id (`AKIA...`-shaped).
    pub id: String,
    /// The principal it authenticates.
    pub principal: String,
    /// The secret access key, sealed under the root key.
    pub sealed_secret: Vec<u8>,
    /// Creation time, Unix seconds.
    pub created: i64,
}

impl fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .field("sealed_secret", &"[SEALED]")
            .field("created", &self.created)
            .finish()
    }
}

/// The storage interface (with [`policy::PolicyStore`] for authorisation).
pub trait Store: policy::PolicyStore + params::ParamStore + Send + Sync {
    /// A metadata value (root-key check, KDF salt...).
    fn meta_get(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Set a metadata value.
    fn meta_put(&self, name: &str, value: &[u8]) -> StoreResult<()>;

    /// Insert a key with its first version.
    fn create_key(&self, key: &KeyRecord, first: &KeyVersion) -> StoreResult<()>;
    /// A key by id.
    fn get_key(&self, id: &str) -> StoreResult<Option<KeyRecord>>;
    /// Keys ordered by id, strictly after `after`, at most `limit`.
    fn list_keys(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<KeyRecord>>;
    /// Replace a key's metadata.
    fn update_key(&self, key: &KeyRecord) -> StoreResult<()>;
    /// Add a version and replace the key's metadata, atomically.
    fn add_version(&self, key: &KeyRecord, version: &KeyVersion) -> StoreResult<()>;
    /// One version of a key.
    fn get_version(&self, key_id: &str, version: u32) -> StoreResult<Option<KeyVersion>>;
    /// Every version of a key, oldest first.
    fn list_versions(&self, key_id: &str) -> StoreResult<Vec<KeyVersion>>;
    /// Delete a key, its versions and its aliases.
    fn delete_key(&self, id: &str) -> StoreResult<()>;

    /// Create an alias; [`StoreError::Conflict`] if the name is taken.
    fn create_alias(&self, alias: &AliasRecord) -> StoreResult<()>;
    /// Point an existing alias at another key; [`StoreError::Missing`] if absent.
    fn update_alias(&self, name: &str, key_id: &str, updated: i64) -> StoreResult<()>;
    /// Delete an alias; false if there was none.
    fn delete_alias(&self, name: &str) -> StoreResult<bool>;
    /// An alias by name.
    fn get_alias(&self, name: &str) -> StoreResult<Option<AliasRecord>>;
    /// Aliases ordered by name, optionally of one key, after `after`, at most `limit`.
    fn list_aliases(
        &self,
        key_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>>;

    /// Create a principal; [`StoreError::Conflict`] if it exists.
    fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()>;
    /// A principal by name.
    fn get_principal(&self, name: &str) -> StoreResult<Option<PrincipalRecord>>;
    /// All principals, by name.
    fn list_principals(&self) -> StoreResult<Vec<PrincipalRecord>>;
    /// Delete a principal and its access keys; false if there was none.
    fn delete_principal(&self, name: &str) -> StoreResult<bool>;

    /// Create an access key; its principal must exist.
    fn create_access_key(&self, k: &AccessKeyRecord) -> StoreResult<()>;
    /// An access key by id.
    fn get_access_key(&self, id: &str) -> StoreResult<Option<AccessKeyRecord>>;
    /// All access keys, by id.
    fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>>;
    /// Delete an access key; false if there was none.
    fn delete_access_key(&self, id: &str) -> StoreResult<bool>;
}
