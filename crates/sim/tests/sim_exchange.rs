//! The simulated exchange: holds, fees, client ids, order history, replace, transfers, and conservation
//! under random operation sequences.

mod sim_support;

use proptest::prelude::*;
use rust_decimal::Decimal;

use ballast_core::model::Side::{Buy, Sell};
use ballast_core::order::rules::RuleViolation;
use ballast_exec::{Liquidity, TimeInForce, TransferKind, TransferState};
use ballast_sim::{OrderRef, SimOrderState, SimReject};
use sim_support::{
    bn, check_invariants, d, exchange, gtc, order, quiet_binance, quiet_hyperliquid,
};

fn bal(ex: &ballast_sim::SimExchange, acct: &str, asset: &str) -> (Decimal, Decimal) {
    let b = ex.balance(acct, asset).unwrap();
    (b.total, b.held)
}

#[test]
fn resting_orders_hold_funds_and_release_them_on_cancel() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    // A buy holds quote at its limit price, a sell holds base.
    let buy = ex.place("a", gtc(Buy, "0.9998", "1000"), 10).unwrap();
    assert_eq!(bal(&ex, "a", "USDT"), (d("1000000"), d("999.8")));
    let sell = ex.place("a", gtc(Sell, "1.0002", "500"), 10).unwrap();
    assert_eq!(bal(&ex, "a", "USDC"), (d("1000000"), d("500")));
    check_invariants(&ex);
    let c = ex
        .cancel("a", None, &OrderRef::Id(buy.order.id), 20)
        .unwrap();
    assert_eq!(c.state, SimOrderState::Canceled);
    assert_eq!(c.updated_ms, 20);
    assert_eq!(bal(&ex, "a", "USDT"), (d("1000000"), d("0")));
    // Cancelling again: not open any more.
    assert_eq!(
        ex.cancel("a", None, &OrderRef::Id(buy.order.id), 21),
        Err(SimReject::UnknownOrder)
    );
    // Another account cannot touch it, nor cancel on the wrong market.
    assert_eq!(
        ex.cancel("b", None, &OrderRef::Id(sell.order.id), 21),
        Err(SimReject::UnknownOrder)
    );
    assert_eq!(
        ex.cancel("a", Some("USDT0/USDC"), &OrderRef::Id(sell.order.id), 21),
        Err(SimReject::UnknownOrder)
    );
    check_invariants(&ex);
}

#[test]
fn an_order_beyond_the_available_balance_is_refused_with_the_numbers() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    ex.place("a", gtc(Sell, "1.0001", "999000"), 0).unwrap();
    let r = ex.place("a", gtc(Sell, "1.0001", "1001"), 0);
    assert_eq!(
        r,
        Err(SimReject::InsufficientBalance {
            asset: "USDC".into(),
            needed: d("1001"),
            available: d("1000"),
        })
    );
    assert!(ex.place("a", gtc(Sell, "1.0001", "1000"), 0).is_ok());
    let r = ex.place("a", gtc(Buy, "1", "1000001"), 0);
    assert!(matches!(r, Err(SimReject::InsufficientBalance { ref asset, .. }) if asset == "USDT"));
    check_invariants(&ex);
}

#[test]
fn fills_move_balances_with_maker_and_taker_fees_in_the_received_asset() {
    // Hyperliquid preset: maker 0.04%, taker 0.07%.
    let mut ex = exchange(vec![quiet_hyperliquid()], 1);
    let m = "USDT0/USDC";
    let ask = ex
        .place(
            "a",
            order(m, Sell, "1.0001", "1000", TimeInForce::Gtc, None),
            5,
        )
        .unwrap();
    let take = ex
        .place(
            "b",
            order(m, Buy, "1.0002", "400", TimeInForce::Gtc, None),
            7,
        )
        .unwrap();
    // The taker filled 400 at the maker's price and holds nothing for the filled order.
    assert_eq!(take.order.state, SimOrderState::Filled);
    assert_eq!(take.order.avg_price(), Some(d("1.0001")));
    assert_eq!(take.fills.len(), 1);
    let f = &take.fills[0];
    assert_eq!(
        (f.price, f.qty, f.liquidity, f.ts),
        (d("1.0001"), d("400"), Liquidity::Taker, 7)
    );
    assert_eq!((f.fee, f.fee_asset.as_str()), (d("0.28"), "USDT0")); // 400 * 0.0007
    // Buyer: paid 400.04 USDC, got 400 - 0.28 USDT0; the price improvement (1.0002 -> 1.0001) is released.
    assert_eq!(bal(&ex, "b", "USDC"), (d("999599.96"), d("0")));
    assert_eq!(bal(&ex, "b", "USDT0"), (d("1000399.72"), d("0")));
    // Seller (maker): gave 400 USDT0 (600 still held), got 400.04 USDC less 0.04%.
    assert_eq!(bal(&ex, "a", "USDT0"), (d("999600"), d("600")));
    assert_eq!(
        bal(&ex, "a", "USDC"),
        (d("1000400.04") - d("0.160016"), d("0"))
    );
    let maker_fills = ex.fills_since("a", 0).unwrap();
    assert_eq!(maker_fills.len(), 1);
    assert_eq!(
        maker_fills[0].trade_id, f.trade_id,
        "both sides share the trade id"
    );
    assert_eq!(maker_fills[0].liquidity, Liquidity::Maker);
    assert_eq!(maker_fills[0].fee, d("0.160016"));
    assert_eq!(maker_fills[0].order_id, ask.order.id);
    let audit = ex.audit();
    assert_eq!(audit["USDT0"].fees, d("0.28"));
    assert_eq!(audit["USDC"].fees, d("0.160016"));
    let o = ex.order("a", &OrderRef::Id(ask.order.id)).unwrap().unwrap();
    assert_eq!(
        (o.filled, o.quote_filled, o.state),
        (d("400"), d("400.04"), SimOrderState::Open)
    );
    assert_eq!(o.remaining(), d("600"));
    check_invariants(&ex);
}

#[test]
fn post_only_and_ioc_rejections_carry_what_each_venue_reports() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    ex.place("a", gtc(Buy, "0.9999", "100"), 0).unwrap();
    ex.place("a", gtc(Sell, "1.0001", "100"), 0).unwrap();
    let r = ex.place(
        "b",
        bn(Sell, "0.9999", "10", TimeInForce::PostOnly, "x1"),
        1,
    );
    assert_eq!(
        r,
        Err(SimReject::PostOnlyWouldCross {
            bid: Some(d("0.9999")),
            ask: Some(d("1.0001"))
        })
    );
    // A refused post-only order leaves no trace; its client id is free.
    assert_eq!(ex.order("b", &OrderRef::Client("x1".into())).unwrap(), None);
    // An IOC that matches nothing is an order that expired at once: it has an id and a history entry.
    let r = ex.place("b", bn(Buy, "1.0000", "10", TimeInForce::Ioc, "x1"), 2);
    let Err(SimReject::IocNoMatch { order_id }) = r else {
        panic!("{r:?}")
    };
    let o = ex
        .order("b", &OrderRef::Client("x1".into()))
        .unwrap()
        .unwrap();
    assert_eq!(
        (o.id, o.state, o.filled),
        (order_id, SimOrderState::Expired, d("0"))
    );
    assert_eq!(
        bal(&ex, "b", "USDT").1,
        d("0"),
        "an expired IOC holds nothing"
    );
    // A partial IOC: fills 100, the other 50 expire.
    let p = ex
        .place(
            "b",
            order("USDCUSDT", Buy, "1.0001", "150", TimeInForce::Ioc, None),
            3,
        )
        .unwrap();
    assert_eq!(
        (p.order.state, p.order.filled),
        (SimOrderState::Expired, d("100"))
    );
    assert_eq!(p.order.remaining(), d("0"));
    assert_eq!(bal(&ex, "b", "USDT").1, d("0"));
    check_invariants(&ex);
}

#[test]
fn client_ids_are_unique_among_open_orders_and_closed_orders_stay_queryable() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    let cid = |s: &str| order("USDCUSDT", Buy, "0.9990", "10", TimeInForce::Gtc, Some(s));
    let first = ex.place("a", cid("my-order-1"), 0).unwrap();
    assert_eq!(
        ex.place("a", cid("my-order-1"), 1),
        Err(SimReject::DuplicateClientId("my-order-1".into()))
    );
    // Another account may use the same id.
    assert!(ex.place("b", cid("my-order-1"), 1).is_ok());
    ex.cancel("a", None, &OrderRef::Client("my-order-1".into()), 2)
        .unwrap();
    // Once closed, the id may be used again; lookups by client id find the newest order.
    let second = ex.place("a", cid("my-order-1"), 3).unwrap();
    assert!(second.order.id > first.order.id);
    let found = ex
        .order("a", &OrderRef::Client("my-order-1".into()))
        .unwrap()
        .unwrap();
    assert_eq!(found.id, second.order.id);
    let old = ex
        .order("a", &OrderRef::Id(first.order.id))
        .unwrap()
        .unwrap();
    assert_eq!(old.state, SimOrderState::Canceled);
    assert_eq!(
        ex.order("a", &OrderRef::Client("nope".into())).unwrap(),
        None
    );
    assert_eq!(ex.open_orders("a", None).unwrap().len(), 1);
    assert_eq!(ex.open_orders("a", Some("USDCUSDT")).unwrap().len(), 1);
    assert_eq!(ex.orders_since("a", None, 0).unwrap().len(), 2);
    assert_eq!(ex.orders_since("a", None, 3).unwrap().len(), 1);
    assert_eq!(
        ex.place("nobody", cid("z"), 4),
        Err(SimReject::UnknownAccount("nobody".into()))
    );
    let mut o = cid("z");
    o.market = "BTCUSDT".into();
    assert_eq!(
        ex.place("a", o, 4),
        Err(SimReject::UnknownMarket("BTCUSDT".into()))
    );
    let r = ex.place(
        "a",
        order("USDCUSDT", Buy, "0.99995", "10", TimeInForce::Gtc, None),
        4,
    );
    assert!(matches!(
        r,
        Err(SimReject::Rules(RuleViolation::OffGrid { .. }))
    ));
}

#[test]
fn replace_reduces_the_new_order_by_the_unseen_fill_and_loses_priority() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    let old = ex
        .place("a", bn(Sell, "1.0002", "1000", TimeInForce::Gtc, "c1"), 0)
        .unwrap();
    ex.place("b", gtc(Sell, "1.0002", "50"), 0).unwrap();
    // 300 of the old order fill; the caller has seen only 100 of them.
    ex.place("b", gtc(Buy, "1.0002", "300"), 1).unwrap();
    let new = bn(Sell, "1.0002", "900", TimeInForce::PostOnly, "c2");
    let r = ex
        .replace("a", &OrderRef::Client("c1".into()), Some(d("100")), new, 2)
        .unwrap();
    assert_eq!(r.old.state, SimOrderState::Canceled);
    assert_eq!(r.old.filled, d("300"));
    assert_eq!(r.overfill, d("200"));
    let placed = r.new.unwrap();
    assert_eq!(placed.order.qty, d("700"));
    assert!(placed.order.id > old.order.id);
    assert_eq!(placed.order.client_id.as_deref(), Some("c2"));
    // The replacement queues behind b's order at the same price.
    let q = ex.book("USDCUSDT").unwrap().queue(Sell, 10002);
    assert_eq!(q.last().unwrap().id, placed.order.id);
    assert_eq!(q.len(), 2);
    assert_eq!(bal(&ex, "a", "USDC"), (d("999700"), d("700")));
    check_invariants(&ex);

    // Replacing a closed order does nothing.
    let again = bn(Sell, "1.0003", "10", TimeInForce::Gtc, "c3");
    assert_eq!(
        ex.replace("a", &OrderRef::Client("c1".into()), None, again, 3),
        Err(SimReject::UnknownOrder)
    );
    assert_eq!(ex.order("a", &OrderRef::Client("c3".into())).unwrap(), None);
}

#[test]
fn a_refused_replacement_leaves_the_old_order_working() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    ex.place("b", gtc(Buy, "1.0000", "100"), 0).unwrap();
    let old = ex
        .place("a", bn(Sell, "1.0002", "100", TimeInForce::Gtc, "c1"), 0)
        .unwrap();
    ex.place("a", bn(Sell, "1.0005", "10", TimeInForce::Gtc, "busy"), 0)
        .unwrap();
    let r = |price: &str, qty: &str, tif, cid: &str| {
        order("USDCUSDT", Sell, price, qty, tif, Some(cid))
    };
    let refusals = [
        r("1.0000", "100", TimeInForce::PostOnly, "c2"),
        r("1.00015", "100", TimeInForce::Gtc, "c2"),
        r("1.0001", "100", TimeInForce::Gtc, "busy"),
        r("1.0001", "2000000", TimeInForce::Gtc, "c2"),
    ];
    for new in refusals {
        let got = ex.replace("a", &OrderRef::Id(old.order.id), None, new.clone(), 1);
        assert!(got.is_err(), "{new:?} -> {got:?}");
        let o = ex.order("a", &OrderRef::Id(old.order.id)).unwrap().unwrap();
        assert_eq!(o.state, SimOrderState::Open, "{new:?}");
    }
    // The whole balance minus the other order may move from the old hold to the new one.
    let r = ex.replace(
        "a",
        &OrderRef::Id(old.order.id),
        None,
        bn(Sell, "1.0001", "999990", TimeInForce::Gtc, "c1"),
        2,
    );
    assert_eq!(
        r.unwrap().new.unwrap().order.client_id.as_deref(),
        Some("c1")
    );
    check_invariants(&ex);
}

#[test]
fn replace_places_nothing_when_the_old_order_filled_what_the_new_one_wanted() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    ex.place("a", bn(Sell, "1.0002", "1000", TimeInForce::Gtc, "c1"), 0)
        .unwrap();
    ex.place("b", gtc(Buy, "1.0002", "996"), 1).unwrap();
    // The caller saw nothing filled and wants the remaining 1000 at a new price: only 4 are left, below
    // the minimum notional of 5, so nothing is placed and the old order is cancelled.
    let r = ex
        .replace(
            "a",
            &OrderRef::Client("c1".into()),
            Some(Decimal::ZERO),
            bn(Sell, "1.0001", "1000", TimeInForce::Gtc, "c2"),
            2,
        )
        .unwrap();
    assert_eq!(r.overfill, d("996"));
    assert_eq!(r.new, None);
    assert_eq!(r.old.state, SimOrderState::Canceled);
    assert!(ex.open_orders("a", None).unwrap().is_empty());
    check_invariants(&ex);
}

#[test]
fn depth_mid_and_asset_listing() {
    let mut ex = exchange(vec![quiet_binance(), quiet_hyperliquid()], 1);
    assert_eq!(ex.mid("USDCUSDT").unwrap(), None);
    ex.place("a", gtc(Buy, "0.9999", "10"), 0).unwrap();
    ex.place("b", gtc(Buy, "0.9999", "20"), 0).unwrap();
    ex.place("a", gtc(Sell, "1.0001", "5"), 0).unwrap();
    let dp = ex.depth("USDCUSDT", 10).unwrap();
    assert_eq!(dp.bids.len(), 1);
    assert_eq!(
        (dp.bids[0].price, dp.bids[0].qty, dp.bids[0].orders),
        (d("0.9999"), d("30"), 2)
    );
    assert_eq!(dp.to_depth().mid(), Some(d("1")));
    assert_eq!(ex.mid("USDCUSDT").unwrap(), Some(d("1")));
    assert_eq!(ex.assets(), vec!["USDC", "USDT", "USDT0"]);
    let names: Vec<&str> = ex.markets().iter().map(|r| r.market.as_str()).collect();
    assert_eq!(names, vec!["USDCUSDT", "USDT0/USDC"]);
    assert_eq!(ex.fair_mid("USDCUSDT").unwrap(), None, "no liquidity model");
}

fn withdraw_100(
    ex: &mut ballast_sim::SimExchange,
    now: i64,
) -> Result<ballast_sim::SimTransfer, SimReject> {
    ex.withdraw(
        "a",
        "USDC",
        "ARBITRUM",
        "0xabc",
        d("100"),
        Some("w-1".into()),
        now,
    )
}

#[test]
fn withdrawals_hold_then_leave_with_their_fee_after_the_delay() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    let w = withdraw_100(&mut ex, 1_000).unwrap();
    assert_eq!(w.kind, TransferKind::Withdrawal);
    assert_eq!(w.state, TransferState::Pending);
    assert_eq!(
        (w.amount, w.fee, w.completes_ms),
        (d("100"), d("1"), 301_000)
    );
    assert_eq!(bal(&ex, "a", "USDC"), (d("1000000"), d("100")));
    check_invariants(&ex);
    // The held amount cannot be traded.
    assert!(matches!(
        ex.place("a", gtc(Sell, "1.0001", "999901"), 2_000),
        Err(SimReject::InsufficientBalance { .. })
    ));
    // A retry with the same client id returns the same withdrawal and takes nothing more.
    let again = withdraw_100(&mut ex, 2_000).unwrap();
    assert_eq!(again.id, w.id);
    assert_eq!(bal(&ex, "a", "USDC").1, d("100"));
    ex.advance_to(300_999);
    assert_eq!(
        ex.transfer("a", &w.id).unwrap().unwrap().state,
        TransferState::Pending
    );
    ex.advance_to(301_000);
    let done = ex.transfer("a", &w.id).unwrap().unwrap();
    assert_eq!(done.state, TransferState::Completed);
    assert_eq!(done.updated_ms, 301_000);
    assert!(done.tx_hash.is_some());
    assert_eq!(bal(&ex, "a", "USDC"), (d("999900"), d("0")));
    let audit = &ex.audit()["USDC"];
    assert_eq!((audit.fees, audit.withdrawn), (d("1"), d("99")));
    check_invariants(&ex);
    assert_eq!(ex.transfers_since("a", 301_000).unwrap().len(), 1);
    assert_eq!(ex.transfers_since("a", 301_001).unwrap().len(), 0);
    assert_eq!(done.to_status().state, TransferState::Completed);
}

#[test]
fn withdrawal_and_deposit_refusals() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    let w = |ex: &mut ballast_sim::SimExchange, asset: &str, net: &str, amount: &str| {
        ex.withdraw("a", asset, net, "0xabc", d(amount), None, 0)
    };
    assert!(matches!(
        w(&mut ex, "USDC", "ETH", "100"),
        Err(SimReject::UnknownNetwork { .. })
    ));
    assert!(matches!(
        w(&mut ex, "USDT", "ARBITRUM", "100"),
        Err(SimReject::UnknownNetwork { .. })
    ));
    assert_eq!(
        w(&mut ex, "USDC", "ARBITRUM", "4"),
        Err(SimReject::WithdrawBelowMin {
            asset: "USDC".into(),
            amount: d("4"),
            min: d("5")
        })
    );
    assert!(matches!(
        w(&mut ex, "USDC", "ARBITRUM", "2000000"),
        Err(SimReject::InsufficientBalance { .. })
    ));
    assert!(matches!(
        w(&mut ex, "USDC", "ARBITRUM", "-1"),
        Err(SimReject::InvalidAmount(_))
    ));
    assert!(ex.transfers_since("a", 0).unwrap().is_empty());
    assert!(matches!(
        ex.deposit("a", "USDC", "ARBITRUM", d("0"), None, 0),
        Err(SimReject::InvalidAmount(_))
    ));
    check_invariants(&ex);
}

#[test]
fn deposits_are_credited_after_the_network_delay() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    let addr = ex.deposit_address("a", "USDC", "ARBITRUM").unwrap();
    assert_eq!(addr.len(), 42);
    assert_eq!(addr, ex.deposit_address("a", "USDC", "ARBITRUM").unwrap());
    assert_ne!(addr, ex.deposit_address("b", "USDC", "ARBITRUM").unwrap());
    let dep = ex
        .deposit(
            "a",
            "USDC",
            "ARBITRUM",
            d("250"),
            Some("0xfeed".into()),
            10_000,
        )
        .unwrap();
    assert_eq!(
        (dep.state.clone(), dep.address.as_str()),
        (TransferState::Pending, addr.as_str())
    );
    ex.advance_to(69_999);
    assert_eq!(bal(&ex, "a", "USDC").0, d("1000000"));
    ex.advance_to(70_000);
    assert_eq!(bal(&ex, "a", "USDC").0, d("1000250"));
    let t = ex.transfer("a", &dep.id).unwrap().unwrap();
    assert_eq!(
        (t.state, t.tx_hash.as_deref()),
        (TransferState::Completed, Some("0xfeed"))
    );
    check_invariants(&ex);
}

#[test]
fn venue_order_and_trade_ids_increase() {
    let mut ex = exchange(vec![quiet_binance()], 1);
    let mut last_order = 0;
    for i in 0..20 {
        let side = if i % 2 == 0 { Sell } else { Buy };
        let p = ex.place("a", gtc(side, "1.0000", "10"), i).unwrap();
        assert!(p.order.id > last_order);
        last_order = p.order.id;
    }
    let ids: Vec<u64> = ex
        .fills_since("a", 0)
        .unwrap()
        .iter()
        .map(|f| f.trade_id)
        .collect();
    assert_eq!(
        ids.len(),
        20,
        "self-trades are allowed and reported on both sides"
    );
    assert!(ids.windows(2).all(|w| w[0] <= w[1]));
    check_invariants(&ex);
}

// ---- conservation under random sequences, with the background liquidity running ----

#[derive(Clone, Debug)]
enum Op {
    Place {
        acct: bool,
        hl: bool,
        buy: bool,
        ticks: i64,
        lots: u32,
        tif: u8,
    },
    Cancel {
        acct: bool,
        pick: usize,
    },
    Replace {
        acct: bool,
        pick: usize,
        ticks: i64,
        lots: u32,
        known: u8,
    },
    Withdraw {
        acct: bool,
        amount: u32,
    },
    Deposit {
        acct: bool,
        amount: u32,
    },
    Wait {
        ms: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), any::<bool>(), any::<bool>(), -6i64..6, 1u32..3000, 0u8..3)
            .prop_map(|(acct, hl, buy, ticks, lots, tif)| Op::Place { acct, hl, buy, ticks, lots, tif }),
        2 => (any::<bool>(), any::<usize>()).prop_map(|(acct, pick)| Op::Cancel { acct, pick }),
        2 => (any::<bool>(), any::<usize>(), -3i64..3, 1u32..3000, 0u8..3)
            .prop_map(|(acct, pick, ticks, lots, known)| Op::Replace { acct, pick, ticks, lots, known }),
        1 => (any::<bool>(), 1u32..2_000_000).prop_map(|(acct, amount)| Op::Withdraw { acct, amount }),
        1 => (any::<bool>(), 1u32..100_000).prop_map(|(acct, amount)| Op::Deposit { acct, amount }),
        3 => (1u32..120_000).prop_map(|ms| Op::Wait { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Whatever happens, each asset's total over the accounts plus fees, the background's take and
    /// withdrawals equals what was deposited; holds always equal the open orders' and pending withdrawals'
    /// amounts, never negative nor above the total; books are never crossed; no order fills beyond its size.
    #[test]
    fn prop_assets_are_conserved_and_holds_consistent(seed in 0u64..1000, ops in prop::collection::vec(op(), 1..60)) {
        let mut ex = exchange(
            vec![
                ballast_sim::presets::binance_usdcusdt(),
                ballast_sim::presets::hyperliquid_usdt0_usdc(),
            ],
            seed,
        );
        ex.record_events(true);
        let mut now = 0i64;
        for op in ops {
            now += 1;
            let name = |a: bool| if a { "a" } else { "b" };
            match op {
                Op::Place { acct, hl, buy, ticks, lots, tif } => {
                    let market = if hl { "USDT0/USDC" } else { "USDCUSDT" };
                    let book = ex.book(market).unwrap();
                    let u = book.units();
                    let mid = book.best_bid_units().or(book.best_ask_units()).unwrap_or(u.from_f64(1.0, true));
                    let price = u.price(u.step(mid, ticks));
                    let qty = u.qty(lots as u64 * if hl { 1000 } else { 10 });
                    let tif = [TimeInForce::Gtc, TimeInForce::PostOnly, TimeInForce::Ioc][tif as usize];
                    let side = if buy { Buy } else { Sell };
                    let o = ballast_sim::NewOrder { market: market.into(), side, price, qty, tif, client_id: None };
                    let _ = ex.place(name(acct), o, now);
                }
                Op::Cancel { acct, pick } => {
                    let open = ex.open_orders(name(acct), None).unwrap();
                    if !open.is_empty() {
                        let id = open[pick % open.len()].id;
                        prop_assert!(ex.cancel(name(acct), None, &OrderRef::Id(id), now).is_ok());
                    }
                }
                Op::Replace { acct, pick, ticks, lots, known } => {
                    let open = ex.open_orders(name(acct), None).unwrap();
                    if !open.is_empty() {
                        let o = &open[pick % open.len()];
                        let book = ex.book(&o.market).unwrap();
                        let u = book.units();
                        let price = u.price(u.step(u.price_units(o.price).unwrap(), ticks));
                        let qty = u.qty(lots as u64 * 10);
                        let known = [None, Some(Decimal::ZERO), Some(o.filled)][known as usize];
                        let new = ballast_sim::NewOrder { market: o.market.clone(), side: o.side, price, qty, tif: TimeInForce::Gtc, client_id: None };
                        let _ = ex.replace(name(acct), &OrderRef::Id(o.id), known, new, now);
                    }
                }
                Op::Withdraw { acct, amount } => {
                    let _ = ex.withdraw(name(acct), "USDC", "ARBITRUM", "0x1", Decimal::from(amount), None, now);
                }
                Op::Deposit { acct, amount } => {
                    let _ = ex.deposit(name(acct), "USDC", "ARBITRUM", Decimal::from(amount), None, now);
                }
                Op::Wait { ms } => {
                    now += ms as i64;
                    ex.advance_to(now);
                }
            }
            check_invariants(&ex);
        }
        for acct in ["a", "b"] {
            for o in ex.orders_since(acct, None, 0).unwrap() {
                prop_assert!(o.filled <= o.qty, "{:?}", o);
                if o.state == SimOrderState::Filled { prop_assert_eq!(o.filled, o.qty); }
            }
            // The event log ends with each order's current state and holds every fill.
            let mut last = std::collections::HashMap::new();
            let mut logged_fills = 0;
            for e in ex.events_since(acct, 0).unwrap() {
                match e.event {
                    ballast_sim::AccountEvent::Order(o) => { last.insert(o.id, o); }
                    ballast_sim::AccountEvent::Fill(_) => logged_fills += 1,
                    ballast_sim::AccountEvent::Transfer(_) => {}
                }
            }
            for o in ex.orders_since(acct, None, 0).unwrap() {
                prop_assert_eq!(last.get(&o.id), Some(&o));
            }
            let fills = ex.fills_since(acct, 0).unwrap();
            prop_assert_eq!(logged_fills, fills.len());
            prop_assert!(fills.windows(2).all(|w| w[0].ts <= w[1].ts && w[0].trade_id < w[1].trade_id || w[0].trade_id == w[1].trade_id));
        }
    }
}

#[test]
fn the_event_log_replays_what_happened_to_an_account() {
    use ballast_sim::AccountEvent::{Fill, Order, Transfer};
    let mut ex = exchange(vec![quiet_binance()], 1);
    ex.place("a", gtc(Sell, "1.0003", "10"), 0).unwrap();
    assert!(
        ex.events_since("a", 0).unwrap().is_empty(),
        "off by default"
    );
    ex.record_events(true);
    let maker = ex.place("a", gtc(Sell, "1.0001", "100"), 1).unwrap();
    ex.place("b", gtc(Buy, "1.0001", "40"), 2).unwrap();
    ex.cancel("a", None, &OrderRef::Id(maker.order.id), 3)
        .unwrap();
    ex.withdraw("a", "USDC", "ARBITRUM", "0x1", d("10"), None, 4)
        .unwrap();
    ex.advance_to(400_000);
    let log = ex.events_since("a", 0).unwrap();
    let summary: Vec<String> = log
        .iter()
        .map(|e| match &e.event {
            Order(o) => format!("{} order {:?} {}", e.ts, o.state, o.filled),
            Fill(f) => format!("{} fill {} {:?}", e.ts, f.qty, f.liquidity),
            Transfer(t) => format!("{} transfer {:?}", e.ts, t.state),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            "1 order Open 0",
            "2 fill 40 Maker",
            "2 order Open 40",
            "3 order Canceled 40",
            "4 transfer Pending",
            "300004 transfer Completed",
        ]
    );
    let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=6).collect::<Vec<u64>>());
    assert_eq!(ex.events_since("a", 4).unwrap().len(), 2);
    assert!(ex.events_since("a", 6).unwrap().is_empty());
    let taker: Vec<bool> = ex
        .events_since("b", 0)
        .unwrap()
        .iter()
        .map(|e| matches!(&e.event, Order(o) if o.state == SimOrderState::Filled))
        .collect();
    assert_eq!(taker, vec![false, false, true], "open, fill, filled");
}
