use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::auth::authz::{admin_policy_document, ADMIN_POLICY};
use crate::auth::AuthMethod;
use crate::rootkey::RootKey;
use crate::store::policy::PolicyTarget;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;

fn kms() -> Kms {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    store
        .put_identity_policy(ADMIN_POLICY, &admin_policy_document())
        .unwrap();
    store
        .attach_policy(ADMIN_POLICY, &PolicyTarget::Principal("alice".into()))
        .unwrap();
    let (root, _) = RootKey::generate();
    Kms::new(
        store,
        Arc::new(root),
        "us-east-1".into(),
        "111122223333".into(),
    )
}

fn alice() -> Principal {
    Principal {
        name: "alice".into(),
        method: AuthMethod::SigV4 {
            access_key_id: "AK".into(),
        },
        info: Default::default(),
    }
}

fn code(r: KmsResult<Value>) -> &'static str {
    r.expect_err("should fail").kind.code()
}

#[test]
fn managed_key_is_created_once_with_its_alias_policy_and_yearly_rotation() {
    let k = kms();
    let a = k.ensure_managed_key("params").unwrap();
    let b = k.ensure_managed_key("params").unwrap();
    assert_eq!(a.id, b.id);
    assert_ne!(k.ensure_managed_key("demo").unwrap().id, a.id);
    assert_eq!(a.manager, KeyManager::Service);
    assert!(a.rotation_enabled);
    assert_eq!(a.rotation_period_days, 365);
    let next = a.next_rotation.unwrap();
    assert!((next - (a.created + 365 * DAY)).abs() <= 1);
    assert!(a
        .policy
        .as_deref()
        .unwrap()
        .contains("params.us-east-1.kms-proxy"));
    let alias = k.store.get_alias("alias/managed/params").unwrap().unwrap();
    assert_eq!(alias.key_id, a.id);
    for bad in ["", "Params", "-x", "a/b", &"x".repeat(65)] {
        assert_eq!(
            k.ensure_managed_key(bad).unwrap_err().kind,
            ErrorKind::Validation
        );
    }
}

#[test]
fn callers_list_and_describe_managed_keys() {
    let k = kms();
    let key = k.ensure_managed_key("params").unwrap();
    let p = alice();
    let d = k
        .call("DescribeKey", &p, json!({"KeyId": "alias/managed/params"}))
        .unwrap();
    assert_eq!(d["KeyMetadata"]["KeyId"], key.id.as_str());
    assert_eq!(d["KeyMetadata"]["KeyManager"], "AWS");
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    let keys = k.call("ListKeys", &p, json!({})).unwrap();
    assert!(keys["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["KeyId"] == key.id.as_str()));
    let aliases = k.call("ListAliases", &p, json!({})).unwrap();
    assert!(aliases["Aliases"].as_array().unwrap().iter().any(|a| {
        a["AliasName"] == "alias/managed/params" && a["TargetKeyId"] == key.id.as_str()
    }));
    let r = k
        .call("GetKeyRotationStatus", &p, json!({"KeyId": key.id}))
        .unwrap();
    assert_eq!(r["KeyRotationEnabled"], true);
    assert_eq!(r["RotationPeriodInDays"], 365);
}

#[test]
fn callers_cannot_manage_managed_keys() {
    let k = kms();
    let key = k.ensure_managed_key("params").unwrap();
    let other = k.call("CreateKey", &alice(), json!({})).unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    k.call(
        "CreateAlias",
        &alice(),
        json!({"AliasName": "alias/mine", "TargetKeyId": other}),
    )
    .unwrap();
    let id = key.id.as_str();
    let p = alice();
    let denied = [
        ("DisableKey", json!({"KeyId": id})),
        ("EnableKey", json!({"KeyId": id})),
        (
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 7}),
        ),
        ("CancelKeyDeletion", json!({"KeyId": id})),
        (
            "UpdateKeyDescription",
            json!({"KeyId": id, "Description": "x"}),
        ),
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ),
        ("UntagResource", json!({"KeyId": id, "TagKeys": ["a"]})),
        ("EnableKeyRotation", json!({"KeyId": id})),
        ("DisableKeyRotation", json!({"KeyId": id})),
        ("RotateKeyOnDemand", json!({"KeyId": id})),
        (
            "PutKeyPolicy",
            json!({"KeyId": id, "PolicyName": "default",
            "Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
        ),
        ("DeleteAlias", json!({"AliasName": "alias/managed/params"})),
        (
            "CreateAlias",
            json!({"AliasName": "alias/to-managed", "TargetKeyId": id}),
        ),
        (
            "UpdateAlias",
            json!({"AliasName": "alias/mine", "TargetKeyId": id}),
        ),
        // Direct use: only through the feature (kms:ViaService).
        (
            "GenerateDataKey",
            json!({"KeyId": "alias/managed/params", "KeySpec": "AES_256"}),
        ),
        ("Encrypt", json!({"KeyId": id, "Plaintext": "aGk="})),
    ];
    for (op, body) in denied {
        assert_eq!(code(k.call(op, &p, body)), "AccessDeniedException", "{op}");
    }
    assert_eq!(
        code(k.call(
            "UpdateAlias",
            &p,
            json!({"AliasName": "alias/managed/params", "TargetKeyId": other})
        )),
        "InvalidAliasNameException"
    );
    let after = k.store.get_key(id).unwrap().unwrap();
    assert_eq!(after, key, "nothing changed");
    assert_eq!(
        k.store
            .get_alias("alias/managed/params")
            .unwrap()
            .unwrap()
            .key_id,
        key.id
    );
    assert_eq!(
        k.store.get_alias("alias/mine").unwrap().unwrap().key_id,
        other
    );
}

#[test]
fn features_use_managed_keys_through_the_service() {
    let k = kms();
    k.ensure_managed_key("params").unwrap();
    // Bob has no identity policy at all: the managed key's policy lets any
    // principal of the account in, through the feature only.
    let bob = Principal {
        name: "bob".into(),
        ..alice()
    };
    let via = k.as_service(&bob, "params");
    let dk = k
        .call(
            "GenerateDataKey",
            &via,
            json!({"KeyId": "alias/managed/params", "KeySpec": "AES_256",
                   "EncryptionContext": {"param": "db-password"}}),
        )
        .unwrap();
    let blob = dk["CiphertextBlob"].clone();
    let dec = k
        .call(
            "Decrypt",
            &via,
            json!({"CiphertextBlob": blob, "EncryptionContext": {"param": "db-password"}}),
        )
        .unwrap();
    assert_eq!(dec["Plaintext"], dk["Plaintext"]);
    let direct = json!({"CiphertextBlob": blob, "EncryptionContext": {"param": "db-password"}});
    assert_eq!(
        code(k.call("Decrypt", &bob, direct.clone())),
        "AccessDeniedException"
    );
    // Another feature's service name does not open it either.
    assert_eq!(
        code(k.call("Decrypt", &k.as_service(&bob, "demo"), direct)),
        "AccessDeniedException"
    );
}

#[test]
fn concurrent_first_use_makes_one_key() {
    let k = Arc::new(kms());
    let ids: Vec<String> = (0..4)
        .map(|_| {
            let k = k.clone();
            std::thread::spawn(move || k.ensure_managed_key("race").unwrap().id)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let managed = k
        .store
        .list_keys(None, 100)
        .unwrap()
        .into_iter()
        .filter(|x| x.manager == KeyManager::Service)
        .count();
    assert_eq!(managed, 1);
}

#[test]
fn a_key_left_without_its_alias_is_adopted() {
    let k = kms();
    let orphan = k
        .new_owned_key(
            KeyManager::Service,
            managed_description("params"),
            Some(k.managed_key_policy("params")),
        )
        .unwrap();
    assert_eq!(k.ensure_managed_key("params").unwrap().id, orphan.id);
}

#[test]
fn due_rotation_happens_in_the_sweep_and_old_ciphertexts_still_open() {
    let k = kms();
    let key = k.ensure_managed_key("params").unwrap();
    let via = k.as_service(&alice(), "params");
    let old = k
        .call(
            "Encrypt",
            &via,
            json!({"KeyId": key.id, "Plaintext": "c2VjcmV0"}),
        )
        .unwrap()["CiphertextBlob"]
        .clone();
    assert_eq!(k.rotate_due_keys().unwrap(), 0);
    let mut stored = k.store.get_key(&key.id).unwrap().unwrap();
    stored.next_rotation = Some(now() - 10);
    k.store.update_key(&stored).unwrap();
    assert_eq!(k.rotate_due_keys().unwrap(), 1);
    let rotated = k.store.get_key(&key.id).unwrap().unwrap();
    assert_eq!(rotated.current_version, 2);
    assert!((rotated.next_rotation.unwrap() - (now() + 365 * DAY)).abs() <= 2);
    let versions = k.store.list_versions(&key.id).unwrap();
    assert_eq!(versions[1].origin, Origin::Automatic);
    assert_eq!(k.rotate_due_keys().unwrap(), 0);
    let pt = k
        .call("Decrypt", &via, json!({"CiphertextBlob": old}))
        .unwrap();
    assert_eq!(pt["Plaintext"], "c2VjcmV0");
}

#[test]
fn internal_keys_are_invisible_to_callers() {
    let k = kms();
    let key = k.ensure_internal_key("audit-seal").unwrap();
    assert_eq!(k.ensure_internal_key("audit-seal").unwrap().id, key.id);
    assert_eq!(key.manager, KeyManager::Internal);
    let sealed = k
        .seal_internal("audit-seal", b"ctx", b"proxy data")
        .unwrap();
    assert_eq!(
        k.open_internal("audit-seal", b"ctx", &sealed)
            .unwrap()
            .expose(),
        b"proxy data"
    );
    assert!(k.open_internal("audit-seal", b"other", &sealed).is_err());
    assert_eq!(
        k.open_internal("another", b"ctx", &sealed)
            .unwrap_err()
            .kind,
        ErrorKind::IncorrectKey
    );
    let p = alice();
    let keys = k.call("ListKeys", &p, json!({})).unwrap();
    assert!(!keys["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["KeyId"] == key.id.as_str()));
    let aliases = k.call("ListAliases", &p, json!({})).unwrap();
    assert!(!aliases.to_string().contains(&key.id));
    for (op, body) in [
        ("DescribeKey", json!({"KeyId": key.id})),
        (
            "GenerateDataKey",
            json!({"KeyId": key.id, "NumberOfBytes": 32}),
        ),
        ("DisableKey", json!({"KeyId": key.id})),
        ("ListResourceTags", json!({"KeyId": key.id})),
    ] {
        assert_eq!(code(k.call(op, &p, body)), "NotFoundException", "{op}");
    }
    let blob = crate::kms::params::b64(&sealed);
    assert_eq!(
        code(k.call("Decrypt", &p, json!({"CiphertextBlob": blob}))),
        "NotFoundException"
    );
}
