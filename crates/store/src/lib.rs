//! The journal: an embedded SQLite database (WAL mode) that records every intent before the irreversible
//! step it describes, so a crash never loses or doubles money and a restart knows what is in flight.
//!
//! The API is synchronous (rusqlite) and typed. A [`Journal`] is a cheap clone around one connection behind a
//! mutex; from async code call it through [`Journal::call`] (which runs the closure on tokio's blocking pool)
//! or accept the short block of a single small transaction.
//!
//! Pieces:
//! - connection setup: WAL, `synchronous = FULL` (a commit is on disk before it returns, so an intent
//!   written before a broadcast survives a power cut), foreign keys, a busy timeout;
//! - [`migrate`]: numbered schema migrations recorded in `schema_version`; a journal written by a newer
//!   ballast is refused rather than misread;
//! - [`audit`]: an append-only log of every action, each row stamped with the config version;
//! - [`lease`]: one owner at a time, with expiry and a fencing token checked inside the writing transaction;
//! - [`txlog`]: chain transaction intents and their signed candidates (issue 7);
//! - [`service`]: rebalance legs, client order ids, claims, named values and cycles (issue 8).

mod audit;
mod lease;
mod migrate;
mod service;
pub mod txlog;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use audit::{AuditEntry, NewAudit};
pub use lease::{Fence, Lease};
pub use service::{CycleRecord, SentOrder};
pub use txlog::{IntentState, NewTxIntent, Stamp, TxCandidate, TxIntentRecord};

/// Everything the journal can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("journal {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("journal: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "journal schema version {found} is newer than this ballast understands ({supported}); upgrade ballast"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("journal lease {name:?} is held by {owner:?} until {expires_ms} (ms since epoch)")]
    LeaseHeld {
        name: String,
        owner: String,
        expires_ms: i64,
    },
    #[error(
        "journal lease lost: fencing token {token} of {owner:?} is no longer current ({reason})"
    )]
    Fenced {
        owner: String,
        token: i64,
        reason: String,
    },
    #[error("transaction intent {intent_id} already exists")]
    IntentExists { intent_id: String },
    #[error("nonce {nonce} of {from} on chain {chain_id} is already used by intent {intent_id}")]
    NonceTaken {
        chain_id: u64,
        from: String,
        nonce: u64,
        intent_id: String,
    },
    #[error("transaction intent {0} is not in the journal")]
    UnknownIntent(String),
    #[error("journal record {what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("journal integrity check failed: {0}")]
    Integrity(String),
    #[error("journal worker failed: {0}")]
    Worker(String),
}

/// The journal. Clones share one connection.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Journal {
    /// Open (or create) the journal at `path`, switch it to WAL and apply pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, StoreError> {
        let path = path.as_ref();
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        // Owner-only: the journal holds positions, legs and signed transactions. SQLite gives its -wal and
        // -shm files the database file's permissions, so creating it 0600 covers all three.
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| {
                    open_err(rusqlite::Error::InvalidParameterName(format!(
                        "cannot create the journal file: {e}"
                    )))
                })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                source: rusqlite::Error::InvalidParameterName(format!(
                    "journal_mode stayed {mode:?} (WAL is required)"
                )),
            });
        }
        Self::setup(conn, Some(path.to_path_buf()))
    }

    /// A private in-memory journal (unit tests; not durable, no WAL).
    pub fn open_in_memory() -> Result<Journal, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, None)
    }

    fn setup(conn: Connection, path: Option<PathBuf>) -> Result<Journal, StoreError> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let j = Journal {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path,
            }),
        };
        j.with_tx(|tx| migrate::apply(tx, migrate::MIGRATIONS))?;
        Ok(j)
    }

    /// Where the journal lives (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back the open
        // transaction when the `Transaction` guard is dropped during unwinding.
        self.inner
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run `f` in one `BEGIN IMMEDIATE` transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn with_tx<T>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Run a read-only query on the connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.conn();
        f(&conn)
    }

    /// Run `f` on tokio's blocking pool, for callers on an async runtime.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Journal) -> Result<T, StoreError> + Send + 'static,
    {
        let j = self.clone();
        tokio::task::spawn_blocking(move || f(&j))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// The schema version in use.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.read(migrate::current_version)
    }

    /// SQLite's own consistency check plus the journal's invariants (every intent has its first
    /// candidate, candidates are numbered without gaps, a final intent names a candidate it owns).
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        self.read(|c| {
            let res: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if res != "ok" {
                return Err(StoreError::Integrity(res));
            }
            let fk: Option<String> = c
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
            if let Some(table) = fk {
                return Err(StoreError::Integrity(format!(
                    "foreign key violation in {table}"
                )));
            }
            txlog::check_invariants(c)
        })?;
        self.check_service_invariants()
    }

    /// Checkpoint the WAL into the main file (on shutdown; not required for durability).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        if self.inner.path.is_some() {
            self.read(|c| {
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                Ok(())
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 18): the journal and its -wal/-shm files were created 0644, readable by every user.
    #[cfg(unix)]
    #[test]
    fn the_journal_and_its_wal_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let j = Journal::open(&path).unwrap();
        // A write makes SQLite create the -wal and -shm files.
        j.with_tx(|tx| {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS t (x INTEGER); INSERT INTO t VALUES (1);",
            )?;
            Ok(())
        })
        .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let p = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{p}: {mode:o}");
        }
    }

    #[test]
    fn open_sets_wal_and_migrates_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let j = Journal::open(&path).unwrap();
        let v = j.schema_version().unwrap();
        assert_eq!(v, migrate::MIGRATIONS.last().unwrap().version);
        let mode: String = j
            .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = j
            .read(|c| Ok(c.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(sync, 2, "synchronous = FULL");
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.schema_version().unwrap(), v);
        let rows: i64 = j
            .read(|c| Ok(c.query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(rows as usize, migrate::MIGRATIONS.len());
        j.integrity_check().unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let j = Journal::open(&path).unwrap();
        j.with_tx(|tx| {
            tx.execute(
                "INSERT INTO schema_version (version, applied_ms, description) VALUES (999, 0, 'future')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        drop(j);
        match Journal::open(&path) {
            Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    #[test]
    fn a_failed_closure_rolls_back() {
        let j = Journal::open_in_memory().unwrap();
        let r: Result<(), _> = j.with_tx(|tx| {
            audit::append(
                tx,
                &NewAudit::new("t", "action", "subject", "{}", "v1"),
                1,
                None,
            )?;
            Err(StoreError::Worker("boom".into()))
        });
        assert!(r.is_err());
        assert!(j.audit_since(0, 100).unwrap().is_empty());
    }
}
