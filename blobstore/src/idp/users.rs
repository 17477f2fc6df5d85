//! The users file: `{"users": {"alice": {"argon2id": "$argon2id$..."}}}`,
//! written atomically (temporary file, then rename) with mode 0600.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::config::Argon2Config;

/// One user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The PHC-format Argon2id hash of the password.
    pub argon2id: String,
    /// When the password was set (Unix seconds).
    #[serde(default)]
    pub created: i64,
}

/// The file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// By name.
    pub users: BTreeMap<String, User>,
}

fn argon2(cfg: &Argon2Config) -> Result<Argon2<'static>, String> {
    let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
        .map_err(|e| format!("argon2: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC Argon2id hash of `password` with a fresh random salt.
pub fn hash_password(password: &str, cfg: &Argon2Config) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| format!("random: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| format!("salt: {e}"))?;
    argon2(cfg)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Whether `password` matches the PHC `hash` (which must be Argon2id).
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A random password: 20 characters from a 32-letter alphabet without
/// look-alikes (100 bits), in groups of five.
pub fn generate_password() -> Result<Zeroizing<String>, String> {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut raw = Zeroizing::new([0u8; 20]);
    getrandom::getrandom(&mut raw[..]).map_err(|e| format!("random: {e}"))?;
    let mut s = Zeroizing::new(String::with_capacity(23));
    for (i, b) in raw.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            s.push('-');
        }
        s.push(ALPHABET[(b & 31) as usize] as char);
    }
    Ok(s)
}

impl Users {
    /// Read `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Write `path` atomically, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        write_private(path, &json)
    }
}

/// Write `bytes` to `path` through a temporary file and a rename, mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(err)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verify_and_file_round_trip() {
        let cfg = Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let pw = generate_password().unwrap();
        assert_eq!(pw.len(), 23);
        assert_ne!(*pw, *generate_password().unwrap());
        let h = hash_password(&pw, &cfg).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify_password(&pw, &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password(&pw, "not a hash"));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("users.json");
        let mut u = Users::load(&p).unwrap();
        assert!(u.users.is_empty());
        u.users.insert(
            "alice".into(),
            User {
                argon2id: h.clone(),
                created: 1,
            },
        );
        u.save(&p).unwrap();
        assert_eq!(Users::load(&p).unwrap().users["alice"].argon2id, h);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
