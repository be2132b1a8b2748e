//! Line charts as standalone SVG: axes with round ticks, one polyline with
//! markers per series, a legend. Enough for the evaluation's figures.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed without markers (analytical curves, expectations).
    pub dashed: bool,
}

impl Series {
    /// A measured series.
    pub fn measured(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, dashed: false }
    }

    /// An analytical or reference series.
    pub fn reference(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, dashed: true }
    }
}

/// How the y axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Linear, from zero (or below, if values are negative).
    Linear,
    /// `log10(1 + y)`: counts spanning orders of magnitude, zero included.
    Log1p,
}

/// A chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The y axis mapping.
    pub y_scale: Scale,
    /// The lines.
    pub series: Vec<Series>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;
const COLORS: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// Round tick positions covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step =
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| span / s <= 6.0).unwrap_or(magnitude * 10.0);
    let first = (lo / step).ceil() * step;
    (0..=60).map(|i| first + step * f64::from(i)).take_while(|t| *t <= hi + step * 1e-6).collect()
}

fn label(v: f64) -> String {
    if v.abs() >= 1000.0 || (v.fract().abs() < 1e-9) {
        format!("{v:.0}")
    } else if (v * 10.0).fract().abs() < 1e-6 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Chart {
    fn map_y(&self, y: f64) -> f64 {
        match self.y_scale {
            Scale::Linear => y,
            Scale::Log1p => (1.0 + y.max(0.0)).log10(),
        }
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> String {
        let points = self.series.iter().flat_map(|s| s.points.iter().copied());
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
        for (x, y) in points {
            x_lo = x_lo.min(x);
            x_hi = x_hi.max(x);
            y_lo = y_lo.min(self.map_y(y));
            y_hi = y_hi.max(self.map_y(y));
        }
        if x_lo > x_hi {
            (x_lo, x_hi, y_hi) = (0.0, 1.0, 1.0);
        }
        if x_hi <= x_lo {
            x_hi = x_lo + 1.0;
        }
        let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        // Headroom so the data stays below the legend in the top corner.
        let legend_h = 8.0 + 16.0 * self.series.len() as f64;
        let fraction = ((ph - legend_h - 12.0) / ph).max(0.3);
        y_hi = if y_hi <= y_lo { y_lo + 1.0 } else { y_lo + (y_hi - y_lo) / fraction };
        let sx = |x: f64| LEFT + (x - x_lo) / (x_hi - x_lo) * pw;
        let sy = |y: f64| TOP + ph - (y - y_lo) / (y_hi - y_lo) * ph;

        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        // Grid and ticks.
        for t in ticks(x_lo, x_hi) {
            let x = sx(t);
            let _ =
                writeln!(out, r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e5e5e5"/>"##, TOP + ph);
            let _ = writeln!(
                out,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                TOP + ph + 16.0,
                label(t)
            );
        }
        let y_ticks: Vec<(f64, String)> = match self.y_scale {
            Scale::Linear => ticks(y_lo, y_hi).into_iter().map(|t| (t, label(t))).collect(),
            Scale::Log1p => (0..=9)
                .map(|p| if p == 0 { 0.0 } else { 10f64.powi(p - 1) })
                .map(|v| (self.map_y(v), label(v)))
                .filter(|(m, _)| *m <= y_hi)
                .collect(),
        };
        for (t, text) in y_ticks {
            let y = sy(t);
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/>"##,
                LEFT + pw
            );
            let _ = writeln!(out, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{text}</text>"#, LEFT - 6.0, y + 4.0);
        }
        let _ = writeln!(out, r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            HEIGHT - 12.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            out,
            r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        // Series, then the legend on a white box above them.
        let longest = self.series.iter().map(|s| s.name.chars().count()).max().unwrap_or(0) as f64;
        let legend_w = 48.0 + 6.6 * longest;
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let path: Vec<String> =
                s.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(self.map_y(y)))).collect();
            let dash = if s.dashed { r#" stroke-dasharray="6 4""# } else { "" };
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                path.join(" ")
            );
            if !s.dashed && s.points.len() <= 120 {
                for &(x, y) in &s.points {
                    let _ = writeln!(
                        out,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                        sx(x),
                        sy(self.map_y(y))
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{legend_w:.1}" height="{legend_h:.1}" fill="white" fill-opacity="0.85" stroke="#ccc"/>"##,
            LEFT + 4.0,
            TOP + 4.0
        );
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let dash = if s.dashed { r#" stroke-dasharray="6 4""# } else { "" };
            let ly = TOP + 14.0 + 16.0 * i as f64;
            let _ = writeln!(
                out,
                r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/>"#,
                LEFT + 10.0,
                LEFT + 34.0
            );
            let _ = writeln!(out, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, LEFT + 40.0, ly + 4.0, escape(&s.name));
        }
        out.push_str("</svg>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(8.0, 56.0), [10.0, 20.0, 30.0, 40.0, 50.0]);
        assert_eq!(ticks(0.0, 0.9).len(), 5);
    }

    #[test]
    fn a_chart_is_an_svg_with_every_series() {
        let chart = Chart {
            title: "load <test>".into(),
            x_label: "members".into(),
            y_label: "messages".into(),
            y_scale: Scale::Log1p,
            series: vec![
                Series::measured("sent", vec![(8.0, 2.0), (16.0, 2.1)]),
                Series::reference("expected", vec![(8.0, 2.0), (16.0, 2.0)]),
            ],
        };
        let svg = chart.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("load &lt;test&gt;"));
        assert_eq!(svg.matches("<circle").count(), 2, "markers on measured series only");
    }
}
