//! Network settings: TLS, CORS and timeouts.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Built-in TLS (rustls). Both files set: HTTPS only; neither: plain HTTP.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether TLS is configured.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(ConfigError(
                "tls.cert_file and tls.key_file go together".into(),
            ));
        }
        Ok(())
    }
}

/// Cross-origin requests from browsers. No origin is allowed unless listed.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins, exactly as browsers send them (`https://app.example.com`,
    /// `http://localhost:5173`). `"*"` allows any origin, and only without
    /// credentials.
    pub allowed_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (cookies, TLS client
    /// certificates). Bearer tokens do not need it.
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer, in seconds.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allow_credentials: false,
            max_age_secs: 600,
        }
    }
}

impl CorsConfig {
    /// Whether any origin is allowed.
    pub fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.any_origin() {
            if self.allow_credentials {
                return Err(ConfigError(
                    "cors: a wildcard origin cannot be combined with allow_credentials".into(),
                ));
            }
            if self.allowed_origins.len() > 1 {
                return Err(ConfigError(
                    "cors: \"*\" cannot be mixed with listed origins".into(),
                ));
            }
            return Ok(());
        }
        for o in &self.allowed_origins {
            if !origin_ok(o) {
                return Err(ConfigError(format!(
                    "cors: {o:?} is not an origin (scheme://host[:port], no path, no trailing slash)"
                )));
            }
        }
        Ok(())
    }
}

fn origin_ok(o: &str) -> bool {
    let Some(rest) = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return false;
        };
        let ok = !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        if !ok {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("v6", Some(p)),
            None if after.is_empty() => ("v6", None),
            None => return false,
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// Timeouts, in seconds.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// From the end of the headers to the response: reading the body and
    /// running the operation.
    pub request_secs: u64,
    /// For a client to send a request's headers (also bounds idle keep-alive).
    pub header_read_secs: u64,
    /// For a TLS handshake.
    pub tls_handshake_secs: u64,
    /// On shutdown, how long requests in flight may take to finish.
    pub shutdown_grace_secs: u64,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            request_secs: 30,
            header_read_secs: 10,
            tls_handshake_secs: 10,
            shutdown_grace_secs: 30,
        }
    }
}

impl TimeoutConfig {
    /// The request timeout.
    pub fn request(&self) -> Duration {
        Duration::from_secs(self.request_secs)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("request_secs", self.request_secs),
            ("header_read_secs", self.header_read_secs),
            ("tls_handshake_secs", self.tls_handshake_secs),
        ] {
            if v == 0 || v > 3600 {
                return Err(ConfigError(format!(
                    "timeouts.{name} must be between 1 and 3600"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for good in [
            "https://app.example.com",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
            "http://[::1]",
        ] {
            assert!(origin_ok(good), "{good}");
        }
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://",
            "https://App.example.com",
            "https://a.example.com:",
            "https://a.example.com:99999x",
            "ftp://a.example.com",
            "http://[::1",
            "http://[::1]x",
        ] {
            assert!(!origin_ok(bad), "{bad}");
        }
    }

    #[test]
    fn wildcard_only_without_credentials() {
        let mut c = CorsConfig {
            allowed_origins: vec!["*".into()],
            ..Default::default()
        };
        assert!(c.validate().is_ok());
        c.allow_credentials = true;
        assert!(c.validate().is_err());
        c.allowed_origins = vec!["https://a.example".into()];
        assert!(c.validate().is_ok());
        c.allowed_origins.push("*".into());
        c.allow_credentials = false;
        assert!(c.validate().is_err());
    }

    #[test]
    fn tls_files_go_together() {
        let t = TlsConfig {
            cert_file: Some("c.pem".into()),
            key_file: None,
        };
        assert!(t.validate().is_err());
    }
}
