//! Configuration: one TOML file, then `KMS_PROXY_*` environment overrides.
//! Relative paths in the file are relative to the file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod net;

pub use net::{CorsConfig, TimeoutConfig, TlsConfig};

/// Where the root key comes from.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RootKeySource {
    /// A file holding 32 bytes as 64 hex characters.
    File,
    /// An environment variable holding 32 bytes as hex.
    Env,
    /// A passphrase (from an environment variable or a file), stretched with Argon2id.
    Passphrase,
}

/// Root-key settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RootKeyConfig {
    /// The source.
    pub source: RootKeySource,
    /// For `file`: the key file.
    pub file: PathBuf,
    /// For `env`: the variable holding the key.
    pub env: String,
    /// For `passphrase`: the variable holding the passphrase.
    pub passphrase_env: String,
    /// For `passphrase`: a file holding the passphrase (wins over the variable).
    pub passphrase_file: Option<PathBuf>,
}

impl Default for RootKeyConfig {
    fn default() -> Self {
        Self {
            source: RootKeySource::File,
            file: PathBuf::from("kms-proxy.root-key"),
            env: "KMS_PROXY_ROOT_KEY".into(),
            passphrase_env: "KMS_PROXY_PASSPHRASE".into(),
            passphrase_file: None,
        }
    }
}

/// SigV4 settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigV4Config {
    /// How far the request time may be from the server's clock, in seconds.
    pub max_skew_secs: u64,
}

impl Default for SigV4Config {
    fn default() -> Self {
        Self { max_skew_secs: 300 }
    }
}

/// Bearer-token (JWT) settings. JWTs are accepted only when a secret is set.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// A file holding the HS256 secret (raw bytes, trailing newline trimmed).
    pub hs256_secret_file: Option<PathBuf>,
    /// A variable holding the HS256 secret.
    pub hs256_secret_env: Option<String>,
    /// A PEM RSA public key for RS256 tokens.
    pub rs256_public_key_file: Option<PathBuf>,
    /// A PEM P-256 public key for ES256 tokens.
    pub es256_public_key_file: Option<PathBuf>,
    /// A JWKS file (RSA and P-256 keys, selected by `kid`).
    pub jwks_file: Option<PathBuf>,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required `aud` (one of the token's audiences), if set.
    pub audience: Option<String>,
    /// The claim that names the principal.
    pub principal_claim: String,
    /// Clock leeway for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Groups every JWT principal belongs to, for identity policies.
    pub groups: Vec<String>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            hs256_secret_file: None,
            hs256_secret_env: None,
            rs256_public_key_file: None,
            es256_public_key_file: None,
            jwks_file: None,
            issuer: None,
            audience: None,
            principal_claim: "sub".into(),
            leeway_secs: 60,
            groups: vec!["jwt-users".into()],
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The region in ARNs and in the SigV4 credential scope.
    pub region: String,
    /// The 12-digit account in ARNs.
    pub account: String,
    /// Listen address; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// The SQLite store file.
    pub store_path: PathBuf,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Root key.
    pub root_key: RootKeyConfig,
    /// SigV4.
    pub sigv4: SigV4Config,
    /// JWT.
    pub jwt: JwtConfig,
    /// Built-in TLS.
    pub tls: TlsConfig,
    /// CORS allow-list.
    pub cors: CorsConfig,
    /// Timeouts.
    pub timeouts: TimeoutConfig,
    /// The audit trail.
    pub audit: AuditConfig,
    /// Authorisation.
    pub policy: PolicyConfig,
}

/// Authorisation settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Whether key policies, identity policies and grants are enforced (on by
    /// default; off lets every authenticated principal do everything, for
    /// benchmarks only).
    pub enforce: bool,
    /// Identity policies defined here, put and attached at every start.
    pub identity: Vec<IdentityPolicyConfig>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            enforce: true,
            identity: Vec::new(),
        }
    }
}

/// An identity policy from the config file (`[[policy.identity]]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPolicyConfig {
    /// Its name.
    pub name: String,
    /// The JSON policy document.
    pub document_file: PathBuf,
    /// Principals to attach it to.
    #[serde(default)]
    pub principals: Vec<String>,
    /// Groups to attach it to.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Audit-trail settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Whether requests are audited (on by default; off only for benchmarks).
    pub enabled: bool,
    /// The segment directory (default: the store path with `.audit` appended).
    pub dir: Option<PathBuf>,
    /// Directories where rotated segments are archived (searched by lookups).
    pub archive_dirs: Vec<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: None,
            archive_dirs: Vec::new(),
        }
    }
}

impl Config {
    /// The audit segment directory.
    pub fn audit_dir(&self) -> PathBuf {
        self.audit.dir.clone().unwrap_or_else(|| {
            let mut p = self.store_path.clone().into_os_string();
            p.push(".audit");
            PathBuf::from(p)
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account: "111122223333".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store_path: PathBuf::from("kms-proxy.db"),
            max_body_bytes: 64 * 1024,
            root_key: RootKeyConfig::default(),
            sigv4: SigV4Config::default(),
            jwt: JwtConfig::default(),
            tls: TlsConfig::default(),
            cors: CorsConfig::default(),
            timeouts: TimeoutConfig::default(),
            audit: AuditConfig::default(),
            policy: PolicyConfig::default(),
        }
    }
}

/// A configuration error.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Load from an optional file, then apply overrides read through `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                let mut c: Config = toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                if let Some(dir) = p.parent() {
                    c.relative_to(dir);
                }
                c
            }
            None => Config::default(),
        };
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn relative_to(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.store_path);
        fix(&mut self.root_key.file);
        if let Some(p) = self.root_key.passphrase_file.as_mut() {
            fix(p);
        }
        for p in [
            &mut self.jwt.hs256_secret_file,
            &mut self.jwt.rs256_public_key_file,
            &mut self.jwt.es256_public_key_file,
            &mut self.jwt.jwks_file,
            &mut self.tls.cert_file,
            &mut self.tls.key_file,
            &mut self.audit.dir,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        for p in &mut self.audit.archive_dirs {
            fix(p);
        }
        for ip in &mut self.policy.identity {
            fix(&mut ip.document_file);
        }
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("KMS_PROXY_REGION") {
            self.region = v;
        }
        if let Some(v) = env("KMS_PROXY_ACCOUNT") {
            self.account = v;
        }
        if let Some(v) = env("KMS_PROXY_LISTEN") {
            self.listen = v
                .parse()
                .map_err(|_| ConfigError(format!("KMS_PROXY_LISTEN: bad address {v:?}")))?;
        }
        if let Some(v) = env("KMS_PROXY_STORE") {
            self.store_path = v.into();
        }
        if let Some(v) = env("KMS_PROXY_ROOT_KEY_SOURCE") {
            self.root_key.source = match v.as_str() {
                "file" => RootKeySource::File,
                "env" => RootKeySource::Env,
                "passphrase" => RootKeySource::Passphrase,
                _ => return Err(ConfigError(format!("KMS_PROXY_ROOT_KEY_SOURCE: {v:?}"))),
            };
        }
        if let Some(v) = env("KMS_PROXY_ROOT_KEY_FILE") {
            self.root_key.file = v.into();
        }
        if let Some(v) = env("KMS_PROXY_PASSPHRASE_FILE") {
            self.root_key.passphrase_file = Some(v.into());
        }
        if let Some(v) = env("KMS_PROXY_MAX_BODY_BYTES") {
            self.max_body_bytes = v
                .parse()
                .map_err(|_| ConfigError("KMS_PROXY_MAX_BODY_BYTES: not a number".into()))?;
        }
        if let Some(v) = env("KMS_PROXY_JWT_HS256_SECRET_FILE") {
            self.jwt.hs256_secret_file = Some(v.into());
        }
        if let Some(v) = env("KMS_PROXY_JWT_JWKS_FILE") {
            self.jwt.jwks_file = Some(v.into());
        }
        if let Some(v) = env("KMS_PROXY_JWT_ISSUER") {
            self.jwt.issuer = Some(v);
        }
        if let Some(v) = env("KMS_PROXY_JWT_AUDIENCE") {
            self.jwt.audience = Some(v);
        }
        if let Some(v) = env("KMS_PROXY_JWT_PRINCIPAL_CLAIM") {
            self.jwt.principal_claim = v;
        }
        if let Some(v) = env("KMS_PROXY_TLS_CERT_FILE") {
            self.tls.cert_file = Some(v.into());
        }
        if let Some(v) = env("KMS_PROXY_TLS_KEY_FILE") {
            self.tls.key_file = Some(v.into());
        }
        if let Some(v) = env("KMS_PROXY_CORS_ORIGINS") {
            self.cors.allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = env("KMS_PROXY_REQUEST_TIMEOUT_SECS") {
            self.timeouts.request_secs = v
                .parse()
                .map_err(|_| ConfigError("KMS_PROXY_REQUEST_TIMEOUT_SECS: not a number".into()))?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 32
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(ConfigError(format!("bad region {:?}", self.region)));
        }
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError(format!(
                "account must be 12 digits, got {:?}",
                self.account
            )));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError("max_body_bytes must be at least 1024".into()));
        }
        self.tls.validate()?;
        self.cors.validate()?;
        self.timeouts.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_overrides_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "region = \"eu-west-1\"\naccount = \"123456789012\"\nstore_path = \"s.db\"\n\
             [root_key]\nsource = \"env\"\n[jwt]\naudience = \"web\"\n",
        )
        .unwrap();
        let env = |k: &str| (k == "KMS_PROXY_LISTEN").then(|| "127.0.0.1:0".to_string());
        let c = Config::load(Some(&p), env).unwrap();
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.store_path, dir.path().join("s.db"));
        assert_eq!(c.root_key.source, RootKeySource::Env);
        assert_eq!(c.jwt.audience.as_deref(), Some("web"));
        assert_eq!(c.jwt.principal_claim, "sub");
    }

    #[test]
    fn bad_values_are_refused() {
        let env = |k: &str| (k == "KMS_PROXY_ACCOUNT").then(|| "12".to_string());
        assert!(Config::load(None, env).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "regoin = \"x\"\n").unwrap();
        assert!(Config::load(Some(&p), |_| None).is_err());
    }
}
