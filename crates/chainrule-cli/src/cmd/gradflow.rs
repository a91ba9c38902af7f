//! Gradient-flow charts: the gradient norm of each layer's weights per epoch, on a log scale,
//! one line per layer from blue (the first layer) to red (the last), so vanishing or exploding
//! gradients show as lines far apart.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use chainrule::train::GradFlow;

use crate::plotting::{
    epoch_label, epoch_range, epoch_ticks, register_fonts, short, write_picture, Format, Picture,
    FONT,
};

/// One or more gradient flows side by side, each with its own title.
pub struct FlowChart<'a> {
    /// The title above all panels.
    pub title: String,
    /// The panels: a title and the flow it draws.
    pub panels: Vec<(String, &'a GradFlow)>,
}

impl FlowChart<'_> {
    /// The panels' grid: one row of one or two panels, two columns for more.
    pub fn grid(&self) -> (usize, usize) {
        let n = self.panels.len().max(1);
        let columns = n.min(2);
        (n.div_ceil(columns), columns)
    }

    /// The picture's size in pixels: 760 wide and 520 high per panel, plus the title.
    pub fn size(&self) -> (u32, u32) {
        let (rows, columns) = self.grid();
        (760 * columns as u32, 520 * rows as u32 + 40)
    }

    /// Draws the chart into `path` (.png or .svg), written atomically; `option` names the
    /// option that gave the path in errors.
    pub fn write(&self, path: &Path, option: &str) -> Result<(), String> {
        let format = Format::from_path(path, option)?;
        write_picture(path, format, self.size(), self)
    }

    /// The chart as an SVG document, to inline in a page.
    pub fn to_svg(&self) -> Result<String, String> {
        register_fonts();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size()).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(out)
    }
}

/// The colour of layer `i` of `n`: blue for the first, through green and yellow, red for the last.
fn layer_color(i: usize, n: usize) -> RGBColor {
    let t = if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64
    };
    let (r, g, b) = HSLColor(240.0 / 360.0 * (1.0 - t), 0.85, 0.45).rgb();
    RGBColor(r, g, b)
}

impl Picture for FlowChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
        let root = root.titled(&self.title, (FONT, 22)).map_err(e)?;
        let areas = root.split_evenly(self.grid());
        // One scale for all panels, so they compare at a glance.
        let range = self
            .panels
            .iter()
            .flat_map(|(_, f)| f.per_epoch.iter().flatten())
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        for ((name, flow), area) in self.panels.iter().zip(&areas) {
            panel(area, name, flow, range)?;
        }
        Ok(())
    }
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    flow: &GradFlow,
    (lo, hi): (f64, f64),
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let (chart_area, legend_area) = area.split_horizontally(560);
    let recorded = flow
        .per_epoch
        .iter()
        .flatten()
        .any(|v| v.is_finite() && *v > 0.0);
    if !recorded || !lo.is_finite() {
        chart_area
            .draw(&Text::new(
                format!("{name}: no gradients recorded"),
                (40, 60),
                (FONT, 16),
            ))
            .map_err(e)?;
        return Ok(());
    }
    let first = *flow.epochs.first().unwrap_or(&1) as f64;
    let last = *flow.epochs.last().unwrap_or(&1) as f64;
    let x_range = epoch_range(first, last);
    let mut chart = ChartBuilder::on(&chart_area)
        .margin(12)
        .caption(name, (FONT, 18))
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range.clone(), y_range(lo, hi).log_scale())
        .map_err(e)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc("epoch")
        .y_desc("gradient norm (log scale)")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_labels(epoch_ticks(&x_range))
        .x_label_formatter(&|v| epoch_label(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(e)?;
    let n = flow.layers.len();
    for i in 0..n {
        let c = layer_color(i, n);
        let pts: Vec<(f64, f64)> = flow
            .epochs
            .iter()
            .zip(&flow.per_epoch)
            .filter_map(|(&ep, norms)| {
                norms
                    .get(i)
                    .copied()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .map(|v| (ep as f64, v))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(e)?;
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
            .map_err(e)?;
    }
    // The legend, beside the chart so it never hides a line.
    let top = 60;
    for (i, layer) in flow.layers.iter().enumerate() {
        let c = layer_color(i, n);
        let y = top + 24 * i as i32;
        legend_area
            .draw(&PathElement::new(vec![(4, y), (28, y)], c.stroke_width(3)))
            .map_err(e)?;
        legend_area
            .draw(&Text::new(
                format!("layer {} ({layer})", i + 1),
                (34, y - 8),
                (FONT, 14),
            ))
            .map_err(e)?;
    }
    Ok(())
}

/// The range of the log axis: whole decades when the norms span several (so the axis is labelled
/// at every power of ten), a margin of 2× otherwise (so it keeps labels within the decade).
fn y_range(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if hi / lo >= 100.0 {
        10f64.powf(lo.log10().floor())..10f64.powf(hi.log10().floor() + 1.0)
    } else {
        lo / 2.0..hi * 2.0
    }
}
