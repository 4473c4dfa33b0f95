//! Round trips between the Binance client and the local Binance server: market data, orders, cancel-replace,
//! fills, and every error the venue answers with (filters, balance, unknown order, signature, keys).

mod binance_common;

use ballast_core::model::Side;
use ballast_exec::{
    ClientOrderId, Liquidity, OrderState, PriceGrid, RejectKind, TimeInForce, Venue, VenueError,
};
use ballast_venue_binance::signing::{Params, Signer};
use ballast_venue_binance::{BinanceClient, Credentials};
use binance_common::*;
use reqwest::Method;
use rust_decimal::Decimal;

#[tokio::test]
async fn market_data_rules_and_balances() {
    let server = start("").await;
    let c = alice(&server);
    let offset = c.sync_time().await.unwrap();
    assert!(offset.abs() < 1000, "offset {offset}");
    let markets = c.markets().await.unwrap();
    assert_eq!(markets.len(), 1);
    let m = &markets[0];
    assert_eq!(m.market, "USDCUSDT");
    assert_eq!((m.base.as_str(), m.quote.as_str()), ("USDC", "USDT"));
    assert_eq!(m.grid, PriceGrid::Tick { tick: d("0.0001") });
    assert_eq!((m.lot, m.min_qty, m.min_notional), (d("1"), d("1"), d("5")));
    assert_eq!((m.maker_fee, m.taker_fee), (d("0"), d("0.0001")));

    let bals = c.balances().await.unwrap();
    let usdc = bals.iter().find(|b| b.asset == "USDC").unwrap();
    assert_eq!((usdc.total, usdc.held), (d("100000"), d("0")));

    // Bob quotes both sides; alice sees them in the depth, best first.
    let b = bob(&server);
    for (i, (side, px)) in [
        (Side::Buy, "0.9998"),
        (Side::Buy, "0.9999"),
        (Side::Sell, "1.0001"),
        (Side::Sell, "1.0003"),
    ]
    .into_iter()
    .enumerate()
    {
        b.place(&order(
            &format!("bob-q{i}"),
            side,
            px,
            "1000",
            TimeInForce::Gtc,
        ))
        .await
        .unwrap();
    }
    let depth = c.depth("USDCUSDT", 5).await.unwrap();
    assert_eq!(depth.best_bid(), Some(d("0.9999")));
    assert_eq!(depth.best_ask(), Some(d("1.0001")));
    assert_eq!(depth.bids.len(), 2);
    assert_eq!(depth.asks[1].price, d("1.0003"));
    assert_eq!(depth.asks[1].qty, d("1000"));
    // The wire keeps Binance's fixed decimals.
    let (status, v, headers) = raw(
        &server,
        Method::GET,
        "/api/v3/depth",
        Params::new().with("symbol", "USDCUSDT").with("limit", 5),
        "",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["bids"][0][0], "0.99990000");
    assert!(headers.get("x-mbx-used-weight-1m").is_some());
    assert!(c.headroom().fraction > 0.9);
}

#[tokio::test]
async fn orders_rest_fill_and_cancel() {
    let server = start("").await;
    let c = alice(&server);
    let b = bob(&server);

    // A resting GTC buy holds quote.
    let o = order("alice-1", Side::Buy, "0.9995", "1000", TimeInForce::Gtc);
    let s = c.place(&o).await.unwrap();
    assert_eq!(s.state, OrderState::Open);
    assert_eq!(s.client_id, o.client_id);
    assert_eq!((s.qty, s.filled, s.price), (d("1000"), d("0"), d("0.9995")));
    let usdt = balance(&c, "USDT").await;
    assert_eq!(usdt.held, d("999.5"));

    let open = c.open_orders(Some("USDCUSDT")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_id, o.client_id);
    assert_eq!(c.open_orders(None).await.unwrap().len(), 1);

    // Bob sells 400 into it: alice is maker, bob taker.
    let t0 = server.now_ms();
    let sell = b
        .place(&order(
            "bob-1",
            Side::Sell,
            "0.9995",
            "400",
            TimeInForce::Ioc,
        ))
        .await
        .unwrap();
    assert_eq!(sell.filled, d("400"));
    assert_eq!(sell.state, OrderState::Filled);
    let st = c
        .order_status("USDCUSDT", &o.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((st.filled, st.state.clone()), (d("400"), OrderState::Open));
    assert_eq!(st.avg_price, Some(d("0.9995")));
    let fills = c.fills_since(t0).await.unwrap();
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(f.client_id.as_ref(), Some(&o.client_id));
    assert_eq!((f.side, f.liquidity), (Side::Buy, Liquidity::Maker));
    assert_eq!((f.price, f.qty), (d("0.9995"), d("400")));
    assert_eq!((f.fee, f.fee_asset.as_str()), (d("0"), "USDC"));
    let bob_fill = &b.fills_since(t0).await.unwrap()[0];
    assert_eq!(bob_fill.liquidity, Liquidity::Taker);
    // Taker fee 1 bp of the quote received.
    assert_eq!(
        (bob_fill.fee, bob_fill.fee_asset.as_str()),
        (d("0.03998"), "USDT")
    );

    // Cancel: the final state keeps what filled; a second cancel reports the same final state.
    let x = c.cancel("USDCUSDT", &o.client_id).await.unwrap();
    assert_eq!(
        (x.state.clone(), x.filled),
        (OrderState::Canceled, d("400"))
    );
    let again = c.cancel("USDCUSDT", &o.client_id).await.unwrap();
    assert_eq!(again.state, OrderState::Canceled);
    assert!(c.open_orders(Some("USDCUSDT")).await.unwrap().is_empty());
    let usdt = balance(&c, "USDT").await;
    assert_eq!(usdt.held, d("0"));
    assert_eq!(usdt.total, d("100000") - d("399.8"));

    // Unknown orders.
    let ghost = ClientOrderId::derive("never", 0);
    assert_eq!(c.order_status("USDCUSDT", &ghost).await.unwrap(), None);
    let (code, reason) = rejected(c.cancel("USDCUSDT", &ghost).await, RejectKind::UnknownOrder);
    assert_eq!(code.as_deref(), Some("-2011"));
    assert_eq!(reason, "Unknown order sent.");

    // An IOC that finds nothing is accepted and expires.
    let ioc = c
        .place(&order(
            "alice-ioc",
            Side::Buy,
            "0.9000",
            "100",
            TimeInForce::Ioc,
        ))
        .await
        .unwrap();
    assert_eq!((ioc.state, ioc.filled), (OrderState::Canceled, d("0")));
    let (_, v, _) = alice_raw(
        &server,
        Method::GET,
        "/api/v3/order",
        Params::new()
            .with("symbol", "USDCUSDT")
            .with("origClientOrderId", ClientOrderId::derive("alice-ioc", 0)),
    )
    .await;
    assert_eq!(v["status"], "EXPIRED");
}

#[tokio::test]
async fn post_only_cross_and_insufficient_balance() {
    let server = start("").await;
    let c = alice(&server);
    bob_rests(&server, "bob-ask", Side::Sell, "1.0001", "1000").await;
    let (code, reason) = rejected(
        c.place(&order(
            "alice-po",
            Side::Buy,
            "1.0001",
            "100",
            TimeInForce::PostOnly,
        ))
        .await,
        RejectKind::PostOnlyWouldCross,
    );
    assert_eq!(code.as_deref(), Some("-2010"));
    assert_eq!(reason, "Order would immediately match and take.");
    // One tick lower it rests.
    let ok = c
        .place(&order(
            "alice-po2",
            Side::Buy,
            "1.0000",
            "100",
            TimeInForce::PostOnly,
        ))
        .await
        .unwrap();
    assert_eq!(ok.state, OrderState::Open);
    // More than alice holds.
    match c
        .place(&order(
            "alice-big",
            Side::Sell,
            "1.0005",
            "200000",
            TimeInForce::Gtc,
        ))
        .await
    {
        Err(VenueError::InsufficientBalance { reason, .. }) => {
            assert!(reason.contains("Account has insufficient balance for requested action."));
            assert!(reason.contains("-2010"));
        }
        other => panic!("{other:?}"),
    }
    // Duplicate client id of an open order.
    let (status, v, _) = alice_raw(
        &server,
        Method::POST,
        "/api/v3/order",
        limit_params("USDCUSDT", "BUY", "LIMIT_MAKER", None, "100", "0.9990")
            .with("newClientOrderId", ClientOrderId::derive("alice-po2", 0)),
    )
    .await;
    assert_eq!(
        (status, code_msg(&v)),
        (400, (-2010, "Duplicate order sent.".to_string()))
    );
}

#[tokio::test]
async fn filters_are_checked_by_the_client_and_by_the_server() {
    let server = start("").await;
    let c = alice(&server);
    // Resting orders so the book has a reference price for PERCENT_PRICE_BY_SIDE.
    bob_rests(&server, "bob-ref", Side::Sell, "1.0001", "100").await;
    bob_rests(&server, "bob-ref2", Side::Buy, "0.9999", "100").await;
    // Client side: refused before sending, with the venue's code.
    let before = server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/order")
        .count();
    for (px, qty, filter) in [
        ("1.00005", "100", "PRICE_FILTER"),
        ("1.0000", "10.5", "LOT_SIZE"),
        ("1.0000", "4", "NOTIONAL"),
        ("6.0000", "100", "PERCENT_PRICE_BY_SIDE"),
    ] {
        let (code, reason) = rejected(
            c.place(&order("f", Side::Buy, px, qty, TimeInForce::Gtc))
                .await,
            RejectKind::Rules,
        );
        assert_eq!(code.as_deref(), Some("-1013"), "{px} {qty}");
        assert!(
            reason.starts_with(&format!("Filter failure: {filter}")),
            "{reason}"
        );
    }
    let after = server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/order")
        .count();
    assert_eq!(before, after, "nothing reached the server");

    // Server side: the same orders sent raw get the venue's answers, and so do malformed requests.
    let lim = |px: &str, qty: &str| limit_params("USDCUSDT", "BUY", "LIMIT", Some("GTC"), qty, px);
    let cases = [
        (lim("1.00005", "100"), -1013, "Filter failure: PRICE_FILTER"),
        (lim("1000.1", "100"), -1013, "Filter failure: PRICE_FILTER"),
        (lim("1.0000", "10.5"), -1013, "Filter failure: LOT_SIZE"),
        (lim("1.0000", "4"), -1013, "Filter failure: NOTIONAL"),
        (
            lim("6.0000", "100"),
            -1013,
            "Filter failure: PERCENT_PRICE_BY_SIDE",
        ),
        (
            lim("1.000000001", "100"),
            -1111,
            "Parameter 'price' has too much precision.",
        ),
        (
            limit_params("USDCUSDT", "BUY", "LIMIT", None, "100", "1"),
            -1102,
            "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
        ),
        (
            limit_params(
                "USDCUSDT",
                "BUY",
                "LIMIT_MAKER",
                Some("GTC"),
                "100",
                "0.9990",
            ),
            -1106,
            "Parameter 'timeInForce' sent when not required.",
        ),
        (
            limit_params("BTCUSDT", "BUY", "LIMIT", Some("GTC"), "1", "1"),
            -1121,
            "Invalid symbol.",
        ),
    ];
    for (params, code, msg) in cases {
        let (status, v, _) = alice_raw(&server, Method::POST, "/api/v3/order", params).await;
        assert_eq!((status, code_msg(&v)), (400, (code, msg.to_string())));
    }
    let by_id = || {
        Params::new()
            .with("symbol", "USDCUSDT")
            .with("orderId", 999_999)
    };
    for (m, code, msg) in [
        (Method::GET, -2013, "Order does not exist."),
        (Method::DELETE, -2011, "Unknown order sent."),
    ] {
        let (_, v, _) = alice_raw(&server, m, "/api/v3/order", by_id()).await;
        assert_eq!(code_msg(&v), (code, msg.to_string()));
    }
}

#[tokio::test]
async fn bad_keys_and_signatures_are_auth_errors() {
    let server = start("").await;
    // Wrong secret for a real key.
    let wrong = client_with(&server, ALICE_KEY, "not-the-secret");
    match wrong.balances().await {
        Err(VenueError::Auth { reason, .. }) => {
            assert!(
                reason.contains("Signature for this request is not valid. (code -1022)"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A key the server does not know.
    let unknown = client_with(
        &server,
        "someOtherKey000000000000000000000000000000000000000000000000000",
        ALICE_SECRET,
    );
    match unknown.balances().await {
        Err(VenueError::Auth { reason, .. }) => assert!(reason.contains("-2015"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A malformed key, and none at all.
    let (status, v, _) = raw(
        &server,
        Method::GET,
        "/api/v3/account",
        Params::new(),
        "bad key!",
        Some(&Signer::hmac(ALICE_SECRET)),
        None,
    )
    .await;
    assert_eq!(
        (status, code_msg(&v)),
        (401, (-2014, "API-key format invalid.".to_string()))
    );
    let (status, _, _) = raw(
        &server,
        Method::GET,
        "/api/v3/account",
        Params::new(),
        "",
        Some(&Signer::hmac(ALICE_SECRET)),
        None,
    )
    .await;
    assert_eq!(status, 401);
    // The signature covers query + body: move one byte and it fails.
    let http = reqwest::Client::new();
    let ts = server.now_ms();
    let p = Params::new()
        .with("omitZeroBalances", "true")
        .with("timestamp", ts);
    let signed = p.signed(&Signer::hmac(ALICE_SECRET));
    let tampered = signed.replace("omitZeroBalances=true", "omitZeroBalances=false");
    for (q, ok) in [(signed.as_str(), true), (tampered.as_str(), false)] {
        let r = http
            .get(format!("{}/api/v3/account?{q}", server.url()))
            .header("X-MBX-APIKEY", ALICE_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().is_success(), ok, "{q}");
    }
    // Split between query and body (POST), signed over the concatenation: accepted.
    let q = Params::new()
        .with("symbol", "USDCUSDT")
        .with("side", "BUY")
        .with("type", "LIMIT");
    let b = Params::new()
        .with("timeInForce", "GTC")
        .with("quantity", "10")
        .with("price", "0.9000")
        .with("timestamp", server.now_ms());
    let (query, body) =
        ballast_venue_binance::signing::sign_split(q, b, &Signer::hmac(ALICE_SECRET));
    let r = http
        .post(format!("{}/api/v3/order?{query}", server.url()))
        .header("X-MBX-APIKEY", ALICE_KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn ed25519_keys_trade() {
    let server = start("").await;
    let c = BinanceClient::new(
        "binance",
        settings(&server),
        Some(Credentials::new(
            ED_KEY,
            Signer::ed25519_from_pem(ED_PRIVATE_PEM).unwrap(),
        )),
    )
    .unwrap();
    let s = c
        .place(&order("ed-1", Side::Buy, "0.9990", "100", TimeInForce::Gtc))
        .await
        .unwrap();
    assert_eq!(s.state, OrderState::Open);
    let usdt = balance(&c, "USDT").await;
    assert_eq!(usdt.held, d("99.9"));
    // An HMAC signature on an Ed25519 key is refused.
    let (_, v, _) = raw(
        &server,
        Method::GET,
        "/api/v3/account",
        Params::new(),
        ED_KEY,
        Some(&Signer::hmac("x")),
        None,
    )
    .await;
    assert_eq!(code_msg(&v).0, -1022);
}

#[tokio::test]
async fn cancel_replace_moves_the_order_and_reports_partial_failure() {
    let server = start("").await;
    let c = alice(&server);
    let b = bob(&server);
    let first = order(
        "alice-cr",
        Side::Sell,
        "1.0005",
        "1000",
        TimeInForce::PostOnly,
    );
    c.place(&first).await.unwrap();

    // Success: the old order is cancelled, the new one rests at the new price.
    let second = order(
        "alice-cr-2",
        Side::Sell,
        "1.0004",
        "1000",
        TimeInForce::PostOnly,
    );
    let s = c
        .replace(&first.client_id, Decimal::ZERO, &second)
        .await
        .unwrap();
    assert_eq!(
        (s.state.clone(), s.price, s.client_id.clone()),
        (OrderState::Open, d("1.0004"), second.client_id.clone())
    );
    let old = c
        .order_status("USDCUSDT", &first.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.state, OrderState::Canceled);

    // The old order is gone (filled): -2022, nothing placed.
    b.place(&order(
        "bob-take",
        Side::Buy,
        "1.0004",
        "1000",
        TimeInForce::Ioc,
    ))
    .await
    .unwrap();
    let third = order(
        "alice-cr-3",
        Side::Sell,
        "1.0003",
        "1000",
        TimeInForce::PostOnly,
    );
    let (code, reason) = rejected(
        c.replace(&second.client_id, Decimal::ZERO, &third).await,
        RejectKind::UnknownOrder,
    );
    assert_eq!(code.as_deref(), Some("-2011"));
    assert!(reason.contains("nothing placed"), "{reason}");
    assert_eq!(
        c.order_status("USDCUSDT", &third.client_id).await.unwrap(),
        None
    );

    // Partial failure (409): the old order is cancelled but the new post-only order would cross.
    let fourth = order(
        "alice-cr-4",
        Side::Sell,
        "1.0006",
        "500",
        TimeInForce::PostOnly,
    );
    c.place(&fourth).await.unwrap();
    bob_rests(&server, "bob-bid", Side::Buy, "1.0002", "100").await;
    let crossing = order(
        "alice-cr-5",
        Side::Sell,
        "1.0002",
        "500",
        TimeInForce::PostOnly,
    );
    let (code, reason) = rejected(
        c.replace(&fourth.client_id, Decimal::ZERO, &crossing).await,
        RejectKind::PostOnlyWouldCross,
    );
    assert_eq!(code.as_deref(), Some("-2010"));
    assert!(
        reason.contains("old order") && reason.contains("cancelled"),
        "{reason}"
    );
    assert_eq!(
        c.order_status("USDCUSDT", &fourth.client_id)
            .await
            .unwrap()
            .unwrap()
            .state,
        OrderState::Canceled
    );
    assert_eq!(
        c.order_status("USDCUSDT", &crossing.client_id)
            .await
            .unwrap(),
        None
    );
    // The raw answer is HTTP 409 with Binance's data.
    let fifth = order(
        "alice-cr-6",
        Side::Sell,
        "1.0006",
        "500",
        TimeInForce::PostOnly,
    );
    c.place(&fifth).await.unwrap();
    let (status, v, _) = alice_raw(
        &server,
        Method::POST,
        "/api/v3/order/cancelReplace",
        Params::new()
            .with("symbol", "USDCUSDT")
            .with("side", "SELL")
            .with("type", "LIMIT_MAKER")
            .with("quantity", "500")
            .with("price", "1.0002")
            .with("cancelReplaceMode", "STOP_ON_FAILURE")
            .with("cancelOrigClientOrderId", fifth.client_id.as_hex()),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        code_msg(&v),
        (-2021, "Order cancel-replace partially failed.".to_string())
    );
    assert_eq!(v["data"]["cancelResult"], "SUCCESS");
    assert_eq!(v["data"]["newOrderResult"], "FAILURE");
    assert_eq!(v["data"]["cancelResponse"]["status"], "CANCELED");
    assert_eq!(v["data"]["newOrderResponse"]["code"], -2010);
}

#[tokio::test]
async fn replace_reduces_the_new_order_by_an_unseen_fill() {
    let server = start("").await;
    let c = alice(&server);
    let b = bob(&server);
    let old = order("alice-ov", Side::Sell, "1.0005", "1000", TimeInForce::Gtc);
    c.place(&old).await.unwrap();
    // 300 fill that alice has not seen yet.
    b.place(&order(
        "bob-part",
        Side::Buy,
        "1.0005",
        "300",
        TimeInForce::Ioc,
    ))
    .await
    .unwrap();
    let new = order("alice-ov-2", Side::Sell, "1.0004", "1000", TimeInForce::Gtc);
    let s = c
        .replace(&old.client_id, Decimal::ZERO, &new)
        .await
        .unwrap();
    // Amend is not offered by the symbol, so the new order was cancel-replaced down to 700 under a derived id.
    assert_eq!(
        (s.qty, s.filled, s.state.clone()),
        (d("700"), d("0"), OrderState::Open)
    );
    assert_eq!(
        s.client_id,
        ClientOrderId::derive(new.client_id.as_hex(), 1)
    );
    let open = c.open_orders(Some("USDCUSDT")).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let total_sold: Decimal = open.iter().map(|o| o.remaining()).sum::<Decimal>() + d("300");
    assert_eq!(total_sold, d("1000"), "never more than intended");
    // Known fills are not taken off again.
    let again = order("alice-ov-3", Side::Sell, "1.0003", "700", TimeInForce::Gtc);
    let s = c
        .replace(&s.client_id, Decimal::ZERO, &again)
        .await
        .unwrap();
    assert_eq!(s.qty, d("700"));
}
