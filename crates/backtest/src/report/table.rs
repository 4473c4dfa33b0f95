//! The side-by-side table of strategies for stdout (plain text and Markdown), and number formatting for
//! people.

use super::*;

/// One row of the side-by-side table: its label and how to read it from a run.
struct Row {
    label: &'static str,
    value: fn(&RunResult) -> String,
}

const ROWS: [Row; 17] = [
    Row {
        label: "IAE (error x h)",
        value: |r| fmt_num(r.total.iae),
    },
    Row {
        label: "  of which net (no move fixes)",
        value: |r| fmt_num(r.total.iae_net),
    },
    Row {
        label: "ISE (error^2 x h)",
        value: |r| fmt_num(r.total.ise),
    },
    Row {
        label: "ITAE (error x h^2)",
        value: |r| fmt_num(r.total.itae),
    },
    Row {
        label: "max deviation",
        value: |r| fmt_pct(r.total.max_deviation),
    },
    Row {
        label: "time outside band",
        value: |r| fmt_pct(r.total.time_outside_band),
    },
    Row {
        label: "shortfall events",
        value: |r| r.total.shortfall_events.to_string(),
    },
    Row {
        label: "unserved outflow",
        value: |r| fmt_money(r.total.unserved_outflow),
    },
    Row {
        label: "turnover (x mean value)",
        value: |r| format!("{:.3}", r.total.turnover),
    },
    Row {
        label: "moved value",
        value: |r| fmt_money(r.total.moved_value),
    },
    Row {
        label: "fees and costs",
        value: |r| fmt_money(r.total.fees),
    },
    Row {
        label: "implementation shortfall",
        value: |r| fmt_money(r.total.implementation_shortfall),
    },
    Row {
        label: "orders",
        value: |r| r.total.orders.to_string(),
    },
    Row {
        label: "replaces",
        value: |r| r.total.replaces.to_string(),
    },
    Row {
        label: "side flips",
        value: |r| r.total.side_flips.to_string(),
    },
    Row {
        label: "mean overshoot",
        value: |r| fmt_pct(r.total.mean_overshoot),
    },
    Row {
        label: "mean settling time",
        value: |r| {
            r.total
                .mean_settling_hours
                .map(|h| format!("{h:.2} h"))
                .unwrap_or_else(|| "-".into())
        },
    },
];

fn table(results: &[RunResult]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["metric".to_string()];
    header.extend(results.iter().map(|r| r.strategy.name().to_string()));
    let rows = ROWS
        .iter()
        .map(|row| {
            let mut cells = vec![row.label.to_string()];
            cells.extend(results.iter().map(row.value));
            cells
        })
        .collect();
    (header, rows)
}

/// The metrics of every strategy side by side, aligned for a terminal: one row per metric, one column per
/// strategy. Errors are normalised to target; money is in the portfolio's base unit.
pub fn side_by_side(results: &[RunResult]) -> String {
    let (header, rows) = table(results);
    let cols = header.len();
    let mut width = vec![0usize; cols];
    for line in std::iter::once(&header).chain(&rows) {
        for (c, cell) in line.iter().enumerate() {
            width[c] = width[c].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, line) in std::iter::once(&header).chain(&rows).enumerate() {
        for (c, cell) in line.iter().enumerate() {
            if c == 0 {
                let _ = write!(out, "{cell:<w$}", w = width[0]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = width[c]);
            }
        }
        out.push('\n');
        if i == 0 {
            let total: usize = width.iter().sum::<usize>() + 2 * (cols - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// The same table in Markdown (for the README).
pub fn side_by_side_markdown(results: &[RunResult]) -> String {
    let (header, rows) = table(results);
    let mut out = format!("| {} |\n|---|", header.join(" | "));
    out.push_str(&"---:|".repeat(header.len() - 1));
    out.push('\n');
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}
