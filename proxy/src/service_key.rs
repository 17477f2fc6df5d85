//! The `service-key` admin subcommand: service-managed keys
//! (`alias/managed/<service>`), which the proxy's own features create on
//! first use; this creates one ahead of time, or lists them.

use std::sync::Arc;

use clap::Subcommand;
use kms_proxy::config::Config;
use kms_proxy::kms::managed::MANAGED_PREFIX;
use kms_proxy::kms::Kms;
use kms_proxy::rootkey::RootKey;
use kms_proxy::store::{KeyManager, Store};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Subcommand)]
pub enum ServiceKeyCmd {
    /// Make sure the service-managed key of a proxy feature exists; prints it as JSON.
    Ensure {
        /// The feature's name (`[a-z0-9][a-z0-9-]{0,63}`).
        service: String,
    },
    /// List service-managed keys: alias, key id, current version, next rotation.
    List,
}

pub fn run(cfg: &Config, store: Arc<dyn Store>, root: Arc<RootKey>, c: ServiceKeyCmd) -> Res<()> {
    let kms = Kms::new(store.clone(), root, cfg.region.clone(), cfg.account.clone());
    match c {
        ServiceKeyCmd::Ensure { service } => {
            let key = kms.ensure_managed_key(&service)?;
            println!(
                "{}",
                serde_json::json!({
                    "AliasName": format!("{MANAGED_PREFIX}{service}"),
                    "KeyId": key.id,
                    "Arn": kms.key_arn(&key.id),
                    "ViaService": kms.via_service(&service),
                })
            );
        }
        ServiceKeyCmd::List => {
            for a in store.list_aliases(None, Some(MANAGED_PREFIX), 10_000)? {
                if !a.name.starts_with(MANAGED_PREFIX) {
                    break;
                }
                let Some(k) = store.get_key(&a.key_id)? else {
                    continue;
                };
                if k.manager != KeyManager::Service {
                    continue;
                }
                println!(
                    "{}\t{}\tv{}\tnext rotation {}",
                    a.name,
                    k.id,
                    k.current_version,
                    k.next_rotation.unwrap_or(0)
                );
            }
        }
    }
    Ok(())
}
