//! The pictures of a language-model run: the loss curves (every step's training loss, and the
//! evaluations on both parts), and the attention weights of every head as heat maps.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use chainrule::nn::GPT;
use chainrule::train::LmEval;

use crate::plotting::{err, write_picture, Format, Picture, FONT};

const STEP: RGBColor = RGBColor(160, 185, 225);
const TRAIN: RGBColor = RGBColor(31, 90, 180);
const VAL: RGBColor = RGBColor(214, 39, 40);

struct Curves<'a> {
    losses: &'a [f32],
    evals: &'a [LmEval],
    title: &'a str,
}

/// Draws the training loss of every step and the evaluations into `path` (.png or .svg).
pub fn draw_curves(
    path: &Path,
    losses: &[f32],
    evals: &[LmEval],
    title: &str,
) -> Result<(), String> {
    let format = Format::from_path(path, "--plot")?;
    let picture = Curves {
        losses,
        evals,
        title,
    };
    write_picture(path, format, (1000, 520), &picture)
}

impl Picture for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(self.title, (FONT, 22)).map_err(err)?;
        let steps = self
            .losses
            .len()
            .max(self.evals.last().map_or(1, |e| e.step)) as f64;
        let values = self
            .losses
            .iter()
            .map(|&v| f64::from(v))
            .chain(self.evals.iter().flat_map(|e| [e.train_loss, e.val_loss]))
            .filter(|v| v.is_finite());
        let hi = values.fold(0.0f64, f64::max).max(1e-3) * 1.05;
        let mut chart = ChartBuilder::on(&root)
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..steps.max(1.0), 0.0..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("cross-entropy (nats per character)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err)?;
        let per_step = self
            .losses
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i + 1) as f64, f64::from(v)));
        chart
            .draw_series(LineSeries::new(per_step, STEP.stroke_width(1)))
            .map_err(err)?
            .label("training loss of each step's batch")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], STEP.stroke_width(2)));
        let series = [
            ("training loss (evaluation)", TRAIN, true),
            ("validation loss (evaluation)", VAL, false),
        ];
        for (label, color, train) in series {
            let pts: Vec<(f64, f64)> = self
                .evals
                .iter()
                .map(|e| (e.step as f64, if train { e.train_loss } else { e.val_loss }))
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 15))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

struct Attention {
    /// `[layer][head]` weights, each `time × time` row-major.
    maps: Vec<Vec<Vec<f32>>>,
    chars: Vec<char>,
}

/// Draws the attention weights of every head of every block of `gpt` for `tokens` (whose
/// characters are `prompt`) into `path` (.png or .svg): one heat map per head, a row per
/// block; row `i` of a map is where position `i` looks (dark: weight near 1).
pub fn draw_attention(
    path: &Path,
    gpt: &GPT,
    tokens: &[usize],
    prompt: &str,
) -> Result<(), String> {
    let format = Format::from_path(path, "--attention")?;
    let t = tokens.len();
    let mut maps = Vec::new();
    for layer in 0..gpt.h.len() {
        let w = gpt.attention(tokens, layer).map_err(|e| e.to_string())?;
        maps.push(w.data().chunks(t * t).map(<[f32]>::to_vec).collect());
    }
    let picture = Attention {
        maps,
        chars: prompt.chars().collect(),
    };
    let (rows, cols) = (gpt.h.len() as u32, gpt.config.n_head as u32);
    let cell = 300;
    write_picture(path, format, (cols * cell + 40, rows * cell + 70), &picture)
}

impl Picture for Attention {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let title = format!(
            "attention for {:?}: heads in columns, blocks in rows; a row is where its character \
             looks (dark: weight near 1)",
            self.chars.iter().collect::<String>()
        );
        let root = root.titled(&title, (FONT, 16)).map_err(err)?;
        let rows = self.maps.len();
        let cols = self.maps.first().map_or(1, Vec::len);
        let panels = root.split_evenly((rows, cols));
        let t = self.chars.len();
        for (k, area) in panels.iter().enumerate() {
            let (layer, head) = (k / cols, k % cols);
            let map = &self.maps[layer][head];
            // Segmented axes: each character's label sits under (beside) the middle of its
            // cell, not at a cell's edge.
            let mut chart = ChartBuilder::on(area)
                .margin(6)
                .caption(format!("block {layer}, head {head}"), (FONT, 14))
                .x_label_area_size(if t <= 40 { 18 } else { 0 })
                .y_label_area_size(if t <= 40 { 18 } else { 0 })
                .build_cartesian_2d((0..t).into_segmented(), (0..t).into_segmented())
                .map_err(err)?;
            let label = |i: usize| {
                self.chars.get(i).map_or(String::new(), |c| match c {
                    '\n' => "⏎".to_string(),
                    ' ' => "␣".to_string(),
                    c => c.to_string(),
                })
            };
            let centre = |v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => Some(*i),
                _ => None,
            };
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(t)
                .y_labels(t)
                .label_style((FONT, 9))
                .x_label_formatter(&|v| centre(v).map_or(String::new(), label))
                // Query i is drawn as row i from the top.
                .y_label_formatter(&|v| {
                    centre(v)
                        .and_then(|i| t.checked_sub(1 + i))
                        .map_or(String::new(), label)
                })
                .draw()
                .map_err(err)?;
            chart
                .draw_series((0..t * t).map(|idx| {
                    let (i, j) = (idx / t, idx % t);
                    let w = f64::from(map[idx]).clamp(0.0, 1.0);
                    let shade = (255.0 * (1.0 - w).powf(1.5)) as u8;
                    let color = RGBColor(shade, shade, 255u8.saturating_sub((w * 80.0) as u8));
                    let y = t - 1 - i;
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(j), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
                        ],
                        color.filled(),
                    )
                }))
                .map_err(err)?;
        }
        Ok(())
    }
}
