//! What every picture of the CLI shares: the embedded font, the file formats, atomic writing,
//! and tick labels.
//!
//! Text is drawn with the DejaVu Sans font embedded in the binary (`assets/`), so the pictures
//! are the same on every machine and no system font is needed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use chainrule::util::format::fmt_sig;

/// The family name the embedded font is registered under.
pub const FONT: &str = "sans-serif";

/// The file formats, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A bitmap, `.png`.
    Png,
    /// A vector drawing, `.svg`.
    Svg,
}

impl Format {
    /// The format named by the path's extension; the error names the option that gave the path
    /// (`--plot: 'out.jpg' must end in .png or .svg`).
    pub fn from_path(path: &Path, option: &str) -> Result<Format, String> {
        match crate::output::extension(path).as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(format!(
                "{option}: '{}' must end in .png or .svg",
                path.display()
            )),
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }
}

/// Registers the embedded font under [`FONT`], once.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        // The font is part of the binary: failing to read it is a build mistake.
        if register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("the embedded font could not be read");
        }
    });
}

/// Any error of plotters, as text.
pub fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A picture that can be drawn on any plotters backend.
pub trait Picture {
    /// Draws the picture on `root`, which is blank.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static;
}

/// Draws `picture` into `path` (`size` pixels, white background), written atomically: into a
/// temporary file in the same folder, renamed at the end, removed on failure.
pub fn write_picture(
    path: &Path,
    format: Format,
    size: (u32, u32),
    picture: &impl Picture,
) -> Result<(), String> {
    register_fonts();
    let tmp = temporary_path(path, format);
    let result = match format {
        Format::Png => {
            let root = BitMapBackend::new(&tmp, size).into_drawing_area();
            root.fill(&WHITE)
                .map_err(err)
                .and_then(|_| picture.draw(&root))
                .and_then(|_| root.present().map_err(err))
        }
        Format::Svg => {
            let root = SVGBackend::new(&tmp, size).into_drawing_area();
            root.fill(&WHITE)
                .map_err(err)
                .and_then(|_| picture.draw(&root))
                .and_then(|_| root.present().map_err(err))
        }
    };
    match result.and_then(|_| std::fs::rename(&tmp, path).map_err(err)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `dir/.name.12345.tmp.png`: same folder (so the rename is atomic), same extension (the
/// bitmap encoder picks the format from it).
pub fn temporary_path(path: &Path, format: Format) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plot".into());
    path.with_file_name(format!(
        ".{name}.{}.tmp.{}",
        std::process::id(),
        format.extension()
    ))
}

/// The x range of a chart over epochs `first..=last`: the epochs themselves, or one unit around
/// a single epoch.
pub fn epoch_range(first: f64, last: f64) -> std::ops::Range<f64> {
    if last > first {
        first..last
    } else {
        first - 0.5..first + 0.5
    }
}

/// How many tick labels an epoch axis over `range` gets: one per epoch up to ten, so that
/// short runs are labelled at every whole epoch and never at fractions of one.
pub fn epoch_ticks(range: &std::ops::Range<f64>) -> usize {
    ((range.end - range.start).round() as usize + 1).clamp(2, 10)
}

/// The label of an epoch tick: whole epochs only (a fraction of an epoch gets no label).
pub fn epoch_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Tick labels without float noise: `0.3`, not `0.30000000000000004`.
pub fn tick(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-4) {
        format!("{v:.1e}")
    } else {
        s.to_string()
    }
}

/// A number in 3 significant digits.
pub fn short(x: f64) -> String {
    fmt_sig(x, 3, 1e-3..1e5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/b.PNG"), "-o"),
            Ok(Format::Png)
        );
        assert_eq!(Format::from_path(Path::new("b.svg"), "-o"), Ok(Format::Svg));
        assert_eq!(
            Format::from_path(Path::new("b"), "--plot"),
            Err("--plot: 'b' must end in .png or .svg".to_string())
        );
        let tmp = temporary_path(Path::new("out/pic.png"), Format::Png);
        assert_eq!(tmp.parent(), Some(Path::new("out")));
        assert!(tmp.to_string_lossy().ends_with(".tmp.png"));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(-0.0), "0");
        assert_eq!(short(12345.678), "12346");
        assert_eq!(short(0.012345), "0.0123");
        assert_eq!(short(1.5e-7), "1.5e-7");
    }

    #[test]
    fn epoch_axes_are_labelled_at_whole_epochs_only() {
        // Four epochs: a label at each, none at the fractions between (which once read 0 0 1 2 2).
        let r = epoch_range(1.0, 4.0);
        assert_eq!((r.start, r.end, epoch_ticks(&r)), (1.0, 4.0, 4));
        let labels: Vec<String> = [1.0, 1.5, 2.0, 2.25, 4.0].map(epoch_label).to_vec();
        assert_eq!(labels, ["1", "", "2", "", "4"]);
        // One epoch: a unit around it; long runs: at most ten labels.
        assert_eq!(epoch_range(1.0, 1.0), 0.5..1.5);
        assert_eq!(epoch_ticks(&epoch_range(1.0, 300.0)), 10);
    }
}
