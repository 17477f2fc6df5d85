use super::*;
use crate::auth::AuthMethod;
use crate::store::sqlite::SqliteStore;
use serde_json::json;

fn kms() -> Kms {
    use crate::auth::authz::{admin_policy_document, ADMIN_POLICY};
    use crate::store::policy::PolicyTarget;
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

#[test]
fn key_refs_parse_ids_arns_and_aliases() {
    let k = kms();
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(k.parse_key_ref(id, false).unwrap(), KeyRef::Id(id.into()));
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
    assert_eq!(k.parse_key_ref(&arn, false).unwrap(), KeyRef::Id(id.into()));
    assert_eq!(
        k.parse_key_ref("arn:aws:kms:us-east-1:111122223333:alias/x", true)
            .unwrap(),
        KeyRef::Alias("alias/x".into())
    );
    assert!(k.parse_key_ref("alias/x", false).is_err());
    let other_region = format!("arn:aws:kms:eu-west-1:111122223333:key/{id}");
    assert_eq!(
        k.parse_key_ref(&other_region, false).unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        k.parse_key_ref("arn:aws:s3:::b", false).unwrap_err().kind,
        ErrorKind::InvalidArn
    );
    assert_eq!(
        k.parse_key_ref("nonsense", true).unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[test]
fn rotation_keeps_old_versions_decryptable_and_material_is_sealed() {
    let k = kms();
    let p = alice();
    let created = k.call("CreateKey", &p, json!({})).unwrap();
    let id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let ct1 = k
        .call(
            "Encrypt",
            &p,
            json!({"KeyId": id, "Plaintext": "aGVsbG8=", "EncryptionContext": {"a": "1"}}),
        )
        .unwrap()["CiphertextBlob"]
        .clone();
    k.call("RotateKeyOnDemand", &p, json!({"KeyId": id}))
        .unwrap();
    let ct2 = k
        .call(
            "Encrypt",
            &p,
            json!({"KeyId": id, "Plaintext": "aGVsbG8=", "EncryptionContext": {"a": "1"}}),
        )
        .unwrap()["CiphertextBlob"]
        .clone();
    let v = |ct: &Value| {
        let b = params::blob(ct.as_str().unwrap(), "x").unwrap();
        blob::parse(&b).unwrap().version
    };
    assert_eq!((v(&ct1), v(&ct2)), (1, 2));
    for ct in [&ct1, &ct2] {
        let out = k
            .call(
                "Decrypt",
                &p,
                json!({"CiphertextBlob": ct, "EncryptionContext": {"a": "1"}}),
            )
            .unwrap();
        assert_eq!(out["Plaintext"], "aGVsbG8=");
        let e = k
            .call(
                "Decrypt",
                &p,
                json!({"CiphertextBlob": ct, "EncryptionContext": {"a": "2"}}),
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidCiphertext);
    }
    // The stored material is sealed: it is not the 32 bytes in the clear.
    let stored = k.store().get_version(&id, 1).unwrap().unwrap();
    let opened = k.material(&id, 1).unwrap();
    assert_eq!(stored.sealed_material.len(), 12 + 32 + 16);
    assert!(!stored
        .sealed_material
        .windows(32)
        .any(|w| w == opened.expose()));
}

#[test]
fn deletion_due_purges_key_and_aliases() {
    let k = kms();
    let p = alice();
    let id = k.call("CreateKey", &p, json!({})).unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    k.call(
        "CreateAlias",
        &p,
        json!({"AliasName": "alias/doomed", "TargetKeyId": id}),
    )
    .unwrap();
    k.call(
        "ScheduleKeyDeletion",
        &p,
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .unwrap();
    let mut rec = k.store().get_key(&id).unwrap().unwrap();
    rec.deletion_date = Some(now() - 1);
    k.store().update_key(&rec).unwrap();
    assert_eq!(
        k.call("DescribeKey", &p, json!({"KeyId": id}))
            .unwrap_err()
            .kind,
        ErrorKind::NotFound
    );
    assert!(k.store().get_alias("alias/doomed").unwrap().is_none());
}

#[test]
fn automatic_rotation_happens_when_due() {
    let k = kms();
    let p = alice();
    let id = k.call("CreateKey", &p, json!({})).unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    k.call(
        "EnableKeyRotation",
        &p,
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    )
    .unwrap();
    let mut rec = k.store().get_key(&id).unwrap().unwrap();
    rec.next_rotation = Some(now() - 1);
    k.store().update_key(&rec).unwrap();
    k.call("DescribeKey", &p, json!({"KeyId": id})).unwrap();
    let rec = k.store().get_key(&id).unwrap().unwrap();
    assert_eq!(rec.current_version, 2);
    assert!(rec.next_rotation.unwrap() > now() + 89 * DAY);
    let list = k
        .call("ListKeyRotations", &p, json!({"KeyId": id}))
        .unwrap();
    assert_eq!(list["Rotations"][0]["RotationType"], "AUTOMATIC");
}
