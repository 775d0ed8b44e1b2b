//! `--plot FILE.svg`: latency against percentile, one line per tag, on the
//! log "1/(1-p)" x axis the HdrHistogram plotters use (so 90%, 99%, 99.9%
//! are evenly spaced). Drawn with plotters' SVG backend: text goes into the
//! SVG as `<text>`, so no system fonts are needed.

use std::path::Path;

use anyhow::anyhow;
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

/// Draws every tag's distribution into an SVG at `path`.
pub fn write_plot(
    path: &Path,
    tags: &[TagHistogram],
    unit: Unit,
    title: &str,
) -> anyhow::Result<()> {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = tags
        .iter()
        .map(|tag| (tag.name(), curve(tag, unit)))
        .collect();
    let points = curves.iter().flat_map(|(_, points)| points.iter());
    let (x_right, y_top) = points.fold((X_MIN_RIGHT_END, 0.0f64), |(x, y), point| {
        (x.max(point.0), y.max(point.1))
    });
    let y_top = if y_top > 0.0 { y_top * 1.1 } else { 1.0 };

    let root = SVGBackend::new(path, SIZE_PX).into_drawing_area();
    let plot_error =
        |error: &dyn std::fmt::Display| anyhow!("{}: drawing failed: {error}", path.display());
    root.fill(&WHITE).map_err(|e| plot_error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d((1.0f64..x_right).log_scale(), 0.0f64..y_top)
        .map_err(|e| plot_error(&e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc(format!("latency ({})", unit.label()))
        .x_label_formatter(&|x| percentile_label(*x))
        .draw()
        .map_err(|e| plot_error(&e))?;
    for (index, (name, points)) in curves.into_iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| plot_error(&e))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(|e| plot_error(&e))?;
    root.present().map_err(|e| plot_error(&e))?;
    Ok(())
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
