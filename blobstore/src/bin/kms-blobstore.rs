//! The `kms-blobstore` server.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kms_blobstore::config::Config;

#[derive(Parser)]
#[command(
    name = "kms-blobstore",
    version,
    about = "A ciphertext-only object store with bearer-token access"
)]
struct Cli {
    /// The TOML configuration file.
    #[arg(long, env = "KMS_BLOBSTORE_CONFIG")]
    config: PathBuf,
    /// Override `listen` (port 0 picks a free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Override `data_dir`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seconds to let requests in flight finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30)]
    grace_secs: u64,
}

async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KMS_BLOBSTORE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kms-blobstore: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(l) = cli.listen {
        config.listen = l;
    }
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    let running = match kms_blobstore::server::start(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kms-blobstore: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("kms-blobstore listening on http://{}", running.addr);
    signal().await;
    eprintln!("kms-blobstore: shutting down");
    match tokio::time::timeout(Duration::from_secs(cli.grace_secs), running.shutdown()).await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("kms-blobstore: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("kms-blobstore: requests still in flight after the grace period");
            ExitCode::FAILURE
        }
    }
}
