//! Unit tests of the auction state machine, one behaviour each.

use std::str::FromStr;

use super::*;
use crate::order::{Liquidity, PriceGrid};

pub(super) fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A Binance-style USDC/USDT market: tick 0.0001, lot 1, minimum value 5 USDT.
pub(super) fn bn() -> MarketRules {
    MarketRules {
        market: "USDCUSDT".into(),
        base: "USDC".into(),
        quote: "USDT".into(),
        grid: PriceGrid::Tick { tick: d("0.0001") },
        lot: d("1"),
        min_qty: d("1"),
        max_qty: d("9000000"),
        min_notional: d("5"),
        maker_fee: d("0"),
        taker_fee: d("0.0001"),
    }
}

const T0: i64 = 1_000_000;

/// Start 10 bps passive, floor 20 bps through, linear over 100 s, a step every 10 s, no taker phase.
fn schedule() -> Schedule {
    Schedule {
        start_bps: d("10"),
        floor_bps: d("20"),
        shape: Shape::Linear,
        duration_ms: 100_000,
        step_ms: 10_000,
        taker_ms: 0,
        deadline_ms: 120_000,
    }
}

fn params(side: Side, qty: &str) -> AuctionParams {
    AuctionParams {
        intent: "test-intent".into(),
        side,
        quantity: d(qty),
        reference: d("1"),
        start_ms: T0,
        schedule: schedule(),
        reprice: Reprice::Replace,
    }
}

fn auction(side: Side, qty: &str) -> Auction {
    Auction::new(params(side, qty), bn()).unwrap()
}

fn status(req: &OrderRequest, filled: &str, state: OrderState) -> OrderStatus {
    OrderStatus {
        client_id: req.client_id.clone(),
        venue_order_id: format!("v{}", &req.client_id.as_hex()[..8]),
        market: req.market.clone(),
        side: req.side,
        price: req.price,
        qty: req.qty,
        filled: d(filled),
        avg_price: None,
        state,
        updated_ms: 0,
    }
}

fn fill(trade: &str, id: &ClientOrderId, price: &str, qty: &str, liq: Liquidity) -> Event {
    Event::Fill(Fill {
        trade_id: trade.into(),
        client_id: Some(id.clone()),
        venue_order_id: String::new(),
        market: "USDCUSDT".into(),
        side: Side::Sell,
        price: d(price),
        qty: d(qty),
        fee: Decimal::ZERO,
        fee_asset: "USDT".into(),
        liquidity: liq,
        ts: 0,
    })
}

fn rejected(kind: RejectKind) -> VenueError {
    VenueError::Rejected {
        venue: "bn".into(),
        code: None,
        reason: "no".into(),
        kind,
    }
}

fn place_of(a: Option<Action>) -> OrderRequest {
    match a {
        Some(Action::Place(r)) => r,
        other => panic!("expected a place, got {other:?}"),
    }
}

fn replace_of(a: Option<Action>) -> (ClientOrderId, Decimal, OrderRequest) {
    match a {
        Some(Action::Replace {
            old,
            old_known_filled,
            new,
        }) => (old, old_known_filled, new),
        other => panic!("expected a replace, got {other:?}"),
    }
}

fn cancel_of(a: Option<Action>) -> ClientOrderId {
    match a {
        Some(Action::Cancel { client_id, .. }) => client_id,
        other => panic!("expected a cancel, got {other:?}"),
    }
}

fn query_of(a: Option<Action>) -> ClientOrderId {
    match a {
        Some(Action::Query { client_id, .. }) => client_id,
        other => panic!("expected a query, got {other:?}"),
    }
}

/// Feed an event, then ask for the next action at the same time.
fn feed(a: &mut Auction, now: i64, event: Event) -> Option<Action> {
    a.handle(now, event);
    a.poll_action(now, 1.0)
}

/// Place the first order and have it acknowledged.
fn started(a: &mut Auction) -> OrderRequest {
    let r = place_of(a.poll_action(T0, 1.0));
    let ack = Event::from_place(&r.client_id, Ok(status(&r, "0", OrderState::Open)));
    assert_eq!(feed(a, T0 + 5, ack), None);
    r
}

/// Accept a replace as sent (no reduction).
fn replaced(a: &mut Auction, now: i64, old: &ClientOrderId, new: &OrderRequest) {
    a.handle(
        now,
        Event::Replaced {
            old: old.clone(),
            new: new.client_id.clone(),
            status: status(new, "0", OrderState::Open),
        },
    );
}

#[test]
fn first_order_is_post_only_at_the_start_price_with_a_derived_id() {
    let mut a = auction(Side::Sell, "1000");
    assert_eq!(a.poll_action(T0 - 1, 1.0), None, "nothing before the start");
    assert_eq!(a.poll_timeout(), Some(T0));
    let r = place_of(a.poll_action(T0, 1.0));
    assert_eq!(r.price, d("1.001"));
    assert_eq!(r.qty, d("1000"));
    assert_eq!(r.tif, TimeInForce::PostOnly);
    assert_eq!(r.side, Side::Sell);
    assert_eq!(r.client_id, ClientOrderId::derive("test-intent", 0));

    let mut b = auction(Side::Buy, "1000");
    let r = place_of(b.poll_action(T0, 1.0));
    assert_eq!(r.price, d("0.999"));
    assert_eq!(r.side, Side::Buy);
}

#[test]
fn nothing_conflicting_while_a_request_is_in_flight() {
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    // Pending place: no step, no cancel, even at the deadline.
    for t in [T0 + 10_000, T0 + 50_000, T0 + 200_000] {
        assert_eq!(a.poll_action(t, 1.0), None);
    }
    assert_eq!(a.poll_timeout(), None, "only the result can move it");
    a.cancel_all(T0 + 200_000);
    assert_eq!(a.poll_action(T0 + 200_000, 1.0), None);
    // The result arrives: now the deadline cancel goes out, and nothing else until it is answered.
    let c = cancel_of(feed(
        &mut a,
        T0 + 200_001,
        Event::from_place(&r.client_id, Ok(status(&r, "0", OrderState::Open))),
    ));
    assert_eq!(c, r.client_id);
    assert_eq!(a.poll_action(T0 + 200_002, 1.0), None);
    // A stale duplicate of the place result does not answer the cancel.
    assert_eq!(
        feed(
            &mut a,
            T0 + 200_003,
            Event::from_place(&r.client_id, Ok(status(&r, "0", OrderState::Open)))
        ),
        None
    );
    assert_eq!(
        feed(
            &mut a,
            T0 + 200_004,
            Event::from_cancel(&c, Ok(status(&r, "0", OrderState::Canceled)))
        ),
        None
    );
    assert!(a.is_done());
    assert_eq!(a.end_reason(), Some(&EndReason::Deadline));
}

#[test]
fn steps_reprice_down_the_schedule_by_replace() {
    let mut a = auction(Side::Sell, "1000");
    let r = started(&mut a);
    assert_eq!(a.poll_timeout(), Some(T0 + 10_000));
    assert_eq!(a.poll_action(T0 + 9_999, 1.0), None);
    let (old, known, new) = replace_of(feed(&mut a, T0 + 10_000, Event::Timer));
    assert_eq!(old, r.client_id);
    assert_eq!(known, Decimal::ZERO);
    // 1.001 - 0.003 * 10/100
    assert_eq!(new.price, d("1.0007"));
    assert_eq!(new.qty, d("1000"));
    assert_eq!(new.client_id, ClientOrderId::derive("test-intent", 1));
    replaced(&mut a, T0 + 10_010, &old, &new);
    let (_, _, n2) = replace_of(a.poll_action(T0 + 20_000, 1.0));
    assert_eq!(n2.price, d("1.0004"));
    let rep = a.report();
    assert_eq!((rep.steps, rep.replaces, rep.orders_placed), (3, 2, 3));
}

#[test]
fn a_step_whose_rounded_price_is_unchanged_is_skipped() {
    let mut rules = bn();
    rules.grid = PriceGrid::Tick { tick: d("0.001") };
    let mut a = Auction::new(params(Side::Sell, "1000"), rules).unwrap();
    let r = started(&mut a);
    assert_eq!(r.price, d("1.001"));
    // 1.0007 rounds up (passive for a sell) to 1.001: same price, no request.
    assert_eq!(a.poll_action(T0 + 10_000, 1.0), None);
    assert!(matches!(
        a.audit().last().unwrap().decision,
        Decision::SkippedUnchanged { .. }
    ));
    assert_eq!(a.poll_timeout(), Some(T0 + 20_000));
    assert_eq!(a.poll_action(T0 + 20_000, 1.0), None); // 1.0004 -> 1.001
    // 1.0001 -> 1.001 still; 0.9998 -> 1.000: a reprice.
    assert_eq!(a.poll_action(T0 + 30_000, 1.0), None);
    let (_, _, n) = replace_of(a.poll_action(T0 + 40_000, 1.0));
    assert_eq!(n.price, d("1"));
    let rep = a.report();
    assert_eq!((rep.steps, rep.skipped_steps, rep.replaces), (5, 3, 1));
}

#[test]
fn prices_never_go_beyond_the_floor_and_hold_there() {
    let mut a = auction(Side::Sell, "1000");
    let mut r = started(&mut a);
    for k in 1..=11 {
        let t = T0 + k * 10_000;
        match a.poll_action(t, 1.0) {
            Some(Action::Replace { old, new, .. }) => {
                assert!(new.price >= d("0.998"), "{} below the floor", new.price);
                replaced(&mut a, t, &old, &new);
                r = new;
            }
            None => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(r.price, d("0.998"));
    assert_eq!(a.floor_on_grid(), d("0.998"));
    // In the hold after the duration: nothing to do.
    assert_eq!(a.poll_action(T0 + 115_000, 1.0), None);
}

#[test]
fn post_only_prices_stay_passive_against_the_book() {
    let mut a = auction(Side::Sell, "1000");
    started(&mut a);
    a.handle(
        T0 + 9_000,
        Event::Book {
            best_bid: Some(d("1.0008")),
            best_ask: Some(d("1.0012")),
        },
    );
    let (_, _, n) = replace_of(a.poll_action(T0 + 10_000, 1.0));
    assert_eq!(n.price, d("1.0009"), "one tick above the bid, not 1.0007");

    let mut b = auction(Side::Buy, "1000");
    let r = place_of(feed(
        &mut b,
        T0,
        Event::Book {
            best_bid: Some(d("0.9985")),
            best_ask: Some(d("0.9989")),
        },
    ));
    assert_eq!(r.price, d("0.9988"), "one tick below the ask, not 0.999");
}

#[test]
fn a_crossing_rejection_reanchors_only_in_the_users_favour() {
    // Sell: rejected at 1.001 (the bid came up to it): the reference rises to 1.001, the re-place is beyond it.
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    a.handle(
        T0 + 5,
        Event::from_place(&r.client_id, Err(rejected(RejectKind::PostOnlyWouldCross))),
    );
    assert_eq!(a.reference(), d("1.001"));
    assert_eq!(a.floor_on_grid(), d("0.998"), "the floor never moves");
    let r2 = place_of(a.poll_action(T0 + 5, 1.0));
    // New start 1.001 * 1.001 = 1.002001 -> rounded up 1.0021.
    assert_eq!(r2.price, d("1.0021"));
    assert_ne!(r2.client_id, r.client_id);
    a.handle(
        T0 + 10,
        Event::from_place(&r2.client_id, Ok(status(&r2, "0", OrderState::Open))),
    );
    // Late in the schedule a rejection below the reference moves nothing but the passive bound.
    let t = T0 + 90_000;
    let (old, _, n) = replace_of(a.poll_action(t, 1.0));
    a.handle(
        t + 5,
        Event::ReplaceFailed {
            old: old.clone(),
            new: n.client_id.clone(),
            error: rejected(RejectKind::PostOnlyWouldCross),
        },
    );
    assert_eq!(a.reference(), d("1.001"));
    // The old order may have been cancelled by the failed replace (409): ask.
    let q = query_of(a.poll_action(t + 5, 1.0));
    assert_eq!(q, old);
    let r3 = place_of(feed(
        &mut a,
        t + 6,
        Event::from_query(&q, Ok(Some(status(&r2, "0", OrderState::Canceled)))),
    ));
    assert!(
        r3.price > n.price,
        "{} must be beyond the crossing price {}",
        r3.price,
        n.price
    );
    assert_eq!(n.price, d("0.9985"), "a new step tries the schedule again");
    assert_eq!(r3.price, n.price + d("0.0001"));
    let audit: Vec<_> = a
        .audit()
        .iter()
        .filter_map(|r| match &r.decision {
            Decision::Reanchored { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(audit, vec![(d("1"), d("1.001")), (d("1.001"), d("1.001"))]);
    assert_eq!(a.report().reanchors, 2);

    // Buy: the reference only moves down.
    let mut b = auction(Side::Buy, "1000");
    let r = place_of(b.poll_action(T0, 1.0));
    b.handle(
        T0 + 5,
        Event::from_place(&r.client_id, Err(rejected(RejectKind::PostOnlyWouldCross))),
    );
    assert_eq!(b.reference(), d("0.999"));
    assert_eq!(b.floor_on_grid(), d("1.002"));
    let r2 = place_of(b.poll_action(T0 + 5, 1.0));
    assert!(r2.price < r.price);
}

#[test]
fn a_book_update_clears_the_bound_learned_from_a_rejection() {
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    a.handle(
        T0 + 5,
        Event::from_place(&r.client_id, Err(rejected(RejectKind::PostOnlyWouldCross))),
    );
    assert_eq!(
        a.quote_price(T0 + 90_000),
        d("1.0011"),
        "kept beyond the crossing price"
    );
    a.handle(
        T0 + 6,
        Event::Book {
            best_bid: Some(d("0.9980")),
            best_ask: Some(d("0.9982")),
        },
    );
    // 1.002001 + (0.998 - 1.002001) * 0.9 = 0.9984001 -> 0.9985
    assert_eq!(a.quote_price(T0 + 90_000), d("0.9985"));
}

#[test]
fn taker_phase_offers_the_remainder_as_ioc_at_the_floor() {
    for mode in [Reprice::Replace, Reprice::CancelThenPlace] {
        let mut p = params(Side::Sell, "1000");
        p.schedule.taker_ms = 20_000;
        p.reprice = mode;
        let mut a = Auction::new(p, bn()).unwrap();
        let mut live = started(&mut a);
        let mut t = T0;
        // Walk the maker phase.
        while t < T0 + 90_000 {
            t += 10_000;
            if let Some(act) = a.poll_action(t, 1.0) {
                match act {
                    Action::Replace { old, new, .. } => {
                        replaced(&mut a, t, &old, &new);
                        live = new;
                    }
                    Action::Cancel { client_id, .. } => {
                        a.handle(
                            t,
                            Event::from_cancel(
                                &client_id,
                                Ok(status(&live, "0", OrderState::Canceled)),
                            ),
                        );
                        live = place_of(a.poll_action(t, 1.0));
                        a.handle(
                            t,
                            Event::from_place(
                                &live.client_id,
                                Ok(status(&live, "0", OrderState::Open)),
                            ),
                        );
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(live.tif, TimeInForce::PostOnly);
        // 300 of it filled as maker.
        a.handle(
            t + 1,
            fill("m1", &live.client_id, "0.998", "300", Liquidity::Maker),
        );
        // The taker phase starts at 100 s (deadline 120 s - 20 s).
        let ioc = match (mode, a.poll_action(T0 + 100_000, 1.0)) {
            (
                Reprice::Replace,
                Some(Action::Replace {
                    old,
                    old_known_filled,
                    new,
                }),
            ) => {
                assert_eq!(old, live.client_id);
                assert_eq!(old_known_filled, d("300"));
                new
            }
            (Reprice::CancelThenPlace, Some(Action::Cancel { client_id, .. })) => {
                a.handle(
                    T0 + 100_001,
                    Event::from_cancel(&client_id, Ok(status(&live, "300", OrderState::Canceled))),
                );
                place_of(a.poll_action(T0 + 100_001, 1.0))
            }
            (_, other) => panic!("{other:?}"),
        };
        assert_eq!(ioc.tif, TimeInForce::Ioc);
        assert_eq!(ioc.price, d("0.998"));
        assert_eq!(ioc.qty, d("700"));
        // It takes 200; the rest expires. The next IOC comes a step later.
        a.handle(
            T0 + 100_002,
            fill("t1", &ioc.client_id, "0.9985", "200", Liquidity::Taker),
        );
        let ev = match mode {
            Reprice::Replace => Event::Replaced {
                old: live.client_id.clone(),
                new: ioc.client_id.clone(),
                status: status(&ioc, "200", OrderState::Canceled),
            },
            Reprice::CancelThenPlace => Event::from_place(
                &ioc.client_id,
                Ok(status(&ioc, "200", OrderState::Canceled)),
            ),
        };
        a.handle(T0 + 100_003, ev);
        assert_eq!(a.poll_action(T0 + 100_003, 1.0), None);
        let ioc2 = place_of(a.poll_action(T0 + 110_000, 1.0));
        assert_eq!(
            (ioc2.tif, ioc2.qty, ioc2.price),
            (TimeInForce::Ioc, d("500"), d("0.998"))
        );
        a.handle(
            T0 + 110_001,
            Event::from_place(&ioc2.client_id, Err(rejected(RejectKind::IocNoMatch))),
        );
        // At the deadline: nothing rests, so it ends at once.
        assert_eq!(a.poll_action(T0 + 120_000, 1.0), None);
        assert!(a.is_done());
        let rep = a.report();
        assert_eq!(rep.end_reason, Some(EndReason::Deadline));
        assert_eq!((rep.filled, rep.unfilled), (d("500"), d("500")));
        assert_eq!((rep.maker_qty, rep.taker_qty), (d("300"), d("200")));
    }
}

#[test]
fn the_deadline_cancels_what_rests_and_ends() {
    let mut a = auction(Side::Sell, "1000");
    let r = started(&mut a);
    a.handle(
        T0 + 50,
        fill("f1", &r.client_id, "1.001", "400", Liquidity::Maker),
    );
    let c = cancel_of(a.poll_action(T0 + 120_000, 1.0));
    assert!(a.is_ending() && !a.is_done());
    // No place or replace at or after the deadline, whatever the time.
    assert_eq!(a.poll_action(T0 + 130_000, 1.0), None);
    assert_eq!(
        feed(
            &mut a,
            T0 + 130_001,
            Event::from_cancel(&c, Ok(status(&r, "400", OrderState::Canceled)))
        ),
        None
    );
    assert!(a.is_done());
    assert_eq!(a.poll_timeout(), None);
    let rep = a.report();
    assert_eq!(rep.end_reason, Some(EndReason::Deadline));
    assert_eq!((rep.filled, rep.unfilled), (d("400"), d("600")));
    assert_eq!(rep.ended_ms, Some(T0 + 130_001));
}

#[test]
fn a_low_budget_stretches_the_interval_and_none_stops_stepping() {
    let mut a = auction(Side::Sell, "1000");
    started(&mut a);
    // Headroom 0.25: interval x 0.5 / 0.25 = 20 s after the last step (at T0).
    assert_eq!(a.poll_action(T0 + 10_000, 0.25), None);
    assert_eq!(a.poll_timeout(), Some(T0 + 20_000));
    assert!(matches!(
        a.audit().last().unwrap().decision,
        Decision::Stretched { until, .. } if until == T0 + 20_000
    ));
    assert_eq!(a.poll_action(T0 + 15_000, 0.25), None);
    let (old, _, n) = replace_of(a.poll_action(T0 + 20_000, 0.25));
    // The price follows the clock, not the step count.
    assert_eq!(n.price, d("1.0004"));
    replaced(&mut a, T0 + 20_001, &old, &n);
    // Headroom 0: no step at all, it waits an interval and asks again.
    assert_eq!(a.poll_action(T0 + 30_000, 0.0), None);
    assert!(matches!(
        a.audit().last().unwrap().decision,
        Decision::BudgetExhausted { .. }
    ));
    assert_eq!(a.poll_timeout(), Some(T0 + 40_000));
    assert_eq!(a.poll_action(T0 + 35_000, f64::NAN), None);
    // The budget recovers: the step goes at once. At 0.6 there is no stretch.
    assert!(matches!(
        a.poll_action(T0 + 36_000, 0.6),
        Some(Action::Replace { .. })
    ));
    // A tiny headroom stretches at most 10x.
    let mut b = auction(Side::Sell, "1000");
    started(&mut b);
    assert_eq!(b.poll_action(T0 + 10_000, 0.001), None);
    assert_eq!(b.poll_timeout(), Some(T0 + 100_000));
}

#[test]
fn fills_count_once_whatever_their_order_and_never_beyond_the_quantity() {
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    // A fill before the ack.
    a.handle(
        T0 + 1,
        fill("a", &r.client_id, "1.001", "100", Liquidity::Maker),
    );
    a.handle(
        T0 + 2,
        Event::from_place(&r.client_id, Ok(status(&r, "100", OrderState::Open))),
    );
    a.handle(
        T0 + 3,
        fill("a", &r.client_id, "1.001", "100", Liquidity::Maker),
    );
    assert_eq!(a.filled(), d("100"));
    let (old, known, n) = replace_of(a.poll_action(T0 + 10_000, 1.0));
    assert_eq!(known, d("100"));
    assert_eq!(n.qty, d("900"));
    // The old order fills 50 more before the replace lands: the venue reduces the new one to 850.
    a.handle(
        T0 + 10_001,
        Event::Replaced {
            old: old.clone(),
            new: n.client_id.clone(),
            status: OrderStatus {
                qty: d("850"),
                ..status(&n, "0", OrderState::Open)
            },
        },
    );
    assert_eq!(
        a.report().unseen_fill_qty,
        d("50"),
        "known from the reduction, not seen yet"
    );
    // The next reprice knows about those 50 before their fill arrives.
    let (_, known2, n2) = replace_of(a.poll_action(T0 + 20_000, 1.0));
    assert_eq!((known2, n2.qty), (d("0"), d("850")));
    replaced(&mut a, T0 + 20_001, &n.client_id, &n2);
    // The old order's fill arrives late, duplicated; the newest fills the rest; a venue reports one too many.
    a.handle(
        T0 + 20_002,
        fill("b", &old, "1.0007", "50", Liquidity::Maker),
    );
    a.handle(
        T0 + 20_003,
        fill("b", &old, "1.0007", "50", Liquidity::Maker),
    );
    a.handle(
        T0 + 20_004,
        fill("c", &n2.client_id, "1.0004", "850", Liquidity::Maker),
    );
    a.handle(
        T0 + 20_005,
        fill("d", &n2.client_id, "1.0004", "7", Liquidity::Maker),
    );
    assert_eq!(a.filled(), d("1000"));
    assert_eq!(a.remaining(), d("0"));
    assert_eq!(a.poll_action(T0 + 20_006, 1.0), None);
    assert!(a.is_done());
    let rep = a.report();
    assert_eq!(rep.end_reason, Some(EndReason::Filled));
    assert_eq!(rep.overfill, d("7"));
    assert_eq!(rep.duplicate_fills, 2);
    assert_eq!(rep.unseen_fill_qty, d("0"));
    assert_eq!(rep.time_to_fill_ms, Some(20_004));
    assert_eq!(rep.fills.iter().map(|f| f.qty).sum::<Decimal>(), d("1000"));
}

#[test]
fn cancel_then_place_reprices_in_two_requests() {
    let mut p = params(Side::Sell, "1000");
    p.reprice = Reprice::CancelThenPlace;
    let mut a = Auction::new(p, bn()).unwrap();
    let r = started(&mut a);
    let c = cancel_of(a.poll_action(T0 + 10_000, 1.0));
    assert_eq!(c, r.client_id);
    assert_eq!(
        a.poll_action(T0 + 10_001, 1.0),
        None,
        "not before the cancel is confirmed"
    );
    // Filled 30 before the cancel landed; the venue says so.
    let r2 = place_of(feed(
        &mut a,
        T0 + 10_002,
        Event::from_cancel(&c, Ok(status(&r, "30", OrderState::Canceled))),
    ));
    assert_eq!((r2.price, r2.qty), (d("1.0007"), d("970")));
    assert_eq!(a.report().replaces, 1);
}

#[test]
fn a_cancel_confirmation_without_quantity_is_queried_before_placing_again() {
    let mut p = params(Side::Sell, "1000");
    p.reprice = Reprice::CancelThenPlace;
    let mut a = Auction::new(p, bn()).unwrap();
    let r = started(&mut a);
    let c = cancel_of(a.poll_action(T0 + 10_000, 1.0));
    let q = query_of(feed(
        &mut a,
        T0 + 10_001,
        Event::Closed {
            client_id: c.clone(),
            filled: None,
        },
    ));
    assert_eq!(q, r.client_id);
    a.handle(
        T0 + 10_002,
        Event::from_query(&q, Ok(Some(status(&r, "1000", OrderState::Filled)))),
    );
    // It had filled completely: nothing more to place.
    assert_eq!(a.poll_action(T0 + 10_002, 1.0), None);
    assert!(a.is_done());
    assert_eq!(a.end_reason(), Some(&EndReason::Filled));
    assert_eq!(a.report().unseen_fill_qty, d("1000"));
}

#[test]
fn a_replace_of_an_order_that_is_gone_asks_what_it_filled() {
    let mut a = auction(Side::Sell, "1000");
    let r = started(&mut a);
    let (old, _, n) = replace_of(a.poll_action(T0 + 10_000, 1.0));
    let q = query_of(feed(
        &mut a,
        T0 + 10_001,
        Event::from_replace(&old, &n.client_id, Err(rejected(RejectKind::UnknownOrder))),
    ));
    assert_eq!(q, r.client_id);
    let r2 = place_of(feed(
        &mut a,
        T0 + 10_002,
        Event::from_query(&q, Ok(Some(status(&r, "600", OrderState::Canceled)))),
    ));
    assert_eq!(r2.qty, d("400"));
}

#[test]
fn an_unknown_outcome_is_resolved_by_client_id() {
    let unknown = || VenueError::UnknownOutcome {
        venue: "bn".into(),
        reason: "timeout".into(),
    };
    // The venue never saw it: placed again under a new id.
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    let q = query_of(feed(
        &mut a,
        T0 + 1,
        Event::from_place(&r.client_id, Err(unknown())),
    ));
    assert_eq!(q, r.client_id);
    assert_eq!(a.poll_action(T0 + 2, 1.0), None);
    let r2 = place_of(feed(&mut a, T0 + 3, Event::from_query(&q, Ok(None))));
    assert_ne!(r2.client_id, r.client_id);
    // It did rest: carry on with it.
    let mut b = auction(Side::Sell, "1000");
    let r = place_of(b.poll_action(T0, 1.0));
    let q = query_of(feed(
        &mut b,
        T0 + 1,
        Event::from_place(&r.client_id, Err(unknown())),
    ));
    assert_eq!(
        feed(
            &mut b,
            T0 + 3,
            Event::from_query(&q, Ok(Some(status(&r, "0", OrderState::Open))))
        ),
        None
    );
    let (old, _, _) = replace_of(b.poll_action(T0 + 10_000, 1.0));
    assert_eq!(old, r.client_id);
}

#[test]
fn a_remainder_below_the_minimum_ends_the_auction() {
    let mut a = auction(Side::Sell, "10");
    let r = started(&mut a);
    a.handle(
        T0 + 1,
        fill("f", &r.client_id, "1.001", "6", Liquidity::Maker),
    );
    // 4 left: worth 3.99 at the floor, below the 5 USDT minimum.
    let c = cancel_of(a.poll_action(T0 + 10_000, 1.0));
    assert_eq!(
        feed(
            &mut a,
            T0 + 10_001,
            Event::from_cancel(&c, Ok(status(&r, "6", OrderState::Canceled)))
        ),
        None
    );
    assert!(a.is_done());
    assert_eq!(
        a.end_reason(),
        Some(&EndReason::BelowMinimum { remainder: d("4") })
    );
    assert_eq!(a.report().unfilled, d("4"));
    // Below the lot from the start of a fresh placement: the same.
    let mut b = auction(Side::Sell, "10.5");
    let r = started(&mut b);
    assert_eq!(r.qty, d("10"));
    b.handle(
        T0 + 1,
        fill("f", &r.client_id, "1.001", "10", Liquidity::Maker),
    );
    assert_eq!(b.poll_action(T0 + 2, 1.0), None);
    assert_eq!(
        b.end_reason(),
        Some(&EndReason::BelowMinimum {
            remainder: d("0.5")
        })
    );
    assert!(b.is_done());
}

#[test]
fn rejections_end_or_retry_by_kind() {
    // Rules: end with the venue's reason.
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    assert_eq!(
        feed(
            &mut a,
            T0 + 1,
            Event::from_place(&r.client_id, Err(rejected(RejectKind::Rules)))
        ),
        None
    );
    assert!(a.is_done());
    assert!(matches!(
        a.end_reason(),
        Some(EndReason::Rejected {
            error: VenueError::Rejected {
                kind: RejectKind::Rules,
                ..
            }
        })
    ));
    // Insufficient balance: end.
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    let e = VenueError::InsufficientBalance {
        venue: "bn".into(),
        reason: "held".into(),
    };
    assert_eq!(
        feed(
            &mut a,
            T0 + 1,
            Event::from_place(&r.client_id, Err(e.clone()))
        ),
        None
    );
    assert_eq!(a.end_reason(), Some(&EndReason::Rejected { error: e }));
    // Rate limited: wait as told, then place again.
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    let e = VenueError::RateLimited {
        venue: "bn".into(),
        retry_after_ms: Some(3_000),
        reason: "429".into(),
    };
    a.handle(T0 + 1, Event::from_place(&r.client_id, Err(e)));
    assert_eq!(a.poll_timeout(), Some(T0 + 3_001));
    assert_eq!(a.poll_action(T0 + 3_000, 1.0), None);
    let r2 = place_of(a.poll_action(T0 + 3_001, 1.0));
    assert_eq!(r2.price, d("1.001"));
    assert!(!a.is_ending());
}

#[test]
fn a_venue_without_replace_falls_back_to_cancel_then_place() {
    let mut a = auction(Side::Sell, "1000");
    started(&mut a);
    let (old, _, n) = replace_of(a.poll_action(T0 + 10_000, 1.0));
    let c = cancel_of(feed(
        &mut a,
        T0 + 10_001,
        Event::from_replace(
            &old,
            &n.client_id,
            Err(VenueError::Unsupported {
                venue: "bn".into(),
                what: "replace".into(),
            }),
        ),
    ));
    assert_eq!(c, old);
}

#[test]
fn cancel_all_cancels_the_working_order_and_ends_when_confirmed() {
    let mut a = auction(Side::Buy, "1000");
    let r = started(&mut a);
    a.cancel_all(T0 + 100);
    let c = cancel_of(a.poll_action(T0 + 100, 1.0));
    assert_eq!(c, r.client_id);
    assert!(!a.is_done());
    // The cancel fails for now; it is sent again.
    a.handle(
        T0 + 101,
        Event::from_cancel(
            &c,
            Err(VenueError::Transport {
                venue: "bn".into(),
                reason: "reset".into(),
            }),
        ),
    );
    assert_eq!(a.poll_action(T0 + 102, 1.0), None);
    let c2 = cancel_of(a.poll_action(T0 + 10_101, 0.0));
    assert_eq!(c2, c, "cancels go even with no rate budget");
    assert_eq!(
        feed(
            &mut a,
            T0 + 10_102,
            Event::from_cancel(&c2, Ok(status(&r, "0", OrderState::Canceled)))
        ),
        None
    );
    assert!(a.is_done());
    assert_eq!(a.end_reason(), Some(&EndReason::Canceled));
}

#[test]
fn the_report_computes_vwap_and_shortfall_with_fees() {
    let mut a = auction(Side::Sell, "1000");
    let r = started(&mut a);
    let mut f1 = fill("1", &r.client_id, "1.0005", "600", Liquidity::Maker);
    let mut f2 = fill("2", &r.client_id, "0.999", "400", Liquidity::Taker);
    if let Event::Fill(f) = &mut f2 {
        f.fee = d("0.04");
    }
    if let Event::Fill(f) = &mut f1 {
        f.fee = d("0.1");
        f.fee_asset = "BNB".into();
    }
    a.handle(T0 + 1, f1);
    a.handle(T0 + 2, f2);
    let rep = a.report();
    assert_eq!(rep.notional, d("999.9"));
    assert_eq!(rep.vwap, Some(d("0.9999")));
    assert_eq!(rep.fees_quote, d("0.04"));
    assert_eq!(rep.other_fees, vec![("BNB".to_string(), d("0.1"))]);
    // Cost: 1000 x 1 - (999.9 - 0.04) = 0.14 USDT on 1000 of arrival value: 1.4 bps.
    assert_eq!(rep.shortfall_bps, Some(d("1.4")));
    // A buy that pays above arrival is a positive cost too; fees in the base asset count at the fill price.
    let mut b = auction(Side::Buy, "100");
    let r = started(&mut b);
    let mut f = fill("1", &r.client_id, "1.001", "100", Liquidity::Maker);
    if let Event::Fill(x) = &mut f {
        x.fee = d("0.01");
        x.fee_asset = "USDC".into();
    }
    b.handle(T0 + 1, f);
    // 100.1 + 0.01001 - 100 = 0.11001 -> 11.001 bps.
    assert_eq!(b.report().shortfall_bps, Some(d("11.001")));
}

#[test]
fn construction_rejects_what_cannot_work() {
    let err = |p: AuctionParams| Auction::new(p, bn()).unwrap_err();
    assert!(matches!(
        err(AuctionParams {
            quantity: d("3"),
            ..params(Side::Sell, "1")
        }),
        AuctionError::BelowMinimum {
            violation: RuleViolation::BelowMinNotional { .. },
            ..
        }
    ));
    assert!(matches!(
        err(AuctionParams {
            quantity: d("0.5"),
            ..params(Side::Sell, "1")
        }),
        AuctionError::BelowMinimum {
            violation: RuleViolation::BelowMinQty { .. },
            ..
        }
    ));
    assert_eq!(
        err(AuctionParams {
            quantity: d("-1"),
            ..params(Side::Sell, "1")
        }),
        AuctionError::QuantityNotPositive(d("-1"))
    );
    assert_eq!(
        err(AuctionParams {
            reference: d("0"),
            ..params(Side::Sell, "1")
        }),
        AuctionError::ReferenceNotPositive(d("0"))
    );
    assert_eq!(
        err(AuctionParams {
            intent: String::new(),
            ..params(Side::Sell, "100")
        }),
        AuctionError::EmptyIntent
    );
    let mut p = params(Side::Sell, "100");
    p.schedule.step_ms = 0;
    let e = err(p);
    assert_eq!(e, AuctionError::Schedule(ScheduleError::StepNotPositive(0)));
    assert_eq!(
        e.to_string(),
        "schedule: step interval must be positive (got 0 ms)"
    );
    // Quantities above the market maximum are worked in pieces of at most the maximum.
    let mut rules = bn();
    rules.max_qty = d("400");
    let mut a = Auction::new(params(Side::Sell, "1000"), rules).unwrap();
    assert_eq!(place_of(a.poll_action(T0, 1.0)).qty, d("400"));
}

#[test]
fn stale_and_foreign_events_change_nothing() {
    let mut a = auction(Side::Sell, "1000");
    let r = started(&mut a);
    let (old, _, n) = replace_of(a.poll_action(T0 + 10_000, 1.0));
    replaced(&mut a, T0 + 10_001, &old, &n);
    let before = a.report();
    // Duplicates of earlier results and events about other orders.
    a.handle(
        T0 + 10_002,
        Event::from_place(&r.client_id, Ok(status(&r, "0", OrderState::Open))),
    );
    replaced(&mut a, T0 + 10_003, &old, &n);
    a.handle(
        T0 + 10_004,
        Event::from_place(&r.client_id, Err(rejected(RejectKind::PostOnlyWouldCross))),
    );
    a.handle(
        T0 + 10_005,
        Event::Ack {
            client_id: r.client_id.clone(),
            venue_order_id: "x".into(),
        },
    );
    let other = ClientOrderId::derive("someone-else", 0);
    a.handle(T0 + 10_006, fill("zz", &other, "1", "5", Liquidity::Maker));
    a.handle(
        T0 + 10_007,
        Event::Closed {
            client_id: other,
            filled: Some(d("5")),
        },
    );
    let after = a.report();
    assert_eq!(after.filled, before.filled);
    assert_eq!(after.reanchors, 0);
    assert_eq!(a.working().unwrap().client_id, n.client_id);
    // The working order is the replacement, and the next step replaces it.
    let (old2, _, _) = replace_of(a.poll_action(T0 + 20_000, 1.0));
    assert_eq!(old2, n.client_id);
}

#[test]
fn an_id_already_in_use_is_adopted_from_the_venue() {
    // A restarted run of the same intent derives the same ids; the venue already has the first one.
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    let q = query_of(feed(
        &mut a,
        T0 + 1,
        Event::from_place(&r.client_id, Err(rejected(RejectKind::DuplicateClientId))),
    ));
    assert_eq!(q, r.client_id);
    let earlier = OrderStatus {
        price: d("1.0009"),
        qty: d("500"),
        ..status(&r, "200", OrderState::Open)
    };
    a.handle(T0 + 2, Event::from_query(&q, Ok(Some(earlier))));
    let w = a.working().unwrap();
    assert_eq!(
        (w.client_id, w.price, w.qty, w.filled),
        (r.client_id.clone(), d("1.0009"), d("500"), d("200"))
    );
    // The next step replaces it for everything still to fill.
    let (old, known, n) = replace_of(a.poll_action(T0 + 10_000, 1.0));
    assert_eq!((old, known, n.qty), (r.client_id, d("200"), d("800")));
    assert!(!a.is_ending());
}

#[test]
fn a_fill_naming_only_the_venue_order_id_counts_once_that_id_is_known() {
    let mut a = auction(Side::Sell, "1000");
    let r = place_of(a.poll_action(T0, 1.0));
    let st = status(&r, "100", OrderState::Open);
    let mut f = fill("x", &r.client_id, "1.001", "100", Liquidity::Maker);
    if let Event::Fill(f) = &mut f {
        f.client_id = None;
        f.venue_order_id = st.venue_order_id.clone();
    }
    a.handle(T0 + 1, f.clone());
    assert_eq!(a.filled(), d("0"), "not attributable yet");
    a.handle(T0 + 2, Event::from_place(&r.client_id, Ok(st)));
    assert_eq!(a.filled(), d("100"));
    a.handle(T0 + 3, f);
    assert_eq!(a.filled(), d("100"));
    assert_eq!(a.report().duplicate_fills, 1);
}

#[test]
fn an_order_the_venue_forgets_is_assumed_executed_and_never_placed_twice() {
    let mut a = auction(Side::Sell, "1000");
    let r = started(&mut a);
    a.handle(
        T0 + 1,
        fill("f", &r.client_id, "1.001", "100", Liquidity::Maker),
    );
    // The replace finds the order gone, and the venue no longer knows it.
    let (old, _, n) = replace_of(a.poll_action(T0 + 10_000, 1.0));
    let q = query_of(feed(
        &mut a,
        T0 + 10_001,
        Event::from_replace(&old, &n.client_id, Err(rejected(RejectKind::UnknownOrder))),
    ));
    // A stale duplicate failure is not taken for the answer: the query is asked again.
    assert_eq!(
        feed(
            &mut a,
            T0 + 10_002,
            Event::from_cancel(&q, Err(rejected(RejectKind::UnknownOrder)))
        ),
        None
    );
    let q = query_of(a.poll_action(T0 + 10_300, 1.0));
    a.handle(T0 + 10_301, Event::from_query(&q, Ok(None)));
    // Assumed filled: nothing more is placed, the report says what was seen and what is unconfirmed.
    assert_eq!(a.poll_action(T0 + 10_301, 1.0), None);
    assert!(a.is_done());
    let rep = a.report();
    assert_eq!((rep.filled, rep.unseen_fill_qty), (d("100"), d("900")));
    assert!(a.audit().iter().any(|r| matches!(
        &r.decision,
        Decision::AssumedExecuted { qty, .. } if *qty == d("1000")
    )));
}
