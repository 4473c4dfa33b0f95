//! The server's state and its two pipelines.
//!
//! `/exchange` (venues.md A11): the action arrives typed (malformed bodies never get here: 422), is
//! serialized again canonically and hashed (L1: msgpack + nonce + vault + expiresAfter, phantom agent with
//! this server's `source`; user-signed: EIP-712 with the action's `signatureChainId`, and its
//! `hyperliquidChain` must be this server's), the signer is recovered and must be a known user or an approved
//! agent of one, the vault must be a sub-account of that user, `expiresAfter` must not have passed, the nonce
//! must pass the signer's 100-highest set, the address budget must allow it; then the action executes on the
//! simulated exchange with the venue's rules and error strings.
//!
//! `/info` answers in the venue's shapes from the same state.

use std::collections::HashMap;

use alloy::primitives::Address;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::config::HlServerCfg;
use super::engine::Engine;
use ballast_core::model::TimestampMs;
use ballast_venue_hyperliquid::errors;
use ballast_venue_hyperliquid::info::{
    ClearinghouseState, InfoRequest, LedgerDelta, LedgerUpdate, MarginSummary, OrderStatusAnswer,
    PerpMeta, SpotClearinghouseState, UserRateLimit,
};
use ballast_venue_hyperliquid::nonce::NonceSet;
use ballast_venue_hyperliquid::ratelimit::{
    ADDRESS_THROTTLED_INTERVAL_MS, address_cap, cancel_cap,
};
use ballast_venue_hyperliquid::signing::{Network, connection_id, l1_digest};
use ballast_venue_hyperliquid::wire::{
    Action, Addr, ExchangeRequest, ExchangeResponse, OkResponse, StatusEntry, Statuses, lower,
    parse_address,
};

/// The withdraw3 fee, taken from the amount.
pub const WITHDRAW_FEE: Decimal = Decimal::ONE;
/// A dead-man switch must be set at least this far ahead.
pub const SCHEDULE_CANCEL_MIN_AHEAD_MS: i64 = 5_000;
/// Dead-man switch triggers allowed per UTC day.
pub const SCHEDULE_CANCEL_PER_DAY: u32 = 10;
const DAY_MS: i64 = 86_400_000;

/// A withdrawal to Arbitrum the server has accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    pub user: Address,
    pub destination: Address,
    /// Debited from the perp balance.
    pub amount: Decimal,
    pub fee: Decimal,
    pub nonce: u64,
    pub time: TimestampMs,
}

pub(super) struct User {
    /// The simulator's account.
    pub name: String,
    /// Perp (cross-margin) USDC: what withdraw3 draws from.
    pub perp: Decimal,
    pub ledger: Vec<LedgerUpdate>,
    pub requests: u64,
    throttled_at: Option<TimestampMs>,
    /// Dead-man switch time.
    pub dead_man: Option<TimestampMs>,
    /// (UTC day, triggers that day)
    dead_man_day: (i64, u32),
    /// Set for a sub-account: its master.
    pub master: Option<Address>,
}

impl User {
    fn new(name: String, perp: Decimal, master: Option<Address>) -> Self {
        User {
            name,
            perp,
            ledger: Vec::new(),
            requests: 0,
            throttled_at: None,
            dead_man: None,
            dead_man_day: (0, 0),
            master,
        }
    }
}

/// An approved API wallet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub master: Address,
    pub name: Option<String>,
}

/// A spot send to a linked token's system address: paid out on HyperEVM to the sender's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmSend {
    pub seq: u64,
    pub user: Address,
    pub token: String,
    pub amount: Decimal,
}

/// Everything the server knows.
pub struct State {
    pub engine: Engine,
    pub network: Network,
    pub(super) users: HashMap<Address, User>,
    pub agents: HashMap<Address, Agent>,
    nonces: HashMap<Address, NonceSet>,
    pub withdrawals: Vec<Withdrawal>,
    /// Spot sends to system addresses, to pay out on HyperEVM.
    pub evm_sends: Vec<EvmSend>,
    address_budget: bool,
    ledger_seq: u64,
}

/// The address that signed a request, as the venue recovers it for `network`: the action is serialized
/// again canonically (L1: msgpack with nonce, vault and expiresAfter, phantom agent with the network's
/// source; user-signed: EIP-712 with the action's `signatureChainId`, whose `hyperliquidChain` must be the
/// network's). A request signed over anything else recovers to another address.
pub fn recover_signer(req: &ExchangeRequest, network: Network) -> Result<Address, String> {
    match req.action.user_signed_meta() {
        None => {
            let cid = connection_id(
                &req.action,
                req.nonce,
                req.vault_address.as_ref().map(|v| &v.0),
                req.expires_after,
            )
            .map_err(|e| e.to_string())?;
            req.signature
                .recover(&l1_digest(&cid, network))
                .map_err(|e| e.to_string())
        }
        Some((chain_id, hl_chain, _)) => {
            let chain_id = chain_id
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("Invalid signatureChainId {chain_id:?}."))?;
            if hl_chain != network.chain_name() {
                return Err(format!(
                    "Invalid hyperliquidChain {hl_chain:?}: this is {}.",
                    network.chain_name()
                ));
            }
            let typed = req.action.typed().expect("user-signed");
            req.signature
                .recover(&typed.digest(chain_id))
                .map_err(|e| e.to_string())
        }
    }
}

fn err(msg: impl Into<String>) -> ExchangeResponse {
    ExchangeResponse::Err(msg.into())
}

fn ok_default() -> ExchangeResponse {
    ExchangeResponse::Ok(OkResponse::Default)
}

fn statuses(v: Vec<StatusEntry>) -> Statuses {
    Statuses { statuses: v }
}

impl State {
    pub fn new(cfg: &HlServerCfg, now: TimestampMs) -> Result<State, String> {
        let engine = Engine::new(&cfg.exchange, &cfg.indices, now)?;
        let mut users = HashMap::new();
        let mut agents = HashMap::new();
        let by_name: HashMap<&str, Address> = cfg
            .accounts
            .iter()
            .map(|a| (a.name.as_str(), a.address))
            .collect();
        for a in &cfg.accounts {
            let master = match &a.master {
                Some(m) => Some(
                    *by_name
                        .get(m.as_str())
                        .ok_or_else(|| format!("account {}: no account named {m:?}", a.name))?,
                ),
                None => None,
            };
            users.insert(a.address, User::new(a.name.clone(), a.perp_usdc, master));
            for ag in &a.agents {
                agents.insert(
                    *ag,
                    Agent {
                        master: a.address,
                        name: None,
                    },
                );
            }
        }
        Ok(State {
            engine,
            network: cfg.chain,
            users,
            agents,
            nonces: HashMap::new(),
            withdrawals: Vec::new(),
            evm_sends: Vec::new(),
            address_budget: cfg.address_budget,
            ledger_seq: 0,
        })
    }

    /// Run the markets to `now` and fire due dead-man switches.
    pub fn tick(&mut self, now: TimestampMs) {
        self.engine.advance_to(now);
        let due: Vec<Address> = self
            .users
            .iter()
            .filter(|(_, u)| u.dead_man.is_some_and(|t| t <= now))
            .map(|(a, _)| *a)
            .collect();
        for a in due {
            let u = self.users.get_mut(&a).expect("listed above");
            let t = u.dead_man.take().expect("due");
            let day = t.div_euclid(DAY_MS);
            if u.dead_man_day.0 != day {
                u.dead_man_day = (day, 0);
            }
            u.dead_man_day.1 += 1;
            let name = u.name.clone();
            let n = self.engine.cancel_all(&name, now, "scheduledCancel");
            tracing::info!(user = %lower(&a), cancelled = n, "scheduled cancel fired");
        }
    }

    fn name_of(&self, a: &Address) -> Option<&str> {
        self.users.get(a).map(|u| u.name.as_str())
    }

    fn funded(&self, a: &Address) -> bool {
        self.users
            .get(a)
            .is_some_and(|u| !u.perp.is_zero() || self.engine.has_funds(&u.name))
    }

    /// A user by address, created empty when unknown (an address that receives funds becomes a user).
    fn ensure_user(&mut self, a: Address) -> String {
        if let Some(u) = self.users.get(&a) {
            return u.name.clone();
        }
        let name = lower(&a);
        self.engine.open_account(&name);
        self.users
            .insert(a, User::new(name.clone(), Decimal::ZERO, None));
        name
    }

    fn record(&mut self, a: Address, now: TimestampMs, delta: LedgerDelta) {
        use sha2::{Digest, Sha256};
        self.ledger_seq += 1;
        let hash = format!(
            "0x{}",
            hex::encode(Sha256::digest(format!("ledger-{}", self.ledger_seq)))
        );
        if let Some(u) = self.users.get_mut(&a) {
            u.ledger.push(LedgerUpdate {
                time: now,
                hash,
                delta,
            });
        }
    }

    /// Credit a bridge deposit to an address's perp USDC (as the bridge credits the sender).
    pub fn deposit(&mut self, a: Address, amount: Decimal, now: TimestampMs) {
        self.ensure_user(a);
        self.users.get_mut(&a).expect("ensured").perp += amount;
        self.record(
            a,
            now,
            LedgerDelta::Deposit {
                usdc: amount.into(),
            },
        );
    }

    /// Credit an ERC-20 transfer to a token's system address on HyperEVM: the sender's spot balance, with
    /// a ledger `spotTransfer` from the system address.
    pub fn evm_credit(
        &mut self,
        sender: Address,
        token: &str,
        amount: Decimal,
        now: TimestampMs,
    ) -> Result<(), String> {
        let (index, _) = self
            .engine
            .evm_link(token)
            .ok_or_else(|| format!("{token} is not linked to HyperEVM"))?;
        let name = self.ensure_user(sender);
        self.engine.credit(&name, token, amount)?;
        let system = ballast_venue_hyperliquid::wallet::system_address(index);
        self.record(
            sender,
            now,
            LedgerDelta::SpotTransfer {
                token: token.to_string(),
                amount: amount.into(),
                usdc_value: Decimal::ZERO.into(),
                user: Addr(system),
                destination: Addr(sender),
                fee: Decimal::ZERO.into(),
            },
        );
        Ok(())
    }

    /// A spot send to a system address: the token leaves HyperCore for the sender's HyperEVM address.
    fn send_to_evm(
        &mut self,
        from: Address,
        system: Address,
        token: &str,
        amount: Decimal,
        now: TimestampMs,
    ) -> ExchangeResponse {
        let Some((_, evm_decimals)) = self.engine.evm_link(token) else {
            return err(format!("{token} is not linked to HyperEVM."));
        };
        if self.engine.evm_token_at(&system).as_deref() != Some(token) {
            return err(format!(
                "Invalid destination {}: not the system address of {token}.",
                lower(&system)
            ));
        }
        if amount <= Decimal::ZERO || amount.normalize().scale() > evm_decimals {
            return err("Invalid number of decimals.");
        }
        let name = self.users[&from].name.clone();
        if let Err(m) = self.engine.debit(&name, token, amount, now) {
            return err(m);
        }
        self.record(
            from,
            now,
            LedgerDelta::SpotTransfer {
                token: token.to_string(),
                amount: amount.into(),
                usdc_value: Decimal::ZERO.into(),
                user: Addr(from),
                destination: Addr(system),
                fee: Decimal::ZERO.into(),
            },
        );
        self.evm_sends.push(EvmSend {
            seq: self.ledger_seq,
            user: from,
            token: token.to_string(),
            amount,
        });
        ok_default()
    }

    /// Perp USDC of an address.
    pub fn perp_usdc(&self, a: &Address) -> Decimal {
        self.users.get(a).map_or(Decimal::ZERO, |u| u.perp)
    }

    /// The simulator account of an address.
    pub fn account_name(&self, a: &Address) -> Option<String> {
        self.name_of(a).map(str::to_string)
    }

    fn spend_budget(
        &mut self,
        acting: Address,
        action: &Action,
        now: TimestampMs,
    ) -> Result<(), String> {
        if !self.address_budget {
            return Ok(());
        }
        let name = self.users[&acting].name.clone();
        let vol = self.engine.cum_volume(&name);
        let cap = address_cap(vol);
        let cap = if matches!(action, Action::Cancel(_) | Action::CancelByCloid(_)) {
            cancel_cap(cap)
        } else {
            cap
        };
        let n = action.batch_len() as u64;
        let u = self.users.get_mut(&acting).expect("acting user");
        if u.requests + n > cap {
            match u.throttled_at {
                Some(t) if now - t < ADDRESS_THROTTLED_INTERVAL_MS => {
                    return Err(format!(
                        "{} sent ({} > {cap}) for cumulative volume traded ${}. Place taker orders to free up 1 request per USDC traded.",
                        errors::CUMULATIVE_REQUESTS_PREFIX,
                        u.requests + n,
                        ballast_venue_hyperliquid::format::wire(vol.round_dp(2)),
                    ));
                }
                _ => u.throttled_at = Some(now),
            }
        }
        u.requests += n;
        Ok(())
    }

    /// The `/exchange` pipeline for a request that deserialized.
    pub fn exchange(&mut self, req: ExchangeRequest, now: TimestampMs) -> ExchangeResponse {
        self.tick(now);
        let signer = match recover_signer(&req, self.network) {
            Ok(a) => a,
            Err(msg) => return err(msg),
        };
        let user_signed = req.action.is_user_signed();
        let (user, via_agent) = if self.users.contains_key(&signer) {
            (signer, false)
        } else if let Some(a) = self.agents.get(&signer) {
            (a.master, true)
        } else {
            return err(format!(
                "{} {} does not exist.",
                errors::UNKNOWN_SIGNER_PREFIX,
                lower(&signer)
            ));
        };
        if user_signed && via_agent {
            return err(format!(
                "API wallet {} cannot sign {}: it must be signed by the account's own key.",
                lower(&signer),
                req.action.type_name()
            ));
        }
        // The account acted for: a sub-account (vault) of the user, or the user.
        let acting = match (&req.vault_address, user_signed) {
            (Some(Addr(v)), false) => match self.users.get(v) {
                Some(u) if u.master == Some(user) => *v,
                _ => {
                    return err(format!(
                        "{}: {}",
                        errors::VAULT_NOT_REGISTERED_PREFIX,
                        lower(v)
                    ));
                }
            },
            _ => user,
        };
        if !self.funded(&acting) && !matches!(req.action, Action::ApproveAgent(_)) {
            return err(format!(
                "{} User: {}",
                errors::MUST_DEPOSIT_PREFIX,
                lower(&acting)
            ));
        }
        if let Some(t) = req.expires_after {
            if user_signed {
                return err("expiresAfter is not supported for user-signed actions.");
            }
            if (t as i64) < now {
                return err(format!("Action expired: expiresAfter {t} is before {now}."));
            }
        }
        if let Some((_, _, t)) = req.action.user_signed_meta()
            && t != req.nonce
        {
            return err(format!(
                "{}: the action's time {t} differs from the request's nonce {}",
                errors::INVALID_NONCE_PREFIX,
                req.nonce
            ));
        }
        if let Err(m) = self
            .nonces
            .entry(signer)
            .or_default()
            .accept(req.nonce, now.max(0) as u64)
        {
            return err(m);
        }
        if let Err(m) = self.spend_budget(acting, &req.action, now) {
            return err(m);
        }
        self.execute(acting, user, req, now)
    }

    fn execute(
        &mut self,
        acting: Address,
        user: Address,
        req: ExchangeRequest,
        now: TimestampMs,
    ) -> ExchangeResponse {
        let name = self.users[&acting].name.clone();
        match req.action {
            Action::Order(o) => {
                let v = o
                    .orders
                    .iter()
                    .map(|w| self.engine.place(&name, w, now))
                    .collect();
                ExchangeResponse::Ok(OkResponse::Order(statuses(v)))
            }
            Action::Cancel(c) => {
                let v = c
                    .cancels
                    .iter()
                    .map(|x| {
                        self.engine.cancel(
                            &name,
                            x.a,
                            &ballast_venue_hyperliquid::wire::OidRef::Oid(x.o),
                            now,
                        )
                    })
                    .collect();
                ExchangeResponse::Ok(OkResponse::Cancel(statuses(v)))
            }
            Action::CancelByCloid(c) => {
                let v = c
                    .cancels
                    .iter()
                    .map(|x| {
                        self.engine.cancel(
                            &name,
                            x.asset,
                            &ballast_venue_hyperliquid::wire::OidRef::Cloid(x.cloid.clone()),
                            now,
                        )
                    })
                    .collect();
                ExchangeResponse::Ok(OkResponse::Cancel(statuses(v)))
            }
            Action::Modify(m) => match self.engine.modify(&name, &m.oid, &m.order, now) {
                StatusEntry::Error(msg) => err(msg),
                _ => ok_default(),
            },
            Action::BatchModify(b) => {
                let v = b
                    .modifies
                    .iter()
                    .map(|m| self.engine.modify(&name, &m.oid, &m.order, now))
                    .collect();
                ExchangeResponse::Ok(OkResponse::Order(statuses(v)))
            }
            Action::ScheduleCancel(s) => {
                let u = self.users.get_mut(&acting).expect("acting user");
                match s.time {
                    None => {
                        u.dead_man = None;
                        ok_default()
                    }
                    Some(t) => {
                        let t = t as i64;
                        if t < now + SCHEDULE_CANCEL_MIN_AHEAD_MS {
                            return err(
                                "Scheduled cancel time too early, must be at least 5 seconds from now.",
                            );
                        }
                        let day = now.div_euclid(DAY_MS);
                        if u.dead_man_day.0 == day && u.dead_man_day.1 >= SCHEDULE_CANCEL_PER_DAY {
                            return err("Too many scheduled cancels triggered today.");
                        }
                        u.dead_man = Some(t);
                        ok_default()
                    }
                }
            }
            Action::Noop => ok_default(),
            Action::SpotSend(a) => {
                let Some(token) = self.engine.token_by_wire(&a.token) else {
                    return err(format!("Invalid token {}.", a.token));
                };
                if ballast_venue_hyperliquid::wallet::system_token(&a.destination.0).is_some() {
                    return self.send_to_evm(acting, a.destination.0, &token, a.amount.value, now);
                }
                self.transfer(
                    acting,
                    Place::Spot,
                    a.destination.0,
                    Place::Spot,
                    &token,
                    a.amount.value,
                    now,
                )
            }
            Action::UsdSend(a) => self.transfer(
                acting,
                Place::Perp,
                a.destination.0,
                Place::Perp,
                "USDC",
                a.amount.value,
                now,
            ),
            Action::SendAsset(a) => {
                let Some(token) = self.engine.token_by_wire(&a.token) else {
                    return err(format!("Invalid token {}.", a.token));
                };
                let place = |dex: &str| match dex {
                    "" => Some(Place::Perp),
                    "spot" => Some(Place::Spot),
                    _ => None,
                };
                let (Some(from), Some(to)) = (place(&a.source_dex), place(&a.destination_dex))
                else {
                    return err("Unknown dex.");
                };
                if (from == Place::Perp || to == Place::Perp) && token != "USDC" {
                    return err("Only USDC can be sent to or from perps.");
                }
                let source = if a.from_sub_account.is_empty() {
                    user
                } else {
                    match parse_address(&a.from_sub_account.to_ascii_lowercase()) {
                        Some(s) if self.users.get(&s).is_some_and(|u| u.master == Some(user)) => s,
                        _ => return err(format!("Invalid sub-account {}.", a.from_sub_account)),
                    }
                };
                self.transfer(
                    source,
                    from,
                    a.destination.0,
                    to,
                    &token,
                    a.amount.value,
                    now,
                )
            }
            Action::Withdraw3(a) => {
                let amount = a.amount.value;
                if amount <= WITHDRAW_FEE {
                    return err(format!(
                        "Withdrawal amount must be more than the {WITHDRAW_FEE} USDC fee."
                    ));
                }
                let u = self.users.get_mut(&acting).expect("acting user");
                if u.perp < amount {
                    return err("Insufficient balance for withdrawal.");
                }
                u.perp -= amount;
                self.withdrawals.push(Withdrawal {
                    user: acting,
                    destination: a.destination.0,
                    amount,
                    fee: WITHDRAW_FEE,
                    nonce: req.nonce,
                    time: now,
                });
                self.record(
                    acting,
                    now,
                    LedgerDelta::Withdraw {
                        usdc: amount.into(),
                        nonce: req.nonce,
                        fee: WITHDRAW_FEE.into(),
                    },
                );
                ok_default()
            }
            Action::UsdClassTransfer(a) => {
                // The Python SDK appends " subaccount:0x..." to act for a sub-account.
                let target = match a.amount.text.split_once(" subaccount:") {
                    None => acting,
                    Some((_, s)) => match parse_address(&s.to_ascii_lowercase()) {
                        Some(s) if self.users.get(&s).is_some_and(|u| u.master == Some(user)) => s,
                        _ => return err(format!("Invalid sub-account {s}.")),
                    },
                };
                let (from, to) = if a.to_perp {
                    (Place::Spot, Place::Perp)
                } else {
                    (Place::Perp, Place::Spot)
                };
                self.transfer(target, from, target, to, "USDC", a.amount.value, now)
            }
            Action::ApproveAgent(a) => {
                let agent = a.agent_address.0;
                if self.users.contains_key(&agent) {
                    return err("Agent address is already a user.");
                }
                if let Some(prev) = self.agents.get(&agent)
                    && prev.master != user
                {
                    return err("Agent already approved for another user.");
                }
                let name = a.agent_name.filter(|n| !n.is_empty());
                if name.is_none() {
                    // A new unnamed agent replaces the previous unnamed one.
                    self.agents
                        .retain(|_, g| !(g.master == user && g.name.is_none()));
                }
                self.agents.insert(agent, Agent { master: user, name });
                ok_default()
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        from: Address,
        from_place: Place,
        to: Address,
        to_place: Place,
        token: &str,
        amount: Decimal,
        now: TimestampMs,
    ) -> ExchangeResponse {
        if amount <= Decimal::ZERO {
            return err("Invalid amount.");
        }
        let from_name = self.users[&from].name.clone();
        match from_place {
            Place::Spot => {
                if let Err(m) = self.engine.debit(&from_name, token, amount, now) {
                    return err(m);
                }
            }
            Place::Perp => {
                let u = self.users.get_mut(&from).expect("known");
                if u.perp < amount {
                    return err("Insufficient balance.");
                }
                u.perp -= amount;
            }
        }
        let to_name = self.ensure_user(to);
        match to_place {
            Place::Spot => {
                if let Err(m) = self.engine.credit(&to_name, token, amount) {
                    return err(m);
                }
            }
            Place::Perp => self.users.get_mut(&to).expect("ensured").perp += amount,
        }
        let delta = if from == to {
            LedgerDelta::AccountClassTransfer {
                usdc: amount.into(),
                to_perp: to_place == Place::Perp,
            }
        } else if from_place == Place::Perp && to_place == Place::Perp {
            LedgerDelta::InternalTransfer {
                usdc: amount.into(),
                user: Addr(from),
                destination: Addr(to),
                fee: Decimal::ZERO.into(),
            }
        } else {
            LedgerDelta::SpotTransfer {
                token: token.to_string(),
                amount: amount.into(),
                usdc_value: if token == "USDC" {
                    amount
                } else {
                    Decimal::ZERO
                }
                .into(),
                user: Addr(from),
                destination: Addr(to),
                fee: Decimal::ZERO.into(),
            }
        };
        self.record(from, now, delta.clone());
        if from != to {
            self.record(to, now, delta);
        }
        ok_default()
    }

    /// An `/info` request: the answer and how many items it returned (for the rate limit).
    pub fn info(&mut self, req: &InfoRequest, now: TimestampMs) -> (Value, usize) {
        self.tick(now);
        let name = |s: &Self, a: &Addr| s.name_of(&a.0).map(str::to_string);
        match req {
            InfoRequest::Meta { .. } => (js(&PerpMeta::default()), 0),
            InfoRequest::SpotMeta {} => (js(self.engine.spot_meta()), 0),
            InfoRequest::SpotMetaAndAssetCtxs {} => (
                json!([js(self.engine.spot_meta()), js(&self.engine.asset_ctxs())]),
                0,
            ),
            InfoRequest::L2Book { coin, .. } => (
                self.engine
                    .l2_book(coin)
                    .map(|b| js(&b))
                    .unwrap_or(Value::Null),
                0,
            ),
            InfoRequest::AllMids { .. } => (js(&self.engine.all_mids()), 0),
            InfoRequest::ClearinghouseState { user, .. } => {
                let perp = self.perp_usdc(&user.0);
                let summary = MarginSummary {
                    account_value: perp.into(),
                    total_margin_used: Decimal::ZERO.into(),
                    total_ntl_pos: Decimal::ZERO.into(),
                    total_raw_usd: perp.into(),
                };
                (
                    js(&ClearinghouseState {
                        asset_positions: Vec::new(),
                        cross_maintenance_margin_used: Decimal::ZERO.into(),
                        cross_margin_summary: summary.clone(),
                        margin_summary: summary,
                        time: now,
                        withdrawable: perp.into(),
                    }),
                    0,
                )
            }
            InfoRequest::SpotClearinghouseState { user } => {
                let balances = name(self, user)
                    .map(|n| self.engine.spot_balances(&n))
                    .unwrap_or_default();
                (js(&SpotClearinghouseState { balances }), 0)
            }
            InfoRequest::OpenOrders { user, .. } => {
                let v = name(self, user)
                    .map(|n| self.engine.open_orders(&n))
                    .unwrap_or_default();
                (js(&v), v.len())
            }
            InfoRequest::FrontendOpenOrders { user, .. } => {
                let v = name(self, user)
                    .map(|n| self.engine.frontend_open_orders(&n))
                    .unwrap_or_default();
                (js(&v), v.len())
            }
            InfoRequest::OrderStatus { user, oid } => {
                let a = name(self, user)
                    .map(|n| self.engine.order_status(&n, oid))
                    .unwrap_or(OrderStatusAnswer::UnknownOid);
                (js(&a), 0)
            }
            InfoRequest::UserFills { user, .. } => {
                let mut v = name(self, user)
                    .map(|n| self.engine.fills(&n, 0, None))
                    .unwrap_or_default();
                v.reverse();
                v.truncate(2000);
                (js(&v), v.len())
            }
            InfoRequest::UserFillsByTime {
                user,
                start_time,
                end_time,
                ..
            } => {
                let mut v = name(self, user)
                    .map(|n| self.engine.fills(&n, *start_time, *end_time))
                    .unwrap_or_default();
                v.truncate(2000);
                (js(&v), v.len())
            }
            InfoRequest::UserRateLimit { user } => {
                let (vol, used) = match self.users.get(&user.0) {
                    Some(u) => (self.engine.cum_volume(&u.name), u.requests),
                    None => (Decimal::ZERO, 0),
                };
                (
                    js(&UserRateLimit {
                        cum_vlm: vol.into(),
                        n_requests_used: used,
                        n_requests_cap: address_cap(vol),
                        n_requests_surplus: 0,
                    }),
                    0,
                )
            }
            InfoRequest::UserNonFundingLedgerUpdates {
                user,
                start_time,
                end_time,
            } => {
                let v: Vec<LedgerUpdate> = self
                    .users
                    .get(&user.0)
                    .map(|u| {
                        u.ledger
                            .iter()
                            .filter(|l| {
                                l.time >= *start_time && end_time.is_none_or(|e| l.time <= e)
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                (js(&v), v.len())
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Spot,
    Perp,
}

fn js<T: serde::Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).expect("answers serialize")
}
