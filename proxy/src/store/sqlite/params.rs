//! The SQLite side of [`ParamStore`].

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::SqliteStore;
use crate::store::params::{ParamStore, ParamVersion, ParamWriteError};
use crate::store::StoreResult;

/// Tables of the Parameter Store, created if missing.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS param_versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
    key_id TEXT, description TEXT NOT NULL, allowed_pattern TEXT, tier TEXT NOT NULL,
    data_type TEXT NOT NULL, modified_ms INTEGER NOT NULL, modified_by TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS param_latest (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS param_labels (name TEXT NOT NULL, label TEXT NOT NULL,
    version INTEGER NOT NULL, PRIMARY KEY (name, label));
CREATE TABLE IF NOT EXISTS param_tags (name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (name, key));
";

const COLS: &str =
    "v.name, v.version, v.kind, v.value, v.key_id, v.description, v.allowed_pattern, \
     v.tier, v.data_type, v.modified_ms, v.modified_by";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ParamVersion> {
    Ok(ParamVersion {
        name: r.get(0)?,
        version: r.get::<_, i64>(1)? as u64,
        kind: r.get(2)?,
        value: r.get(3)?,
        key_id: r.get(4)?,
        description: r.get(5)?,
        allowed_pattern: r.get(6)?,
        tier: r.get(7)?,
        data_type: r.get(8)?,
        modified_ms: r.get(9)?,
        modified_by: r.get(10)?,
        labels: Vec::new(),
    })
}

fn with_labels(c: &rusqlite::Connection, mut v: ParamVersion) -> rusqlite::Result<ParamVersion> {
    let mut st = c.prepare_cached(
        "SELECT label FROM param_labels WHERE name = ?1 AND version = ?2 ORDER BY label",
    )?;
    v.labels = st
        .query_map(params![v.name, v.version as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

fn latest(tx: &Transaction<'_>, name: &str) -> rusqlite::Result<Option<u64>> {
    tx.query_row(
        "SELECT version FROM param_latest WHERE name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|v| v.map(|v| v as u64))
}

impl ParamStore for SqliteStore {
    fn put_param(
        &self,
        v: &ParamVersion,
        overwrite: bool,
        max_versions: u64,
        tags: &BTreeMap<String, String>,
    ) -> Result<u64, ParamWriteError> {
        let mut outcome: Result<u64, ParamWriteError> = Err(ParamWriteError::Exists);
        self.with(|c| {
            let tx = c.transaction()?;
            let current = latest(&tx, &v.name)?;
            if current.is_some() && !overwrite {
                outcome = Err(ParamWriteError::Exists);
                return Ok(());
            }
            let next = current.unwrap_or(0) + 1;
            let count: i64 = tx.query_row(
                "SELECT COUNT(*) FROM param_versions WHERE name = ?1",
                [&v.name],
                |r| r.get(0),
            )?;
            if count as u64 >= max_versions {
                let oldest: i64 = tx.query_row(
                    "SELECT MIN(version) FROM param_versions WHERE name = ?1",
                    [&v.name],
                    |r| r.get(0),
                )?;
                let labelled: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM param_labels WHERE name = ?1 AND version = ?2",
                    params![v.name, oldest],
                    |r| r.get(0),
                )?;
                if labelled > 0 {
                    outcome = Err(ParamWriteError::OldestLabelled);
                    return Ok(());
                }
                tx.execute(
                    "DELETE FROM param_versions WHERE name = ?1 AND version = ?2",
                    params![v.name, oldest],
                )?;
            }
            tx.execute(
                "INSERT INTO param_versions (name, version, kind, value, key_id, description, \
                 allowed_pattern, tier, data_type, modified_ms, modified_by) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                params![
                    v.name,
                    next as i64,
                    v.kind,
                    v.value,
                    v.key_id,
                    v.description,
                    v.allowed_pattern,
                    v.tier,
                    v.data_type,
                    v.modified_ms,
                    v.modified_by
                ],
            )?;
            tx.execute(
                "INSERT INTO param_latest (name, version) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET version = excluded.version",
                params![v.name, next as i64],
            )?;
            if current.is_none() {
                for (k, val) in tags {
                    tx.execute(
                        "INSERT OR REPLACE INTO param_tags (name, key, value) VALUES (?1, ?2, ?3)",
                        params![v.name, k, val],
                    )?;
                }
            }
            tx.commit()?;
            outcome = Ok(next);
            Ok(())
        })
        .map_err(|e| ParamWriteError::Store(e.to_string()))?;
        outcome
    }

    fn get_param(&self, name: &str) -> StoreResult<Option<ParamVersion>> {
        self.with(|c| {
            let v = c
                .query_row(
                    &format!(
                        "SELECT {COLS} FROM param_latest l JOIN param_versions v \
                         ON v.name = l.name AND v.version = l.version WHERE l.name = ?1"
                    ),
                    [name],
                    from_row,
                )
                .optional()?;
            v.map(|v| with_labels(c, v)).transpose()
        })
    }

    fn get_param_version(&self, name: &str, version: u64) -> StoreResult<Option<ParamVersion>> {
        self.with(|c| {
            let v = c
                .query_row(
                    &format!(
                        "SELECT {COLS} FROM param_versions v WHERE v.name = ?1 AND v.version = ?2"
                    ),
                    params![name, version as i64],
                    from_row,
                )
                .optional()?;
            v.map(|v| with_labels(c, v)).transpose()
        })
    }

    fn get_param_label(&self, name: &str, label: &str) -> StoreResult<Option<ParamVersion>> {
        let version: Option<i64> = self.with(|c| {
            c.query_row(
                "SELECT version FROM param_labels WHERE name = ?1 AND label = ?2",
                params![name, label],
                |r| r.get(0),
            )
            .optional()
        })?;
        match version {
            Some(v) => self.get_param_version(name, v as u64),
            None => Ok(None),
        }
    }

    fn param_history(&self, name: &str) -> StoreResult<Vec<ParamVersion>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLS} FROM param_versions v WHERE v.name = ?1 ORDER BY v.version"
            ))?;
            let rows: Vec<ParamVersion> = st
                .query_map([name], from_row)?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(|v| with_labels(c, v)).collect()
        })
    }

    fn list_params(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<ParamVersion>> {
        // Names sort as text; a prefix range avoids LIKE's wildcards. Labels
        // are not loaded here (listings do not show them).
        let upper = format!("{prefix}\u{10FFFF}");
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLS} FROM param_latest l JOIN param_versions v \
                 ON v.name = l.name AND v.version = l.version \
                 WHERE l.name >= ?1 AND l.name < ?2 AND l.name > ?3 ORDER BY l.name LIMIT ?4"
            ))?;
            let rows = st.query_map(
                params![prefix, upper, after.unwrap_or(""), limit as i64],
                from_row,
            )?;
            rows.collect()
        })
    }

    fn param_labels(&self, name: &str, version: u64) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT label FROM param_labels WHERE name = ?1 AND version = ?2 ORDER BY label",
            )?;
            let rows = st.query_map(params![name, version as i64], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn delete_param(&self, name: &str) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute("DELETE FROM param_latest WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM param_versions WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM param_labels WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM param_tags WHERE name = ?1", [name])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn label_param(&self, name: &str, version: u64, labels: &[String]) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for l in labels {
                tx.execute(
                    "INSERT INTO param_labels (name, label, version) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(name, label) DO UPDATE SET version = excluded.version",
                    params![name, l, version as i64],
                )?;
            }
            tx.commit()
        })
    }

    fn unlabel_param(
        &self,
        name: &str,
        version: u64,
        labels: &[String],
    ) -> StoreResult<Vec<String>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut removed = Vec::new();
            for l in labels {
                let n = tx.execute(
                    "DELETE FROM param_labels WHERE name = ?1 AND label = ?2 AND version = ?3",
                    params![name, l, version as i64],
                )?;
                if n > 0 {
                    removed.push(l.clone());
                }
            }
            tx.commit()?;
            Ok(removed)
        })
    }

    fn param_tags(&self, name: &str) -> StoreResult<BTreeMap<String, String>> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT key, value FROM param_tags WHERE name = ?1")?;
            let rows = st.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn count_params(&self) -> StoreResult<u64> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM param_latest", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .map(|n| n as u64)
    }
}
