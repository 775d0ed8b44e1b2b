//! The soak's RSS over time as a small standalone SVG (`rss.svg` beside
//! `report.md`): total and anonymous RSS against seconds, the warm-up
//! boundary as a dashed line, and a band one MiB above the steady state —
//! the growth goal — so a reader sees at a glance whether the curve leaves it.
//!
//! Pure function of the samples; no plotting crate (the picture is two
//! polylines and a few labels).

use crate::machine::mib;
use crate::memory::Soak;
use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 36.0;
/// The soak goal: growth after warm-up under this many MiB.
const GOAL_BAND_MIB: f64 = 1.0;

/// Axis ranges: seconds on x, MiB on y (padded so flat curves sit inside).
struct Frame {
    t_max: f64,
    y_min: f64,
    y_max: f64,
}

impl Frame {
    fn of(soak: &Soak) -> Frame {
        let t_max = soak.samples.last().map_or(1.0, |s| s.0).max(1.0);
        let values = soak
            .samples
            .iter()
            .flat_map(|(_, r)| [mib(r.total_bytes), mib(r.anon_bytes)]);
        let (low, high) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (low, high) = if low > high { (0.0, 1.0) } else { (low, high) };
        let band_top = mib(soak.steady().total_bytes) + GOAL_BAND_MIB;
        let high = high.max(band_top);
        let pad = ((high - low) * 0.1).max(0.5);
        Frame {
            t_max,
            y_min: (low - pad).max(0.0),
            y_max: high + pad,
        }
    }

    fn x(&self, t: f64) -> f64 {
        LEFT + t / self.t_max * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, value_mib: f64) -> f64 {
        let span = (self.y_max - self.y_min).max(1e-9);
        TOP + (self.y_max - value_mib) / span * (HEIGHT - TOP - BOTTOM)
    }
}

/// The plot, as a complete SVG document.
pub fn rss_plot(soak: &Soak) -> String {
    let frame = Frame::of(soak);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r#"<title>RSS over a {:.0} s soak at {} events/s ({})</title>"#,
        soak.elapsed_s, soak.rate_per_sec, soak.plan
    );
    axes(&mut out, &frame);
    goal_band(&mut out, &frame, soak);
    warm_up_line(&mut out, &frame, soak.warm_up_s);
    curve(&mut out, &frame, soak, "#1f77b4", |r| r.total_bytes);
    curve(&mut out, &frame, soak, "#ff7f0e", |r| r.anon_bytes);
    legend(&mut out);
    out.push_str("</svg>\n");
    out
}

fn axes(out: &mut String, frame: &Frame) {
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let (y0, y1) = (HEIGHT - BOTTOM, TOP);
    let _ = writeln!(
        out,
        r##"<path d="M{x0},{y1} L{x0},{y0} L{x1},{y0}" fill="none" stroke="#333"/>"##
    );
    for i in 0..=4 {
        let t = frame.t_max * f64::from(i) / 4.0;
        let v = frame.y_min + (frame.y_max - frame.y_min) * f64::from(i) / 4.0;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0} s</text>"#,
            frame.x(t),
            y0 + 16.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{v:.1}</text>"#,
            x0 - 6.0,
            frame.y(v) + 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">RSS (MiB)</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0
    );
}

fn goal_band(out: &mut String, frame: &Frame, soak: &Soak) {
    let steady = mib(soak.steady().total_bytes);
    let (top, bottom) = (frame.y(steady + GOAL_BAND_MIB), frame.y(steady));
    let x = frame.x(soak.warm_up_s);
    let _ = writeln!(
        out,
        r##"<rect x="{x:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#2ca02c" fill-opacity="0.12"><title>goal: under {GOAL_BAND_MIB} MiB growth after warm-up</title></rect>"##,
        (WIDTH - RIGHT - x).max(0.0),
        (bottom - top).max(0.0)
    );
}

fn warm_up_line(out: &mut String, frame: &Frame, warm_up_s: f64) {
    let x = frame.x(warm_up_s);
    let _ = writeln!(
        out,
        r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#666">warm-up</text>"##,
        HEIGHT - BOTTOM,
        x + 4.0,
        TOP + 10.0
    );
}

fn curve(
    out: &mut String,
    frame: &Frame,
    soak: &Soak,
    colour: &str,
    pick: impl Fn(&crate::machine::Rss) -> u64,
) {
    let _ = write!(
        out,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points=""#
    );
    for (t, rss) in &soak.samples {
        let _ = write!(out, "{:.1},{:.1} ", frame.x(*t), frame.y(mib(pick(rss))));
    }
    out.push_str("\"/>\n");
}

fn legend(out: &mut String) {
    let x = WIDTH - RIGHT - 190.0;
    for (i, (colour, label)) in [
        ("#1f77b4", "total RSS"),
        ("#ff7f0e", "anonymous (heap, stacks)"),
    ]
    .into_iter()
    .enumerate()
    {
        let y = TOP + 14.0 * i as f64 + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{x}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
            y - 4.0,
            x + 18.0,
            y - 4.0,
            x + 24.0,
            y
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Rss;

    fn soak(samples: Vec<(f64, u64)>) -> Soak {
        Soak {
            seconds_requested: 20.0,
            rate_per_sec: 100_000,
            plan: "fused".into(),
            events: 1,
            elapsed_s: samples.last().map_or(0.0, |s| s.0),
            samples: samples
                .into_iter()
                .map(|(t, mib)| {
                    let bytes = mib * 1024 * 1024;
                    (
                        t,
                        Rss {
                            total_bytes: bytes,
                            anon_bytes: bytes / 2,
                            file_bytes: bytes / 2,
                        },
                    )
                })
                .collect(),
            warm_up_s: 5.0,
            ..Soak::default()
        }
    }

    fn points(svg: &str) -> Vec<(f64, f64)> {
        let start = svg.find("points=\"").unwrap() + 8;
        let end = start + svg[start..].find('"').unwrap();
        svg[start..end]
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn one_point_per_sample_inside_the_plot_and_growth_goes_up() {
        let svg = rss_plot(&soak(vec![(0.0, 30), (5.0, 38), (10.0, 38), (20.0, 40)]));
        assert!(
            svg.starts_with("<svg") && svg.ends_with("</svg>\n"),
            "{svg}"
        );
        let total = points(&svg);
        assert_eq!(total.len(), 4);
        for (x, y) in &total {
            assert!((LEFT..=WIDTH - RIGHT).contains(x), "x {x} outside");
            assert!((TOP..=HEIGHT - BOTTOM).contains(y), "y {y} outside");
        }
        assert!(
            total[3].1 < total[2].1,
            "more memory must plot higher: {total:?}"
        );
        assert!(total[0].0 < total[3].0);
    }

    #[test]
    fn an_empty_soak_still_renders() {
        let svg = rss_plot(&soak(vec![]));
        assert!(svg.contains("<polyline"), "{svg}");
    }
}
