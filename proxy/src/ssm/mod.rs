//! The Parameter Store: the AWS SSM JSON 1.1 protocol
//! (`X-Amz-Target: AmazonSSM.<Operation>`) over the same store, principals,
//! policy engine and audit trail as the key service.
//!
//! SecureString values are kept one of two ways. Server-side, as SSM does:
//! encrypted under a KMS key of this proxy (the service-managed
//! `alias/managed/ssm` unless the caller names a key) with the encryption
//! context `{"PARAMETER_ARN": <arn>}`, and decrypted for `WithDecryption`
//! only if the policy engine allows the caller both the `ssm:` action on the
//! parameter and `kms:Decrypt` on the key. End to end, with `KeyId`
//! `client-encrypted`: the value is an AWS Encryption SDK message the client
//! made itself; the proxy stores it as it is and can never read it.

pub mod names;

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::note;
use crate::auth::Principal;
use crate::error::{KmsError, KmsResult};
use crate::kms::params::{parse, required};
use crate::kms::Kms;
use crate::store::params::{ParamVersion, ParamWriteError};
use names::{check_name, check_path, label_ok, split_selector, ssm, Selector};

/// The `KeyId` that marks a client-encrypted SecureString.
pub const CLIENT_ENCRYPTED: &str = "client-encrypted";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagIn {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutReq {
    name: Option<String>,
    value: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    description: Option<String>,
    key_id: Option<String>,
    overwrite: Option<bool>,
    allowed_pattern: Option<String>,
    tags: Option<Vec<TagIn>>,
    tier: Option<String>,
    data_type: Option<String>,
    #[allow(dead_code)]
    policies: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetReq {
    name: Option<String>,
    with_decryption: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetManyReq {
    names: Option<Vec<String>>,
    with_decryption: Option<bool>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct Filter {
    key: String,
    option: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByPathReq {
    path: Option<String>,
    recursive: Option<bool>,
    parameter_filters: Option<Vec<Filter>>,
    with_decryption: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryReq {
    name: Option<String>,
    with_decryption: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeReq {
    parameter_filters: Option<Vec<Filter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LabelReq {
    name: Option<String>,
    parameter_version: Option<u64>,
    labels: Option<Vec<String>>,
}

fn kind_ok(k: &str) -> KmsResult<()> {
    match k {
        "String" | "StringList" | "SecureString" => Ok(()),
        _ => Err(ssm(
            "UnsupportedParameterType",
            format!("Type {k} is not String, StringList or SecureString"),
        )),
    }
}

fn max_results(v: Option<i64>, max: i64) -> KmsResult<usize> {
    let n = v.unwrap_or(max);
    if !(1..=max).contains(&n) {
        return Err(KmsError::validation(format!(
            "MaxResults must be between 1 and {max}"
        )));
    }
    Ok(n as usize)
}

fn token_in(t: Option<&str>) -> KmsResult<Option<String>> {
    t.map(|t| {
        URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ssm("InvalidNextToken", "The NextToken is not valid"))
    })
    .transpose()
}

fn token_out(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn date(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Kms {
    /// `arn:aws:ssm:<region>:<account>:parameter/<name without leading />`.
    pub fn param_arn(&self, name: &str) -> String {
        let acct = self.authz().account();
        let region = self.key_arn("x");
        let region = region.split(':').nth(3).unwrap_or("");
        format!(
            "arn:aws:ssm:{region}:{acct}:parameter/{}",
            name.trim_start_matches('/')
        )
    }

    fn allow_param(&self, p: &Principal, action: &str, name: &str) -> KmsResult<()> {
        note(|n| n.resources.push(name.to_string()));
        self.authorize_resource(p, action, &self.param_arn(name))
    }

    /// Whether a path listing may show `name`: allowed to list it, and not
    /// explicitly denied reading it.
    fn visible(&self, d: &mut crate::auth::authz::Decider<'_>, name: &str) -> bool {
        let arn = self.param_arn(name);
        d.decide("ssm:GetParametersByPath", &arn).allowed()
            && !matches!(
                d.decide("ssm:GetParameter", &arn),
                kms_proxy_policy::Decision::ExplicitDeny(_)
            )
    }

    /// Run one Parameter Store operation.
    pub fn ssm_call(&self, op: &str, p: &Principal, body: Value) -> KmsResult<Value> {
        match op {
            "PutParameter" => self.put_parameter(p, body),
            "GetParameter" => self.get_parameter(p, body),
            "GetParameters" => self.get_parameters(p, body),
            "GetParametersByPath" => self.get_parameters_by_path(p, body),
            "GetParameterHistory" => self.get_parameter_history(p, body),
            "DescribeParameters" => self.describe_parameters(p, body),
            "DeleteParameter" => self.delete_parameter(p, body),
            "DeleteParameters" => self.delete_parameters(p, body),
            "LabelParameterVersion" => self.label_parameter_version(p, body),
            "UnlabelParameterVersion" => self.unlabel_parameter_version(p, body),
            _ => Err(KmsError::new(
                crate::error::ErrorKind::UnknownOperation,
                format!("Unknown operation {op}"),
            )),
        }
    }

    fn put_parameter(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: PutReq = parse(body)?;
        let name = required(r.name, "Name")?;
        check_name(&name)?;
        let value = required(r.value, "Value")?;
        if value.is_empty() {
            return Err(KmsError::validation("Value must not be empty"));
        }
        let overwrite = r.overwrite.unwrap_or(false);
        let tags: BTreeMap<String, String> = r
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        if overwrite && !tags.is_empty() {
            return Err(KmsError::validation(
                "Tags can't be set when Overwrite is true; tag the parameter separately",
            ));
        }
        if tags.len() > 50 {
            return Err(KmsError::validation("A parameter can have at most 50 tags"));
        }
        if let Some(d) = r.data_type.as_deref() {
            if d != "text" {
                return Err(KmsError::validation(format!(
                    "DataType {d} is not supported; only text is"
                )));
            }
        }
        let description = r.description.unwrap_or_default();
        if description.len() > 1024 {
            return Err(KmsError::validation(
                "Description is longer than 1024 characters",
            ));
        }
        self.allow_param(p, "ssm:PutParameter", &name)?;
        let existing = self.store().get_param(&name).map_err(KmsError::internal)?;
        if existing.is_some() && !overwrite {
            return Err(ssm(
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
            ));
        }
        let kind = match (r.kind, &existing) {
            (Some(k), _) => k,
            (None, Some(e)) => e.kind.clone(),
            (None, None) => {
                return Err(KmsError::validation("Type is required for a new parameter"))
            }
        };
        kind_ok(&kind)?;
        let allowed_pattern = r
            .allowed_pattern
            .or_else(|| existing.as_ref().and_then(|e| e.allowed_pattern.clone()));
        if let Some(pat) = &allowed_pattern {
            if pat.len() > 1024 {
                return Err(ssm(
                    "InvalidAllowedPatternException",
                    "AllowedPattern is longer than 1024 characters",
                ));
            }
            let re = regex::Regex::new(pat).map_err(|_| {
                ssm(
                    "InvalidAllowedPatternException",
                    "AllowedPattern is not a valid regular expression",
                )
            })?;
            if kind != "SecureString" && !re.is_match(&value) {
                return Err(ssm(
                    "ParameterPatternMismatchException",
                    "The value does not match the parameter's AllowedPattern",
                ));
            }
        }
        let tier = match r.tier.as_deref() {
            None | Some("Standard") => {
                if existing.as_ref().is_some_and(|e| e.tier == "Advanced") {
                    "Advanced"
                } else {
                    "Standard"
                }
            }
            Some("Advanced") => "Advanced",
            Some("Intelligent-Tiering") => {
                if value.len() > names::STANDARD_MAX {
                    "Advanced"
                } else {
                    "Standard"
                }
            }
            Some(t) => return Err(KmsError::validation(format!("Tier {t} is not valid"))),
        };
        let limit = if tier == "Advanced" {
            names::ADVANCED_MAX
        } else {
            names::STANDARD_MAX
        };
        if value.len() > limit {
            return Err(KmsError::validation(format!(
                "{tier} tier parameters support a maximum parameter value of {limit} characters.{}",
                if tier == "Standard" {
                    " To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier."
                } else {
                    ""
                }
            )));
        }
        let (stored, key_id) = if kind == "SecureString" {
            if r.key_id.as_deref() == Some(CLIENT_ENCRYPTED) {
                let msg = STANDARD.decode(value.as_bytes()).map_err(|_| {
                    KmsError::validation(
                        "A client-encrypted value must be a base64 AWS Encryption SDK message",
                    )
                })?;
                if !matches!(msg.first(), Some(1) | Some(2)) {
                    return Err(KmsError::validation(
                        "A client-encrypted value must be a base64 AWS Encryption SDK message",
                    ));
                }
                (value, Some(CLIENT_ENCRYPTED.to_string()))
            } else {
                let key = match r.key_id {
                    Some(k) => k,
                    None => self.key_arn(&self.ensure_managed_key("ssm")?.id),
                };
                let out = self.call(
                    "Encrypt",
                    &self.as_service(p, "ssm"),
                    json!({
                        "KeyId": key,
                        "Plaintext": STANDARD.encode(value.as_bytes()),
                        "EncryptionContext": {"PARAMETER_ARN": self.param_arn(&name)},
                    }),
                )?;
                let blob = out["CiphertextBlob"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let arn = out["KeyId"].as_str().map(str::to_string);
                (blob, arn)
            }
        } else {
            if r.key_id.is_some() {
                return Err(KmsError::validation(
                    "KeyId is only for SecureString parameters",
                ));
            }
            (value, None)
        };
        if self.store().count_params().map_err(KmsError::internal)? >= 100_000 && existing.is_none()
        {
            return Err(ssm(
                "ParameterLimitExceeded",
                "You have too many parameters",
            ));
        }
        let v = ParamVersion {
            name: name.clone(),
            version: 0,
            kind,
            value: stored,
            key_id,
            description,
            allowed_pattern,
            tier: tier.to_string(),
            data_type: "text".into(),
            modified_ms: now_ms(),
            modified_by: self.authz().principal_arn(p),
            labels: Vec::new(),
        };
        let version = self
            .store()
            .put_param(&v, overwrite, names::MAX_VERSIONS, &tags)
            .map_err(|e| match e {
                ParamWriteError::Exists => ssm("ParameterAlreadyExists", "The parameter already exists."),
                ParamWriteError::OldestLabelled => ssm(
                    "ParameterMaxVersionLimitExceeded",
                    "The parameter has 100 versions and the oldest has a label; remove the label or delete the parameter",
                ),
                ParamWriteError::Store(m) => KmsError::internal(m),
            })?;
        Ok(json!({ "Version": version, "Tier": tier }))
    }

    /// The value to return: as stored, or decrypted (server-side SecureStrings).
    fn present_value(&self, p: &Principal, v: &ParamVersion, decrypt: bool) -> KmsResult<String> {
        if v.kind != "SecureString" || !decrypt || v.key_id.as_deref() == Some(CLIENT_ENCRYPTED) {
            return Ok(v.value.clone());
        }
        let out = self.call(
            "Decrypt",
            &self.as_service(p, "ssm"),
            json!({
                "CiphertextBlob": v.value,
                "EncryptionContext": {"PARAMETER_ARN": self.param_arn(&v.name)},
            }),
        )?;
        let pt = STANDARD
            .decode(out["Plaintext"].as_str().unwrap_or_default())
            .map_err(KmsError::internal)?;
        String::from_utf8(pt).map_err(KmsError::internal)
    }

    fn parameter_json(
        &self,
        p: &Principal,
        v: &ParamVersion,
        decrypt: bool,
        selector: Option<&str>,
    ) -> KmsResult<Value> {
        let mut out = json!({
            "Name": v.name,
            "Type": v.kind,
            "Value": self.present_value(p, v, decrypt)?,
            "Version": v.version,
            "LastModifiedDate": date(v.modified_ms),
            "ARN": self.param_arn(&v.name),
            "DataType": v.data_type,
        });
        if let Some(s) = selector {
            out["Selector"] = json!(s);
        }
        Ok(out)
    }

    fn lookup(&self, spec: &str) -> KmsResult<(ParamVersion, Option<String>)> {
        let (name, sel) = split_selector(spec)?;
        check_name(&name)?;
        let not_found = || ssm("ParameterNotFound", format!("Parameter {name} not found."));
        let st = self.store();
        let (v, selector) = match sel {
            Selector::Latest => (st.get_param(&name).map_err(KmsError::internal)?, None),
            Selector::Version(n) => {
                if st.get_param(&name).map_err(KmsError::internal)?.is_none() {
                    return Err(not_found());
                }
                (
                    Some(
                        st.get_param_version(&name, n)
                            .map_err(KmsError::internal)?
                            .ok_or_else(|| {
                                ssm(
                                    "ParameterVersionNotFound",
                                    format!("Version {n} of {name} does not exist."),
                                )
                            })?,
                    ),
                    Some(format!(":{n}")),
                )
            }
            Selector::Label(l) => {
                if st.get_param(&name).map_err(KmsError::internal)?.is_none() {
                    return Err(not_found());
                }
                (
                    Some(
                        st.get_param_label(&name, &l)
                            .map_err(KmsError::internal)?
                            .ok_or_else(|| {
                                ssm(
                                    "ParameterVersionNotFound",
                                    format!("Label {l} of {name} does not exist."),
                                )
                            })?,
                    ),
                    Some(format!(":{l}")),
                )
            }
        };
        Ok((v.ok_or_else(not_found)?, selector))
    }

    fn get_parameter(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: GetReq = parse(body)?;
        let spec = required(r.name, "Name")?;
        let (name, _) = split_selector(&spec)?;
        self.allow_param(p, "ssm:GetParameter", &name)?;
        let (v, sel) = self.lookup(&spec)?;
        Ok(
            json!({ "Parameter": self.parameter_json(p, &v, r.with_decryption.unwrap_or(false), sel.as_deref())? }),
        )
    }

    fn get_parameters(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: GetManyReq = parse(body)?;
        let specs = required(r.names, "Names")?;
        if specs.is_empty() || specs.len() > 10 {
            return Err(KmsError::validation("Names must list 1 to 10 parameters"));
        }
        for s in &specs {
            let (name, _) = split_selector(s)?;
            check_name(&name)?;
            self.allow_param(p, "ssm:GetParameters", &name)?;
        }
        let mut found = Vec::new();
        let mut invalid = Vec::new();
        for s in &specs {
            match self.lookup(s) {
                Ok((v, sel)) => found.push(self.parameter_json(
                    p,
                    &v,
                    r.with_decryption.unwrap_or(false),
                    sel.as_deref(),
                )?),
                Err(e) if matches!(e.kind, crate::error::ErrorKind::Ssm(_)) => {
                    invalid.push(s.clone())
                }
                Err(e) => return Err(e),
            }
        }
        Ok(json!({ "Parameters": found, "InvalidParameters": invalid }))
    }

    fn filter_matches(&self, v: &ParamVersion, filters: &[Filter]) -> KmsResult<bool> {
        for f in filters {
            let option = f.option.as_deref().unwrap_or("Equals");
            let values = f.values.clone().unwrap_or_default();
            let test = |s: &str| match option {
                "Equals" => values.iter().any(|x| x == s),
                "BeginsWith" => values.iter().any(|x| s.starts_with(x.as_str())),
                _ => false,
            };
            if !matches!(option, "Equals" | "BeginsWith" | "Recursive" | "OneLevel") {
                return Err(ssm(
                    "InvalidFilterOption",
                    format!("Option {option} is not valid"),
                ));
            }
            let ok = match f.key.as_str() {
                "Type" => test(&v.kind),
                "KeyId" => v.key_id.as_deref().is_some_and(test),
                "Label" => self
                    .store()
                    .param_labels(&v.name, v.version)
                    .map_err(KmsError::internal)?
                    .iter()
                    .any(|l| test(l)),
                "Name" => test(&v.name) || test(v.name.trim_start_matches('/')),
                "Tier" => test(&v.tier),
                "DataType" => test(&v.data_type),
                "Path" => {
                    let one = option == "OneLevel" || option == "Equals";
                    values.iter().any(|path| {
                        let pre = format!("{}/", path.trim_end_matches('/'));
                        v.name.starts_with(&pre) && (!one || !v.name[pre.len()..].contains('/'))
                    })
                }
                k if k.starts_with("tag:") => {
                    let tags = self
                        .store()
                        .param_tags(&v.name)
                        .map_err(KmsError::internal)?;
                    match tags.get(&k[4..]) {
                        Some(val) => values.is_empty() || test(val),
                        None => false,
                    }
                }
                k => {
                    return Err(ssm(
                        "InvalidFilterKey",
                        format!("Filter key {k} is not valid"),
                    ))
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn get_parameters_by_path(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: ByPathReq = parse(body)?;
        let path = check_path(&required(r.path, "Path")?)?;
        let recursive = r.recursive.unwrap_or(false);
        let max = max_results(r.max_results, 10)?;
        let filters = r.parameter_filters.unwrap_or_default();
        for f in &filters {
            if !matches!(f.key.as_str(), "Type" | "KeyId" | "Label") && !f.key.starts_with("tag:") {
                return Err(ssm(
                    "InvalidFilterKey",
                    format!("Filter key {} is not valid for GetParametersByPath", f.key),
                ));
            }
        }
        self.allow_param(p, "ssm:GetParametersByPath", path.trim_end_matches('/'))?;
        let decrypt = r.with_decryption.unwrap_or(false);
        let mut decider = self.authz().decider(self.store(), p)?;
        let mut after = token_in(r.next_token.as_deref())?;
        let mut out = Vec::new();
        let mut more = false;
        let batch_size = 2 * max + 2;
        'scan: loop {
            let batch = self
                .store()
                .list_params(&path, after.as_deref(), batch_size)
                .map_err(KmsError::internal)?;
            let done = batch.len() < batch_size;
            for v in batch {
                after = Some(v.name.clone());
                let rest = &v.name[path.len()..];
                if !recursive && rest.contains('/') {
                    continue;
                }
                if !self.filter_matches(&v, &filters)? || !self.visible(&mut decider, &v.name) {
                    continue;
                }
                if out.len() == max {
                    more = true;
                    break 'scan;
                }
                out.push(v);
            }
            if done {
                break;
            }
        }
        let mut params = Vec::with_capacity(out.len());
        for v in &out {
            params.push(self.parameter_json(p, v, decrypt, None)?);
        }
        let mut resp = json!({ "Parameters": params });
        if more {
            if let Some(last) = out.last() {
                resp["NextToken"] = json!(token_out(&last.name));
            }
        }
        Ok(resp)
    }

    fn get_parameter_history(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: HistoryReq = parse(body)?;
        let name = required(r.name, "Name")?;
        check_name(&name)?;
        let max = max_results(r.max_results, 50)?;
        self.allow_param(p, "ssm:GetParameterHistory", &name)?;
        let all = self
            .store()
            .param_history(&name)
            .map_err(KmsError::internal)?;
        if all.is_empty() {
            return Err(ssm(
                "ParameterNotFound",
                format!("Parameter {name} not found."),
            ));
        }
        let from: u64 = match token_in(r.next_token.as_deref())? {
            Some(t) => t
                .parse()
                .map_err(|_| ssm("InvalidNextToken", "The NextToken is not valid"))?,
            None => 0,
        };
        let page: Vec<&ParamVersion> = all.iter().filter(|v| v.version > from).take(max).collect();
        let decrypt = r.with_decryption.unwrap_or(false);
        let mut items = Vec::new();
        for v in &page {
            let mut item = json!({
                "Name": v.name, "Type": v.kind, "LastModifiedDate": date(v.modified_ms),
                "LastModifiedUser": v.modified_by, "Description": v.description,
                "Value": self.present_value(p, v, decrypt)?, "Version": v.version, "Labels": v.labels,
                "Tier": v.tier, "Policies": [], "DataType": v.data_type,
            });
            if let Some(k) = &v.key_id {
                item["KeyId"] = json!(k);
            }
            if let Some(a) = &v.allowed_pattern {
                item["AllowedPattern"] = json!(a);
            }
            items.push(item);
        }
        let mut resp = json!({ "Parameters": items });
        if let Some(last) = page.last() {
            if all.iter().any(|v| v.version > last.version) {
                resp["NextToken"] = json!(token_out(&last.version.to_string()));
            }
        }
        Ok(resp)
    }

    fn describe_parameters(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: DescribeReq = parse(body)?;
        let max = max_results(r.max_results, 50)?;
        let filters = r.parameter_filters.unwrap_or_default();
        note(|n| n.resources.push("*".into()));
        self.authorize_resource(p, "ssm:DescribeParameters", &self.param_arn("*"))?;
        let mut after = token_in(r.next_token.as_deref())?;
        let mut out = Vec::new();
        let mut more = false;
        'scan: loop {
            let batch = self
                .store()
                .list_params("", after.as_deref(), 200)
                .map_err(KmsError::internal)?;
            let done = batch.len() < 200;
            for v in batch {
                after = Some(v.name.clone());
                if !self.filter_matches(&v, &filters)? {
                    continue;
                }
                if out.len() == max {
                    more = true;
                    break 'scan;
                }
                out.push(v);
            }
            if done {
                break;
            }
        }
        let items: Vec<Value> = out
            .iter()
            .map(|v| {
                let mut m = json!({
                    "Name": v.name, "ARN": self.param_arn(&v.name), "Type": v.kind,
                    "LastModifiedDate": date(v.modified_ms), "LastModifiedUser": v.modified_by,
                    "Description": v.description, "Version": v.version, "Tier": v.tier,
                    "Policies": [], "DataType": v.data_type,
                });
                if let Some(k) = &v.key_id {
                    m["KeyId"] = json!(k);
                }
                if let Some(a) = &v.allowed_pattern {
                    m["AllowedPattern"] = json!(a);
                }
                m
            })
            .collect();
        let mut resp = json!({ "Parameters": items });
        if more {
            if let Some(last) = out.last() {
                resp["NextToken"] = json!(token_out(&last.name));
            }
        }
        Ok(resp)
    }

    fn delete_parameter(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: GetReq = parse(body)?;
        let name = required(r.name, "Name")?;
        check_name(&name)?;
        self.allow_param(p, "ssm:DeleteParameter", &name)?;
        if !self
            .store()
            .delete_param(&name)
            .map_err(KmsError::internal)?
        {
            return Err(ssm(
                "ParameterNotFound",
                format!("Parameter {name} not found."),
            ));
        }
        Ok(json!({}))
    }

    fn delete_parameters(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: GetManyReq = parse(body)?;
        let names = required(r.names, "Names")?;
        if names.is_empty() || names.len() > 10 {
            return Err(KmsError::validation("Names must list 1 to 10 parameters"));
        }
        for n in &names {
            check_name(n)?;
            self.allow_param(p, "ssm:DeleteParameters", n)?;
        }
        let mut deleted = Vec::new();
        let mut invalid = Vec::new();
        for n in names {
            if self.store().delete_param(&n).map_err(KmsError::internal)? {
                deleted.push(n);
            } else {
                invalid.push(n);
            }
        }
        Ok(json!({ "DeletedParameters": deleted, "InvalidParameters": invalid }))
    }

    fn label_parameter_version(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: LabelReq = parse(body)?;
        let name = required(r.name, "Name")?;
        check_name(&name)?;
        let labels = required(r.labels, "Labels")?;
        if labels.is_empty() || labels.len() > names::MAX_LABELS_PER_VERSION {
            return Err(KmsError::validation("Labels must list 1 to 10 labels"));
        }
        self.allow_param(p, "ssm:LabelParameterVersion", &name)?;
        let latest = self
            .store()
            .get_param(&name)
            .map_err(KmsError::internal)?
            .ok_or_else(|| ssm("ParameterNotFound", format!("Parameter {name} not found.")))?;
        let version = r.parameter_version.unwrap_or(latest.version);
        let v = self
            .store()
            .get_param_version(&name, version)
            .map_err(KmsError::internal)?
            .ok_or_else(|| {
                ssm(
                    "ParameterVersionNotFound",
                    format!("Version {version} of {name} does not exist."),
                )
            })?;
        let (good, bad): (Vec<String>, Vec<String>) = labels.into_iter().partition(|l| label_ok(l));
        let mut after: Vec<&String> = v.labels.iter().collect();
        for l in &good {
            if !after.contains(&l) {
                after.push(l);
            }
        }
        if after.len() > names::MAX_LABELS_PER_VERSION {
            return Err(ssm(
                "ParameterVersionLabelLimitExceeded",
                "A parameter version can have at most 10 labels",
            ));
        }
        if !good.is_empty() {
            self.store()
                .label_param(&name, version, &good)
                .map_err(KmsError::internal)?;
        }
        Ok(json!({ "InvalidLabels": bad, "ParameterVersion": version }))
    }

    fn unlabel_parameter_version(&self, p: &Principal, body: Value) -> KmsResult<Value> {
        let r: LabelReq = parse(body)?;
        let name = required(r.name, "Name")?;
        check_name(&name)?;
        let version = required(r.parameter_version, "ParameterVersion")?;
        let labels = required(r.labels, "Labels")?;
        if labels.is_empty() || labels.len() > names::MAX_LABELS_PER_VERSION {
            return Err(KmsError::validation("Labels must list 1 to 10 labels"));
        }
        self.allow_param(p, "ssm:UnlabelParameterVersion", &name)?;
        if self
            .store()
            .get_param(&name)
            .map_err(KmsError::internal)?
            .is_none()
        {
            return Err(ssm(
                "ParameterNotFound",
                format!("Parameter {name} not found."),
            ));
        }
        if self
            .store()
            .get_param_version(&name, version)
            .map_err(KmsError::internal)?
            .is_none()
        {
            return Err(ssm(
                "ParameterVersionNotFound",
                format!("Version {version} of {name} does not exist."),
            ));
        }
        let removed = self
            .store()
            .unlabel_param(&name, version, &labels)
            .map_err(KmsError::internal)?;
        let invalid: Vec<&String> = labels.iter().filter(|l| !removed.contains(l)).collect();
        Ok(json!({ "RemovedLabels": removed, "InvalidLabels": invalid }))
    }
}
