//! The `kms-blobstore` configuration (TOML). Relative paths are resolved
//! against the configuration file's directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The listen address; port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where objects live (created if missing).
    pub data_dir: PathBuf,
    /// fsync files and directories before a write is acknowledged.
    #[serde(default = "yes")]
    pub fsync: bool,
    /// Token verification.
    pub jwt: JwtConfig,
    /// Quotas and sizes.
    #[serde(default)]
    pub limits: Limits,
    /// Browser origins.
    #[serde(default)]
    pub cors: CorsConfig,
}

/// How bearer tokens are verified.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The IdP's PEM P-256 public key (the same file kms-proxy's
    /// `[jwt] es256_public_key_file` names).
    pub es256_public_key_file: PathBuf,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required audience (one of the token's `aud`).
    pub audience: Option<String>,
    /// Clock leeway for `exp`/`nbf`, seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u32,
}

/// Quotas and sizes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Bytes each user may store (objects and unfinished multipart parts).
    pub quota_bytes: u64,
    /// Per-user quotas that replace `quota_bytes`.
    pub user_quota_bytes: BTreeMap<String, u64>,
    /// The largest object (a single PUT, or a completed multipart upload).
    pub max_object_bytes: u64,
    /// The highest multipart part number.
    pub max_parts: u32,
    /// The most objects one LIST page returns.
    pub max_list: usize,
    /// Unfinished multipart uploads older than this are removed at startup.
    pub multipart_expiry_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            quota_bytes: 20 << 30,
            user_quota_bytes: BTreeMap::new(),
            max_object_bytes: 5 << 30,
            max_parts: 10_000,
            max_list: 1000,
            multipart_expiry_secs: 7 * 24 * 3600,
        }
    }
}

impl Limits {
    /// The quota of `user`.
    pub fn quota_of(&self, user: &str) -> u64 {
        self.user_quota_bytes
            .get(user)
            .copied()
            .unwrap_or(self.quota_bytes)
    }
}

/// CORS allow-list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Exact origins (`http://127.0.0.1:8080`) whose pages may call the API.
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age_secs: u32,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age_secs: 600,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8091))
}

fn yes() -> bool {
    true
}

fn default_leeway() -> u32 {
    60
}

impl Config {
    /// Parse TOML; relative paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let mut c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut c.data_dir);
        fix(&mut c.jwt.es256_public_key_file);
        c.validate()?;
        Ok(c)
    }

    /// Read and parse a file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Check the values.
    pub fn validate(&self) -> Result<(), String> {
        if self.limits.max_object_bytes == 0 {
            return Err("limits.max_object_bytes must be positive".into());
        }
        if self.limits.max_parts == 0 || self.limits.max_list == 0 {
            return Err("limits.max_parts and limits.max_list must be positive".into());
        }
        Self::validate_cors(&self.cors)
    }

    /// Check a CORS allow-list.
    pub fn validate_cors(cors: &CorsConfig) -> Result<(), String> {
        for o in &cors.allowed_origins {
            if o == "*" {
                return Err("cors: list origins explicitly; \"*\" is not accepted".into());
            }
            if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
                return Err(format!(
                    "cors: {o:?} is not an origin like http://host:port"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_paths() {
        let c = Config::parse(
            "data_dir = \"d\"\n[jwt]\nes256_public_key_file = \"k.pem\"\naudience = \"a\"\n\
             [limits]\nquota_bytes = 10\nuser_quota_bytes = { bob = 20 }\n\
             [cors]\nallowed_origins = [\"http://127.0.0.1:8080\"]\n",
            Path::new("/etc/x"),
        )
        .unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/x/d"));
        assert_eq!(c.jwt.es256_public_key_file, Path::new("/etc/x/k.pem"));
        assert_eq!(c.limits.quota_of("alice"), 10);
        assert_eq!(c.limits.quota_of("bob"), 20);
        assert!(c.fsync);
        let bad = "data_dir = \"d\"\n[jwt]\nes256_public_key_file = \"k\"\n[cors]\nallowed_origins = [\"*\"]\n";
        assert!(Config::parse(bad, Path::new("/")).is_err());
        assert!(Config::parse("data_dir = \"d\"\nnope = 1\n", Path::new("/")).is_err());
    }
}
