use super::*;
use crate::store::policy::PolicyStore;
use std::collections::BTreeMap;

fn key(id: &str) -> KeyRecord {
    KeyRecord {
        id: id.into(),
        created: 1_700_000_000,
        description: "d".into(),
        state: KeyState::Enabled,
        manager: KeyManager::Customer,
        deletion_date: None,
        pending_window_days: None,
        rotation_enabled: false,
        rotation_period_days: 365,
        next_rotation: None,
        current_version: 1,
        tags: BTreeMap::from([("team".to_string(), "a".to_string())]),
        policy: None,
        policy_generation: None,
    }
}

fn version(id: &str, v: u32) -> KeyVersion {
    KeyVersion {
        key_id: id.into(),
        version: v,
        created: 1_700_000_000 + i64::from(v),
        origin: if v == 1 {
            Origin::Initial
        } else {
            Origin::OnDemand
        },
        sealed_material: vec![v as u8; 60],
    }
}

#[test]
fn keys_versions_and_aliases_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let s = SqliteStore::create(&path).unwrap();
        s.create_key(&key("k1"), &version("k1", 1)).unwrap();
        s.create_key(&key("k2"), &version("k2", 1)).unwrap();
        let mut k = key("k1");
        k.current_version = 2;
        k.rotation_enabled = true;
        s.add_version(&k, &version("k1", 2)).unwrap();
        s.create_alias(&AliasRecord {
            name: "alias/a".into(),
            key_id: "k1".into(),
            created: 1,
            updated: 1,
        })
        .unwrap();
        s.meta_put("m", b"v").unwrap();
    }
    let err = SqliteStore::create(&path).err().unwrap();
    assert!(matches!(err, StoreError::Conflict(_)));
    let s = SqliteStore::open(&path).unwrap();
    let mode: String = s
        .with(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(mode, "wal");
    let k1 = s.get_key("k1").unwrap().unwrap();
    assert_eq!(k1.current_version, 2);
    // Read with the policy generation of the same snapshot.
    assert_eq!(k1.policy_generation, Some(s.policy_generation().unwrap()));
    s.put_identity_policy("p", "{}").unwrap();
    let g = s.get_key("k1").unwrap().unwrap().policy_generation;
    assert_eq!(g, Some(k1.policy_generation.unwrap() + 1));
    assert!(k1.rotation_enabled);
    assert_eq!(k1.tags.get("team").map(String::as_str), Some("a"));
    let vs = s.list_versions("k1").unwrap();
    assert_eq!(vs.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(vs[1].origin, Origin::OnDemand);
    assert_eq!(
        s.get_version("k1", 2).unwrap().unwrap().sealed_material,
        vec![2u8; 60]
    );
    assert!(s.get_version("k1", 3).unwrap().is_none());
    assert_eq!(s.get_alias("alias/a").unwrap().unwrap().key_id, "k1");
    assert_eq!(s.meta_get("m").unwrap().as_deref(), Some(&b"v"[..]));
    let page = s.list_keys(Some("k1"), 10).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "k2");
}

#[test]
fn alias_conflicts_moves_and_cascade_on_key_delete() {
    let s = SqliteStore::in_memory().unwrap();
    s.create_key(&key("k1"), &version("k1", 1)).unwrap();
    s.create_key(&key("k2"), &version("k2", 1)).unwrap();
    let a = AliasRecord {
        name: "alias/x".into(),
        key_id: "k1".into(),
        created: 1,
        updated: 1,
    };
    s.create_alias(&a).unwrap();
    assert!(matches!(s.create_alias(&a), Err(StoreError::Conflict(_))));
    s.update_alias("alias/x", "k2", 5).unwrap();
    assert!(matches!(
        s.update_alias("alias/none", "k2", 5),
        Err(StoreError::Missing(_))
    ));
    // An alias cannot point at a key that does not exist.
    assert!(s.update_alias("alias/x", "nokey", 6).is_err());
    assert_eq!(s.list_aliases(Some("k2"), None, 10).unwrap().len(), 1);
    assert!(s.list_aliases(Some("k1"), None, 10).unwrap().is_empty());
    s.delete_key("k2").unwrap();
    assert!(s.get_alias("alias/x").unwrap().is_none());
    assert!(s.list_versions("k2").unwrap().is_empty());
    assert!(!s.delete_alias("alias/x").unwrap());
}

#[test]
fn access_keys_need_a_principal_and_go_with_it() {
    let s = SqliteStore::in_memory().unwrap();
    let ak = AccessKeyRecord {
        id: "AKIDTEST".into(),
        principal: "alice".into(),
        sealed_secret: vec![1, 2, 3],
        created: 1,
    };
    assert!(s.create_access_key(&ak).is_err());
    s.create_principal(&PrincipalRecord {
        name: "alice".into(),
        created: 1,
        description: String::new(),
    })
    .unwrap();
    s.create_access_key(&ak).unwrap();
    assert_eq!(s.get_access_key("AKIDTEST").unwrap().unwrap(), ak);
    assert!(!format!("{ak:?}").contains("[1, 2, 3]"));
    assert!(s.delete_principal("alice").unwrap());
    assert!(s.get_access_key("AKIDTEST").unwrap().is_none());
}

#[test]
fn open_refuses_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        SqliteStore::open(&dir.path().join("nope.db")),
        Err(StoreError::Missing(_))
    ));
}
