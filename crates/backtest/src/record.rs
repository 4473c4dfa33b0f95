//! `ballast record`: poll the configured venues and chains and append what they hold to a recording that
//! [`super::recording::Recording::read_dir`] reads back, so users build their own history to backtest on.
//!
//! Files in the recording directory (created when missing):
//!
//! - `balances.csv`: `ts,chain,asset,balance`. A chain's rows carry the chain name and, per token and native
//!   asset, the sum over its configured accounts (read at one block). A venue's rows carry the venue name as
//!   `chain` and its account's total per asset (free and held).
//! - `prices.csv`: `ts,asset,price`: the mid of each market a route of the venue names, as the price of the
//!   market's base asset in its quote asset.
//! - `market.csv`: `ts,venue,market,bid,ask,bid_size,ask_size`: the best levels of the same markets.
//!
//! `ts` is RFC 3339 (UTC). Each snapshot is one block of lines per file, written with one `write` and synced
//! before the next poll. Resuming: on open, a torn last line (a crash in the middle of a write) is cut off,
//! and the last timestamp of each file is read; a snapshot is only appended to a file whose last timestamp is
//! before it, so a restart never duplicates rows and timestamps never go backwards, even when the clock
//! does. A source that fails in a cycle is left out of that snapshot (a gap, which the reader carries
//! forward) and reported.

use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;

use super::recording::parse_ts;
use ballast_chain::Chain;
use ballast_config::{Config, VenueSettings};
use ballast_core::model::TimestampMs;
use ballast_exec::{Clock, Venue};

/// Why recording stopped.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An existing file that is not a recording of this kind.
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// The configuration gives nothing to record, or a source cannot be set up.
    #[error("{0}")]
    Setup(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// RFC 3339 in UTC, milliseconds only when there are some.
pub fn format_ts(t: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| t.to_string())
}

// ---------------------------------------------------------------------------------------------------------
// Append-only files with resume

/// One CSV file of the recording, appended to in whole snapshots.
#[derive(Debug)]
pub struct Appender {
    path: PathBuf,
    header: &'static str,
    last_ts: Option<TimestampMs>,
    /// Bytes of a torn last line cut off when the file was opened.
    pub repaired_bytes: u64,
}

impl Appender {
    /// Open `path` (it need not exist): cut a torn last line, check the header, read the last timestamp.
    pub fn open(path: &Path, header: &'static str) -> Result<Appender, RecordError> {
        let mut a = Appender {
            path: path.to_path_buf(),
            header,
            last_ts: None,
            repaired_bytes: 0,
        };
        if !path.exists() {
            return Ok(a);
        }
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        let len = f.metadata().map_err(io_err(path))?.len();
        let mut head = Vec::with_capacity(8192);
        Read::by_ref(&mut f)
            .take(8192)
            .read_to_end(&mut head)
            .map_err(io_err(path))?;
        if let Some(i) = head.iter().rposition(|b| *b == b'\n') {
            a.check_head(&head[..i])?;
        }
        // The tail: enough for the last complete lines (rows are short); the whole file when it is small.
        let mut window = 64 * 1024u64;
        loop {
            let start = len.saturating_sub(window);
            f.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
            let mut tail = Vec::with_capacity((len - start) as usize);
            Read::by_ref(&mut f)
                .take(len - start)
                .read_to_end(&mut tail)
                .map_err(io_err(path))?;
            // Cut a torn last line.
            let complete = match tail.iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                None if start == 0 => 0,
                None => {
                    window *= 4;
                    continue;
                }
            };
            if complete < tail.len() {
                let keep = start + complete as u64;
                f.set_len(keep).map_err(io_err(path))?;
                f.sync_data().map_err(io_err(path))?;
                a.repaired_bytes = len - keep;
                tail.truncate(complete);
            }
            match a.scan_tail(&tail, start == 0)? {
                Some(found) => {
                    a.last_ts = found;
                    return Ok(a);
                }
                None => window *= 4,
            }
        }
    }

    /// The first line that is not empty or a comment must be the header.
    fn check_head(&self, text: &[u8]) -> Result<(), RecordError> {
        let first = text
            .split(|b| *b == b'\n')
            .map(|l| l.trim_ascii())
            .find(|l| !l.is_empty() && l[0] != b'#');
        match first {
            Some(h) if !header_ok(h, self.header) => Err(RecordError::Format {
                path: self.path.clone(),
                message: format!(
                    "expected the header `{}`, found `{}`",
                    self.header,
                    String::from_utf8_lossy(h)
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The last timestamp in `tail` (complete lines). `Some(None)`: the file has no rows yet; `None`: no
    /// row in this window, look further back.
    fn scan_tail(
        &self,
        tail: &[u8],
        whole_file: bool,
    ) -> Result<Option<Option<TimestampMs>>, RecordError> {
        let lines: Vec<&[u8]> = tail
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect();
        // When the window starts mid-file its first line may be partial: never use it.
        let usable = if whole_file { &lines[..] } else { &lines[1..] };
        let mut saw_header = false;
        for l in usable.iter().rev() {
            let t = l.trim_ascii();
            if t.is_empty() || t[0] == b'#' {
                continue;
            }
            if header_ok(t, self.header) {
                saw_header = true;
                break;
            }
            let first = t.split(|b| *b == b',').next().unwrap_or(t).trim_ascii();
            return match parse_ts(first) {
                Some(ts) => Ok(Some(Some(ts))),
                None => Err(RecordError::Format {
                    path: self.path.clone(),
                    message: format!(
                        "the last row's ts {:?} is neither unix milliseconds nor RFC 3339",
                        String::from_utf8_lossy(first)
                    ),
                }),
            };
        }
        if saw_header || (whole_file && tail.iter().all(u8::is_ascii_whitespace)) {
            Ok(Some(None))
        } else if whole_file {
            Err(RecordError::Format {
                path: self.path.clone(),
                message: format!("no header line: expected `{}`", self.header),
            })
        } else {
            Ok(None)
        }
    }

    /// The last timestamp in the file.
    pub fn last_ts(&self) -> Option<TimestampMs> {
        self.last_ts
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append the rows of one snapshot at `ts` (each line ends with `\n`) in one write, then sync. Returns
    /// false (and writes nothing) when the file already has rows at or after `ts`, or `rows` is empty.
    pub fn append(&mut self, ts: TimestampMs, rows: &str) -> Result<bool, RecordError> {
        if rows.is_empty() || self.last_ts.is_some_and(|l| l >= ts) {
            return Ok(false);
        }
        let path = &self.path;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        let empty = f.metadata().map_err(io_err(path))?.len() == 0;
        let mut block = String::with_capacity(rows.len() + self.header.len() + 1);
        if empty {
            block.push_str(self.header);
            block.push('\n');
        }
        block.push_str(rows);
        f.write_all(block.as_bytes()).map_err(io_err(path))?;
        f.sync_data().map_err(io_err(path))?;
        self.last_ts = Some(ts);
        Ok(true)
    }
}

/// Whether a file's header line has the columns the reader needs (`market.csv` may lack the sizes).
fn header_ok(found: &[u8], header: &str) -> bool {
    let found: Vec<String> = found
        .split(|b| *b == b',')
        .map(|f| String::from_utf8_lossy(f.trim_ascii()).to_ascii_lowercase())
        .collect();
    let want: Vec<&str> = header.split(',').collect();
    let required = if header == MARKET_HEADER {
        5
    } else {
        want.len()
    };
    found.len() >= required
        && found.len() <= want.len()
        && found.iter().zip(&want).all(|(f, w)| f == w)
}

/// The three files of a recording directory, opened for appending.
#[derive(Debug)]
pub struct RecordDir {
    pub dir: PathBuf,
    pub balances: Appender,
    pub prices: Appender,
    pub market: Appender,
}

pub const BALANCES_HEADER: &str = "ts,chain,asset,balance";
pub const PRICES_HEADER: &str = "ts,asset,price";
pub const MARKET_HEADER: &str = "ts,venue,market,bid,ask,bid_size,ask_size";

impl RecordDir {
    /// Open (or create) a recording directory for appending. Gzip files cannot be appended to: a directory
    /// holding `balances.csv.gz` is refused.
    pub fn open(dir: &Path) -> Result<RecordDir, RecordError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        for stem in ["balances", "prices", "market"] {
            let gz = dir.join(format!("{stem}.csv.gz"));
            if gz.exists() {
                return Err(RecordError::Format {
                    path: gz,
                    message:
                        "record appends to plain CSV files: decompress it (gunzip) or record into \
                              another directory"
                            .into(),
                });
            }
        }
        Ok(RecordDir {
            dir: dir.to_path_buf(),
            balances: Appender::open(&dir.join("balances.csv"), BALANCES_HEADER)?,
            prices: Appender::open(&dir.join("prices.csv"), PRICES_HEADER)?,
            market: Appender::open(&dir.join("market.csv"), MARKET_HEADER)?,
        })
    }

    /// The last snapshot time over the files.
    pub fn last_ts(&self) -> Option<TimestampMs> {
        [&self.balances, &self.prices, &self.market]
            .iter()
            .filter_map(|a| a.last_ts())
            .max()
    }

    /// Append a snapshot to every file it has rows for. Returns the balance rows written (0 when the
    /// snapshot is not after the file's last one).
    pub fn write(&mut self, s: &Snapshot) -> Result<usize, RecordError> {
        let ts = format_ts(s.ts);
        let mut rows = String::new();
        for b in &s.balances {
            rows.push_str(&format!(
                "{ts},{},{},{}\n",
                b.chain,
                b.asset,
                b.balance.normalize()
            ));
        }
        let written = if self.balances.append(s.ts, &rows)? {
            s.balances.len()
        } else {
            0
        };
        rows.clear();
        for q in &s.quotes {
            if let Some(mid) = q.mid() {
                rows.push_str(&format!("{ts},{},{}\n", q.base, mid.normalize()));
            }
        }
        self.prices.append(s.ts, &rows)?;
        rows.clear();
        for q in &s.quotes {
            if let (Some(b), Some(a)) = (q.bid, q.ask) {
                rows.push_str(&format!(
                    "{ts},{},{},{},{},{},{}\n",
                    q.venue,
                    q.market,
                    b.0.normalize(),
                    a.0.normalize(),
                    b.1.normalize(),
                    a.1.normalize()
                ));
            }
        }
        self.market.append(s.ts, &rows)?;
        Ok(written)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Snapshots

/// One balance row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceRow {
    /// The chain's name, or the venue's for a venue balance.
    pub chain: String,
    pub asset: String,
    pub balance: Decimal,
}

/// The best levels of a market: `(price, size)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteRow {
    pub venue: String,
    pub market: String,
    pub base: String,
    pub quote: String,
    pub bid: Option<(Decimal, Decimal)>,
    pub ask: Option<(Decimal, Decimal)>,
}

impl QuoteRow {
    pub fn mid(&self) -> Option<Decimal> {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) => Some((b.0 + a.0) / Decimal::TWO),
            _ => None,
        }
    }
}

/// What one poll read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub ts: TimestampMs,
    /// Sorted by (chain, asset).
    pub balances: Vec<BalanceRow>,
    pub quotes: Vec<QuoteRow>,
    /// Sources that failed (left out of this snapshot), one message each.
    pub errors: Vec<String>,
}

/// A venue to poll: its balances, and the quotes of these markets.
pub struct VenueSource {
    pub venue: Arc<dyn Venue>,
    /// `(market, base, quote)`.
    pub markets: Vec<(String, String, String)>,
}

/// A chain to poll: the totals of these assets over its accounts.
pub struct ChainSource {
    pub chain: Arc<dyn Chain>,
    pub assets: Vec<String>,
}

/// Everything `record` polls.
#[derive(Default)]
pub struct Sources {
    pub venues: Vec<VenueSource>,
    pub chains: Vec<ChainSource>,
    /// Configured venues and chains that are not polled, and why.
    pub skipped: Vec<String>,
}

impl Sources {
    /// Connect every live venue and chain of a configuration, read-only: no signing key is loaded. Simulated
    /// venues and chains hold nothing real and are skipped (listed in `skipped`). A venue's markets are the
    /// ones its routes name.
    pub async fn from_config(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Sources, RecordError> {
        let mut s = Sources::default();
        for v in &cfg.venues {
            let venue: Arc<dyn Venue> = match &v.settings {
                VenueSettings::Sim(_) => {
                    s.skipped
                        .push(format!("venue {}: simulated, nothing to record", v.name));
                    continue;
                }
                VenueSettings::Hyperliquid(h) => match &h.live {
                    None => {
                        s.skipped.push(format!(
                            "venue {}: no `network` (runs on the simulator), nothing to record",
                            v.name
                        ));
                        continue;
                    }
                    Some(live) => Arc::new(
                        ballast_venue_hyperliquid::HyperliquidClient::new(
                            v.name.clone(),
                            live.client.clone(),
                            None,
                        )
                        .map_err(|e| RecordError::Setup(format!("venue {}: {e}", v.name)))?
                        .with_clock(clock.clone()),
                    ),
                },
                VenueSettings::Binance(b) => Arc::new(
                    ballast_venue_binance::client::BinanceClient::from_settings(&v.name, b)
                        .map_err(|e| RecordError::Setup(e.to_string()))?
                        .with_clock(clock.clone()),
                ),
            };
            // The markets its routes name, and those its settings list (a venue no route may use, such as
            // Hyperliquid's USDT0/USDC, is still worth recording).
            let listed: Vec<String> = match &v.settings {
                VenueSettings::Hyperliquid(h) => h
                    .live
                    .as_ref()
                    .map(|l| l.client.markets.clone())
                    .unwrap_or_default(),
                VenueSettings::Binance(b) => b.markets.clone(),
                VenueSettings::Sim(_) => Vec::new(),
            };
            let mut wanted: Vec<String> = cfg
                .routes
                .iter()
                .filter(|r| r.venue == v.name)
                .filter_map(|r| r.market.clone())
                .chain(listed)
                .collect();
            wanted.sort();
            wanted.dedup();
            let mut markets = Vec::new();
            if !wanted.is_empty() {
                match venue.markets().await {
                    Ok(rules) => {
                        for m in wanted {
                            match rules.iter().find(|r| r.market == m) {
                                Some(r) => markets.push((m, r.base.clone(), r.quote.clone())),
                                None => s.skipped.push(format!(
                                    "venue {}: market {m} is not listed, its quotes are not recorded",
                                    v.name
                                )),
                            }
                        }
                    }
                    Err(e) => s.skipped.push(format!(
                        "venue {}: cannot read its markets ({e}), quotes are not recorded",
                        v.name
                    )),
                }
            }
            s.venues.push(VenueSource { venue, markets });
        }
        for c in &cfg.chains {
            if c.kind == ballast_config::chains::ChainKind::Sim {
                s.skipped
                    .push(format!("chain {}: simulated, nothing to record", c.name));
                continue;
            }
            let mut watch = c.clone();
            for a in &mut watch.accounts {
                a.key = None;
            }
            let journal = ballast_store::Journal::open_in_memory()
                .map_err(|e| RecordError::Setup(format!("chain {}: {e}", c.name)))?;
            let ctx =
                ballast_chain::ChainContext::from_config(cfg, journal, clock.clone(), "record");
            let connected = ballast_chain::connect(&watch, ctx, &ballast_chain::keys::process_env)
                .await
                .map_err(|e| RecordError::Setup(e.to_string()))?;
            let mut assets: Vec<String> = c.tokens.iter().map(|t| t.asset.clone()).collect();
            assets.push(c.native_asset.clone());
            s.chains.push(ChainSource {
                chain: connected.chain,
                assets,
            });
        }
        if s.venues.is_empty() && s.chains.is_empty() {
            let mut msg = String::from(
                "nothing to record: the configuration has no live venue and no EVM chain",
            );
            for k in &s.skipped {
                msg.push_str("\n  ");
                msg.push_str(k);
            }
            return Err(RecordError::Setup(msg));
        }
        Ok(s)
    }

    /// Poll every source at once, each within `timeout`.
    pub async fn poll(&self, ts: TimestampMs, timeout: Duration) -> Snapshot {
        let venue_polls = self.venues.iter().map(|v| async move {
            let name = v.venue.name().to_string();
            let bal = tokio::time::timeout(timeout, v.venue.balances()).await;
            let mut quotes = Vec::new();
            let mut errors = Vec::new();
            for (m, base, quote) in &v.markets {
                match tokio::time::timeout(timeout, v.venue.depth(m, 1)).await {
                    Ok(Ok(d)) => quotes.push(QuoteRow {
                        venue: name.clone(),
                        market: m.clone(),
                        base: base.clone(),
                        quote: quote.clone(),
                        bid: d.bids.first().map(|l| (l.price, l.qty)),
                        ask: d.asks.first().map(|l| (l.price, l.qty)),
                    }),
                    Ok(Err(e)) => errors.push(format!("venue {name}: market {m}: {e}")),
                    Err(_) => errors.push(format!("venue {name}: market {m}: no answer in time")),
                }
            }
            let rows = match bal {
                Ok(Ok(b)) => b
                    .into_iter()
                    .map(|b| BalanceRow {
                        chain: name.clone(),
                        asset: b.asset,
                        balance: b.total,
                    })
                    .collect(),
                Ok(Err(e)) => {
                    errors.push(format!("venue {name}: balances: {e}"));
                    Vec::new()
                }
                Err(_) => {
                    errors.push(format!("venue {name}: balances: no answer in time"));
                    Vec::new()
                }
            };
            (rows, quotes, errors)
        });
        let chain_polls = self.chains.iter().map(|c| async move {
            let name = c.chain.name().to_string();
            match tokio::time::timeout(timeout, c.chain.balances(None)).await {
                Ok(Ok(snap)) => (
                    c.assets
                        .iter()
                        .map(|a| BalanceRow {
                            chain: name.clone(),
                            asset: a.clone(),
                            balance: snap.total(a),
                        })
                        .collect(),
                    Vec::new(),
                    Vec::new(),
                ),
                Ok(Err(e)) => (Vec::new(), Vec::new(), vec![format!("chain {name}: {e}")]),
                Err(_) => (
                    Vec::new(),
                    Vec::new(),
                    vec![format!("chain {name}: no answer in time")],
                ),
            }
        });
        let (v, c) = futures_util::future::join(
            futures_util::future::join_all(venue_polls),
            futures_util::future::join_all(chain_polls),
        )
        .await;
        let mut snap = Snapshot {
            ts,
            ..Default::default()
        };
        for (rows, quotes, errors) in v.into_iter().chain(c) {
            snap.balances.extend(rows);
            snap.quotes.extend(quotes);
            snap.errors.extend(errors);
        }
        snap.balances
            .sort_by(|a, b| (&a.chain, &a.asset).cmp(&(&b.chain, &b.asset)));
        snap
    }
}

// ---------------------------------------------------------------------------------------------------------
// The loop

/// How to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Time between snapshots; snapshots after the first fall on multiples of it (unix time).
    pub every: Duration,
    /// Stop after this many snapshots written.
    pub count: Option<u64>,
    /// Longest wait for one source in a poll.
    pub timeout: Duration,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            every: Duration::from_secs(60),
            count: None,
            timeout: Duration::from_secs(20),
        }
    }
}

/// What a recording run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Snapshots written.
    pub snapshots: u64,
    /// Balance rows written.
    pub rows: u64,
    /// Polls not written because the files already had a later snapshot (the clock went back).
    pub not_after_last: u64,
    /// Polls where every source failed.
    pub empty: u64,
    /// Source failures over the run.
    pub source_errors: u64,
}

/// The first tick strictly after `t` on the grid of `every_ms`.
fn next_tick(t: TimestampMs, every_ms: i64) -> TimestampMs {
    (t.div_euclid(every_ms) + 1) * every_ms
}

/// Poll and append until `stop` resolves or `count` snapshots are written. The first poll is at once,
/// later ones on the grid of `every`. `report` sees every snapshot polled and whether it was written.
/// `stop` interrupts a wait or a poll, never a write.
pub async fn run(
    dir: &mut RecordDir,
    sources: &Sources,
    opts: &RecordOptions,
    clock: &dyn Clock,
    stop: impl Future<Output = ()>,
    mut report: impl FnMut(&Snapshot, usize),
) -> Result<RecordStats, RecordError> {
    let every_ms = (opts.every.as_millis() as i64).max(1);
    let mut stats = RecordStats::default();
    tokio::pin!(stop);
    let mut tick = clock.now_ms();
    loop {
        if opts.count.is_some_and(|n| stats.snapshots >= n) {
            return Ok(stats);
        }
        let wait = (tick - clock.now_ms()).max(0) as u64;
        let snap = tokio::select! {
            biased;
            _ = &mut stop => return Ok(stats),
            s = async {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                sources.poll(tick, opts.timeout).await
            } => s,
        };
        stats.source_errors += snap.errors.len() as u64;
        let written = if snap.balances.is_empty() && snap.quotes.is_empty() {
            stats.empty += 1;
            0
        } else {
            let before = dir.last_ts();
            let n = dir.write(&snap)?;
            if n > 0 || dir.last_ts() != before {
                stats.snapshots += 1;
                stats.rows += n as u64;
            } else {
                stats.not_after_last += 1;
            }
            n
        };
        report(&snap, written);
        // The next grid point after both the poll and the last snapshot on file (a restart after a clock
        // step back waits rather than writing behind the file).
        let floor = clock.now_ms().max(dir.last_ts().unwrap_or(i64::MIN));
        tick = next_tick(floor, every_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_the_grid() {
        assert_eq!(next_tick(0, 60_000), 60_000);
        assert_eq!(next_tick(59_999, 60_000), 60_000);
        assert_eq!(next_tick(60_000, 60_000), 120_000);
        assert_eq!(next_tick(-1, 1000), 0);
    }
}
