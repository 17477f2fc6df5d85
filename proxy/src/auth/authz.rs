//! Authorisation: what an authenticated principal may do.
//!
//! KMS's rule, with the engine in `kms-proxy-policy`: an explicit Deny in the
//! key policy or an identity policy wins; otherwise the request is allowed if
//! the key policy allows the principal directly, or delegates to the account
//! (`arn:aws:iam::<account>:root`) and one of the principal's identity
//! policies allows it, or a grant on the key allows it. Requests without a
//! key (CreateKey, ListKeys, ...) are decided by identity policies alone.
//! Every decision is noted for the audit trail.
//!
//! Principals are named `arn:aws:iam::<account>:user/<name>` (SigV4 access
//! keys and JWT subjects alike); the principal named `root` is the account
//! root.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use kms_proxy_policy::{
    default_key_policy, evaluate, Caller, Decision, Grant, Policy, PolicyKind, RequestContext,
};
use serde_json::Value;

use super::{AuthMethod, Principal};
use crate::audit::note;
use crate::error::{ErrorKind, KmsError, KmsResult};
use crate::store::policy::GrantRecord;
use crate::store::{KeyRecord, Store};

/// The built-in identity policy that allows every KMS and audit action.
pub const ADMIN_POLICY: &str = "AdministratorAccess";

/// The document of [`ADMIN_POLICY`].
pub fn admin_policy_document() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Admin", "Effect": "Allow", "Action": ["kms:*", "ssm:*", "cloudtrail:*"], "Resource": "*"}]
    })
    .to_string()
}

/// What is being asked for.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    /// The IAM action, e.g. `kms:Decrypt`.
    pub action: &'a str,
    /// The key acted on, if any (None for CreateKey, ListKeys, GenerateRandom...).
    pub key: Option<&'a KeyRecord>,
    /// The encryption context of the request, for `kms:EncryptionContext:*`.
    pub encryption_context: Option<&'a BTreeMap<String, String>>,
    /// The alias named in the request, for `kms:RequestAlias`.
    pub request_alias: Option<&'a str>,
    /// The resource ARN when it is not a key (a parameter, for `ssm:` actions).
    pub resource: Option<&'a str>,
}

/// A principal's identity policies, by name.
type IdentityPolicies = Arc<Vec<(String, Policy)>>;

/// Parsed policies, cached by their text and the store's policy generation.
#[derive(Default)]
struct Cache {
    key_policies: HashMap<String, Arc<Policy>>,
    /// By principal name, for SigV4 principals and for JWT principals (who
    /// are also in the configured groups).
    identity: [HashMap<String, (i64, IdentityPolicies)>; 2],
    tags: HashMap<String, (i64, Arc<BTreeMap<String, String>>)>,
    grants: HashMap<String, (i64, Arc<Vec<Grant>>)>,
}

/// The authoriser.
pub struct Authz {
    account: String,
    region: String,
    jwt_groups: Vec<String>,
    delegate: Policy,
    cache: Mutex<Cache>,
    enforce: bool,
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authz")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

fn claim_values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(claim_values).collect(),
        Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

impl Authz {
    /// An authoriser for an account. JWT principals are members of `jwt_groups`.
    pub fn new(account: &str, region: &str, jwt_groups: Vec<String>) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
            jwt_groups,
            // Requests without a key are decided by identity policies alone:
            // evaluate them against a resource policy that delegates every
            // action to the account.
            delegate: Policy::parse(
                &serde_json::json!({"Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                    "Action": "*", "Resource": "*"}]})
                .to_string(),
                PolicyKind::Key,
            )
            .expect("the delegating policy parses"),
            cache: Mutex::new(Cache::default()),
            enforce: true,
        }
    }

    /// Turn enforcement off (every authenticated principal may do anything);
    /// for benchmarks only. Decisions are still noted as allowed.
    pub fn without_enforcement(mut self) -> Self {
        self.enforce = false;
        self
    }

    /// The account.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The principal's ARN.
    pub fn principal_arn(&self, p: &Principal) -> String {
        self.arn_of(&p.name)
    }

    /// The ARN of a principal name.
    pub fn arn_of(&self, name: &str) -> String {
        if name == "root" {
            format!("arn:aws:iam::{}:root", self.account)
        } else {
            format!("arn:aws:iam::{}:user/{name}", self.account)
        }
    }

    /// The key ARN.
    pub fn key_arn(&self, id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{id}", self.region, self.account)
    }

    /// The groups of a principal beyond the store's: every JWT principal is
    /// in the configured groups.
    fn extra_groups(&self, p: &Principal) -> Vec<String> {
        match p.method {
            AuthMethod::Jwt { .. } => self.jwt_groups.clone(),
            AuthMethod::SigV4 { .. } => Vec::new(),
        }
    }

    /// The ARN the request acts on.
    fn resource_of(&self, req: &AuthzRequest<'_>) -> String {
        match (req.key, req.resource) {
            (Some(k), _) => self.key_arn(&k.id),
            (None, Some(r)) => r.to_string(),
            (None, None) => "*".to_string(),
        }
    }

    /// The store's policy generation (everything cached here is keyed by it).
    fn generation(&self, store: &dyn Store) -> KmsResult<i64> {
        store.policy_generation().map_err(KmsError::internal)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tags_of(
        &self,
        store: &dyn Store,
        p: &Principal,
        gen: i64,
    ) -> KmsResult<Arc<BTreeMap<String, String>>> {
        if let Some((g, t)) = self.cache().tags.get(&p.name) {
            if *g == gen {
                return Ok(t.clone());
            }
        }
        let t = Arc::new(store.principal_tags(&p.name).map_err(KmsError::internal)?);
        let mut c = self.cache();
        if c.tags.len() > 10_000 {
            c.tags.clear();
        }
        c.tags.insert(p.name.clone(), (gen, t.clone()));
        Ok(t)
    }

    fn grants_of(&self, store: &dyn Store, key_id: &str, gen: i64) -> KmsResult<Arc<Vec<Grant>>> {
        if let Some((g, v)) = self.cache().grants.get(key_id) {
            if *g == gen {
                return Ok(v.clone());
            }
        }
        let v: Arc<Vec<Grant>> = Arc::new(
            store
                .list_grants(key_id)
                .map_err(KmsError::internal)?
                .iter()
                .map(|g| self.grant(g))
                .collect(),
        );
        let mut c = self.cache();
        if c.grants.len() > 10_000 {
            c.grants.clear();
        }
        c.grants.insert(key_id.to_string(), (gen, v.clone()));
        Ok(v)
    }

    /// The request context the engine sees.
    pub fn context(
        &self,
        store: &dyn Store,
        p: &Principal,
        req: &AuthzRequest<'_>,
    ) -> KmsResult<RequestContext> {
        let gen = self.generation(store)?;
        self.context_at(store, p, req, gen)
    }

    fn context_at(
        &self,
        store: &dyn Store,
        p: &Principal,
        req: &AuthzRequest<'_>,
        gen: i64,
    ) -> KmsResult<RequestContext> {
        self.context_for(store, p, req, gen, None)
    }

    /// The request context, with only the condition keys in `only` when it
    /// is given (canonical names: the keys the policies that will be
    /// evaluated read; see `Policy::referenced_keys`).
    fn context_for(
        &self,
        store: &dyn Store,
        p: &Principal,
        req: &AuthzRequest<'_>,
        gen: i64,
        only: Option<&[String]>,
    ) -> KmsResult<RequestContext> {
        let arn = self.principal_arn(p);
        let resource = self.resource_of(req);
        let mut ctx = RequestContext::new(
            Caller {
                arn: arn.clone(),
                account: self.account.clone(),
            },
            req.action,
            &resource,
        );
        let want = |k: &str| only.is_none_or(|o| o.iter().any(|x| x == k));
        let want_prefix = |pre: &str| only.is_none_or(|o| o.iter().any(|x| x.starts_with(pre)));
        let mut put = |k: &str, v: &dyn Fn() -> Vec<String>| {
            if want(k) {
                ctx.set_canonical(k.to_string(), v());
            }
        };
        let one = |s: &str| vec![s.to_string()];
        if let Some(ec) = req.encryption_context {
            for (k, v) in ec {
                put(&format!("kms:encryptioncontext:{k}"), &|| one(v));
            }
            put("kms:encryptioncontextkeys", &|| {
                ec.keys().cloned().collect()
            });
        }
        put("kms:calleraccount", &|| one(&self.account));
        put("aws:username", &|| one(&p.name));
        put("aws:userid", &|| one(&p.name));
        put("aws:principalarn", &|| one(&arn));
        put("aws:principalaccount", &|| one(&self.account));
        put("aws:principaltype", &|| {
            one(if p.name == "root" { "Account" } else { "User" })
        });
        put("aws:securetransport", &|| {
            one(if p.info.secure { "true" } else { "false" })
        });
        if want("aws:currenttime") || want("aws:epochtime") {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            put("aws:currenttime", &|| {
                one(&kms_proxy_audit::rfc3339(now.as_secs() as i64, 0))
            });
            put("aws:epochtime", &|| one(&now.as_secs().to_string()));
        }
        if let Some(ip) = &p.info.source_ip {
            put("aws:sourceip", &|| one(ip));
        }
        if !p.info.user_agent.is_empty() {
            put("aws:useragent", &|| one(&p.info.user_agent));
        }
        if let Some(a) = req.request_alias {
            put("kms:requestalias", &|| {
                vec![a
                    .rsplit_once(":alias/")
                    .map_or(a.to_string(), |(_, n)| format!("alias/{n}"))]
            });
        }
        if let Some(v) = &p.info.via_service {
            put("kms:viaservice", &|| one(v));
        }
        if req.action == "kms:CreateGrant" {
            put("kms:grantisforawsresource", &|| {
                one(if p.info.via_service.is_some() {
                    "true"
                } else {
                    "false"
                })
            });
        }
        if want_prefix("aws:principaltag/") {
            for (k, v) in self.tags_of(store, p, gen)?.iter() {
                put(&format!("aws:principaltag/{k}"), &|| vec![v.clone()]);
            }
        }
        if let AuthMethod::Jwt { claims } = &p.method {
            if want_prefix("jwt:") {
                for (k, v) in claims {
                    let vals = claim_values(v);
                    if !vals.is_empty() {
                        put(&format!("jwt:{k}"), &|| vals.clone());
                    }
                }
            }
        }
        Ok(ctx)
    }

    fn key_policy(&self, text: &str) -> Option<Arc<Policy>> {
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = c.key_policies.get(text) {
            return Some(p.clone());
        }
        match Policy::parse(text, PolicyKind::Key) {
            Ok(p) => {
                let p = Arc::new(p);
                if c.key_policies.len() > 10_000 {
                    c.key_policies.clear();
                }
                c.key_policies.insert(text.to_string(), p.clone());
                Some(p)
            }
            Err(e) => {
                tracing::error!(error = %e, "a stored key policy does not parse; denying");
                None
            }
        }
    }

    fn identity_policies(
        &self,
        store: &dyn Store,
        p: &Principal,
        generation: i64,
    ) -> KmsResult<IdentityPolicies> {
        let kind = usize::from(matches!(p.method, AuthMethod::Jwt { .. }));
        {
            let c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((g, v)) = c.identity[kind].get(&p.name) {
                if *g == generation {
                    return Ok(v.clone());
                }
            }
        }
        let groups = self.extra_groups(p);
        let mut out = Vec::new();
        for (name, doc) in store
            .policies_for(&p.name, &groups)
            .map_err(KmsError::internal)?
        {
            match Policy::parse(&doc, PolicyKind::Identity) {
                Ok(pol) => out.push((name, pol)),
                Err(e) => {
                    tracing::error!(policy = %name, error = %e, "a stored identity policy does not parse; ignoring it")
                }
            }
        }
        let out = Arc::new(out);
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if c.identity[kind].len() > 10_000 {
            c.identity[kind].clear();
        }
        c.identity[kind].insert(p.name.clone(), (generation, out.clone()));
        Ok(out)
    }

    /// A decider for many resource-only requests of one principal: the
    /// context and identity policies are built once.
    pub fn decider(&self, store: &dyn Store, p: &Principal) -> KmsResult<Decider<'_>> {
        let req = AuthzRequest {
            action: "",
            key: None,
            encryption_context: None,
            request_alias: None,
            resource: None,
        };
        let gen = self.generation(store)?;
        Ok(Decider {
            authz: self,
            ctx: self.context_at(store, p, &req, gen)?,
            identity: self.identity_policies(store, p, gen)?,
        })
    }

    /// The engine's grant form of a stored grant.
    pub fn grant(&self, g: &GrantRecord) -> Grant {
        Grant {
            id: g.id.clone(),
            key_arn: self.key_arn(&g.key_id),
            grantee: g.grantee.clone(),
            operations: g.operations.clone(),
            context_equals: g.context_equals.clone(),
            context_subset: g.context_subset.clone(),
        }
    }

    /// Decide a request without recording anything.
    pub fn decide(
        &self,
        store: &dyn Store,
        p: &Principal,
        req: &AuthzRequest<'_>,
    ) -> KmsResult<Decision> {
        // A key read with the generation of its snapshot spares a read.
        let gen = match req.key.and_then(|k| k.policy_generation) {
            Some(g) => g,
            None => self.generation(store)?,
        };
        let identity = self.identity_policies(store, p, gen)?;
        let empty = BTreeMap::new();
        let ec = req.encryption_context.unwrap_or(&empty);
        // The context holds only the keys these policies read.
        let needed = |resource_policy: &Policy| {
            let mut keys: Vec<String> = resource_policy.referenced_keys().to_vec();
            for (_, p) in identity.iter() {
                keys.extend_from_slice(p.referenced_keys());
            }
            keys
        };
        Ok(match req.key {
            None => {
                let only = needed(&self.delegate);
                let ctx = self.context_for(store, p, req, gen, Some(&only))?;
                evaluate(&ctx, &self.delegate, &identity, &[], ec)
            }
            Some(key) => {
                let kp = match &key.policy {
                    Some(text) => self.key_policy(text),
                    None => self.key_policy(&default_key_policy(&self.account)),
                };
                let Some(kp) = kp else {
                    return Ok(Decision::ImplicitDeny);
                };
                let only = needed(&kp);
                let ctx = self.context_for(store, p, req, gen, Some(&only))?;
                let grants = self.grants_of(store, &key.id, gen)?;
                evaluate(&ctx, &kp, &identity, &grants, ec)
            }
        })
    }

    /// Decide, note the decision for the audit trail, and turn a denial
    /// into KMS's AccessDeniedException.
    pub fn authorize(
        &self,
        store: &dyn Store,
        p: &Principal,
        req: &AuthzRequest<'_>,
    ) -> KmsResult<()> {
        if let Some(k) = req.key {
            note(|n| {
                n.key_arn = Some(self.key_arn(&k.id));
                if n.key_version.is_none() {
                    n.key_version = Some(k.current_version);
                }
            });
        }
        if let Some(ec) = req.encryption_context {
            note(|n| n.encryption_context = ec.clone());
        }
        if !self.enforce {
            note(|n| n.decided_by = Some("policy enforcement is off".into()));
            return Ok(());
        }
        let d = self.decide(store, p, req)?;
        let allowed = d.allowed();
        note(|n| {
            n.allowed = allowed;
            n.decided_by = describe(&d);
        });
        let resource = || self.resource_of(req);
        match d {
            Decision::Allow(_) => Ok(()),
            Decision::ExplicitDeny(s) => Err(KmsError::new(
                ErrorKind::AccessDenied,
                format!(
                    "User: {} is not authorized to perform: {} on resource: {} with an explicit deny in {} (statement {})",
                    self.principal_arn(p),
                    req.action,
                    resource(),
                    s.policy,
                    s.statement
                ),
            )),
            Decision::ImplicitDeny => Err(KmsError::new(
                ErrorKind::AccessDenied,
                format!(
                    "User: {} is not authorized to perform: {} on resource: {} because no policy or grant allows the {} action",
                    self.principal_arn(p),
                    req.action,
                    resource(),
                    req.action
                ),
            )),
        }
    }
}

/// Decides (action, resource) pairs for one principal without keys.
pub struct Decider<'a> {
    authz: &'a Authz,
    ctx: RequestContext,
    identity: IdentityPolicies,
}

impl Decider<'_> {
    /// The decision for `action` on `resource` (identity policies alone).
    pub fn decide(&mut self, action: &str, resource: &str) -> Decision {
        self.ctx.action = action.to_string();
        self.ctx.resource = resource.to_string();
        if !self.authz.enforce {
            return Decision::Allow(Vec::new());
        }
        evaluate(
            &self.ctx,
            &self.authz.delegate,
            &self.identity,
            &[],
            &BTreeMap::new(),
        )
    }
}

/// A one-line account of a decision.
pub fn describe(d: &Decision) -> Option<String> {
    match d {
        Decision::Allow(src) => {
            let mut out = String::with_capacity(96);
            for (i, s) in src.iter().enumerate() {
                if i > 0 {
                    out.push_str(" + ");
                }
                out.push_str(&s.policy);
                out.push('/');
                out.push_str(&s.statement);
            }
            Some(out)
        }
        Decision::ExplicitDeny(s) => Some(format!("deny: {}/{}", s.policy, s.statement)),
        Decision::ImplicitDeny => None,
    }
}
