//! Storage of the Parameter Store: parameters, their versions, labels and tags.

use std::collections::BTreeMap;

use super::StoreResult;

/// One version of a parameter.
#[derive(Clone, PartialEq, Eq)]
pub struct ParamVersion {
    /// The parameter name.
    pub name: String,
    /// The version, from 1.
    pub version: u64,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    /// The stored value: text, or for a SecureString the KMS ciphertext blob
    /// (server-side) or the client's message (client-encrypted), base64.
    pub value: String,
    /// The KMS key of a server-side SecureString, or `client-encrypted`.
    pub key_id: Option<String>,
    /// Description.
    pub description: String,
    /// AllowedPattern.
    pub allowed_pattern: Option<String>,
    /// `Standard` or `Advanced`.
    pub tier: String,
    /// `text` (the only data type here).
    pub data_type: String,
    /// When, Unix milliseconds.
    pub modified_ms: i64,
    /// Who (principal ARN).
    pub modified_by: String,
    /// Labels on this version.
    pub labels: Vec<String>,
}

impl std::fmt::Debug for ParamVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamVersion")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("value", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Why a parameter write was refused by the store.
#[derive(Debug, PartialEq, Eq)]
pub enum ParamWriteError {
    /// The parameter exists and overwrite was not asked for.
    Exists,
    /// 100 versions exist and the oldest carries a label.
    OldestLabelled,
    /// Storage failed.
    Store(String),
}

/// Storage of parameters. Each method is atomic.
pub trait ParamStore {
    /// Add a version (version 1 creates the parameter; `overwrite` allows a
    /// new version of an existing one). Keeps at most `max_versions`
    /// versions, dropping the oldest unless it is labelled. Sets tags on
    /// creation. Returns the new version number.
    fn put_param(
        &self,
        v: &ParamVersion,
        overwrite: bool,
        max_versions: u64,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64, ParamWriteError>;
    /// The latest version of a parameter.
    fn get_param(&self, name: &str) -> StoreResult<Option<ParamVersion>>;
    /// One version.
    fn get_param_version(&self, name: &str, version: u64) -> StoreResult<Option<ParamVersion>>;
    /// The version a label points to.
    fn get_param_label(&self, name: &str, label: &str) -> StoreResult<Option<ParamVersion>>;
    /// Every version, oldest first.
    fn param_history(&self, name: &str) -> StoreResult<Vec<ParamVersion>>;
    /// Latest versions of parameters whose names start with `prefix`, by
    /// name, after `after`, at most `limit` (without their labels).
    fn list_params(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<ParamVersion>>;
    /// The labels of one version.
    fn param_labels(&self, name: &str, version: u64) -> StoreResult<Vec<String>>;
    /// Delete a parameter with all its versions; false if there was none.
    fn delete_param(&self, name: &str) -> StoreResult<bool>;
    /// Move `labels` to a version (from wherever they were). The store checks
    /// nothing else.
    fn label_param(&self, name: &str, version: u64, labels: &[String]) -> StoreResult<()>;
    /// Remove labels from a version; returns those that were there.
    fn unlabel_param(
        &self,
        name: &str,
        version: u64,
        labels: &[String],
    ) -> StoreResult<Vec<String>>;
    /// A parameter's tags.
    fn param_tags(&self, name: &str) -> StoreResult<BTreeMap<String, String>>;
    /// How many parameters exist.
    fn count_params(&self) -> StoreResult<u64>;
}
