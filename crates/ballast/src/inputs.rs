//! Reading the inputs of a dry run: balances, prices and pending amounts.
//!
//! - balances: CSV `chain,asset,balance`, or JSON `{chain: {asset: amount}}`;
//! - prices: CSV `asset,price` (base units per unit; assets not listed are worth 1);
//! - pending: JSON `{chain: {asset: signed amount}}`.
//!
//! Amounts are decimal strings (JSON numbers are accepted and read from their shortest decimal form).
//! Every error names the file, the line and what is wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;

use ballast_core::model::PositionKey;

/// A problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

fn err(file: &str, line: Option<u64>, message: impl Into<String>) -> InputError {
    InputError {
        file: file.to_string(),
        line,
        column: None,
        message: message.into(),
    }
}

fn read_text(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|e| {
        err(
            &path.display().to_string(),
            None,
            format!("cannot read: {e}"),
        )
    })
}

/// Parse a decimal amount, rejecting what is not a plain number.
pub fn parse_amount(s: &str) -> Result<Decimal, String> {
    let t = s.trim().replace('_', "");
    if t.is_empty() {
        return Err("empty amount".into());
    }
    let r = if t.contains(['e', 'E']) {
        Decimal::from_scientific(&t)
    } else {
        Decimal::from_str(&t)
    };
    r.map_err(|_| format!("{s:?} is not a decimal number"))
}

/// Balances per position.
pub type Balances = BTreeMap<PositionKey, Decimal>;

/// Read balances from CSV (`chain,asset,balance`) or JSON (`{chain: {asset: amount}}`), chosen by the
/// `.json` extension or a leading `{`.
pub fn read_balances(path: &Path) -> Result<Balances, InputError> {
    let text = read_text(path)?;
    let name = path.display().to_string();
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{')
    {
        let nested = read_nested_json(&name, &text)?;
        for (k, v) in &nested {
            if v.is_sign_negative() && !v.is_zero() {
                return Err(err(&name, None, format!("{k}: balance {v} is negative")));
            }
        }
        return Ok(nested);
    }
    let rows = read_csv(&name, &text, &["chain", "asset", "balance"])?;
    let mut out = Balances::new();
    for (line, cols) in rows {
        let key = PositionKey::new(cols[0].clone(), cols[1].clone());
        let v =
            parse_amount(&cols[2]).map_err(|m| err(&name, Some(line), format!("balance: {m}")))?;
        if v.is_sign_negative() && !v.is_zero() {
            return Err(err(&name, Some(line), format!("balance: {v} is negative")));
        }
        if out.insert(key.clone(), v).is_some() {
            return Err(err(&name, Some(line), format!("{key} is listed twice")));
        }
    }
    Ok(out)
}

/// Read prices from CSV `asset,price`.
pub fn read_prices(path: &Path) -> Result<BTreeMap<String, Decimal>, InputError> {
    let text = read_text(path)?;
    let name = path.display().to_string();
    let rows = read_csv(&name, &text, &["asset", "price"])?;
    let mut out = BTreeMap::new();
    for (line, cols) in rows {
        let v =
            parse_amount(&cols[1]).map_err(|m| err(&name, Some(line), format!("price: {m}")))?;
        if v <= Decimal::ZERO {
            return Err(err(
                &name,
                Some(line),
                format!("price: {v} is not positive"),
            ));
        }
        if out.insert(cols[0].clone(), v).is_some() {
            return Err(err(
                &name,
                Some(line),
                format!("{} is listed twice", cols[0]),
            ));
        }
    }
    Ok(out)
}

/// Read pending amounts: JSON `{chain: {asset: signed amount}}`.
pub fn read_pending(path: &Path) -> Result<Balances, InputError> {
    let text = read_text(path)?;
    read_nested_json(&path.display().to_string(), &text)
}

/// Parse `{chain: {asset: amount}}`.
pub fn read_nested_json(name: &str, text: &str) -> Result<Balances, InputError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| InputError {
        file: name.to_string(),
        line: Some(e.line() as u64),
        column: Some(e.column() as u64),
        message: format!("invalid JSON: {e}"),
    })?;
    let line_of = |needle: &str| -> Option<u64> {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i as u64 + 1)
    };
    let serde_json::Value::Object(chains) = v else {
        return Err(err(
            name,
            Some(1),
            "expected an object {chain: {asset: amount}}",
        ));
    };
    let mut out = Balances::new();
    for (chain, assets) in chains {
        let serde_json::Value::Object(assets) = assets else {
            return Err(err(
                name,
                line_of(&format!("\"{chain}\"")),
                format!("{chain}: expected an object {{asset: amount}}"),
            ));
        };
        for (asset, amount) in assets {
            let text_amount = match &amount {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                other => {
                    return Err(err(
                        name,
                        line_of(&format!("\"{asset}\"")),
                        format!("{chain}.{asset}: expected an amount, found {other}"),
                    ));
                }
            };
            let d = parse_amount(&text_amount).map_err(|m| {
                err(
                    name,
                    line_of(&format!("\"{asset}\"")),
                    format!("{chain}.{asset}: {m}"),
                )
            })?;
            out.insert(PositionKey::new(chain.clone(), asset), d);
        }
    }
    Ok(out)
}

/// Read a small CSV with a required header; returns (line, columns) per data row. Blank lines and lines
/// starting with `#` are skipped; fields are trimmed and may be wrapped in double quotes.
pub fn read_csv(
    name: &str,
    text: &str,
    header: &[&str],
) -> Result<Vec<(u64, Vec<String>)>, InputError> {
    let mut out = Vec::new();
    let mut seen_header = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let cols: Vec<String> = l
            .split(',')
            .map(|f| {
                let f = f.trim();
                f.strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(f)
                    .trim()
                    .to_string()
            })
            .collect();
        if !seen_header {
            let got: Vec<String> = cols.iter().map(|s| s.to_ascii_lowercase()).collect();
            if got != header {
                return Err(err(
                    name,
                    Some(line),
                    format!(
                        "expected the header `{}`, found `{}`",
                        header.join(","),
                        got.join(",")
                    ),
                ));
            }
            seen_header = true;
            continue;
        }
        if cols.len() != header.len() {
            return Err(err(
                name,
                Some(line),
                format!(
                    "expected {} columns ({}), found {}",
                    header.len(),
                    header.join(","),
                    cols.len()
                ),
            ));
        }
        if let Some(i) = cols.iter().position(String::is_empty) {
            return Err(err(
                name,
                Some(line),
                format!("column `{}` is empty", header[i]),
            ));
        }
        out.push((line, cols));
    }
    if !seen_header {
        return Err(err(
            name,
            None,
            format!("empty file: expected the header `{}`", header.join(",")),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn balances_csv_with_errors_named_by_line() {
        let (_d, p) = write(
            "b.csv",
            "chain,asset,balance\narbitrum,USDC,100.5\n\n# comment\noptimism,USDC,abc\n",
        );
        let e = read_balances(&p).unwrap_err();
        assert_eq!(e.line, Some(5));
        assert!(
            e.to_string()
                .ends_with("b.csv:5: balance: \"abc\" is not a decimal number"),
            "{e}"
        );
        let (_d, p) = write(
            "b.csv",
            "chain,asset,balance\narbitrum,USDC,100.5\narbitrum,USDC,1\n",
        );
        assert!(
            read_balances(&p)
                .unwrap_err()
                .to_string()
                .contains(":3: arbitrum/USDC is listed twice")
        );
        let (_d, p) = write("b.csv", "chain,asset\n");
        assert!(
            read_balances(&p)
                .unwrap_err()
                .to_string()
                .contains(":1: expected the header")
        );
        let (_d, p) = write("b.csv", "chain,asset,balance\narbitrum,USDC,-1\n");
        assert!(
            read_balances(&p)
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
    }

    #[test]
    fn balances_json_and_pending() {
        let (_d, p) = write(
            "b.json",
            "{\"arbitrum\": {\"USDC\": \"100\", \"USDT\": 2.5}}",
        );
        let b = read_balances(&p).unwrap();
        assert_eq!(
            b[&PositionKey::new("arbitrum", "USDT")],
            Decimal::from_str("2.5").unwrap()
        );
        let (_d, p) = write("p.json", "{\"base\": {\"USDC\": \"-40\"}}");
        assert_eq!(
            read_pending(&p).unwrap()[&PositionKey::new("base", "USDC")],
            Decimal::from(-40)
        );
        let (_d, p) = write("p.json", "{\"base\": {\"USDC\": \n \"x\"}}");
        let e = read_pending(&p).unwrap_err();
        assert!(e.to_string().contains("base.USDC"), "{e}");
        let (_d, p) = write("p.json", "{\"base\": ");
        assert!(read_pending(&p).unwrap_err().line.is_some());
    }

    #[test]
    fn prices_must_be_positive() {
        let (_d, p) = write("p.csv", "asset,price\nETH,3000\nUSDT,0\n");
        assert!(
            read_prices(&p)
                .unwrap_err()
                .to_string()
                .contains(":3: price: 0 is not positive")
        );
    }
}
