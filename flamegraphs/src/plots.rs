//! Charts for `index.html`, drawn as SVG by `plotters`.
//!
//! The scaling-loss chart: one horizontal stacked bar per case, one
//! segment per cause of lost CPU time (the causes of
//! `capos_measure::scaling`): what the n-worker case spent beyond k times
//! the 1-worker case, cause by cause. Causes the n-worker case spent less
//! on (negative) stack leftwards from zero, so a bar's right end minus its
//! left end is the loss.

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::error::{write_file, ProfileError};

/// One case's bar: its label and (cause, CPU-ms) segments in drawing order.
#[derive(Clone, Debug, PartialEq)]
pub struct LossBar {
    pub label: String,
    pub segments: Vec<(String, f64)>,
}

/// Colours by cause, in the order causes are listed in the legend (a
/// cause not listed gets the last).
const PALETTE: &[(&str, RGBColor)] = &[
    ("idle", RGBColor(0x9e, 0x9e, 0x9e)),
    ("locks (spin + longer holds)", RGBColor(0xd6, 0x27, 0x28)),
    ("kernel (outside lock holds)", RGBColor(0x1f, 0x77, 0xb4)),
    ("irq", RGBColor(0xff, 0x7f, 0x0e)),
    ("shootdown", RGBColor(0x94, 0x67, 0xbd)),
    ("measure", RGBColor(0x8c, 0x56, 0x4b)),
    ("unexplained (user time growth)", RGBColor(0xe3, 0xc5, 0x6b)),
    // CPU states (`capos_measure::cpu_time::CpuState` names) not above.
    ("user", RGBColor(0x2c, 0xa0, 0x2c)),
    ("kernel", RGBColor(0x1f, 0x77, 0xb4)),
    ("lock_spin", RGBColor(0xd6, 0x27, 0x28)),
];

fn colour(cause: &str) -> RGBColor {
    PALETTE.iter().find(|(n, _)| *n == cause).map_or(RGBColor(0x55, 0x55, 0x55), |(_, c)| *c)
}

/// The scaling-loss chart as SVG text ([`stacked_bars_svg`] with the lost
/// CPU-ms on the x axis). An empty `bars` gives a chart with no bars.
pub fn loss_bars_svg(title: &str, bars: &[LossBar]) -> Result<String, String> {
    stacked_bars_svg(title, "lost CPU-ms (n-worker case minus k x the 1-worker case)", bars)
}

/// Horizontal bars of segments stacked by name (coloured by [`PALETTE`]),
/// positive ones rightwards and negative ones leftwards of zero, with
/// `x_desc` under the axis and room on the right for the legend.
pub fn stacked_bars_svg(title: &str, x_desc: &str, bars: &[LossBar]) -> Result<String, String> {
    let n = bars.len().max(1);
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for b in bars {
        let pos: f64 = b.segments.iter().map(|s| s.1.max(0.0)).sum();
        let neg: f64 = b.segments.iter().map(|s| s.1.min(0.0)).sum();
        hi = hi.max(pos);
        lo = lo.min(neg);
    }
    let span = (hi - lo).max(1e-9);
    // The legend sits in the lower right: keep a fifth of the width free.
    let (lo, hi) = (lo - span * 0.02, hi + span * 0.25);
    let mut svg = String::new();
    {
        let height = 140 + 44 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (960, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(200)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())
            .map_err(|e| e.to_string())?;
        let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).copied().unwrap_or("").to_string(),
                _ => String::new(),
            })
            .x_desc(x_desc)
            .draw()
            .map_err(|e| e.to_string())?;
        let mut causes: Vec<&str> = Vec::new();
        for b in bars {
            for (c, _) in &b.segments {
                if !causes.contains(&c.as_str()) {
                    causes.push(c);
                }
            }
        }
        causes.sort_by_key(|c| PALETTE.iter().position(|(n, _)| n == c).unwrap_or(PALETTE.len()));
        // Each bar's running ends, rightwards and leftwards from zero.
        let mut ends: Vec<(f64, f64)> = vec![(0.0, 0.0); bars.len()];
        for cause in causes {
            let fill = colour(cause);
            let mut rects = Vec::new();
            for (i, b) in bars.iter().enumerate() {
                let v: f64 = b.segments.iter().filter(|s| s.0 == cause).map(|s| s.1).sum();
                if v == 0.0 {
                    continue;
                }
                let (right, left) = &mut ends[i];
                let (x0, x1) = if v > 0.0 {
                    let x0 = *right;
                    *right += v;
                    (x0, *right)
                } else {
                    let x0 = *left;
                    *left += v;
                    (*left, x0)
                };
                rects.push(Rectangle::new(
                    [(x0, SegmentValue::Exact(i)), (x1, SegmentValue::Exact(i + 1))],
                    fill.filled(),
                ));
            }
            chart
                .draw_series(rects)
                .map_err(|e| e.to_string())?
                .label(cause)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One system's speedups: its label and (workers, median speedup) points.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeedupSeries {
    pub label: String,
    pub points: Vec<(u32, f64)>,
}

/// Series colours, in order.
const SERIES: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Speedup against workers: one line with markers per system, and the
/// ideal (speedup = workers) dashed, as SVG text.
pub fn speedup_svg(title: &str, series: &[SpeedupSeries]) -> Result<String, String> {
    let max_w =
        (series.iter().flat_map(|s| s.points.iter().map(|p| p.0))).max().unwrap_or(1).max(2);
    let max_s = (series.iter().flat_map(|s| s.points.iter().map(|p| p.1)))
        .fold(f64::from(max_w), f64::max)
        * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.5f64..f64::from(max_w) + 0.5, 0.0f64..max_s)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("workers")
            .y_desc("speedup over 1 worker (median)")
            .x_labels(max_w as usize)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        let ideal: Vec<(f64, f64)> = (1..=max_w).map(|w| (f64::from(w), f64::from(w))).collect();
        chart
            .draw_series(DashedLineSeries::new(ideal, 6, 4, BLACK.mix(0.5).stroke_width(1)))
            .map_err(|e| e.to_string())?
            .label("ideal")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.5)));
        let lines = series.iter().map(|s| {
            (s.label.as_str(), s.points.iter().map(|(w, v)| (f64::from(*w), *v)).collect())
        });
        draw_lines(&mut chart, lines, 4, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Writes [`speedup_svg`] to `path`.
pub fn write_speedup(
    path: &Path,
    title: &str,
    series: &[SpeedupSeries],
) -> Result<(), ProfileError> {
    write_chart(path, speedup_svg(title, series))
}

/// One lock histogram: its label and (log2 bucket, count) points.
#[derive(Clone, Debug, PartialEq)]
pub struct HistSeries {
    pub label: String,
    pub buckets: Vec<(u8, u64)>,
}

/// Lock wait and hold histograms as lines over the log2 bucket (bucket b
/// holds values in [2^b, 2^(b+1)) cycles), counts on a log scale, as SVG.
pub fn lock_hist_svg(title: &str, series: &[HistSeries]) -> Result<String, String> {
    let all = || series.iter().flat_map(|s| s.buckets.iter());
    let lo = all().map(|b| b.0).min().unwrap_or(0);
    let hi = all().map(|b| b.0).max().unwrap_or(1).max(lo + 1);
    let top = all().map(|b| b.1).max().unwrap_or(1).max(1) as f64 * 2.0;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(f64::from(lo) - 0.5..f64::from(hi) + 0.5, (0.8f64..top).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("log2 cycles (bucket b: 2^b to 2^(b+1) cycles)")
            .y_desc("acquisitions")
            // Whole buckets only: the default label count puts ticks at
            // half buckets, which `{x:.0}` shows as repeated numbers.
            .x_labels(usize::from(hi - lo).min(15) + 1)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        let lines = series.iter().map(|s| {
            (s.label.as_str(), s.buckets.iter().map(|(b, n)| (f64::from(*b), *n as f64)).collect())
        });
        draw_lines(&mut chart, lines, 3, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Writes [`lock_hist_svg`] to `path`.
pub fn write_lock_hists(
    path: &Path,
    title: &str,
    series: &[HistSeries],
) -> Result<(), ProfileError> {
    write_chart(path, lock_hist_svg(title, series))
}

/// Writes [`loss_bars_svg`] to `path`.
pub fn write_loss_bars(path: &Path, title: &str, bars: &[LossBar]) -> Result<(), ProfileError> {
    write_chart(path, loss_bars_svg(title, bars))
}

/// Writes a chart of CPU time by state, one stacked bar per CPU or per
/// case ([`stacked_bars_svg`], `x_desc` naming the unit) to `path`.
pub fn write_state_bars(
    path: &Path,
    title: &str,
    x_desc: &str,
    bars: &[LossBar],
) -> Result<(), ProfileError> {
    write_chart(path, stacked_bars_svg(title, x_desc, bars))
}

/// Writes a drawn chart to `path`; a drawing error is a write error of it.
fn write_chart(path: &Path, svg: Result<String, String>) -> Result<(), ProfileError> {
    let svg = svg.map_err(|e| ProfileError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    write_file(path, svg)
}

/// Draws each `(label, points)` as a line with a marker of `radius` at
/// every point, in [`SERIES`] colours, and the legend at `legend`.
fn draw_lines<'a, 'c, DB, X, Y>(
    chart: &mut ChartContext<'c, DB, Cartesian2d<X, Y>>,
    lines: impl Iterator<Item = (&'a str, Vec<(f64, f64)>)>,
    radius: i32,
    legend: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'c,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, (label, pts)) in lines.enumerate() {
        let colour = SERIES[i % SERIES.len()];
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, radius, colour.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(legend)
        .draw()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bars_carry_every_case_and_cause() {
        let bars = vec![
            LossBar {
                label: "smp2-w2".into(),
                segments: vec![("idle".into(), 40.0), ("locks (spin + longer holds)".into(), 25.0)],
            },
            LossBar {
                label: "smp4-w4".into(),
                segments: vec![
                    ("locks (spin + longer holds)".into(), 90.0),
                    ("unexplained (user time growth)".into(), -10.0),
                ],
            },
        ];
        let svg = loss_bars_svg("Scaling loss", &bars).unwrap();
        assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{}", &svg[..80.min(svg.len())]);
        for text in ["Scaling loss", "smp2-w2", "smp4-w4", "idle", "locks (spin", "unexplained"] {
            assert!(svg.contains(text), "no {text} in the chart");
        }
        assert!(svg.contains("lost CPU-ms"), "the loss chart's axis");
        // The same bars as CPU time by state name their own axis.
        let states = stacked_bars_svg("CPU states", "CPU-ms (all CPUs)", &bars).unwrap();
        assert!(states.contains("CPU-ms (all CPUs)") && !states.contains("lost CPU-ms"));
        // One rectangle per non-zero segment in the locks colour: two.
        let red = "#D62728";
        assert_eq!(svg.matches(red).count(), 3, "two bars and one legend swatch");
    }

    #[test]
    fn the_speedup_chart_has_every_system_and_the_ideal() {
        let series = vec![
            SpeedupSeries {
                label: "capos percpu".into(),
                points: vec![(1, 1.0), (2, 1.9), (4, 3.1)],
            },
            SpeedupSeries {
                label: "linux-guest".into(),
                points: vec![(1, 1.0), (2, 2.0), (4, 3.9)],
            },
        ];
        let svg = speedup_svg("thread-scale speedup", &series).unwrap();
        for text in ["thread-scale speedup", "capos percpu", "linux-guest", "ideal", "workers"] {
            assert!(svg.contains(text), "no {text}");
        }
        // One marker per point.
        assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
    }

    #[test]
    fn the_lock_histogram_chart_draws_every_bucket() {
        let series = vec![
            HistSeries { label: "heap wait".into(), buckets: vec![(8, 3), (9, 10), (12, 1)] },
            HistSeries { label: "heap hold".into(), buckets: vec![(6, 200), (7, 40)] },
        ];
        let svg = lock_hist_svg("lock histograms", &series).unwrap();
        for text in ["lock histograms", "heap wait", "heap hold", "log2 cycles"] {
            assert!(svg.contains(text), "no {text}");
        }
        assert_eq!(svg.matches("<circle").count(), 5);
    }

    #[test]
    fn lock_histogram_x_labels_are_whole_distinct_buckets() {
        // Four buckets: the default tick count put ticks at half buckets,
        // labelled "2 3 4 4 4 5 6 6 6".
        let series = vec![HistSeries { label: "w".into(), buckets: vec![(3, 100), (6, 2)] }];
        let svg = lock_hist_svg("h", &series).unwrap();
        let labels: Vec<&str> = svg
            .split("</text>")
            .filter_map(|t| t.rsplit('>').next())
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        assert_eq!(labels, ["3", "4", "5", "6"], "{svg}");
    }

    #[test]
    fn no_bars_still_draws() {
        let svg = loss_bars_svg("empty", &[]).unwrap();
        assert!(svg.contains("empty"));
    }
}
