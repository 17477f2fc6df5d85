//! The object layer over an [`ObjectStore`]: names, layout, quota
//! accounting, per-key locks, atomic streaming writes, ACL sidecars and
//! multipart uploads.
//!
//! Layout inside the store (ids and owners never contain `/`):
//!
//! | path | what |
//! |---|---|
//! | `obj/{owner}/{id}` | a plain object's bytes |
//! | `cmp/{owner}/{id}` | a composite object's manifest: `{"v":1,"upload":U,"size":N,"parts":[...]}` |
//! | `cpt/{owner}/{id}/{uploadId}/part-{NNNNN}` | its bytes: the parts of the upload that made it |
//! | `acl/{owner}/{id}` | sidecar ACL: `{"readers": [...]}` |
//! | `inbox/{reader}/{owner}/{id}` | empty marker: "shared with reader" index |
//! | `mpu/{owner}/{uploadId}/upload.json` | an open multipart upload |
//! | `mpu/{owner}/{uploadId}/part-{NNNNN}` | its parts |
//!
//! Every write goes through `put_multipart` (staged then renamed into place
//! by the local backend; a multipart upload on S3), so an object is either
//! absent or complete.
//!
//! A completed multipart upload is a *composite* object: its parts are moved
//! (not copied) under `cpt/` and a manifest written at `cmp/` commits it, so
//! completion costs O(parts), not O(bytes). An id is either plain or
//! composite; writers commit the new form under the object's lock and then
//! remove the other, and readers prefer the plain form if both exist. See
//! the `composite` module for the details and the crash semantics.

mod acl;
mod composite;
mod locks;
mod multipart;
mod usage;
mod write;

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

pub use acl::SharedEntry;
pub use multipart::{PartInfo, UploadInfo};
pub use usage::Reservation;

use crate::config::Limits;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Whether `s` is a valid owner or object id: `[A-Za-z0-9._-]{1,200}`,
/// and not `.` or `..`.
pub fn valid_name(s: &str) -> bool {
    (1..=200).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Check a name, or answer `InvalidName`.
pub fn check_name(what: &str, s: &str) -> ApiResult<()> {
    if valid_name(s) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidName,
            format!("the {what} must match [A-Za-z0-9._-]{{1,200}} and not be . or .."),
        ))
    }
}

pub(crate) fn obj_path(owner: &str, id: &str) -> Path {
    Path::from_iter(["obj", owner, id])
}

pub(crate) fn acl_path(owner: &str, id: &str) -> Path {
    Path::from_iter(["acl", owner, id])
}

pub(crate) fn inbox_path(reader: &str, owner: &str, id: &str) -> Path {
    Path::from_iter(["inbox", reader, owner, id])
}

/// Map a store error; `NotFound` becomes `not_found`.
pub(crate) fn map_err(
    e: object_store::Error,
    context: &str,
    not_found: fn() -> ApiError,
) -> ApiError {
    match e {
        object_store::Error::NotFound { .. } => not_found(),
        object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
            ApiError::new(ErrorCode::PreconditionFailed, "the object has changed")
        }
        e => ApiError::internal(context, e),
    }
}

/// The blob store's object layer.
pub struct Blobs {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) limits: Limits,
    pub(crate) usage: usage::Usage,
    pub(crate) locks: locks::KeyLocks,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("store", &self.store.to_string())
            .finish()
    }
}

impl Blobs {
    /// Over `store`, with `limits`.
    pub fn new(store: Arc<dyn ObjectStore>, limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            store,
            limits,
            usage: usage::Usage::default(),
            locks: locks::KeyLocks::default(),
        })
    }

    /// Every object under `prefix`; `context` names the operation in an error.
    pub(crate) async fn list_all(
        &self,
        prefix: &Path,
        context: &str,
    ) -> ApiResult<Vec<ObjectMeta>> {
        use futures_util::TryStreamExt;
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(|e| ApiError::internal(context, e))
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Metadata of `owner/id`, plain or composite (its location is the
    /// plain path either way; a composite's entity tag starts with `m-`).
    pub async fn head(&self, owner: &str, id: &str) -> ApiResult<ObjectMeta> {
        let path = obj_path(owner, id);
        match self.store.head(&path).await {
            Err(object_store::Error::NotFound { .. }) => {
                match self.head_composite(owner, id).await {
                    // A plain object may have replaced the composite meanwhile.
                    Err(e) if e.code == ErrorCode::NoSuchKey => self.store.head(&path).await,
                    r => return r,
                }
            }
            r => r,
        }
        .map_err(|e| map_err(e, "head", ApiError::no_such_key))
    }

    /// Bytes currently charged to `owner`.
    pub async fn used(self: &Arc<Self>, owner: &str) -> ApiResult<u64> {
        self.usage.used(self, owner).await
    }

    /// Delete `owner/id`, its ACL and its inbox markers.
    pub async fn delete(self: &Arc<Self>, owner: &str, id: &str) -> ApiResult<()> {
        let path = obj_path(owner, id);
        let _g = self.locks.lock(path.as_ref()).await;
        // Both forms, should a replace have left the other one behind.
        let plain = self.remove_plain(owner, id).await?;
        let composite = self.remove_composite(owner, id).await?;
        if plain.is_none() && composite.is_none() {
            return Err(ApiError::no_such_key());
        }
        self.usage
            .release(owner, plain.unwrap_or(0) + composite.unwrap_or(0));
        self.drop_acl(owner, id).await;
        Ok(())
    }

    /// Objects of `owner` whose ids start with `prefix` and sort after
    /// `after`, in byte order, at most `limit`; and whether more follow.
    pub async fn list(
        &self,
        owner: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> ApiResult<(Vec<ObjectMeta>, bool)> {
        let mut entries: std::collections::BTreeMap<String, (ObjectMeta, bool)> =
            std::collections::BTreeMap::new();
        // A plain object wins over a composite of the same id. Listing
        // `cmp/` before and after `obj/` sees an object replaced meanwhile
        // (either way) in one listing or the other.
        for (top, composite) in [("cmp", true), ("obj", false), ("cmp", true)] {
            let dir = Path::from_iter([top, owner]);
            let listing = self
                .store
                .list_with_delimiter(Some(&dir))
                .await
                .map_err(|e| ApiError::internal("list", e))?;
            for m in listing.objects {
                let Some(name) = m.location.filename() else {
                    continue;
                };
                if !(name.starts_with(prefix) && name > after) {
                    continue;
                }
                if composite {
                    entries.entry(name.to_string()).or_insert((m, true));
                } else {
                    entries.insert(name.to_string(), (m, false));
                }
            }
        }
        let more = entries.len() > limit;
        let mut objects = Vec::with_capacity(limit.min(entries.len()));
        for (id, (m, composite)) in entries.into_iter().take(limit) {
            if !composite {
                objects.push(m);
                continue;
            }
            // Only the composites returned have their manifest read (or,
            // replaced by a plain object since, its metadata).
            match self.head(owner, &id).await {
                Ok(m) => objects.push(m),
                // Deleted since the listing.
                Err(e) if e.code == ErrorCode::NoSuchKey => {}
                Err(e) => return Err(e),
            }
        }
        Ok((objects, more))
    }

    /// At startup: remove multipart uploads whose `upload.json` is missing
    /// (a crash between its deletion and its parts') or that are older than
    /// `expire_secs`, or that were completed (a crash before their record
    /// was removed); and the leftovers of composite objects (parts no
    /// manifest names, an id left both plain and composite). Returns how
    /// many uploads and leftovers were removed.
    pub async fn sweep_uploads(&self, expire_secs: u64) -> ApiResult<usize> {
        Ok(multipart::sweep(self, expire_secs).await? + composite::sweep(self).await?)
    }
}

/// The local backend's leftovers: staging files (`name#N`) from writes that
/// never completed (a crash or kill). They are invisible to the store, but
/// take disk space; remove them at startup, when no write is in flight.
pub fn remove_stale_staging_files(root: &std::path::Path) -> std::io::Result<usize> {
    fn walk(dir: &std::path::Path, n: &mut usize) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let path = entry.path();
            if ty.is_dir() {
                walk(&path, n)?;
            } else if ty.is_file() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if let Some((_, suffix)) = name.rsplit_once('#') {
                    if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
                        std::fs::remove_file(&path)?;
                        *n += 1;
                    }
                }
            }
        }
        Ok(())
    }
    let mut n = 0;
    walk(root, &mut n)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "A.b-c_d", "...", ".hidden", &"x".repeat(200)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "a#1",
            "é",
            &"x".repeat(201),
            "a%2F",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        // Every valid name is a valid object_store path segment.
        for ok in ["...", ".hidden", "a..b"] {
            let p = obj_path("o", ok);
            assert_eq!(p.filename(), Some(ok));
        }
    }

    #[test]
    fn stale_staging_files_are_removed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("obj/alice")).unwrap();
        std::fs::write(d.path().join("obj/alice/x#1"), b"partial").unwrap();
        std::fs::write(d.path().join("obj/alice/x"), b"whole").unwrap();
        std::fs::write(d.path().join("obj/alice/y#z"), b"kept").unwrap();
        assert_eq!(remove_stale_staging_files(d.path()).unwrap(), 1);
        assert!(d.path().join("obj/alice/x").exists());
        assert!(d.path().join("obj/alice/y#z").exists());
        assert!(!d.path().join("obj/alice/x#1").exists());
    }
}
