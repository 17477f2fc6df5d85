//! The proxy's own operations, under `X-Amz-Target: KmsProxy.<Operation>`:
//! `LookupEvents` and `GetKeyLastUsage` (answered from the audit trail) and
//! `SimulatePolicy` (answers allow or deny and names the deciding statement).

use std::collections::BTreeMap;

use kms_proxy_audit::Query;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::authz::{describe, AuthzRequest};
use crate::auth::{AuthMethod, Principal, RequestInfo};
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::kms::params::{self, parse, required};
use crate::server::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupReq {
    key_id: Option<String>,
    principal: Option<String>,
    event_name: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyReq {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SimulateReq {
    principal_name: Option<String>,
    action: Option<String>,
    key_id: Option<String>,
    encryption_context: Option<BTreeMap<String, String>>,
    jwt_claims: Option<serde_json::Map<String, Value>>,
    source_ip: Option<String>,
}

fn trail(state: &AppState) -> KmsResult<&crate::audit::AuditTrail> {
    state.audit.as_deref().ok_or_else(|| {
        KmsError::new(
            ErrorKind::UnsupportedOperation,
            "The audit trail is not enabled on this proxy",
        )
    })
}

/// Run one extension operation.
pub fn call(state: &AppState, op: &str, p: &Principal, body: Value) -> KmsResult<Value> {
    let kms = &state.kms;
    match op {
        "LookupEvents" => {
            let r: LookupReq = parse(body)?;
            kms.authorize(p, "cloudtrail:LookupEvents", None, None, None)?;
            let t = trail(state)?;
            let key_arn = match r.key_id {
                Some(k) if k.starts_with("arn:") && !k.contains(":alias/") => Some(k),
                Some(k) => Some(kms.key_arn(&kms.resolve(&k, true)?.id)),
                None => None,
            };
            let before = match r.next_token {
                Some(t) => Some(t.parse::<u64>().map_err(|_| {
                    KmsError::new(ErrorKind::InvalidMarker, "NextToken is not valid")
                })?),
                None => None,
            };
            let q = Query {
                key_arn,
                principal: r.principal,
                event_name: r.event_name,
                start_time: r.start_time,
                end_time: r.end_time,
                max_results: params::range(r.max_results.unwrap_or(50), "MaxResults", 1, 1000)?
                    as usize,
                before_seq: before,
            };
            let (events, next) = t.log.lookup(&q, &t.archives).map_err(KmsError::internal)?;
            let mut out = json!({ "Events": events });
            if let Some(n) = next {
                out["NextToken"] = json!(n.to_string());
            }
            Ok(out)
        }
        "GetKeyLastUsage" => {
            let r: KeyReq = parse(body)?;
            let id = required(r.key_id, "KeyId")?;
            let key = kms.resolve(&id, true)?;
            kms.authorize(
                p,
                "kms:GetKeyLastUsage",
                Some(&key),
                None,
                crate::kms::alias_of(&id),
            )?;
            let arn = kms.key_arn(&key.id);
            let mut out = json!({ "KeyId": arn });
            if let Some((time, op)) = trail(state)?.log.key_last_usage(&arn) {
                out["LastUsedTime"] = json!(time);
                out["LastUsedOperation"] = json!(op);
            }
            Ok(out)
        }
        "SimulatePolicy" => {
            let r: SimulateReq = parse(body)?;
            kms.authorize(p, "kms:SimulatePolicy", None, None, None)?;
            let name = required(r.principal_name, "PrincipalName")?;
            params::length(&name, "PrincipalName", 1, 256)?;
            let action = required(r.action, "Action")?;
            let subject = Principal {
                name,
                method: match r.jwt_claims {
                    Some(claims) => AuthMethod::Jwt { claims },
                    None => AuthMethod::SigV4 {
                        access_key_id: String::new(),
                    },
                },
                info: RequestInfo {
                    source_ip: r.source_ip,
                    ..RequestInfo::default()
                },
            };
            let key = match r.key_id {
                Some(k) => Some(kms.resolve(&k, true)?),
                None => None,
            };
            let d = kms.authz().decide(
                kms.store(),
                &subject,
                &AuthzRequest {
                    action: &action,
                    key: key.as_ref(),
                    encryption_context: r.encryption_context.as_ref(),
                    request_alias: None,
                    resource: None,
                },
            )?;
            Ok(json!({
                "Decision": if d.allowed() { "allow" } else { "deny" },
                "ExplicitDeny": matches!(d, kms_proxy_policy::Decision::ExplicitDeny(_)),
                "DecidedBy": describe(&d),
            }))
        }
        _ => Err(KmsError::new(
            ErrorKind::UnknownOperation,
            format!("Unknown operation {op}"),
        )),
    }
}
