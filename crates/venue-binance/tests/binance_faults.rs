//! The Binance client against the local server's failures: rate limits (429/418, Retry-After, the
//! published limits), responses lost after the order was accepted (dropped connection, no answer, 5xx,
//! -1007), and a clock outside recvWindow. The client must never leave two live orders for one intent.

mod binance_common;

use std::time::Duration;

use ballast_core::model::Side;
use ballast_exec::{OrderState, TimeInForce, Venue, VenueError};
use ballast_localnet::binance::{FaultKind, ServerHandle};
use ballast_venue_binance::signing::{Params, Signer};
use binance_common::*;
use reqwest::Method;

fn count(server: &ServerHandle, method: &str, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

/// Orders on the exchange carrying this client id (open or not).
fn orders_with(server: &ServerHandle, cid: &str) -> usize {
    server.with_exchange(|ex| {
        ex.orders_since("alice", None, 0)
            .unwrap()
            .iter()
            .filter(|o| o.client_id.as_deref() == Some(cid))
            .count()
    })
}

#[tokio::test]
async fn a_429_is_rate_limited_and_the_next_call_waits_retry_after() {
    let server = start("").await;
    let c = alice(&server);
    c.balances().await.unwrap();
    server.faults().inject(
        "GET /api/v3/account",
        FaultKind::RateLimit {
            retry_after: Duration::from_secs(1),
        },
        1,
    );
    match c.balances().await {
        Err(VenueError::RateLimited {
            retry_after_ms,
            reason,
            ..
        }) => {
            assert_eq!(retry_after_ms, Some(1000));
            assert!(reason.contains("-1003"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let h = c.headroom();
    assert_eq!(h.fraction, 0.0);
    assert!(
        h.retry_after_ms.is_some_and(|ms| ms > 500 && ms <= 1000),
        "{h:?}"
    );
    // The next call is held back until Retry-After has passed, then succeeds.
    c.balances().await.unwrap();
    let calls: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v3/account")
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].status, 429);
    let gap = calls[2].ts - calls[1].ts;
    assert!(gap >= 950, "waited only {gap} ms");
    assert!(c.headroom().fraction > 0.5);
}

#[tokio::test]
async fn the_client_keeps_under_the_published_weight_limit() {
    let server = start("[binance.limits]\nrequest_weight_per_minute = 100\nban_after = 2\n").await;
    let c = alice(&server);
    c.markets().await.unwrap(); // exchangeInfo publishes the limit
    let mut refused = None;
    for _ in 0..20 {
        match c.balances().await {
            Ok(_) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    match refused {
        Some(VenueError::RateLimited {
            reason,
            retry_after_ms,
            ..
        }) => {
            assert!(reason.contains("client-side"), "{reason}");
            assert!(retry_after_ms.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        server.requests().iter().all(|r| r.status != 429),
        "the server never had to refuse"
    );
    assert!(c.headroom().fraction < 0.25);

    // A client that ignores the limits gets 429 with Retry-After, then a ban (418).
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (status, v, headers) = raw(
            &server,
            Method::GET,
            "/api/v3/exchangeInfo",
            Params::new(),
            "",
            None,
            None,
        )
        .await;
        if status != 200 {
            assert_eq!(code_msg(&v).0, -1003);
            let ra: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=120).contains(&ra), "{ra}");
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 418, "{statuses:?}");
}

#[tokio::test]
async fn orders_per_10s_are_counted_with_headers() {
    let server = start("[binance.limits]\norders_per_10s = 3\n").await;
    // Start at the beginning of a 10 s window.
    let into = server.now_ms().rem_euclid(10_000);
    if into > 7_000 {
        tokio::time::sleep(Duration::from_millis((10_050 - into) as u64)).await;
    }
    let mut seen = Vec::new();
    for i in 0..4 {
        let (status, v, headers) = alice_raw(
            &server,
            Method::POST,
            "/api/v3/order",
            Params::new()
                .with("symbol", "USDCUSDT")
                .with("side", "BUY")
                .with("type", "LIMIT")
                .with("timeInForce", "GTC")
                .with("quantity", "10")
                .with("price", format!("0.99{i}0")),
        )
        .await;
        let count = headers
            .get("x-mbx-order-count-10s")
            .map(|v| v.to_str().unwrap().to_string());
        seen.push((
            status,
            code_msg(&v).0,
            count,
            headers.get("retry-after").is_some(),
        ));
    }
    assert_eq!(seen[0], (200, 0, Some("1".into()), false));
    assert_eq!(seen[2], (200, 0, Some("3".into()), false));
    assert_eq!((seen[3].0, seen[3].1, seen[3].3), (429, -1015, true));
}

#[tokio::test]
async fn an_order_whose_response_is_lost_is_found_not_placed_twice() {
    let server = start("").await;
    let c = alice(&server);
    c.sync_time().await.unwrap();
    // Accepted, then the connection drops before the answer.
    server
        .faults()
        .inject("POST /api/v3/order", FaultKind::Drop { executed: true }, 1);
    let o = order("lost-1", Side::Buy, "0.9990", "100", TimeInForce::Gtc);
    let s = c.place(&o).await.unwrap();
    assert_eq!(
        (s.state, s.client_id.clone()),
        (OrderState::Open, o.client_id.clone())
    );
    assert_eq!(count(&server, "POST", "/api/v3/order"), 1);
    assert_eq!(orders_with(&server, o.client_id.as_hex()), 1);
    // The answer really was lost, and the client looked the order up by its client id.
    let log = server.requests();
    let post = log
        .iter()
        .position(|r| r.method == "POST" && r.path == "/api/v3/order")
        .unwrap();
    assert_eq!(log[post].status, 0);
    assert!(
        log[post..]
            .iter()
            .any(|r| r.method == "GET" && r.path == "/api/v3/order")
    );

    // Dropped before it reached the engine: not found, the client waits out recvWindow, then sends it again.
    server
        .faults()
        .inject("POST /api/v3/order", FaultKind::Drop { executed: false }, 1);
    let o2 = order("lost-2", Side::Buy, "0.9991", "100", TimeInForce::Gtc);
    let t0 = std::time::Instant::now();
    let s2 = c.place(&o2).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "waited out recvWindow"
    );
    assert_eq!(s2.state, OrderState::Open);
    assert_eq!(count(&server, "POST", "/api/v3/order"), 3);
    assert_eq!(orders_with(&server, o2.client_id.as_hex()), 1);

    // No answer at all (the client times out), executed.
    server
        .faults()
        .inject("POST /api/v3/order", FaultKind::Hang { executed: true }, 1);
    let o3 = order("lost-3", Side::Buy, "0.9992", "100", TimeInForce::Gtc);
    let t0 = std::time::Instant::now();
    let s3 = c.place(&o3).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_secs(2),
        "the client timed out first"
    );
    assert_eq!(s3.client_id, o3.client_id);
    assert_eq!(orders_with(&server, o3.client_id.as_hex()), 1);

    // 5xx and -1007: unknown outcomes, resolved the same way.
    for (i, kind) in [
        FaultKind::ServerError {
            status: 502,
            executed: false,
        },
        FaultKind::ServerError {
            status: 503,
            executed: true,
        },
        FaultKind::Timeout { executed: true },
        FaultKind::Timeout { executed: false },
    ]
    .into_iter()
    .enumerate()
    {
        server
            .faults()
            .inject("POST /api/v3/order", kind.clone(), 1);
        let o = order(
            &format!("lost-5xx-{i}"),
            Side::Buy,
            "0.9980",
            "10",
            TimeInForce::Gtc,
        );
        let s = c
            .place(&o)
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(s.state, OrderState::Open, "{kind:?}");
        assert_eq!(orders_with(&server, o.client_id.as_hex()), 1, "{kind:?}");
    }
    assert_eq!(c.open_orders(Some("USDCUSDT")).await.unwrap().len(), 7);

    // A cancel whose answer is lost: the order is looked up and reported cancelled.
    server.faults().inject(
        "DELETE /api/v3/order",
        FaultKind::Drop { executed: true },
        1,
    );
    let x = c.cancel("USDCUSDT", &o.client_id).await.unwrap();
    assert_eq!(x.state, OrderState::Canceled);
}

#[tokio::test]
async fn a_lost_cancel_replace_is_resolved() {
    let server = start("").await;
    let c = alice(&server);
    let old = order("crl-1", Side::Sell, "1.0005", "100", TimeInForce::PostOnly);
    c.place(&old).await.unwrap();
    server.faults().inject(
        "POST /api/v3/order/cancelReplace",
        FaultKind::Drop { executed: true },
        1,
    );
    let new = order("crl-2", Side::Sell, "1.0004", "100", TimeInForce::PostOnly);
    let s = c
        .replace(&old.client_id, rust_decimal::Decimal::ZERO, &new)
        .await
        .unwrap();
    assert_eq!(
        (s.client_id.clone(), s.state.clone()),
        (new.client_id.clone(), OrderState::Open)
    );
    assert_eq!(c.open_orders(Some("USDCUSDT")).await.unwrap().len(), 1);
    // Lost before execution: nothing happened, and the client says so.
    server.faults().inject(
        "POST /api/v3/order/cancelReplace",
        FaultKind::Drop { executed: false },
        1,
    );
    let newer = order("crl-3", Side::Sell, "1.0003", "100", TimeInForce::PostOnly);
    let e = c
        .replace(&new.client_id, rust_decimal::Decimal::ZERO, &newer)
        .await
        .unwrap_err();
    assert!(e.did_not_happen(), "{e:?}");
    let open = c.open_orders(Some("USDCUSDT")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_id, new.client_id);
}

#[tokio::test]
async fn a_clock_outside_recv_window_is_resynced_once() {
    let server = start("").await;
    let c = alice(&server);
    c.balances().await.unwrap();
    assert!(c.time_offset_ms().abs() < 1000);
    // The server's clock jumps 30 s ahead: the next signed call gets -1021, resyncs and succeeds.
    server.set_clock_skew_ms(30_000);
    c.balances().await.unwrap();
    let codes: Vec<Option<i64>> = server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/account")
        .map(|r| r.code)
        .collect();
    assert_eq!(codes, vec![None, Some(-1021), None]);
    assert!(
        (c.time_offset_ms() - 30_000).abs() < 1000,
        "{}",
        c.time_offset_ms()
    );

    // The rule itself, on the wire.
    let signer = Signer::hmac(ALICE_SECRET);
    let now = server.now_ms();
    let (status, v, _) = raw(
        &server,
        Method::GET,
        "/api/v3/account",
        Params::new().with("recvWindow", 5000),
        ALICE_KEY,
        Some(&signer),
        Some(now - 6_000),
    )
    .await;
    assert_eq!(
        (status, code_msg(&v)),
        (
            400,
            (
                -1021,
                "Timestamp for this request is outside of the recvWindow.".to_string()
            )
        )
    );
    let (_, v, _) = raw(
        &server,
        Method::GET,
        "/api/v3/account",
        Params::new(),
        ALICE_KEY,
        Some(&signer),
        Some(now + 5_000),
    )
    .await;
    assert_eq!(
        code_msg(&v),
        (
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.".to_string()
        )
    );
    let (status, _, _) = raw(
        &server,
        Method::GET,
        "/api/v3/account",
        Params::new().with("recvWindow", 10000),
        ALICE_KEY,
        Some(&signer),
        Some(now - 6_000),
    )
    .await;
    assert_eq!(status, 200);
}
