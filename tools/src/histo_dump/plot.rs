//! `--plot FILE.svg`: latency against percentile, one line per tag, on the
//! log "1/(1-p)" x axis the HdrHistogram plotters use (so 90%, 99%, 99.9%
//! are evenly spaced) and a log latency axis (`--linear-y` for a linear
//! one), so series microseconds apart stay apart from a millisecond tail.
//! Each series has its own colour and line pattern. Drawn with plotters'
//! SVG backend: text goes into the SVG as `<text>`, so no system fonts are
//! needed.

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::element::{DashedPathElement, IntoDynElement};
use plotters::prelude::*;

use super::args::Unit;
use super::load::TagHistogram;

const TICKS_PER_HALF_DISTANCE: u32 = 5;
const SIZE_PX: (u32, u32) = (1000, 600);
/// The x axis ends at least at 99.9% and at most at 99.99999%.
const X_MIN_RIGHT_END: f64 = 1e3;
const X_MAX_RIGHT_END: f64 = 1e7;

/// One tag's curve: (1/(1-p), latency in `unit`) points.
fn curve(tag: &TagHistogram, unit: Unit) -> Vec<(f64, f64)> {
    if tag.histogram.is_empty() {
        return Vec::new();
    }
    tag.histogram
        .iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .map(|step| (step.quantile_iterated_to(), step.value_iterated_to()))
        .filter(|(quantile, _)| *quantile < 1.0)
        .map(|(quantile, value_ns)| {
            let x = (1.0 / (1.0 - quantile)).min(X_MAX_RIGHT_END);
            (x, value_ns as f64 / unit.ns_per_unit())
        })
        .collect()
}

/// "99.9%" for x = 1000: as many decimals as the percentile needs.
fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".to_owned();
    }
    let decimals = (x.log10() - 1e-9).ceil() - 2.0;
    let decimals = if decimals > 0.0 { decimals as usize } else { 0 };
    format!("{:.*}%", decimals, 100.0 * (1.0 - 1.0 / x))
}

/// How each series is drawn: colour and line pattern both differ, so two
/// series stay apart in grey print and where they overlap.
fn series_style(index: usize) -> (RGBAColor, Option<(u32, u32)>) {
    const COLOURS: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(23, 190, 207),
    ];
    const DASHES: [Option<(u32, u32)>; 3] = [None, Some((10, 5)), Some((3, 4))];
    let colour = COLOURS[index % COLOURS.len()].to_rgba();
    (
        colour,
        DASHES[(index / COLOURS.len() + index) % DASHES.len()],
    )
}

/// The y range: from below the smallest latency (log) or 0 (linear) to above the largest.
fn y_range(curves: &[(&str, Vec<(f64, f64)>)], log_y: bool) -> (f64, f64) {
    let ys = curves
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1));
    let (low, high) = ys.fold((f64::MAX, 0.0f64), |(low, high), y| {
        (if y > 0.0 { low.min(y) } else { low }, high.max(y))
    });
    let high = if high > 0.0 { high * 1.2 } else { 1.0 };
    if !log_y {
        return (0.0, high);
    }
    let low = if low < f64::MAX {
        low / 1.5
    } else {
        high / 10.0
    };
    (low.max(1e-3), high.max(low * 10.0))
}

/// Draws every tag's distribution into an SVG at `path`, latency on a log
/// axis unless `log_y` is false.
pub fn write_plot(
    path: &Path,
    tags: &[TagHistogram],
    unit: Unit,
    title: &str,
    log_y: bool,
) -> anyhow::Result<()> {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = tags
        .iter()
        .map(|tag| (tag.name(), curve(tag, unit)))
        .collect();
    let x_right = curves
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0))
        .fold(X_MIN_RIGHT_END, f64::max);
    let (y_low, y_high) = y_range(&curves, log_y);
    let root = SVGBackend::new(path, SIZE_PX).into_drawing_area();
    let plot_error =
        |error: &dyn std::fmt::Display| anyhow!("{}: drawing failed: {error}", path.display());
    root.fill(&WHITE).map_err(|e| plot_error(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80);
    let x = (1.0f64..x_right).log_scale();
    let drawn = if log_y {
        let chart = builder.build_cartesian_2d(x, (y_low..y_high).log_scale());
        chart
            .map_err(|e| plot_error(&e))
            .and_then(|chart| draw_curves(chart, curves, unit, y_low).map_err(|e| plot_error(&e)))
    } else {
        let chart = builder.build_cartesian_2d(x, y_low..y_high);
        chart
            .map_err(|e| plot_error(&e))
            .and_then(|chart| draw_curves(chart, curves, unit, y_low).map_err(|e| plot_error(&e)))
    };
    drawn?;
    root.present().map_err(|e| plot_error(&e))?;
    Ok(())
}

type Drawn<'a> = Result<(), DrawingAreaErrorKind<<SVGBackend<'a> as DrawingBackend>::ErrorType>>;

/// The mesh, one line per curve (values below `y_floor` drawn at it), and the legend.
fn draw_curves<'a, X, Y>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    curves: Vec<(&str, Vec<(f64, f64)>)>,
    unit: Unit,
    y_floor: f64,
) -> Drawn<'a>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc(format!("latency ({})", unit.label()))
        .x_label_formatter(&|x| percentile_label(*x))
        .draw()?;
    for (index, (name, points)) in curves.into_iter().enumerate() {
        let (colour, dash) = series_style(index);
        let style = colour.stroke_width(2);
        let points: Vec<(f64, f64)> = points
            .into_iter()
            .map(|(x, y)| (x, y.max(y_floor)))
            .collect();
        let series = match dash {
            None => chart.draw_series(LineSeries::new(points, style))?,
            Some((size, gap)) => {
                chart.draw_series(DashedLineSeries::new(points, size, gap, style))?
            }
        };
        series.label(name).legend(move |(x, y)| match dash {
            None => PathElement::new(vec![(x, y), (x + 24, y)], style).into_dyn(),
            Some((size, gap)) => {
                DashedPathElement::new(vec![(x, y), (x + 24, y)], size, gap, style).into_dyn()
            }
        });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
}

#[cfg(test)]
mod tests {
    use super::percentile_label;

    // Axis labels read as percentiles at the usual decades.
    #[test]
    fn labels_are_percentiles() {
        let labels: Vec<String> = [1.0, 2.0, 10.0, 100.0, 200.0, 1_000.0, 10_000.0]
            .into_iter()
            .map(percentile_label)
            .collect();
        assert_eq!(
            labels,
            ["0%", "50%", "90%", "99%", "99.5%", "99.9%", "99.99%"]
        );
    }
}
