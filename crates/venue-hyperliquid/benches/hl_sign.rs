//! Hyperliquid order signing: normalise one order to the venue's rules, build the typed action, msgpack it
//! with the nonce, hash it into the phantom agent, EIP-712 digest, ECDSA sign (and, separately, the JSON of
//! the request that goes on the wire). Target: at most 50 us per order (NautilusTrader publishes 42 us).

use std::hint::black_box;
use std::str::FromStr;

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

use ballast_core::model::Side;
use ballast_exec::{ClientOrderId, Toward};
use ballast_venue_hyperliquid::format::spot_rules;
use ballast_venue_hyperliquid::signing::{KeySigner, Network, connection_id, l1_digest};
use ballast_venue_hyperliquid::wire::{
    Action, Addr, Cloid, Dec, ExchangeRequest, Grouping, LimitWire, OrderAction, OrderTypeWire,
    OrderWire, Tif,
};

fn bench(c: &mut Criterion) {
    let key =
        KeySigner::from_hex("0x0123456789012345678901234567890123456789012345678901234567890123")
            .unwrap();
    let rules = spot_rules(
        "USDT0/USDC",
        "USDT0",
        "USDC",
        2,
        Decimal::new(4, 4),
        Decimal::new(7, 4),
    );
    // A raw price off the grid, with trailing zeros, as a schedule would produce it.
    let raw_price = Decimal::from_str("0.999873210").unwrap();
    let raw_qty = Decimal::from_str("25000.123").unwrap();
    let cloid = Cloid::from(&ClientOrderId::derive("bench-leg", 7));
    let vault = alloy::primitives::Address::repeat_byte(0x11);
    let nonce = 1_700_000_000_000u64;

    let build = |price: Decimal, qty: Decimal| {
        Action::Order(OrderAction {
            orders: vec![OrderWire {
                a: 10_166,
                b: false,
                p: Dec(price),
                s: Dec(qty),
                r: false,
                t: OrderTypeWire::Limit(LimitWire { tif: Tif::Alo }),
                c: Some(cloid.clone()),
            }],
            grouping: Grouping::Na,
            builder: None,
        })
    };

    let mut g = c.benchmark_group("hl_sign");
    g.bench_function("normalise_msgpack_sign_order", |b| {
        b.iter(|| {
            let price = rules.round_price(black_box(raw_price), Side::Sell, Toward::Passive);
            let qty = rules.round_qty(black_box(raw_qty));
            rules.check(price, qty).unwrap();
            let action = build(price, qty);
            key.sign_l1(
                &action,
                black_box(nonce),
                None,
                Some(nonce + 30_000),
                Network::Mainnet,
            )
            .unwrap()
        })
    });
    g.bench_function("normalise_msgpack_sign_order_to_json", |b| {
        b.iter(|| {
            let price = rules.round_price(black_box(raw_price), Side::Sell, Toward::Passive);
            let qty = rules.round_qty(black_box(raw_qty));
            rules.check(price, qty).unwrap();
            let action = build(price, qty);
            let signature = key
                .sign_l1(
                    &action,
                    nonce,
                    Some(&vault),
                    Some(nonce + 30_000),
                    Network::Mainnet,
                )
                .unwrap();
            serde_json::to_vec(&ExchangeRequest {
                action: &action,
                nonce,
                signature,
                vault_address: Some(Addr(vault)),
                expires_after: Some(nonce + 30_000),
            })
            .unwrap()
        })
    });
    let action = build(Decimal::from_str("0.99988").unwrap(), Decimal::from(25_000));
    g.bench_function("msgpack_and_hash_only", |b| {
        b.iter(|| {
            let cid = connection_id(black_box(&action), nonce, None, Some(nonce + 30_000)).unwrap();
            l1_digest(&cid, Network::Mainnet)
        })
    });
    let digest = l1_digest(
        &connection_id(&action, nonce, None, None).unwrap(),
        Network::Mainnet,
    );
    g.bench_function("ecdsa_sign_only", |b| {
        b.iter(|| key.sign_digest(black_box(&digest)).unwrap())
    });
    let sig = key.sign_digest(&digest).unwrap();
    g.bench_function("server_recover", |b| {
        b.iter(|| black_box(&sig).recover(&digest).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
