#![allow(clippy::cloned_ref_to_slice_refs, clippy::type_complexity)] // test tables read better this way
//! A table-driven policy matrix: KMS's documented examples, every condition
//! operator, set qualifiers, policy variables, grants, and validation.

use std::collections::BTreeMap;

use kms_proxy_policy::*;
use serde_json::json;

const ACCT: &str = "111122223333";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab";

fn user(name: &str) -> Caller {
    Caller {
        arn: format!("arn:aws:iam::{ACCT}:user/{name}"),
        account: ACCT.into(),
    }
}

fn key_policy(v: serde_json::Value) -> Policy {
    Policy::parse(&v.to_string(), PolicyKind::Key).expect("valid key policy")
}

fn id_policy(v: serde_json::Value) -> (String, Policy) {
    (
        "p".into(),
        Policy::parse(&v.to_string(), PolicyKind::Identity).expect("valid identity policy"),
    )
}

fn stmt_key(
    effect: &str,
    principal: serde_json::Value,
    action: serde_json::Value,
) -> serde_json::Value {
    json!({"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":effect,"Principal":principal,"Action":action,"Resource":"*"}]})
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Allow,
    Implicit,
    Explicit,
}

fn outcome(d: &Decision) -> Want {
    match d {
        Decision::Allow(_) => Want::Allow,
        Decision::ImplicitDeny => Want::Implicit,
        Decision::ExplicitDeny(_) => Want::Explicit,
    }
}

struct Counter(usize);

impl Counter {
    fn check(&mut self, name: &str, d: Decision, want: Want) {
        assert_eq!(outcome(&d), want, "case {}: {name}: got {d:?}", self.0);
        self.0 += 1;
    }
}

fn delegate_all() -> Policy {
    Policy::parse(&default_key_policy(ACCT), PolicyKind::Key).unwrap()
}

fn ctx(caller: Caller, action: &str) -> RequestContext {
    RequestContext::new(caller, action, KEY)
}

fn no_ec() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn policy_matrix() {
    let mut c = Counter(0);
    let alice = user("alice");
    let bob = user("bob");
    let admin = user("admin");

    // 1. Documented KMS shapes.
    let direct = key_policy(stmt_key(
        "Allow",
        json!({"AWS": alice.arn}),
        json!("kms:Decrypt"),
    ));
    c.check(
        "key policy allows the user directly",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &direct,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    c.check(
        "direct allow names another user",
        evaluate(
            &ctx(bob.clone(), "kms:Decrypt"),
            &direct,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );
    c.check(
        "direct allow for another action",
        evaluate(
            &ctx(alice.clone(), "kms:Encrypt"),
            &direct,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );
    let allow_all =
        id_policy(json!({"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}));
    let deny_decrypt = id_policy(
        json!({"Statement":[{"Sid":"NoDecrypt","Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}),
    );
    c.check(
        "key policy allows, identity policy denies",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &direct,
            &[deny_decrypt.clone()],
            &[],
            &no_ec(),
        ),
        Want::Explicit,
    );
    c.check(
        "delegated to the account, identity allows",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &delegate_all(),
            &[allow_all.clone()],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    c.check(
        "delegated to the account, no identity policy",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &delegate_all(),
            &[],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );
    c.check(
        "delegated, identity denies",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &delegate_all(),
            &[allow_all.clone(), deny_decrypt.clone()],
            &[],
            &no_ec(),
        ),
        Want::Explicit,
    );
    c.check(
        "account root itself is direct",
        evaluate(
            &ctx(
                Caller {
                    arn: format!("arn:aws:iam::{ACCT}:root"),
                    account: ACCT.into(),
                },
                "kms:Decrypt",
            ),
            &delegate_all(),
            &[],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    let acct_id = key_policy(stmt_key("Allow", json!({"AWS": ACCT}), json!("kms:*")));
    c.check(
        "account id as principal delegates",
        evaluate(
            &ctx(alice.clone(), "kms:Encrypt"),
            &acct_id,
            &[allow_all.clone()],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    c.check(
        "account id without identity policy",
        evaluate(
            &ctx(alice.clone(), "kms:Encrypt"),
            &acct_id,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );
    let other_acct = Caller {
        arn: "arn:aws:iam::444455556666:user/eve".into(),
        account: "444455556666".into(),
    };
    c.check(
        "another account is not delegated",
        evaluate(
            &ctx(other_acct.clone(), "kms:Decrypt"),
            &delegate_all(),
            &[allow_all.clone()],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );
    let star = key_policy(stmt_key("Allow", json!("*"), json!("kms:Decrypt")));
    c.check(
        "Principal * allows anyone",
        evaluate(
            &ctx(other_acct.clone(), "kms:Decrypt"),
            &star,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    let star_acct = key_policy(
        json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":ACCT}}}]}),
    );
    let mut cx = ctx(alice.clone(), "kms:Decrypt");
    cx.set("kms:CallerAccount", vec![ACCT.into()]);
    c.check(
        "Principal * limited by kms:CallerAccount, same account",
        evaluate(&cx, &star_acct, &[], &[], &no_ec()),
        Want::Allow,
    );
    let mut cx = ctx(other_acct.clone(), "kms:Decrypt");
    cx.set("kms:CallerAccount", vec!["444455556666".into()]);
    c.check(
        "Principal * limited by kms:CallerAccount, other account",
        evaluate(&cx, &star_acct, &[], &[], &no_ec()),
        Want::Implicit,
    );
    let not_principal = key_policy(json!({"Statement":[
        {"Sid":"All","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
        {"Sid":"DenyAllButAdmin","Effect":"Deny","NotPrincipal":{"AWS":[admin.arn.clone()]},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}));
    c.check(
        "NotPrincipal deny hits others",
        evaluate(
            &ctx(alice.clone(), "kms:ScheduleKeyDeletion"),
            &not_principal,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Explicit,
    );
    c.check(
        "NotPrincipal deny spares the admin",
        evaluate(
            &ctx(admin.clone(), "kms:ScheduleKeyDeletion"),
            &not_principal,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    c.check(
        "NotPrincipal deny is for one action",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &not_principal,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    let explicit = key_policy(json!({"Statement":[
        {"Effect":"Allow","Principal":{"AWS":alice.arn.clone()},"Action":"kms:*","Resource":"*"},
        {"Sid":"NoDisable","Effect":"Deny","Principal":{"AWS":alice.arn.clone()},"Action":"kms:DisableKey","Resource":"*"}]}));
    c.check(
        "explicit deny in the key policy wins",
        evaluate(
            &ctx(alice.clone(), "kms:DisableKey"),
            &explicit,
            &[allow_all.clone()],
            &[],
            &no_ec(),
        ),
        Want::Explicit,
    );
    c.check(
        "the rest of kms:* still allowed",
        evaluate(
            &ctx(alice.clone(), "kms:EnableKey"),
            &explicit,
            &[],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    let wild = key_policy(stmt_key(
        "Allow",
        json!({"AWS": alice.arn}),
        json!(["kms:Generate*", "kms:Decrypt"]),
    ));
    for (a, w) in [
        ("kms:GenerateDataKey", Want::Allow),
        ("kms:GenerateDataKeyWithoutPlaintext", Want::Allow),
        ("kms:GenerateRandom", Want::Allow),
        ("kms:Decrypt", Want::Allow),
        ("kms:Encrypt", Want::Implicit),
        ("KMS:generatedatakey", Want::Allow),
    ] {
        c.check(
            &format!("action wildcard {a}"),
            evaluate(&ctx(alice.clone(), a), &wild, &[], &[], &no_ec()),
            w,
        );
    }
    let not_action = key_policy(
        json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":alice.arn.clone()},"NotAction":["kms:ScheduleKeyDeletion","kms:Put*"],"Resource":"*"}]}),
    );
    for (a, w) in [
        ("kms:Decrypt", Want::Allow),
        ("kms:ScheduleKeyDeletion", Want::Implicit),
        ("kms:PutKeyPolicy", Want::Implicit),
    ] {
        c.check(
            &format!("NotAction {a}"),
            evaluate(&ctx(alice.clone(), a), &not_action, &[], &[], &no_ec()),
            w,
        );
    }
    let id_for_key =
        id_policy(json!({"Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":KEY}]}));
    c.check(
        "identity policy for this key",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &delegate_all(),
            &[id_for_key.clone()],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    c.check(
        "identity policy for another key",
        evaluate(
            &RequestContext::new(alice.clone(), "kms:Decrypt", OTHER_KEY),
            &delegate_all(),
            &[id_for_key.clone()],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );
    let id_not_res = id_policy(
        json!({"Statement":[{"Effect":"Allow","Action":"kms:*","NotResource":OTHER_KEY}]}),
    );
    c.check(
        "NotResource allows this key",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &delegate_all(),
            &[id_not_res.clone()],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    c.check(
        "NotResource excludes the other key",
        evaluate(
            &RequestContext::new(alice.clone(), "kms:Decrypt", OTHER_KEY),
            &delegate_all(),
            &[id_not_res],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );
    let id_wild_res = id_policy(
        json!({"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/1234*"}]}),
    );
    c.check(
        "resource wildcard",
        evaluate(
            &ctx(alice.clone(), "kms:Decrypt"),
            &delegate_all(),
            &[id_wild_res.clone()],
            &[],
            &no_ec(),
        ),
        Want::Allow,
    );
    c.check(
        "resource wildcard misses",
        evaluate(
            &RequestContext::new(alice.clone(), "kms:Decrypt", OTHER_KEY),
            &delegate_all(),
            &[id_wild_res],
            &[],
            &no_ec(),
        ),
        Want::Implicit,
    );

    // 2. Every condition operator: (operator, condition value, request value or None, want).
    let cases: &[(&str, &str, Option<&str>, bool)] = &[
        ("StringEquals", "alice", Some("alice"), true),
        ("StringEquals", "alice", Some("Alice"), false),
        ("StringEquals", "alice", None, false),
        ("StringNotEquals", "alice", Some("bob"), true),
        ("StringNotEquals", "alice", Some("alice"), false),
        ("StringNotEquals", "alice", None, true),
        ("StringEqualsIgnoreCase", "ALICE", Some("alice"), true),
        ("StringEqualsIgnoreCase", "ALICE", Some("bob"), false),
        ("StringNotEqualsIgnoreCase", "ALICE", Some("alice"), false),
        ("StringNotEqualsIgnoreCase", "ALICE", Some("bob"), true),
        ("StringLike", "al*", Some("alice"), true),
        ("StringLike", "al?ce", Some("alice"), true),
        ("StringLike", "al*", Some("bob"), false),
        ("StringLike", "al*", None, false),
        ("StringNotLike", "al*", Some("bob"), true),
        ("StringNotLike", "al*", Some("alice"), false),
        ("StringEqualsIfExists", "alice", None, true),
        ("StringEqualsIfExists", "alice", Some("bob"), false),
        ("StringEqualsIfExists", "alice", Some("alice"), true),
        ("NumericEquals", "10", Some("10"), true),
        ("NumericEquals", "10", Some("10.0"), true),
        ("NumericEquals", "10", Some("11"), false),
        ("NumericNotEquals", "10", Some("11"), true),
        ("NumericNotEquals", "10", Some("10"), false),
        ("NumericLessThan", "10", Some("9"), true),
        ("NumericLessThan", "10", Some("10"), false),
        ("NumericLessThanEquals", "10", Some("10"), true),
        ("NumericLessThanEquals", "10", Some("11"), false),
        ("NumericGreaterThan", "10", Some("11"), true),
        ("NumericGreaterThan", "10", Some("10"), false),
        ("NumericGreaterThanEquals", "10", Some("10"), true),
        ("NumericGreaterThanEquals", "10", Some("9"), false),
        ("NumericLessThan", "10", Some("not a number"), false),
        (
            "DateEquals",
            "2026-11-28T00:00:00Z",
            Some("2026-11-28T00:00:00Z"),
            true,
        ),
        (
            "DateEquals",
            "2026-11-28T00:00:00Z",
            Some("2026-11-28T01:00:00+01:00"),
            true,
        ),
        (
            "DateEquals",
            "2026-11-28T00:00:00Z",
            Some("2026-11-28T00:00:01Z"),
            false,
        ),
        (
            "DateNotEquals",
            "2026-11-28T00:00:00Z",
            Some("2026-11-29T00:00:00Z"),
            true,
        ),
        (
            "DateNotEquals",
            "2026-11-28T00:00:00Z",
            Some("2026-11-28T00:00:00Z"),
            false,
        ),
        (
            "DateLessThan",
            "2026-12-01T00:00:00Z",
            Some("2026-11-28T19:00:00Z"),
            true,
        ),
        (
            "DateLessThan",
            "2026-11-01T00:00:00Z",
            Some("2026-11-28T19:00:00Z"),
            false,
        ),
        (
            "DateLessThanEquals",
            "2026-11-28T19:00:00Z",
            Some("2026-11-28T19:00:00Z"),
            true,
        ),
        (
            "DateLessThanEquals",
            "2026-11-28T18:59:59Z",
            Some("2026-11-28T19:00:00Z"),
            false,
        ),
        (
            "DateGreaterThan",
            "2026-11-01T00:00:00Z",
            Some("2026-11-28T19:00:00Z"),
            true,
        ),
        (
            "DateGreaterThan",
            "2026-12-01T00:00:00Z",
            Some("2026-11-28T19:00:00Z"),
            false,
        ),
        (
            "DateGreaterThanEquals",
            "2026-11-28T19:00:00Z",
            Some("2026-11-28T19:00:00Z"),
            true,
        ),
        (
            "DateGreaterThanEquals",
            "1798300000",
            Some("2026-11-28T19:00:00Z"),
            false,
        ),
        (
            "DateLessThan",
            "1798300000",
            Some("2026-11-28T19:00:00Z"),
            true,
        ),
        ("Bool", "true", Some("true"), true),
        ("Bool", "true", Some("false"), false),
        ("Bool", "false", Some("FALSE"), true),
        ("Bool", "true", None, false),
        ("BoolIfExists", "true", None, true),
        ("IpAddress", "127.0.0.0/8", Some("127.0.0.1"), true),
        ("IpAddress", "10.0.0.0/8", Some("127.0.0.1"), false),
        ("IpAddress", "::1/128", Some("::1"), true),
        ("IpAddress", "2001:db8::/32", Some("2001:db8::1"), true),
        ("IpAddress", "10.0.0.0/8", None, false),
        ("NotIpAddress", "10.0.0.0/8", Some("127.0.0.1"), true),
        ("NotIpAddress", "127.0.0.0/8", Some("127.0.0.1"), false),
        ("Null", "true", None, true),
        ("Null", "true", Some("x"), false),
        ("Null", "false", Some("x"), true),
        ("Null", "false", None, false),
        (
            "ArnEquals",
            "arn:aws:iam::111122223333:user/alice",
            Some("arn:aws:iam::111122223333:user/alice"),
            true,
        ),
        (
            "ArnEquals",
            "arn:aws:iam::111122223333:user/alice",
            Some("arn:aws:iam::111122223333:user/bob"),
            false,
        ),
        (
            "ArnLike",
            "arn:aws:iam::111122223333:user/*",
            Some("arn:aws:iam::111122223333:user/bob"),
            true,
        ),
        (
            "ArnLike",
            "arn:aws:iam::444455556666:*",
            Some("arn:aws:iam::111122223333:user/bob"),
            false,
        ),
        (
            "ArnNotEquals",
            "arn:aws:iam::111122223333:user/alice",
            Some("arn:aws:iam::111122223333:user/bob"),
            true,
        ),
        (
            "ArnNotLike",
            "arn:aws:iam::111122223333:*",
            Some("arn:aws:iam::111122223333:user/bob"),
            false,
        ),
    ];
    let key_for = |op: &str| -> &'static str {
        if op.starts_with("Numeric") {
            "jwt:level"
        } else if op.starts_with("Date") {
            "aws:CurrentTime"
        } else if op.starts_with("Bool") {
            "aws:SecureTransport"
        } else if op.contains("IpAddress") {
            "aws:SourceIp"
        } else if op.starts_with("Arn") {
            "aws:PrincipalArn"
        } else {
            "kms:EncryptionContext:owner"
        }
    };
    for (op, val, req, want) in cases {
        let k = key_for(op);
        let p = key_policy(
            json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{*op:{k:*val}}}]}),
        );
        let mut cx = ctx(alice.clone(), "kms:Decrypt");
        if let Some(r) = req {
            cx.set(k, vec![r.to_string()]);
        }
        let w = if *want { Want::Allow } else { Want::Implicit };
        c.check(
            &format!("{op} {k} {val:?} vs {req:?}"),
            evaluate(&cx, &p, &[], &[], &no_ec()),
            w,
        );
        // The same condition on a Deny statement flips the outcome.
        let d = key_policy(json!({"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"},
            {"Sid":"D","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{*op:{k:*val}}}]}));
        let w = if *want { Want::Explicit } else { Want::Allow };
        c.check(
            &format!("Deny {op} {k} {val:?} vs {req:?}"),
            evaluate(&cx, &d, &[], &[], &no_ec()),
            w,
        );
    }
    // Several values are ORed; several keys and operators are ANDed.
    let multi = key_policy(
        json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*",
        "Condition":{"StringEquals":{"kms:EncryptionContext:owner":["alice","bob"],"kms:EncryptionContext:purpose":"upload"},"Bool":{"aws:SecureTransport":"true"}}}]}),
    );
    for (owner, purpose, tls, want) in [
        ("alice", "upload", "true", Want::Allow),
        ("bob", "upload", "true", Want::Allow),
        ("carol", "upload", "true", Want::Implicit),
        ("alice", "other", "true", Want::Implicit),
        ("alice", "upload", "false", Want::Implicit),
    ] {
        let mut cx = ctx(alice.clone(), "kms:Decrypt");
        cx.set("kms:EncryptionContext:owner", vec![owner.into()])
            .set("kms:EncryptionContext:purpose", vec![purpose.into()])
            .set("aws:SecureTransport", vec![tls.into()]);
        c.check(
            &format!("OR/AND {owner} {purpose} {tls}"),
            evaluate(&cx, &multi, &[], &[], &no_ec()),
            want,
        );
    }

    // 3. Set qualifiers over kms:EncryptionContextKeys.
    let set_cases: &[(&str, &[&str], &[&str], bool)] = &[
        (
            "ForAllValues:StringEquals",
            &["owner", "purpose"],
            &["owner"],
            true,
        ),
        (
            "ForAllValues:StringEquals",
            &["owner", "purpose"],
            &["owner", "purpose"],
            true,
        ),
        (
            "ForAllValues:StringEquals",
            &["owner", "purpose"],
            &["owner", "extra"],
            false,
        ),
        ("ForAllValues:StringEquals", &["owner"], &[], true),
        (
            "ForAnyValue:StringEquals",
            &["owner"],
            &["owner", "extra"],
            true,
        ),
        ("ForAnyValue:StringEquals", &["owner"], &["extra"], false),
        ("ForAnyValue:StringEquals", &["owner"], &[], false),
        (
            "ForAllValues:StringLike",
            &["app-*"],
            &["app-a", "app-b"],
            true,
        ),
        (
            "ForAllValues:StringLike",
            &["app-*"],
            &["app-a", "web-b"],
            false,
        ),
        (
            "ForAnyValue:StringLike",
            &["app-*"],
            &["web-a", "app-b"],
            true,
        ),
        (
            "ForAllValues:StringNotEquals",
            &["secret"],
            &["a", "b"],
            true,
        ),
        (
            "ForAllValues:StringNotEquals",
            &["secret"],
            &["a", "secret"],
            false,
        ),
        (
            "ForAnyValue:StringNotEquals",
            &["secret"],
            &["a", "secret"],
            true,
        ),
        (
            "ForAnyValue:StringNotEquals",
            &["secret"],
            &["secret"],
            false,
        ),
    ];
    for (op, vals, req, want) in set_cases {
        let p = key_policy(
            json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:GenerateDataKey","Resource":"*","Condition":{*op:{"kms:EncryptionContextKeys":*vals}}}]}),
        );
        let mut cx = ctx(alice.clone(), "kms:GenerateDataKey");
        if !req.is_empty() {
            cx.set(
                "kms:EncryptionContextKeys",
                req.iter().map(|s| s.to_string()).collect(),
            );
        }
        c.check(
            &format!("{op} {vals:?} vs {req:?}"),
            evaluate(&cx, &p, &[], &[], &no_ec()),
            if *want { Want::Allow } else { Want::Implicit },
        );
    }

    // 4. Policy variables.
    let owner_is_sub = key_policy(
        json!({"Statement":[{"Sid":"OwnData","Effect":"Allow","Principal":"*","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
        "Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${jwt:sub}"}}}]}),
    );
    for (sub, owner, want) in [
        ("alice", Some("alice"), Want::Allow),
        ("alice", Some("bob"), Want::Implicit),
        ("bob", Some("bob"), Want::Allow),
        ("alice", None, Want::Implicit),
        ("", Some(""), Want::Allow),
    ] {
        for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
            let mut cx = ctx(user(sub), action);
            cx.set("jwt:sub", vec![sub.into()]);
            if let Some(o) = owner {
                cx.set("kms:EncryptionContext:owner", vec![o.into()]);
            }
            c.check(
                &format!("${{jwt:sub}}={sub} owner={owner:?} {action}"),
                evaluate(&cx, &owner_is_sub, &[], &[], &no_ec()),
                want,
            );
        }
    }
    let mut cx = ctx(alice.clone(), "kms:Decrypt");
    cx.set("kms:EncryptionContext:owner", vec!["alice".into()]);
    c.check(
        "${jwt:sub} missing: no match",
        evaluate(&cx, &owner_is_sub, &[], &[], &no_ec()),
        Want::Implicit,
    );
    let username_res = id_policy(
        json!({"Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringLike":{"kms:EncryptionContext:path":"home/${aws:username}/*"}}}]}),
    );
    for (u, path, want) in [
        ("alice", "home/alice/x", Want::Allow),
        ("alice", "home/bob/x", Want::Implicit),
        ("bob", "home/bob/deep/y", Want::Allow),
    ] {
        let mut cx = ctx(user(u), "kms:Decrypt");
        cx.set("aws:username", vec![u.into()])
            .set("kms:EncryptionContext:path", vec![path.into()]);
        c.check(
            &format!("${{aws:username}} {u} {path}"),
            evaluate(&cx, &delegate_all(), &[username_res.clone()], &[], &no_ec()),
            want,
        );
    }
    let literal = key_policy(
        json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tag":"a${*}b"}}}]}),
    );
    for (v, want) in [("a*b", Want::Allow), ("axb", Want::Implicit)] {
        let mut cx = ctx(alice.clone(), "kms:Decrypt");
        cx.set("kms:EncryptionContext:tag", vec![v.into()]);
        c.check(
            &format!("literal ${{*}} vs {v}"),
            evaluate(&cx, &literal, &[], &[], &no_ec()),
            want,
        );
    }
    let tag_var = key_policy(
        json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:dept":"${aws:PrincipalTag/dept}"}}}]}),
    );
    for (tag, dept, want) in [("eng", "eng", Want::Allow), ("eng", "ops", Want::Implicit)] {
        let mut cx = ctx(alice.clone(), "kms:Decrypt");
        cx.set("aws:PrincipalTag/dept", vec![tag.into()])
            .set("kms:EncryptionContext:dept", vec![dept.into()]);
        c.check(
            &format!("principal tag {tag} vs {dept}"),
            evaluate(&cx, &tag_var, &[], &[], &no_ec()),
            want,
        );
    }
    let res_var = id_policy(
        json!({"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/${jwt:keyid}"}]}),
    );
    for (kid, want) in [
        ("1234abcd-12ab-34cd-56ef-1234567890ab", Want::Allow),
        ("nope", Want::Implicit),
    ] {
        let mut cx = ctx(alice.clone(), "kms:Decrypt");
        cx.set("jwt:keyid", vec![kid.into()]);
        c.check(
            &format!("variable in Resource {kid}"),
            evaluate(&cx, &delegate_all(), &[res_var.clone()], &[], &no_ec()),
            want,
        );
    }

    // 5. Grants with constraints.
    let ec = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let grant = |ops: &[&str],
                 eq: Option<BTreeMap<String, String>>,
                 sub: Option<BTreeMap<String, String>>| Grant {
        id: "g1".into(),
        key_arn: KEY.into(),
        grantee: bob.arn.clone(),
        operations: ops.iter().map(|s| s.to_string()).collect(),
        context_equals: eq,
        context_subset: sub,
    };
    let nothing = key_policy(stmt_key("Allow", json!({"AWS": admin.arn}), json!("kms:*")));
    let g_plain = grant(&["Decrypt"], None, None);
    let g_eq = grant(
        &["Decrypt", "GenerateDataKey"],
        Some(ec(&[("owner", "alice")])),
        None,
    );
    let g_sub = grant(&["Decrypt"], None, Some(ec(&[("owner", "alice")])));
    let grant_cases: Vec<(&str, &Grant, Caller, &str, BTreeMap<String, String>, Want)> = vec![
        (
            "plain grant allows its operation",
            &g_plain,
            bob.clone(),
            "kms:Decrypt",
            ec(&[]),
            Want::Allow,
        ),
        (
            "plain grant, other operation",
            &g_plain,
            bob.clone(),
            "kms:Encrypt",
            ec(&[]),
            Want::Implicit,
        ),
        (
            "plain grant, other grantee",
            &g_plain,
            alice.clone(),
            "kms:Decrypt",
            ec(&[]),
            Want::Implicit,
        ),
        (
            "equals: exact context",
            &g_eq,
            bob.clone(),
            "kms:Decrypt",
            ec(&[("owner", "alice")]),
            Want::Allow,
        ),
        (
            "equals: extra pair",
            &g_eq,
            bob.clone(),
            "kms:Decrypt",
            ec(&[("owner", "alice"), ("x", "y")]),
            Want::Implicit,
        ),
        (
            "equals: other value",
            &g_eq,
            bob.clone(),
            "kms:Decrypt",
            ec(&[("owner", "bob")]),
            Want::Implicit,
        ),
        (
            "equals: empty context",
            &g_eq,
            bob.clone(),
            "kms:Decrypt",
            ec(&[]),
            Want::Implicit,
        ),
        (
            "equals: second operation",
            &g_eq,
            bob.clone(),
            "kms:GenerateDataKey",
            ec(&[("owner", "alice")]),
            Want::Allow,
        ),
        (
            "subset: exact",
            &g_sub,
            bob.clone(),
            "kms:Decrypt",
            ec(&[("owner", "alice")]),
            Want::Allow,
        ),
        (
            "subset: superset",
            &g_sub,
            bob.clone(),
            "kms:Decrypt",
            ec(&[("owner", "alice"), ("x", "y")]),
            Want::Allow,
        ),
        (
            "subset: missing pair",
            &g_sub,
            bob.clone(),
            "kms:Decrypt",
            ec(&[("x", "y")]),
            Want::Implicit,
        ),
        (
            "subset: other value",
            &g_sub,
            bob.clone(),
            "kms:Decrypt",
            ec(&[("owner", "mallory")]),
            Want::Implicit,
        ),
    ];
    for (name, g, who, action, context, want) in grant_cases {
        c.check(
            name,
            evaluate(
                &ctx(who, action),
                &nothing,
                &[],
                std::slice::from_ref(g),
                &context,
            ),
            want,
        );
    }
    let deny_bob = key_policy(
        json!({"Statement":[{"Effect":"Deny","Principal":{"AWS":bob.arn.clone()},"Action":"kms:*","Resource":"*"}]}),
    );
    c.check(
        "explicit deny beats a grant",
        evaluate(
            &ctx(bob.clone(), "kms:Decrypt"),
            &deny_bob,
            &[],
            std::slice::from_ref(&g_plain),
            &ec(&[]),
        ),
        Want::Explicit,
    );
    let other_key_grant = Grant {
        key_arn: OTHER_KEY.into(),
        ..g_plain.clone()
    };
    c.check(
        "a grant for another key",
        evaluate(
            &ctx(bob.clone(), "kms:Decrypt"),
            &nothing,
            &[],
            &[other_key_grant],
            &ec(&[]),
        ),
        Want::Implicit,
    );

    // 6. Lockout safety check.
    assert!(passes_lockout_check(
        &delegate_all(),
        &Caller {
            arn: format!("arn:aws:iam::{ACCT}:root"),
            account: ACCT.into()
        },
        KEY,
        &[]
    ));
    assert!(passes_lockout_check(
        &direct_admin(&admin),
        &admin,
        KEY,
        &[]
    ));
    assert!(
        !passes_lockout_check(&direct, &admin, KEY, &[]),
        "a policy without the admin locks the admin out"
    );
    assert!(passes_lockout_check(
        &delegate_all(),
        &admin,
        KEY,
        &[allow_all.clone()]
    ));
    assert!(!passes_lockout_check(&delegate_all(), &admin, KEY, &[]));
    c.0 += 5;

    assert!(
        c.0 >= 200,
        "the matrix has {} cases; it must have at least 200",
        c.0
    );
    eprintln!("policy matrix: {} cases", c.0);
}

fn direct_admin(admin: &Caller) -> Policy {
    key_policy(stmt_key("Allow", json!({"AWS": admin.arn}), json!("kms:*")))
}

#[test]
fn malformed_policies_are_refused() {
    let bad: &[(&str, PolicyKind)] = &[
        ("not json", PolicyKind::Key),
        ("[]", PolicyKind::Key),
        (r#"{"Statement":[]}"#, PolicyKind::Key),
        (
            r#"{"Version":"2019-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Permit","Principal":"*","Action":"kms:*"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Decrypt"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Bogus":1}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"x"},"Action":"kms:*"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"kms:*"}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringEquaals":{"kms:CallerAccount":"1"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringEquals":{"kms:NoSuchKey":"1"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"NumericLessThan":{"jwt:level":"ten"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"NullIfExists":{"jwt:sub":"true"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"NumericEquals":{"jwt:level":"${jwt:x}"}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringEquals":{"jwt:sub":[]}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringEquals":{"jwt:sub":{"a":1}}}}}"#,
            PolicyKind::Key,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#,
            PolicyKind::Identity,
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"},"Extra":1}"#,
            PolicyKind::Identity,
        ),
    ];
    for (text, kind) in bad {
        let e = Policy::parse(text, *kind).expect_err(text);
        assert_eq!(e.code, "MalformedPolicyDocumentException", "{text}");
    }
    let huge = format!(
        r#"{{"Statement":{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"kms:*"}}}}"#,
        "x".repeat(MAX_POLICY_BYTES)
    );
    assert_eq!(
        Policy::parse(&huge, PolicyKind::Key).unwrap_err().code,
        "LimitExceededException"
    );
    assert!(Policy::parse(&default_key_policy("111122223333"), PolicyKind::Key).is_ok());
}
