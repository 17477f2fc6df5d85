//! The `kms-proxy` command: `init`, `serve`, and admin subcommands for
//! principals and access keys.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

/// mimalloc: the request path allocates many small, short-lived buffers
/// (JSON, headers, policy contexts); glibc malloc cost ~15% of a request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod service_key;
use zeroize::Zeroizing;

use kms_proxy::auth::jwk::{self, JwtKey, VerifyKey};
use kms_proxy::auth::{access_key_aad, jwt::JwtVerifier, Authenticator};
use kms_proxy::config::Config;
use kms_proxy::cors::Cors;
use kms_proxy::kms::{now, Kms};
use kms_proxy::listen::{self, ServeOptions};
use kms_proxy::rootkey::{self, random_bytes, RootKey};
use kms_proxy::server::{router, AppState};
use kms_proxy::store::sqlite::SqliteStore;
use kms_proxy::store::{AccessKeyRecord, PrincipalRecord, Store};

#[derive(Parser)]
#[command(name = "kms-proxy", version, about = "A KMS-compatible key service")]
struct Cli {
    /// The TOML configuration file (KMS_PROXY_* variables override it).
    #[arg(long, env = "KMS_PROXY_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the root key (per the config) and a new, empty store.
    Init,
    /// Run the server.
    Serve,
    /// Manage principals.
    #[command(subcommand)]
    Principal(PrincipalCmd),
    /// Manage SigV4 access keys.
    #[command(subcommand)]
    AccessKey(AccessKeyCmd),
    /// Identity policies, groups, principal tags, and policy simulation.
    #[command(subcommand)]
    Policy(admin::PolicyCmd),
    /// Verify, export, query and rotate the audit trail.
    #[command(subcommand)]
    Audit(admin::AuditCmd),
    /// Service-managed keys (alias/managed/<service>): create ahead of first use, list.
    #[command(subcommand)]
    ServiceKey(service_key::ServiceKeyCmd),
}

#[derive(Subcommand)]
enum PrincipalCmd {
    /// Add a principal.
    Add {
        /// Its name.
        name: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List principals.
    List,
    /// Delete a principal and its access keys.
    Delete {
        /// Its name.
        name: String,
    },
}

#[derive(Subcommand)]
enum AccessKeyCmd {
    /// Create an access key for a principal (created if missing); prints it as JSON, once.
    Create {
        /// The principal.
        #[arg(long)]
        principal: String,
    },
    /// List access key ids and their principals.
    List,
    /// Delete an access key.
    Delete {
        /// The access key id.
        id: String,
    },
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kms-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Res<()> {
    let cfg = Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    match cli.command {
        Command::Init => init(&cfg),
        Command::Serve => serve(cfg),
        Command::Principal(c) => principal(&cfg, c),
        Command::AccessKey(c) => access_key(&cfg, c),
        Command::Policy(c) => {
            let (store, root) = open(&cfg)?;
            ensure_admin_policy(store.as_ref())?;
            admin::policy(&cfg, store, root, c)
        }
        Command::Audit(c) => admin::audit(&cfg, c),
        Command::ServiceKey(c) => {
            let (store, root) = open(&cfg)?;
            service_key::run(&cfg, store, root, c)
        }
    }
}

/// The built-in `AdministratorAccess` identity policy exists in every store,
/// in its current form.
fn ensure_admin_policy(store: &dyn Store) -> Res<()> {
    use kms_proxy::auth::authz::{admin_policy_document, ADMIN_POLICY};
    let doc = admin_policy_document();
    if store.get_identity_policy(ADMIN_POLICY)?.as_deref() != Some(doc.as_str()) {
        store.put_identity_policy(ADMIN_POLICY, &doc)?;
    }
    Ok(())
}

/// Put and attach the identity policies of the config file (validated first,
/// all of them, so a bad one changes nothing).
fn apply_config_policies(cfg: &Config, store: &dyn Store) -> Res<()> {
    use kms_proxy::store::policy::PolicyTarget;
    let mut docs = Vec::new();
    for ip in &cfg.policy.identity {
        let text = std::fs::read_to_string(&ip.document_file)
            .map_err(|e| format!("policy {}: {}: {e}", ip.name, ip.document_file.display()))?;
        kms_proxy_policy::Policy::parse(&text, kms_proxy_policy::PolicyKind::Identity)
            .map_err(|e| format!("policy {}: {e}", ip.name))?;
        docs.push((ip, text));
    }
    for (ip, text) in docs {
        store.put_identity_policy(&ip.name, &text)?;
        for p in &ip.principals {
            store.attach_policy(&ip.name, &PolicyTarget::Principal(p.clone()))?;
        }
        for g in &ip.groups {
            store.attach_policy(&ip.name, &PolicyTarget::Group(g.clone()))?;
        }
    }
    Ok(())
}

fn open(cfg: &Config) -> Res<(Arc<dyn Store>, Arc<RootKey>)> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&cfg.store_path)?);
    let root = Arc::new(rootkey::load(&cfg.root_key, store.as_ref())?);
    Ok((store, root))
}

fn init(cfg: &Config) -> Res<()> {
    let store = SqliteStore::create(&cfg.store_path)?;
    match rootkey::init(&cfg.root_key, &store) {
        Ok((_, shown)) => {
            if let Some(hex) = shown {
                eprintln!(
                    "A new root key was generated. Keep it safe: without it nothing in the store can be recovered."
                );
                println!("{}={}", cfg.root_key.env, hex.as_str());
            }
            eprintln!("initialised store {}", cfg.store_path.display());
            Ok(())
        }
        Err(e) => {
            drop(store);
            // Do not leave a store that no root key opens.
            for suffix in ["", "-wal", "-shm"] {
                let mut p = cfg.store_path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
            Err(e.into())
        }
    }
}

fn read_secret_file(f: &std::path::Path) -> Res<Zeroizing<Vec<u8>>> {
    let mut b = Zeroizing::new(std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?);
    while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        b.pop();
    }
    Ok(b)
}

fn read_text(f: &std::path::Path) -> Res<String> {
    Ok(std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?)
}

fn jwt_verifier(cfg: &Config) -> Res<Option<JwtVerifier>> {
    let j = &cfg.jwt;
    let mut keys = Vec::new();
    let secret = match (&j.hs256_secret_file, &j.hs256_secret_env) {
        (Some(f), _) => Some(read_secret_file(f)?),
        (None, Some(var)) => Some(Zeroizing::new(
            std::env::var(var)
                .map_err(|_| format!("{var} is not set"))?
                .into_bytes(),
        )),
        (None, None) => None,
    };
    if let Some(secret) = secret {
        if secret.len() < 32 {
            return Err("the HS256 secret must be at least 32 bytes".into());
        }
        keys.push(JwtKey {
            kid: None,
            key: VerifyKey::Hs256(secret),
        });
    }
    if let Some(f) = &j.rs256_public_key_file {
        keys.push(JwtKey {
            kid: None,
            key: jwk::rs256_from_pem(&read_text(f)?)?,
        });
    }
    if let Some(f) = &j.es256_public_key_file {
        keys.push(JwtKey {
            kid: None,
            key: jwk::es256_from_pem(&read_text(f)?)?,
        });
    }
    if let Some(f) = &j.jwks_file {
        keys.extend(jwk::from_jwks(&read_text(f)?)?);
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let mut v = JwtVerifier::with_keys(keys);
    v.issuer = j.issuer.clone();
    v.audience = j.audience.clone();
    v.principal_claim = j.principal_claim.clone();
    v.leeway = j.leeway_secs as i64;
    Ok(Some(v))
}

fn serve(cfg: Config) -> Res<()> {
    let (store, root) = open(&cfg)?;
    let jwt = jwt_verifier(&cfg)?;
    let mut kms = Kms::new(
        store.clone(),
        root.clone(),
        cfg.region.clone(),
        cfg.account.clone(),
    );
    kms.configure_authz(cfg.jwt.groups.clone(), cfg.policy.enforce);
    let kms = Arc::new(kms);
    ensure_admin_policy(store.as_ref())?;
    apply_config_policies(&cfg, store.as_ref())?;
    let audit = if cfg.audit.enabled {
        let hmac = kms_proxy::audit::hmac_key(store.as_ref(), &root)?;
        let dir = cfg.audit_dir();
        let log = kms_proxy_audit::AuditLog::open(&dir)
            .map_err(|e| format!("cannot open the audit trail in {}: {e}", dir.display()))?;
        Some(Arc::new(kms_proxy::audit::AuditTrail {
            log,
            hasher: kms_proxy_audit::ContextHasher::new(hmac.expose()),
            archives: cfg.audit.archive_dirs.clone(),
        }))
    } else {
        tracing::warn!("the audit trail is disabled");
        None
    };
    let auth = Arc::new(Authenticator::new(
        store,
        root,
        cfg.region.clone(),
        cfg.sigv4.max_skew_secs as i64,
        jwt,
    ));
    let state = Arc::new(AppState {
        kms,
        auth,
        max_body: cfg.max_body_bytes,
        request_timeout: cfg.timeouts.request(),
        cors: Cors::from_config(&cfg.cors),
        audit,
    });
    let opts = ServeOptions::from_config(&cfg.tls, &cfg.timeouts)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        println!("kms-proxy listening on {}://{addr}", opts.scheme());
        std::io::stdout().flush()?;
        tracing::info!(%addr, region = %cfg.region, account = %cfg.account, "serving");
        // Due automatic rotations (service-managed keys every 365 days) and
        // deletions, at start and hourly; keys in use are also checked on use.
        tokio::spawn(kms_proxy::kms::managed::maintenance(
            state.kms.clone(),
            std::time::Duration::from_secs(3600),
        ));
        listen::serve(listener, router(state), opts, shutdown()).await?;
        tracing::info!("stopped");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn principal(cfg: &Config, c: PrincipalCmd) -> Res<()> {
    let (store, _) = open(cfg)?;
    match c {
        PrincipalCmd::Add { name, description } => {
            store.create_principal(&PrincipalRecord {
                name: name.clone(),
                created: now(),
                description,
            })?;
            println!("{name}");
        }
        PrincipalCmd::List => {
            for p in store.list_principals()? {
                println!("{}\t{}", p.name, p.description);
            }
        }
        PrincipalCmd::Delete { name } => {
            if !store.delete_principal(&name)? {
                return Err(format!("no principal {name}").into());
            }
        }
    }
    Ok(())
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_string(alphabet: &[u8], len: usize) -> Zeroizing<String> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    random_bytes(&mut bytes);
    // Both alphabets have a power-of-two size, so this is unbiased.
    Zeroizing::new(
        bytes
            .iter()
            .map(|b| alphabet[*b as usize % alphabet.len()] as char)
            .collect(),
    )
}

fn access_key(cfg: &Config, c: AccessKeyCmd) -> Res<()> {
    let (store, root) = open(cfg)?;
    match c {
        AccessKeyCmd::Create { principal } => {
            if store.get_principal(&principal)?.is_none() {
                store.create_principal(&PrincipalRecord {
                    name: principal.clone(),
                    created: now(),
                    description: String::new(),
                })?;
            }
            let id = format!("AKKP{}", random_string(ID_ALPHABET, 16).as_str());
            let secret = random_string(SECRET_ALPHABET, 40);
            store.create_access_key(&AccessKeyRecord {
                id: id.clone(),
                principal: principal.clone(),
                sealed_secret: root.seal(&access_key_aad(&id), secret.as_bytes()),
                created: now(),
            })?;
            let out = Zeroizing::new(
                serde_json::json!({
                    "AccessKeyId": id,
                    "SecretAccessKey": secret.as_str(),
                    "Principal": principal,
                })
                .to_string(),
            );
            println!("{}", out.as_str());
        }
        AccessKeyCmd::List => {
            for k in store.list_access_keys()? {
                println!("{}\t{}", k.id, k.principal);
            }
        }
        AccessKeyCmd::Delete { id } => {
            if !store.delete_access_key(&id)? {
                return Err(format!("no access key {id}").into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
