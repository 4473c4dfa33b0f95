//! Signing, checked both ways: whatever the client signs, sent as JSON and read back as the server reads it,
//! recovers to the signing key for the signed network and to somebody else for the other network. And every
//! non-canonical form the venue would re-serialize differently (trailing zeros, null optionals, a false
//! `f`, upper-case addresses) recovers to somebody else.

use alloy::primitives::Address;
use ballast_localnet::hyperliquid::state::recover_signer;
use ballast_venue_hyperliquid::KeySigner;
use ballast_venue_hyperliquid::signing::{Network, SIGNATURE_CHAIN_ID, TypedStruct, TypedValue};
use ballast_venue_hyperliquid::wire::*;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn key(seed: [u8; 32]) -> KeySigner {
    let mut s = seed;
    s[0] = s[0].clamp(1, 0x7f); // a valid secp256k1 scalar
    KeySigner::from_hex(&hex::encode(s)).unwrap()
}

fn other(n: Network) -> Network {
    match n {
        Network::Mainnet => Network::Testnet,
        Network::Testnet => Network::Mainnet,
    }
}

/// Sign as the client does, send as JSON, read as the server does.
fn round_trip(
    k: &KeySigner,
    action: Action,
    nonce: u64,
    vault: Option<Address>,
    expires: Option<u64>,
    net: Network,
) -> ExchangeRequest {
    let signature = match action.typed() {
        None => k
            .sign_l1(&action, nonce, vault.as_ref(), expires, net)
            .unwrap(),
        Some(t) => k.sign_digest(&t.digest(SIGNATURE_CHAIN_ID)).unwrap(),
    };
    let req = ExchangeRequest {
        action: &action,
        nonce,
        signature,
        vault_address: vault.map(Addr),
        expires_after: expires,
    };
    serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap()
}

fn price() -> impl Strategy<Value = Decimal> {
    // On or off the grid: signing does not care, only the canonical text does.
    (1u64..10_000_000, 0u32..9).prop_map(|(m, s)| Decimal::new(m as i64, s))
}

fn order_wire() -> impl Strategy<Value = OrderWire> {
    (
        10_000u32..10_400,
        any::<bool>(),
        price(),
        price(),
        prop_oneof![Just(Tif::Alo), Just(Tif::Gtc), Just(Tif::Ioc)],
        proptest::option::of(any::<[u8; 16]>()),
    )
        .prop_map(|(a, b, p, s, tif, c)| OrderWire {
            a,
            b,
            p: Dec(p),
            s: Dec(s),
            r: false,
            t: OrderTypeWire::Limit(LimitWire { tif }),
            c: c.and_then(|c| Cloid::parse(&format!("0x{}", hex::encode(c)))),
        })
}

fn l1_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        proptest::collection::vec(order_wire(), 1..4).prop_map(|orders| Action::Order(
            OrderAction {
                orders,
                grouping: Grouping::Na,
                builder: None,
            }
        )),
        proptest::collection::vec((10_000u32..10_400, any::<u64>(), any::<bool>()), 1..4).prop_map(
            |v| Action::Cancel(CancelAction {
                cancels: v
                    .into_iter()
                    .map(|(a, o, f)| CancelWire { a, o, f })
                    .collect(),
            })
        ),
        (10_000u32..10_400, any::<[u8; 16]>()).prop_map(|(asset, c)| Action::CancelByCloid(
            CancelByCloidAction {
                cancels: vec![CancelByCloidWire {
                    asset,
                    cloid: Cloid::parse(&format!("0x{}", hex::encode(c))).unwrap(),
                }],
            }
        )),
        (any::<u64>(), any::<[u8; 16]>(), any::<bool>(), order_wire()).prop_map(
            |(oid, c, by_cloid, order)| Action::BatchModify(BatchModifyAction {
                modifies: vec![ModifyWire {
                    oid: if by_cloid {
                        OidRef::Cloid(Cloid::parse(&format!("0x{}", hex::encode(c))).unwrap())
                    } else {
                        OidRef::Oid(oid)
                    },
                    order,
                }],
            })
        ),
        proptest::option::of(any::<u64>())
            .prop_map(|time| Action::ScheduleCancel(ScheduleCancelAction { time })),
        Just(Action::Noop),
    ]
}

fn user_action(net: Network) -> impl Strategy<Value = Action> {
    let chain = net.chain_name().to_string();
    (
        any::<[u8; 20]>(),
        price(),
        any::<u64>(),
        0u8..5,
        any::<bool>(),
    )
        .prop_map(move |(dest, amount, t, which, flag)| {
            let destination = Addr(Address::from(dest));
            let amount = Amount::of(amount);
            let sc = format!("{SIGNATURE_CHAIN_ID:#x}");
            let hc = chain.clone();
            match which {
                0 => Action::SpotSend(SpotSend {
                    signature_chain_id: sc,
                    hyperliquid_chain: hc,
                    destination,
                    token: "USDC:0x6d1e7cde53ba9467b783cb7c530ce054".into(),
                    amount,
                    time: t,
                }),
                1 => Action::Withdraw3(Withdraw3 {
                    signature_chain_id: sc,
                    hyperliquid_chain: hc,
                    destination,
                    amount,
                    time: t,
                }),
                2 => Action::UsdClassTransfer(UsdClassTransfer {
                    signature_chain_id: sc,
                    hyperliquid_chain: hc,
                    amount,
                    to_perp: flag,
                    nonce: t,
                }),
                3 => Action::SendAsset(SendAsset {
                    signature_chain_id: sc,
                    hyperliquid_chain: hc,
                    destination,
                    source_dex: "".into(),
                    destination_dex: "spot".into(),
                    token: "USDC:0x6d1e7cde53ba9467b783cb7c530ce054".into(),
                    amount,
                    from_sub_account: "".into(),
                    nonce: t,
                }),
                _ => Action::ApproveAgent(ApproveAgent {
                    signature_chain_id: sc,
                    hyperliquid_chain: hc,
                    agent_address: destination,
                    agent_name: flag.then(|| "bot".to_string()),
                    nonce: t,
                }),
            }
        })
}

fn net() -> impl Strategy<Value = Network> {
    prop_oneof![Just(Network::Mainnet), Just(Network::Testnet)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn l1_actions_recover_to_the_signer(
        seed in any::<[u8; 32]>(),
        action in l1_action(),
        nonce in any::<u64>(),
        vault in proptest::option::of(any::<[u8; 20]>()),
        expires in proptest::option::of(any::<u64>()),
        net in net(),
    ) {
        let k = key(seed);
        let vault = vault.map(Address::from);
        let req = round_trip(&k, action, nonce, vault, expires, net);
        prop_assert_eq!(recover_signer(&req, net).unwrap(), k.address());
        prop_assert_ne!(recover_signer(&req, other(net)).unwrap(), k.address());
        // Any change of nonce, vault or expiry changes the signer.
        let mut moved = req.clone();
        moved.nonce = nonce.wrapping_add(1);
        prop_assert_ne!(recover_signer(&moved, net).unwrap(), k.address());
        let mut moved = req.clone();
        moved.expires_after = match expires { Some(_) => None, None => Some(1) };
        prop_assert_ne!(recover_signer(&moved, net).unwrap(), k.address());
        let mut moved = req;
        moved.vault_address = match vault { Some(_) => None, None => Some(Addr(Address::repeat_byte(7))) };
        prop_assert_ne!(recover_signer(&moved, net).unwrap(), k.address());
    }

    #[test]
    fn user_signed_actions_recover_to_the_signer(
        seed in any::<[u8; 32]>(),
        (net, action) in net().prop_flat_map(|n| (Just(n), user_action(n))),
    ) {
        let k = key(seed);
        let nonce = action.user_signed_meta().unwrap().2;
        let req = round_trip(&k, action, nonce, None, None, net);
        prop_assert_eq!(recover_signer(&req, net).unwrap(), k.address());
        // A server of the other network refuses the chain name before recovering anything.
        prop_assert!(recover_signer(&req, other(net)).is_err());
    }
}

fn signed_json(k: &KeySigner, action: &serde_json::Value, net: Network) -> ExchangeRequest {
    let signature = k.sign_l1(action, 42, None, None, net).unwrap();
    let req = ExchangeRequest {
        action,
        nonce: 42,
        signature,
        vault_address: None,
        expires_after: None,
    };
    serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap()
}

#[test]
fn non_canonical_l1_payloads_recover_to_somebody_else() {
    let k = key([9; 32]);
    let net = Network::Mainnet;
    let order = |p: &str, s: &str, extra: &str| {
        serde_json::from_str::<serde_json::Value>(&format!(
            r#"{{"type":"order","orders":[{{"a":10000,"b":true,"p":"{p}","s":"{s}","r":false,"t":{{"limit":{{"tif":"Gtc"}}}}{extra}}}],"grouping":"na"}}"#
        ))
        .unwrap()
    };
    let canonical = signed_json(&k, &order("100", "20.5", ""), net);
    assert_eq!(recover_signer(&canonical, net).unwrap(), k.address());
    for bad in [
        order("100.0", "20.5", ""),
        order("100", "20.50", ""),
        order("100", "20.5", r#","c":null"#),
        order(
            "100",
            "20.5",
            r#","c":"0x0000000000000000000000000000ABCD""#,
        ),
    ] {
        let req = signed_json(&k, &bad, net);
        assert_ne!(recover_signer(&req, net).unwrap(), k.address(), "{bad}");
    }
    // Key order matters: "type" first.
    let reordered: serde_json::Value = serde_json::from_str(
        r#"{"orders":[{"a":10000,"b":true,"p":"100","s":"20.5","r":false,"t":{"limit":{"tif":"Gtc"}}}],"grouping":"na","type":"order"}"#,
    )
    .unwrap();
    assert_ne!(
        recover_signer(&signed_json(&k, &reordered, net), net).unwrap(),
        k.address()
    );
    // A false `f` on a cancel is dropped by the venue: signing it recovers somebody else.
    let cancel: serde_json::Value =
        serde_json::from_str(r#"{"type":"cancel","cancels":[{"a":10000,"o":7,"f":false}]}"#)
            .unwrap();
    assert_ne!(
        recover_signer(&signed_json(&k, &cancel, net), net).unwrap(),
        k.address()
    );
}

#[test]
fn a_checksummed_destination_recovers_to_somebody_else() {
    let k = key([5; 32]);
    let dest = "0x5e9ee1089755c3435139848e47E6635505D5A13A";
    let typed = TypedStruct {
        primary_type: "HyperliquidTransaction:Withdraw",
        fields: vec![
            ("hyperliquidChain", TypedValue::Str("Mainnet")),
            ("destination", TypedValue::Str(dest)),
            ("amount", TypedValue::Str("12.3")),
            ("time", TypedValue::U64(1_700_000_000_000)),
        ],
    };
    let signature = k.sign_digest(&typed.digest(SIGNATURE_CHAIN_ID)).unwrap();
    let body = serde_json::json!({
        "action": {"type":"withdraw3","hyperliquidChain":"Mainnet","signatureChainId":"0x66eee",
                   "destination": dest, "amount":"12.3","time":1_700_000_000_000u64},
        "nonce": 1_700_000_000_000u64,
        "signature": signature,
        "vaultAddress": null,
    });
    let req: ExchangeRequest = serde_json::from_value(body).unwrap();
    assert_ne!(recover_signer(&req, Network::Mainnet).unwrap(), k.address());
    // Signed over the lowercase address, it is the key's.
    let lower = dest.to_lowercase();
    let typed = TypedStruct {
        fields: vec![
            ("hyperliquidChain", TypedValue::Str("Mainnet")),
            ("destination", TypedValue::Str(&lower)),
            ("amount", TypedValue::Str("12.3")),
            ("time", TypedValue::U64(1_700_000_000_000)),
        ],
        ..typed
    };
    let mut req = req;
    req.signature = k.sign_digest(&typed.digest(SIGNATURE_CHAIN_ID)).unwrap();
    assert_eq!(recover_signer(&req, Network::Mainnet).unwrap(), k.address());
}
