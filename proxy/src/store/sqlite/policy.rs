//! The SQLite side of [`PolicyStore`].

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row};

use super::SqliteStore;
use crate::store::policy::{GrantRecord, PolicyStore, PolicyTarget};
use crate::store::{StoreError, StoreResult};

/// Tables for authorisation, created if missing (also on older stores).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS identity_policies (name TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policy_attachments (
    policy TEXT NOT NULL REFERENCES identity_policies(name) ON DELETE CASCADE,
    target_kind TEXT NOT NULL, target TEXT NOT NULL,
    PRIMARY KEY (policy, target_kind, target));
CREATE INDEX IF NOT EXISTS attachments_by_target ON policy_attachments(target_kind, target);
CREATE TABLE IF NOT EXISTS group_members (grp TEXT NOT NULL, principal TEXT NOT NULL,
    PRIMARY KEY (grp, principal));
CREATE INDEX IF NOT EXISTS groups_by_principal ON group_members(principal);
CREATE TABLE IF NOT EXISTS principal_tags (principal TEXT NOT NULL, key TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (principal, key));
CREATE TABLE IF NOT EXISTS policy_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO policy_generation (id, n) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
    grantee TEXT NOT NULL, retiring TEXT, issuer TEXT NOT NULL, operations TEXT NOT NULL,
    context_equals TEXT, context_subset TEXT, name TEXT, token TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS grants_by_key ON grants(key_id, id);
CREATE INDEX IF NOT EXISTS grants_by_retiring ON grants(retiring);
";

const BUMP: &str = "UPDATE policy_generation SET n = n + 1 WHERE id = 1";

const GRANT_COLS: &str = "id, key_id, grantee, retiring, issuer, operations, context_equals, \
     context_subset, name, token, created";

fn grant_from_row(r: &Row<'_>) -> rusqlite::Result<GrantRecord> {
    let ops: String = r.get(5)?;
    let map = |i: usize| -> rusqlite::Result<Option<BTreeMap<String, String>>> {
        let s: Option<String> = r.get(i)?;
        s.map(|s| serde_json::from_str(&s).map_err(|_| super::corrupt("grant constraint")))
            .transpose()
    };
    Ok(GrantRecord {
        id: r.get(0)?,
        key_id: r.get(1)?,
        grantee: r.get(2)?,
        retiring: r.get(3)?,
        issuer: r.get(4)?,
        operations: serde_json::from_str(&ops).map_err(|_| super::corrupt("grant operations"))?,
        context_equals: map(6)?,
        context_subset: map(7)?,
        name: r.get(8)?,
        token: r.get(9)?,
        created: r.get(10)?,
    })
}

fn json(m: &Option<BTreeMap<String, String>>) -> Option<String> {
    m.as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_default())
}

impl PolicyStore for SqliteStore {
    fn put_identity_policy(&self, name: &str, document: &str) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO identity_policies (name, document) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET document = excluded.document",
                params![name, document],
            )?;
            tx.execute(BUMP, [])?;
            tx.commit()
        })
    }

    fn get_identity_policy(&self, name: &str) -> StoreResult<Option<String>> {
        self.with(|c| {
            c.query_row(
                "SELECT document FROM identity_policies WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn delete_identity_policy(&self, name: &str) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute("DELETE FROM identity_policies WHERE name = ?1", [name])?;
            tx.execute(BUMP, [])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn list_identity_policies(&self) -> StoreResult<Vec<(String, String)>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name, document FROM identity_policies ORDER BY name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn attach_policy(&self, policy: &str, target: &PolicyTarget) -> StoreResult<()> {
        let exists = self.get_identity_policy(policy)?.is_some();
        if !exists {
            return Err(StoreError::Missing(format!("identity policy {policy}")));
        }
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR IGNORE INTO policy_attachments (policy, target_kind, target) VALUES (?1, ?2, ?3)",
                params![policy, target.kind(), target.name()],
            )?;
            tx.execute(BUMP, [])?;
            tx.commit()
        })
    }

    fn detach_policy(&self, policy: &str, target: &PolicyTarget) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "DELETE FROM policy_attachments WHERE policy = ?1 AND target_kind = ?2 AND target = ?3",
                params![policy, target.kind(), target.name()],
            )?;
            tx.execute(BUMP, [])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn policies_for(
        &self,
        principal: &str,
        groups: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        let mut all_groups = self.groups_of(principal)?;
        all_groups.extend(groups.iter().cloned());
        self.read(|c| {
            let mut out: Vec<(String, String)> = Vec::new();
            let mut st = c.prepare_cached(
                "SELECT p.name, p.document FROM policy_attachments a \
                 JOIN identity_policies p ON p.name = a.policy \
                 WHERE a.target_kind = ?1 AND a.target = ?2 ORDER BY p.name",
            )?;
            let mut add = |kind: &str, name: &str| -> rusqlite::Result<()> {
                let rows = st.query_map(params![kind, name], |r| Ok((r.get(0)?, r.get(1)?)))?;
                for row in rows {
                    let row: (String, String) = row?;
                    if !out.iter().any(|(n, _)| *n == row.0) {
                        out.push(row);
                    }
                }
                Ok(())
            };
            add("principal", principal)?;
            for g in &all_groups {
                add("group", g)?;
            }
            Ok(out)
        })
    }

    fn add_group_member(&self, group: &str, principal: &str) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR IGNORE INTO group_members (grp, principal) VALUES (?1, ?2)",
                params![group, principal],
            )?;
            tx.execute(BUMP, [])?;
            tx.commit()
        })
    }

    fn remove_group_member(&self, group: &str, principal: &str) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "DELETE FROM group_members WHERE grp = ?1 AND principal = ?2",
                params![group, principal],
            )?;
            tx.execute(BUMP, [])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn groups_of(&self, principal: &str) -> StoreResult<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT grp FROM group_members WHERE principal = ?1 ORDER BY grp",
            )?;
            let rows = st.query_map([principal], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn set_principal_tag(
        &self,
        principal: &str,
        key: &str,
        value: Option<&str>,
    ) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO principal_tags (principal, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(principal, key) DO UPDATE SET value = excluded.value",
                    params![principal, key, v],
                )?,
                None => tx.execute(
                    "DELETE FROM principal_tags WHERE principal = ?1 AND key = ?2",
                    params![principal, key],
                )?,
            };
            tx.execute(BUMP, [])?;
            tx.commit()
        })
    }

    fn principal_tags(&self, principal: &str) -> StoreResult<BTreeMap<String, String>> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT key, value FROM principal_tags WHERE principal = ?1")?;
            let rows = st.query_map([principal], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn policy_generation(&self) -> StoreResult<i64> {
        self.read(|c| {
            c.prepare_cached("SELECT n FROM policy_generation WHERE id = 1")?
                .query_row([], |r| r.get(0))
        })
    }

    fn create_grant(&self, g: &GrantRecord) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                &format!(
                    "INSERT INTO grants ({GRANT_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
                ),
                params![
                    g.id,
                    g.key_id,
                    g.grantee,
                    g.retiring,
                    g.issuer,
                    serde_json::to_string(&g.operations).unwrap_or_default(),
                    json(&g.context_equals),
                    json(&g.context_subset),
                    g.name,
                    g.token,
                    g.created
                ],
            )?;
            tx.execute(BUMP, [])?;
            tx.commit()
        })
    }

    fn get_grant(&self, id: &str) -> StoreResult<Option<GrantRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {GRANT_COLS} FROM grants WHERE id = ?1"),
                [id],
                grant_from_row,
            )
            .optional()
        })
    }

    fn get_grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {GRANT_COLS} FROM grants WHERE token = ?1"),
                [token],
                grant_from_row,
            )
            .optional()
        })
    }

    fn list_grants(&self, key_id: &str) -> StoreResult<Vec<GrantRecord>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {GRANT_COLS} FROM grants WHERE key_id = ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([key_id], grant_from_row)?;
            rows.collect()
        })
    }

    fn list_retirable_grants(&self, principal: &str) -> StoreResult<Vec<GrantRecord>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {GRANT_COLS} FROM grants WHERE retiring = ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([principal], grant_from_row)?;
            rows.collect()
        })
    }

    fn delete_grant(&self, id: &str) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute("DELETE FROM grants WHERE id = ?1", [id])?;
            tx.execute(BUMP, [])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }
}
