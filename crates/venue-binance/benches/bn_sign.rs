//! Signing one Binance order request: build the exact parameter text, sign it, append `&signature=`.
//! Target: under 2 us with HMAC-SHA256. Ed25519 and the server's verification are measured alongside.

use std::hint::black_box;

use ballast_venue_binance::signing::{Params, Signer, Verifier, signed_text};
use criterion::{Criterion, criterion_group, criterion_main};

const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const ED_PEM: &str = "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";

fn order_request(signer: &Signer, ts: i64) -> String {
    Params::new()
        .with("symbol", "USDCUSDT")
        .with("side", "SELL")
        .with("type", "LIMIT_MAKER")
        .with("quantity", "250000")
        .with("price", "1.0002")
        .with("newClientOrderId", "3f2a9c0e5b7d41e8a6c4f0b2d9e1a7c3")
        .with("newOrderRespType", "FULL")
        .with("recvWindow", 5000)
        .with("timestamp", ts)
        .signed(signer)
}

fn bench(c: &mut Criterion) {
    let hmac = Signer::hmac(SECRET);
    let ed = Signer::ed25519_from_pem(ED_PEM).unwrap();
    let mut ts = 1_700_000_000_000i64;
    c.bench_function("bn_sign_order_hmac", |b| {
        b.iter(|| {
            ts += 1;
            black_box(order_request(&hmac, black_box(ts)))
        })
    });
    c.bench_function("bn_sign_order_ed25519", |b| {
        b.iter(|| {
            ts += 1;
            black_box(order_request(&ed, black_box(ts)))
        })
    });
    let wire = order_request(&hmac, ts);
    let verifier = Verifier::hmac(SECRET);
    c.bench_function("bn_verify_order_hmac", |b| {
        b.iter(|| {
            let (text, sig) = signed_text(black_box(&wire), "");
            black_box(verifier.verify(text.as_bytes(), sig.unwrap()))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
