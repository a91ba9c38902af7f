//! Pictures of descents: contours with the paths for two variables, the curve with the points for
//! one, value and gradient norm against step for more.
//!
//! Text is drawn with the embedded font of [`crate::plotting`].

use std::path::Path;

use chainrule::lessons::descend::{StopReason, Trajectory};
use chainrule::Expr;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

pub use crate::plotting::Format;
use crate::plotting::{err, short, tick, write_picture, Picture, FONT};

/// The most runs one picture can tell apart.
pub const MAX_RUNS: usize = 8;

/// Strong colours that stand out on the pale contour map, one per run.
const RUN_COLORS: [RGBColor; MAX_RUNS] = [
    RGBColor(214, 39, 40),  // red
    RGBColor(31, 90, 180),  // blue
    RGBColor(20, 140, 60),  // green
    RGBColor(230, 120, 0),  // orange
    RGBColor(148, 60, 170), // purple
    RGBColor(20, 20, 20),   // black
    RGBColor(200, 40, 150), // pink
    RGBColor(120, 80, 40),  // brown
];

/// One run to draw, with its legend text.
pub struct Run<'a> {
    /// The legend text.
    pub label: String,
    /// The path taken.
    pub trajectory: &'a Trajectory,
}

type DrawResult = Result<(), String>;

/// Plain numeric axes.
type Xy = Cartesian2d<RangedCoordf64, RangedCoordf64>;

/// Draws `runs` of descents on `expr` into `path`, written atomically (a temporary file in the
/// same folder, renamed at the end).
pub fn draw(path: &Path, format: Format, expr: &Expr, runs: &[Run]) -> DrawResult {
    let size = match expr.variables().len() {
        2 => (1000, 760),
        _ => (1000, 700),
    };
    write_picture(path, format, size, &Descents { format, expr, runs })
}

/// The picture of some runs on one expression.
struct Descents<'a> {
    format: Format,
    expr: &'a Expr,
    runs: &'a [Run<'a>],
}

impl Picture for Descents<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        draw_on(root, self.format, self.expr, self.runs)
    }
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    format: Format,
    expr: &Expr,
    runs: &[Run],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match expr.variables().len() {
        1 => curve(root, expr, runs),
        2 => contour(root, format, expr, runs),
        _ => history(root, expr, runs),
    }
}

/// The legend colour of run `i`.
fn color(i: usize) -> RGBColor {
    RUN_COLORS[i % MAX_RUNS]
}

/// The points of a run to draw: all of them, or, for a run that diverged, those before it left
/// `inside` (a wild point would squash the whole picture).
fn drawable<'a>(t: &'a Trajectory, inside: &dyn Fn(&[f64]) -> bool) -> &'a [Vec<f64>] {
    let n = t
        .points
        .iter()
        .position(|p| !inside(p))
        .unwrap_or(t.points.len());
    &t.points[..n]
}

/// The range to show for coordinates `xs`: their span padded by `pad` on each side, never empty.
fn padded(xs: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs.filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let span = hi - lo;
    let span = if span > 1e-9 * (lo.abs() + hi.abs()) && span > 0.0 {
        span
    } else {
        (0.5 * lo.abs()).max(1.0)
    };
    (lo - pad * span, hi + pad * span)
}

/// The coordinates that describe where the runs went: for runs that diverged, only their points
/// up to a value 10 times the worst start value, so a blow-up does not hide everything else.
fn informative_points<'a>(runs: &'a [Run]) -> Vec<&'a [f64]> {
    let worst_start = runs
        .iter()
        .filter_map(|r| r.trajectory.values.first())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let limit = 10.0 * worst_start.max(1.0);
    let mut out = Vec::new();
    for r in runs {
        let t = r.trajectory;
        let diverged = matches!(t.stop, StopReason::Diverged { .. });
        for (p, v) in t.points.iter().zip(&t.values) {
            if diverged && (v.is_nan() || v.abs() > limit) {
                break;
            }
            if p.iter().all(|x| x.is_finite()) {
                out.push(p.as_slice());
            }
        }
    }
    out
}

/// A map from a value to [0, 1] for colouring, linear or logarithmic above the minimum.
struct Levels {
    lo: f64,
    shift: f64,
    log: bool,
    zmin: f64,
    zmax: f64,
}

impl Levels {
    /// Chooses the scale from the values seen: logarithmic when most values crowd at the bottom
    /// of the range (a narrow valley such as Rosenbrock's), linear otherwise.
    fn new(values: &[f64]) -> Levels {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let (lo, hi) = match (v.first(), v.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0.0, 1.0),
        };
        let range = (hi - lo).max(1e-300);
        let median = v.get(v.len() / 2).copied().unwrap_or(lo);
        let log = (median - lo) < 0.1 * range;
        let shift = range * 1e-4;
        let mut l = Levels {
            lo,
            shift,
            log,
            zmin: 0.0,
            zmax: 1.0,
        };
        l.zmin = l.z(lo);
        l.zmax = l.z(hi);
        if l.zmax.is_nan() || l.zmax <= l.zmin {
            l.zmax = l.zmin + 1.0;
        }
        l
    }

    fn z(&self, f: f64) -> f64 {
        if self.log {
            (f - self.lo + self.shift).log10()
        } else {
            f
        }
    }

    fn f(&self, z: f64) -> f64 {
        if self.log {
            10f64.powf(z) - self.shift + self.lo
        } else {
            z
        }
    }

    /// The position of `f` in [0, 1], quantised into `bands` steps.
    fn band(&self, f: f64, bands: usize) -> f64 {
        let t = ((self.z(f) - self.zmin) / (self.zmax - self.zmin)).clamp(0.0, 1.0);
        let k = ((t * bands as f64).floor() as usize).min(bands - 1);
        (k as f64 + 0.5) / bands as f64
    }
}

/// A pale sequential map (viridis, mixed with white) so that the paths stand out on it.
fn colormap(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 9] = [
        (68.0, 1.0, 84.0),
        (71.0, 44.0, 122.0),
        (59.0, 81.0, 139.0),
        (44.0, 113.0, 142.0),
        (33.0, 144.0, 141.0),
        (39.0, 173.0, 129.0),
        (92.0, 200.0, 99.0),
        (170.0, 220.0, 50.0),
        (253.0, 231.0, 37.0),
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| {
        let c = p + (q - p) * f;
        let pale = 0.45;
        (c + (255.0 - c) * pale).round() as u8
    };
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn title(expr: &Expr) -> String {
    format!("f = {expr}")
}

fn contour<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    format: Format,
    expr: &Expr,
    runs: &[Run],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let vars = expr.variables();
    let pts = informative_points(runs);
    let (x0, x1) = padded(pts.iter().map(|p| p[0]), 0.15);
    let (y0, y1) = padded(pts.iter().map(|p| p[1]), 0.15);

    let (w, _) = root.dim_in_pixel();
    let (main, bar) = root.split_horizontally(w - 110);
    let mut chart = ChartBuilder::on(&main)
        .caption(title(expr), (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;

    // The function on a grid of cells of a few pixels each.
    let (pw, ph) = chart.plotting_area().dim_in_pixel();
    let cell_px = match format {
        Format::Png => 2,
        Format::Svg => 6,
    };
    let (nx, ny) = (
        (pw / cell_px).max(20) as usize,
        (ph / cell_px).max(20) as usize,
    );
    let (dx, dy) = ((x1 - x0) / nx as f64, (y1 - y0) / ny as f64);
    let mut grid = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let x = x0 + (i as f64 + 0.5) * dx;
            let y = y0 + (j as f64 + 0.5) * dy;
            grid.push(expr.eval(&[x, y]));
        }
    }
    let levels = Levels::new(&grid);
    const BANDS: usize = 18;
    chart
        .draw_series((0..ny).flat_map(|j| {
            let (grid, levels) = (&grid, &levels);
            (0..nx).map(move |i| {
                let f = grid[j * nx + i];
                let c = if f.is_finite() {
                    colormap(levels.band(f, BANDS))
                } else {
                    RGBColor(225, 225, 225)
                };
                let (xa, ya) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
                Rectangle::new([(xa, ya), (xa + dx, ya + dy)], c.filled())
            })
        }))
        .map_err(err)?;
    // Thin lines along the band boundaries, so that the level sets read as contours.
    let z: Vec<f64> = grid.iter().map(|&f| levels.z(f)).collect();
    let line = BLACK.mix(0.22).stroke_width(1);
    for k in 1..BANDS {
        let level = levels.zmin + (levels.zmax - levels.zmin) * k as f64 / BANDS as f64;
        let segments = contour_segments(&z, nx, ny, level);
        chart
            .draw_series(segments.into_iter().map(|[(ia, ja), (ib, jb)]| {
                let at = |i: f64, j: f64| (x0 + (i + 0.5) * dx, y0 + (j + 0.5) * dy);
                PathElement::new(vec![at(ia, ja), at(ib, jb)], line)
            }))
            .map_err(err)?;
    }

    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(vars[0].as_str())
        .y_desc(vars[1].as_str())
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 15))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
        .map_err(err)?;

    let inside = |p: &[f64]| p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1;
    let occupied = draw_paths(&mut chart, runs, &|p: &Vec<f64>| (p[0], p[1]), &inside)?;
    legend(&mut chart, &occupied, (x0, x1), (y0, y1))?;
    colorbar(&bar, &levels, BANDS)
}

/// The segments of the level set `z = level` of values on a grid (`z[j * nx + i]`), by marching
/// squares, in fractional grid coordinates `(i, j)`. Cells with a non-finite corner are skipped.
fn contour_segments(z: &[f64], nx: usize, ny: usize, level: f64) -> Vec<[(f64, f64); 2]> {
    let mut out = Vec::new();
    for j in 0..ny.saturating_sub(1) {
        for i in 0..nx.saturating_sub(1) {
            // Corners counter-clockwise from the lower left.
            let corners = [
                (i as f64, j as f64, z[j * nx + i]),
                ((i + 1) as f64, j as f64, z[j * nx + i + 1]),
                ((i + 1) as f64, (j + 1) as f64, z[(j + 1) * nx + i + 1]),
                (i as f64, (j + 1) as f64, z[(j + 1) * nx + i]),
            ];
            if corners.iter().any(|c| !c.2.is_finite()) {
                continue;
            }
            let mut crossings: Vec<(f64, f64)> = Vec::with_capacity(4);
            for e in 0..4 {
                let (a, b) = (corners[e], corners[(e + 1) % 4]);
                if (a.2 >= level) != (b.2 >= level) {
                    let t = (level - a.2) / (b.2 - a.2);
                    crossings.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
            match crossings.len() {
                2 => out.push([crossings[0], crossings[1]]),
                // A saddle cell: pair the crossings by the centre's side.
                4 => {
                    let centre = corners.iter().map(|c| c.2).sum::<f64>() / 4.0;
                    if (centre >= level) == (corners[0].2 >= level) {
                        out.push([crossings[0], crossings[3]]);
                        out.push([crossings[1], crossings[2]]);
                    } else {
                        out.push([crossings[0], crossings[1]]);
                        out.push([crossings[2], crossings[3]]);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The paths with markers, the start and end of each, and their legend entries.
fn draw_paths<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Xy>,
    runs: &[Run],
    to_xy: &dyn Fn(&Vec<f64>) -> (f64, f64),
    inside: &dyn Fn(&[f64]) -> bool,
) -> Result<Vec<(f64, f64)>, String>
where
    DB::ErrorType: 'static,
{
    // Earlier runs are drawn wider, so that a path another one follows still shows at its edges.
    let n = runs.len();
    let layer = |i: usize| (n - 1 - i).min(3) as u32;
    let paths: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| drawable(r.trajectory, inside).iter().map(to_xy).collect())
        .collect();
    for (i, (run, pts)) in runs.iter().zip(&paths).enumerate() {
        let c = color(i);
        let width = 2 + layer(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(width)))
            .map_err(err)?
            .label(run.label.as_str())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(-2, 0), (18, 0)], c.stroke_width(2))
                    + Circle::new((8, 0), 3, c.filled())
            });
        // At most about 40 markers, so the steps can be seen where they are far apart.
        let every = pts.len().div_ceil(40).max(1);
        let radius = 3 + layer(i) / 2;
        chart
            .draw_series(
                pts.iter()
                    .step_by(every)
                    .map(|&p| Circle::new(p, radius, c.filled())),
            )
            .map_err(err)?;
    }
    for (i, (run, pts)) in runs.iter().zip(&paths).enumerate() {
        let (Some(&start), Some(&end)) = (pts.first(), pts.last()) else {
            continue;
        };
        let c = color(i);
        chart
            .draw_series([
                Circle::new(start, 7, WHITE.filled()),
                Circle::new(start, 7, BLACK.stroke_width(2)),
            ])
            .map_err(err)?;
        let size = 7 + 3 * layer(i) as i32;
        if matches!(run.trajectory.stop, StopReason::Diverged { .. }) {
            // Where the run leaves the picture (or blows up): a cross, not an end.
            chart
                .draw_series([
                    Cross::new(end, size + 1, WHITE.stroke_width(5)),
                    Cross::new(end, size, c.stroke_width(3)),
                ])
                .map_err(err)?;
        } else {
            chart
                .draw_series([
                    TriangleMarker::new(end, size + 2, WHITE.filled()),
                    TriangleMarker::new(end, size, c.filled()),
                ])
                .map_err(err)?;
        }
    }
    // Legend entries for the two markers, drawn off the picture.
    chart
        .draw_series(std::iter::once(Circle::new((f64::NAN, f64::NAN), 0, BLACK)))
        .map_err(err)?
        .label("start")
        .legend(|(x, y)| {
            EmptyElement::at((x + 8, y))
                + Circle::new((0, 0), 6, WHITE.filled())
                + Circle::new((0, 0), 6, BLACK.stroke_width(2))
        });
    chart
        .draw_series(std::iter::once(Circle::new((f64::NAN, f64::NAN), 0, BLACK)))
        .map_err(err)?
        .label("end")
        .legend(|(x, y)| {
            EmptyElement::at((x + 8, y)) + TriangleMarker::new((0, 0), 7, BLACK.filled())
        });
    if runs
        .iter()
        .any(|r| matches!(r.trajectory.stop, StopReason::Diverged { .. }))
    {
        chart
            .draw_series(std::iter::once(Circle::new((f64::NAN, f64::NAN), 0, BLACK)))
            .map_err(err)?
            .label("last point shown of a run that diverged")
            .legend(|(x, y)| {
                EmptyElement::at((x + 8, y)) + Cross::new((0, 0), 6, BLACK.stroke_width(3))
            });
    }
    Ok(paths.iter().flat_map(|p| densify(p)).collect())
}

/// The legend, in the corner of the chart where it hides the fewest of the `occupied` points.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Xy>,
    occupied: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    // The legend covers about this share of the chart's width and height.
    let (w, h) = (0.5 * (x1 - x0), 0.3 * (y1 - y0));
    let corners = [
        (SeriesLabelPosition::UpperRight, x1 - w, x1, y1 - h, y1),
        (SeriesLabelPosition::UpperLeft, x0, x0 + w, y1 - h, y1),
        (SeriesLabelPosition::LowerRight, x1 - w, x1, y0, y0 + h),
        (SeriesLabelPosition::LowerLeft, x0, x0 + w, y0, y0 + h),
    ];
    let hidden = |&(_, xa, xb, ya, yb): &(SeriesLabelPosition, f64, f64, f64, f64)| {
        occupied
            .iter()
            .filter(|&&(x, y)| x >= xa && x <= xb && y >= ya && y <= yb)
            .count()
    };
    let best = corners
        .iter()
        .min_by_key(|c| hidden(c))
        .map_or(SeriesLabelPosition::UpperRight, |c| c.0.clone());
    chart
        .configure_series_labels()
        .position(best)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.6))
        .label_font((FONT, 15))
        .draw()
        .map_err(err)
}

/// The points of a polyline and eight more along each of its segments.
fn densify(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(pts.len() * 9);
    for w in pts.windows(2) {
        let ((xa, ya), (xb, yb)) = (w[0], w[1]);
        for k in 0..9 {
            let t = k as f64 / 9.0;
            out.push((xa + t * (xb - xa), ya + t * (yb - ya)));
        }
    }
    out.extend(pts.last());
    out
}

/// The colour scale beside the contours, labelled with values of f.
fn colorbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    levels: &Levels,
    bands: usize,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let desc = if levels.log { "f (log scale)" } else { "f" };
    let area = area.titled(desc, (FONT, 15)).map_err(err)?;
    let mut bar = ChartBuilder::on(&area)
        .margin_top(18)
        .margin_bottom(57)
        .margin_right(4)
        .set_label_area_size(LabelAreaPosition::Right, 62)
        .build_cartesian_2d(0.0..1.0, levels.zmin..levels.zmax)
        .map_err(err)?;
    let n = 200;
    let dz = (levels.zmax - levels.zmin) / n as f64;
    bar.draw_series((0..n).map(|k| {
        let z = levels.zmin + (k as f64 + 0.5) * dz;
        let c = colormap(levels.band(levels.f(z), bands));
        Rectangle::new(
            [
                (0.0, levels.zmin + k as f64 * dz),
                (1.0, levels.zmin + (k + 1) as f64 * dz),
            ],
            c.filled(),
        )
    }))
    .map_err(err)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .label_style((FONT, 13))
        .y_label_formatter(&|z| short(levels.f(*z)))
        .draw()
        .map_err(err)
}

fn curve<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, expr: &Expr, runs: &[Run]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let var = &expr.variables()[0];
    let pts = informative_points(runs);
    let (x0, x1) = padded(pts.iter().map(|p| p[0]), 0.25);
    let n = 600;
    let samples: Vec<(f64, f64)> = (0..=n)
        .map(|k| {
            let x = x0 + (x1 - x0) * k as f64 / n as f64;
            (x, expr.eval(&[x]))
        })
        .collect();
    let (y0, y1) = padded(samples.iter().map(|s| s.1), 0.08);
    let mut chart = ChartBuilder::on(root)
        .caption(title(expr), (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .x_desc(var.as_str())
        .y_desc(format!("f({var})"))
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 15))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| short(*v))
        .draw()
        .map_err(err)?;
    // The curve, in pieces where it is finite and on the chart.
    let mut piece: Vec<(f64, f64)> = Vec::new();
    let mut pieces = Vec::new();
    for &(x, y) in &samples {
        if y.is_finite() && y >= y0 && y <= y1 {
            piece.push((x, y));
        } else if !piece.is_empty() {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    pieces.push(piece);
    for p in pieces.into_iter().filter(|p| p.len() > 1) {
        chart
            .draw_series(LineSeries::new(p, RGBColor(120, 120, 120).stroke_width(2)))
            .map_err(err)?;
    }
    // Each run as (x, f(x)) points joined in order.
    let inside = |p: &[f64]| {
        let y = expr.eval(p);
        p[0] >= x0 && p[0] <= x1 && y >= y0 && y <= y1
    };
    let mut occupied = draw_paths(
        &mut chart,
        runs,
        &|p: &Vec<f64>| (p[0], expr.eval(p)),
        &inside,
    )?;
    occupied.extend(samples.iter().filter(|s| s.1.is_finite()));
    legend(&mut chart, &occupied, (x0, x1), (y0, y1))
}

/// Value and gradient norm against step, one above the other, for three variables or more.
fn history<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    expr: &Expr,
    runs: &[Run],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2 + 20);
    let series = |pick: fn(&Trajectory) -> &Vec<f64>| -> Vec<Vec<f64>> {
        runs.iter().map(|r| pick(r.trajectory).clone()).collect()
    };
    panel(
        &top,
        Some(title(expr)),
        "value f",
        &series(|t| &t.values),
        runs,
        false,
    )?;
    panel(
        &bottom,
        None,
        "gradient norm",
        &series(|t| &t.grad_norms),
        runs,
        true,
    )
}

/// One history panel; `log10` of the values when they are all positive and span more than two
/// decades.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: Option<String>,
    desc: &str,
    ys: &[Vec<f64>],
    runs: &[Run],
    last: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let finite: Vec<f64> = ys
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let positive = finite.iter().all(|&v| v > 0.0);
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let log = positive && !finite.is_empty() && hi / lo > 100.0;
    let tr = |v: f64| if log { v.log10() } else { v };
    let (y0, y1) = padded(finite.iter().map(|&v| tr(v)), 0.05);
    let steps = ys.iter().map(|y| y.len()).max().unwrap_or(1).max(2) - 1;
    let mut b = ChartBuilder::on(area);
    b.margin(12)
        .y_label_area_size(80)
        .x_label_area_size(if last { 45 } else { 30 });
    if let Some(c) = caption {
        b.caption(c, (FONT, 22));
    }
    let mut chart = b
        .build_cartesian_2d(0.0..steps as f64, y0..y1)
        .map_err(err)?;
    let y_desc = if log {
        format!("{desc} (log scale)")
    } else {
        desc.to_string()
    };
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .x_desc(if last { "step" } else { "" })
        .y_desc(y_desc)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 14))
        .x_label_formatter(&|v| format!("{}", v.round()))
        .y_label_formatter(&|v| short(if log { 10f64.powf(*v) } else { *v }))
        .draw()
        .map_err(err)?;
    let mut occupied = Vec::new();
    for (i, (y, run)) in ys.iter().zip(runs).enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> = y
            .iter()
            .enumerate()
            .map(|(k, &v)| (k as f64, tr(v)))
            .take_while(|(_, v)| v.is_finite() && *v >= y0 && *v <= y1)
            .collect();
        occupied.extend(densify(&pts));
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(err)?
            .label(run.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    legend(&mut chart, &occupied, (0.0, steps as f64), (y0, y1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contours_of_a_cone_are_circles() {
        // z = distance from the centre of a 41 × 41 grid; the level 10 is the circle of radius 10.
        let n = 41;
        let z: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = ((k % n) as f64 - 20.0, (k / n) as f64 - 20.0);
                (i * i + j * j).sqrt()
            })
            .collect();
        let segments = contour_segments(&z, n, n, 10.0);
        assert!(segments.len() > 40, "{}", segments.len());
        for [a, b] in segments {
            for (i, j) in [a, b] {
                let r = ((i - 20.0).powi(2) + (j - 20.0).powi(2)).sqrt();
                assert!((r - 10.0).abs() < 0.1, "a point at radius {r}");
            }
        }
        assert!(contour_segments(&z, n, n, 100.0).is_empty());
    }

    #[test]
    fn narrow_valleys_get_a_log_scale() {
        let valley: Vec<f64> = (0..100)
            .map(|k| if k < 95 { k as f64 * 0.01 } else { 1000.0 })
            .collect();
        assert!(Levels::new(&valley).log);
        let bowl: Vec<f64> = (0..100).map(|k| k as f64).collect();
        let levels = Levels::new(&bowl);
        assert!(!levels.log);
        assert_eq!(levels.band(0.0, 10), 0.05);
        assert_eq!(levels.band(99.0, 10), 0.95);
        let log = Levels::new(&valley);
        assert!((log.f(log.z(3.5)) - 3.5).abs() < 1e-9);
    }

    #[test]
    fn ranges_are_padded_and_never_empty() {
        assert_eq!(padded([0.0, 10.0].into_iter(), 0.1), (-1.0, 11.0));
        let (lo, hi) = padded([5.0, 5.0].into_iter(), 0.1);
        assert!(lo < 5.0 && hi > 5.0);
        assert_eq!(padded(std::iter::empty(), 0.1), (-1.0, 1.0));
        assert_eq!(padded([f64::NAN, 1.0, 3.0].into_iter(), 0.5), (0.0, 4.0));
    }
}
