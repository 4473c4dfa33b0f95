//! Paper venues: an in-process simulator standing in for Hyperliquid or Binance, with the venue's own market
//! rules and a funded paper account, so commands run with no keys and no network.

use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;

use ballast_config::{VenueCfg, VenueKind, VenueSettings};
use ballast_exec::Clock;
use ballast_sim::{
    AccountCfg, Latency, SimExchange, SimExchangeCfg, SimSetupError, SimVenue, presets,
};

/// A simulated stand-in for a configured venue: a `kind = "sim"` venue as configured, a Hyperliquid or
/// Binance venue as the simulator with that venue's stable-pair preset and a funded paper account.
pub fn paper_venue(
    v: &VenueCfg,
    clock: Arc<dyn Clock>,
    seed: u64,
) -> Result<SimVenue, SimSetupError> {
    let (preset, latency) = match (&v.settings, v.kind) {
        (VenueSettings::Sim(cfg), _) => return SimVenue::from_cfg(&v.name, cfg, clock),
        (_, VenueKind::Hyperliquid) => (presets::hyperliquid_usdt0_usdc(), Latency::hyperliquid()),
        (_, VenueKind::Binance | VenueKind::Sim) => {
            (presets::binance_usdcusdt(), Latency::binance())
        }
    };
    let assets = [preset.rules.base.clone(), preset.rules.quote.clone()];
    let cfg = SimExchangeCfg {
        seed,
        markets: vec![preset],
        accounts: vec![AccountCfg {
            name: "paper".into(),
            balances: assets
                .iter()
                .map(|a| (a.clone(), Decimal::from(ballast_sim::config::PAPER_BALANCE)))
                .collect(),
        }],
        networks: vec![],
    };
    let ex = SimExchange::new(&cfg, clock.now_ms())?;
    Ok(SimVenue::new(
        &v.name,
        "paper",
        Arc::new(Mutex::new(ex)),
        clock,
        latency,
        seed,
    ))
}
