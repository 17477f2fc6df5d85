//! `Policy::referenced_keys`: the condition keys a policy reads. The proxy
//! builds request contexts with only these keys, so a context cut down to
//! them must decide exactly as the full context does.

use std::collections::BTreeMap;

use kms_proxy_policy::*;
use serde_json::json;

const ACCT: &str = "111122223333";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn full_context(user: &str, owner: &str, ip: &str) -> RequestContext {
    let mut c = RequestContext::new(
        Caller {
            arn: format!("arn:aws:iam::{ACCT}:user/{user}"),
            account: ACCT.into(),
        },
        "kms:Decrypt",
        KEY,
    );
    let mut ec = BTreeMap::new();
    ec.insert("owner".to_string(), owner.to_string());
    ec.insert("Dept".to_string(), "x".to_string());
    c.set_encryption_context(&ec)
        .set("aws:username", vec![user.into()])
        .set("jwt:sub", vec![user.into()])
        .set("aws:SourceIp", vec![ip.into()])
        .set("aws:PrincipalTag/Team", vec!["blue".into()])
        .set("kms:CallerAccount", vec![ACCT.into()]);
    c
}

fn cut(c: &RequestContext, keep: &[String]) -> RequestContext {
    let mut out = RequestContext::new(c.caller.clone(), &c.action, &c.resource);
    for (k, v) in &c.keys {
        if keep.contains(k) {
            out.set_canonical(k.clone(), v.clone());
        }
    }
    out
}

#[test]
fn referenced_keys_are_the_keys_conditions_and_variables_read() {
    let p = Policy::parse(
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
             "Resource": "arn:aws:kms:*:${kms:CallerAccount}:key/*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:owner": "${JWT:sub}"},
                           "NotIpAddress": {"AWS:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:*",
             "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "Dept"},
                           "StringNotEquals": {"aws:PrincipalTag/Team": "blue"}}}]})
        .to_string(),
        PolicyKind::Key,
    )
    .unwrap();
    assert_eq!(
        p.referenced_keys(),
        [
            "aws:principaltag/Team",
            "aws:sourceip",
            "jwt:sub",
            "kms:calleraccount",
            "kms:encryptioncontext:owner",
            "kms:encryptioncontextkeys",
        ]
    );
    let admin = Policy::parse(
        &json!({"Statement": [{"Effect": "Allow", "Action": ["kms:*", "ssm:*"], "Resource": "*"}]})
            .to_string(),
        PolicyKind::Identity,
    )
    .unwrap();
    assert!(admin.referenced_keys().is_empty());

    let none = BTreeMap::new();
    let mut seen = Vec::new();
    for (user, owner, ip) in [
        ("alice", "alice", "192.0.2.1"),
        ("alice", "bob", "192.0.2.1"),
        ("alice", "alice", "10.1.1.1"),
    ] {
        let full = full_context(user, owner, ip);
        let small = cut(&full, p.referenced_keys());
        assert!(small.keys.len() < full.keys.len());
        let a = evaluate(&full, &p, &[], &[], &none);
        let b = evaluate(&small, &p, &[], &[], &none);
        assert_eq!(a, b);
        seen.push(a.allowed());
        // Without the keys it reads, an allowed request is not: the cut is
        // not vacuous.
        if a.allowed() {
            let empty = cut(&full, &[]);
            assert!(!evaluate(&empty, &p, &[], &[], &none).allowed());
        }
    }
    // The Deny on Dept (tag blue: not denied) leaves the owner and IP tests deciding.
    assert_eq!(seen, [true, false, false]);
}
