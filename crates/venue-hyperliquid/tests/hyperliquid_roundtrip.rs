//! Round trips between ballast's Hyperliquid client and the local server (in-process, 127.0.0.1:0), on a
//! market where only the test's accounts trade: every fill, hold and rejection below is caused by the test.

mod hyperliquid_support;

use std::sync::Arc;
use std::time::Duration;

use ballast_core::model::Side;
use ballast_exec::{
    ClientOrderId, Clock, Liquidity, ManualClock, OrderState, RejectKind, SystemClock, TimeInForce,
    TransferKind, Venue, VenueError, WithdrawRequest,
};
use ballast_localnet::hyperliquid::Fault;
use ballast_venue_hyperliquid::signing::KeySigner;
use ballast_venue_hyperliquid::wire::{
    Action, Dec, ExchangeRequest, Grouping, LimitWire, OkResponse, OrderAction, OrderTypeWire,
    OrderWire, StatusEntry, Tif,
};
use ballast_venue_hyperliquid::{ClientOptions, HyperliquidClient, Network};
use hyperliquid_support::*;
use rust_decimal::Decimal;

fn kind(e: &VenueError) -> Option<RejectKind> {
    match e {
        VenueError::Rejected { kind, .. } => Some(*kind),
        _ => None,
    }
}

fn balance(bs: &[ballast_exec::Balance], asset: &str) -> (Decimal, Decimal) {
    bs.iter()
        .find(|b| b.asset == asset)
        .map(|b| (b.total, b.held))
        .unwrap_or_default()
}

#[tokio::test]
async fn orders_rest_and_fill_partially_and_completely() {
    let (h, k) = start().await;
    let alice = client(&h, &k.alice);
    let bob = client(&h, &k.bob);

    let ask = bob
        .place(&order(
            Side::Sell,
            "1.0001",
            "100",
            TimeInForce::Gtc,
            "bob-ask",
        ))
        .await
        .unwrap();
    assert_eq!(
        (ask.state.clone(), ask.filled),
        (OrderState::Open, Decimal::ZERO)
    );
    let bid = alice
        .place(&order(
            Side::Buy,
            "0.9995",
            "50",
            TimeInForce::PostOnly,
            "alice-bid",
        ))
        .await
        .unwrap();
    assert_eq!(bid.state, OrderState::Open);
    assert!(
        bid.venue_order_id.parse::<u64>().unwrap() > ask.venue_order_id.parse::<u64>().unwrap()
    );

    // IOC takes 30 of bob's 100.
    let ioc = alice
        .place(&order(
            Side::Buy,
            "1.0001",
            "30",
            TimeInForce::Ioc,
            "alice-ioc",
        ))
        .await
        .unwrap();
    assert_eq!(ioc.state, OrderState::Filled);
    assert_eq!((ioc.filled, ioc.avg_price), (d("30"), Some(d("1.0001"))));

    // GTC for 100 takes the remaining 70 and rests 30: partly filled on entry.
    let gtc = alice
        .place(&order(
            Side::Buy,
            "1.0001",
            "100",
            TimeInForce::Gtc,
            "alice-gtc",
        ))
        .await
        .unwrap();
    assert_eq!(
        (gtc.state.clone(), gtc.filled, gtc.remaining()),
        (OrderState::Open, d("70"), d("30"))
    );

    let bob_ask = bob
        .order_status(MARKET, &ClientOrderId::derive("bob-ask", 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (bob_ask.state, bob_ask.filled),
        (OrderState::Filled, d("100"))
    );

    let fills = alice.fills_since(0).await.unwrap();
    assert_eq!(fills.len(), 2, "{fills:?}");
    assert!(
        fills
            .iter()
            .all(|f| f.liquidity == Liquidity::Taker && f.price == d("1.0001"))
    );
    assert_eq!(fills.iter().map(|f| f.qty).sum::<Decimal>(), d("100"));
    // A buy pays its taker fee in the base it receives.
    assert_eq!(fills[0].fee_asset, "USDT0");
    assert_eq!(fills.iter().map(|f| f.fee).sum::<Decimal>(), d("0.07"));
    assert_eq!(
        fills[0].client_id,
        Some(ClientOrderId::derive("alice-ioc", 0))
    );
    let bob_fills = bob.fills_since(0).await.unwrap();
    assert!(
        bob_fills
            .iter()
            .all(|f| f.liquidity == Liquidity::Maker && f.fee_asset == "USDC")
    );
    assert_eq!(
        bob_fills.iter().map(|f| f.fee).sum::<Decimal>(),
        d("0.040004")
    );

    // Balances: received base minus fees; USDC held by the two resting bids at their limits.
    let b = alice.balances().await.unwrap();
    assert_eq!(balance(&b, "USDT0"), (d("50099.93"), Decimal::ZERO));
    assert_eq!(
        balance(&b, "USDC"),
        (d("100000") - d("100.01"), d("49.975") + d("30.003"))
    );

    let open = alice.open_orders(Some(MARKET)).await.unwrap();
    assert_eq!(open.len(), 2);
    let depth = alice.depth(MARKET, 5).await.unwrap();
    assert_eq!(depth.best_bid(), Some(d("1.0001")));
    assert_eq!(depth.bids[1].qty, d("50"));
    assert!(depth.asks.is_empty());
    h.with_state(|s| {
        let name = s.account_name(&addr(&k.alice)).unwrap();
        let holds = s.engine.sim().holds_recomputed(&name).unwrap();
        assert_eq!(holds.get("USDC").copied(), Some(d("79.978")));
        assert!(s.engine.sim().audit().values().all(|a| a.balanced()));
    });
}

#[tokio::test]
async fn cancels_by_cloid_and_by_oid() {
    let (h, k) = start().await;
    let alice = client(&h, &k.alice);
    let a = alice
        .place(&order(Side::Buy, "0.999", "20", TimeInForce::PostOnly, "a"))
        .await
        .unwrap();
    let b = alice
        .place(&order(Side::Buy, "0.998", "20", TimeInForce::PostOnly, "b"))
        .await
        .unwrap();
    let ca = alice.cancel(MARKET, &a.client_id).await.unwrap();
    assert_eq!((ca.state, ca.filled), (OrderState::Canceled, Decimal::ZERO));
    let cb = alice
        .cancel_by_oid(MARKET, b.venue_order_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(cb.state, OrderState::Canceled);
    assert_eq!(cb.client_id, b.client_id);
    // Cancelling again reports the final state; an id the venue never saw is an unknown order.
    assert_eq!(
        alice.cancel(MARKET, &a.client_id).await.unwrap().state,
        OrderState::Canceled
    );
    let never = ClientOrderId::derive("never", 0);
    assert_eq!(
        kind(&alice.cancel(MARKET, &never).await.unwrap_err()),
        Some(RejectKind::UnknownOrder)
    );
    assert_eq!(alice.order_status(MARKET, &never).await.unwrap(), None);
    assert!(alice.open_orders(None).await.unwrap().is_empty());
    let b = alice.balances().await.unwrap();
    assert_eq!(balance(&b, "USDC").1, Decimal::ZERO, "holds released");
}

#[tokio::test]
async fn replace_modifies_and_reduces_by_fills_the_caller_has_not_seen() {
    let (h, k) = start().await;
    let alice = client(&h, &k.alice);
    let bob = client(&h, &k.bob);
    let first = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "50",
            TimeInForce::PostOnly,
            "c1",
        ))
        .await
        .unwrap();
    let second = alice
        .replace(
            &first.client_id,
            Decimal::ZERO,
            &order(Side::Buy, "0.9993", "50", TimeInForce::PostOnly, "c2"),
        )
        .await
        .unwrap();
    assert_eq!(second.state, OrderState::Open);
    assert_eq!(second.price, d("0.9993"));
    assert!(
        second.venue_order_id.parse::<u64>().unwrap()
            > first.venue_order_id.parse::<u64>().unwrap()
    );
    let old = alice
        .order_status(MARKET, &first.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.state, OrderState::Canceled);

    // Bob takes 20 of c2; alice, not having seen it, replaces c2 by 50 more: the new order is cut to 30.
    let hit = bob
        .place(&order(
            Side::Sell,
            "0.9993",
            "20",
            TimeInForce::Ioc,
            "bob-hit",
        ))
        .await
        .unwrap();
    assert_eq!(hit.filled, d("20"));
    let third = alice
        .replace(
            &second.client_id,
            Decimal::ZERO,
            &order(Side::Buy, "0.9994", "50", TimeInForce::PostOnly, "c3"),
        )
        .await
        .unwrap();
    assert_eq!(
        (third.qty, third.state.clone()),
        (d("30"), OrderState::Open)
    );
    let open = alice.open_orders(Some(MARKET)).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].client_id.clone(), open[0].remaining()),
        (third.client_id.clone(), d("30"))
    );

    // A single `modify` by oid answers `default`; the order keeps its cloid under a new oid.
    let asset = h.with_state(|s| s.engine.markets()[0].asset);
    let modify = Action::Modify(ballast_venue_hyperliquid::wire::ModifyWire {
        oid: ballast_venue_hyperliquid::wire::OidRef::Oid(third.venue_order_id.parse().unwrap()),
        order: OrderWire {
            c: Some((&third.client_id).into()),
            ..match raw_order(asset, true, "0.9991", "30", Tif::Alo) {
                Action::Order(mut o) => o.orders.remove(0),
                _ => unreachable!(),
            }
        },
    });
    assert_eq!(
        alice.send_action(&modify, None).await.unwrap(),
        OkResponse::Default
    );
    let moved = alice
        .order_status(MARKET, &third.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.price, moved.state.clone()),
        (d("0.9991"), OrderState::Open)
    );
    assert_ne!(moved.venue_order_id, third.venue_order_id);
    let e = alice.send_action(&modify, None).await.unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::UnknownOrder), "{e}");

    // The old order is gone: a replace fails as unknown and places nothing.
    let e = alice
        .replace(
            &second.client_id,
            d("20"),
            &order(Side::Buy, "0.9995", "50", TimeInForce::PostOnly, "c4"),
        )
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::UnknownOrder), "{e}");
    assert_eq!(
        alice
            .order_status(MARKET, &ClientOrderId::derive("c4", 0))
            .await
            .unwrap(),
        None
    );

    // When the unseen fills leave less than the minimum to place, the new order is withdrawn and the
    // replace reports that nothing new rests, as the simulator does.
    alice.cancel(MARKET, &third.client_id).await.unwrap();
    let fifth = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "50",
            TimeInForce::PostOnly,
            "c5",
        ))
        .await
        .unwrap();
    bob.place(&order(
        Side::Sell,
        "0.999",
        "45",
        TimeInForce::Ioc,
        "bob-hit-2",
    ))
    .await
    .unwrap();
    let e = alice
        .replace(
            &fifth.client_id,
            Decimal::ZERO,
            &order(Side::Buy, "0.9992", "50", TimeInForce::PostOnly, "c6"),
        )
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::UnknownOrder), "{e}");
    assert!(e.to_string().contains("nothing was left to place"), "{e}");
    assert!(alice.open_orders(None).await.unwrap().is_empty());
    let old = alice
        .order_status(MARKET, &fifth.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((old.filled, old.state), (d("45"), OrderState::Canceled));
}

/// An order action with one limit order, exactly as given.
fn raw_order(a: u32, buy: bool, p: &str, s: &str, tif: Tif) -> Action {
    Action::Order(OrderAction {
        orders: vec![OrderWire {
            a,
            b: buy,
            p: Dec(d(p)),
            s: Dec(d(s)),
            r: false,
            t: OrderTypeWire::Limit(LimitWire { tif }),
            c: None,
        }],
        grouping: Grouping::Na,
        builder: None,
    })
}

fn only_error(r: OkResponse) -> String {
    match r {
        OkResponse::Order(s) => match &s.statuses[..] {
            [StatusEntry::Error(e)] => e.clone(),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rejects_carry_the_venues_reasons() {
    let (h, k) = start().await;
    let alice = client(&h, &k.alice);
    let bob = client(&h, &k.bob);
    let asset = h.with_state(|s| s.engine.markets()[0].asset);

    // The client checks the rules before sending...
    let e = alice
        .place(&order(
            Side::Buy,
            "1.00005",
            "20",
            TimeInForce::PostOnly,
            "six-figures",
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::Rules));
    assert!(e.to_string().contains("not sent"), "{e}");
    let e = alice
        .place(&order(
            Side::Buy,
            "1",
            "9.99",
            TimeInForce::PostOnly,
            "small",
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("minimum value of 10 USDC"), "{e}");
    // ...and the server refuses what slips through, in the venue's words.
    let r = alice
        .send_action(&raw_order(asset, true, "1.00005", "20", Tif::Alo), None)
        .await
        .unwrap();
    assert_eq!(
        only_error(r),
        format!("Order has invalid price. asset={asset}")
    );
    let r = alice
        .send_action(&raw_order(asset, true, "1", "5", Tif::Alo), None)
        .await
        .unwrap();
    assert_eq!(
        only_error(r),
        format!("Order must have minimum value of 10 USDC. asset={asset}")
    );
    let r = alice
        .send_action(&raw_order(asset, true, "1", "10.001", Tif::Alo), None)
        .await
        .unwrap();
    assert_eq!(
        only_error(r),
        format!("Order has invalid size. asset={asset}")
    );

    let e = alice
        .place(&order(
            Side::Sell,
            "1",
            "60000",
            TimeInForce::Gtc,
            "too-much",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::InsufficientBalance { .. }), "{e}");

    bob.place(&order(
        Side::Sell,
        "1.0002",
        "20",
        TimeInForce::Gtc,
        "bob-ask",
    ))
    .await
    .unwrap();
    bob.place(&order(
        Side::Buy,
        "0.9998",
        "20",
        TimeInForce::Gtc,
        "bob-bid",
    ))
    .await
    .unwrap();
    let e = alice
        .place(&order(
            Side::Buy,
            "1.0002",
            "20",
            TimeInForce::PostOnly,
            "alo-cross",
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::PostOnlyWouldCross));
    assert!(
        e.to_string().contains(&format!(
            "Post only order would have immediately matched, bbo was 0.9998@1.0002. asset={asset}"
        )),
        "{e}"
    );
    let e = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::Ioc,
            "ioc-miss",
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(RejectKind::IocNoMatch));
    assert!(
        e.to_string().contains(&format!(
            "Order could not immediately match against any resting orders. asset={asset}"
        )),
        "{e}"
    );
    // The venue's record of the IOC says why it died.
    let s = alice
        .order_status(MARKET, &ClientOrderId::derive("ioc-miss", 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.state, OrderState::Rejected("iocCancelRejected".into()));
}

/// Sign `action` (any JSON, hashed exactly as given) as an L1 action and post it.
async fn post_signed(
    h: &ballast_localnet::hyperliquid::ServerHandle,
    key: &str,
    action: &serde_json::Value,
    nonce: u64,
    network: Network,
) -> serde_json::Value {
    let k = KeySigner::from_hex(key).unwrap();
    let signature = k.sign_l1(action, nonce, None, None, network).unwrap();
    let req = ExchangeRequest {
        action,
        nonce,
        signature,
        vault_address: None,
        expires_after: None,
    };
    let (status, body) = post(h, "/exchange", serde_json::to_string(&req).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn now() -> u64 {
    SystemClock.now_ms() as u64
}

#[tokio::test]
async fn a_price_sent_as_100_0_recovers_another_signer() {
    let (h, k) = start().await;
    let asset = h.with_state(|s| s.engine.markets()[0].asset);
    let action = |p: &str| serde_json::json!({"type":"order","orders":[{"a":asset,"b":true,"p":p,"s":"20","r":false,"t":{"limit":{"tif":"Alo"}}}],"grouping":"na"});
    let r = post_signed(&h, &k.alice, &action("100.0"), now(), Network::Testnet).await;
    assert_eq!(r["status"], "err", "{r}");
    let msg = r["response"].as_str().unwrap();
    let alice = format!("{:#x}", addr(&k.alice));
    assert!(
        msg.starts_with("User or API Wallet 0x") && msg.ends_with(" does not exist."),
        "{msg}"
    );
    assert!(
        !msg.contains(&alice),
        "the server recovered somebody else: {msg}"
    );
    // The canonical form of the same order is alice's.
    let r = post_signed(&h, &k.alice, &action("100"), now(), Network::Testnet).await;
    assert_eq!(r["status"], "ok", "{r}");
    assert!(
        r["response"]["data"]["statuses"][0]["resting"]["oid"].is_u64(),
        "{r}"
    );
}

#[tokio::test]
async fn a_reused_nonce_is_rejected() {
    let (h, k) = start().await;
    let noop = serde_json::json!({"type":"noop"});
    let n = now();
    let r = post_signed(&h, &k.alice, &noop, n, Network::Testnet).await;
    assert_eq!(
        r,
        serde_json::json!({"status":"ok","response":{"type":"default"}})
    );
    let r = post_signed(&h, &k.alice, &noop, n, Network::Testnet).await;
    assert_eq!(r["response"], format!("Invalid nonce: duplicate nonce {n}"));
    // Outside the (now - 2 days, now + 1 day) window.
    let r = post_signed(&h, &k.alice, &noop, n - 3 * 86_400_000, Network::Testnet).await;
    assert!(
        r["response"].as_str().unwrap().contains("Invalid nonce"),
        "{r}"
    );
    // A client maps it to an error that says the request did not happen.
    let e = ballast_venue_hyperliquid::errors::map_error("hl", r["response"].as_str().unwrap());
    assert!(matches!(e, VenueError::Auth { .. }), "{e}");
}

#[tokio::test]
async fn an_agent_signs_for_its_master_and_reads_with_the_master_address() {
    let (h, k) = start().await;
    let mut o = options(&h, Network::Testnet);
    o.agent = true;
    o.account = Some(addr(&k.alice));
    let agent = HyperliquidClient::new(
        "hl",
        o.clone(),
        Some(KeySigner::from_hex(&k.agent).unwrap()),
    )
    .unwrap();
    let placed = agent
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "by-agent",
        ))
        .await
        .unwrap();
    let alice = client(&h, &k.alice);
    let open = alice.open_orders(None).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_id, placed.client_id);
    assert_eq!(
        balance(&agent.balances().await.unwrap(), "USDC").1,
        d("19.98")
    );
    // Funds never move on an agent's signature: the client refuses, and so does the server.
    let e = agent.usd_class_transfer(d("1"), true).await.unwrap_err();
    assert!(matches!(e, VenueError::Auth { .. }), "{e}");
    let mut not_agent = o.clone();
    not_agent.agent = false;
    let disguised = HyperliquidClient::new(
        "hl",
        not_agent,
        Some(KeySigner::from_hex(&k.agent).unwrap()),
    )
    .unwrap();
    let e = disguised
        .usd_class_transfer(d("1"), true)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("cannot sign usdClassTransfer"),
        "{e}"
    );

    // An unapproved key is an unknown signer, with a hint; approving it over the wire lets it trade.
    let fresh = new_key();
    let stranger =
        HyperliquidClient::new("hl", o.clone(), Some(KeySigner::from_hex(&fresh).unwrap()))
            .unwrap();
    let e = stranger
        .place(&order(
            Side::Buy,
            "0.998",
            "20",
            TimeInForce::PostOnly,
            "stranger",
        ))
        .await
        .unwrap_err();
    match &e {
        VenueError::Auth { reason, .. } => {
            assert!(reason.contains(&format!("{:#x}", addr(&fresh))), "{reason}");
            assert!(
                reason.contains("agent") && reason.contains("network"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    alice
        .approve_agent(addr(&fresh), Some("bot"))
        .await
        .unwrap();
    stranger
        .place(&order(
            Side::Buy,
            "0.998",
            "20",
            TimeInForce::PostOnly,
            "stranger-2",
        ))
        .await
        .unwrap();
    assert_eq!(alice.open_orders(None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_mainnet_server_refuses_testnet_signatures() {
    let k = Keys::new();
    let h = start_server("mainnet", &k, "", None).await;
    let testnet = client(&h, &k.alice);
    let e = testnet
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "wrong-net",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::Auth { .. }), "{e}");
    let mainnet = HyperliquidClient::new(
        "hl",
        options(&h, Network::Mainnet),
        Some(KeySigner::from_hex(&k.alice).unwrap()),
    )
    .unwrap();
    mainnet
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "right-net",
        ))
        .await
        .unwrap();
    // User-signed actions name the chain: a testnet transfer is refused by a mainnet server.
    let e = testnet.usd_class_transfer(d("1"), true).await.unwrap_err();
    assert!(e.to_string().contains("hyperliquidChain"), "{e}");
    mainnet.usd_class_transfer(d("1"), true).await.unwrap();
}

#[tokio::test]
async fn malformed_bodies_get_422() {
    let (h, _) = start().await;
    for (path, body) in [
        ("/exchange", "{not json"),
        (
            "/exchange",
            r#"{"action":{"type":"bogus"},"nonce":1,"signature":{"r":"0x1","s":"0x1","v":27}}"#,
        ),
        (
            "/exchange",
            r#"{"action":{"type":"order","orders":[{"a":10000,"b":true,"p":1,"s":"20","r":false,"t":{"limit":{"tif":"Alo"}}}],"grouping":"na"},"nonce":1,"signature":{"r":"0x1","s":"0x1","v":27}}"#,
        ),
        ("/exchange", r#"{"action":{"type":"noop"},"nonce":1}"#),
        ("/info", r#"{"type":"nope"}"#),
        ("/info", r#"{"type":"orderStatus","user":"0x12","oid":1}"#),
    ] {
        let (status, text) = post(&h, path, body.to_string()).await;
        assert_eq!(status, 422, "{body}: {text}");
        assert!(
            text.starts_with("Failed to deserialize the JSON body into the target type"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn lost_answers_are_resolved_by_cloid_without_a_second_order() {
    let (h, k) = start().await;
    let alice = client(&h, &k.alice);
    let count = |h: &ballast_localnet::hyperliquid::ServerHandle| {
        h.with_state(|s| {
            let n = s.account_name(&addr(&k.alice)).unwrap();
            s.engine.sim().orders_since(&n, None, 0).unwrap().len()
        })
    };

    // Executed, answer lost: found by cloid.
    h.inject(Fault::LoseResponse);
    let a = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "lost-answer",
        ))
        .await
        .unwrap();
    assert_eq!(a.state, OrderState::Open);
    assert_eq!(count(&h), 1);
    // Placing the same client id again places nothing.
    let again = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "lost-answer",
        ))
        .await
        .unwrap();
    assert_eq!(again.venue_order_id, a.venue_order_id);
    assert_eq!(count(&h), 1);

    // Executed, then a 502.
    h.inject(Fault::ServerError);
    alice
        .place(&order(
            Side::Buy,
            "0.998",
            "20",
            TimeInForce::PostOnly,
            "bad-gateway",
        ))
        .await
        .unwrap();
    assert_eq!(count(&h), 2);

    // Lost before it reached the venue: absent after its expiry, so it is sent again, once.
    h.inject(Fault::LoseRequest);
    let t0 = std::time::Instant::now();
    let c = alice
        .place(&order(
            Side::Buy,
            "0.997",
            "20",
            TimeInForce::PostOnly,
            "lost-request",
        ))
        .await
        .unwrap();
    assert_eq!(c.state, OrderState::Open);
    assert!(
        t0.elapsed() >= Duration::from_secs(3),
        "waited for the expiry"
    );
    assert_eq!(count(&h), 3);
    assert_eq!(alice.open_orders(None).await.unwrap().len(), 3);

    // A cancel whose answer is lost is looked up and reported.
    h.inject(Fault::LoseResponse);
    let cancelled = alice.cancel(MARKET, &a.client_id).await.unwrap();
    assert_eq!(cancelled.state, OrderState::Canceled);
}

#[tokio::test]
async fn the_dead_man_switch_cancels_open_orders() {
    let k = Keys::new();
    let clock = ManualClock::new(SystemClock.now_ms());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let h = start_server("testnet", &k, "", Some(shared.clone())).await;
    let alice = client(&h, &k.alice).with_clock(shared);
    let o = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "dms",
        ))
        .await
        .unwrap();
    let e = alice
        .schedule_cancel(Some(clock.now_ms() + 3_000))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 5 seconds"), "{e}");
    alice
        .schedule_cancel(Some(clock.now_ms() + 10_000))
        .await
        .unwrap();
    clock.advance(9_000);
    assert_eq!(alice.open_orders(None).await.unwrap().len(), 1);
    clock.advance(2_000);
    assert!(alice.open_orders(None).await.unwrap().is_empty());
    let s = alice
        .order_status(MARKET, &o.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.state, OrderState::Canceled);
    // Disarmed, it does nothing.
    alice
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "dms-2",
        ))
        .await
        .unwrap();
    alice
        .schedule_cancel(Some(clock.now_ms() + 6_000))
        .await
        .unwrap();
    alice.schedule_cancel(None).await.unwrap();
    clock.advance(60_000);
    assert_eq!(alice.open_orders(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn funds_move_between_accounts_balances_and_out() {
    let (h, k) = start().await;
    let alice = client(&h, &k.alice);
    let bob = client(&h, &k.bob);
    let (a_addr, b_addr) = (addr(&k.alice), addr(&k.bob));

    alice.spot_send(b_addr, "USDC", d("100")).await.unwrap();
    assert_eq!(
        balance(&bob.balances().await.unwrap(), "USDC").0,
        d("100100")
    );
    alice.usd_class_transfer(d("50"), true).await.unwrap();
    assert_eq!(alice.withdrawable().await.unwrap(), d("550"));
    assert_eq!(
        balance(&alice.balances().await.unwrap(), "USDC").0,
        d("99850")
    );

    // Only to allowed addresses (by default the account's own), and never sent otherwise.
    let req = |address: String, amount: &str| WithdrawRequest {
        asset: "USDC".into(),
        network: "ARBITRUM".into(),
        address,
        amount: d(amount),
        client_id: "w1".into(),
    };
    let e = alice
        .withdraw(&req(format!("{b_addr:#x}"), "10"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    assert!(h.withdrawals().is_empty());
    // 600 > 550 withdrawable: the shortfall moves from spot first.
    let id = alice
        .withdraw(&req(format!("{a_addr:#x}"), "600"))
        .await
        .unwrap();
    let w = h.withdrawals();
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].destination, w[0].amount, w[0].fee),
        (a_addr, d("600"), d("1"))
    );
    assert_eq!(id, format!("withdraw3:{}", w[0].nonce));
    assert_eq!(alice.withdrawable().await.unwrap(), Decimal::ZERO);
    assert_eq!(
        balance(&alice.balances().await.unwrap(), "USDC").0,
        d("99800")
    );

    // A bridge deposit credits the sender.
    h.deposit(a_addr, d("25"));
    let t = alice.transfers_since(0).await.unwrap();
    let kinds: Vec<_> = t.iter().map(|x| (x.kind, x.amount)).collect();
    // The class transfers show too: the one above and the withdrawal's shortfall, both spot -> perp.
    assert_eq!(
        kinds,
        vec![
            (TransferKind::ToFunding, d("50")),
            (TransferKind::ToFunding, d("50")),
            (TransferKind::Withdrawal, d("600")),
            (TransferKind::Deposit, d("25"))
        ]
    );
    assert_eq!(t[2].id, id);
    assert_eq!(t[2].fee, d("1"));
    assert_eq!(
        alice.deposit_address("USDC", "ARBITRUM").await.unwrap(),
        "0x08cfc1b6b2dcf36a1480b99353a354aa8ac56f89"
    );
    assert!(alice.deposit_address("USDT0", "ARBITRUM").await.is_err());
}

#[tokio::test]
async fn rate_limits_are_modelled_by_the_client_and_enforced_by_the_server() {
    let k = Keys::new();
    let h = start_server("testnet", &k, "ip_weight_per_minute = 100", None).await;
    let alice = client(&h, &k.alice);
    // spotMeta (20) + 40 l2Book (2 each) = 100: the next one is over the server's budget.
    for _ in 0..40 {
        alice.depth(MARKET, 5).await.unwrap();
    }
    let e = alice.depth(MARKET, 5).await.unwrap_err();
    assert!(matches!(e, VenueError::RateLimited { .. }), "{e}");

    // The client's own model stops before sending.
    let h2 = start_server("testnet", &k, "ip_weight_per_minute = 0", None).await;
    let mut o = options(&h2, Network::Testnet);
    o.ip_weight_per_minute = 30;
    let careful =
        HyperliquidClient::new("hl", o, Some(KeySigner::from_hex(&k.alice).unwrap())).unwrap();
    for _ in 0..5 {
        careful.depth(MARKET, 5).await.unwrap();
    }
    assert!(careful.headroom().fraction < 1e-9);
    let e = careful.depth(MARKET, 5).await.unwrap_err();
    match e {
        VenueError::RateLimited { retry_after_ms, .. } => assert!(retry_after_ms.unwrap() > 50_000),
        other => panic!("{other:?}"),
    }

    // The address budget is read from userRateLimit and counts batch lengths.
    let alice2 = client(&h2, &k.alice);
    alice2
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "rl-1",
        ))
        .await
        .unwrap();
    let r = alice2.user_rate_limit().await.unwrap();
    assert_eq!((r.n_requests_used, r.n_requests_cap), (1, 10_000));
    // The IP weight is the tighter budget here: spotMeta and userRateLimit (20 each, twice for the latter),
    // one action, one orderStatus follow-up is not made for an ALO.
    let f = alice2.headroom().fraction;
    assert!((1.0 - 61.0 / 1200.0 - f).abs() < 1e-9, "{f}");
}

#[tokio::test]
async fn concurrent_tasks_never_share_a_nonce() {
    let (h, k) = start().await;
    let a = Arc::new(client(&h, &k.alice));
    let b = Arc::new(client(&h, &k.alice));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let c = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let price = format!("0.99{:02}", 10 + i);
            c.place(&order(
                Side::Buy,
                &price,
                "20",
                TimeInForce::PostOnly,
                &format!("n{i}"),
            ))
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(a.open_orders(None).await.unwrap().len(), 16);
}

#[tokio::test]
async fn a_sub_account_trades_through_the_vault_address() {
    let (h, k) = start().await;
    let mut o = options(&h, Network::Testnet);
    o.vault_address = Some(k.desk);
    let desk =
        HyperliquidClient::new("hl", o, Some(KeySigner::from_hex(&k.alice).unwrap())).unwrap();
    assert_eq!(desk.account(), k.desk);
    desk.place(&order(
        Side::Buy,
        "0.999",
        "20",
        TimeInForce::PostOnly,
        "desk",
    ))
    .await
    .unwrap();
    assert_eq!(desk.open_orders(None).await.unwrap().len(), 1);
    assert!(
        client(&h, &k.alice)
            .open_orders(None)
            .await
            .unwrap()
            .is_empty()
    );
    // Bob cannot act for alice's sub-account.
    let mut o = options(&h, Network::Testnet);
    o.vault_address = Some(k.desk);
    let bob_desk =
        HyperliquidClient::new("hl", o, Some(KeySigner::from_hex(&k.bob).unwrap())).unwrap();
    let e = bob_desk
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "bob-desk",
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Vault not registered"), "{e}");
}

#[tokio::test]
async fn markets_come_from_spot_meta_with_the_venue_rules() {
    let k = Keys::new();
    let h = start_server(
        "testnet",
        &k,
        "pair_index = { \"USDT0/USDC\" = 166 }\ntoken_index = { USDT0 = 268 }",
        None,
    )
    .await;
    let alice = client(&h, &k.alice);
    let m = alice.markets().await.unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].market, MARKET);
    assert_eq!(m[0].lot, d("0.01"));
    assert_eq!(
        m[0].grid,
        ballast_exec::PriceGrid::SigFigs {
            sig_figs: 5,
            max_decimals: 6
        }
    );
    let u = alice.universe().await.unwrap();
    let info = u.get(MARKET).unwrap();
    assert_eq!((info.coin.as_str(), info.asset), ("@166", 10166));
    let o = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "ids",
        ))
        .await
        .unwrap();
    assert_eq!(o.market, MARKET);
    // Raw /info shapes: numbers as strings, ids and times as numbers.
    let (_, body) = post(
        &h,
        "/info",
        format!(r#"{{"type":"openOrders","user":"{:#x}"}}"#, addr(&k.alice)),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["coin"], "@166");
    assert_eq!(v[0]["limitPx"], "0.999");
    assert_eq!(v[0]["sz"], "20");
    assert_eq!(v[0]["side"], "B");
    assert!(v[0]["oid"].is_u64() && v[0]["timestamp"].is_i64());
    assert_eq!(v[0]["cloid"], ClientOrderId::derive("ids", 0).to_cloid());
    let (_, body) = post(&h, "/info", r#"{"type":"allMids"}"#.into()).await;
    assert_eq!(body, "{}", "one-sided book: no mid yet");
    let (_, body) = post(&h, "/info", r#"{"type":"meta"}"#.into()).await;
    assert!(body.contains("\"universe\":[]"), "{body}");
    let _ = ClientOptions::new(Network::Mainnet);
}

#[tokio::test]
async fn a_fast_local_clock_never_concludes_that_a_lost_order_was_not_placed() {
    // Our clock runs 20 s ahead of the venue's: by our clock the order's expiry passes long before the
    // venue's does, when the request could still execute. Only the venue's clock may settle it.
    let (h, k) = start().await;
    let ahead: Arc<dyn Clock> = Arc::new(ballast_exec::clock::TokioClock::new(
        SystemClock.now_ms() + 20_000,
    ));
    let mut o = options(&h, Network::Testnet);
    o.request_timeout = Duration::from_secs(1);
    let alice = HyperliquidClient::new("hl", o, Some(KeySigner::from_hex(&k.alice).unwrap()))
        .unwrap()
        .with_clock(ahead);
    h.inject(Fault::LoseRequest);
    let e = alice
        .place(&order(
            Side::Buy,
            "0.999",
            "20",
            TimeInForce::PostOnly,
            "skewed",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, VenueError::UnknownOutcome { .. }), "{e}");
    assert!(!e.did_not_happen());
    assert!(alice.open_orders(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_withdrawal_retried_after_a_lost_answer_is_not_sent_twice() {
    let k = Keys::new();
    let clock = ManualClock::new(SystemClock.now_ms());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let h = start_server("testnet", &k, "", Some(shared.clone())).await;
    let alice = client(&h, &k.alice).with_clock(shared);
    let req = |client_id: &str| WithdrawRequest {
        asset: "USDC".into(),
        network: "ARBITRUM".into(),
        address: format!("{:#x}", addr(&k.alice)),
        amount: d("100"),
        client_id: client_id.into(),
    };
    // Executed, answer lost: the retry finds it in the ledger.
    h.inject(Fault::LoseResponse);
    let e = alice.withdraw(&req("w-1")).await.unwrap_err();
    assert!(matches!(e, VenueError::UnknownOutcome { .. }), "{e}");
    let id = alice.withdraw(&req("w-1")).await.unwrap();
    assert_eq!(h.withdrawals().len(), 1);
    assert_eq!(id, format!("withdraw3:{}", h.withdrawals()[0].nonce));
    assert_eq!(alice.withdraw(&req("w-1")).await.unwrap(), id);
    assert_eq!(h.withdrawals().len(), 1);

    // Lost on the way: not in the ledger, so not resent until it has had time to arrive.
    h.inject(Fault::LoseRequest);
    assert!(alice.withdraw(&req("w-2")).await.is_err());
    let e = alice.withdraw(&req("w-2")).await.unwrap_err();
    assert!(e.to_string().contains("not in the ledger yet"), "{e}");
    assert_eq!(h.withdrawals().len(), 1);
    clock.advance(61_000);
    alice.withdraw(&req("w-2")).await.unwrap();
    assert_eq!(h.withdrawals().len(), 2);
    assert_eq!(alice.withdrawable().await.unwrap(), d("300"));
}
