//! Training curves: loss and accuracy per epoch, training and test, side by side.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use chainrule::train::EpochMetrics;

use crate::plotting::{
    epoch_label, epoch_range, epoch_ticks, register_fonts, temporary_path, Format, FONT,
};

const TRAIN: RGBColor = RGBColor(31, 90, 180);
const TEST: RGBColor = RGBColor(214, 39, 40);

/// Draws the curves of `history` into `path` (.png or .svg), written atomically.
pub fn draw(path: &Path, history: &[EpochMetrics], title: &str) -> Result<(), String> {
    register_fonts();
    let format = Format::from_path(path, "--plot")?;
    let tmp = temporary_path(path, format);
    let size = (1100, 460);
    let result = match format {
        Format::Png => {
            let root = BitMapBackend::new(&tmp, size).into_drawing_area();
            draw_on(&root, history, title).and_then(|_| root.present().map_err(|e| e.to_string()))
        }
        Format::Svg => {
            let root = SVGBackend::new(&tmp, size).into_drawing_area();
            draw_on(&root, history, title).and_then(|_| root.present().map_err(|e| e.to_string()))
        }
    };
    match result.and_then(|_| std::fs::rename(&tmp, path).map_err(|e| e.to_string())) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The curves of `history` as an SVG document, to inline in a page.
pub fn to_svg(history: &[EpochMetrics], title: &str) -> Result<String, String> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1100, 460)).into_drawing_area();
        draw_on(&root, history, title)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

type Series = Vec<(f64, f64)>;

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &[EpochMetrics],
    title: &str,
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, (FONT, 22)).map_err(e)?;
    let (left, right) = root.split_horizontally(550);
    let pts = |f: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Series {
        history
            .iter()
            .filter_map(|m| f(m).filter(|v| v.is_finite()).map(|v| (m.epoch as f64, v)))
            .collect()
    };
    let loss = [
        ("training", pts(&|m| Some(m.train_loss)), TRAIN),
        ("test", pts(&|m| m.test_loss), TEST),
    ];
    panel(&left, "loss", &loss, false)?;
    let acc = [
        ("training", pts(&|m| m.train_accuracy), TRAIN),
        ("test", pts(&|m| m.test_accuracy), TEST),
    ];
    if acc.iter().any(|(_, s, _)| !s.is_empty()) {
        panel(&right, "accuracy", &acc, true)?;
    }
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    series: &[(&str, Series, RGBColor)],
    accuracy: bool,
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, s, _)| s.iter().copied())
        .collect();
    let x_min = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max);
    let x_range = epoch_range(x_min.min(x_max), x_max);
    let (mut lo, mut hi) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if accuracy {
        hi = 1.0;
        lo = lo.min(hi - 0.05);
    } else {
        lo = lo.min(0.0);
    }
    let pad = (hi - lo).max(1e-6) * 0.05;
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .caption(name, (FONT, 18))
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), (lo - pad)..(hi + pad))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(epoch_ticks(&x_range))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_label_formatter(&|v| epoch_label(*v))
        .draw()
        .map_err(e)?;
    for (label, s, color) in series {
        if s.is_empty() {
            continue;
        }
        let c = *color;
        chart
            .draw_series(LineSeries::new(s.iter().copied(), c.stroke_width(2)))
            .map_err(e)?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        // Few epochs: mark each one (a single epoch would otherwise draw nothing).
        if s.len() <= 12 {
            chart
                .draw_series(s.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(e)?;
        }
    }
    chart
        .configure_series_labels()
        .position(if accuracy {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 15))
        .draw()
        .map_err(e)?;
    Ok(())
}
