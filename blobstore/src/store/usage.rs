//! Per-user byte accounting. A user's usage is loaded once from a listing
//! (plain objects, and the parts of uploads and of composite objects), then kept up to date: writes reserve bytes
//! as they stream in, a [`Reservation`] releases them if the write fails, and
//! deletions and replacements release the old sizes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use object_store::path::Path;

use super::Blobs;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Bytes used, per user.
#[derive(Default)]
pub struct Usage {
    used: Mutex<HashMap<String, u64>>,
}

impl Usage {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Usage of `owner`, loading it on first use.
    pub async fn used(&self, blobs: &Blobs, owner: &str) -> ApiResult<u64> {
        if let Some(u) = self.map().get(owner) {
            return Ok(*u);
        }
        let mut total = 0u64;
        // Plain objects, open uploads' parts and composite objects' parts
        // (manifests are not counted).
        for top in ["obj", "mpu", "cpt"] {
            let prefix = Path::from_iter([top, owner]);
            let mut s = blobs.store.list(Some(&prefix));
            while let Some(m) = s
                .try_next()
                .await
                .map_err(|e| ApiError::internal("list usage", e))?
            {
                if top == "obj" || m.location.filename() != Some("upload.json") {
                    total += m.size;
                }
            }
        }
        // A concurrent first use may have won; keep its value.
        Ok(*self.map().entry(owner.to_string()).or_insert(total))
    }

    /// Give back `bytes` of `owner`.
    pub fn release(&self, owner: &str, bytes: u64) {
        if let Some(u) = self.map().get_mut(owner) {
            *u = u.saturating_sub(bytes);
        }
    }

    fn try_add(&self, owner: &str, bytes: u64, quota: u64) -> bool {
        let mut map = self.map();
        let u = map.entry(owner.to_string()).or_insert(0);
        match u.checked_add(bytes) {
            Some(n) if n <= quota => {
                *u = n;
                true
            }
            _ => false,
        }
    }
}

/// Bytes reserved for a write in progress; released on drop unless kept.
pub struct Reservation {
    blobs: Arc<Blobs>,
    owner: String,
    bytes: u64,
}

impl Reservation {
    /// An empty reservation for `owner` (loads its usage).
    pub async fn new(blobs: &Arc<Blobs>, owner: &str) -> ApiResult<Self> {
        blobs.usage.used(blobs, owner).await?;
        Ok(Self {
            blobs: blobs.clone(),
            owner: owner.to_string(),
            bytes: 0,
        })
    }

    /// Make sure at least `total` bytes are reserved, or `QuotaExceeded`.
    pub fn ensure(&mut self, total: u64) -> ApiResult<()> {
        if total <= self.bytes {
            return Ok(());
        }
        let quota = self.blobs.limits.quota_of(&self.owner);
        if !self
            .blobs
            .usage
            .try_add(&self.owner, total - self.bytes, quota)
        {
            return Err(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!("the quota of {quota} bytes would be exceeded"),
            ));
        }
        self.bytes = total;
        Ok(())
    }

    /// Release anything above `total`.
    pub fn shrink_to(&mut self, total: u64) {
        if total < self.bytes {
            self.blobs.usage.release(&self.owner, self.bytes - total);
            self.bytes = total;
        }
    }

    /// Keep the bytes charged (the write was committed).
    pub fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.blobs.usage.release(&self.owner, self.bytes);
        }
    }
}
