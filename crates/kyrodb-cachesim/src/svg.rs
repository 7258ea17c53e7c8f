//! The plot: one panel per trace, hit rate against cache size, one line per policy.

use crate::{Row, POLICIES};
use std::fmt::Write as _;

const COLORS: [&str; 8] = ["#888888", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#d62728"];
const DASH: [&str; 8] = ["4 3", "", "", "", "", "6 3", "6 3", ""];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn plot(rows: &[Row], sizes: &[usize]) -> String {
    let mut traces: Vec<&str> = Vec::new();
    for r in rows {
        if !traces.contains(&r.trace.as_str()) {
            traces.push(&r.trace);
        }
    }
    let cols = 3;
    let (pw, ph) = (300.0, 220.0);
    let (ml, mt, mr, mb) = (48.0, 28.0, 12.0, 36.0);
    let legend_h = 40.0;
    let nrows = traces.len().div_ceil(cols);
    let (w, h) = (cols as f64 * (pw + ml + mr), legend_h + nrows as f64 * (ph + mt + mb));
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    for (i, p) in POLICIES.iter().enumerate() {
        let x = 10.0 + (i % 4) as f64 * 230.0;
        let y = 14.0 + (i / 4) as f64 * 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{}" stroke-width="2.5" stroke-dasharray="{}"/><text x="{}" y="{}">{}</text>"#,
            x + 22.0,
            COLORS[i],
            DASH[i],
            x + 27.0,
            y + 4.0,
            esc(p)
        );
    }
    for (t, name) in traces.iter().enumerate() {
        let ox = (t % cols) as f64 * (pw + ml + mr) + ml;
        let oy = legend_h + (t / cols) as f64 * (ph + mt + mb) + mt;
        let rs: Vec<&Row> = rows.iter().filter(|r| r.trace == *name).collect();
        let all = rs.iter().flat_map(|r| r.hit.iter().copied());
        let (lo, hi) = all.fold((1.0f64, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let (lo, hi) = (((lo * 20.0).floor() / 20.0).max(0.0), ((hi * 20.0).ceil() / 20.0).min(1.0).max(lo + 0.05));
        let xpos = |i: usize| ox + 20.0 + i as f64 * (pw - 40.0) / (sizes.len().max(2) - 1) as f64;
        let ypos = |v: f64| oy + ph - (v - lo) / (hi - lo) * ph;
        let _ = writeln!(s, r##"<rect x="{ox}" y="{oy}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>"##);
        let _ = writeln!(s, r#"<text x="{ox}" y="{}" font-weight="bold">{}</text>"#, oy - 8.0, esc(name));
        let mut g = lo;
        while g <= hi + 1e-9 {
            let y = ypos(g);
            let _ = writeln!(
                s,
                r##"<line x1="{ox}" y1="{y}" x2="{}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{:.0}%</text>"##,
                ox + pw,
                ox - 4.0,
                y + 4.0,
                g * 100.0
            );
            g += if hi - lo > 0.3 { 0.1 } else { 0.05 };
        }
        for (i, size) in sizes.iter().enumerate() {
            let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{size}</text>"#, xpos(i), oy + ph + 14.0);
        }
        let _ =
            writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">entries</text>"#, ox + pw / 2.0, oy + ph + 28.0);
        for p in 0..POLICIES.len() {
            let pts: Vec<String> = sizes
                .iter()
                .enumerate()
                .filter_map(|(i, sz)| {
                    rs.iter().find(|r| r.entries == *sz).map(|r| format!("{:.1},{:.1}", xpos(i), ypos(r.hit[p])))
                })
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
                pts.join(" "),
                COLORS[p],
                DASH[p]
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
