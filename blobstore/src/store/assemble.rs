//! Completing a multipart upload on the local file system: the parts are
//! joined into a staging file next to the object with `std::io::copy`, which
//! on Linux is `copy_file_range` (the kernel copies page to page; nothing
//! passes through this process), synced when the store syncs, and renamed
//! into place: the object is either absent or complete, as with every other
//! write. The staging file is named `name#N` like the backend's own, so
//! [`super::remove_stale_staging_files`] removes it after a crash.
//!
//! On this machine that takes 1 GiB from 1.2 s (streamed through
//! `object_store`) to about 0.65 s (0.26 s copy + 0.39 s fsync), and frees
//! the CPU the copy loop used. Other backends keep the streamed copy.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path as FsPath, PathBuf};

use object_store::path::Path;

/// The directory a `LocalFileSystem` store keeps its files in.
#[derive(Debug, Clone)]
pub(crate) struct LocalRoot {
    pub(crate) root: PathBuf,
    pub(crate) fsync: bool,
}

impl LocalRoot {
    /// The file of a store path (valid names only: `[A-Za-z0-9._-]`
    /// segments, which the backend maps one to one).
    pub(crate) fn file(&self, p: &Path) -> PathBuf {
        let mut f = self.root.clone();
        for part in p.parts() {
            f.push(part.as_ref());
        }
        f
    }

    /// Join `parts` (in order) into `target`, atomically. Returns the size.
    pub(crate) fn join(&self, parts: &[PathBuf], target: &FsPath) -> io::Result<u64> {
        let dir = target
            .parent()
            .ok_or_else(|| io::Error::other("the object has no directory"))?;
        std::fs::create_dir_all(dir)?;
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::other("the object has no name"))?;
        let mut staged = dir.to_path_buf();
        let mut n = [0u8; 8];
        getrandom::getrandom(&mut n).map_err(io::Error::other)?;
        staged.push(format!(
            "{}#{}",
            name.to_string_lossy(),
            u64::from_le_bytes(n) % 1_000_000_000_000
        ));
        let result = (|| {
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&staged)?;
            let mut total = 0u64;
            for p in parts {
                total += io::copy(&mut File::open(p)?, &mut out)?;
            }
            if self.fsync {
                out.sync_all()?;
            }
            drop(out);
            std::fs::rename(&staged, target)?;
            if self.fsync {
                File::open(dir)?.sync_all()?;
            }
            Ok(total)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&staged);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_in_order_and_leaves_no_staging_file() {
        let d = tempfile::tempdir().unwrap();
        let r = LocalRoot {
            root: d.path().to_path_buf(),
            fsync: true,
        };
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::write(&a, vec![1u8; 100_000]).unwrap();
        std::fs::write(&b, b"tail").unwrap();
        let target = r.file(&Path::from_iter(["obj", "alice", "x.d"]));
        assert_eq!(r.join(&[a.clone(), b.clone()], &target).unwrap(), 100_004);
        let got = std::fs::read(&target).unwrap();
        assert_eq!(&got[..100_000], &vec![1u8; 100_000][..]);
        assert_eq!(&got[100_000..], b"tail");
        // Replacing an object is atomic too; a missing part fails and leaves the old one.
        assert!(r
            .join(&[b.clone(), d.path().join("missing")], &target)
            .is_err());
        assert_eq!(std::fs::read(&target).unwrap().len(), 100_004);
        let names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["x.d"]);
    }
}
