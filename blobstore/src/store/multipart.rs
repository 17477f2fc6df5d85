//! S3-style multipart uploads. Each part is an object of its own
//! (`mpu/{owner}/{uploadId}/part-NNNNN`), written atomically, so a part that
//! was cut off is simply absent and a re-upload replaces it; a client
//! resumes by listing the parts it already has. Completion moves the parts
//! under the object's name and commits a manifest: a composite object (see
//! the `composite` module), with no byte copied.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::composite::{cpt_dir, cpt_part, Manifest};
use super::write::{SizeLimit, Written};
use super::{map_err, obj_path, Blobs, Reservation};
use crate::error::{ApiError, ApiResult, ErrorCode};

#[derive(Debug, Serialize, Deserialize)]
struct UploadRecord {
    id: String,
    created: i64,
}

/// An open multipart upload.
#[derive(Debug, Clone)]
pub struct UploadInfo {
    /// The upload id.
    pub upload_id: String,
    /// The object id it will create.
    pub id: String,
    /// When it was created (Unix seconds).
    pub created: i64,
}

/// An uploaded part.
#[derive(Debug, Clone)]
pub struct PartInfo {
    /// Its number (1-based).
    pub number: u32,
    /// Its size.
    pub size: u64,
    /// Its entity tag.
    pub etag: Option<String>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn dir(owner: &str, upload_id: &str) -> Path {
    Path::from_iter(["mpu", owner, upload_id])
}

fn record_path(owner: &str, upload_id: &str) -> Path {
    dir(owner, upload_id).join("upload.json")
}

fn part_path(owner: &str, upload_id: &str, n: u32) -> Path {
    dir(owner, upload_id).join(format!("part-{n:05}"))
}

fn part_number(m: &ObjectMeta) -> Option<u32> {
    m.location.filename()?.strip_prefix("part-")?.parse().ok()
}

fn no_upload() -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchUpload,
        "the multipart upload does not exist",
    )
}

fn lock_key(owner: &str, upload_id: &str) -> String {
    format!("mpu/{owner}/{upload_id}")
}

impl Blobs {
    /// Open a multipart upload for `owner/id`.
    pub async fn create_upload(&self, owner: &str, id: &str) -> ApiResult<String> {
        let mut raw = [0u8; 16];
        getrandom::getrandom(&mut raw).map_err(|e| ApiError::internal("random", e))?;
        let upload_id = hex::encode(raw);
        let rec = UploadRecord {
            id: id.to_string(),
            created: now(),
        };
        let json = serde_json::to_vec(&rec).map_err(|e| ApiError::internal("json", e))?;
        self.store
            .put(&record_path(owner, &upload_id), PutPayload::from(json))
            .await
            .map_err(|e| ApiError::internal("create upload", e))?;
        Ok(upload_id)
    }

    async fn load_upload(&self, owner: &str, id: &str, upload_id: &str) -> ApiResult<()> {
        if upload_id.len() != 32 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(no_upload());
        }
        let r = self
            .store
            .get(&record_path(owner, upload_id))
            .await
            .map_err(|e| map_err(e, "upload", no_upload))?;
        let bytes = r
            .bytes()
            .await
            .map_err(|e| ApiError::internal("upload", e))?;
        let rec: UploadRecord =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::internal("upload json", e))?;
        if rec.id != id {
            return Err(no_upload());
        }
        Ok(())
    }

    async fn part_metas(
        &self,
        owner: &str,
        upload_id: &str,
    ) -> ApiResult<BTreeMap<u32, ObjectMeta>> {
        let d = dir(owner, upload_id);
        let metas = self.list_all(&d, "list parts").await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| part_number(&m).map(|n| (n, m)))
            .collect())
    }

    /// The parts uploaded so far, by number.
    pub async fn list_parts(
        &self,
        owner: &str,
        id: &str,
        upload_id: &str,
    ) -> ApiResult<Vec<PartInfo>> {
        self.load_upload(owner, id, upload_id).await?;
        Ok(self
            .part_metas(owner, upload_id)
            .await?
            .into_iter()
            .map(|(number, m)| PartInfo {
                number,
                size: m.size,
                etag: m.e_tag,
            })
            .collect())
    }

    /// Upload (or replace) part `number`.
    pub async fn put_part<S, E>(
        self: &Arc<Self>,
        owner: &str,
        id: &str,
        upload_id: &str,
        number: u32,
        body: &mut S,
        content_length: Option<u64>,
    ) -> ApiResult<PartInfo>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if number == 0 || number > self.limits.max_parts {
            return Err(ApiError::invalid(format!(
                "partNumber must be 1 to {}",
                self.limits.max_parts
            )));
        }
        self.load_upload(owner, id, upload_id).await?;
        let others: u64 = self
            .part_metas(owner, upload_id)
            .await?
            .iter()
            .filter(|(n, _)| **n != number)
            .map(|(_, m)| m.size)
            .sum();
        let max_obj = self.limits.max_object_bytes;
        let limit = SizeLimit {
            max: max_obj.saturating_sub(others),
            message: format!("objects are limited to {max_obj} bytes, counting all parts"),
        };
        if content_length == Some(0) {
            return Err(ApiError::invalid("a part holds at least 1 byte"));
        }
        if content_length.is_some_and(|n| n > limit.max) {
            return Err(ApiError::new(ErrorCode::ObjectTooLarge, limit.message));
        }
        let mut reservation = Reservation::new(self, owner).await?;
        if let Some(n) = content_length {
            reservation.ensure(n)?;
        }
        let path = part_path(owner, upload_id, number);
        let staged = self.stage(&path, body, reservation, limit).await?;
        let size = staged.size;
        if size == 0 {
            staged.abort().await;
            return Err(ApiError::invalid("a part holds at least 1 byte"));
        }
        let _g = self.locks.lock(&lock_key(owner, upload_id)).await;
        // Completed or aborted while this part was streaming.
        if let Err(e) = self.load_upload(owner, id, upload_id).await {
            staged.abort().await;
            return Err(e);
        }
        let old = self.store.head(&path).await.ok().map(|m| m.size);
        let (put, reservation) = staged.commit().await?;
        reservation.keep();
        if let Some(old) = old {
            self.usage.release(owner, old);
        }
        Ok(PartInfo {
            number,
            size,
            etag: put.e_tag,
        })
    }

    /// Make parts 1..=n the composite object `owner/id` (moved, not
    /// copied; see the `composite` module). When `expected` is given (part
    /// number and entity tag), the uploaded parts must match it exactly.
    pub async fn complete_upload(
        self: &Arc<Self>,
        owner: &str,
        id: &str,
        upload_id: &str,
        expected: Option<Vec<(u32, Option<String>)>>,
    ) -> ApiResult<Written> {
        let _g = self.locks.lock(&lock_key(owner, upload_id)).await;
        self.load_upload(owner, id, upload_id).await?;
        let parts = self.part_metas(owner, upload_id).await?;
        if parts.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidPart,
                "no part was uploaded",
            ));
        }
        if let Some((gap, _)) = parts
            .keys()
            .enumerate()
            .find(|(i, n)| **n as usize != i + 1)
        {
            return Err(ApiError::new(
                ErrorCode::InvalidPart,
                format!("part {} is missing", gap + 1),
            ));
        }
        if let Some(exp) = expected {
            let same = exp.len() == parts.len()
                && exp.iter().zip(parts.iter()).all(|((en, et), (n, m))| {
                    let unquote = |e: &str| e.trim_matches('"').to_string();
                    en == n
                        && (et.is_none()
                            || et.as_deref().map(unquote) == m.e_tag.as_deref().map(unquote))
                });
            if !same {
                return Err(ApiError::new(
                    ErrorCode::InvalidPart,
                    "the parts listed do not match the parts uploaded",
                ));
            }
        }
        let total: u64 = parts.values().map(|m| m.size).sum();
        if total > self.limits.max_object_bytes {
            return Err(ApiError::new(
                ErrorCode::ObjectTooLarge,
                format!(
                    "objects are limited to {} bytes",
                    self.limits.max_object_bytes
                ),
            ));
        }
        // Move the parts into place: O(1) each on a local disk, and nothing
        // is visible until the manifest is written.
        let mut moved: Vec<(&Path, Path)> = Vec::with_capacity(parts.len());
        for (n, m) in &parts {
            let to = cpt_part(owner, id, upload_id, *n as usize);
            if let Err(e) = self.store.rename(&m.location, &to).await {
                self.unmove(&moved).await;
                return Err(ApiError::internal("move part", e));
            }
            moved.push((&m.location, to));
        }
        let manifest = Manifest {
            v: 1,
            upload: upload_id.to_string(),
            size: total,
            parts: parts.values().map(|m| m.size).collect(),
        };
        let path = obj_path(owner, id);
        let _o = self.locks.lock(path.as_ref()).await;
        let old = match self.manifest(owner, id).await {
            Ok(old) => old.map(|(m, _)| m.upload),
            Err(e) => {
                self.unmove(&moved).await;
                return Err(e);
            }
        };
        if let Err(e) = self.write_manifest(owner, id, &manifest).await {
            self.unmove(&moved).await;
            return Err(e);
        }
        // Committed. The parts' bytes are now the object's: usage is
        // unchanged, except for the object replaced (plain, or the parts of
        // the composite it was).
        match self.remove_plain(owner, id).await {
            Ok(Some(size)) => self.usage.release(owner, size),
            Ok(None) => {}
            Err(e) => tracing::warn!("replaced {owner}/{id}: {e:?}"),
        }
        if let Some(old) = old {
            let bytes = self.remove_dir(&cpt_dir(owner, id, &old)).await;
            self.usage.release(owner, bytes);
        }
        self.remove_upload_files(owner, upload_id, false).await;
        Ok(Written {
            size: total,
            etag: Some(manifest.etag()),
        })
    }

    /// Put moved parts back where they were (a completion that failed).
    async fn unmove(&self, moved: &[(&Path, Path)]) {
        for (from, to) in moved {
            if let Err(e) = self.store.rename(to, from).await {
                tracing::warn!("move part back: {e}");
            }
        }
    }

    /// Abort: remove the upload and its parts, releasing their bytes.
    pub async fn abort_upload(&self, owner: &str, id: &str, upload_id: &str) -> ApiResult<()> {
        let _g = self.locks.lock(&lock_key(owner, upload_id)).await;
        self.load_upload(owner, id, upload_id).await?;
        self.remove_upload_files(owner, upload_id, true).await;
        Ok(())
    }

    /// Delete the record first (the upload is then gone), then the parts.
    async fn remove_upload_files(&self, owner: &str, upload_id: &str, release: bool) {
        if let Err(e) = self.store.delete(&record_path(owner, upload_id)).await {
            tracing::warn!("delete upload record: {e}");
        }
        if let Ok(parts) = self.part_metas(owner, upload_id).await {
            for m in parts.values() {
                match self.store.delete(&m.location).await {
                    Ok(()) if release => self.usage.release(owner, m.size),
                    Ok(()) => {}
                    Err(e) => tracing::warn!("delete part: {e}"),
                }
            }
        }
    }

    /// Open uploads of `owner`.
    pub async fn list_uploads(&self, owner: &str) -> ApiResult<Vec<UploadInfo>> {
        let prefix = Path::from_iter(["mpu", owner]);
        let metas = self.list_all(&prefix, "list uploads").await?;
        let mut out = Vec::new();
        for m in metas
            .iter()
            .filter(|m| m.location.filename() == Some("upload.json"))
        {
            let Some(upload_id) = m.location.parts().nth(2) else {
                continue;
            };
            let Ok(r) = self.store.get(&m.location).await else {
                continue;
            };
            let Ok(bytes) = r.bytes().await else { continue };
            if let Ok(rec) = serde_json::from_slice::<UploadRecord>(&bytes) {
                out.push(UploadInfo {
                    upload_id: upload_id.as_ref().to_string(),
                    id: rec.id,
                    created: rec.created,
                });
            }
        }
        out.sort_by(|a, b| (&a.id, a.created).cmp(&(&b.id, b.created)));
        Ok(out)
    }
}

/// Remove orphaned parts and uploads older than `expire_secs`.
pub(super) async fn sweep(blobs: &Blobs, expire_secs: u64) -> ApiResult<usize> {
    let metas = blobs.list_all(&Path::from("mpu"), "sweep").await?;
    let mut dirs: BTreeMap<Path, (bool, Vec<Path>)> = BTreeMap::new();
    let cutoff = now().saturating_sub(expire_secs as i64);
    for m in metas {
        let Some(parent) = m.location.parent() else {
            continue;
        };
        let e = dirs.entry(parent).or_default();
        if m.location.filename() == Some("upload.json") {
            e.0 = m.last_modified.timestamp() >= cutoff;
        }
        e.1.push(m.location);
    }
    let mut removed = 0;
    for (dir, (live, files)) in dirs {
        if live && !completed(blobs, &dir).await {
            continue;
        }
        removed += 1;
        // The record first: the upload is then gone even if a part delete fails.
        let (records, parts): (Vec<Path>, Vec<Path>) = files
            .into_iter()
            .partition(|f| f.filename() == Some("upload.json"));
        for f in records.iter().chain(parts.iter()) {
            if let Err(e) = blobs.store.delete(f).await {
                tracing::warn!("sweep {f}: {e}");
            }
        }
    }
    Ok(removed)
}

/// Whether the upload in `dir` (`mpu/{owner}/{uploadId}`) is the manifest of
/// its object: completed, with a crash before its record was removed.
async fn completed(blobs: &Blobs, dir: &Path) -> bool {
    let parts: Vec<String> = dir.parts().map(|p| p.as_ref().to_string()).collect();
    let [_, owner, upload_id] = parts.as_slice() else {
        return false;
    };
    let Ok(r) = blobs.store.get(&record_path(owner, upload_id)).await else {
        return false;
    };
    let Ok(bytes) = r.bytes().await else {
        return false;
    };
    let Ok(rec) = serde_json::from_slice::<UploadRecord>(&bytes) else {
        return false;
    };
    matches!(blobs.manifest(owner, &rec.id).await, Ok(Some((m, _))) if &m.upload == upload_id)
}
