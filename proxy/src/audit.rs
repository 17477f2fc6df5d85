//! The audit side of a request: what the operation learned (key, version,
//! encryption context, authorisation decision) is noted on the worker thread
//! that runs it, then turned into one audit event that is written durably
//! before the response goes out.

use std::cell::RefCell;
use std::collections::BTreeMap;

use kms_proxy_audit::{ContextHasher, Event};

use crate::auth::{AuthMethod, Principal};

/// What an operation noted about itself.
#[derive(Debug, Default, Clone)]
pub struct Note {
    /// The key used.
    pub key_arn: Option<String>,
    /// The key version used.
    pub key_version: Option<u32>,
    /// The encryption context (in clear here; hashed in the event).
    pub encryption_context: BTreeMap<String, String>,
    /// Other resources (aliases, parameter names, grant ids).
    pub resources: Vec<String>,
    /// Whether authorisation allowed the call (true when none was needed).
    pub allowed: bool,
    /// What decided.
    pub decided_by: Option<String>,
}

thread_local! {
    static NOTE: RefCell<Option<Note>> = const { RefCell::new(None) };
}

/// Start noting for a request on this thread.
pub fn begin() {
    NOTE.with(|n| {
        *n.borrow_mut() = Some(Note {
            allowed: true,
            ..Note::default()
        })
    });
}

/// Change the current note (nothing happens outside a request).
pub fn note(f: impl FnOnce(&mut Note)) {
    NOTE.with(|n| {
        if let Some(note) = n.borrow_mut().as_mut() {
            f(note);
        }
    });
}

/// Take the note of the request that ran on this thread.
pub fn take() -> Note {
    NOTE.with(|n| n.borrow_mut().take()).unwrap_or_default()
}

/// Everything the server knows about a finished request.
pub struct Finished<'a> {
    /// The operation.
    pub op: &'a str,
    /// The caller, if authenticated.
    pub principal: Option<&'a Principal>,
    /// Principal ARN (empty if unauthenticated).
    pub principal_arn: String,
    /// Client IP.
    pub source_ip: String,
    /// User agent.
    pub user_agent: String,
    /// Request id.
    pub request_id: &'a str,
    /// The error code, if it failed.
    pub error_code: Option<String>,
}

/// Build the audit event of a request.
pub fn event(f: Finished<'_>, note: Note, hasher: &ContextHasher) -> Event {
    let auth_method = match f.principal.map(|p| &p.method) {
        Some(AuthMethod::SigV4 { .. }) => "sigv4",
        Some(AuthMethod::Jwt { .. }) => "jwt",
        None => "none",
    };
    let allowed = f.principal.is_some() && note.allowed;
    Event {
        event_time: kms_proxy_audit::now_rfc3339(),
        event_name: if f.op.is_empty() {
            "Unknown".into()
        } else {
            f.op.to_string()
        },
        principal: f.principal_arn,
        auth_method: auth_method.into(),
        source_ip: f.source_ip,
        user_agent: f.user_agent,
        request_id: f.request_id.to_string(),
        key_arn: note.key_arn,
        key_version: note.key_version,
        resources: note.resources,
        allowed,
        decided_by: note.decided_by,
        error_code: f.error_code,
        encryption_context: hasher.hash_context(&note.encryption_context),
    }
}

/// The server's audit trail: the log, its context hasher, and where rotated
/// segments are archived.
pub struct AuditTrail {
    /// The log.
    pub log: kms_proxy_audit::AuditLog,
    /// Hashes encryption-context values.
    pub hasher: ContextHasher,
    /// Directories of archived segments (for lookups).
    pub archives: Vec<std::path::PathBuf>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl AuditTrail {
    /// The event of a finished request.
    pub fn event(
        &self,
        op: &str,
        principal: Option<&Principal>,
        principal_arn: String,
        request_id: &str,
        error_code: Option<String>,
        note: Note,
    ) -> Event {
        event(
            Finished {
                op,
                principal,
                principal_arn,
                source_ip: principal
                    .and_then(|p| p.info.source_ip.clone())
                    .unwrap_or_default(),
                user_agent: principal
                    .map(|p| p.info.user_agent.clone())
                    .unwrap_or_default(),
                request_id,
                error_code,
            },
            note,
            &self.hasher,
        )
    }
}

/// The name under which the sealed audit HMAC key is kept in the store.
pub const HMAC_KEY_META: &str = "audit-hmac-key";

/// The audit HMAC key: made on first use, kept sealed under the root key.
pub fn hmac_key(
    store: &dyn crate::store::Store,
    root: &crate::rootkey::RootKey,
) -> Result<kms_envelope_core::SecretBytes, String> {
    let aad = b"kms-proxy/audit-hmac-key/v1";
    if let Some(sealed) = store.meta_get(HMAC_KEY_META).map_err(|e| e.to_string())? {
        return root
            .open(aad, &sealed)
            .ok_or_else(|| "the audit HMAC key does not open under the root key".to_string());
    }
    let mut k = kms_envelope_core::SecretBytes::zeroed(32);
    crate::rootkey::random_bytes(k.expose_mut());
    store
        .meta_put(HMAC_KEY_META, &root.seal(aad, k.expose()))
        .map_err(|e| e.to_string())?;
    Ok(k)
}
