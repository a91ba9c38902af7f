//! `chainrule plot`: a function of one variable and its derivative over a range, the derivative
//! from the engine's backward pass at every sample (not from differences), with an optional
//! tangent line.

use std::process::ExitCode;

use chainrule::ops::fmt_num;
use chainrule::{Expr, Graph};
use plotters::chart::SeriesAnno;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cli::PlotArgs;
use crate::error::CliError;
use crate::input::{parse_expr, point_at, warn_unknown};
use crate::plotting::{err, short, tick, write_picture, Format, Picture, FONT};

/// The most samples a plot takes.
const MAX_SAMPLES: usize = 100_000;

const F_COLOR: RGBColor = RGBColor(31, 90, 180);
const D_COLOR: RGBColor = RGBColor(214, 39, 40);
const TANGENT_COLOR: RGBColor = RGBColor(20, 140, 60);

/// One sample: the point, the value and the derivative there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The point along the axis.
    pub x: f64,
    /// `f` there.
    pub value: f64,
    /// `df/dx` there, from the backward pass.
    pub slope: f64,
}

/// The value and the derivative of `expr` with respect to its variable `var` (an index into
/// `expr.variables()`) at `values`, with `values[var]` replaced by `x`: one forward and one
/// backward pass.
pub fn sample(expr: &Expr, values: &mut [f64], var: usize, x: f64) -> Sample {
    values[var] = x;
    let g = Graph::new();
    let built = expr.build_with(&g, values);
    let slope = g.grad(built.output, &[built.inputs[var]])[0];
    Sample {
        x,
        value: built.output.value(),
        slope,
    }
}

/// Checks the arguments, samples `f` and `f'`, and writes the picture.
pub fn run(args: &PlotArgs) -> Result<ExitCode, CliError> {
    let format = Format::from_path(&args.output, "-o").map_err(CliError::input)?;
    for (name, v) in [("--from", args.from), ("--to", args.to)] {
        if !v.is_finite() {
            return Err(CliError::input(format!(
                "{name} must be a finite number, got {v}"
            )));
        }
    }
    if args.from >= args.to {
        return Err(CliError::input(format!(
            "--from ({}) must be less than --to ({})",
            fmt_num(args.from),
            fmt_num(args.to)
        )));
    }
    if !(2..=MAX_SAMPLES).contains(&args.samples) {
        return Err(CliError::input(format!(
            "--samples must be between 2 and {MAX_SAMPLES}, got {}",
            args.samples
        )));
    }
    if let Some(t) = args.tangent {
        if !(t.is_finite() && args.from <= t && t <= args.to) {
            return Err(CliError::input(format!(
                "--tangent {} is outside the range {}..{}",
                fmt_num(t),
                fmt_num(args.from),
                fmt_num(args.to)
            )));
        }
    }
    let expr = parse_expr(&args.expr.expr)?;
    let vars = expr.variables();
    let var = match (&args.var, vars.len()) {
        (Some(v), _) => vars.iter().position(|n| n == v).ok_or_else(|| {
            CliError::input(if vars.is_empty() {
                format!("unknown --var '{v}': the expression has no variables")
            } else {
                format!(
                    "unknown --var '{v}': the expression's variables are {}",
                    vars.join(", ")
                )
            })
        })?,
        (None, 1) => 0,
        (None, 0) => {
            return Err(CliError::input(
                "the expression has no variables: there is nothing to plot against",
            ))
        }
        (None, _) => {
            return Err(CliError::input(format!(
                "which variable? give --var, one of {}",
                vars.join(", ")
            )))
        }
    };
    let point = point_at(&expr, args.expr.at.as_deref())?;
    let mut values = Vec::with_capacity(vars.len());
    let mut fixed = Vec::new();
    let mut missing = Vec::new();
    for (i, name) in vars.iter().enumerate() {
        if i == var {
            if point.value(i).is_some() {
                eprintln!(
                    "warning: --at gives '{name}', which is plotted over --from..--to: its value is not used"
                );
            }
            values.push(0.0);
        } else if let Some(v) = point.value(i) {
            values.push(v);
            fixed.push(format!("{name} = {}", fmt_num(v)));
        } else {
            missing.push(format!("{name}=..."));
        }
    }
    if !missing.is_empty() {
        return Err(CliError::input(format!(
            "the other variables need values: give --at {}",
            missing.join(",")
        )));
    }
    warn_unknown(&point);

    let n = args.samples;
    let samples: Vec<Sample> = (0..n)
        .map(|k| {
            let x = if k + 1 == n {
                args.to
            } else {
                args.from + (args.to - args.from) * k as f64 / (n - 1) as f64
            };
            sample(&expr, &mut values, var, x)
        })
        .collect();
    let tangent = args.tangent.map(|t| sample(&expr, &mut values, var, t));
    if let Some(t) = tangent {
        if !(t.value.is_finite() && t.slope.is_finite()) {
            eprintln!(
                "warning: at {} = {}, f = {} and f' = {}: no tangent drawn",
                vars[var],
                fmt_num(t.x),
                fmt_num(t.value),
                fmt_num(t.slope)
            );
        }
    }
    let bad = samples
        .iter()
        .filter(|s| !(s.value.is_finite() && s.slope.is_finite()))
        .count();
    if bad == samples.len() {
        eprintln!(
            "warning: f or its derivative is NaN or infinite at every sample: the plot is empty"
        );
    } else if bad > 0 {
        eprintln!(
            "warning: f or its derivative is NaN or infinite at {bad} of {} samples: the curves have gaps there",
            samples.len()
        );
    }

    let plot = FunctionPlot {
        expression: args.expr.expr.trim().to_string(),
        var: vars[var].clone(),
        fixed,
        samples,
        tangent: tangent.filter(|t| t.value.is_finite() && t.slope.is_finite()),
        range: (args.from, args.to),
    };
    write_picture(&args.output, format, (1000, 800), &plot)
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", args.output.display())))?;
    println!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

/// A function and its derivative, sampled, ready to draw.
struct FunctionPlot {
    expression: String,
    var: String,
    /// The other variables' values, `y = 3`.
    fixed: Vec<String>,
    samples: Vec<Sample>,
    tangent: Option<Sample>,
    range: (f64, f64),
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

impl Picture for FunctionPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let title = if self.fixed.is_empty() {
            format!("f({}) = {}", self.var, self.expression)
        } else {
            format!(
                "f({}) = {}   with {}",
                self.var,
                self.expression,
                self.fixed.join(", ")
            )
        };
        let root = root
            .titled(&title, (FONT, 28).into_font().color(&BLACK))
            .map_err(err)?;
        let (_, h) = root.dim_in_pixel();
        let (top, bottom) = root.split_vertically(h * 54 / 100);
        let x = &self.var;

        // f, with the tangent.
        let values: Vec<(f64, f64)> = self.samples.iter().map(|s| (s.x, s.value)).collect();
        let (y0, y1) = y_range(values.iter().map(|p| p.1));
        let mut chart = chart(&top, self.range, (y0, y1), x, &format!("f({x})"))?;
        draw_curve(&mut chart, &values, (y0, y1), F_COLOR)?
            .label(format!("f({x})"))
            .legend(|(a, b)| PathElement::new(vec![(a, b), (a + 24, b)], F_COLOR.stroke_width(3)));
        if let Some(t) = self.tangent {
            let line: Vec<(f64, f64)> = [self.range.0, self.range.1]
                .iter()
                .map(|&u| (u, t.value + t.slope * (u - t.x)))
                .collect();
            let line = densify(&line, 200);
            draw_curve(&mut chart, &line, (y0, y1), TANGENT_COLOR)?
                .label(format!(
                    "tangent at {x} = {}: slope f'({}) = {}",
                    short(t.x),
                    short(t.x),
                    short(t.slope)
                ))
                .legend(|(a, b)| {
                    PathElement::new(vec![(a, b), (a + 24, b)], TANGENT_COLOR.stroke_width(3))
                });
            chart
                .draw_series(std::iter::once(Circle::new(
                    (t.x, t.value),
                    6,
                    TANGENT_COLOR.filled(),
                )))
                .map_err(err)?
                .label(format!("the point ({}, {})", short(t.x), short(t.value)))
                .legend(|(a, b)| Circle::new((a + 12, b), 5, TANGENT_COLOR.filled()));
        }
        legend(&mut chart, &values, self.range, (y0, y1))?;

        // f', from the backward pass; not drawn where f itself is undefined (the backward pass
        // of ln(x) at x < 0 still gives 1/x, which means nothing there).
        let slopes: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|s| {
                (
                    s.x,
                    if s.value.is_finite() {
                        s.slope
                    } else {
                        f64::NAN
                    },
                )
            })
            .collect();
        let (y0, y1) = y_range(slopes.iter().map(|p| p.1));
        let mut chart = chart_with_zero(&bottom, self.range, (y0, y1), x, &format!("f'({x})"))?;
        draw_curve(&mut chart, &slopes, (y0, y1), D_COLOR)?
            .label(format!("f'({x}) = df/d{x}, by the backward pass"))
            .legend(|(a, b)| PathElement::new(vec![(a, b), (a + 24, b)], D_COLOR.stroke_width(3)));
        if let Some(t) = self.tangent {
            if t.slope >= y0 && t.slope <= y1 {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (t.x, t.slope),
                        6,
                        TANGENT_COLOR.filled(),
                    )))
                    .map_err(err)?
                    .label(format!("f'({}) = {}", short(t.x), short(t.slope)))
                    .legend(|(a, b)| Circle::new((a + 12, b), 5, TANGENT_COLOR.filled()));
            }
        }
        legend(&mut chart, &slopes, self.range, (y0, y1))
    }
}

fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    x_desc: &str,
    y_desc: &str,
) -> Result<Chart<'a, DB>, String>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(84)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 15))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// A chart with a line at zero, where the derivative changes sign.
fn chart_with_zero<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    range: (f64, f64),
    ys: (f64, f64),
    x_desc: &str,
    y_desc: &str,
) -> Result<Chart<'a, DB>, String>
where
    DB::ErrorType: 'static,
{
    let mut c = chart(area, range, ys, x_desc, y_desc)?;
    if ys.0 < 0.0 && ys.1 > 0.0 {
        c.draw_series(std::iter::once(PathElement::new(
            vec![(range.0, 0.0), (range.1, 0.0)],
            BLACK.mix(0.45).stroke_width(1),
        )))
        .map_err(err)?;
    }
    Ok(c)
}

/// The vertical range to show: every finite value, unless a few spikes (near a pole) would
/// flatten the rest, in which case the central 96% of the values, padded.
fn y_range(ys: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = ys.filter(|y| y.is_finite()).collect();
    if v.is_empty() {
        return (-1.0, 1.0);
    }
    v.sort_by(f64::total_cmp);
    let (lo, hi) = (v[0], v[v.len() - 1]);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let (qlo, qhi) = (q(0.02), q(0.98));
    let (lo, hi) = if (hi - lo) > 8.0 * (qhi - qlo) && qhi > qlo {
        let pad = (qhi - qlo) * 0.5;
        ((qlo - pad).max(lo), (qhi + pad).min(hi))
    } else {
        (lo, hi)
    };
    if hi - lo < 1e-12 * lo.abs().max(1.0) {
        let pad = lo.abs().max(1.0) * 0.1;
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.06;
    (lo - pad, hi + pad)
}

/// Points along the segments between `points`, `n` per segment, so that clipping is exact.
fn densify(points: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for w in points.windows(2) {
        for k in 0..n {
            let t = k as f64 / n as f64;
            out.push((
                w[0].0 + t * (w[1].0 - w[0].0),
                w[0].1 + t * (w[1].1 - w[0].1),
            ));
        }
    }
    out.extend(points.last());
    out
}

/// The pieces of a sampled curve that can be drawn: a piece ends at a NaN or infinity, and where
/// the curve leaves the band `y0..=y1` it is cut at the edge.
fn pieces(points: &[(f64, f64)], (y0, y1): (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let inside = |y: f64| y >= y0 && y <= y1;
    // Where the segment from a to b crosses the edge at height `edge`.
    let cross = |a: (f64, f64), b: (f64, f64), edge: f64| {
        let t = (edge - a.1) / (b.1 - a.1);
        (a.0 + t * (b.0 - a.0), edge)
    };
    let mut out = Vec::new();
    let mut piece: Vec<(f64, f64)> = Vec::new();
    for k in 0..points.len() {
        let b = points[k];
        let a = if k > 0 { Some(points[k - 1]) } else { None };
        if !b.1.is_finite() {
            if piece.len() > 1 {
                out.push(std::mem::take(&mut piece));
            }
            piece.clear();
            continue;
        }
        match a.filter(|a| a.1.is_finite()) {
            Some(a) if inside(a.1) && inside(b.1) => piece.push(b),
            Some(a) if inside(a.1) => {
                // Leaving: end the piece at the edge.
                piece.push(cross(a, b, if b.1 > y1 { y1 } else { y0 }));
                out.push(std::mem::take(&mut piece));
            }
            Some(a) if inside(b.1) => {
                // Entering: start a piece at the edge.
                piece.clear();
                piece.push(cross(a, b, if a.1 > y1 { y1 } else { y0 }));
                piece.push(b);
            }
            _ => {
                if piece.len() > 1 {
                    out.push(std::mem::take(&mut piece));
                }
                piece.clear();
                if inside(b.1) {
                    piece.push(b);
                }
            }
        }
    }
    if piece.len() > 1 {
        out.push(piece);
    }
    out.retain(|p| p.len() > 1);
    out
}

/// Draws a sampled curve in pieces, and returns the handle that takes its legend entry.
fn draw_curve<'a, 'b, DB: DrawingBackend + 'a>(
    chart: &'b mut Chart<'a, DB>,
    points: &[(f64, f64)],
    ys: (f64, f64),
    color: RGBColor,
) -> Result<&'b mut SeriesAnno<'a, DB>, String>
where
    DB::ErrorType: 'static,
{
    let mut pieces = pieces(points, ys);
    // One series, so one legend entry: the first piece carries it and the others follow.
    let first = if pieces.is_empty() {
        Vec::new()
    } else {
        pieces.remove(0)
    };
    for p in pieces {
        chart
            .draw_series(LineSeries::new(p, color.stroke_width(2)))
            .map_err(err)?;
    }
    chart
        .draw_series(LineSeries::new(first, color.stroke_width(2)))
        .map_err(err)
}

/// The legend, in the corner where the curve leaves the most room.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    points: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let corners = [
        (SeriesLabelPosition::UpperLeft, 0.0, 1.0),
        (SeriesLabelPosition::UpperRight, 1.0, 1.0),
        (SeriesLabelPosition::LowerLeft, 0.0, 0.0),
        (SeriesLabelPosition::LowerRight, 1.0, 0.0),
    ];
    let crowd = |cx: f64, cy: f64| {
        points
            .iter()
            .filter(|p| p.1.is_finite())
            .filter(|p| {
                let u = (p.0 - x0) / (x1 - x0);
                let v = (p.1 - y0) / (y1 - y0);
                (u - cx).abs() < 0.5 && (v - cy).abs() < 0.35
            })
            .count()
    };
    let best = corners
        .into_iter()
        .min_by_key(|&(_, cx, cy)| crowd(cx, cy))
        .map(|c| c.0)
        .unwrap_or(SeriesLabelPosition::UpperLeft);
    chart
        .configure_series_labels()
        .position(best)
        .margin(10)
        .legend_area_size(34)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 16))
        .draw()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derivative_comes_from_the_engine() {
        let e = Expr::parse("x^3 + y*x").unwrap();
        let mut values = vec![0.0, 2.0];
        let s = sample(&e, &mut values, 0, 1.5);
        assert_eq!(s.value, 1.5f64.powi(3) + 3.0);
        assert_eq!(s.slope, 3.0 * 1.5 * 1.5 + 2.0);
    }

    #[test]
    fn curves_break_at_nans_and_are_cut_at_the_edges() {
        let pts = [
            (0.0, 0.0),
            (1.0, 1.0),
            (2.0, f64::NAN),
            (3.0, 1.0),
            (4.0, 3.0),
            (5.0, 1.0),
            (6.0, 0.5),
        ];
        let p = pieces(&pts, (-2.0, 2.0));
        assert_eq!(
            p,
            vec![
                vec![(0.0, 0.0), (1.0, 1.0)],
                vec![(3.0, 1.0), (3.5, 2.0)],
                vec![(4.5, 2.0), (5.0, 1.0), (6.0, 0.5)],
            ]
        );
        // A pole: both sides leave the band, nothing joins them.
        let p = pieces(
            &[(0.0, 1.0), (1.0, 100.0), (2.0, -100.0), (3.0, -1.0)],
            (-2.0, 2.0),
        );
        assert_eq!(p.len(), 2);
        assert!(p.iter().flatten().all(|q| q.1.abs() <= 2.0));
    }

    #[test]
    fn ranges_ignore_poles_but_keep_steep_curves() {
        // 1/x over -3..3: the spikes next to 0 do not flatten the rest.
        let ys: Vec<f64> = (0..400)
            .map(|k| 1.0 / (-3.0 + 6.0 * k as f64 / 399.0))
            .collect();
        let (lo, hi) = y_range(ys.iter().copied());
        assert!(lo > -40.0 && hi < 40.0, "{lo} {hi}");
        // exp(x) over 0..10 is steep but has no pole: all of it is shown.
        let ys: Vec<f64> = (0..400).map(|k| (10.0 * k as f64 / 399.0).exp()).collect();
        let (lo, hi) = y_range(ys.iter().copied());
        assert!(lo < 1.0 && hi > 22026.0);
        assert_eq!(y_range([f64::NAN].into_iter()), (-1.0, 1.0));
        let (lo, hi) = y_range([5.0, 5.0].into_iter());
        assert!(lo < 5.0 && hi > 5.0);
    }
}
