//! One service cycle's own CPU work for 50 positions, network waits excluded: the world has been read (a
//! `WorldView` of 25 chains and a venue, 10 legs in flight), and the cycle computes pending amounts,
//! breakers, the control step, the plan and the new legs (`service::decide::decide`), then journals what an
//! irreversible step needs (controller state and the new legs, in an SQLite journal in WAL mode on disk).
//! Target: < 5 ms.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

use ballast_chain::{AccountBalance, BalanceSnapshot};
use ballast_config::Config;
use ballast_core::leg::Leg;
use ballast_service::KillSwitch;
use ballast_service::decide::{self, Inputs};
use ballast_service::observe::{ChainView, VenueView, WorldView};
use ballast_store::{Journal, Stamp};

const CHAINS: usize = 25;

fn config() -> Config {
    let mut s = String::from(
        "[controller]\nkp = 0.5\nki = 0.05\ngain_period = \"1h\"\nmin_order_value = \"1000\"\nmax_order_value = \"100000\"\nmax_cycle_turnover_bps = 2000\n\n[service]\nprices = { USDC = \"1\", USDT = \"1\" }\n\n[[venue]]\nname = \"binance\"\nkind = \"binance\"\nmarkets = [\"USDCUSDT\"]\n",
    );
    for c in 0..CHAINS {
        for a in ["USDC", "USDT"] {
            s += &format!(
                "\n[[position]]\nchain = \"c{c}\"\nasset = \"{a}\"\ntarget = \"1000000\"\nband_bps = 100\ndecimals = 6\n"
            );
        }
    }
    for c in 0..CHAINS {
        for a in ["USDC", "USDT"] {
            for k in [1, 2, 5, 11] {
                let to = (c + k) % CHAINS;
                s += &format!(
                    "\n[[route]]\nvenue = \"binance\"\nfrom = {{ chain = \"c{c}\", asset = \"{a}\" }}\nto = {{ chain = \"c{to}\", asset = \"{a}\" }}\ncost_bps = 1\nfixed_cost = \"1\"\n"
                );
            }
        }
        s += &format!(
            "\n[[route]]\nvenue = \"binance\"\nfrom = {{ chain = \"c{c}\", asset = \"USDC\" }}\nto = {{ chain = \"c{c}\", asset = \"USDT\" }}\ncost_bps = 2\nfixed_cost = \"1\"\nmarket = \"USDCUSDT\"\n"
        );
    }
    Config::parse("bench.toml", &s).unwrap_or_else(|e| panic!("{e}"))
}

fn view(t: u64, now: i64) -> WorldView {
    let us = Address::repeat_byte(7);
    let mut chains = BTreeMap::new();
    for c in 0..CHAINS {
        let mut balances = Vec::new();
        for (i, a) in ["USDC", "USDT"].iter().enumerate() {
            // Drifting balances: some positions leave their band every cycle.
            let drift = ((c * 7 + i * 3 + t as usize) % 40) as i64 - 20;
            let amount = Decimal::from(1_000_000 + drift * 4_000);
            balances.push(AccountBalance {
                account: us,
                asset: a.to_string(),
                amount,
                raw: U256::ZERO,
            });
        }
        chains.insert(
            format!("c{c}"),
            Ok(ChainView {
                snapshot: BalanceSnapshot {
                    chain: format!("c{c}"),
                    block: 1000 + t,
                    block_time_ms: now - 1000,
                    balances,
                },
                arrivals: Vec::new(),
                age_ms: 1000,
            }),
        );
    }
    let mut mids = BTreeMap::new();
    mids.insert("USDCUSDT".to_string(), Decimal::new(10001, 4));
    let mut venues = BTreeMap::new();
    venues.insert(
        "binance".to_string(),
        Ok(VenueView {
            transfers: Vec::new(),
            mids,
            headroom: 0.9,
        }),
    );
    WorldView {
        at_ms: now,
        chains,
        venues,
    }
}

fn bench(c: &mut Criterion) {
    let cfg = config();
    assert_eq!(cfg.positions.len(), 50);
    let mut engine = ballast_config::adapt::engine(&cfg);
    let kill = KillSwitch::active(0);
    let mut markets = BTreeMap::new();
    markets.insert(
        ("binance".to_string(), "USDCUSDT".to_string()),
        ("USDC".to_string(), "USDT".to_string()),
    );
    let claimed = BTreeSet::new();
    let last = BTreeMap::new();
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("bench.db")).unwrap();
    let lease = journal
        .acquire_lease(
            "daemon",
            "bench",
            cfg.version(),
            1_000_000_000_000_000,
            1_800_000_000_000,
        )
        .unwrap();
    let stamp = Stamp {
        actor: "bench".into(),
        config_version: cfg.version().into(),
        fence: Some(lease.fence()),
    };
    // Ten legs in flight, from an earlier cycle.
    let mut legs: Vec<Leg> = Vec::new();
    {
        let now = 1_800_000_000_000;
        let inputs = Inputs {
            cfg: &cfg,
            seq: 0,
            now,
            kill: &kill,
            moved_today: Decimal::ZERO,
            markets: &markets,
            claimed_arrivals: &claimed,
            last_balances: &last,
        };
        let d = decide::decide(&mut engine, &[], &view(0, now), &inputs).unwrap();
        legs.extend(d.new_legs.into_iter().take(10));
    }
    let mut t = 1u64;
    c.bench_function("service_cycle/50_positions", |b| {
        b.iter(|| {
            let now = 1_800_000_000_000 + (t as i64) * 300_000;
            let v = view(t, now);
            let inputs = Inputs {
                cfg: &cfg,
                seq: t,
                now,
                kill: &kill,
                moved_today: Decimal::ZERO,
                markets: &markets,
                claimed_arrivals: &claimed,
                last_balances: &last,
            };
            let d = decide::decide(&mut engine, &legs, &v, &inputs).unwrap();
            let state = serde_json::to_string(&engine.export_state()).unwrap();
            journal
                .put_kv("controller_state", &state, None, &stamp, now)
                .unwrap();
            if !d.new_legs.is_empty() {
                journal.save_new_legs(&d.new_legs, &stamp, now).unwrap();
            }
            t += 1;
            d.new_legs.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
