//! Small inline-SVG charts for the HTML report: grouped horizontal bars (linear or log
//! scale) and a line chart. No scripts, no external files: the page renders offline.

use std::fmt::Write;

/// Escapes text for XML and HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One series of a bar chart: name, colour, one value per category (None = no bar).
pub struct Series<'a> {
    /// Legend name.
    pub name: &'a str,
    /// CSS colour.
    pub color: &'a str,
    /// Values by category.
    pub values: Vec<Option<f64>>,
}

fn fmt(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.0}", v)
    } else if v >= 10.0 {
        format!("{:.1}", v)
    } else {
        format!("{:.2}", v)
    }
}

/// Horizontal grouped bars. `marks` draws vertical reference lines (value, label).
pub fn bars(title: &str, unit: &str, cats: &[String], series: &[Series<'_>], log: bool, marks: &[(f64, &str)]) -> String {
    let (label_w, plot_w, bar_h, gap) = (210.0, 560.0, 11.0, 8.0);
    let group_h = bar_h * series.len() as f64 + gap;
    let top = 48.0;
    let h = top + group_h * cats.len() as f64 + 40.0;
    let w = label_w + plot_w + 90.0;
    let vals = series.iter().flat_map(|s| s.values.iter().flatten().copied()).chain(marks.iter().map(|m| m.0));
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for v in vals.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return String::new();
    }
    let (lo, hi) = if log { (10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil())) } else { (0.0, hi * 1.1) };
    let x = |v: f64| -> f64 {
        let f = if log { (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()).max(1e-9) } else { v / hi.max(1e-12) };
        label_w + f.clamp(0.0, 1.0) * plot_w
    };
    let mut s = String::new();
    let _ = write!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#);
    let _ = write!(s, r#"<text x="4" y="16" font-size="14" font-weight="bold">{}</text>"#, esc(title));
    let mut lx = label_w;
    for se in series {
        let _ = write!(s, r#"<rect x="{lx}" y="26" width="10" height="10" fill="{}"/><text x="{}" y="35">{}</text>"#, se.color, lx + 14.0, esc(se.name));
        lx += 24.0 + se.name.len() as f64 * 6.5;
    }
    // Grid: decades on log scale, fifths on linear.
    let ticks: Vec<f64> = if log {
        let (a, b) = (lo.log10().round() as i32, hi.log10().round() as i32);
        (a..=b).map(|e| 10f64.powi(e)).collect()
    } else {
        (0..=5).map(|i| hi * i as f64 / 5.0).collect()
    };
    let bottom = h - 30.0;
    for t in ticks {
        let tx = x(t);
        let _ = write!(s, r##"<line x1="{tx}" y1="{top}" x2="{tx}" y2="{bottom}" stroke="#ddd"/><text x="{tx}" y="{}" text-anchor="middle" fill="#555">{}</text>"##, bottom + 14.0, fmt(t));
    }
    let _ = write!(s, r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text>"##, label_w + plot_w / 2.0, h - 2.0, esc(unit));
    for (ci, c) in cats.iter().enumerate() {
        let gy = top + group_h * ci as f64;
        let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, label_w - 6.0, gy + group_h / 2.0, esc(c));
        for (si, se) in series.iter().enumerate() {
            if let Some(v) = se.values.get(ci).copied().flatten() {
                let y = gy + bar_h * si as f64;
                let x1 = x(v);
                let _ = write!(s, r#"<rect x="{label_w}" y="{y}" width="{:.1}" height="{}" fill="{}"><title>{}: {}</title></rect>"#,
                    (x1 - label_w).max(0.5), bar_h - 1.0, se.color, esc(se.name), fmt(v));
                let _ = write!(s, r##"<text x="{}" y="{}" fill="#333" font-size="9">{}</text>"##, x1 + 3.0, y + bar_h - 2.5, fmt(v));
            }
        }
    }
    for (v, label) in marks {
        let mx = x(*v);
        let _ = write!(s, r##"<line x1="{mx}" y1="{top}" x2="{mx}" y2="{bottom}" stroke="#c00" stroke-dasharray="4 3"/><text x="{mx}" y="{}" fill="#c00" text-anchor="middle">{}</text>"##, top - 2.0, esc(label));
    }
    s.push_str("</svg>");
    s
}

/// A line chart of (x, y) points with labelled axes (linear y, log x when `log_x`).
pub fn line(title: &str, xlabel: &str, ylabel: &str, pts: &[(f64, f64)], log_x: bool) -> String {
    if pts.len() < 2 {
        return String::new();
    }
    let (w, h, l, r, t, b) = (640.0, 320.0, 70.0, 20.0, 36.0, 44.0);
    let fx = |v: f64| if log_x { v.max(1.0).log10() } else { v };
    let (x0, x1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, c), p| (a.min(fx(p.0)), c.max(fx(p.0))));
    let y1 = pts.iter().fold(0.0f64, |a, p| a.max(p.1)) * 1.1;
    let px = |v: f64| l + (fx(v) - x0) / (x1 - x0).max(1e-9) * (w - l - r);
    let py = |v: f64| h - b - v / y1.max(1e-9) * (h - t - b);
    let mut s = String::new();
    let _ = write!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#);
    let _ = write!(s, r#"<text x="4" y="16" font-size="14" font-weight="bold">{}</text>"#, esc(title));
    let _ = write!(s, r##"<line x1="{l}" y1="{}" x2="{}" y2="{}" stroke="#999"/><line x1="{l}" y1="{t}" x2="{l}" y2="{}" stroke="#999"/>"##, h - b, w - r, h - b, h - b);
    for i in 0..=4 {
        let v = y1 * i as f64 / 4.0;
        let _ = write!(s, r##"<text x="{}" y="{}" text-anchor="end" fill="#555">{}</text><line x1="{l}" y1="{}" x2="{}" y2="{}" stroke="#eee"/>"##, l - 4.0, py(v) + 4.0, fmt(v), py(v), w - r, py(v));
    }
    let path: Vec<String> = pts.iter().map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1))).collect();
    let _ = write!(s, r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="2"/>"##, path.join(" "));
    for p in pts {
        let _ = write!(s, r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#1f77b4"><title>{}: {}</title></circle><text x="{:.1}" y="{}" text-anchor="middle" fill="#333">{}</text>"##,
            px(p.0), py(p.1), fmt(p.0), fmt(p.1), px(p.0), h - b + 14.0, fmt(p.0));
    }
    let _ = write!(s, r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text>"##, l + (w - l - r) / 2.0, h - 6.0, esc(xlabel));
    let _ = write!(s, r##"<text x="14" y="{}" fill="#555" transform="rotate(-90 14 {})" text-anchor="middle">{}</text>"##, h / 2.0, h / 2.0, esc(ylabel));
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_wellformed_svg() {
        let cats = vec!["a<b".to_string(), "c".to_string()];
        let s = bars("t", "µs", &cats, &[Series { name: "x", color: "#000", values: vec![Some(1.0), Some(100.0)] }], true, &[(10.0, "10x")]);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("a&lt;b"));
        assert_eq!(s.matches("<rect").count(), 3, "legend + two bars");
        let l = line("m", "x", "y", &[(10.0, 1.0), (100.0, 5.0), (1000.0, 40.0)], true);
        assert_eq!(l.matches("<circle").count(), 3);
        assert!(bars("t", "", &cats, &[], false, &[]).is_empty());
    }
}
