//! Authentication: who the caller is. SigV4 for access keys in the store,
//! bearer JWTs for browsers. What a principal may do is [`authz`].

pub mod authz;
pub mod jwk;
pub mod jwt;
pub mod sigv4;

use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::{Map, Value};

use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::rootkey::RootKey;
use crate::store::Store;

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthMethod {
    /// AWS Signature Version 4 with a stored access key.
    SigV4 {
        /// The access key id used.
        access_key_id: String,
    },
    /// A bearer JWT.
    Jwt {
        /// The token's claims (for `jwt:<claim>` policy keys).
        claims: Map<String, Value>,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The principal's name (access key owner, or the JWT's principal claim).
    pub name: String,
    /// How it authenticated.
    pub method: AuthMethod,
    /// Where and how the request came (for policy conditions and the audit trail).
    pub info: RequestInfo,
}

/// Facts about the request that policies can test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    /// The client's IP address.
    pub source_ip: Option<String>,
    /// The User-Agent header.
    pub user_agent: String,
    /// Whether the connection was TLS.
    pub secure: bool,
    /// The proxy feature acting for the caller (`kms:ViaService`), if any.
    pub via_service: Option<String>,
}

/// The sealing label of an access key's secret.
pub fn access_key_aad(id: &str) -> Vec<u8> {
    format!("kms-proxy/access-key/v1|{id}").into_bytes()
}

/// Authenticates requests.
pub struct Authenticator {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    region: String,
    max_skew: i64,
    jwt: Option<jwt::JwtVerifier>,
}

/// The parts of an HTTP request authentication looks at.
pub struct HttpParts<'a> {
    /// Method.
    pub method: &'a str,
    /// Raw path.
    pub path: &'a str,
    /// Raw query, without `?`.
    pub query: &'a str,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// Body.
    pub body: &'a [u8],
}

impl Authenticator {
    /// A new authenticator.
    pub fn new(
        store: Arc<dyn Store>,
        root: Arc<RootKey>,
        region: String,
        max_skew: i64,
        jwt: Option<jwt::JwtVerifier>,
    ) -> Self {
        Self {
            store,
            root,
            region,
            max_skew,
            jwt,
        }
    }

    /// Authenticate a request at time `now` (Unix seconds).
    pub fn authenticate(&self, req: &HttpParts<'_>, now: i64) -> KmsResult<Principal> {
        let header = req
            .headers
            .get("authorization")
            .map(|v| v.to_str().map_err(|_| unrecognized()))
            .transpose()?;
        let Some(header) = header else {
            return Err(KmsError::new(
                ErrorKind::MissingAuthenticationToken,
                "Missing Authentication Token",
            ));
        };
        if let Some(token) = header.strip_prefix("Bearer ") {
            let verifier = self.jwt.as_ref().ok_or_else(|| {
                KmsError::new(
                    ErrorKind::UnrecognizedClient,
                    "Bearer tokens are not enabled on this proxy",
                )
            })?;
            let t = verifier.verify(token.trim(), now)?;
            return Ok(Principal {
                name: t.principal,
                method: AuthMethod::Jwt { claims: t.claims },
                info: RequestInfo::default(),
            });
        }
        if req.headers.contains_key("x-amz-security-token") {
            return Err(KmsError::new(
                ErrorKind::UnrecognizedClient,
                "Session tokens are not supported by this proxy; use an access key",
            ));
        }
        let auth = sigv4::parse_authorization(header)?;
        let record = self
            .store
            .get_access_key(&auth.access_key_id)
            .map_err(KmsError::internal)?
            .ok_or_else(unrecognized)?;
        let secret = self
            .root
            .open(&access_key_aad(&record.id), &record.sealed_secret)
            .ok_or_else(|| {
                KmsError::internal("an access key secret does not open under the root key")
            })?;
        let request = sigv4::Request {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        // The Parameter Store signs for service `ssm`, the key service for `kms`.
        let service = match req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
        {
            Some(t) if t.starts_with("AmazonSSM.") => "ssm",
            _ => "kms",
        };
        let expect = sigv4::Expect {
            region: &self.region,
            service,
            now,
            max_skew: self.max_skew,
        };
        sigv4::verify(&request, &auth, secret.expose(), &expect)?;
        Ok(Principal {
            name: record.principal,
            method: AuthMethod::SigV4 {
                access_key_id: record.id,
            },
            info: RequestInfo::default(),
        })
    }
}

fn unrecognized() -> KmsError {
    KmsError::new(
        ErrorKind::UnrecognizedClient,
        "The security token included in the request is invalid.",
    )
}
