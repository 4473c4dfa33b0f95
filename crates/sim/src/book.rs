//! A price-time-priority limit order book for one market.
//!
//! Prices and sizes are integers inside ([`Units`]): price levels live in a `BTreeMap` per side, and the
//! orders of a level form a doubly linked FIFO threaded through one slab of nodes, so adding, cancelling
//! and matching never allocate once the slab and the level map have grown to the working size. Orders are
//! found by id through a hash map with a cheap hasher (ids are plain integers).
//!
//! The book knows nothing of accounts or balances: each order carries an [`Owner`], and every execution is
//! appended to a [`Tape`] that the caller settles (the simulated exchange moves balances from it).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use rust_decimal::Decimal;

use super::units::{Lots, PriceUnits, Units, UnitsError};
use ballast_core::model::Side;
use ballast_core::order::rules::{MarketRules, RuleViolation};
use ballast_exec::TimeInForce;

/// A venue order id.
pub type OrderId = u64;

/// Who an order belongs to: an account index of the exchange, or the background liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(pub u32);

impl Owner {
    /// The simulated market participants (background makers and takers).
    pub const BACKGROUND: Owner = Owner(u32::MAX);

    pub fn is_background(self) -> bool {
        self == Owner::BACKGROUND
    }
}

/// One execution between a resting (maker) order and an incoming (taker) order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Unique and increasing along the tape.
    pub id: u64,
    pub maker_order: OrderId,
    pub maker_owner: Owner,
    pub taker_order: OrderId,
    pub taker_owner: Owner,
    /// Side of the taker (the maker is on the other side).
    pub taker_side: Side,
    /// The maker's price, in units.
    pub price: PriceUnits,
    pub lots: Lots,
    /// Lots left on the maker order after this trade (0: it is filled and gone from the book).
    pub maker_left: Lots,
}

/// The trades produced by matching, with the trade id counter. Keep one per venue so ids are unique across
/// its markets; drain it after each operation.
#[derive(Clone, Debug)]
pub struct Tape {
    next_id: u64,
    trades: Vec<Trade>,
}

impl Default for Tape {
    fn default() -> Self {
        Tape::new(1)
    }
}

impl Tape {
    /// A tape whose first trade gets `first_id`.
    pub fn new(first_id: u64) -> Self {
        Tape {
            next_id: first_id,
            trades: Vec::with_capacity(64),
        }
    }

    /// Trades not yet drained, oldest first.
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// Take the trades, oldest first.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Trade> {
        self.trades.drain(..)
    }

    pub fn clear(&mut self) {
        self.trades.clear();
    }

    /// The id the next trade will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    fn push(&mut self, mut t: Trade) {
        t.id = self.next_id;
        self.next_id += 1;
        self.trades.push(t);
    }
}

/// What happened to an accepted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Lots matched on entry (the order was the taker).
    pub filled: Lots,
    /// Lots left resting on the book.
    pub resting: Lots,
    /// Lots cancelled by the time in force (the unfilled part of an IOC).
    pub expired: Lots,
}

/// Why the book refused an order. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookReject {
    /// A post-only order would have matched; the best prices at that moment.
    #[error("post-only order would cross (bid {bid:?}, ask {ask:?})")]
    PostOnlyWouldCross {
        bid: Option<Decimal>,
        ask: Option<Decimal>,
    },
    /// An IOC order found nothing to match.
    #[error("IOC order found nothing to match")]
    IocNoMatch,
    #[error(transparent)]
    Rules(#[from] RuleViolation),
    /// An order with this id is already on the book.
    #[error("order id {0} is already on the book")]
    DuplicateId(OrderId),
    /// No such order on the book.
    #[error("order {0} is not on the book")]
    UnknownOrder(OrderId),
}

/// An order resting on the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resting {
    pub id: OrderId,
    pub owner: Owner,
    pub side: Side,
    pub price: PriceUnits,
    /// Lots still open.
    pub lots: Lots,
}

/// One aggregated price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelView {
    pub price: PriceUnits,
    pub lots: Lots,
    /// Number of orders at the level.
    pub orders: u32,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    id: OrderId,
    owner: Owner,
    side: Side,
    price: PriceUnits,
    lots: Lots,
    prev: u32,
    next: u32,
}

impl Node {
    fn resting(&self) -> Resting {
        Resting {
            id: self.id,
            owner: self.owner,
            side: self.side,
            price: self.price,
            lots: self.lots,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Level {
    head: u32,
    tail: u32,
    lots: Lots,
    orders: u32,
}

/// Fibonacci hashing of integer ids: ids are dense integers, no flooding concern in a simulator.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<OrderId, V, BuildHasherDefault<IdHasher>>;

/// The book of one market.
#[derive(Clone, Debug)]
pub struct OrderBook {
    rules: MarketRules,
    units: Units,
    bids: BTreeMap<PriceUnits, Level>,
    asks: BTreeMap<PriceUnits, Level>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: IdMap<u32>,
}

impl OrderBook {
    /// An empty book for a market.
    pub fn new(rules: MarketRules) -> Result<OrderBook, UnitsError> {
        let units = Units::new(&rules)?;
        Ok(OrderBook {
            rules,
            units,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            index: IdMap::default(),
        })
    }

    pub fn rules(&self) -> &MarketRules {
        &self.rules
    }

    pub fn units(&self) -> &Units {
        &self.units
    }

    /// Number of resting orders.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Check a price and size against the market's rules and convert them to units.
    pub fn validate(
        &self,
        price: Decimal,
        qty: Decimal,
    ) -> Result<(PriceUnits, Lots), RuleViolation> {
        self.rules.check(price, qty)?;
        // `check` passed, so both are on the grid; only values beyond the simulator's integer range remain.
        let p = self
            .units
            .price_units(price)
            .ok_or_else(|| RuleViolation::OffGrid {
                price,
                grid: "the simulator's price range".into(),
            })?;
        let l = self.units.lots(qty).ok_or(RuleViolation::AboveMaxQty {
            qty,
            max: self.units.qty(u64::MAX >> 8),
        })?;
        Ok((p, l))
    }

    /// Place an order given in decimals, after checking it against the market's rules.
    #[allow(clippy::too_many_arguments)]
    pub fn place(
        &mut self,
        id: OrderId,
        owner: Owner,
        side: Side,
        price: Decimal,
        qty: Decimal,
        tif: TimeInForce,
        tape: &mut Tape,
    ) -> Result<Placement, BookReject> {
        let (p, l) = self.validate(price, qty)?;
        self.place_units(id, owner, side, p, l, tif, tape)
    }

    /// Place an order given in units. The caller guarantees the price is on the grid (the market's size and
    /// value rules are not applied: the liquidity model uses this path).
    #[allow(clippy::too_many_arguments)]
    pub fn place_units(
        &mut self,
        id: OrderId,
        owner: Owner,
        side: Side,
        price: PriceUnits,
        lots: Lots,
        tif: TimeInForce,
        tape: &mut Tape,
    ) -> Result<Placement, BookReject> {
        debug_assert!(self.units.on_grid(price), "price {price} off the grid");
        if self.index.contains_key(&id) {
            return Err(BookReject::DuplicateId(id));
        }
        if lots == 0 {
            return Err(BookReject::Rules(RuleViolation::BelowMinQty {
                qty: Decimal::ZERO,
                min: self.rules.min_qty.max(self.rules.lot),
            }));
        }
        let crosses = self.crosses(side, price);
        match tif {
            TimeInForce::PostOnly if crosses => {
                return Err(self.post_only_reject());
            }
            TimeInForce::Ioc if !crosses => return Err(BookReject::IocNoMatch),
            _ => {}
        }
        let filled = if crosses {
            self.take(id, owner, side, price, lots, tape)
        } else {
            0
        };
        let left = lots - filled;
        let mut placement = Placement {
            filled,
            resting: 0,
            expired: 0,
        };
        if left > 0 {
            if tif == TimeInForce::Ioc {
                placement.expired = left;
            } else {
                self.rest(id, owner, side, price, left);
                placement.resting = left;
            }
        }
        Ok(placement)
    }

    /// Would an order on `side` at `price` match at once?
    pub fn crosses(&self, side: Side, price: PriceUnits) -> bool {
        match side {
            Side::Buy => self.asks.keys().next().is_some_and(|a| *a <= price),
            Side::Sell => self.bids.keys().next_back().is_some_and(|b| *b >= price),
        }
    }

    /// The rejection of a post-only order that would cross now.
    pub fn post_only_reject(&self) -> BookReject {
        BookReject::PostOnlyWouldCross {
            bid: self.best_bid(),
            ask: self.best_ask(),
        }
    }

    /// Remove an order; returns what was left of it.
    pub fn cancel(&mut self, id: OrderId) -> Option<Resting> {
        let slot = self.index.remove(&id)?;
        let n = self.nodes[slot as usize];
        let levels = match n.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let level = levels
            .get_mut(&n.price)
            .expect("a resting order's level exists");
        unlink(&mut self.nodes, level, slot);
        level.lots -= n.lots;
        level.orders -= 1;
        if level.orders == 0 {
            levels.remove(&n.price);
        }
        self.free.push(slot);
        Some(n.resting())
    }

    /// Modify = cancel `old` and place a new order with a new id (it loses its queue priority). The new
    /// order is checked first: a rules, duplicate-id or post-only rejection leaves the old order untouched. An
    /// IOC replacement that matches nothing has still cancelled the old order.
    #[allow(clippy::too_many_arguments)]
    pub fn modify(
        &mut self,
        old: OrderId,
        new_id: OrderId,
        price: Decimal,
        qty: Decimal,
        tif: TimeInForce,
        tape: &mut Tape,
    ) -> Result<(Resting, Placement), BookReject> {
        let Some(o) = self.order(old) else {
            return Err(BookReject::UnknownOrder(old));
        };
        let (p, l) = self.validate(price, qty)?;
        if new_id != old && self.index.contains_key(&new_id) {
            return Err(BookReject::DuplicateId(new_id));
        }
        if tif == TimeInForce::PostOnly && self.crosses(o.side, p) {
            return Err(self.post_only_reject());
        }
        let gone = self.cancel(old).expect("checked above");
        let placed = self.place_units(new_id, o.owner, o.side, p, l, tif, tape)?;
        Ok((gone, placed))
    }

    /// A resting order by id.
    pub fn order(&self, id: OrderId) -> Option<Resting> {
        Some(self.nodes[*self.index.get(&id)? as usize].resting())
    }

    /// Orders at one price, in queue order (first in line first).
    pub fn queue(&self, side: Side, price: PriceUnits) -> Vec<Resting> {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        let mut out = Vec::new();
        if let Some(l) = levels.get(&price) {
            let mut s = l.head;
            while s != NIL {
                let n = self.nodes[s as usize];
                out.push(n.resting());
                s = n.next;
            }
        }
        out
    }

    pub fn best_bid_units(&self) -> Option<PriceUnits> {
        self.bids.keys().next_back().copied()
    }

    pub fn best_ask_units(&self) -> Option<PriceUnits> {
        self.asks.keys().next().copied()
    }

    pub fn best_bid(&self) -> Option<Decimal> {
        self.best_bid_units().map(|p| self.units.price(p))
    }

    pub fn best_ask(&self) -> Option<Decimal> {
        self.best_ask_units().map(|p| self.units.price(p))
    }

    /// Midpoint of the best bid and ask, when both exist.
    pub fn mid(&self) -> Option<Decimal> {
        Some((self.best_bid()? + self.best_ask()?) / Decimal::TWO)
    }

    /// The best `n` levels of a side, best first.
    pub fn levels(&self, side: Side, n: usize) -> Vec<LevelView> {
        let view = |(p, l): (&PriceUnits, &Level)| LevelView {
            price: *p,
            lots: l.lots,
            orders: l.orders,
        };
        match side {
            Side::Buy => self.bids.iter().rev().take(n).map(view).collect(),
            Side::Sell => self.asks.iter().take(n).map(view).collect(),
        }
    }

    /// Lots resting on a side at prices at least as good as `price` for a taker (asks at or below it for a
    /// buyer, bids at or above it for a seller).
    pub fn lots_through(&self, taker_side: Side, price: PriceUnits) -> Lots {
        match taker_side {
            Side::Buy => self.asks.range(..=price).map(|(_, l)| l.lots).sum(),
            Side::Sell => self.bids.range(price..).map(|(_, l)| l.lots).sum(),
        }
    }

    /// Match an incoming order against the other side up to its limit; returns the lots filled.
    fn take(
        &mut self,
        id: OrderId,
        owner: Owner,
        side: Side,
        limit: PriceUnits,
        lots: Lots,
        tape: &mut Tape,
    ) -> Lots {
        let mut left = lots;
        let OrderBook {
            bids,
            asks,
            nodes,
            free,
            index,
            ..
        } = self;
        while left > 0 {
            let mut entry = match side {
                Side::Buy => match asks.first_entry() {
                    Some(e) if *e.key() <= limit => e,
                    _ => break,
                },
                Side::Sell => match bids.last_entry() {
                    Some(e) if *e.key() >= limit => e,
                    _ => break,
                },
            };
            let price = *entry.key();
            let level = entry.get_mut();
            while left > 0 && level.head != NIL {
                let slot = level.head;
                let n = &mut nodes[slot as usize];
                let q = n.lots.min(left);
                n.lots -= q;
                left -= q;
                level.lots -= q;
                tape.push(Trade {
                    id: 0,
                    maker_order: n.id,
                    maker_owner: n.owner,
                    taker_order: id,
                    taker_owner: owner,
                    taker_side: side,
                    price,
                    lots: q,
                    maker_left: n.lots,
                });
                if n.lots == 0 {
                    let maker = n.id;
                    unlink(nodes, level, slot);
                    level.orders -= 1;
                    index.remove(&maker);
                    free.push(slot);
                }
            }
            if level.head == NIL {
                entry.remove();
            }
        }
        lots - left
    }

    fn rest(&mut self, id: OrderId, owner: Owner, side: Side, price: PriceUnits, lots: Lots) {
        let node = Node {
            id,
            owner,
            side,
            price,
            lots,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let level = levels.entry(price).or_insert(Level {
            head: NIL,
            tail: NIL,
            lots: 0,
            orders: 0,
        });
        if level.tail == NIL {
            level.head = slot;
        } else {
            self.nodes[level.tail as usize].next = slot;
            self.nodes[slot as usize].prev = level.tail;
        }
        level.tail = slot;
        level.lots += lots;
        level.orders += 1;
        self.index.insert(id, slot);
    }
}

fn unlink(nodes: &mut [Node], level: &mut Level, slot: u32) {
    let Node { prev, next, .. } = nodes[slot as usize];
    if prev == NIL {
        level.head = next;
    } else {
        nodes[prev as usize].next = next;
    }
    if next == NIL {
        level.tail = prev;
    } else {
        nodes[next as usize].prev = prev;
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::presets;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn cancel_in_the_middle_of_a_queue_keeps_the_others_in_order() {
        let mut b = OrderBook::new(presets::binance_usdcusdt().rules).unwrap();
        let mut tape = Tape::default();
        for id in 1..=4 {
            b.place(
                id,
                Owner(0),
                Side::Sell,
                d("1.0001"),
                d("10"),
                TimeInForce::Gtc,
                &mut tape,
            )
            .unwrap();
        }
        assert_eq!(b.cancel(2).map(|r| r.lots), Some(10));
        assert_eq!(b.cancel(2), None);
        let ids: Vec<u64> = b.queue(Side::Sell, 10001).iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 3, 4]);
        b.cancel(1);
        b.cancel(4);
        b.cancel(3);
        assert!(b.is_empty());
        assert_eq!(b.best_ask(), None);
        // Slots are reused.
        b.place(
            9,
            Owner(0),
            Side::Buy,
            d("1"),
            d("10"),
            TimeInForce::Gtc,
            &mut tape,
        )
        .unwrap();
        assert_eq!(b.nodes.len(), 4);
    }
}
