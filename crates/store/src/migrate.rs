//! Numbered schema migrations. Each runs once, inside the transaction that records it in
//! `schema_version`, so a crash mid-migration leaves the previous schema intact.
//!
//! Append new migrations at the end with the next number; never edit one that has shipped.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "audit log and lease",
        sql: r#"
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms          INTEGER NOT NULL,
    actor          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    detail         TEXT    NOT NULL,
    config_version TEXT    NOT NULL,
    fence          INTEGER
);
CREATE INDEX audit_subject ON audit (subject, id);

CREATE TABLE lease (
    name           TEXT    PRIMARY KEY,
    owner          TEXT    NOT NULL,
    token          INTEGER NOT NULL,
    acquired_ms    INTEGER NOT NULL,
    expires_ms     INTEGER NOT NULL,
    config_version TEXT    NOT NULL
);
"#,
    },
    Migration {
        version: 2,
        description: "chain transaction intents and their signed candidates",
        sql: r#"
CREATE TABLE tx_intent (
    intent_id      TEXT    PRIMARY KEY,
    intent_key     TEXT    NOT NULL,
    chain          TEXT    NOT NULL,
    chain_id       INTEGER NOT NULL,
    from_addr      TEXT    NOT NULL,
    nonce          INTEGER NOT NULL,
    asset          TEXT    NOT NULL,
    token          TEXT,
    to_addr        TEXT    NOT NULL,
    amount         TEXT    NOT NULL,
    amount_raw     TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    venue          TEXT,
    state          TEXT    NOT NULL CHECK (state IN ('signed', 'broadcast', 'confirmed', 'reverted', 'dropped')),
    mined_hash     TEXT,
    mined_block    INTEGER,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    outcome_reason TEXT,
    config_version TEXT    NOT NULL
);
-- A nonce belongs to one live intent. A dropped intent (refused by the node, or its nonce used elsewhere)
-- releases it, so the account has no gap.
CREATE UNIQUE INDEX tx_intent_nonce ON tx_intent (chain_id, from_addr, nonce) WHERE state != 'dropped';
CREATE INDEX tx_intent_open ON tx_intent (chain, state);

CREATE TABLE tx_candidate (
    hash                     TEXT    PRIMARY KEY,
    intent_id                TEXT    NOT NULL REFERENCES tx_intent (intent_id),
    seq                      INTEGER NOT NULL,
    raw                      BLOB    NOT NULL,
    max_fee_per_gas          TEXT    NOT NULL,
    max_priority_fee_per_gas TEXT    NOT NULL,
    gas_limit                INTEGER NOT NULL,
    created_ms               INTEGER NOT NULL,
    broadcast_ms             INTEGER,
    config_version           TEXT    NOT NULL,
    UNIQUE (intent_id, seq)
);
"#,
    },
    Migration {
        version: 3,
        description: "service: legs, client order ids, claims, named values, cycles",
        sql: super::service::MIGRATION_SQL,
    },
];

/// The highest applied version (0 for a new file).
pub fn current_version(c: &Connection) -> Result<u32, StoreError> {
    let exists: Option<String> = c
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(0);
    }
    let v: Option<u32> =
        c.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))?;
    Ok(v.unwrap_or(0))
}

/// Apply every migration above the current version, in the caller's transaction.
pub fn apply(tx: &Transaction, migrations: &[Migration]) -> Result<u32, StoreError> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version     INTEGER PRIMARY KEY,
            applied_ms  INTEGER NOT NULL,
            description TEXT    NOT NULL
        );",
    )?;
    let current = current_version(tx)?;
    let supported = migrations.last().map(|m| m.version).unwrap_or(0);
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    let now = ballast_exec::Clock::now_ms(&ballast_exec::SystemClock);
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_ms, description) VALUES (?1, ?2, ?3)",
            params![m.version, now, m.description],
        )?;
    }
    Ok(supported.max(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.description);
        }
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_schema() {
        let mut c = Connection::open_in_memory().unwrap();
        let tx = c.transaction().unwrap();
        apply(&tx, &MIGRATIONS[..1]).unwrap();
        tx.commit().unwrap();
        let bad = [
            MIGRATIONS[0],
            Migration {
                version: 2,
                description: "broken",
                sql: "CREATE TABLE ok_part (x INTEGER); CREATE TABLE audit (x INTEGER);",
            },
        ];
        let tx = c.transaction().unwrap();
        assert!(apply(&tx, &bad).is_err());
        drop(tx);
        assert_eq!(current_version(&c).unwrap(), 1);
        let partial: Option<String> = c
            .query_row(
                "SELECT name FROM sqlite_master WHERE name = 'ok_part'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap();
        assert_eq!(partial, None, "the half-applied migration was rolled back");
    }
}
