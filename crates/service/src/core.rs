//! [`Service`]: the rebalancing job. One [`Service::cycle`] measures, plans, starts legs and advances the
//! working ones; [`Service::round`] advances legs between cycles. It owns the journal lease, the engine,
//! the connected world, the auctions in flight and the kill switch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rust_decimal::Decimal;
use serde_json::json;

use super::decide::{self, Decision, Inputs};
use super::driver::{Driver, Task};
use super::kill::{KV_KILL, KillState, KillSwitch};
use super::observe::{self, WorldView};
use super::status::{ChainStatus, LegStatus, Status, VenueStatus};
use super::world::World;
use ballast_chain::IntentId;
use ballast_config::service::Mode;
use ballast_config::{Config, ConfigErrors};
use ballast_core::auction::Report;
use ballast_core::control::{ControllerState, StepError};
use ballast_core::engine::Engine;
use ballast_core::leg::{Leg, Stage};
use ballast_core::model::TimestampMs;
use ballast_exec::executor::{ExecError, Executor};
use ballast_exec::{ClientOrderId, Clock, OrderState, Venue};
use ballast_store::{Journal, Lease, Stamp, StoreError};

/// The journal lease's name.
pub const LEASE: &str = "daemon";
const KV_CONTROLLER: &str = "controller_state";
const KV_WORLD: &str = "world";

/// Why the service cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("another daemon holds the journal {path}: {source}")]
    LeaseHeld {
        path: String,
        source: Box<StoreError>,
    },
    #[error("the journal lease was lost: {0}")]
    LeaseLost(String),
    #[error("{0}")]
    World(#[from] super::world::WorldError),
    #[error("{0}")]
    Step(#[from] StepError),
    #[error("{0}")]
    Other(String),
}

/// What a cycle ended with (also `ballast once`'s exit code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CycleOutcome {
    /// Measured, planned, acted.
    Ok { started: usize },
    /// No new move: the kill switch.
    HeldByKillSwitch(String),
    /// No new move: a read failed, balances are stale, or a breaker holds.
    Degraded(String),
}

impl CycleOutcome {
    pub fn label(&self) -> String {
        match self {
            CycleOutcome::Ok { started } => format!("ok ({started} new legs)"),
            CycleOutcome::HeldByKillSwitch(r) => format!("held: {r}"),
            CycleOutcome::Degraded(r) => format!("degraded: {r}"),
        }
    }
}

/// How the service is started.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// Who owns the lease (daemon id).
    pub owner: String,
    /// Wait this long for another daemon's lease to expire before giving up.
    pub wait_for_lease: Duration,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            owner: format!("ballast-{}", std::process::id()),
            wait_for_lease: Duration::ZERO,
        }
    }
}

/// The running service.
pub struct Service {
    pub cfg: Config,
    engine: Engine,
    pub journal: Journal,
    lease: Lease,
    stamp: Stamp,
    clock: Arc<dyn Clock>,
    pub world: World,
    executor: Arc<Executor>,
    auctions: HashMap<String, tokio::task::JoinHandle<Result<Report, ExecError>>>,
    /// The live progress of each running auction, by leg (for the status and the table).
    progress: Arc<std::sync::Mutex<HashMap<String, ballast_exec::executor::Progress>>>,
    kill: KillSwitch,
    pub status: Arc<RwLock<Status>>,
    /// Pending amounts as of the last look at the world, refreshed with the status (`GET /pending`).
    pub pending: super::observe::PendingBoard,
    last_view: Option<WorldView>,
    last_balances: BTreeMap<String, Decimal>,
    markets: BTreeMap<(String, String), (String, String)>,
    alerts: Vec<String>,
    restart_needed: Vec<String>,
}

fn executor_for(world: &World, clock: &Arc<dyn Clock>) -> Arc<Executor> {
    let mut ex = Executor::new(clock.clone());
    for v in world.venues.values() {
        ex.add_venue(v.venue.clone(), 10.0, 5.0);
    }
    Arc::new(ex)
}

/// Start of the UTC day of `t`.
fn day_start(t: TimestampMs) -> TimestampMs {
    t - t.rem_euclid(86_400_000)
}

/// Remove a journal and its WAL files.
fn remove_journal(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Open the journal for a mode. A paper run starts a new journal (the simulated world of an earlier run is
/// gone); a journal a live run wrote is never touched by paper mode.
fn open_journal(cfg: &Config, now: TimestampMs) -> Result<Journal, ServiceError> {
    let path = &cfg.service.journal;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            ServiceError::Other(format!(
                "cannot create the journal's directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let j = Journal::open(path)?;
    let world = j.kv(KV_WORLD)?;
    match (cfg.service.mode, world.as_deref()) {
        (Mode::Paper, Some("live")) => Err(ServiceError::Other(format!(
            "the journal {} belongs to a live run: paper mode will not touch it; give paper mode its own `journal`",
            path.display()
        ))),
        (Mode::Live, Some("paper")) => Err(ServiceError::Other(format!(
            "the journal {} holds a paper run: give live mode its own `journal`",
            path.display()
        ))),
        (Mode::Paper, Some("paper")) => {
            if let Some(l) = j.current_lease(LEASE)?
                && l.expires_ms > now
            {
                return Err(ServiceError::LeaseHeld {
                    path: path.display().to_string(),
                    source: Box::new(StoreError::LeaseHeld {
                        name: LEASE.into(),
                        owner: l.owner,
                        expires_ms: l.expires_ms,
                    }),
                });
            }
            // The simulated world is gone, but an operator's halt is not: the kill switch carries over when
            // an operator set it. A breaker's trip belongs to the world that tripped it and goes with it.
            let kill = j.kv(KV_KILL)?.filter(|k| {
                let by_breaker = serde_json::from_str::<KillSwitch>(k)
                    .is_ok_and(|k| k.by.starts_with("breaker:"));
                if by_breaker {
                    tracing::info!(kill_switch = %k, "paper: the previous run's breaker trip does not carry over to the new world");
                }
                !by_breaker
            });
            drop(j);
            remove_journal(path).map_err(|e| {
                ServiceError::Other(format!(
                    "cannot replace the paper journal {}: {e}",
                    path.display()
                ))
            })?;
            tracing::info!(journal = %path.display(), "paper: a new run starts a new journal");
            let j = Journal::open(path)?;
            if let Some(k) = kill {
                let stamp = Stamp {
                    actor: "paper-restart".into(),
                    config_version: cfg.version().to_string(),
                    fence: None,
                };
                let detail = json!({"carried_over": true});
                j.put_kv(
                    KV_KILL,
                    &k,
                    Some(("kill_switch.carried_over", &detail)),
                    &stamp,
                    now,
                )?;
            }
            Ok(j)
        }
        _ => Ok(j),
    }
}

impl Service {
    /// Validate, open the journal, take the lease, connect the world and recover what a previous run left.
    pub async fn start(
        cfg: Config,
        clock: Arc<dyn Clock>,
        opts: StartOptions,
    ) -> Result<Service, ServiceError> {
        if !cfg.service.mode_problems.is_empty() {
            return Err(ServiceError::Config(ConfigErrors(
                cfg.service.mode_problems.clone(),
            )));
        }
        if cfg.service.mode == Mode::Paper {
            super::paper::check_inputs(&cfg)?;
        }
        let now = clock.now_ms();
        let deadline = Instant::now() + opts.wait_for_lease;
        // A paper start replaces the journal only once the previous run's lease is gone: wait for it as for
        // the lease itself.
        let journal = loop {
            match open_journal(&cfg, clock.now_ms()) {
                Err(ServiceError::LeaseHeld { source, .. }) if Instant::now() < deadline => {
                    tracing::warn!("{source}; waiting for it to expire");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                r => break r?,
            }
        };
        let ttl = cfg.service.lease_ttl.as_millis() as i64;
        let lease = loop {
            match journal.acquire_lease(LEASE, &opts.owner, cfg.version(), ttl, clock.now_ms()) {
                Ok(l) => break l,
                Err(e @ StoreError::LeaseHeld { .. }) => {
                    if Instant::now() >= deadline {
                        return Err(ServiceError::LeaseHeld {
                            path: cfg.service.journal.display().to_string(),
                            source: Box::new(e),
                        });
                    }
                    tracing::warn!("{e}; waiting for it to expire");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        // A start that fails from here on gives the lease back, so a standby (or the next try) need not wait
        // for it to expire.
        let (j, l) = (journal.clone(), lease.clone());
        match Self::start_leased(cfg, clock.clone(), opts, journal, lease, now).await {
            Ok(s) => Ok(s),
            Err(e) => {
                if let Err(re) = j.release_lease(&l, clock.now_ms()) {
                    tracing::warn!("the lease could not be given back after a failed start: {re}");
                }
                Err(e)
            }
        }
    }

    async fn start_leased(
        cfg: Config,
        clock: Arc<dyn Clock>,
        opts: StartOptions,
        journal: Journal,
        lease: Lease,
        now: TimestampMs,
    ) -> Result<Service, ServiceError> {
        let stamp = Stamp {
            actor: opts.owner.clone(),
            config_version: cfg.version().to_string(),
            fence: Some(lease.fence()),
        };
        journal.put_kv(KV_WORLD, cfg.service.mode.as_str(), None, &stamp, now)?;
        tracing::info!(owner = %opts.owner, token = lease.token, journal = %cfg.service.journal.display(), mode = cfg.service.mode.as_str(), version = cfg.version(), "journal lease taken");
        let world = match cfg.service.mode {
            Mode::Live => World::connect_live(&cfg, &journal, clock.clone(), &stamp).await?,
            Mode::Paper => {
                super::paper::connect_paper(&cfg, &journal, clock.clone(), &stamp).await?
            }
        };
        let executor = executor_for(&world, &clock);
        let mut engine = ballast_config::adapt::engine(&cfg);
        if let Some(s) = journal.kv(KV_CONTROLLER)? {
            match serde_json::from_str::<ControllerState>(&s) {
                Ok(st) => engine.import_state(&st),
                Err(e) => tracing::warn!(
                    "controller state in the journal is unreadable ({e}); starting fresh"
                ),
            }
        }
        let kill = match journal.kv(KV_KILL)? {
            Some(s) => serde_json::from_str(&s).map_err(|e| {
                ServiceError::Other(format!("the kill switch record is unreadable: {e}"))
            })?,
            None => {
                let k = KillSwitch::active(now);
                journal.put_kv(
                    KV_KILL,
                    &serde_json::to_string(&k).unwrap_or_default(),
                    None,
                    &stamp,
                    now,
                )?;
                k
            }
        };
        if kill.state != KillState::Active {
            tracing::warn!(state = %kill.state, reason = %kill.reason, by = %kill.by, "the kill switch is not active: no new moves until `ballast resume`");
        }
        let status = Status {
            mode: cfg.service.mode.as_str().into(),
            config: cfg.source.display().to_string(),
            config_version: cfg.version().into(),
            owner: opts.owner.clone(),
            started_ms: now,
            kill: Some(kill.clone()),
            ..Status::default()
        };
        let mut svc = Service {
            cfg,
            engine,
            journal,
            lease,
            stamp,
            clock,
            world,
            executor,
            auctions: HashMap::new(),
            progress: Default::default(),
            kill,
            status: Arc::new(RwLock::new(status)),
            pending: Default::default(),
            last_view: None,
            last_balances: BTreeMap::new(),
            markets: BTreeMap::new(),
            alerts: Vec::new(),
            restart_needed: Vec::new(),
        };
        svc.recover().await;
        Ok(svc)
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn kill_switch(&self) -> &KillSwitch {
        &self.kill
    }

    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// After a restart: rebroadcast chain transfers a crash left unsent, and cancel every order of ours
    /// still working on a venue (no auction runs yet in this process; interrupted swaps are folded in from
    /// the venues' records when their legs are next advanced).
    async fn recover(&mut self) {
        for (name, c) in &self.world.chains {
            match c.chain.recover().await {
                Ok(r) if !r.is_empty() => {
                    tracing::info!(chain = %name, open = r.len(), "recovered open transfers from the journal")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(chain = %name, "recovering transfers: {e}"),
            }
        }
        let sent: BTreeSet<(String, String)> = match self.journal.sent_orders() {
            Ok(v) => v.into_iter().map(|o| (o.venue, o.client_id)).collect(),
            Err(e) => {
                tracing::error!("journal: {e}");
                return;
            }
        };
        if sent.is_empty() {
            return;
        }
        for (name, v) in &self.world.venues {
            match v.venue.inner().open_orders(None).await {
                Ok(open) => {
                    for o in open {
                        if o.state == OrderState::Open
                            && sent.contains(&(name.clone(), o.client_id.as_hex().to_string()))
                        {
                            tracing::info!(venue = %name, client_id = %o.client_id, "cancelling an order a previous run left working");
                            if let Err(e) = v.venue.inner().cancel(&o.market, &o.client_id).await {
                                tracing::warn!(venue = %name, client_id = %o.client_id, "cancel: {e}");
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(venue = %name, "open orders: {e} (interrupted swaps are resolved by client id later)")
                }
            }
        }
    }

    /// Renew the journal lease; a lost lease is fatal.
    pub fn renew_lease(&mut self) -> Result<(), ServiceError> {
        let ttl = self.cfg.service.lease_ttl.as_millis() as i64;
        match self
            .journal
            .renew_lease(&self.lease, ttl, self.clock.now_ms())
        {
            Ok(l) => {
                self.lease = l;
                Ok(())
            }
            Err(e @ StoreError::Fenced { .. }) => Err(ServiceError::LeaseLost(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Markets the routes use, per venue.
    fn route_markets(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &self.cfg.routes {
            if let Some(mk) = &r.market {
                m.entry(r.venue.clone()).or_default().insert(mk.clone());
            }
        }
        m
    }

    async fn refresh_markets(&mut self) {
        for (venue, mkts) in self.route_markets() {
            for m in mkts {
                let k = (venue.clone(), m.clone());
                if self.markets.contains_key(&k) {
                    continue;
                }
                if let Ok(r) = self.executor.rules(&venue, &m).await {
                    self.markets.insert(k, (r.base, r.quote));
                }
            }
        }
    }

    /// One look at the world for the unsettled legs.
    pub async fn observe(&self, legs: &[Leg]) -> WorldView {
        observe::observe(
            &self.world,
            legs,
            &self.route_markets(),
            self.clock.now_ms(),
        )
        .await
    }

    fn claimed_arrivals(&self) -> Result<BTreeSet<String>, StoreError> {
        Ok(self
            .journal
            .claimed("arrival")?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Advance every unsettled leg one step against `view`.
    pub async fn advance(&mut self, view: &WorldView) -> Result<(), ServiceError> {
        let legs: Vec<Leg> = self
            .journal
            .unsettled_legs()?
            .into_iter()
            .filter(|l| l.stage != Stage::Failed)
            .collect();
        self.advance_legs(legs, view).await
    }

    async fn advance_legs(&mut self, legs: Vec<Leg>, view: &WorldView) -> Result<(), ServiceError> {
        let mut tasks = Vec::with_capacity(legs.len());
        for l in &legs {
            let t = match self.auctions.get(&l.id) {
                Some(h) if h.is_finished() => {
                    let h = self.auctions.remove(&l.id).expect("present");
                    match h.await {
                        Ok(r) => Task::Finished(Box::new(r)),
                        Err(e) => Task::Finished(Box::new(Err(ExecError::UnknownVenue(format!(
                            "auction task failed: {e}"
                        ))))),
                    }
                }
                Some(_) => Task::Running,
                None => Task::None,
            };
            tasks.push(t);
        }
        let (declined, _) = decide::mid_breaker(&self.cfg, view, &self.markets);
        let driver = Driver {
            cfg: &self.cfg,
            world: &self.world,
            journal: &self.journal,
            stamp: &self.stamp,
            clock: &self.clock,
            executor: &self.executor,
            kill: self.kill.state,
            declined: &declined,
            view,
        };
        let before: HashMap<String, Stage> = legs.iter().map(|l| (l.id.clone(), l.stage)).collect();
        let outcomes = join_all(legs.into_iter().zip(tasks).map(|(l, t)| driver.step(l, t))).await;
        let mut fatal = None;
        let mut st = self.status.write().unwrap_or_else(|p| p.into_inner());
        for o in outcomes {
            if let Some(f) = o.fatal {
                fatal = Some(f);
            }
            for a in &o.alerts {
                if !self.alerts.contains(a) {
                    self.alerts.push(a.clone());
                }
            }
            st.counters.legs_started += o.new_legs as u64;
            let was = before.get(&o.leg.id).copied();
            if was != Some(o.leg.stage) {
                match o.leg.stage {
                    Stage::Done => {
                        st.counters.legs_done += 1;
                        let now = self.clock.now_ms();
                        for c in st.quality.record(&o.leg, &self.cfg.service.quality, now) {
                            tracing::warn!(leg = %o.leg.id, threshold = true, "{c}");
                        }
                    }
                    Stage::Failed => st.counters.legs_failed += 1,
                    Stage::Expired => st.counters.legs_expired += 1,
                    _ => {}
                }
            }
            if let Some(job) = o.spawn {
                let ex = self.executor.clone();
                tracing::info!(leg = %o.leg.id, venue = %job.venue, market = %job.market, side = %job.side, qty = %job.qty, intent = %job.intent, "auction started");
                let (board, leg_id) = (self.progress.clone(), o.leg.id.clone());
                self.auctions.insert(
                    o.leg.id.clone(),
                    tokio::spawn(async move {
                        ex.run_one(&job, |p| {
                            board
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(leg_id.clone(), p.clone());
                        })
                        .await
                    }),
                );
            }
        }
        drop(st);
        if let Some(f) = fatal {
            return Err(ServiceError::LeaseLost(f));
        }
        Ok(())
    }

    /// Advance legs between cycles.
    pub async fn round(&mut self) -> Result<(), ServiceError> {
        let legs = self.journal.unsettled_legs()?;
        let view = self.observe(&legs).await;
        self.advance(&view).await?;
        self.last_view = Some(view);
        self.refresh_status(None, None);
        Ok(())
    }

    /// One cycle: observe, advance working legs, decide, start new legs.
    pub async fn cycle(&mut self) -> Result<CycleOutcome, ServiceError> {
        let t0 = Instant::now();
        let now = self.clock.now_ms();
        let seq = self.journal.begin_cycle(&self.stamp, now)?;
        self.refresh_markets().await;
        let legs = self.journal.unsettled_legs()?;
        let view = self.observe(&legs).await;
        self.advance(&view).await?;
        self.check_reject_breaker()?;
        let legs = self.journal.unsettled_legs()?;
        let today = self.journal.legs_since(day_start(now))?;
        let claimed = self.claimed_arrivals()?;
        let cpu0 = Instant::now();
        let inputs = Inputs {
            cfg: &self.cfg,
            seq,
            now,
            kill: &self.kill,
            moved_today: decide::moved_since(&today, day_start(now)),
            markets: &self.markets,
            claimed_arrivals: &claimed,
            last_balances: &self.last_balances,
        };
        let decision = match decide::decide(&mut self.engine, &legs, &view, &inputs) {
            Ok(d) => d,
            Err(e) => {
                let _ = self
                    .journal
                    .end_cycle(seq, "error", &json!({"error": e.to_string()}), now);
                return Err(e.into());
            }
        };
        let cpu = cpu0.elapsed();
        let state = serde_json::to_string(&self.engine.export_state()).unwrap_or_default();
        self.journal
            .put_kv(KV_CONTROLLER, &state, None, &self.stamp, now)?;
        if !decision.new_legs.is_empty() {
            self.journal
                .save_new_legs(&decision.new_legs, &self.stamp, now)?;
            for l in &decision.new_legs {
                tracing::info!(leg = %l.id, venue = %l.venue, from = %l.from, to = %l.to, amount = %l.amount_in, value = %l.value.round_dp(2), "leg planned");
            }
            self.status
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .counters
                .legs_started += decision.new_legs.len() as u64;
            let new = decision.new_legs.clone();
            self.advance_legs(new, &view).await?;
        }
        let outcome = match &decision.held {
            None => CycleOutcome::Ok {
                started: decision.new_legs.len(),
            },
            Some(h) if self.kill.state != KillState::Active => {
                CycleOutcome::HeldByKillSwitch(h.clone())
            }
            Some(h) => CycleOutcome::Degraded(h.clone()),
        };
        let summary = json!({
            "outcome": outcome.label(),
            "new_legs": decision.new_legs.iter().map(|l| &l.id).collect::<Vec<_>>(),
            "held": decision.held,
            "portfolio_value": decision.audit.step.portfolio_value,
        });
        self.journal.end_cycle(
            seq,
            match outcome {
                CycleOutcome::Ok { .. } => "ok",
                CycleOutcome::HeldByKillSwitch(_) => "held",
                CycleOutcome::Degraded(_) => "degraded",
            },
            &summary,
            self.clock.now_ms(),
        )?;
        self.last_balances = decision.balances.clone();
        self.last_view = Some(view);
        {
            let mut st = self.status.write().unwrap_or_else(|p| p.into_inner());
            st.cycle = seq;
            st.counters.cycles += 1;
            st.last_cycle_ms = Some(now);
            st.last_cycle_seconds = t0.elapsed().as_secs_f64();
            st.last_cycle_cpu_seconds = cpu.as_secs_f64();
            st.last_cycle_outcome = outcome.label();
        }
        self.refresh_status(
            Some(&decision),
            Some(
                decide::moved_since(&today, day_start(now))
                    + decision.new_legs.iter().map(|l| l.value).sum::<Decimal>(),
            ),
        );
        Ok(outcome)
    }

    /// The consecutive-rejects breaker: too many rejections in a row put the kill switch to reduce-only.
    fn check_reject_breaker(&mut self) -> Result<(), ServiceError> {
        let max = self.cfg.service.breakers.max_consecutive_rejects;
        if max == 0 || self.kill.state != KillState::Active {
            return Ok(());
        }
        for v in self.world.venues.values() {
            let n = v
                .venue
                .stats
                .consecutive_rejects
                .load(std::sync::atomic::Ordering::Relaxed);
            if n >= max {
                v.venue
                    .stats
                    .consecutive_rejects
                    .store(0, std::sync::atomic::Ordering::Relaxed);
                let reason = format!("{} rejected {n} requests in a row", v.name);
                tracing::error!(
                    alert = true,
                    "breaker: {reason}; the kill switch goes to reduce-only"
                );
                self.set_kill(
                    KillState::ReduceOnly,
                    &reason,
                    "breaker:consecutive_rejects",
                )?;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Set the kill switch (journaled). Halting cancels every working order at once.
    pub fn set_kill(
        &mut self,
        state: KillState,
        reason: &str,
        by: &str,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now_ms();
        let k = KillSwitch {
            state,
            reason: reason.to_string(),
            by: by.to_string(),
            since_ms: now,
        };
        let detail = serde_json::to_value(&k).unwrap_or_default();
        self.journal.put_kv(
            KV_KILL,
            &serde_json::to_string(&k).unwrap_or_default(),
            Some(("kill_switch.set", &detail)),
            &self.stamp,
            now,
        )?;
        let was = self.kill.state;
        self.kill = k.clone();
        tracing::warn!(state = %state, reason = %reason, by = %by, "kill switch set");
        if state == KillState::Halted && was != KillState::Halted {
            // Working auctions cancel their orders and end; later auctions use a fresh executor.
            self.executor.shutdown();
            self.executor = executor_for(&self.world, &self.clock);
        }
        self.status.write().unwrap_or_else(|p| p.into_inner()).kill = Some(k);
        Ok(())
    }

    /// Re-read the configuration file. On any error the running configuration stays and every error is
    /// returned. Gains, targets, bands, limits, routes, prices, breakers, TTLs and the auction schedule
    /// change; what needs a restart is reported and not applied.
    pub fn reload(&mut self) -> Result<ReloadReport, ConfigErrors> {
        let new = Config::load(&self.cfg.source)?;
        if new.digest == self.cfg.digest {
            return Ok(ReloadReport::default());
        }
        if !new.service.mode_problems.is_empty() {
            return Err(ConfigErrors(new.service.mode_problems.clone()));
        }
        let mut restart = Vec::new();
        let old = &self.cfg;
        if format!("{:?}", old.venues) != format!("{:?}", new.venues) {
            restart.push("venues (and their keys)".to_string());
        }
        if old.chains != new.chains {
            restart.push("chains (and their keys)".to_string());
        }
        let (o, n) = (&old.service, &new.service);
        for (what, changed) in [
            ("service.journal", o.journal != n.journal),
            ("mode", o.mode != n.mode),
            ("service.http_listen", o.http_listen != n.http_listen),
            ("service.token_env", o.token_env != n.token_env),
            ("service.lease_ttl", o.lease_ttl != n.lease_ttl),
            ("service.log_format", o.log_format != n.log_format),
            ("[paper]", o.paper != n.paper),
        ] {
            if changed {
                restart.push(what.to_string());
            }
        }
        // Routes and positions must stay within the venues and chains that are running.
        let mut problems = Vec::new();
        for r in &new.routes {
            if !self.world.venues.contains_key(&r.venue) {
                problems.push(format!(
                    "route {} -> {} uses venue {:?}, which is not running",
                    r.from, r.to, r.venue
                ));
            }
        }
        if !self.world.chains.is_empty() {
            for p in &new.positions {
                if !self.world.chains.contains_key(&p.key.chain) {
                    problems.push(format!(
                        "position {} is on chain {:?}, which is not running",
                        p.key, p.key.chain
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(ConfigErrors(
                problems
                    .into_iter()
                    .map(|m| ballast_config::Problem {
                        file: new.source.display().to_string(),
                        line: None,
                        path: String::new(),
                        message: format!("{m} (a new venue or chain needs a restart)"),
                    })
                    .collect(),
            ));
        }
        let mut merged = new.clone();
        merged.venues = old.venues.clone();
        merged.chains = old.chains.clone();
        merged.service.journal = o.journal.clone();
        merged.service.mode = o.mode;
        merged.service.http_listen = o.http_listen;
        merged.service.token_env = o.token_env.clone();
        merged.service.lease_ttl = o.lease_ttl;
        merged.service.log_format = o.log_format;
        merged.service.paper = o.paper.clone();
        let from = old.version().to_string();
        ballast_config::adapt::reload(&mut self.engine, &merged);
        self.cfg = merged;
        self.stamp.config_version = self.cfg.version().to_string();
        let now = self.clock.now_ms();
        let detail = json!({"from": from, "to": self.cfg.version(), "restart_needed": restart});
        let _ = self.journal.put_kv(
            "config_version",
            self.cfg.version(),
            Some(("config.reloaded", &detail)),
            &self.stamp,
            now,
        );
        self.markets.clear();
        self.restart_needed = restart.clone();
        {
            let mut st = self.status.write().unwrap_or_else(|p| p.into_inner());
            st.config_version = self.cfg.version().into();
            st.counters.reloads += 1;
            st.restart_needed = restart.clone();
        }
        Ok(ReloadReport {
            applied: true,
            from,
            to: self.cfg.version().to_string(),
            restart_needed: restart,
        })
    }

    /// Wait for every auction of this process to end (at most `timeout`), then fold them into their legs.
    pub async fn settle_auctions(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.auctions.values().any(|h| !h.is_finished())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let legs: Vec<Leg> = match self.journal.unsettled_legs() {
            Ok(l) => l
                .into_iter()
                .filter(|l| {
                    l.stage == Stage::Auctioning
                        && self.auctions.get(&l.id).is_some_and(|h| h.is_finished())
                })
                .collect(),
            Err(_) => return,
        };
        if legs.is_empty() {
            return;
        }
        let view = self.last_view.clone().unwrap_or_default();
        if let Err(e) = self.advance_legs(legs, &view).await {
            tracing::error!("folding auctions in: {e}");
        }
    }

    /// Graceful stop: no new orders, working orders cancelled, auctions folded into their legs, the journal
    /// checkpointed and the lease released.
    pub async fn shutdown(mut self) {
        tracing::info!("stopping: cancelling working orders");
        // No new irreversible step from here on.
        self.kill.state = KillState::Halted;
        self.executor.shutdown();
        self.settle_auctions(Duration::from_secs(30)).await;
        let n = self.executor.cancel_open().await;
        if n > 0 {
            tracing::info!(cancels = n, "cancelled orders still working");
        }
        for (_, h) in self.auctions.drain() {
            h.abort();
        }
        if let Err(e) = self.journal.checkpoint() {
            tracing::warn!("journal checkpoint: {e}");
        }
        if let Err(e) = self.journal.release_lease(&self.lease, self.clock.now_ms()) {
            tracing::warn!("releasing the lease: {e}");
        }
        tracing::info!("stopped");
    }

    /// The open alerts.
    pub fn alerts(&self) -> &[String] {
        &self.alerts
    }

    fn refresh_status(&mut self, d: Option<&Decision>, moved_today: Option<Decimal>) {
        let legs = self.journal.unsettled_legs().unwrap_or_default();
        if let Some(view) = &self.last_view {
            let p = self
                .claimed_arrivals()
                .map_err(|e| vec![e.to_string()])
                .and_then(|claimed| observe::pending(&legs, view, &claimed));
            *self.pending.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
        }
        let mut st = self.status.write().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = d {
            st.positions = d.positions.clone();
            st.breakers = d.breakers.clone();
            st.held = d.held.clone();
            st.portfolio_value = d.audit.step.portfolio_value;
        }
        if let Some(m) = moved_today {
            st.value_moved_today = m;
        }
        st.kill = Some(self.kill.clone());
        let mut board = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        board.retain(|id, _| self.auctions.contains_key(id));
        st.legs = legs
            .iter()
            .map(|l| LegStatus::from(l).with_progress(l, board.get(&l.id)))
            .collect();
        drop(board);
        st.alerts = self.alerts.clone();
        st.restart_needed = self.restart_needed.clone();
        if let Some(view) = &self.last_view {
            st.venues = self
                .world
                .venues
                .iter()
                .map(|(name, v)| {
                    let s = &v.venue.stats;
                    let r = std::sync::atomic::Ordering::Relaxed;
                    let read = view.venues.get(name);
                    VenueStatus {
                        name: name.clone(),
                        ok: matches!(read, Some(Ok(_))),
                        error: read.and_then(|r| r.as_ref().err().cloned()),
                        headroom: v.venue.headroom().fraction,
                        orders: s.orders.load(r),
                        replaces: s.replaces.load(r),
                        cancels: s.cancels.load(r),
                        rejects: s.rejects.load(r),
                        errors: s.errors.load(r),
                        rate_limited: s.rate_limited.load(r),
                        fills: s.fills.load(r),
                        mids: read
                            .and_then(|r| r.as_ref().ok())
                            .map(|v| v.mids.clone())
                            .unwrap_or_default(),
                    }
                })
                .collect();
            st.chains = view
                .chains
                .iter()
                .map(|(name, c)| ChainStatus {
                    name: name.clone(),
                    ok: c.is_ok(),
                    error: c.as_ref().err().cloned(),
                    block: c.as_ref().ok().map(|v| v.snapshot.block),
                    age_ms: c.as_ref().ok().map(|v| v.age_ms),
                })
                .collect();
            st.counters.errors =
                st.venues.iter().map(|v| v.errors).sum::<u64>() + view.failures().len() as u64;
        }
    }

    /// Cancel (on the venues) every order of an interrupted attempt; used by tests and `once`.
    pub async fn cancel_journaled(&self, leg: &Leg) {
        let Some(swap) = &leg.swap else { return };
        let Some(v) = self.world.venues.get(&leg.venue) else {
            return;
        };
        for n in 0u32.. {
            let id = ClientOrderId::derive(&swap.intent(&leg.id), n);
            if !self
                .journal
                .order_sent(&leg.venue, id.as_hex())
                .unwrap_or(false)
            {
                break;
            }
            let _ = v.venue.inner().cancel(&swap.market, &id).await;
        }
    }

    /// The deposit intent of a leg, for tests.
    pub fn deposit_intent(leg: &Leg) -> Option<IntentId> {
        leg.deposit_tx.as_deref().map(IntentId::from_journal)
    }
}

/// What a reload did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// False when the file had not changed.
    pub applied: bool,
    pub from: String,
    pub to: String,
    /// Changed settings that only a restart applies.
    pub restart_needed: Vec<String>,
}
