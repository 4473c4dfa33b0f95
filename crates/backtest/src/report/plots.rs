//! The SVG plots of a report (plotters' SVG backend): the overview page, one page per position, the total
//! error and the cumulative cost.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;

/// At most this many points per line in a full-size plot, and in a small one.
const MAX_POINTS: usize = 1200;
const MAX_POINTS_SMALL: usize = 300;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(127, 127, 127),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];
const BAND: RGBColor = RGBColor(120, 160, 210);
const FONT: &str = "sans-serif";

/// The color of the i-th strategy of a report (the same in every plot).
pub fn strategy_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The i-th strategy's color as the SVG files write it (`#1F77B4`).
pub fn strategy_color_hex(i: usize) -> String {
    let c = strategy_color(i);
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// What the plots draw, borrowed from the report.
pub(super) struct PlotData<'a> {
    pub(super) names: Vec<String>,
    results: &'a [RunResult],
    title: String,
    subtitle: String,
}

impl<'a> PlotData<'a> {
    pub(super) fn new(r: &BacktestReport<'a>) -> PlotData<'a> {
        let span = match (r.recording.times.first(), r.recording.times.last()) {
            (Some(a), Some(b)) => format!("{} to {} UTC", fmt_date(*a), fmt_date(*b)),
            _ => "empty recording".into(),
        };
        PlotData {
            names: r
                .config
                .positions
                .iter()
                .map(|p| p.key.to_string())
                .collect(),
            results: r.results,
            title: format!(
                "Backtest of {} (config {})",
                r.config
                    .source
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "the configuration".into()),
                r.config.version()
            ),
            subtitle: format!(
                "{span}, {} snapshots, {} positions, seed {}, {} fill model",
                r.recording.len(),
                r.config.positions.len(),
                r.options.seed,
                match r.options.fill_model {
                    FillModel::Book => "book",
                    FillModel::Fast => "fast",
                }
            ),
        }
    }

    pub(super) fn has_series(&self) -> bool {
        self.results.iter().any(|r| !r.series.times.is_empty())
    }

    /// The time range over every strategy's series.
    fn time_range(&self) -> TimeAxis {
        let lo = self
            .results
            .iter()
            .filter_map(|r| r.series.times.first())
            .min()
            .copied()
            .unwrap_or(0);
        let hi = self
            .results
            .iter()
            .filter_map(|r| r.series.times.last())
            .max()
            .copied()
            .unwrap_or(lo);
        TimeAxis(lo, hi.max(lo + 1))
    }

    /// The first strategy with a series: its band and target are the ones drawn.
    fn reference(&self) -> Option<&'a RunResult> {
        self.results.iter().find(|r| !r.series.times.is_empty())
    }
}

fn fmt_date(t: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| t.to_string())
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A time axis in unix ms whose ticks fall on round times (minutes, hours, midnights, Mondays, first days
/// of months), in UTC.
#[derive(Clone, Copy, Debug)]
struct TimeAxis(TimestampMs, TimestampMs);

/// Fixed tick steps; longer spans tick on months.
const TICK_STEPS: [i64; 14] = [
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
    28 * DAY,
];

impl TimeAxis {
    /// The tick step for at most `max` ticks: a fixed step in ms, or a number of months (negative).
    fn step(&self, max: usize) -> i64 {
        let span = self.1 - self.0;
        let max = max.max(1) as i64;
        for s in TICK_STEPS {
            if s < 28 * DAY && span / s <= max {
                return s;
            }
        }
        for months in [1, 2, 3, 6, 12, 24, 60, 120] {
            if span / (30 * DAY * months) <= max {
                return -months;
            }
        }
        -1200
    }

    fn ticks(&self, max: usize) -> Vec<TimestampMs> {
        let (lo, hi) = (self.0, self.1);
        let step = self.step(max);
        let mut out = Vec::new();
        if step > 0 {
            // Weeks start on Mondays (the epoch was a Thursday).
            let offset = if step % (7 * DAY) == 0 { 4 * DAY } else { 0 };
            let mut t = (lo - offset).div_euclid(step) * step + offset;
            if t < lo {
                t += step;
            }
            while t <= hi {
                out.push(t);
                t += step;
            }
        } else {
            use chrono::Datelike;
            let months = -step as i32;
            let Some(d) = chrono::DateTime::from_timestamp_millis(lo) else {
                return out;
            };
            let (mut y, mut m) = (d.year(), d.month0() as i32);
            m -= m % months.min(12);
            while let Some(t) = chrono::NaiveDate::from_ymd_opt(y, m as u32 + 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
            {
                if t > hi {
                    break;
                }
                if t >= lo {
                    out.push(t);
                }
                m += months;
                y += m / 12;
                m %= 12;
            }
        }
        out
    }

    /// A tick label precise enough for the step between ticks.
    fn label(&self, t: TimestampMs, max: usize) -> String {
        let Some(d) = chrono::DateTime::from_timestamp_millis(t) else {
            return t.to_string();
        };
        let step = self.step(max);
        let f = if step < 0 {
            "%b %Y"
        } else if step >= DAY {
            "%b %d"
        } else if self.1 - self.0 > DAY {
            "%b %d %H:%M"
        } else {
            "%H:%M"
        };
        d.format(f).to_string()
    }
}

impl Ranged for TimeAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = TimestampMs;

    fn map(&self, value: &TimestampMs, limit: (i32, i32)) -> i32 {
        let f = (*value - self.0) as f64 / (self.1 - self.0).max(1) as f64;
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<TimestampMs> {
        self.ticks(hint.max_num_points())
    }

    fn range(&self) -> std::ops::Range<TimestampMs> {
        self.0..self.1
    }
}

/// Indices of the points to draw: all of them when there are at most `max`, otherwise per bucket the
/// indices of its minimum and maximum (in time order), plus the last point.
pub(super) fn decimate(n: usize, max: usize, y: impl Fn(usize) -> f64) -> Vec<usize> {
    if n <= max.max(2) {
        return (0..n).collect();
    }
    let buckets = (max / 2).max(1);
    let size = n.div_ceil(buckets);
    let mut out = Vec::with_capacity(2 * buckets + 1);
    let mut start = 0;
    while start < n {
        let end = (start + size).min(n);
        let (mut lo, mut hi) = (start, start);
        let (mut lo_v, mut hi_v) = (y(start), y(start));
        for i in start + 1..end {
            let v = y(i);
            if v < lo_v || lo_v.is_nan() {
                (lo, lo_v) = (i, v);
            }
            if v > hi_v || hi_v.is_nan() {
                (hi, hi_v) = (i, v);
            }
        }
        out.push(lo.min(hi));
        if lo != hi {
            out.push(lo.max(hi));
        }
        start = end;
    }
    if out.last() != Some(&(n - 1)) {
        out.push(n - 1);
    }
    out
}

type Pt = (TimestampMs, f64);

/// A line as (time, y) points, decimated, without non-finite values.
fn line(times: &[TimestampMs], max: usize, y: impl Fn(usize) -> f64) -> Vec<Pt> {
    decimate(times.len(), max, &y)
        .into_iter()
        .map(|i| (times[i], y(i)))
        .filter(|(_, v)| v.is_finite() && v.abs() < 1e300)
        .collect()
}

/// What a plot draws, bottom to top.
enum Layer {
    /// A shaded band between two lines.
    Band { upper: Vec<Pt>, lower: Vec<Pt> },
    /// The target: a dashed black line.
    Target(Vec<Pt>),
    /// A strategy's line (the i-th strategy's color).
    Line {
        label: String,
        strategy: usize,
        width: u32,
        points: Vec<Pt>,
    },
}

impl Layer {
    fn points(&self) -> Box<dyn Iterator<Item = &Pt> + '_> {
        match self {
            Layer::Band { upper, lower } => Box::new(upper.iter().chain(lower)),
            Layer::Target(p) | Layer::Line { points: p, .. } => Box::new(p.iter()),
        }
    }
}

/// A y range covering the layers and the values in `include`, padded; never below 0 when everything is at
/// or above 0.
fn y_range(layers: &[Layer], include: &[f64]) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in layers
        .iter()
        .flat_map(|l| l.points().map(|p| p.1))
        .chain(include.iter().copied())
    {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.06
    } else {
        hi.abs().max(1.0) * 0.1
    };
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    bottom..hi + pad
}

type PlotResult = Result<(), String>;

fn pe<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Draw into an SVG string of the given size.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> PlotResult,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        draw(&root)?;
        root.present().map_err(pe)?;
    }
    Ok(out)
}

/// Sizes of a panel's text and margins.
#[derive(Clone, Copy)]
struct Look {
    caption: u32,
    label: u32,
    x_labels: usize,
    y_labels: usize,
    max_points: usize,
    /// A legend on the right.
    legend: bool,
    axis_desc: bool,
}

const FULL: Look = Look {
    caption: 20,
    label: 13,
    x_labels: 8,
    y_labels: 8,
    max_points: MAX_POINTS,
    legend: true,
    axis_desc: true,
};

const SMALL: Look = Look {
    caption: 13,
    label: 10,
    x_labels: 4,
    y_labels: 4,
    max_points: MAX_POINTS_SMALL,
    legend: false,
    axis_desc: false,
};

const LEGEND_W: u32 = 150;

/// A time plot: caption, axes with date labels, the layers, and a legend on the right for a full look.
struct Plot<'a> {
    caption: &'a str,
    y_desc: &'a str,
    y_fmt: fn(&f64) -> String,
    /// Values the y axis must show (0 for errors and costs).
    include: &'a [f64],
    layers: Vec<Layer>,
}

impl Plot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        time: TimeAxis,
        look: Look,
    ) -> PlotResult
    where
        DB::ErrorType: 'static,
    {
        let (plot_area, legend_area) = if look.legend {
            let (w, _) = area.dim_in_pixel();
            let (a, b) = area.split_horizontally(w.saturating_sub(LEGEND_W));
            (a, Some(b))
        } else {
            (area.clone(), None)
        };
        let x_fmt = move |t: &TimestampMs| time.label(*t, look.x_labels);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(self.caption, (FONT, look.caption))
            .margin(if look.axis_desc { 12 } else { 6 })
            .x_label_area_size(if look.axis_desc { 40 } else { 20 })
            .y_label_area_size(if look.axis_desc { 70 } else { 44 })
            .build_cartesian_2d(time, y_range(&self.layers, self.include))
            .map_err(pe)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(look.x_labels)
            .y_labels(look.y_labels)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&self.y_fmt)
            .label_style((FONT, look.label))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(212, 212, 212));
        if look.axis_desc {
            mesh.x_desc("time (UTC)")
                .y_desc(self.y_desc)
                .axis_desc_style((FONT, look.label));
        }
        mesh.draw().map_err(pe)?;
        for layer in &self.layers {
            match layer {
                Layer::Band { upper, lower } => {
                    if upper.is_empty() || lower.is_empty() {
                        continue;
                    }
                    let mut poly = upper.clone();
                    poly.extend(lower.iter().rev());
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, BAND.mix(0.22).filled())))
                        .map_err(pe)?;
                }
                Layer::Target(points) => {
                    chart
                        .draw_series(DashedLineSeries::new(
                            points.iter().copied(),
                            6,
                            4,
                            BLACK.stroke_width(1),
                        ))
                        .map_err(pe)?;
                }
                Layer::Line {
                    strategy,
                    width,
                    points,
                    ..
                } => {
                    chart
                        .draw_series(LineSeries::new(
                            points.iter().copied(),
                            strategy_color(*strategy).stroke_width(*width),
                        ))
                        .map_err(pe)?;
                }
            }
        }
        if let Some(legend) = legend_area {
            self.legend(&legend, look)?;
        }
        Ok(())
    }

    fn legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, look: Look) -> PlotResult
    where
        DB::ErrorType: 'static,
    {
        let mut y = 46;
        for layer in &self.layers {
            match layer {
                Layer::Band { .. } => {
                    area.draw(&Rectangle::new(
                        [(6, y - 5), (30, y + 5)],
                        BAND.mix(0.22).filled(),
                    ))
                    .map_err(pe)?;
                    area.draw(&Text::new("band", (38, y - 7), (FONT, look.label)))
                        .map_err(pe)?;
                }
                Layer::Target(_) => {
                    for x in [6, 16, 26] {
                        area.draw(&PathElement::new(
                            vec![(x, y), (x + 6, y)],
                            BLACK.stroke_width(1),
                        ))
                        .map_err(pe)?;
                    }
                    area.draw(&Text::new("target", (38, y - 7), (FONT, look.label)))
                        .map_err(pe)?;
                }
                Layer::Line {
                    label, strategy, ..
                } => {
                    let c = strategy_color(*strategy);
                    area.draw(&PathElement::new(vec![(6, y), (30, y)], c.stroke_width(3)))
                        .map_err(pe)?;
                    area.draw(&Text::new(label.clone(), (38, y - 7), (FONT, look.label)))
                        .map_err(pe)?;
                }
            }
            y += 20;
        }
        Ok(())
    }
}

fn amount_label(v: &f64) -> String {
    fmt_axis(*v)
}

fn pct_label(v: &f64) -> String {
    format!("{} %", fmt_axis(*v))
}

/// One line per strategy.
fn strategy_lines(
    d: &PlotData,
    look: Look,
    width: u32,
    y: impl Fn(&RunResult, usize) -> f64,
) -> Vec<Layer> {
    d.results
        .iter()
        .enumerate()
        .map(|(i, r)| Layer::Line {
            label: r.strategy.name().to_string(),
            strategy: i,
            width,
            points: line(&r.series.times, look.max_points, |t| y(r, t)),
        })
        .collect()
}

/// The balance value of each strategy against the band and target of position `p`.
fn value_plot<'a>(d: &PlotData, p: usize, look: Look, caption: &'a str) -> Plot<'a> {
    let mut layers = Vec::new();
    if let Some(r) = d.reference() {
        let s = &r.series;
        layers.push(Layer::Band {
            upper: line(&s.times, look.max_points, |i| cell(&s.high, i, p)),
            lower: line(&s.times, look.max_points, |i| cell(&s.low, i, p)),
        });
        layers.push(Layer::Target(line(&s.times, look.max_points, |i| {
            cell(&s.target, i, p)
        })));
    }
    layers.extend(strategy_lines(d, look, 2, |r, i| {
        cell(&r.series.value, i, p)
    }));
    Plot {
        caption,
        y_desc: "value (base units)",
        y_fmt: amount_label,
        include: &[],
        layers,
    }
}

/// `(x - target) / target` in %.
fn pct_of(x: f64, target: f64) -> f64 {
    if target > 0.0 {
        (x - target) / target * 100.0
    } else {
        f64::NAN
    }
}

/// Normalised error `(value - target) / target` in % of position `p`, per strategy, over the band.
fn error_plot<'a>(d: &PlotData, p: usize, look: Look, caption: &'a str) -> Plot<'a> {
    let mut layers = Vec::new();
    if let Some(r) = d.reference() {
        let s = &r.series;
        layers.push(Layer::Band {
            upper: line(&s.times, look.max_points, |i| {
                pct_of(cell(&s.high, i, p), cell(&s.target, i, p))
            }),
            lower: line(&s.times, look.max_points, |i| {
                pct_of(cell(&s.low, i, p), cell(&s.target, i, p))
            }),
        });
    }
    let time = d.time_range();
    layers.push(Layer::Target(vec![(time.0, 0.0), (time.1, 0.0)]));
    layers.extend(strategy_lines(d, look, 1, |r, i| {
        pct_of(cell(&r.series.value, i, p), cell(&r.series.target, i, p))
    }));
    Plot {
        caption,
        y_desc: "error (% of target)",
        y_fmt: pct_label,
        include: &[-1.0, 1.0],
        layers,
    }
}

/// The total normalised error per strategy: `sum |value - target| / max(sum value, sum target)` in %.
fn total_error_plot(d: &PlotData, look: Look) -> Plot<'static> {
    let n = d.names.len();
    let layers = strategy_lines(d, look, 2, |r, i| {
        let s = &r.series;
        let (mut dev, mut v, mut t) = (0.0, 0.0, 0.0);
        for p in 0..n {
            let (vp, tp) = (cell(&s.value, i, p), cell(&s.target, i, p));
            if vp.is_finite() && tp.is_finite() {
                dev += (vp - tp).abs();
                v += vp;
                t += tp;
            }
        }
        let denom = f64::max(v, t);
        if denom > 0.0 {
            dev / denom * 100.0
        } else {
            f64::NAN
        }
    });
    Plot {
        caption: "Total normalised error: sum |value - target| / portfolio value",
        y_desc: "error (% of portfolio)",
        y_fmt: pct_label,
        include: &[0.0],
        layers,
    }
}

/// The cumulative cost per strategy.
fn cost_plot(d: &PlotData, look: Look) -> Plot<'static> {
    Plot {
        caption: "Cumulative cost (fees, spreads, fixed route costs)",
        y_desc: "cost (base units)",
        y_fmt: amount_label,
        include: &[0.0, 1.0],
        layers: strategy_lines(d, look, 2, |r, i| {
            r.series.cumulative_cost.get(i).copied().unwrap_or(f64::NAN)
        }),
    }
}

pub(super) fn plot_position(d: &PlotData, p: usize) -> Result<String, String> {
    let time = d.time_range();
    let error_caption = format!("{}: normalised error", d.names[p]);
    svg((1200, 780), |root| {
        let (top, bottom) = root.split_vertically(470);
        value_plot(d, p, FULL, &d.names[p]).draw(&top, time, FULL)?;
        error_plot(d, p, FULL, &error_caption).draw(&bottom, time, FULL)
    })
}

/// Columns of a grid of `n` small panels.
fn grid_cols(n: usize) -> usize {
    match n {
        0..=4 => 2,
        5..=9 => 3,
        10..=16 => 4,
        17..=30 => 5,
        _ => 6,
    }
}

const CELL_W: u32 = 330;
const CELL_H: u32 = 210;

pub(super) fn plot_error(d: &PlotData) -> Result<String, String> {
    let n = d.names.len();
    let cols = grid_cols(n);
    let rows = n.div_ceil(cols);
    let width = (cols as u32 * CELL_W).max(1000);
    let top_h = 420;
    let time = d.time_range();
    svg((width, top_h + rows as u32 * CELL_H), |root| {
        let (top, grid) = root.split_vertically(top_h);
        total_error_plot(d, FULL).draw(&top, time, FULL)?;
        for (p, cell) in grid.split_evenly((rows, cols)).iter().enumerate().take(n) {
            error_plot(d, p, SMALL, &d.names[p]).draw(cell, time, SMALL)?;
        }
        Ok(())
    })
}

pub(super) fn plot_cost(d: &PlotData) -> Result<String, String> {
    svg((1200, 520), |root| {
        cost_plot(d, FULL).draw(root, d.time_range(), FULL)
    })
}

/// The one-page overview: title, a legend with headline metrics, the per-position grid and the cost curve.
pub(super) fn plot_overview(d: &PlotData) -> Result<String, String> {
    let n = d.names.len();
    let cols = grid_cols(n);
    let rows = n.div_ceil(cols);
    let width = (cols as u32 * CELL_W).max(1000);
    let legend_h = 96 + 22 * d.results.len() as u32;
    let cost_h = 330;
    let height = legend_h + rows as u32 * CELL_H + cost_h;
    let time = d.time_range();
    svg((width, height), |root| {
        let (head, rest) = root.split_vertically(legend_h);
        let (grid, cost) = rest.split_vertically(rows as u32 * CELL_H);
        head.draw(&Text::new(
            d.title.clone(),
            (16, 10),
            (FONT, 24).into_font().style(FontStyle::Bold),
        ))
        .map_err(pe)?;
        head.draw(&Text::new(d.subtitle.clone(), (16, 42), (FONT, 14)))
            .map_err(pe)?;
        // A small table: strategy, then headline metrics in columns.
        let columns: [(&str, i32); 7] = [
            ("strategy", 48),
            ("IAE", 170),
            ("shortfall events", 260),
            ("turnover", 400),
            ("costs", 490),
            ("orders", 590),
            ("side flips", 670),
        ];
        for (label, x) in columns {
            head.draw(&Text::new(
                label,
                (x, 70),
                (FONT, 13).into_font().style(FontStyle::Bold),
            ))
            .map_err(pe)?;
        }
        for (i, r) in d.results.iter().enumerate() {
            let y = 92 + 22 * i as i32;
            let c = strategy_color(i);
            head.draw(&Rectangle::new([(16, y + 2), (40, y + 12)], c.filled()))
                .map_err(pe)?;
            let t = &r.total;
            let cells = [
                r.strategy.name().to_string(),
                fmt_num(t.iae),
                t.shortfall_events.to_string(),
                format!("{:.2}x", t.turnover),
                fmt_money(t.fees),
                t.orders.to_string(),
                t.side_flips.to_string(),
            ];
            for ((_, x), text) in columns.iter().zip(cells) {
                head.draw(&Text::new(text, (*x, y), (FONT, 14)))
                    .map_err(pe)?;
            }
        }
        for (p, cell) in grid.split_evenly((rows, cols)).iter().enumerate().take(n) {
            value_plot(d, p, SMALL, &d.names[p]).draw(cell, time, SMALL)?;
        }
        let look = Look {
            axis_desc: true,
            ..SMALL
        };
        cost_plot(d, look).draw(&cost, time, look)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_extremes_and_bounds_the_points() {
        let y: Vec<f64> = (0..100_000)
            .map(|i| if i == 54_321 { 1e6 } else { (i % 97) as f64 })
            .collect();
        let idx = decimate(y.len(), 1000, |i| y[i]);
        assert!(idx.len() <= 1001, "{}", idx.len());
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "in time order");
        assert!(idx.contains(&54_321), "the spike is kept");
        assert_eq!(*idx.last().unwrap(), y.len() - 1);
        assert_eq!(decimate(10, 1000, |i| y[i]), (0..10).collect::<Vec<_>>());
    }
}
