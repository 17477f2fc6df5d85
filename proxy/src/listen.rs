//! The connection loop: plain TCP or TLS (rustls, from PEM files), HTTP/1.1
//! through hyper with a header-read timeout, and graceful shutdown (stop
//! accepting, let requests in flight finish within a grace period).
//!
//! TLS handshakes run in the connection's own task under a timeout, so a
//! slow or silent client never holds up the accept loop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::config::{TimeoutConfig, TlsConfig};

/// Why TLS could not be set up.
#[derive(Debug)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tls: {}", self.0)
    }
}

impl std::error::Error for TlsError {}

/// A rustls server configuration from PEM files: the certificate chain (leaf
/// first) and its private key. TLS 1.2 and 1.3, HTTP/1.1 over ALPN.
pub fn tls_server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError(format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!("{}: no certificate", cert.display())));
    }
    // The key's own error is not shown: it could quote key bytes.
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| TlsError(format!("{}: no usable private key", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError(format!("certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// What the connection a request came on says about it; in every request's
/// extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub secure: bool,
}

/// How to serve.
#[derive(Clone)]
pub struct ServeOptions {
    /// TLS, if configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Header read timeout (also closes idle keep-alive connections).
    pub header_read: Duration,
    /// TLS handshake timeout.
    pub handshake: Duration,
    /// How long requests in flight may take once shutdown begins.
    pub grace: Duration,
}

impl ServeOptions {
    /// Options from the configuration; loads the TLS files if set.
    pub fn from_config(tls: &TlsConfig, t: &TimeoutConfig) -> Result<Self, TlsError> {
        let tls = match (&tls.cert_file, &tls.key_file) {
            (Some(c), Some(k)) => Some(tls_server_config(c, k)?),
            (None, None) => None,
            _ => return Err(TlsError("cert_file and key_file go together".into())),
        };
        Ok(Self {
            tls,
            header_read: Duration::from_secs(t.header_read_secs),
            handshake: Duration::from_secs(t.tls_handshake_secs),
            grace: Duration::from_secs(t.shutdown_grace_secs),
        })
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

async fn serve_io<I>(io: I, app: Router, header_read: Duration, info: ConnInfo, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info);
        let mut app = app.clone();
        async move { app.call(req.map(Body::new)).await }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read)
        .serve_connection(TokioIo::new(io), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(peer = %info.peer, error = %e, "connection ended with an error");
    }
}

/// Serve `app` on `listener` until `shutdown` completes, then drain.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let acceptor = opts.tls.clone().map(TlsAcceptor::from);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep going.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let watcher = graceful.watcher();
        let app = app.clone();
        let header_read = opts.header_read;
        match &acceptor {
            None => {
                let info = ConnInfo {
                    peer,
                    secure: false,
                };
                tokio::spawn(serve_io(tcp, app, header_read, info, watcher));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let handshake = opts.handshake;
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let info = ConnInfo { peer, secure: true };
                    serve_io(tls, app, header_read, info, watcher).await;
                });
            }
        }
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "shutting down: no new connections"
    );
    if tokio::time::timeout(opts.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing the remaining connections");
    }
    Ok(())
}
