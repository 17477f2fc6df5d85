//! Composite objects: a completed multipart upload, kept as its parts.
//!
//! Completing an upload does not copy its bytes. The parts are moved
//! (`rename`, O(1) on a local disk) from `mpu/{owner}/{uploadId}/part-NNNNN`
//! to `cpt/{owner}/{id}/{uploadId}/part-NNNNN`, then a small manifest is
//! written atomically at `cmp/{owner}/{id}`:
//! `{"v":1,"upload":"<uploadId>","size":<total>,"parts":[<size of part 1>, ...]}`.
//! Writing the manifest is the commit point.
//!
//! An id is either plain (`obj/{owner}/{id}`) or composite. Every writer
//! works under the object's path lock, commits the new form, then deletes
//! the other one; readers prefer the plain object when both exist (a replace
//! in progress). A composite's entity tag is `m-{uploadId}`: the `m-` prefix
//! never occurs in the local backend's hexadecimal tags.
//!
//! Crash semantics:
//! - before the manifest is written, the object is absent or unchanged: the
//!   parts already moved are removed by the start-up sweep (their directory
//!   has no manifest naming their upload); the upload stays open with the
//!   parts not yet moved, and the client uploads the missing parts again;
//! - after it, the object is complete. Leftovers are resolved at start-up: a
//!   replaced form still on disk (both `obj/` and `cmp/` exist) loses to the
//!   one with the newer `last_modified`, and an upload record whose upload
//!   is the id's manifest is removed.
//!
//! One narrow case is resolved the wrong way: a plain object's
//! `last_modified` is when its staged bytes were last written, not when it
//! was renamed into place. If a completion of the same id commits between
//! the end of a plain PUT's body and that PUT's commit, and the process dies
//! after the PUT's rename but before it removed the manifest, the start-up
//! sweep keeps the (older) composite.

use std::ops::Range;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::{map_err, obj_path, Blobs};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Prefix of a composite object's entity tag.
const ETAG_PREFIX: &str = "m-";

/// A composite object's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Format version (1).
    pub v: u32,
    /// The upload whose parts hold the bytes.
    pub upload: String,
    /// Total size.
    pub size: u64,
    /// Size of each part, part 1 first.
    pub parts: Vec<u64>,
}

impl Manifest {
    pub(crate) fn etag(&self) -> String {
        format!("{ETAG_PREFIX}{}", self.upload)
    }

    fn check(self) -> Option<Self> {
        let sum = self.parts.iter().try_fold(0u64, |a, p| a.checked_add(*p))?;
        let id_ok = self.upload.len() == 32 && self.upload.bytes().all(|b| b.is_ascii_hexdigit());
        (self.v == 1 && sum == self.size && id_ok).then_some(self)
    }
}

pub(crate) fn cmp_path(owner: &str, id: &str) -> Path {
    Path::from_iter(["cmp", owner, id])
}

pub(crate) fn cpt_dir(owner: &str, id: &str, upload_id: &str) -> Path {
    Path::from_iter(["cpt", owner, id, upload_id])
}

pub(crate) fn cpt_part(owner: &str, id: &str, upload_id: &str, n: usize) -> Path {
    cpt_dir(owner, id, upload_id).join(format!("part-{n:05}"))
}

/// Whether `etag` is a composite object's.
pub(crate) fn is_composite_etag(etag: Option<&str>) -> bool {
    etag.is_some_and(|e| e.starts_with(ETAG_PREFIX))
}

fn changed() -> ApiError {
    ApiError::new(ErrorCode::PreconditionFailed, "the object has changed")
}

fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl Blobs {
    /// The manifest of `owner/id` and its file's metadata, if composite.
    pub(crate) async fn manifest(
        &self,
        owner: &str,
        id: &str,
    ) -> ApiResult<Option<(Manifest, ObjectMeta)>> {
        let r = match self.store.get(&cmp_path(owner, id)).await {
            Ok(r) => r,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(ApiError::internal("manifest", e)),
        };
        let meta = r.meta.clone();
        let bytes = match r.bytes().await {
            Ok(b) => b,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(ApiError::internal("manifest", e)),
        };
        let m = serde_json::from_slice::<Manifest>(&bytes)
            .ok()
            .and_then(Manifest::check)
            .ok_or_else(|| {
                ApiError::internal("manifest", format!("{owner}/{id}: invalid manifest"))
            })?;
        Ok(Some((m, meta)))
    }

    /// Metadata of composite `owner/id`, answered as the object's.
    pub(crate) async fn head_composite(&self, owner: &str, id: &str) -> ApiResult<ObjectMeta> {
        let (m, file) = self
            .manifest(owner, id)
            .await?
            .ok_or_else(ApiError::no_such_key)?;
        Ok(ObjectMeta {
            location: obj_path(owner, id),
            last_modified: file.last_modified,
            size: m.size,
            e_tag: Some(m.etag()),
            version: None,
        })
    }

    /// Commit composite `owner/id` (its parts are in place). The caller
    /// holds the object's lock.
    pub(crate) async fn write_manifest(
        &self,
        owner: &str,
        id: &str,
        m: &Manifest,
    ) -> ApiResult<()> {
        let json = serde_json::to_vec(m).map_err(|e| ApiError::internal("manifest json", e))?;
        self.store
            .put(&cmp_path(owner, id), PutPayload::from(json))
            .await
            .map_err(|e| ApiError::internal("write manifest", e))?;
        Ok(())
    }

    /// Remove the files under `dir`; returns their bytes.
    pub(crate) async fn remove_dir(&self, dir: &Path) -> u64 {
        let metas: Vec<ObjectMeta> = match self.store.list(Some(dir)).try_collect().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("list {dir}: {e}");
                return 0;
            }
        };
        let mut bytes = 0;
        for m in metas {
            match self.store.delete(&m.location).await {
                Ok(()) => bytes += m.size,
                Err(e) if not_found(&e) => {}
                Err(e) => tracing::warn!("delete {}: {e}", m.location),
            }
        }
        bytes
    }

    /// Remove composite `owner/id`, manifest first, then its parts. Returns
    /// the parts' bytes removed, or `None` if it was not composite. The
    /// caller holds the object's lock.
    pub(crate) async fn remove_composite(&self, owner: &str, id: &str) -> ApiResult<Option<u64>> {
        let Some((m, _)) = self.manifest(owner, id).await? else {
            return Ok(None);
        };
        match self.store.delete(&cmp_path(owner, id)).await {
            Ok(()) => {}
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(ApiError::internal("delete manifest", e)),
        }
        Ok(Some(self.remove_dir(&cpt_dir(owner, id, &m.upload)).await))
    }

    /// Remove plain `owner/id`; returns its size if it existed. The caller
    /// holds the object's lock.
    pub(crate) async fn remove_plain(&self, owner: &str, id: &str) -> ApiResult<Option<u64>> {
        let path = obj_path(owner, id);
        let size = match self.store.head(&path).await {
            Ok(m) => m.size,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(ApiError::internal("head", e)),
        };
        match self.store.delete(&path).await {
            Ok(()) => Ok(Some(size)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(ApiError::internal("delete", e)),
        }
    }

    /// Stream `range` of `owner/id`, which must still be the version `meta`
    /// describes (as answered by [`Blobs::head`]); `PreconditionFailed` if
    /// it was replaced meanwhile.
    pub async fn read(
        &self,
        owner: &str,
        id: &str,
        meta: &ObjectMeta,
        range: Range<u64>,
    ) -> ApiResult<BoxStream<'static, object_store::Result<Bytes>>> {
        if !is_composite_etag(meta.e_tag.as_deref()) {
            let opts = GetOptions {
                if_match: meta.e_tag.clone(),
                range: Some(GetRange::Bounded(range)),
                ..Default::default()
            };
            return match self.store.get_opts(&obj_path(owner, id), opts).await {
                Ok(got) => Ok(got.into_stream()),
                // Replaced by a composite since: answered as a change.
                Err(e) if not_found(&e) && self.manifest(owner, id).await?.is_some() => {
                    Err(changed())
                }
                Err(e) => Err(map_err(e, "get", ApiError::no_such_key)),
            };
        }
        // A plain object wins over a composite (a replace in progress).
        match self.store.head(&obj_path(owner, id)).await {
            Ok(_) => return Err(changed()),
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(ApiError::internal("head", e)),
        }
        let (m, _) = self.manifest(owner, id).await?.ok_or_else(changed)?;
        if meta.e_tag.as_deref() != Some(m.etag().as_str()) {
            return Err(changed());
        }
        if range.end > m.size {
            return Err(ApiError::internal("read", "range beyond the object"));
        }
        let mut segments = Vec::new();
        let mut offset = 0u64;
        for (i, size) in m.parts.iter().enumerate() {
            let (start, end) = (offset, offset + size);
            offset = end;
            let (s, e) = (range.start.max(start), range.end.min(end));
            if s < e {
                segments.push((cpt_part(owner, id, &m.upload, i + 1), s - start..e - start));
            }
        }
        let mut segments = segments.into_iter();
        let Some((first, first_range)) = segments.next() else {
            return Ok(futures_util::stream::empty().boxed());
        };
        // The first part is opened now, so a replace that removed the parts
        // is answered as one; the others are opened as the body is sent.
        let first = get_part(self.store.clone(), first, first_range)
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => changed(),
                e => ApiError::internal("read part", e),
            })?;
        let store = self.store.clone();
        let rest = futures_util::stream::iter(segments)
            .then(move |(p, r)| get_part(store.clone(), p, r))
            .try_flatten();
        Ok(first.chain(rest).boxed())
    }
}

/// Open `range` of part `path`, checking the part holds all of it.
async fn get_part(
    store: std::sync::Arc<dyn ObjectStore>,
    path: Path,
    range: Range<u64>,
) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
    let opts = GetOptions {
        range: Some(GetRange::Bounded(range.clone())),
        ..Default::default()
    };
    let got = store.get_opts(&path, opts).await?;
    if got.range != range {
        return Err(object_store::Error::Generic {
            store: "composite",
            source: format!("{path}: the part is shorter than its manifest says").into(),
        });
    }
    Ok(got.into_stream())
}

/// At start-up: remove `cpt/` directories no manifest names (a crash during
/// completion), and resolve ids that are both plain and composite (a crash
/// during a replace) in favour of the newer form. Returns how many leftovers
/// were removed.
pub(super) async fn sweep(blobs: &Blobs) -> ApiResult<usize> {
    let mut removed = 0;
    // Both forms: keep the newer.
    let manifests = blobs.list_all(&Path::from("cmp"), "sweep").await?;
    for m in manifests {
        let parts: Vec<String> = m.location.parts().map(|p| p.as_ref().to_string()).collect();
        let [_, owner, id] = parts.as_slice() else {
            continue;
        };
        let plain = match blobs.store.head(&obj_path(owner, id)).await {
            Ok(p) => p,
            Err(e) if not_found(&e) => continue,
            Err(e) => return Err(ApiError::internal("sweep", e)),
        };
        // A tie goes to the plain form, which readers were shown.
        let r = if plain.last_modified >= m.last_modified {
            blobs.remove_composite(owner, id).await.map(|_| ())
        } else {
            blobs.remove_plain(owner, id).await.map(|_| ())
        };
        match r {
            Ok(()) => removed += 1,
            // Readers keep preferring the plain form; the next start retries.
            Err(e) => tracing::warn!("sweep {owner}/{id}: {e:?}"),
        }
    }
    // Part directories no manifest names.
    let files = blobs.list_all(&Path::from("cpt"), "sweep").await?;
    let mut dirs: Vec<(String, String, String)> = files
        .iter()
        .filter_map(|f| {
            let p: Vec<String> = f.location.parts().map(|p| p.as_ref().to_string()).collect();
            match p.as_slice() {
                [_, owner, id, upload, _] => Some((owner.clone(), id.clone(), upload.clone())),
                _ => None,
            }
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    for (owner, id, upload) in dirs {
        let live = match blobs.manifest(&owner, &id).await {
            Ok(Some((m, _))) => m.upload == upload,
            Ok(None) => false,
            // An unreadable manifest: keep its parts, and say so.
            Err(e) => {
                tracing::warn!("sweep {owner}/{id}: {e}");
                true
            }
        };
        if !live {
            blobs.remove_dir(&cpt_dir(&owner, &id, &upload)).await;
            removed += 1;
        }
    }
    Ok(removed)
}
