//! Sharing: a sidecar ACL object per shared object (`acl/{owner}/{id}`,
//! `{"readers": [...]}`), and an inbox marker per reader so a reader can
//! list what was shared with them. The ACL is authoritative; the inbox is
//! an index checked against it.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::{acl_path, inbox_path, obj_path, Blobs};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Acl {
    readers: Vec<String>,
}

/// An object shared with the caller.
#[derive(Debug, Clone)]
pub struct SharedEntry {
    /// Its owner.
    pub owner: String,
    /// Its id.
    pub id: String,
    /// Its metadata.
    pub meta: ObjectMeta,
}

impl Blobs {
    async fn read_acl(&self, owner: &str, id: &str) -> ApiResult<Acl> {
        match self.store.get(&acl_path(owner, id)).await {
            Ok(r) => {
                let bytes = r.bytes().await.map_err(|e| ApiError::internal("acl", e))?;
                serde_json::from_slice(&bytes).map_err(|e| ApiError::internal("acl json", e))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(Acl::default()),
            Err(e) => Err(ApiError::internal("acl", e)),
        }
    }

    async fn write_acl(&self, owner: &str, id: &str, acl: &Acl) -> ApiResult<()> {
        let path = acl_path(owner, id);
        if acl.readers.is_empty() {
            return match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(ApiError::internal("acl delete", e)),
            };
        }
        let json = serde_json::to_vec(acl).map_err(|e| ApiError::internal("acl json", e))?;
        self.store
            .put(&path, PutPayload::from(json))
            .await
            .map_err(|e| ApiError::internal("acl write", e))?;
        Ok(())
    }

    /// The readers `owner` shared `id` with.
    pub async fn readers(&self, owner: &str, id: &str) -> ApiResult<Vec<String>> {
        Ok(self.read_acl(owner, id).await?.readers)
    }

    /// Whether `user` may read `owner/id` (the owner, or a listed reader).
    pub async fn can_read(&self, user: &str, owner: &str, id: &str) -> ApiResult<bool> {
        Ok(user == owner
            || self
                .read_acl(owner, id)
                .await?
                .readers
                .iter()
                .any(|r| r == user))
    }

    /// Let `reader` read `owner/id` (which must exist).
    pub async fn share(&self, owner: &str, id: &str, reader: &str) -> ApiResult<Vec<String>> {
        let path = obj_path(owner, id);
        let _g = self.locks.lock(path.as_ref()).await;
        self.head(owner, id).await?;
        let mut acl = self.read_acl(owner, id).await?;
        if !acl.readers.iter().any(|r| r == reader) {
            acl.readers.push(reader.to_string());
            acl.readers.sort();
            self.write_acl(owner, id, &acl).await?;
        }
        self.store
            .put(&inbox_path(reader, owner, id), PutPayload::new())
            .await
            .map_err(|e| ApiError::internal("inbox", e))?;
        Ok(acl.readers)
    }

    /// Stop sharing `owner/id` with `reader`.
    pub async fn unshare(&self, owner: &str, id: &str, reader: &str) -> ApiResult<Vec<String>> {
        let path = obj_path(owner, id);
        let _g = self.locks.lock(path.as_ref()).await;
        let mut acl = self.read_acl(owner, id).await?;
        acl.readers.retain(|r| r != reader);
        self.write_acl(owner, id, &acl).await?;
        self.remove_marker(reader, owner, id).await;
        Ok(acl.readers)
    }

    async fn remove_marker(&self, reader: &str, owner: &str, id: &str) {
        match self.store.delete(&inbox_path(reader, owner, id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!("inbox delete: {e}"),
        }
    }

    /// Remove the ACL and markers of a deleted object (caller holds the lock).
    pub(crate) async fn drop_acl(&self, owner: &str, id: &str) {
        let readers = match self.read_acl(owner, id).await {
            Ok(a) => a.readers,
            Err(e) => {
                tracing::warn!("acl of deleted {owner}/{id}: {e}");
                return;
            }
        };
        for r in &readers {
            self.remove_marker(r, owner, id).await;
        }
        if let Err(e) = self.write_acl(owner, id, &Acl::default()).await {
            tracing::warn!("acl of deleted {owner}/{id}: {e}");
        }
    }

    /// Objects shared with `reader` that still exist and still list them.
    pub async fn shared_with(self: &Arc<Self>, reader: &str) -> ApiResult<Vec<SharedEntry>> {
        let prefix = Path::from_iter(["inbox", reader]);
        let markers = self.list_all(&prefix, "inbox list").await?;
        let mut out = Vec::new();
        for m in markers {
            let parts: Vec<String> = m.location.parts().map(|p| p.as_ref().to_string()).collect();
            let [_, _, owner, id] = parts.as_slice() else {
                continue;
            };
            if !self.can_read(reader, owner, id).await? {
                continue;
            }
            if let Ok(meta) = self.head(owner, id).await {
                out.push(SharedEntry {
                    owner: owner.clone(),
                    id: id.clone(),
                    meta,
                });
            }
        }
        out.sort_by(|a, b| (&a.owner, &a.id).cmp(&(&b.owner, &b.id)));
        Ok(out)
    }
}
