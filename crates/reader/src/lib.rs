//! A TOML walker that keeps source spans, so every error names the file, line and field path, and that
//! collects errors instead of stopping at the first one.
//!
//! Each section of the configuration is read through an [`Obj`]: fields are taken by name (which marks them
//! as known), and [`Obj::finish`] reports every key that was never taken as unknown.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use toml_edit::{Item, TableLike, Value};

use ballast_core::model::parse_duration;

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// Field path such as `position[2].weight_bps`; empty for file-level problems.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: ", self.file, l)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Source text plus the problems found so far.
pub struct Diagnostics<'s> {
    file: String,
    line_starts: Vec<usize>,
    _src: &'s str,
    pub problems: Vec<Problem>,
}

impl<'s> Diagnostics<'s> {
    pub fn new(file: impl Into<String>, src: &'s str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            src.char_indices()
                .filter(|(_, c)| *c == '\n')
                .map(|(i, _)| i + 1),
        );
        Self {
            file: file.into(),
            line_starts,
            _src: src,
            problems: Vec::new(),
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    pub fn error(
        &mut self,
        span: Option<Range<usize>>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        let line = span.map(|s| self.line_of(s.start));
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// A field was present but invalid; the problem is already in the diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// A field that was found: its path, item and place in the file.
#[derive(Clone)]
pub struct Field<'a> {
    pub path: String,
    pub item: &'a Item,
    pub span: Option<Range<usize>>,
}

impl<'a> Field<'a> {
    pub fn value(&self) -> Option<&'a Value> {
        self.item.as_value()
    }

    fn type_name(&self) -> &'static str {
        match self.item {
            Item::None => "nothing",
            Item::Table(_) => "a table",
            Item::ArrayOfTables(_) => "an array of tables",
            Item::Value(v) => match v {
                Value::String(_) => "a string",
                Value::Integer(_) => "an integer",
                Value::Float(_) => "a float",
                Value::Boolean(_) => "a boolean",
                Value::Datetime(_) => "a datetime",
                Value::Array(_) => "an array",
                Value::InlineTable(_) => "an inline table",
            },
        }
    }

    pub fn wrong_type(&self, d: &mut Diagnostics, expected: &str) {
        d.error(
            self.span.clone(),
            &self.path,
            format!("expected {expected}, found {}", self.type_name()),
        );
    }

    pub fn invalid(&self, d: &mut Diagnostics, message: impl Into<String>) {
        d.error(self.span.clone(), &self.path, message);
    }

    /// This field as a table (standard or inline).
    pub fn obj(&self, d: &mut Diagnostics) -> Option<Obj<'a>> {
        let table: &'a dyn TableLike = match self.item {
            Item::Table(t) => t,
            Item::Value(Value::InlineTable(t)) => t,
            _ => {
                self.wrong_type(d, "a table");
                return None;
            }
        };
        Some(Obj {
            path: self.path.clone(),
            table,
            span: self.span.clone(),
            taken: Vec::new(),
        })
    }

    /// This field as a list of tables: `[[name]]` sections or an array of inline tables.
    pub fn objs(&self, d: &mut Diagnostics) -> Vec<Obj<'a>> {
        let mut out = Vec::new();
        match self.item {
            Item::ArrayOfTables(arr) => {
                for (i, t) in arr.iter().enumerate() {
                    out.push(Obj {
                        path: format!("{}[{i}]", self.path),
                        table: t,
                        span: t.span().or_else(|| self.span.clone()),
                        taken: Vec::new(),
                    });
                }
            }
            Item::Value(Value::Array(arr)) => {
                for (i, v) in arr.iter().enumerate() {
                    let path = format!("{}[{i}]", self.path);
                    match v {
                        Value::InlineTable(t) => out.push(Obj {
                            path,
                            table: t,
                            span: v.span().or_else(|| self.span.clone()),
                            taken: Vec::new(),
                        }),
                        _ => d.error(
                            v.span().or_else(|| self.span.clone()),
                            path,
                            "expected a table",
                        ),
                    }
                }
            }
            _ => self.wrong_type(d, "an array of tables"),
        }
        out
    }
}

/// A table being read. Take every known field, then call [`Obj::finish`].
pub struct Obj<'a> {
    pub path: String,
    table: &'a dyn TableLike,
    pub span: Option<Range<usize>>,
    taken: Vec<String>,
}

impl<'a> Obj<'a> {
    /// The document root.
    pub fn root(doc: &'a toml_edit::Document<String>) -> Self {
        Obj {
            path: String::new(),
            table: doc.as_table(),
            span: Some(0..0),
            taken: Vec::new(),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.table.get(key).is_some_and(|i| !i.is_none())
    }

    /// Take a field if present (marks it as known either way).
    pub fn field(&mut self, key: &str) -> Option<Field<'a>> {
        self.taken.push(key.to_string());
        let (k, item) = self.table.get_key_value(key)?;
        if item.is_none() {
            return None;
        }
        let span = item
            .span()
            .or_else(|| k.span())
            .or_else(|| self.span.clone());
        Some(Field {
            path: self.child_path(key),
            item,
            span,
        })
    }

    /// Mark a key as known without reading it.
    pub fn allow(&mut self, key: &str) {
        self.taken.push(key.to_string());
    }

    /// A required field: reports `missing key` at the table's line when absent.
    pub fn req<T: FromField>(&mut self, d: &mut Diagnostics, key: &str) -> Option<T> {
        match self.field(key) {
            Some(f) => T::from_field(&f, d),
            None => {
                d.error(
                    self.span.clone(),
                    self.path_or_root(),
                    format!("missing key `{key}`"),
                );
                None
            }
        }
    }

    /// An optional field: `Ok(None)` when absent, `Err(Reported)` when present but bad (already reported).
    pub fn opt<T: FromField>(
        &mut self,
        d: &mut Diagnostics,
        key: &str,
    ) -> Result<Option<T>, Reported> {
        match self.field(key) {
            Some(f) => T::from_field(&f, d).map(Some).ok_or(Reported),
            None => Ok(None),
        }
    }

    /// An optional field with a default.
    pub fn or<T: FromField>(&mut self, d: &mut Diagnostics, key: &str, default: T) -> T {
        self.opt(d, key).ok().flatten().unwrap_or(default)
    }

    /// A sub-table.
    pub fn obj(&mut self, d: &mut Diagnostics, key: &str) -> Option<Obj<'a>> {
        self.field(key).and_then(|f| f.obj(d))
    }

    fn path_or_root(&self) -> String {
        if self.path.is_empty() {
            "(top level)".into()
        } else {
            self.path.clone()
        }
    }

    /// Report every key that no reader took.
    pub fn finish(self, d: &mut Diagnostics) {
        for (key, item) in self.table.iter() {
            if self.taken.iter().any(|t| t == key) {
                continue;
            }
            let span = self
                .table
                .get_key_value(key)
                .and_then(|(k, _)| k.span())
                .or_else(|| item.span());
            let known: Vec<&str> = self.taken.iter().map(String::as_str).collect();
            let hint = closest(key, &known)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            d.error(span, self.child_path(key), format!("unknown key{hint}"));
        }
    }
}

/// The nearest known key by edit distance, for "did you mean" hints.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(dist, k)| *dist <= 2.max(k.len() / 4))
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Conversion of one TOML field into a Rust value, reporting a precise error when it does not fit.
pub trait FromField: Sized {
    fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self>;
}

impl FromField for String {
    fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self> {
        match f.value() {
            Some(Value::String(s)) => {
                let v = s.value().trim().to_string();
                if v.is_empty() {
                    f.invalid(d, "must not be empty");
                    return None;
                }
                Some(v)
            }
            _ => {
                f.wrong_type(d, "a string");
                None
            }
        }
    }
}

impl FromField for bool {
    fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self> {
        match f.value() {
            Some(Value::Boolean(b)) => Some(*b.value()),
            _ => {
                f.wrong_type(d, "true or false");
                None
            }
        }
    }
}

impl FromField for f64 {
    fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self> {
        let x = match f.value() {
            Some(Value::Float(x)) => *x.value(),
            Some(Value::Integer(i)) => *i.value() as f64,
            Some(Value::String(s)) => match s.value().trim().parse::<f64>() {
                Ok(x) => x,
                Err(_) => {
                    f.invalid(d, format!("{:?} is not a number", s.value()));
                    return None;
                }
            },
            _ => {
                f.wrong_type(d, "a number");
                return None;
            }
        };
        if !x.is_finite() {
            f.invalid(d, "must be a finite number");
            return None;
        }
        Some(x)
    }
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl FromField for $t {
            fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self> {
                match f.value() {
                    Some(Value::Integer(i)) => {
                        let v = *i.value();
                        match <$t>::try_from(v) {
                            Ok(x) => Some(x),
                            Err(_) => {
                                f.invalid(d, format!("{v} is out of range for this field ({}..={})", <$t>::MIN, <$t>::MAX));
                                None
                            }
                        }
                    }
                    _ => {
                        f.wrong_type(d, "an integer");
                        None
                    }
                }
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64, i64, usize);

/// Money: a decimal string (`"1000000"`, `"0.5"`) or a TOML integer. A TOML float is read from its literal
/// text, so `0.1` is exactly 0.1 and never a binary approximation.
impl FromField for Decimal {
    fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self> {
        let text: String = match f.value() {
            Some(Value::String(s)) => s.value().trim().replace('_', ""),
            Some(Value::Integer(i)) => i.value().to_string(),
            Some(Value::Float(x)) => match x.as_repr().and_then(|r| r.as_raw().as_str()) {
                Some(raw) => raw.replace('_', ""),
                None => x.value().to_string(),
            },
            _ => {
                f.wrong_type(d, "a decimal string such as \"1000.5\"");
                return None;
            }
        };
        let parsed = if text.contains(['e', 'E']) {
            Decimal::from_scientific(&text)
        } else {
            Decimal::from_str(&text)
        };
        match parsed {
            Ok(v) => Some(v),
            Err(_) => {
                f.invalid(d, format!("{text:?} is not a decimal number"));
                None
            }
        }
    }
}

impl FromField for Duration {
    fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self> {
        match f.value() {
            Some(Value::String(s)) => match parse_duration(s.value()) {
                Ok(v) => Some(v),
                Err(e) => {
                    f.invalid(d, e);
                    None
                }
            },
            _ => {
                f.wrong_type(d, "a duration string such as \"5m\"");
                None
            }
        }
    }
}

impl FromField for Vec<String> {
    fn from_field(f: &Field, d: &mut Diagnostics) -> Option<Self> {
        match f.value() {
            Some(Value::Array(arr)) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, v) in arr.iter().enumerate() {
                    match v {
                        Value::String(s) => out.push(s.value().to_string()),
                        _ => {
                            d.error(
                                v.span().or(f.span.clone()),
                                format!("{}[{i}]", f.path),
                                "expected a string",
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            _ => {
                f.wrong_type(d, "an array of strings");
                None
            }
        }
    }
}

/// A string restricted to a set of choices.
pub fn choice<T: Copy>(f: &Field, d: &mut Diagnostics, options: &[(&str, T)]) -> Option<T> {
    let s = String::from_field(f, d)?;
    match options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&s))
    {
        Some((_, v)) => Some(*v),
        None => {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            f.invalid(d, format!("{s:?} is not one of {}", names.join(", ")));
            None
        }
    }
}

/// All problems found in a configuration file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// The text of a TOML file: a file that cannot be read or is not UTF-8 is one problem naming the file.
pub fn read_text(path: &Path) -> Result<String, ConfigErrors> {
    let name = path.display().to_string();
    let problem = |message: String| {
        ConfigErrors(vec![Problem {
            file: name.clone(),
            line: None,
            path: String::new(),
            message,
        }])
    };
    let bytes = std::fs::read(path).map_err(|e| problem(format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        problem(format!(
            "not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parse TOML text and validate it with `read` (the span-keeping reader): `Ok` only when there is no
/// problem at all, else every problem with its line (syntax errors included).
pub fn parse_toml<T>(
    path: &Path,
    src: &str,
    read: impl FnOnce(&toml_edit::Document<String>, &mut Diagnostics) -> Option<T>,
) -> Result<T, ConfigErrors> {
    let name = path.display().to_string();
    let mut d = Diagnostics::new(&name, src);
    let doc = match toml_edit::Document::parse(src.to_string()) {
        Ok(doc) => doc,
        Err(e) => {
            d.error(
                e.span(),
                "",
                format!("invalid TOML: {}", e.message().trim()),
            );
            return Err(ConfigErrors(d.problems));
        }
    };
    match read(&doc, &mut d) {
        Some(c) if !d.has_errors() => Ok(c),
        _ => Err(ConfigErrors(d.problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(src: &str, f: impl FnOnce(&mut Obj, &mut Diagnostics)) -> Vec<String> {
        let doc = toml_edit::Document::parse(src.to_string()).unwrap();
        let mut d = Diagnostics::new("t.toml", src);
        let mut root = Obj::root(&doc);
        f(&mut root, &mut d);
        root.finish(&mut d);
        d.problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn unknown_keys_are_reported_with_line_and_hint() {
        let errs = read("a = 1\n\n[t]\nkpp = 0.5\n", |root, d| {
            let _: Option<u32> = root.req(d, "a");
            if let Some(mut t) = root.obj(d, "t") {
                let _ = t.opt::<f64>(d, "kp");
                t.finish(d);
            }
        });
        assert_eq!(
            errs,
            vec!["t.toml:4: t.kpp: unknown key (did you mean `kp`?)"]
        );
    }

    #[test]
    fn decimals_from_strings_ints_and_float_literals_are_exact() {
        let src = "a = \"0.1\"\nb = 7\nc = 0.1\nd = 1e3\ne = \"x\"\n";
        let mut got = Vec::new();
        let errs = read(src, |root, d| {
            for k in ["a", "b", "c", "d", "e"] {
                got.push(root.req::<Decimal>(d, k));
            }
        });
        assert_eq!(got[0], Some(Decimal::from_str("0.1").unwrap()));
        assert_eq!(got[1], Some(Decimal::from(7)));
        assert_eq!(got[2], Some(Decimal::from_str("0.1").unwrap()));
        assert_eq!(got[3], Some(Decimal::from(1000)));
        assert_eq!(errs, vec!["t.toml:5: e: \"x\" is not a decimal number"]);
    }

    #[test]
    fn missing_and_wrongly_typed_fields_name_their_path() {
        let src = "[[p]]\nx = 1\n[[p]]\nx = \"one\"\n";
        let errs = read(src, |root, d| {
            if let Some(f) = root.field("p") {
                for mut o in f.objs(d) {
                    let _: Option<u32> = o.req(d, "x");
                    let _: Option<String> = o.req(d, "name");
                    o.finish(d);
                }
            }
        });
        assert_eq!(
            errs,
            vec![
                "t.toml:1: p[0]: missing key `name`",
                "t.toml:4: p[1].x: expected an integer, found a string",
                "t.toml:3: p[1]: missing key `name`",
            ]
        );
    }
}
