//! One look at the world: every chain's balances at one block (and the arrivals the legs wait for, up to that
//! block), every venue's transfers and mids. Reads run concurrently; each failure is kept with its cause so
//! the pending amounts can be all or nothing and new moves stop while any read fails.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use rust_decimal::Decimal;
use serde::Serialize;

use super::world::World;
use ballast_chain::{Arrival, ArrivalQuery, BalanceSnapshot};
use ballast_core::leg::{Leg, Stage};
use ballast_core::model::{PositionKey, TimestampMs};
use ballast_exec::{TransferStatus, Venue};

/// A chain as read.
#[derive(Clone, Debug)]
pub struct ChainView {
    pub snapshot: BalanceSnapshot,
    /// Transfers of the legs' assets to our account, from the earliest awaited withdrawal to the snapshot's
    /// block.
    pub arrivals: Vec<Arrival>,
    /// Age of the snapshot's block when it was read.
    pub age_ms: TimestampMs,
}

/// A venue as read.
#[derive(Clone, Debug)]
pub struct VenueView {
    /// Deposits and withdrawals since the oldest unsettled leg started.
    pub transfers: Vec<TransferStatus>,
    /// Mid of each market the routes use.
    pub mids: BTreeMap<String, Decimal>,
    /// Share of the tightest rate budget left.
    pub headroom: f64,
}

/// Everything read in one look.
#[derive(Clone, Debug, Default)]
pub struct WorldView {
    pub at_ms: TimestampMs,
    pub chains: BTreeMap<String, Result<ChainView, String>>,
    pub venues: BTreeMap<String, Result<VenueView, String>>,
}

/// Pending amounts: signed `{chain: {asset: amount}}` of everything in flight.
pub type PendingMap = BTreeMap<String, BTreeMap<String, Decimal>>;

/// Pending amounts as of the last look at the world (`None` before the first; the failed reads when one
/// failed), shared between the daemon loop and the HTTP endpoint.
pub type PendingBoard = std::sync::Arc<std::sync::RwLock<Option<Result<PendingMap, Vec<String>>>>>;

impl WorldView {
    /// Every failed read, naming the chain or venue and the cause.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, c) in &self.chains {
            if let Err(e) = c {
                out.push(format!("chain {n}: {e}"));
            }
        }
        for (n, v) in &self.venues {
            if let Err(e) = v {
                out.push(format!("venue {n}: {e}"));
            }
        }
        out
    }

    pub fn chain(&self, name: &str) -> Option<&ChainView> {
        self.chains.get(name).and_then(|c| c.as_ref().ok())
    }

    pub fn venue(&self, name: &str) -> Option<&VenueView> {
        self.venues.get(name).and_then(|v| v.as_ref().ok())
    }

    /// The settled balance of a position: the sum over our accounts at the snapshot's block.
    pub fn balance(&self, key: &PositionKey) -> Option<Decimal> {
        self.chain(&key.chain).map(|c| c.snapshot.total(&key.asset))
    }
}

/// Stages where a leg waits for its withdrawal to arrive on the destination chain.
fn awaits_arrival(l: &Leg) -> bool {
    let s = match l.stage {
        Stage::Failed | Stage::Expired => l.stopped_in.unwrap_or(l.stage),
        s => s,
    };
    matches!(s, Stage::WithdrawSubmitted | Stage::Withdrawn)
}

/// Read every chain and venue once.
pub async fn observe(
    world: &World,
    legs: &[Leg],
    markets: &BTreeMap<String, BTreeSet<String>>,
    now: TimestampMs,
) -> WorldView {
    // Arrivals to look for, per chain: (asset, first block).
    let mut wanted: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for l in legs.iter().filter(|l| awaits_arrival(l)) {
        let from = l.dest_from_block.unwrap_or(0);
        let e = wanted
            .entry(l.to.chain.as_str())
            .or_default()
            .entry(l.to.asset.as_str())
            .or_insert(from);
        *e = (*e).min(from);
    }
    let chain_reads = world.chains.iter().map(|(name, link)| {
        let wanted = wanted.get(name.as_str()).cloned().unwrap_or_default();
        async move {
            let snapshot = link.chain.balances(None).await.map_err(|e| e.to_string())?;
            let mut arrivals = Vec::new();
            for (asset, from_block) in wanted {
                let q = ArrivalQuery {
                    asset: asset.to_string(),
                    to: vec![link.account],
                    from_block: from_block.min(snapshot.block),
                    to_block: Some(snapshot.block),
                };
                arrivals.extend(link.chain.arrivals(&q).await.map_err(|e| e.to_string())?);
            }
            Ok::<_, String>(ChainView {
                age_ms: now - snapshot.block_time_ms,
                snapshot,
                arrivals,
            })
        }
    });
    let oldest = legs
        .iter()
        .filter(|l| l.stage != Stage::Done)
        .map(|l| l.created_ms)
        .min()
        .unwrap_or(now)
        .min(now);
    let since = oldest - 10 * 60_000;
    // A venue's deposits, withdrawals and internal moves only matter to the legs through it that wait for
    // one: a venue with none is not asked (its ledger endpoint is expensive on Hyperliquid's rate limit).
    let busy: BTreeSet<&str> = legs
        .iter()
        .filter(|l| {
            matches!(
                l.stage,
                Stage::DepositSubmitted
                    | Stage::Deposited
                    | Stage::Swapped
                    | Stage::WithdrawSubmitted
                    | Stage::Expired
            )
        })
        .map(|l| l.venue.as_str())
        .collect();
    let venue_reads = world.venues.iter().map(|(name, link)| {
        let mkts = markets.get(name).cloned().unwrap_or_default();
        let busy = busy.contains(name.as_str());
        async move {
            let every = link.venue.read_interval().as_millis() as i64;
            let cached = link
                .last_view
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some((at, with_transfers, v)) = cached
                && now - at < every
                && (with_transfers || !busy)
            {
                return Ok(v);
            }
            let transfers = if busy {
                link.venue
                    .transfers_since(since)
                    .await
                    .map_err(|e| e.to_string())?
            } else {
                Vec::new()
            };
            let mut mids = BTreeMap::new();
            for m in mkts {
                let d = link.venue.depth(&m, 1).await.map_err(|e| e.to_string())?;
                if let Some(mid) = d.mid() {
                    mids.insert(m, mid);
                }
            }
            let v = VenueView {
                transfers,
                mids,
                headroom: link.venue.headroom().fraction,
            };
            *link.last_view.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((now, busy, v.clone()));
            Ok::<_, String>(v)
        }
    });
    let (chains, venues) = futures_util::join!(join_all(chain_reads), join_all(venue_reads));
    WorldView {
        at_ms: now,
        chains: world.chains.keys().cloned().zip(chains).collect(),
        venues: world.venues.keys().cloned().zip(venues).collect(),
    }
}

/// Legs whose withdrawal has already reached the destination balance as read (arrived, possibly not yet
/// confirmed): they no longer credit the destination. Each arrival serves at most one leg.
pub fn arrived_legs(
    legs: &[Leg],
    view: &WorldView,
    claimed: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut used: BTreeSet<String> = claimed.clone();
    for l in legs {
        if let Some(a) = &l.arrival {
            if view
                .chain(&l.to.chain)
                .is_some_and(|c| a.block <= c.snapshot.block)
            {
                out.insert(l.id.clone());
            }
            continue;
        }
        if !awaits_arrival(l) {
            continue;
        }
        let Some(c) = view.chain(&l.to.chain) else {
            continue;
        };
        let Some((lo, hi)) = expected_arrival(l) else {
            continue;
        };
        let from = l.dest_from_block.unwrap_or(0);
        let hit = c
            .arrivals
            .iter()
            .filter(|a| {
                a.asset == l.to.asset
                    && a.block >= from
                    && a.amount >= lo
                    && a.amount <= hi
                    && !used.contains(&arrival_key(&c.snapshot.chain, a))
            })
            .min_by_key(|a| (a.block, a.log_index));
        if let Some(a) = hit {
            used.insert(arrival_key(&c.snapshot.chain, a));
            out.insert(l.id.clone());
        }
    }
    out
}

/// The claim key of an arrival.
pub fn arrival_key(chain: &str, a: &Arrival) -> String {
    format!("{chain}:{:#x}:{}", a.tx_hash, a.log_index)
}

/// The amount range a leg's withdrawal arrives with: what was withdrawn, less the venue's fee (the fee may be
/// unknown until the venue reports the withdrawal complete, so up to 1 % is accepted until then).
pub fn expected_arrival(l: &Leg) -> Option<(Decimal, Decimal)> {
    let amount = l.withdraw_amount()?;
    if matches!(l.stopped_in.unwrap_or(l.stage), Stage::Withdrawn) || !l.withdrawal_fee.is_zero() {
        let x = amount - l.withdrawal_fee;
        return Some((x, x));
    }
    Some((amount * Decimal::new(99, 2), amount))
}

/// The pending amounts of the unsettled legs against a view: all or nothing. Errors name every failed read.
pub fn pending(
    legs: &[Leg],
    view: &WorldView,
    claimed_arrivals: &BTreeSet<String>,
) -> Result<PendingMap, Vec<String>> {
    let failures = view.failures();
    if !failures.is_empty() {
        return Err(failures);
    }
    let arrived = arrived_legs(legs, view, claimed_arrivals);
    let mut out: PendingMap = BTreeMap::new();
    for l in legs.iter().filter(|l| l.stage != Stage::Done) {
        let source_left = match (l.deposit_block, view.chain(&l.from.chain)) {
            (Some(b), Some(c)) => b <= c.snapshot.block,
            _ => false,
        };
        for (key, amount) in l.pending(source_left, arrived.contains(&l.id)) {
            if amount.is_zero() {
                continue;
            }
            *out.entry(key.chain)
                .or_default()
                .entry(key.asset)
                .or_default() += amount;
        }
    }
    Ok(out)
}

/// Pending per position key.
pub fn by_position(p: &PendingMap) -> BTreeMap<PositionKey, Decimal> {
    p.iter()
        .flat_map(|(c, m)| {
            m.iter()
                .map(move |(a, v)| (PositionKey::new(c.clone(), a.clone()), *v))
        })
        .collect()
}

/// A pending map as JSON with decimal strings.
#[derive(Serialize)]
pub struct PendingJson<'a>(pub &'a PendingMap);
