//! Streaming writes: the request body goes to the store chunk by chunk
//! (never buffered whole), checked against the size limit and charged to the
//! quota as it arrives. Nothing is visible until [`Staged::commit`]; a failed
//! or dropped write removes its staged data.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutResult, WriteMultipart};

use super::{Blobs, Reservation};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Bytes handed to the store per part write.
const CHUNK: usize = 4 << 20;
/// Part writes in flight per upload (bounds memory to ~3 chunks).
const CONCURRENCY: usize = 2;

/// A write whose bytes are staged but not yet visible.
pub struct Staged {
    upload: WriteMultipart,
    /// Bytes written.
    pub size: u64,
    /// The quota charge.
    pub reservation: Reservation,
}

impl Staged {
    /// Publish atomically.
    pub async fn commit(self) -> ApiResult<(PutResult, Reservation)> {
        let put = self
            .upload
            .finish()
            .await
            .map_err(|e| ApiError::internal("complete write", e))?;
        Ok((put, self.reservation))
    }

    /// Remove the staged data.
    pub async fn abort(self) {
        if let Err(e) = self.upload.abort().await {
            tracing::warn!("abort write: {e}");
        }
    }
}

/// What a write may not exceed.
pub struct SizeLimit {
    /// Largest size for this write.
    pub max: u64,
    /// The message when exceeded.
    pub message: String,
}

impl Blobs {
    /// Start a staged write at `path`.
    pub(crate) async fn begin(&self, path: &Path) -> ApiResult<WriteMultipart> {
        let upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(|e| ApiError::internal("begin write", e))?;
        Ok(WriteMultipart::new_with_chunk_size(upload, CHUNK))
    }

    /// Stream `body` into a staged write at `path`, charging `reservation`.
    /// On any error the staged data is removed and the reservation released.
    pub(crate) async fn stage<S, E>(
        &self,
        path: &Path,
        body: &mut S,
        mut reservation: Reservation,
        limit: SizeLimit,
    ) -> ApiResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut upload = self.begin(path).await?;
        let mut size = 0u64;
        let result: ApiResult<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::new(
                        ErrorCode::IncompleteBody,
                        format!("the request body could not be read: {e}"),
                    )
                })?;
                size += chunk.len() as u64;
                if size > limit.max {
                    return Err(ApiError::new(ErrorCode::ObjectTooLarge, &limit.message));
                }
                reservation.ensure(size)?;
                upload
                    .wait_for_capacity(CONCURRENCY)
                    .await
                    .map_err(|e| ApiError::internal("write", e))?;
                upload.put(chunk);
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                reservation.shrink_to(size);
                Ok(Staged {
                    upload,
                    size,
                    reservation,
                })
            }
            Err(e) => {
                if let Err(e) = upload.abort().await {
                    tracing::warn!("abort write: {e}");
                }
                Err(e)
            }
        }
    }
}

/// A committed object.
#[derive(Debug, Clone)]
pub struct Written {
    /// Its size.
    pub size: u64,
    /// Its entity tag.
    pub etag: Option<String>,
}

impl Blobs {
    /// Write `owner/id` from `body` (of `content_length` bytes, if known),
    /// replacing any previous object (plain or composite) atomically. The
    /// ACL is kept.
    pub async fn put<S, E>(
        self: &std::sync::Arc<Self>,
        owner: &str,
        id: &str,
        body: &mut S,
        content_length: Option<u64>,
    ) -> ApiResult<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let max = self.limits.max_object_bytes;
        let too_large = format!("objects are limited to {max} bytes");
        if content_length.is_some_and(|n| n > max) {
            return Err(ApiError::new(ErrorCode::ObjectTooLarge, too_large));
        }
        let mut reservation = Reservation::new(self, owner).await?;
        if let Some(n) = content_length {
            reservation.ensure(n)?;
        }
        let path = super::obj_path(owner, id);
        let staged = self
            .stage(
                &path,
                body,
                reservation,
                SizeLimit {
                    max,
                    message: too_large,
                },
            )
            .await?;
        let size = staged.size;
        let _g = self.locks.lock(path.as_ref()).await;
        let old = match self.store.head(&path).await {
            Ok(m) => Some(m.size),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => {
                staged.abort().await;
                return Err(ApiError::internal("head", e));
            }
        };
        let (put, reservation) = staged.commit().await?;
        reservation.keep();
        if let Some(old) = old {
            self.usage.release(owner, old);
        }
        // A composite object replaced: the plain one is committed and read
        // first, so its manifest and parts go now.
        match self.remove_composite(owner, id).await {
            Ok(Some(bytes)) => self.usage.release(owner, bytes),
            Ok(None) => {}
            Err(e) => tracing::warn!("replaced composite {owner}/{id}: {e:?}"),
        }
        Ok(Written {
            size,
            etag: put.e_tag,
        })
    }
}
