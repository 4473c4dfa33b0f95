//! The audit log: one row per action, append only, each stamped with the config version that produced it
//! and the fencing token of the lease it was taken under. State changes write their audit row in the same
//! transaction, so the log and the state never disagree.

use rusqlite::{Connection, Transaction, params};
use serde::Serialize;

use super::{Journal, StoreError};
use ballast_core::model::TimestampMs;

/// An audit row to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAudit {
    /// Who acted (component or daemon id).
    pub actor: String,
    /// What was done, e.g. `tx.signed`, `tx.broadcast`, `lease.acquired`.
    pub action: String,
    /// What it was done to (intent id, leg id, lease name...).
    pub subject: String,
    /// Details as a JSON object.
    pub detail: String,
    /// `Config::version()` of the configuration in force.
    pub config_version: String,
}

impl NewAudit {
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        detail: impl Into<String>,
        config_version: impl Into<String>,
    ) -> Self {
        NewAudit {
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail: detail.into(),
            config_version: config_version.into(),
        }
    }

    /// With `detail` serialised from any value.
    pub fn json(
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        detail: &impl Serialize,
        config_version: impl Into<String>,
    ) -> Self {
        let detail = serde_json::to_string(detail).unwrap_or_else(|_| "{}".into());
        Self::new(actor, action, subject, detail, config_version)
    }
}

/// An audit row as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub ts_ms: TimestampMs,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub config_version: String,
    pub fence: Option<i64>,
}

/// Append a row in the caller's transaction; returns its id.
pub fn append(
    tx: &Transaction,
    a: &NewAudit,
    ts_ms: TimestampMs,
    fence: Option<i64>,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO audit (ts_ms, actor, action, subject, detail, config_version, fence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            ts_ms,
            a.actor,
            a.action,
            a.subject,
            a.detail,
            a.config_version,
            fence
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn query(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut st = c.prepare(sql)?;
    let rows = st.query_map(p, |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            ts_ms: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            detail: r.get(5)?,
            config_version: r.get(6)?,
            fence: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const COLUMNS: &str = "id, ts_ms, actor, action, subject, detail, config_version, fence";

impl Journal {
    /// Append one audit row in its own transaction.
    pub fn audit(&self, a: &NewAudit, ts_ms: TimestampMs) -> Result<i64, StoreError> {
        self.with_tx(|tx| append(tx, a, ts_ms, None))
    }

    /// Rows with an id above `after_id`, oldest first, at most `limit`.
    pub fn audit_since(&self, after_id: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c| {
            query(
                c,
                &format!("SELECT {COLUMNS} FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2"),
                params![after_id, limit as i64],
            )
        })
    }

    /// Every row about one subject, oldest first.
    pub fn audit_for(&self, subject: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c| {
            query(
                c,
                &format!("SELECT {COLUMNS} FROM audit WHERE subject = ?1 ORDER BY id"),
                params![subject],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_in_order_with_their_stamp() {
        let j = Journal::open_in_memory().unwrap();
        for i in 0..5 {
            j.audit(
                &NewAudit::json(
                    "svc",
                    "test.step",
                    format!("s{}", i % 2),
                    &i,
                    "abcdef012345",
                ),
                100 + i,
            )
            .unwrap();
        }
        let all = j.audit_since(0, 10).unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(all[3].detail, "3");
        assert_eq!(all[3].config_version, "abcdef012345");
        let s1 = j.audit_for("s1").unwrap();
        assert_eq!(
            s1.iter().map(|e| e.ts_ms).collect::<Vec<_>>(),
            vec![101, 103]
        );
        assert_eq!(j.audit_since(all[2].id, 10).unwrap().len(), 2);
    }
}
