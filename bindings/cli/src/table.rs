//! Plain-text tables for the terminal: a header, a rule, left-aligned text and
//! right-aligned numbers, long cells cut with an ellipsis. Values print as SQLite's shell
//! prints them (NULL, numbers, text).

use cidb::Value;

/// The widest a cell may be before it is cut.
const MAX_CELL: usize = 60;

/// A value as the table shows it.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Real(r) => format!("{r}"),
        Value::Text(s) | Value::Json(s) => s.replace('\n', " "),
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CELL {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX_CELL - 1).collect();
    t.push('…');
    t
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.parse::<f64>().is_ok()
}

/// Renders `rows` under `header`.
pub fn render(header: &[String], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cut(c)).collect()).collect();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String], align_numbers: bool| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(&width)
            .map(|(c, w)| if align_numbers && numeric(c) { format!("{c:>w$}") } else { format!("{c:<w$}") })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = line(header, false);
    out.push('\n');
    out.push_str(&width.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r, true));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_cuts() {
        let t = render(&["id".into(), "n".into()], &[vec!["a".into(), "5".into()], vec!["bb".into(), "100".into()]]);
        assert_eq!(t, "id  n\n--  ---\na     5\nbb  100\n");
        let long = "x".repeat(100);
        assert!(render(&["c".into()], &[vec![long]]).contains('…'));
        assert_eq!(cell(&Value::Null), "NULL");
    }
}
