//! The service's records: rebalance legs, every client order id before it is sent, claims on venue and chain
//! records, the controller state, the kill switch, breaker counters and cycles (migration 3).
//!
//! Acting writes (a new leg, a leg's next step, a client order id about to be sent, a claim) check the
//! writer's lease fence in the same transaction and write their audit row with it, so the state and the log
//! never disagree and a replaced daemon cannot act. Every row carries the config version that produced it.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::audit::{self, NewAudit};
use super::lease::check_fence;
use super::txlog::Stamp;
use super::{Journal, StoreError};
use ballast_core::leg::{Leg, Stage};
use ballast_core::model::TimestampMs;

/// Migration 3.
pub const MIGRATION_SQL: &str = r#"
CREATE TABLE leg (
    id             TEXT    PRIMARY KEY,
    cycle          INTEGER NOT NULL,
    venue          TEXT    NOT NULL,
    stage          TEXT    NOT NULL,
    final          INTEGER NOT NULL,
    value          TEXT    NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    config_version TEXT    NOT NULL
);
CREATE INDEX leg_open ON leg (final, created_ms);

-- Every client order id, written before the order is sent: an id can never be sent twice.
CREATE TABLE venue_order (
    venue          TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    market         TEXT    NOT NULL,
    side           TEXT    NOT NULL,
    price          TEXT    NOT NULL,
    qty            TEXT    NOT NULL,
    sent_ms        INTEGER NOT NULL,
    config_version TEXT    NOT NULL,
    fence          INTEGER,
    PRIMARY KEY (venue, client_id)
);

-- A venue or chain record (a credited deposit, an arrival) belongs to at most one leg.
CREATE TABLE claim (
    kind           TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    leg_id         TEXT    NOT NULL REFERENCES leg (id),
    claimed_ms     INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE TABLE kv (
    name           TEXT    PRIMARY KEY,
    value          TEXT    NOT NULL,
    updated_ms     INTEGER NOT NULL,
    config_version TEXT    NOT NULL
);

CREATE TABLE cycle (
    seq            INTEGER PRIMARY KEY,
    started_ms     INTEGER NOT NULL,
    finished_ms    INTEGER,
    outcome        TEXT,
    summary        TEXT,
    config_version TEXT    NOT NULL
);
"#;

fn fenced(tx: &Transaction, s: &Stamp, now: TimestampMs) -> Result<Option<i64>, StoreError> {
    match &s.fence {
        Some(f) => {
            check_fence(tx, f, now)?;
            Ok(Some(f.token))
        }
        None => Ok(None),
    }
}

fn corrupt(what: impl Into<String>, e: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        reason: e.to_string(),
    }
}

fn upsert_leg(tx: &Transaction, leg: &Leg, now: TimestampMs) -> Result<(), StoreError> {
    let body = serde_json::to_string(leg).map_err(|e| corrupt(format!("leg {}", leg.id), e))?;
    tx.execute(
        "INSERT INTO leg (id, cycle, venue, stage, final, value, created_ms, updated_ms, body, config_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET stage = ?4, final = ?5, updated_ms = ?8, body = ?9",
        params![
            leg.id,
            leg.cycle as i64,
            leg.venue,
            leg.stage.as_str(),
            leg.stage.is_final(),
            leg.value.to_string(),
            leg.created_ms,
            now,
            body,
            leg.config_version
        ],
    )?;
    Ok(())
}

fn parse_leg(id: &str, body: &str) -> Result<Leg, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(format!("leg {id}"), e))
}

/// A client order id as journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SentOrder {
    pub venue: String,
    pub client_id: String,
    pub market: String,
    pub side: String,
    pub price: String,
    pub qty: String,
    pub sent_ms: TimestampMs,
}

/// A cycle as journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CycleRecord {
    pub seq: u64,
    pub started_ms: TimestampMs,
    pub finished_ms: Option<TimestampMs>,
    pub outcome: Option<String>,
    pub summary: Option<String>,
    pub config_version: String,
}

impl Journal {
    /// Write a leg (new or changed) with its audit row, under the fence. `action` is e.g. `leg.deposited`.
    pub fn save_leg(
        &self,
        leg: &Leg,
        action: &str,
        detail: &serde_json::Value,
        s: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.save_leg_with(leg, action, detail, &[], s, now)
    }

    /// Write a leg's step together with the legs it gives rise to (a swap's remainder going back), in one
    /// transaction: the remainder is never lost between the two writes.
    pub fn save_leg_with(
        &self,
        leg: &Leg,
        action: &str,
        detail: &serde_json::Value,
        new: &[Leg],
        s: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let fence = fenced(tx, s, now)?;
            upsert_leg(tx, leg, now)?;
            audit::append(
                tx,
                &NewAudit::json(&s.actor, action, &leg.id, detail, &s.config_version),
                now,
                fence,
            )?;
            for n in new {
                upsert_leg(tx, n, now)?;
                audit::append(
                    tx,
                    &NewAudit::json(&s.actor, "leg.planned", &n.id, n, &s.config_version),
                    now,
                    fence,
                )?;
            }
            Ok(())
        })
    }

    /// Write several new legs at once (one cycle's plan): all or none.
    pub fn save_new_legs(
        &self,
        legs: &[Leg],
        s: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let fence = fenced(tx, s, now)?;
            for leg in legs {
                let exists: Option<String> = tx
                    .query_row("SELECT id FROM leg WHERE id = ?1", params![leg.id], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_some() {
                    return Err(corrupt(format!("leg {}", leg.id), "already journaled"));
                }
                upsert_leg(tx, leg, now)?;
                audit::append(
                    tx,
                    &NewAudit::json(&s.actor, "leg.planned", &leg.id, leg, &s.config_version),
                    now,
                    fence,
                )?;
            }
            Ok(())
        })
    }

    /// One leg.
    pub fn leg(&self, id: &str) -> Result<Option<Leg>, StoreError> {
        self.read(|c| {
            let body: Option<String> = c
                .query_row("SELECT body FROM leg WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()?;
            body.map(|b| parse_leg(id, &b)).transpose()
        })
    }

    fn legs_where(&self, clause: &str) -> Result<Vec<Leg>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT id, body FROM leg {clause} ORDER BY created_ms, id"
            ))?;
            let rows =
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, body) = row?;
                out.push(parse_leg(&id, &body)?);
            }
            Ok(out)
        })
    }

    /// Legs not done: working, failed or expired (their funds still count where they are).
    pub fn unsettled_legs(&self) -> Result<Vec<Leg>, StoreError> {
        self.legs_where(&format!("WHERE stage != '{}'", Stage::Done.as_str()))
    }

    /// Every leg.
    pub fn all_legs(&self) -> Result<Vec<Leg>, StoreError> {
        self.legs_where("")
    }

    /// Legs created at or after `since` (the day's value moved).
    pub fn legs_since(&self, since: TimestampMs) -> Result<Vec<Leg>, StoreError> {
        self.legs_where(&format!("WHERE created_ms >= {since}"))
    }

    /// Journal a client order id before it is sent. Fails with [`StoreError::Corrupt`] naming the id when it
    /// was journaled before: the caller must not send it.
    #[allow(clippy::too_many_arguments)]
    pub fn record_order(
        &self,
        venue: &str,
        client_id: &str,
        market: &str,
        side: &str,
        price: &str,
        qty: &str,
        s: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let fence = fenced(tx, s, now)?;
            let n = tx.execute(
                "INSERT INTO venue_order (venue, client_id, market, side, price, qty, sent_ms, config_version, fence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
                params![venue, client_id, market, side, price, qty, now, s.config_version, fence],
            )?;
            if n == 0 {
                return Err(corrupt(
                    format!("client order id {client_id} on {venue}"),
                    "already used: it is never sent twice",
                ));
            }
            Ok(())
        })
    }

    /// Was this client order id ever journaled (so possibly sent)?
    pub fn order_sent(&self, venue: &str, client_id: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM venue_order WHERE venue = ?1 AND client_id = ?2",
                params![venue, client_id],
                |r| r.get::<_, i64>(0),
            )? > 0)
        })
    }

    /// Every journaled client order id, oldest first.
    pub fn sent_orders(&self) -> Result<Vec<SentOrder>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT venue, client_id, market, side, price, qty, sent_ms FROM venue_order ORDER BY sent_ms, rowid",
            )?;
            let rows = st.query_map([], |r| {
                Ok(SentOrder {
                    venue: r.get(0)?,
                    client_id: r.get(1)?,
                    market: r.get(2)?,
                    side: r.get(3)?,
                    price: r.get(4)?,
                    qty: r.get(5)?,
                    sent_ms: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Claim a venue or chain record for a leg. `Ok(false)` when another leg holds it.
    pub fn claim(
        &self,
        kind: &str,
        key: &str,
        leg_id: &str,
        s: &Stamp,
        now: TimestampMs,
    ) -> Result<bool, StoreError> {
        self.with_tx(|tx| {
            fenced(tx, s, now)?;
            let holder: Option<String> = tx
                .query_row(
                    "SELECT leg_id FROM claim WHERE kind = ?1 AND key = ?2",
                    params![kind, key],
                    |r| r.get(0),
                )
                .optional()?;
            match holder {
                Some(h) => Ok(h == leg_id),
                None => {
                    tx.execute(
                        "INSERT INTO claim (kind, key, leg_id, claimed_ms) VALUES (?1, ?2, ?3, ?4)",
                        params![kind, key, leg_id, now],
                    )?;
                    Ok(true)
                }
            }
        })
    }

    /// Every claimed key of a kind.
    pub fn claimed(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare("SELECT key, leg_id FROM claim WHERE kind = ?1")?;
            let rows = st.query_map(params![kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Set a named value (controller state, kill switch, counters) with an audit row when `action` is given.
    pub fn put_kv(
        &self,
        name: &str,
        value: &str,
        action: Option<(&str, &serde_json::Value)>,
        s: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let fence = fenced(tx, s, now)?;
            tx.execute(
                "INSERT INTO kv (name, value, updated_ms, config_version) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET value = ?2, updated_ms = ?3, config_version = ?4",
                params![name, value, now, s.config_version],
            )?;
            if let Some((act, detail)) = action {
                audit::append(
                    tx,
                    &NewAudit::json(&s.actor, act, name, detail, &s.config_version),
                    now,
                    fence,
                )?;
            }
            Ok(())
        })
    }

    /// A named value.
    pub fn kv(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM kv WHERE name = ?1", params![name], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    /// Start a cycle: its number is one past the last journaled one.
    pub fn begin_cycle(&self, s: &Stamp, now: TimestampMs) -> Result<u64, StoreError> {
        self.with_tx(|tx| {
            fenced(tx, s, now)?;
            let last: Option<i64> = tx.query_row("SELECT max(seq) FROM cycle", [], |r| r.get(0))?;
            let seq = last.unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO cycle (seq, started_ms, config_version) VALUES (?1, ?2, ?3)",
                params![seq, now, s.config_version],
            )?;
            Ok(seq as u64)
        })
    }

    /// Record how a cycle ended.
    pub fn end_cycle(
        &self,
        seq: u64,
        outcome: &str,
        summary: &serde_json::Value,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            tx.execute(
                "UPDATE cycle SET finished_ms = ?2, outcome = ?3, summary = ?4 WHERE seq = ?1",
                params![seq as i64, now, outcome, summary.to_string()],
            )?;
            Ok(())
        })
    }

    /// The last `n` cycles, newest first.
    pub fn recent_cycles(&self, n: usize) -> Result<Vec<CycleRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT seq, started_ms, finished_ms, outcome, summary, config_version FROM cycle
                 ORDER BY seq DESC LIMIT ?1",
            )?;
            let rows = st.query_map(params![n as i64], |r| {
                Ok(CycleRecord {
                    seq: r.get::<_, i64>(0)? as u64,
                    started_ms: r.get(1)?,
                    finished_ms: r.get(2)?,
                    outcome: r.get(3)?,
                    summary: r.get(4)?,
                    config_version: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The service's invariants: every leg parses and its columns agree with its body; every claim names a
    /// leg that records it; no two legs share a deposit intent.
    pub fn check_service_invariants(&self) -> Result<(), StoreError> {
        let legs = self.all_legs()?;
        let mut deposits = std::collections::HashSet::new();
        for l in &legs {
            if let Some(tx) = &l.deposit_tx
                && !deposits.insert(tx.clone())
            {
                return Err(StoreError::Integrity(format!(
                    "deposit intent {tx} is claimed by two legs"
                )));
            }
        }
        self.read(|c| {
            let mut st = c.prepare("SELECT id, stage, final, body FROM leg")?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            for row in rows {
                let (id, stage, fin, body) = row?;
                let leg = parse_leg(&id, &body)?;
                if leg.stage.as_str() != stage || leg.stage.is_final() != fin || leg.id != id {
                    return Err(StoreError::Integrity(format!(
                        "leg {id}: columns ({stage}, final {fin}) disagree with its record ({})",
                        leg.stage
                    )));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::model::PositionKey;
    use rust_decimal::Decimal;

    fn stamp(j: &Journal) -> Stamp {
        let l = j.acquire_lease("daemon", "t", "v1", 10_000, 0).unwrap();
        Stamp {
            actor: "t".into(),
            config_version: "v1".into(),
            fence: Some(l.fence()),
        }
    }

    fn leg(id: &str) -> Leg {
        Leg::planned(
            id.into(),
            "v1".into(),
            "binance".into(),
            PositionKey::new("a", "USDC"),
            PositionKey::new("b", "USDC"),
            None,
            Decimal::from(100),
            Decimal::from(99),
            5,
        )
    }

    #[test]
    fn legs_round_trip_with_audit_and_open_legs_are_listed() {
        let j = Journal::open_in_memory().unwrap();
        let s = stamp(&j);
        j.save_new_legs(&[leg("l1"), leg("l2")], &s, 10).unwrap();
        assert!(
            j.save_new_legs(&[leg("l1")], &s, 11).is_err(),
            "a leg id is written once"
        );
        let mut l = j.leg("l1").unwrap().unwrap();
        l.apply(
            &ballast_core::leg::LegEvent::Failed { reason: "x".into() },
            12,
        )
        .unwrap();
        j.save_leg(&l, "leg.failed", &serde_json::json!({}), &s, 12)
            .unwrap();
        assert_eq!(j.leg("l1").unwrap().unwrap().stage, Stage::Failed);
        assert_eq!(j.unsettled_legs().unwrap().len(), 2);
        let actions: Vec<String> = j
            .audit_for("l1")
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
        assert_eq!(actions, vec!["leg.planned", "leg.failed"]);
        j.check_service_invariants().unwrap();
    }

    #[test]
    fn a_client_order_id_is_journaled_once_and_claims_are_exclusive() {
        let j = Journal::open_in_memory().unwrap();
        let s = stamp(&j);
        j.record_order("bn", "abc", "USDCUSDT", "sell", "1", "5", &s, 1)
            .unwrap();
        assert!(
            j.record_order("bn", "abc", "USDCUSDT", "sell", "1", "5", &s, 2)
                .is_err()
        );
        assert!(j.order_sent("bn", "abc").unwrap());
        assert!(!j.order_sent("hl", "abc").unwrap());
        j.save_new_legs(&[leg("l1"), leg("l2")], &s, 10).unwrap();
        assert!(j.claim("deposit", "bn:7", "l1", &s, 11).unwrap());
        assert!(
            j.claim("deposit", "bn:7", "l1", &s, 12).unwrap(),
            "idempotent"
        );
        assert!(!j.claim("deposit", "bn:7", "l2", &s, 12).unwrap());
    }

    #[test]
    fn writes_need_the_current_fence() {
        let j = Journal::open_in_memory().unwrap();
        let s = stamp(&j);
        let _b = j
            .acquire_lease("daemon", "other", "v1", 10_000, 20_000)
            .unwrap();
        assert!(matches!(
            j.save_new_legs(&[leg("l1")], &s, 20_001),
            Err(StoreError::Fenced { .. })
        ));
        assert_eq!(
            j.begin_cycle(
                &Stamp {
                    fence: None,
                    ..s.clone()
                },
                1
            )
            .unwrap(),
            1
        );
    }
}
