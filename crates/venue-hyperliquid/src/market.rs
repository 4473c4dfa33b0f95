//! Market metadata: the spot universe (pairs, tokens, size and price decimals, fees) read from `spotMeta`.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::format;
use crate::info::SpotMeta;
use ballast_exec::MarketRules;

/// A spot market as the client knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketInfo {
    /// `BASE/QUOTE` (or `@index` when that name is ambiguous).
    pub name: String,
    /// The coin name `/info` uses: `PURR/USDC` for the canonical legacy pair, `@index` otherwise.
    pub coin: String,
    /// `10000 + index`.
    pub asset: u32,
    pub rules: MarketRules,
}

/// The spot universe from `spotMeta`.
#[derive(Clone, Debug, Default)]
pub struct Universe {
    pub markets: Vec<MarketInfo>,
    by_key: HashMap<String, usize>,
    by_asset: HashMap<u32, usize>,
    /// token name -> `NAME:tokenId`
    token_wire: HashMap<String, String>,
    /// token name -> (token index, linked to a HyperEVM contract)
    token_index: HashMap<String, (u32, bool)>,
}

impl Universe {
    pub fn from_meta(meta: &SpotMeta, maker_fee: Decimal, taker_fee: Decimal) -> Universe {
        let tokens: HashMap<u32, &super::info::SpotToken> =
            meta.tokens.iter().map(|t| (t.index, t)).collect();
        let mut u = Universe::default();
        for t in &meta.tokens {
            u.token_wire
                .entry(t.name.clone())
                .or_insert_with(|| format!("{}:{}", t.name, t.token_id));
            let linked = t.evm_contract.as_ref().is_some_and(|v| !v.is_null());
            u.token_index
                .entry(t.name.clone())
                .or_insert((t.index, linked));
        }
        let mut pairs: Vec<&super::info::SpotPair> = meta.universe.iter().collect();
        pairs.sort_by_key(|p| p.index);
        for p in pairs {
            let (Some(base), Some(quote)) = (tokens.get(&p.tokens[0]), tokens.get(&p.tokens[1]))
            else {
                continue;
            };
            let pretty = format!("{}/{}", base.name, quote.name);
            let coin = if p.name.starts_with('@') || p.name != pretty && !p.is_canonical {
                format!("@{}", p.index)
            } else {
                p.name.clone()
            };
            let name = if u.by_key.contains_key(&pretty) {
                format!("@{}", p.index)
            } else {
                pretty.clone()
            };
            let i = u.markets.len();
            u.markets.push(MarketInfo {
                rules: format::spot_rules(
                    &name,
                    &base.name,
                    &quote.name,
                    base.sz_decimals,
                    maker_fee,
                    taker_fee,
                ),
                name: name.clone(),
                coin: coin.clone(),
                asset: 10_000 + p.index,
            });
            for k in [name, coin, format!("@{}", p.index), p.name.clone()] {
                u.by_key.entry(k).or_insert(i);
            }
            u.by_asset.insert(10_000 + p.index, i);
        }
        u
    }

    /// A market by `BASE/QUOTE`, coin name or `@index`.
    pub fn get(&self, key: &str) -> Option<&MarketInfo> {
        self.by_key.get(key).map(|&i| &self.markets[i])
    }

    pub fn by_asset(&self, asset: u32) -> Option<&MarketInfo> {
        self.by_asset.get(&asset).map(|&i| &self.markets[i])
    }

    /// The market name of a coin (the coin itself when unknown).
    pub fn name_of(&self, coin: &str) -> String {
        self.get(coin)
            .map(|m| m.name.clone())
            .unwrap_or_else(|| coin.to_string())
    }

    /// A token's index, if it is linked to a HyperEVM contract (`spotMeta`'s `evmContract`): only then
    /// does it cross between HyperCore and HyperEVM through its system address.
    pub fn evm_linked(&self, name: &str) -> Option<u32> {
        self.token_index
            .get(name)
            .and_then(|&(i, linked)| linked.then_some(i))
    }

    /// `NAME:tokenId`, as spotSend wants it.
    pub fn token_wire(&self, name: &str) -> Option<&str> {
        self.token_wire.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE};
    use crate::info::{SpotPair, SpotToken};

    fn token(name: &str, index: u32, sz: u32) -> SpotToken {
        SpotToken {
            name: name.into(),
            sz_decimals: sz,
            wei_decimals: 8,
            index,
            token_id: format!("0x{index:032x}"),
            is_canonical: true,
            evm_contract: None,
            full_name: None,
        }
    }

    #[test]
    fn the_universe_names_pairs_and_uses_the_base_decimals() {
        let meta = SpotMeta {
            tokens: vec![
                token("USDC", 0, 8),
                token("PURR", 1, 0),
                token("USDT0", 268, 2),
            ],
            universe: vec![
                SpotPair {
                    name: "PURR/USDC".into(),
                    tokens: [1, 0],
                    index: 0,
                    is_canonical: true,
                },
                SpotPair {
                    name: "@166".into(),
                    tokens: [268, 0],
                    index: 166,
                    is_canonical: false,
                },
                SpotPair {
                    name: "@200".into(),
                    tokens: [268, 0],
                    index: 200,
                    is_canonical: false,
                },
            ],
        };
        let u = Universe::from_meta(&meta, DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE);
        let purr = u.get("PURR/USDC").unwrap();
        assert_eq!((purr.coin.as_str(), purr.asset), ("PURR/USDC", 10000));
        let usdt = u.get("USDT0/USDC").unwrap();
        assert_eq!((usdt.coin.as_str(), usdt.asset), ("@166", 10166));
        assert_eq!(u.get("@166").unwrap().name, "USDT0/USDC");
        assert_eq!(usdt.rules.lot, Decimal::new(1, 2));
        // The ambiguous second USDT0/USDC pair is reachable by its index only.
        assert_eq!(u.get("@200").unwrap().name, "@200");
        assert_eq!(u.by_asset(10200).unwrap().coin, "@200");
        assert_eq!(
            u.token_wire("USDC"),
            Some("USDC:0x00000000000000000000000000000000")
        );
    }
}
