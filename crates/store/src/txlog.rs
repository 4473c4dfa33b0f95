//! Chain transaction intents.
//!
//! An intent is one transfer ballast decided to make, identified by a deterministic id (so a retry finds it
//! instead of making a second one), bound to one account nonce. Each signed transaction for it is a
//! candidate with its hash and raw bytes: the first, then any fee-bumped replacements at the same nonce.
//! Whichever candidate is mined wins; the nonce guarantees at most one can be.
//!
//! The intent and its first candidate are written in one transaction before anything is broadcast;
//! replacements are written before they are broadcast. Rebroadcasting a journaled raw transaction is always
//! safe (same bytes, same hash), which is how a restart completes a send a crash interrupted.
//!
//! Acting writes (a new intent, a new candidate) check the caller's lease fence; recording facts (broadcast,
//! mined, reverted) does not, so what happened on chain is never lost.

use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use rust_decimal::Decimal;
use serde::Serialize;

use super::audit::{self, NewAudit};
use super::lease::{Fence, check_fence};
use super::{Journal, StoreError};
use ballast_core::model::TimestampMs;

/// Who writes, under which configuration and lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub actor: String,
    pub config_version: String,
    pub fence: Option<Fence>,
}

/// Where an intent stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentState {
    /// Signed and journaled; maybe not broadcast yet.
    Signed,
    /// At least one candidate was handed to a node.
    Broadcast,
    /// A candidate was mined, succeeded and has the chain's confirmations.
    Confirmed,
    /// A candidate was mined and reverted (the nonce is used; the funds did not move).
    Reverted,
    /// No candidate can be mined any more: the account's nonce moved past ours without any of them.
    Dropped,
}

impl IntentState {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentState::Signed => "signed",
            IntentState::Broadcast => "broadcast",
            IntentState::Confirmed => "confirmed",
            IntentState::Reverted => "reverted",
            IntentState::Dropped => "dropped",
        }
    }

    /// Still in flight.
    pub fn is_open(self) -> bool {
        matches!(self, IntentState::Signed | IntentState::Broadcast)
    }
}

impl FromStr for IntentState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            IntentState::Signed,
            IntentState::Broadcast,
            IntentState::Confirmed,
            IntentState::Reverted,
            IntentState::Dropped,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown intent state {s:?}"))
    }
}

/// The fixed part of an intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewTxIntent {
    /// Deterministic id (derived from the chain and the caller's key).
    pub intent_id: String,
    /// The caller's key it was derived from (e.g. `leg:42:deposit`).
    pub intent_key: String,
    pub chain: String,
    pub chain_id: u64,
    /// Sending account (checksummed hex).
    pub from: String,
    pub nonce: u64,
    pub asset: String,
    /// Token contract (checksummed hex); `None` for the native asset.
    pub token: Option<String>,
    /// Recipient (checksummed hex).
    pub to: String,
    /// Amount in asset units.
    pub amount: Decimal,
    /// Amount in the token's smallest unit, decimal digits.
    pub amount_raw: String,
    /// Why: `venue_deposit`, `own`, `payout`.
    pub purpose: String,
    /// The venue a deposit goes to.
    pub venue: Option<String>,
    pub config_version: String,
}

/// One signed transaction for an intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TxCandidate {
    /// 0x-prefixed lowercase hex.
    pub hash: String,
    /// 0 for the first, then 1, 2... for replacements.
    pub seq: u32,
    /// The EIP-2718 encoded signed transaction.
    #[serde(skip)]
    pub raw: Vec<u8>,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub gas_limit: u64,
    pub created_ms: TimestampMs,
    pub broadcast_ms: Option<TimestampMs>,
}

/// An intent as journaled, with its candidates in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TxIntentRecord {
    pub intent: NewTxIntent,
    pub state: IntentState,
    pub mined_hash: Option<String>,
    pub mined_block: Option<u64>,
    /// Why it was dropped (or other notes on the outcome).
    pub outcome_reason: Option<String>,
    pub created_ms: TimestampMs,
    pub updated_ms: TimestampMs,
    pub candidates: Vec<TxCandidate>,
}

impl TxIntentRecord {
    /// The most recent candidate (the one to rebroadcast).
    pub fn latest(&self) -> &TxCandidate {
        self.candidates
            .last()
            .expect("an intent always has its first candidate")
    }
}

fn stamp_fence(tx: &Transaction, s: &Stamp, now: TimestampMs) -> Result<Option<i64>, StoreError> {
    match &s.fence {
        Some(f) => {
            check_fence(tx, f, now)?;
            Ok(Some(f.token))
        }
        None => Ok(None),
    }
}

fn insert_candidate(
    tx: &Transaction,
    intent_id: &str,
    c: &TxCandidate,
    config_version: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO tx_candidate (hash, intent_id, seq, raw, max_fee_per_gas, max_priority_fee_per_gas,
                                   gas_limit, created_ms, broadcast_ms, config_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            c.hash,
            intent_id,
            c.seq,
            c.raw,
            c.max_fee_per_gas.to_string(),
            c.max_priority_fee_per_gas.to_string(),
            c.gas_limit as i64,
            c.created_ms,
            c.broadcast_ms,
            config_version
        ],
    )?;
    Ok(())
}

fn candidate_detail(c: &TxCandidate) -> serde_json::Value {
    serde_json::json!({
        "hash": c.hash,
        "seq": c.seq,
        "max_fee_per_gas": c.max_fee_per_gas.to_string(),
        "max_priority_fee_per_gas": c.max_priority_fee_per_gas.to_string(),
        "gas_limit": c.gas_limit,
    })
}

const INTENT_COLUMNS: &str = "intent_id, intent_key, chain, chain_id, from_addr, nonce, asset, token, to_addr,
    amount, amount_raw, purpose, venue, state, mined_hash, mined_block, created_ms, updated_ms, config_version,
    outcome_reason";

fn corrupt(what: &str, reason: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{what}: {}", reason.into()).into(),
    )
}

fn intent_from_row(r: &Row) -> rusqlite::Result<TxIntentRecord> {
    let amount: String = r.get(9)?;
    let state: String = r.get(13)?;
    Ok(TxIntentRecord {
        intent: NewTxIntent {
            intent_id: r.get(0)?,
            intent_key: r.get(1)?,
            chain: r.get(2)?,
            chain_id: r.get::<_, i64>(3)? as u64,
            from: r.get(4)?,
            nonce: r.get::<_, i64>(5)? as u64,
            asset: r.get(6)?,
            token: r.get(7)?,
            to: r.get(8)?,
            amount: Decimal::from_str(&amount).map_err(|e| corrupt("amount", e.to_string()))?,
            amount_raw: r.get(10)?,
            purpose: r.get(11)?,
            venue: r.get(12)?,
            config_version: r.get(18)?,
        },
        state: IntentState::from_str(&state).map_err(|e| corrupt("state", e))?,
        mined_hash: r.get(14)?,
        mined_block: r.get::<_, Option<i64>>(15)?.map(|b| b as u64),
        outcome_reason: r.get(19)?,
        created_ms: r.get(16)?,
        updated_ms: r.get(17)?,
        candidates: Vec::new(),
    })
}

fn candidates_of(c: &Connection, intent_id: &str) -> Result<Vec<TxCandidate>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT hash, seq, raw, max_fee_per_gas, max_priority_fee_per_gas, gas_limit, created_ms, broadcast_ms
         FROM tx_candidate WHERE intent_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map(params![intent_id], |r| {
        let fee: String = r.get(3)?;
        let prio: String = r.get(4)?;
        Ok(TxCandidate {
            hash: r.get(0)?,
            seq: r.get(1)?,
            raw: r.get(2)?,
            max_fee_per_gas: fee.parse().map_err(|_| corrupt("max_fee_per_gas", fee))?,
            max_priority_fee_per_gas: prio
                .parse()
                .map_err(|_| corrupt("max_priority_fee_per_gas", prio))?,
            gas_limit: r.get::<_, i64>(5)? as u64,
            created_ms: r.get(6)?,
            broadcast_ms: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load(c: &Connection, intent_id: &str) -> Result<Option<TxIntentRecord>, StoreError> {
    let rec = c
        .query_row(
            &format!("SELECT {INTENT_COLUMNS} FROM tx_intent WHERE intent_id = ?1"),
            params![intent_id],
            intent_from_row,
        )
        .optional()?;
    match rec {
        Some(mut r) => {
            r.candidates = candidates_of(c, intent_id)?;
            Ok(Some(r))
        }
        None => Ok(None),
    }
}

impl Journal {
    /// Record a new intent with its first signed candidate, before it is broadcast. Refuses an intent id
    /// that exists and a nonce another intent of the account holds.
    pub fn record_tx_intent(
        &self,
        intent: &NewTxIntent,
        first: &TxCandidate,
        stamp: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let fence = stamp_fence(tx, stamp, now)?;
            if load(tx, &intent.intent_id)?.is_some() {
                return Err(StoreError::IntentExists {
                    intent_id: intent.intent_id.clone(),
                });
            }
            let holder: Option<String> = tx
                .query_row(
                    "SELECT intent_id FROM tx_intent
                     WHERE chain_id = ?1 AND from_addr = ?2 AND nonce = ?3 AND state != 'dropped'",
                    params![intent.chain_id as i64, intent.from, intent.nonce as i64],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(intent_id) = holder {
                return Err(StoreError::NonceTaken {
                    chain_id: intent.chain_id,
                    from: intent.from.clone(),
                    nonce: intent.nonce,
                    intent_id,
                });
            }
            tx.execute(
                &format!(
                    "INSERT INTO tx_intent ({INTENT_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'signed', NULL, NULL, ?14, ?14, ?15,
                             NULL)"
                ),
                params![
                    intent.intent_id,
                    intent.intent_key,
                    intent.chain,
                    intent.chain_id as i64,
                    intent.from,
                    intent.nonce as i64,
                    intent.asset,
                    intent.token,
                    intent.to,
                    intent.amount.to_string(),
                    intent.amount_raw,
                    intent.purpose,
                    intent.venue,
                    now,
                    intent.config_version
                ],
            )?;
            insert_candidate(tx, &intent.intent_id, first, &stamp.config_version)?;
            let mut detail = serde_json::to_value(intent).unwrap_or_default();
            detail["candidate"] = candidate_detail(first);
            audit::append(
                tx,
                &NewAudit::json(
                    &stamp.actor,
                    "tx.signed",
                    &intent.intent_id,
                    &detail,
                    &stamp.config_version,
                ),
                now,
                fence,
            )?;
            Ok(())
        })
    }

    /// Record a replacement (same nonce, higher fees) before it is broadcast. Its `seq` must be the next one.
    pub fn add_tx_candidate(
        &self,
        intent_id: &str,
        candidate: &TxCandidate,
        stamp: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let fence = stamp_fence(tx, stamp, now)?;
            let rec =
                load(tx, intent_id)?.ok_or_else(|| StoreError::UnknownIntent(intent_id.into()))?;
            let next = rec.candidates.len() as u32;
            if candidate.seq != next {
                return Err(StoreError::Corrupt {
                    what: format!("candidate {} of {intent_id}", candidate.seq),
                    reason: format!("the next candidate number is {next}"),
                });
            }
            insert_candidate(tx, intent_id, candidate, &stamp.config_version)?;
            tx.execute(
                "UPDATE tx_intent SET updated_ms = ?2 WHERE intent_id = ?1",
                params![intent_id, now],
            )?;
            audit::append(
                tx,
                &NewAudit::json(
                    &stamp.actor,
                    "tx.replacement_signed",
                    intent_id,
                    &candidate_detail(candidate),
                    &stamp.config_version,
                ),
                now,
                fence,
            )?;
            Ok(())
        })
    }

    /// A candidate was handed to a node (the first time, or again).
    pub fn mark_tx_broadcast(
        &self,
        intent_id: &str,
        hash: &str,
        stamp: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let n = tx.execute(
                "UPDATE tx_candidate SET broadcast_ms = coalesce(broadcast_ms, ?3)
                 WHERE intent_id = ?1 AND hash = ?2",
                params![intent_id, hash, now],
            )?;
            if n == 0 {
                return Err(StoreError::UnknownIntent(format!(
                    "{intent_id} (candidate {hash})"
                )));
            }
            let changed = tx.execute(
                "UPDATE tx_intent SET state = 'broadcast', updated_ms = ?2 WHERE intent_id = ?1 AND state = 'signed'",
                params![intent_id, now],
            )?;
            if changed > 0 {
                audit::append(
                    tx,
                    &NewAudit::json(
                        &stamp.actor,
                        "tx.broadcast",
                        intent_id,
                        &serde_json::json!({ "hash": hash }),
                        &stamp.config_version,
                    ),
                    now,
                    stamp.fence.as_ref().map(|f| f.token),
                )?;
            }
            Ok(())
        })
    }

    /// Record the outcome: confirmed or reverted (with the mined candidate and block) or dropped.
    /// Idempotent for the same outcome; a final intent never changes to another outcome.
    pub fn finish_tx_intent(
        &self,
        intent_id: &str,
        state: IntentState,
        mined: Option<(&str, u64)>,
        reason: Option<&str>,
        stamp: &Stamp,
        now: TimestampMs,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            let rec =
                load(tx, intent_id)?.ok_or_else(|| StoreError::UnknownIntent(intent_id.into()))?;
            if state.is_open() {
                return Err(StoreError::Corrupt {
                    what: format!("outcome of {intent_id}"),
                    reason: format!("{} is not an outcome", state.as_str()),
                });
            }
            if let Some((hash, _)) = mined
                && !rec.candidates.iter().any(|c| c.hash == hash)
            {
                return Err(StoreError::Corrupt {
                    what: format!("outcome of {intent_id}"),
                    reason: format!("{hash} is not one of its candidates"),
                });
            }
            if !rec.state.is_open() {
                if rec.state == state && rec.mined_hash.as_deref() == mined.map(|m| m.0) {
                    return Ok(());
                }
                return Err(StoreError::Corrupt {
                    what: format!("outcome of {intent_id}"),
                    reason: format!(
                        "already {} ({:?}), now reported {} ({:?})",
                        rec.state.as_str(),
                        rec.mined_hash,
                        state.as_str(),
                        mined.map(|m| m.0)
                    ),
                });
            }
            tx.execute(
                "UPDATE tx_intent SET state = ?2, mined_hash = ?3, mined_block = ?4, updated_ms = ?5,
                                      outcome_reason = ?6
                 WHERE intent_id = ?1",
                params![
                    intent_id,
                    state.as_str(),
                    mined.map(|m| m.0),
                    mined.map(|m| m.1 as i64),
                    now,
                    reason
                ],
            )?;
            audit::append(
                tx,
                &NewAudit::json(
                    &stamp.actor,
                    format!("tx.{}", state.as_str()),
                    intent_id,
                    &serde_json::json!({
                        "hash": mined.map(|m| m.0),
                        "block": mined.map(|m| m.1),
                        "reason": reason,
                        "candidates": rec.candidates.len(),
                    }),
                    &stamp.config_version,
                ),
                now,
                stamp.fence.as_ref().map(|f| f.token),
            )?;
            Ok(())
        })
    }

    /// One intent with its candidates.
    pub fn tx_intent(&self, intent_id: &str) -> Result<Option<TxIntentRecord>, StoreError> {
        self.read(|c| load(c, intent_id))
    }

    /// Intents of a chain still in flight (signed or broadcast), by account and nonce.
    pub fn open_tx_intents(&self, chain: &str) -> Result<Vec<TxIntentRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {INTENT_COLUMNS} FROM tx_intent
                 WHERE chain = ?1 AND state IN ('signed', 'broadcast') ORDER BY from_addr, nonce"
            ))?;
            let mut out: Vec<TxIntentRecord> = st
                .query_map(params![chain], intent_from_row)?
                .collect::<Result<_, _>>()?;
            for r in &mut out {
                r.candidates = candidates_of(c, &r.intent.intent_id)?;
            }
            Ok(out)
        })
    }

    /// The highest nonce a live (not dropped) intent of `from` on `chain_id` holds.
    pub fn max_tx_nonce(&self, chain_id: u64, from: &str) -> Result<Option<u64>, StoreError> {
        self.read(|c| {
            let v: Option<i64> = c.query_row(
                "SELECT max(nonce) FROM tx_intent WHERE chain_id = ?1 AND from_addr = ?2 AND state != 'dropped'",
                params![chain_id as i64, from],
                |r| r.get(0),
            )?;
            Ok(v.map(|n| n as u64))
        })
    }
}

/// The journal's own invariants over the intent tables.
pub(super) fn check_invariants(c: &Connection) -> Result<(), StoreError> {
    let bad = |q: &str| -> Result<Option<String>, StoreError> {
        Ok(c.query_row(q, [], |r| r.get::<_, String>(0)).optional()?)
    };
    let checks = [
        (
            "an intent without its first candidate",
            "SELECT i.intent_id FROM tx_intent i
             WHERE NOT EXISTS (SELECT 1 FROM tx_candidate c WHERE c.intent_id = i.intent_id AND c.seq = 0)",
        ),
        (
            "candidates numbered with a gap",
            "SELECT intent_id FROM tx_candidate GROUP BY intent_id HAVING max(seq) + 1 != count(*)",
        ),
        (
            "a mined hash that is not a candidate of its intent",
            "SELECT i.intent_id FROM tx_intent i WHERE i.mined_hash IS NOT NULL AND NOT EXISTS
             (SELECT 1 FROM tx_candidate c WHERE c.intent_id = i.intent_id AND c.hash = i.mined_hash)",
        ),
        (
            "a confirmed or reverted intent without its mined candidate",
            "SELECT intent_id FROM tx_intent WHERE state IN ('confirmed', 'reverted') AND mined_hash IS NULL",
        ),
        (
            "a broadcast intent with no broadcast candidate",
            "SELECT i.intent_id FROM tx_intent i WHERE i.state = 'broadcast' AND NOT EXISTS
             (SELECT 1 FROM tx_candidate c WHERE c.intent_id = i.intent_id AND c.broadcast_ms IS NOT NULL)",
        ),
        (
            "an intent without its tx.signed audit row",
            "SELECT i.intent_id FROM tx_intent i WHERE NOT EXISTS
             (SELECT 1 FROM audit a WHERE a.subject = i.intent_id AND a.action = 'tx.signed')",
        ),
    ];
    for (what, q) in checks {
        if let Some(id) = bad(q)? {
            return Err(StoreError::Integrity(format!("{what}: {id}")));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn intent(id: &str, nonce: u64) -> NewTxIntent {
        NewTxIntent {
            intent_id: id.into(),
            intent_key: format!("key-{id}"),
            chain: "arb".into(),
            chain_id: 42161,
            from: "0xAAAA".into(),
            nonce,
            asset: "USDC".into(),
            token: Some("0xTOKEN".into()),
            to: "0xBBBB".into(),
            amount: Decimal::new(12345, 2),
            amount_raw: "123450000".into(),
            purpose: "venue_deposit".into(),
            venue: Some("binance".into()),
            config_version: "v1".into(),
        }
    }

    pub(crate) fn candidate(hash: &str, seq: u32) -> TxCandidate {
        TxCandidate {
            hash: hash.into(),
            seq,
            raw: vec![2, 0xf8, seq as u8],
            max_fee_per_gas: 30_000_000_000 + u128::from(seq),
            max_priority_fee_per_gas: 1_000_000_000,
            gas_limit: 60_000,
            created_ms: 5,
            broadcast_ms: None,
        }
    }

    pub(crate) fn stamp() -> Stamp {
        Stamp {
            actor: "test".into(),
            config_version: "v1".into(),
            fence: None,
        }
    }

    #[test]
    fn an_intent_goes_from_signed_to_confirmed_with_its_audit_trail() {
        let j = Journal::open_in_memory().unwrap();
        let s = stamp();
        j.record_tx_intent(&intent("i1", 7), &candidate("0x01", 0), &s, 10)
            .unwrap();
        let r = j.tx_intent("i1").unwrap().unwrap();
        assert_eq!(r.state, IntentState::Signed);
        assert_eq!(r.intent, intent("i1", 7));
        assert_eq!(r.candidates, vec![candidate("0x01", 0)]);
        assert_eq!(j.open_tx_intents("arb").unwrap().len(), 1);
        j.mark_tx_broadcast("i1", "0x01", &s, 11).unwrap();
        j.mark_tx_broadcast("i1", "0x01", &s, 12).unwrap();
        j.add_tx_candidate("i1", &candidate("0x02", 1), &s, 20)
            .unwrap();
        j.mark_tx_broadcast("i1", "0x02", &s, 21).unwrap();
        let r = j.tx_intent("i1").unwrap().unwrap();
        assert_eq!(r.state, IntentState::Broadcast);
        assert_eq!(
            r.candidates[0].broadcast_ms,
            Some(11),
            "first broadcast time kept"
        );
        assert_eq!(r.latest().hash, "0x02");
        j.finish_tx_intent(
            "i1",
            IntentState::Confirmed,
            Some(("0x01", 99)),
            None,
            &s,
            30,
        )
        .unwrap();
        // same outcome again is fine; another outcome is refused
        j.finish_tx_intent(
            "i1",
            IntentState::Confirmed,
            Some(("0x01", 99)),
            None,
            &s,
            31,
        )
        .unwrap();
        assert!(
            j.finish_tx_intent(
                "i1",
                IntentState::Reverted,
                Some(("0x02", 99)),
                None,
                &s,
                32
            )
            .is_err()
        );
        let r = j.tx_intent("i1").unwrap().unwrap();
        assert_eq!(r.state, IntentState::Confirmed);
        assert_eq!(r.mined_hash.as_deref(), Some("0x01"));
        assert_eq!(r.mined_block, Some(99));
        assert!(j.open_tx_intents("arb").unwrap().is_empty());
        let actions: Vec<String> = j
            .audit_for("i1")
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
        assert_eq!(
            actions,
            vec![
                "tx.signed",
                "tx.broadcast",
                "tx.replacement_signed",
                "tx.confirmed"
            ]
        );
        j.integrity_check().unwrap();
    }

    #[test]
    fn ids_and_nonces_are_unique_and_candidates_contiguous() {
        let j = Journal::open_in_memory().unwrap();
        let s = stamp();
        j.record_tx_intent(&intent("i1", 7), &candidate("0x01", 0), &s, 10)
            .unwrap();
        assert!(matches!(
            j.record_tx_intent(&intent("i1", 8), &candidate("0x03", 0), &s, 10),
            Err(StoreError::IntentExists { .. })
        ));
        match j.record_tx_intent(&intent("i2", 7), &candidate("0x04", 0), &s, 10) {
            Err(StoreError::NonceTaken {
                nonce: 7,
                intent_id,
                ..
            }) => assert_eq!(intent_id, "i1"),
            other => panic!("{other:?}"),
        }
        assert!(
            j.add_tx_candidate("i1", &candidate("0x05", 2), &s, 10)
                .is_err()
        );
        assert!(
            j.finish_tx_intent(
                "i1",
                IntentState::Confirmed,
                Some(("0xff", 1)),
                None,
                &s,
                10
            )
            .is_err()
        );
        assert_eq!(j.max_tx_nonce(42161, "0xAAAA").unwrap(), Some(7));
        assert_eq!(j.max_tx_nonce(42161, "0xCCCC").unwrap(), None);
        // a dropped intent releases its nonce: the next intent may take it
        j.finish_tx_intent("i1", IntentState::Dropped, None, Some("refused"), &s, 11)
            .unwrap();
        assert_eq!(j.max_tx_nonce(42161, "0xAAAA").unwrap(), None);
        j.record_tx_intent(&intent("i2", 7), &candidate("0x04", 0), &s, 12)
            .unwrap();
        let dropped = j.tx_intent("i1").unwrap().unwrap();
        assert_eq!(dropped.outcome_reason.as_deref(), Some("refused"));
        j.integrity_check().unwrap();
    }

    #[test]
    fn a_stale_fence_cannot_record_an_intent() {
        let j = Journal::open_in_memory().unwrap();
        let a = j
            .acquire_lease("daemon", "a", "0123456789ab", 100, 0)
            .unwrap();
        let _b = j
            .acquire_lease("daemon", "b", "0123456789ab", 100, 200)
            .unwrap();
        let s = Stamp {
            fence: Some(a.fence()),
            ..stamp()
        };
        assert!(matches!(
            j.record_tx_intent(&intent("i1", 1), &candidate("0x01", 0), &s, 210),
            Err(StoreError::Fenced { .. })
        ));
        assert!(j.tx_intent("i1").unwrap().is_none());
    }
}
