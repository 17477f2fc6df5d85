//! The `kms-demo-idp` configuration (TOML, optional). Without a file every
//! path lives in one directory (`--dir`, default `./idp-data`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::CorsConfig;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdpConfig {
    /// The listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The `iss` of issued tokens.
    pub issuer: String,
    /// The `aud` of issued tokens (one value is sent as a string, several
    /// as an array), e.g. `["kms-proxy", "kms-blobstore"]`.
    pub audience: Vec<String>,
    /// Token lifetime, seconds.
    pub token_ttl_secs: u32,
    /// The PKCS#8 PEM private key (created by `init`, mode 0600).
    pub private_key_file: PathBuf,
    /// The SPKI PEM public key: what kms-blobstore and kms-proxy verify with.
    pub public_key_file: PathBuf,
    /// Users and their Argon2id password hashes (JSON).
    pub users_file: PathBuf,
    /// Argon2id cost for new password hashes.
    pub argon2: Argon2Config,
    /// Failed-login limits.
    pub rate_limit: RateLimitConfig,
    /// Browser origins allowed to call `/login`.
    pub cors: CorsConfig,
}

/// Argon2id parameters for new hashes (existing hashes carry their own).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Config {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        // The argon2 crate's defaults (OWASP's second recommendation).
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Failed-login limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Failures of one user name within `window_secs` before it is locked.
    pub max_failures_per_user: u32,
    /// Failures from one client address within `window_secs` before it is locked.
    pub max_failures_per_ip: u32,
    /// The window over which failures are counted, seconds.
    pub window_secs: u64,
    /// How long a locked user name or address is refused, seconds.
    pub lockout_secs: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max_failures_per_user: 5,
            max_failures_per_ip: 20,
            window_secs: 300,
            lockout_secs: 60,
        }
    }
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self::in_dir(Path::new("idp-data"))
    }
}

impl IdpConfig {
    /// Defaults with every file in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8092)),
            issuer: "kms-demo-idp".into(),
            audience: vec!["kms-envelope-demo".into()],
            token_ttl_secs: 900,
            private_key_file: dir.join("idp-private.pem"),
            public_key_file: dir.join("idp-public.pem"),
            users_file: dir.join("users.json"),
            argon2: Argon2Config::default(),
            rate_limit: RateLimitConfig::default(),
            cors: CorsConfig::default(),
        }
    }

    /// Parse TOML; relative paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let mut c: IdpConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        for p in [
            &mut c.private_key_file,
            &mut c.public_key_file,
            &mut c.users_file,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Read and parse a file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Check the values.
    pub fn validate(&self) -> Result<(), String> {
        if self.audience.is_empty() || self.issuer.is_empty() {
            return Err("issuer and audience must not be empty".into());
        }
        if self.token_ttl_secs == 0 || self.token_ttl_secs > 24 * 3600 {
            return Err("token_ttl_secs must be 1 to 86400".into());
        }
        if self.rate_limit.max_failures_per_user == 0 || self.rate_limit.max_failures_per_ip == 0 {
            return Err("rate_limit failures must be positive".into());
        }
        argon2::Params::new(
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.argon2.parallelism,
            None,
        )
        .map_err(|e| format!("argon2: {e}"))?;
        crate::config::Config::validate_cors(&self.cors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let c = IdpConfig::parse(
            "issuer = \"i\"\naudience = [\"kms-proxy\", \"kms-blobstore\"]\nusers_file = \"u.json\"\n\
             [argon2]\nmemory_kib = 64\niterations = 1\n",
            Path::new("/srv"),
        )
        .unwrap();
        assert_eq!(c.users_file, Path::new("/srv/u.json"));
        assert_eq!(c.audience.len(), 2);
        assert_eq!(c.token_ttl_secs, 900);
        assert!(IdpConfig::parse("audience = []\n", Path::new("/")).is_err());
        assert!(IdpConfig::parse("[argon2]\nmemory_kib = 1\n", Path::new("/")).is_err());
    }
}
