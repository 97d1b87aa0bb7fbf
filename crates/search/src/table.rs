//! Tabular output in the four formats of the `results` commands: an aligned text table,
//! CSV, JSON (an array of objects with typed values) and Markdown.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Output format of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// An array of objects, numbers as numbers.
    Json,
    /// A GitHub-flavoured Markdown table.
    Markdown,
}

impl Format {
    /// Accepted names.
    pub const NAMES: &'static [&'static str] = &["table", "csv", "json", "markdown"];

    /// Parses a name (`md` is accepted for markdown).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "markdown" | "md" => Ok(Self::Markdown),
            _ => Err(format!(
                "unknown format '{s}': expected one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }

    /// Whether the format is for people (combined "mean ± sd" cells) rather than machines.
    pub fn is_pretty(self) -> bool {
        matches!(self, Self::Table | Self::Markdown)
    }
}

/// One cell: its display text and its typed value for JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// What text formats print.
    pub text: String,
    /// What JSON prints.
    pub value: Value,
}

impl Cell {
    /// A text cell.
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        Self {
            value: Value::String(s.clone()),
            text: s,
        }
    }

    /// A number shown with `digits` decimals; `None` or non-finite prints `-` / `null`.
    pub fn num(x: Option<f64>, digits: usize) -> Self {
        match x.filter(|v| v.is_finite()) {
            Some(v) => Self {
                text: format!("{v:.digits$}"),
                value: Value::from(v),
            },
            None => Self {
                text: "-".into(),
                value: Value::Null,
            },
        }
    }

    /// An integer.
    pub fn int(x: usize) -> Self {
        Self {
            text: x.to_string(),
            value: Value::from(x),
        }
    }

    /// A JSON value shown as plain text (strings unquoted, null as `-`).
    pub fn json(v: Value) -> Self {
        let text = match &v {
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
        };
        Self { text, value: v }
    }
}

/// A table with named columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: Vec<String>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Renders the table in `format`, ending with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.render_text(),
            Format::Csv => self.render_csv(),
            Format::Json => self.render_json(),
            Format::Markdown => self.render_markdown(),
        }
    }

    fn widths(&self) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, h)| {
                self.rows
                    .iter()
                    .map(|r| r[i].text.chars().count())
                    .chain([h.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn render_text(&self) -> String {
        let widths = self.widths();
        let mut out = String::new();
        let line = |cells: Vec<&str>, out: &mut String| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", parts.join("  ").trim_end());
        };
        line(self.columns.iter().map(String::as_str).collect(), &mut out);
        line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect(),
            &mut out,
        );
        for row in &self.rows {
            line(row.iter().map(|c| c.text.as_str()).collect(), &mut out);
        }
        out
    }

    fn render_csv(&self) -> String {
        fn field(s: &str) -> String {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| field(c)).collect();
        let _ = writeln!(out, "{}", header.join(","));
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| match &c.value {
                    Value::Null => String::new(),
                    Value::String(s) => field(s),
                    v => field(&v.to_string()),
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join(","));
        }
        out
    }

    fn render_json(&self) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let obj: Map<String, Value> = self
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().map(|c| c.value.clone()))
                    .collect();
                Value::Object(obj)
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&rows).expect("JSON values serialize");
        s.push('\n');
        s
    }

    fn render_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| {} |",
            self.columns
                .iter()
                .map(|c| esc(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            out,
            "|{}|",
            self.columns
                .iter()
                .map(|_| "---")
                .collect::<Vec<_>>()
                .join("|")
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} |",
                row.iter()
                    .map(|c| esc(&c.text))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(vec!["name".into(), "acc".into()]);
        t.rows
            .push(vec![Cell::text("a,b \"q\""), Cell::num(Some(0.87654), 4)]);
        t.rows.push(vec![Cell::text("x|y"), Cell::num(None, 4)]);
        t
    }

    #[test]
    fn renders_every_format() {
        let t = sample();
        let text = t.render(Format::Table);
        assert!(
            text.starts_with("name     acc\n-------  ------\n"),
            "{text}"
        );
        assert!(text.contains("a,b \"q\"  0.8765"), "{text}");
        assert_eq!(
            t.render(Format::Csv),
            "name,acc\n\"a,b \"\"q\"\"\",0.87654\nx|y,\n"
        );
        let json: Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
        assert_eq!(json[0]["acc"], Value::from(0.87654));
        assert_eq!(json[1]["acc"], Value::Null);
        let md = t.render(Format::Markdown);
        assert!(md.contains("| x\\|y | - |"), "{md}");
    }

    #[test]
    fn parses_format_names() {
        assert_eq!(Format::parse("MD"), Ok(Format::Markdown));
        assert!(Format::parse("xml")
            .unwrap_err()
            .contains("table, csv, json, markdown"));
    }
}
