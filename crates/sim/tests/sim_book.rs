//! The simulated order book: matching, price-time priority, partial fills, post-only and IOC semantics,
//! modify, trade ids, and a property test against a naive reference book.

mod sim_support;

use proptest::prelude::*;

use ballast_core::model::Side::{self, Buy, Sell};
use ballast_core::order::rules::RuleViolation;
use ballast_exec::TimeInForce::{self, Gtc, Ioc, PostOnly};
use ballast_sim::book::{BookReject, Trade};
use ballast_sim::{OrderBook, Owner, Tape, presets};
use sim_support::d;

fn book() -> OrderBook {
    OrderBook::new(presets::binance_usdcusdt().rules).unwrap()
}

fn put(
    b: &mut OrderBook,
    t: &mut Tape,
    id: u64,
    side: Side,
    price: &str,
    qty: &str,
    tif: TimeInForce,
) {
    b.place(id, Owner(id as u32), side, d(price), d(qty), tif, t)
        .unwrap();
}

#[test]
fn better_prices_match_first_then_earlier_orders() {
    let (mut b, mut t) = (book(), Tape::default());
    put(&mut b, &mut t, 1, Sell, "1.0002", "10", Gtc);
    put(&mut b, &mut t, 2, Sell, "1.0001", "10", Gtc);
    put(&mut b, &mut t, 3, Sell, "1.0001", "10", Gtc);
    put(&mut b, &mut t, 4, Sell, "1.0003", "10", Gtc);
    assert!(t.trades().is_empty());
    // Buy 25 up to 1.0002: 2 then 3 at 1.0001 (time priority), then 5 of 1 at 1.0002.
    let p = b
        .place(9, Owner(9), Buy, d("1.0002"), d("25"), Gtc, &mut t)
        .unwrap();
    assert_eq!((p.filled, p.resting, p.expired), (25, 0, 0));
    let got: Vec<(u64, u64, u64, u64)> = t
        .trades()
        .iter()
        .map(|x| (x.maker_order, x.price, x.lots, x.maker_left))
        .collect();
    assert_eq!(
        got,
        vec![(2, 10001, 10, 0), (3, 10001, 10, 0), (1, 10002, 5, 5)]
    );
    let ids: Vec<u64> = t.trades().iter().map(|x| x.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert!(
        t.trades()
            .iter()
            .all(|x| x.taker_order == 9 && x.taker_side == Buy)
    );
    // Order 1 keeps its place with 5 left; the book is one-sided at 1.0002 / 1.0003.
    assert_eq!(b.order(1).map(|r| r.lots), Some(5));
    assert_eq!(b.best_ask(), Some(d("1.0002")));
    assert_eq!(b.best_bid(), None);
}

#[test]
fn the_unfilled_rest_of_a_gtc_order_rests_at_its_limit() {
    let (mut b, mut t) = (book(), Tape::default());
    put(&mut b, &mut t, 1, Buy, "0.9999", "30", Gtc);
    let p = b
        .place(2, Owner(2), Sell, d("0.9999"), d("50"), Gtc, &mut t)
        .unwrap();
    assert_eq!((p.filled, p.resting), (30, 20));
    assert_eq!(b.best_bid(), None);
    assert_eq!(b.best_ask(), Some(d("0.9999")));
    assert_eq!(b.order(2).unwrap().lots, 20);
    assert_eq!(b.order(1), None);
}

#[test]
fn post_only_that_would_cross_is_refused_with_the_touch() {
    let (mut b, mut t) = (book(), Tape::default());
    put(&mut b, &mut t, 1, Buy, "0.9999", "10", Gtc);
    put(&mut b, &mut t, 2, Sell, "1.0001", "10", Gtc);
    let r = b.place(3, Owner(3), Buy, d("1.0001"), d("10"), PostOnly, &mut t);
    assert_eq!(
        r,
        Err(BookReject::PostOnlyWouldCross {
            bid: Some(d("0.9999")),
            ask: Some(d("1.0001"))
        })
    );
    // Inside the spread it rests and becomes the best bid.
    let p = b
        .place(3, Owner(3), Buy, d("1.0000"), d("10"), PostOnly, &mut t)
        .unwrap();
    assert_eq!(p.resting, 10);
    assert_eq!(b.best_bid(), Some(d("1")));
    assert!(t.trades().is_empty());
}

#[test]
fn ioc_fills_what_it_can_and_expires_the_rest() {
    let (mut b, mut t) = (book(), Tape::default());
    put(&mut b, &mut t, 1, Sell, "1.0001", "10", Gtc);
    put(&mut b, &mut t, 2, Sell, "1.0003", "10", Gtc);
    let p = b
        .place(3, Owner(3), Buy, d("1.0002"), d("25"), Ioc, &mut t)
        .unwrap();
    assert_eq!((p.filled, p.resting, p.expired), (10, 0, 15));
    assert_eq!(b.order(3), None, "an IOC never rests");
    assert_eq!(b.best_ask(), Some(d("1.0003")));
    // Nothing at or below 1.0002 any more: a distinct rejection, nothing changes.
    t.clear();
    let r = b.place(4, Owner(4), Buy, d("1.0002"), d("5"), Ioc, &mut t);
    assert_eq!(r, Err(BookReject::IocNoMatch));
    assert!(t.trades().is_empty());
    assert_eq!(b.len(), 1);
}

#[test]
fn modify_gives_a_new_id_at_the_back_of_the_queue() {
    let (mut b, mut t) = (book(), Tape::default());
    put(&mut b, &mut t, 1, Sell, "1.0001", "10", Gtc);
    put(&mut b, &mut t, 2, Sell, "1.0001", "10", Gtc);
    // Same price, same size: still loses priority.
    let (old, placed) = b.modify(1, 3, d("1.0001"), d("10"), Gtc, &mut t).unwrap();
    assert_eq!((old.id, old.lots, placed.resting), (1, 10, 10));
    let q: Vec<u64> = b.queue(Sell, 10001).iter().map(|r| r.id).collect();
    assert_eq!(q, vec![2, 3]);
    // A rejected modify leaves the old order alone.
    put(&mut b, &mut t, 5, Buy, "1.0000", "10", Gtc);
    let r = b.modify(3, 4, d("1.0000"), d("10"), PostOnly, &mut t);
    assert!(matches!(r, Err(BookReject::PostOnlyWouldCross { .. })));
    let r = b.modify(3, 4, d("1.00005"), d("10"), Gtc, &mut t);
    assert!(matches!(
        r,
        Err(BookReject::Rules(RuleViolation::OffGrid { .. }))
    ));
    assert_eq!(b.order(3).map(|r| r.lots), Some(10));
    assert_eq!(
        b.modify(99, 4, d("1.0001"), d("10"), Gtc, &mut t)
            .unwrap_err(),
        BookReject::UnknownOrder(99)
    );
}

#[test]
fn rules_are_checked_on_the_decimal_path() {
    let (mut b, mut t) = (book(), Tape::default());
    let place = |b: &mut OrderBook, t: &mut Tape, price: &str, qty: &str| {
        b.place(1, Owner(1), Buy, d(price), d(qty), Gtc, t)
    };
    assert!(matches!(
        place(&mut b, &mut t, "1.00001", "10"),
        Err(BookReject::Rules(RuleViolation::OffGrid { .. }))
    ));
    assert!(matches!(
        place(&mut b, &mut t, "1", "10.5"),
        Err(BookReject::Rules(RuleViolation::OffLot { .. }))
    ));
    assert!(matches!(
        place(&mut b, &mut t, "1", "4"),
        Err(BookReject::Rules(RuleViolation::BelowMinNotional { .. }))
    ));
    assert!(place(&mut b, &mut t, "1", "5").is_ok());
    assert_eq!(
        place(&mut b, &mut t, "1", "5"),
        Err(BookReject::DuplicateId(1))
    );
    // Hyperliquid's grid: 5 significant figures, finer below 1.
    let mut h = OrderBook::new(presets::hyperliquid_usdt0_usdc().rules).unwrap();
    assert!(
        h.place(1, Owner(1), Buy, d("0.99987"), d("20"), Gtc, &mut t)
            .is_ok()
    );
    assert!(matches!(
        h.place(2, Owner(1), Sell, d("1.00005"), d("20"), Gtc, &mut t),
        Err(BookReject::Rules(RuleViolation::OffGrid { .. }))
    ));
    assert!(matches!(
        h.place(2, Owner(1), Sell, d("1.0001"), d("9.99"), Gtc, &mut t),
        Err(BookReject::Rules(RuleViolation::BelowMinNotional { .. }))
    ));
}

#[test]
fn depth_aggregates_levels_best_first() {
    let (mut b, mut t) = (book(), Tape::default());
    put(&mut b, &mut t, 1, Buy, "0.9998", "10", Gtc);
    put(&mut b, &mut t, 2, Buy, "0.9999", "7", Gtc);
    put(&mut b, &mut t, 3, Buy, "0.9999", "8", Gtc);
    put(&mut b, &mut t, 4, Sell, "1.0002", "9", Gtc);
    let bids: Vec<(u64, u64, u32)> = b
        .levels(Buy, 5)
        .iter()
        .map(|l| (l.price, l.lots, l.orders))
        .collect();
    assert_eq!(bids, vec![(9999, 15, 2), (9998, 10, 1)]);
    assert_eq!(b.levels(Buy, 1).len(), 1);
    assert_eq!(b.mid(), Some(d("1.00005")));
    assert_eq!(b.lots_through(Sell, 9999), 15);
    assert_eq!(b.lots_through(Buy, 10002), 9);
}

// ---- property test against a naive reference ----

#[derive(Clone, Debug)]
enum Op {
    Place {
        side: Side,
        tick: u64,
        lots: u64,
        tif: TimeInForce,
    },
    Cancel {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<bool>(), 9990u64..10010, 5u64..60, 0u8..3).prop_map(|(buy, tick, lots, k)| Op::Place {
            side: if buy { Buy } else { Sell },
            tick,
            lots,
            tif: [Gtc, PostOnly, Ioc][k as usize],
        }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
    ]
}

/// Orders as a plain list; matching scans for the best price, then the oldest.
#[derive(Default)]
struct Naive {
    orders: Vec<(u64, Side, u64, u64)>, // id, side, price, lots (in arrival order)
}

impl Naive {
    fn crosses(&self, side: Side, price: u64) -> bool {
        self.orders.iter().any(|o| {
            o.1 != side
                && if side == Buy {
                    o.2 <= price
                } else {
                    o.2 >= price
                }
        })
    }

    /// Returns (maker, price, lots) per trade, or None when refused.
    fn place(
        &mut self,
        id: u64,
        side: Side,
        price: u64,
        mut lots: u64,
        tif: TimeInForce,
    ) -> Option<Vec<(u64, u64, u64)>> {
        let crosses = self.crosses(side, price);
        if (tif == PostOnly && crosses) || (tif == Ioc && !crosses) {
            return None;
        }
        let mut out = Vec::new();
        while lots > 0 {
            let best = self
                .orders
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    o.1 != side
                        && if side == Buy {
                            o.2 <= price
                        } else {
                            o.2 >= price
                        }
                })
                .min_by_key(|(i, o)| (if side == Buy { o.2 } else { u64::MAX - o.2 }, *i))
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let q = self.orders[i].3.min(lots);
            out.push((self.orders[i].0, self.orders[i].2, q));
            lots -= q;
            self.orders[i].3 -= q;
            if self.orders[i].3 == 0 {
                self.orders.remove(i);
            }
        }
        if lots > 0 && tif != Ioc {
            self.orders.push((id, side, price, lots));
        }
        Some(out)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The book produces exactly the trades of the naive reference, is never crossed, never fills an order
    /// beyond its size, and numbers trades 1, 2, 3...
    #[test]
    fn prop_book_matches_the_reference(ops in prop::collection::vec(op(), 1..200)) {
        let (mut b, mut tape) = (book(), Tape::default());
        let mut naive = Naive::default();
        let mut sizes = std::collections::HashMap::new();
        let mut filled: std::collections::HashMap<u64, u64> = Default::default();
        let mut live: Vec<u64> = Vec::new();
        let mut next_trade = 1;
        for (i, op) in ops.into_iter().enumerate() {
            let id = i as u64 + 1;
            match op {
                Op::Place { side, tick, lots, tif } => {
                    sizes.insert(id, lots);
                    let got = b.place_units(id, Owner(1), side, tick, lots, tif, &mut tape);
                    let want = naive.place(id, side, tick, lots, tif);
                    prop_assert_eq!(got.is_ok(), want.is_some(), "{:?}", got);
                    let trades: Vec<Trade> = tape.drain().collect();
                    let mine: Vec<(u64, u64, u64)> = trades.iter().map(|t| (t.maker_order, t.price, t.lots)).collect();
                    prop_assert_eq!(&mine, &want.unwrap_or_default());
                    for t in &trades {
                        prop_assert_eq!(t.id, next_trade);
                        next_trade += 1;
                        prop_assert_eq!(t.taker_order, id);
                        *filled.entry(t.maker_order).or_default() += t.lots;
                        *filled.entry(id).or_default() += t.lots;
                    }
                    if b.order(id).is_some() { live.push(id); }
                }
                Op::Cancel { pick } => {
                    if !live.is_empty() {
                        let victim = live.swap_remove(pick % live.len());
                        let gone = b.cancel(victim);
                        let pos = naive.orders.iter().position(|o| o.0 == victim);
                        prop_assert_eq!(gone.map(|r| r.lots), pos.map(|p| naive.orders.remove(p).3));
                    }
                }
            }
            if let (Some(bid), Some(ask)) = (b.best_bid_units(), b.best_ask_units()) {
                prop_assert!(bid < ask, "crossed: {} >= {}", bid, ask);
            }
            prop_assert_eq!(b.len(), naive.orders.len());
        }
        for (id, f) in &filled {
            prop_assert!(*f <= sizes[id], "order {} filled {} of {}", id, f, sizes[id]);
            if let Some(r) = b.order(*id) {
                prop_assert_eq!(r.lots + f, sizes[id]);
            }
        }
        let total: u64 = b.levels(Buy, usize::MAX).iter().chain(b.levels(Sell, usize::MAX).iter()).map(|l| l.lots).sum();
        let naive_total: u64 = naive.orders.iter().map(|o| o.3).sum();
        prop_assert_eq!(total, naive_total);
    }
}
