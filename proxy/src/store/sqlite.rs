//! The embedded store: one SQLite file in WAL mode, `synchronous=FULL` so a
//! key that was returned to a caller survives a crash.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use super::{
    AccessKeyRecord, AliasRecord, KeyManager, KeyRecord, KeyState, KeyVersion, Origin,
    PrincipalRecord, Store, StoreError, StoreResult,
};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE keys (
    id TEXT PRIMARY KEY, created INTEGER NOT NULL, description TEXT NOT NULL,
    state TEXT NOT NULL, manager TEXT NOT NULL, deletion_date INTEGER, pending_window INTEGER,
    rotation_enabled INTEGER NOT NULL, rotation_period INTEGER NOT NULL, next_rotation INTEGER,
    current_version INTEGER NOT NULL, tags TEXT NOT NULL, policy TEXT);
CREATE TABLE key_versions (
    key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE, version INTEGER NOT NULL,
    created INTEGER NOT NULL, origin TEXT NOT NULL, material BLOB NOT NULL,
    PRIMARY KEY (key_id, version));
CREATE TABLE aliases (
    name TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
    created INTEGER NOT NULL, updated INTEGER NOT NULL);
CREATE INDEX aliases_by_key ON aliases(key_id, name);
CREATE TABLE principals (name TEXT PRIMARY KEY, created INTEGER NOT NULL, description TEXT NOT NULL);
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY, principal TEXT NOT NULL REFERENCES principals(name) ON DELETE CASCADE,
    secret BLOB NOT NULL, created INTEGER NOT NULL);
";

/// The SQLite store: one connection for writes (and reads that must see
/// them under the service's write lock), and a few read-only connections so
/// that the hot read path (keys, aliases, versions, access keys, policies,
/// grants) runs in parallel and never waits behind a write (WAL readers do
/// not block on the writer). Statements are prepared once per connection.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// Read-only connections per store.
const READERS: usize = 4;

fn open_readers(path: &Path) -> StoreResult<Vec<Mutex<Connection>>> {
    (0..READERS)
        .map(|_| {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(backend)?;
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(backend)?;
            c.set_prepared_statement_cache_capacity(64);
            Ok(Mutex::new(c))
        })
        .collect()
}

fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            return StoreError::Conflict(e.to_string());
        }
    }
    StoreError::Backend(e.to_string())
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.to_string(), rusqlite::types::Type::Text)
}

impl SqliteStore {
    /// Create a new store file; fails if the file already exists.
    pub fn create(path: &Path) -> StoreResult<Self> {
        if path.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists",
                path.display()
            )));
        }
        let conn = Connection::open(path).map_err(backend)?;
        Self::configure(&conn)?;
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))
        .map_err(backend)?;
        Ok(Self {
            conn: Mutex::new(conn),
            readers: open_readers(path)?,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Open an existing store; fails if it is missing or of another schema.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if !path.exists() {
            return Err(StoreError::Missing(format!(
                "{} does not exist (run `kms-proxy init`)",
                path.display()
            )));
        }
        let conn = Connection::open(path).map_err(backend)?;
        Self::configure(&conn)?;
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(backend)?;
        if v != SCHEMA_VERSION {
            return Err(StoreError::Backend(format!(
                "store schema version {v}, expected {SCHEMA_VERSION}"
            )));
        }
        Ok(Self {
            conn: Mutex::new(conn),
            readers: open_readers(path)?,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A private in-memory store, for tests.
    pub fn in_memory() -> StoreResult<Self> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        Self::configure(&conn)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        // A private in-memory database cannot be shared: reads use the writer.
        Ok(Self {
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    fn configure(conn: &Connection) -> StoreResult<()> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.execute_batch(policy::SCHEMA).map_err(backend)?;
        conn.execute_batch(params::SCHEMA).map_err(backend)?;
        Ok(())
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| StoreError::Backend("store lock poisoned".into()))?;
        f(&mut guard).map_err(backend)
    }

    /// Run a read on a read-only connection (a free one if any), or on the
    /// writer when there are none.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        if self.readers.is_empty() {
            return self.with(|c| f(c));
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return f(&guard).map_err(backend);
            }
        }
        let guard = self.readers[start % n]
            .lock()
            .map_err(|_| StoreError::Backend("store lock poisoned".into()))?;
        f(&guard).map_err(backend)
    }
}

const KEY_COLS: &str = "id, created, description, state, manager, deletion_date, pending_window, \
     rotation_enabled, rotation_period, next_rotation, current_version, tags, policy";

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let state: String = r.get(3)?;
    let manager: String = r.get(4)?;
    let tags: String = r.get(11)?;
    Ok(KeyRecord {
        id: r.get(0)?,
        created: r.get(1)?,
        description: r.get(2)?,
        state: KeyState::parse(&state).ok_or_else(|| corrupt("state"))?,
        manager: KeyManager::parse(&manager).ok_or_else(|| corrupt("manager"))?,
        deletion_date: r.get(5)?,
        pending_window_days: r.get(6)?,
        rotation_enabled: r.get(7)?,
        rotation_period_days: r.get(8)?,
        next_rotation: r.get(9)?,
        current_version: r.get(10)?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("tags"))?,
        policy: r.get(12)?,
        // Only `get_key` selects it, in the same statement (one snapshot).
        policy_generation: r.get::<_, i64>(13).ok(),
    })
}

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<KeyVersion> {
    let origin: String = r.get(3)?;
    Ok(KeyVersion {
        key_id: r.get(0)?,
        version: r.get(1)?,
        created: r.get(2)?,
        origin: Origin::parse(&origin).ok_or_else(|| corrupt("origin"))?,
        sealed_material: r.get(4)?,
    })
}

fn alias_from_row(r: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        name: r.get(0)?,
        key_id: r.get(1)?,
        created: r.get(2)?,
        updated: r.get(3)?,
    })
}

fn access_key_from_row(r: &Row<'_>) -> rusqlite::Result<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        id: r.get(0)?,
        principal: r.get(1)?,
        sealed_secret: r.get(2)?,
        created: r.get(3)?,
    })
}

fn tags_json(k: &KeyRecord) -> String {
    serde_json::to_string(&k.tags).unwrap_or_else(|_| "{}".into())
}

fn write_key(tx: &Connection, k: &KeyRecord, insert: bool) -> rusqlite::Result<usize> {
    let sql = if insert {
        format!("INSERT INTO keys ({KEY_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)")
    } else {
        "UPDATE keys SET created=?2, description=?3, state=?4, manager=?5, deletion_date=?6, \
         pending_window=?7, rotation_enabled=?8, rotation_period=?9, next_rotation=?10, \
         current_version=?11, tags=?12, policy=?13 WHERE id=?1"
            .to_string()
    };
    tx.execute(
        &sql,
        params![
            k.id,
            k.created,
            k.description,
            k.state.as_str(),
            k.manager.as_str(),
            k.deletion_date,
            k.pending_window_days,
            k.rotation_enabled,
            k.rotation_period_days,
            k.next_rotation,
            k.current_version,
            tags_json(k),
            k.policy
        ],
    )
}

fn insert_version(tx: &Connection, v: &KeyVersion) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO key_versions (key_id, version, created, origin, material) VALUES (?1,?2,?3,?4,?5)",
        params![v.key_id, v.version, v.created, v.origin.as_str(), v.sealed_material],
    )
}

impl Store for SqliteStore {
    fn meta_get(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn meta_put(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map(|_| ())
        })
    }

    fn create_key(&self, key: &KeyRecord, first: &KeyVersion) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            write_key(&tx, key, true)?;
            insert_version(&tx, first)?;
            tx.commit()
        })
    }

    fn get_key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!(
                "SELECT {KEY_COLS}, (SELECT n FROM policy_generation WHERE id = 1) \
                 FROM keys WHERE id = ?1"
            )
        });
        self.read(|c| {
            c.prepare_cached(sql)?
                .query_row([id], key_from_row)
                .optional()
        })
    }

    fn list_keys(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<KeyRecord>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {KEY_COLS} FROM keys WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = st.query_map(params![after.unwrap_or(""), limit as i64], key_from_row)?;
            rows.collect()
        })
    }

    fn update_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let n = self.with(|c| write_key(c, key, false))?;
        if n == 0 {
            return Err(StoreError::Missing(format!("key {}", key.id)));
        }
        Ok(())
    }

    fn add_version(&self, key: &KeyRecord, version: &KeyVersion) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            if write_key(&tx, key, false)? == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            insert_version(&tx, version)?;
            tx.commit()
        })
    }

    fn get_version(&self, key_id: &str, version: u32) -> StoreResult<Option<KeyVersion>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT key_id, version, created, origin, material FROM key_versions
                 WHERE key_id = ?1 AND version = ?2",
            )?
            .query_row(params![key_id, version], version_from_row)
            .optional()
        })
    }

    fn list_versions(&self, key_id: &str) -> StoreResult<Vec<KeyVersion>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT key_id, version, created, origin, material FROM key_versions
                 WHERE key_id = ?1 ORDER BY version",
            )?;
            let rows = st.query_map([key_id], version_from_row)?;
            rows.collect()
        })
    }

    fn delete_key(&self, id: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute("DELETE FROM keys WHERE id = ?1", [id])
                .map(|_| ())
        })
    }

    fn create_alias(&self, a: &AliasRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO aliases (name, key_id, created, updated) VALUES (?1,?2,?3,?4)",
                params![a.name, a.key_id, a.created, a.updated],
            )
            .map(|_| ())
        })
    }

    fn update_alias(&self, name: &str, key_id: &str, updated: i64) -> StoreResult<()> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE aliases SET key_id = ?2, updated = ?3 WHERE name = ?1",
                params![name, key_id, updated],
            )
        })?;
        if n == 0 {
            return Err(StoreError::Missing(format!("alias {name}")));
        }
        Ok(())
    }

    fn delete_alias(&self, name: &str) -> StoreResult<bool> {
        self.with(|c| c.execute("DELETE FROM aliases WHERE name = ?1", [name]))
            .map(|n| n > 0)
    }

    fn get_alias(&self, name: &str) -> StoreResult<Option<AliasRecord>> {
        self.read(|c| {
            c.prepare_cached("SELECT name, key_id, created, updated FROM aliases WHERE name = ?1")?
                .query_row([name], alias_from_row)
                .optional()
        })
    }

    fn list_aliases(
        &self,
        key_id: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT name, key_id, created, updated FROM aliases
                 WHERE (?1 IS NULL OR key_id = ?1) AND name > ?2 ORDER BY name LIMIT ?3",
            )?;
            let rows = st.query_map(
                params![key_id, after.unwrap_or(""), limit as i64],
                alias_from_row,
            )?;
            rows.collect()
        })
    }

    fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO principals (name, created, description) VALUES (?1,?2,?3)",
                params![p.name, p.created, p.description],
            )
            .map(|_| ())
        })
    }

    fn get_principal(&self, name: &str) -> StoreResult<Option<PrincipalRecord>> {
        self.with(|c| {
            c.query_row(
                "SELECT name, created, description FROM principals WHERE name = ?1",
                [name],
                |r| {
                    Ok(PrincipalRecord {
                        name: r.get(0)?,
                        created: r.get(1)?,
                        description: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    fn list_principals(&self) -> StoreResult<Vec<PrincipalRecord>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT name, created, description FROM principals ORDER BY name")?;
            let rows = st.query_map([], |r| {
                Ok(PrincipalRecord {
                    name: r.get(0)?,
                    created: r.get(1)?,
                    description: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    fn delete_principal(&self, name: &str) -> StoreResult<bool> {
        self.with(|c| c.execute("DELETE FROM principals WHERE name = ?1", [name]))
            .map(|n| n > 0)
    }

    fn create_access_key(&self, k: &AccessKeyRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO access_keys (id, principal, secret, created) VALUES (?1,?2,?3,?4)",
                params![k.id, k.principal, k.sealed_secret, k.created],
            )
            .map(|_| ())
        })
    }

    fn get_access_key(&self, id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT id, principal, secret, created FROM access_keys WHERE id = ?1",
            )?
            .query_row([id], access_key_from_row)
            .optional()
        })
    }

    fn list_access_keys(&self) -> StoreResult<Vec<AccessKeyRecord>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT id, principal, secret, created FROM access_keys ORDER BY id")?;
            let rows = st.query_map([], access_key_from_row)?;
            rows.collect()
        })
    }

    fn delete_access_key(&self, id: &str) -> StoreResult<bool> {
        self.with(|c| c.execute("DELETE FROM access_keys WHERE id = ?1", [id]))
            .map(|n| n > 0)
    }
}

mod params;
mod policy;

#[cfg(test)]
mod tests;
