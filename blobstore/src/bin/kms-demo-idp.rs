//! `kms-demo-idp`: the demo login (`init`, `add-user`, `serve`).
//! A real deployment brings its own identity provider.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

use kms_blobstore::idp;

#[derive(Parser)]
#[command(
    name = "kms-demo-idp",
    version,
    about = "Demo login: exchanges a demo user's password for a short-lived ES256 JWT"
)]
struct Cli {
    /// A TOML configuration file (without one, every file lives in --dir).
    #[arg(long, env = "KMS_DEMO_IDP_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The directory for keys and users when no --config is given.
    #[arg(long, default_value = "idp-data", global = true)]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the ES256 key pair and an empty users file.
    Init {
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Add a user; prints the generated password.
    AddUser {
        /// The user name (the token's `sub`, the blob store owner).
        name: String,
        /// Set a new password for an existing user.
        #[arg(long)]
        reset: bool,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Serve POST /login.
    Serve {
        /// Override `listen` (port 0 picks a free port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
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

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("kms-demo-idp: {e}");
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KMS_DEMO_IDP_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut cfg = match idp::load_config(cli.config.as_deref(), &cli.dir) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match cli.command {
        Command::Init { force } => match idp::init(&cfg, force) {
            Ok(()) => {
                println!("private key: {}", cfg.private_key_file.display());
                println!("public key:  {}", cfg.public_key_file.display());
                println!("users:       {}", cfg.users_file.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::AddUser {
            name,
            reset,
            password_stdin,
        } => {
            let given = if password_stdin {
                let mut line = Zeroizing::new(String::new());
                if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                    return fail(e);
                }
                Some(Zeroizing::new(
                    line.trim_end_matches(['\r', '\n']).to_string(),
                ))
            } else {
                None
            };
            let generated = given.is_none();
            match idp::add_user(&cfg, &name, given, reset) {
                Ok(pw) => {
                    if generated {
                        println!("{name} {}", pw.as_str());
                    } else {
                        println!("{name}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let running = match idp::start(&cfg).await {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            println!("kms-demo-idp listening on http://{}", running.addr);
            signal().await;
            match tokio::time::timeout(Duration::from_secs(10), running.shutdown()).await {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => fail(e),
                Err(_) => fail("requests still in flight after 10 s"),
            }
        }
    }
}
