//! Admin subcommands for authorisation and the audit trail.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use kms_proxy::auth::authz::{describe, AuthzRequest};
use kms_proxy::auth::{AuthMethod, Principal, RequestInfo};
use kms_proxy::config::Config;
use kms_proxy::kms::Kms;
use kms_proxy::rootkey::RootKey;
use kms_proxy::store::policy::PolicyTarget;
use kms_proxy::store::Store;
use kms_proxy_policy::{Policy, PolicyKind};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A principal (by name).
    #[arg(long)]
    principal: Option<String>,
    /// A group (by name). JWT principals are in the groups of `jwt.groups`.
    #[arg(long)]
    group: Option<String>,
}

impl Target {
    fn get(self) -> PolicyTarget {
        match (self.principal, self.group) {
            (Some(p), _) => PolicyTarget::Principal(p),
            (_, Some(g)) => PolicyTarget::Group(g),
            _ => unreachable!("clap requires one"),
        }
    }
}

/// `kms-proxy policy ...`
#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Create or replace an identity policy from a JSON file (validated first).
    Put {
        /// Its name.
        name: String,
        /// The policy document.
        #[arg(long)]
        file: PathBuf,
    },
    /// Print an identity policy.
    Get {
        /// Its name.
        name: String,
    },
    /// Delete an identity policy (and its attachments).
    Delete {
        /// Its name.
        name: String,
    },
    /// List identity policies.
    List,
    /// Attach an identity policy to a principal or a group.
    Attach {
        /// The policy.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Detach an identity policy.
    Detach {
        /// The policy.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Add a principal to a group.
    GroupAdd {
        /// The group.
        group: String,
        /// The principal.
        principal: String,
    },
    /// Remove a principal from a group.
    GroupRemove {
        /// The group.
        group: String,
        /// The principal.
        principal: String,
    },
    /// Set a principal tag (`aws:PrincipalTag/<key>`), or remove it with --remove.
    Tag {
        /// The principal.
        principal: String,
        /// KEY=VALUE, or KEY with --remove.
        tag: String,
        /// Remove the tag.
        #[arg(long)]
        remove: bool,
    },
    /// Would this request be allowed? Prints allow or deny and the deciding statement.
    Simulate {
        /// The principal's name.
        #[arg(long)]
        principal: String,
        /// The action, e.g. kms:Decrypt.
        #[arg(long)]
        action: String,
        /// The key (id, ARN or alias).
        #[arg(long)]
        key: Option<String>,
        /// Encryption context pair KEY=VALUE (repeatable).
        #[arg(short = 'c', long = "context")]
        context: Vec<String>,
        /// Simulate a JWT principal with this claim CLAIM=VALUE (repeatable).
        #[arg(long = "jwt-claim")]
        jwt_claims: Vec<String>,
        /// The source IP address.
        #[arg(long)]
        source_ip: Option<String>,
    },
}

/// `kms-proxy audit ...`
#[derive(Subcommand)]
pub enum AuditCmd {
    /// Verify the hash chain across every segment; names the first bad record.
    Verify {
        #[command(flatten)]
        dirs: Dirs,
        /// The head recorded elsewhere, SEQ:HASH (also catches a cut tail).
        #[arg(long)]
        head: Option<String>,
    },
    /// Print the last record's SEQ:HASH, to keep somewhere else.
    Head {
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Verify, then write every record as JSON lines.
    Export {
        #[command(flatten)]
        dirs: Dirs,
        /// Output file (default stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Query records, newest first.
    Lookup {
        #[command(flatten)]
        dirs: Dirs,
        /// Key ARN.
        #[arg(long)]
        key: Option<String>,
        /// Principal ARN.
        #[arg(long)]
        principal: Option<String>,
        /// Operation.
        #[arg(long)]
        event_name: Option<String>,
        /// From this RFC 3339 time.
        #[arg(long)]
        start: Option<String>,
        /// Before this RFC 3339 time.
        #[arg(long)]
        end: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        max: usize,
        /// The previous page's token.
        #[arg(long)]
        next_token: Option<u64>,
    },
    /// Close the active segment (the server must be stopped) and optionally
    /// move it to an archive directory.
    Rotate {
        /// Move the closed segment here.
        #[arg(long)]
        archive_to: Option<PathBuf>,
    },
}

/// Where the segments are.
#[derive(Args)]
pub struct Dirs {
    /// The segment directory (default: from the config).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Archive directories (repeatable; default: from the config).
    #[arg(long)]
    archive: Vec<PathBuf>,
}

impl Dirs {
    fn all(&self, cfg: &Config) -> Vec<PathBuf> {
        let mut v = vec![self.dir.clone().unwrap_or_else(|| cfg.audit_dir())];
        if self.archive.is_empty() {
            v.extend(cfg.audit.archive_dirs.iter().cloned());
        } else {
            v.extend(self.archive.iter().cloned());
        }
        v
    }
}

fn pairs(list: &[String], what: &str) -> Res<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for p in list {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("{what} wants KEY=VALUE, got {p:?}"))?;
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

/// Run a policy subcommand.
pub fn policy(cfg: &Config, store: Arc<dyn Store>, root: Arc<RootKey>, c: PolicyCmd) -> Res<()> {
    match c {
        PolicyCmd::Put { name, file } => {
            let text = std::fs::read_to_string(&file)?;
            Policy::parse(&text, PolicyKind::Identity).map_err(|e| e.to_string())?;
            store.put_identity_policy(&name, &text)?;
        }
        PolicyCmd::Get { name } => {
            let doc = store
                .get_identity_policy(&name)?
                .ok_or_else(|| format!("no identity policy {name}"))?;
            println!("{doc}");
        }
        PolicyCmd::Delete { name } => {
            if !store.delete_identity_policy(&name)? {
                return Err(format!("no identity policy {name}").into());
            }
        }
        PolicyCmd::List => {
            for (name, _) in store.list_identity_policies()? {
                println!("{name}");
            }
        }
        PolicyCmd::Attach { name, target } => store.attach_policy(&name, &target.get())?,
        PolicyCmd::Detach { name, target } => {
            if !store.detach_policy(&name, &target.get())? {
                return Err(format!("{name} was not attached there").into());
            }
        }
        PolicyCmd::GroupAdd { group, principal } => store.add_group_member(&group, &principal)?,
        PolicyCmd::GroupRemove { group, principal } => {
            if !store.remove_group_member(&group, &principal)? {
                return Err(format!("{principal} is not in {group}").into());
            }
        }
        PolicyCmd::Tag {
            principal,
            tag,
            remove,
        } => {
            if remove {
                store.set_principal_tag(&principal, &tag, None)?;
            } else {
                let (k, v) = tag.split_once('=').ok_or("a tag is KEY=VALUE")?;
                store.set_principal_tag(&principal, k, Some(v))?;
            }
        }
        PolicyCmd::Simulate {
            principal,
            action,
            key,
            context,
            jwt_claims,
            source_ip,
        } => {
            let mut kms = Kms::new(store.clone(), root, cfg.region.clone(), cfg.account.clone());
            kms.configure_authz(cfg.jwt.groups.clone(), true);
            let ec = pairs(&context, "-c")?;
            let claims = pairs(&jwt_claims, "--jwt-claim")?;
            let subject = Principal {
                name: principal,
                method: if claims.is_empty() {
                    AuthMethod::SigV4 {
                        access_key_id: String::new(),
                    }
                } else {
                    AuthMethod::Jwt {
                        claims: claims
                            .into_iter()
                            .map(|(k, v)| (k, serde_json::Value::String(v)))
                            .collect(),
                    }
                },
                info: RequestInfo {
                    source_ip,
                    ..RequestInfo::default()
                },
            };
            let key = key
                .map(|k| kms.resolve(&k, true))
                .transpose()
                .map_err(|e| e.message)?;
            let d = kms
                .authz()
                .decide(
                    store.as_ref(),
                    &subject,
                    &AuthzRequest {
                        action: &action,
                        key: key.as_ref(),
                        encryption_context: (!ec.is_empty()).then_some(&ec),
                        request_alias: None,
                        resource: None,
                    },
                )
                .map_err(|e| e.message)?;
            let by =
                describe(&d).unwrap_or_else(|| "no statement allows it (implicit deny)".into());
            println!("{}\t{by}", if d.allowed() { "allow" } else { "deny" });
            if !d.allowed() {
                std::process::exit(3);
            }
        }
    }
    Ok(())
}

/// Run an audit subcommand.
pub fn audit(cfg: &Config, c: AuditCmd) -> Res<()> {
    match c {
        AuditCmd::Verify { dirs, head } => {
            let head = head
                .map(|h| -> Res<(u64, String)> {
                    let (s, h) = h.split_once(':').ok_or("--head wants SEQ:HASH")?;
                    Ok((s.parse()?, h.to_string()))
                })
                .transpose()?;
            match kms_proxy_audit::verify(
                &dirs.all(cfg),
                head.as_ref().map(|(s, h)| (*s, h.as_str())),
            ) {
                Ok(r) => println!(
                    "ok: {} records in {} segments; head {}:{}",
                    r.records, r.segments, r.head.0, r.head.1
                ),
                Err(e) => {
                    println!("TAMPERED: {e}");
                    std::process::exit(3);
                }
            }
        }
        AuditCmd::Head { dirs } => {
            let r = kms_proxy_audit::verify(&dirs.all(cfg), None).map_err(|e| e.to_string())?;
            println!("{}:{}", r.head.0, r.head.1);
        }
        AuditCmd::Export { dirs, output } => {
            let all = dirs.all(cfg);
            kms_proxy_audit::verify(&all, None).map_err(|e| format!("not exported: {e}"))?;
            let mut out: Box<dyn Write> = match output {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
                None => Box::new(std::io::stdout().lock()),
            };
            for r in kms_proxy_audit::records(&all)? {
                serde_json::to_writer(&mut out, &r)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        AuditCmd::Lookup {
            dirs,
            key,
            principal,
            event_name,
            start,
            end,
            max,
            next_token,
        } => {
            let all = dirs.all(cfg);
            let log = kms_proxy_audit::AuditLog::open(&all[0])?;
            let (recs, next) = log.lookup(
                &kms_proxy_audit::Query {
                    key_arn: key,
                    principal,
                    event_name,
                    start_time: start,
                    end_time: end,
                    max_results: max,
                    before_seq: next_token,
                },
                &all[1..],
            )?;
            for r in recs {
                println!("{}", serde_json::to_string(&r)?);
            }
            if let Some(n) = next {
                eprintln!("next token: {n}");
            }
        }
        AuditCmd::Rotate { archive_to } => {
            let log = kms_proxy_audit::AuditLog::open(&cfg.audit_dir())?;
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
            let closed = rt.block_on(log.rotate())?;
            match archive_to {
                Some(d) => {
                    std::fs::create_dir_all(&d)?;
                    let to = d.join(closed.file_name().ok_or("segment name")?);
                    std::fs::rename(&closed, &to)?;
                    println!("{}", to.display());
                }
                None => println!("{}", closed.display()),
            }
        }
    }
    Ok(())
}
