//! Built-in datasets: two small classics embedded in the library, and the two-moons generator.

use super::{CsvOptions, Dataset, Targets};
use crate::util::rand::Rng;

/// The text of `data/digits.csv` (265 KB), embedded: 1,797 8×8 images of handwritten digits.
pub const DIGITS_CSV: &str = include_str!("../../data/digits.csv");

/// The text of `data/iris.csv` (4 KB), embedded: Fisher's 150 iris flowers.
pub const IRIS_CSV: &str = include_str!("../../data/iris.csv");

/// The handwritten digits of scikit-learn (`load_digits`): 1,797 images of 8×8 pixels, each pixel
/// an integer from 0 to 16, in 10 classes (the digits 0–9, named `"0"`…`"9"`).
///
/// Features are named `pixel_<row>_<col>`; the rows are images of 1×8×8 ([`Dataset::image`]). The data is the test set of the UCI *Optical
/// Recognition of Handwritten Digits* dataset (Alpaydin and Kaynak, 1998; CC BY 4.0), embedded
/// in the library, so this works from any directory.
///
/// ```
/// let d = chainrule::data::digits();
/// assert_eq!((d.n_samples, d.n_features, d.n_classes()), (1797, 64, 10));
/// assert_eq!(d.labels().unwrap()[0], 0);
/// ```
pub fn digits() -> Dataset {
    Dataset::from_csv_str(DIGITS_CSV, "<digits>", &CsvOptions::classes("digit"))
        .and_then(|d| d.with_image(super::ImageShape::new(1, 8, 8)))
        .expect("the embedded digits.csv is valid")
}

/// Fisher's iris flowers: 150 samples of four measurements in centimetres (`sepal_length`,
/// `sepal_width`, `petal_length`, `petal_width`), in 3 classes of 50 (`setosa`, `versicolor`,
/// `virginica`). Embedded in the library (CC BY 4.0).
///
/// ```
/// let d = chainrule::data::iris();
/// assert_eq!(d.class_names(), &["setosa", "versicolor", "virginica"]);
/// assert_eq!(d.row(0), &[5.1, 3.5, 1.4, 0.2]);
/// ```
pub fn iris() -> Dataset {
    Dataset::from_csv_str(IRIS_CSV, "<iris>", &CsvOptions::classes("species"))
        .expect("the embedded iris.csv is valid")
}

/// Two interleaving half circles in the plane, scikit-learn's `make_moons`: `n_samples / 2`
/// points (rounded down) on the upper moon (class 0) and the rest on the lower one (class 1),
/// shuffled, with Gaussian noise of standard deviation `noise` added to each coordinate.
///
/// The algorithm is scikit-learn's; the random numbers are this crate's own [`Rng`], so the
/// points differ from scikit-learn's for the same seed, but the same seed always gives the same
/// points here.
///
/// ```
/// let d = chainrule::data::moons(100, 0.1, 1337);
/// assert_eq!((d.n_samples, d.n_features), (100, 2));
/// assert_eq!(d.class_counts(), vec![50, 50]);
/// assert_eq!(d, chainrule::data::moons(100, 0.1, 1337));
/// ```
pub fn moons(n_samples: usize, noise: f64, seed: u64) -> Dataset {
    moons_with_rng(n_samples, noise, &mut Rng::new(seed))
}

/// [`moons`], drawing from a generator the caller keeps (to draw more from the same stream).
pub fn moons_with_rng(n_samples: usize, noise: f64, rng: &mut Rng) -> Dataset {
    let n_out = n_samples / 2;
    let n_in = n_samples - n_out;
    // numpy's linspace(0, pi, n): n evenly spaced angles, both ends included.
    let angle = |i: usize, n: usize| {
        if n <= 1 {
            0.0
        } else {
            std::f64::consts::PI * i as f64 / (n - 1) as f64
        }
    };
    let mut points: Vec<([f64; 2], usize)> = Vec::with_capacity(n_samples);
    for i in 0..n_out {
        let t = angle(i, n_out);
        points.push(([t.cos(), t.sin()], 0));
    }
    for i in 0..n_in {
        let t = angle(i, n_in);
        points.push(([1.0 - t.cos(), 1.0 - t.sin() - 0.5], 1));
    }
    rng.shuffle(&mut points);
    let mut features = Vec::with_capacity(2 * n_samples);
    let mut labels = Vec::with_capacity(n_samples);
    for ([x, y], label) in points {
        features.push((x + noise * rng.normal()) as f32);
        features.push((y + noise * rng.normal()) as f32);
        labels.push(label);
    }
    Dataset {
        features,
        n_samples,
        n_features: 2,
        feature_names: Some(vec!["x".to_string(), "y".to_string()]),
        image: None,
        targets: Targets::Classes {
            labels,
            n_classes: 2,
            names: vec!["0".to_string(), "1".to_string()],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_loads_with_the_right_shape_and_class_counts() {
        let d = digits();
        assert_eq!((d.n_samples, d.n_features, d.n_classes()), (1797, 64, 10));
        assert_eq!(
            d.class_counts(),
            vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        assert!(d
            .features
            .iter()
            .all(|&p| (0.0..=16.0).contains(&p) && p.fract() == 0.0));
        let names = d.feature_names.as_ref().unwrap();
        assert_eq!(
            (names[0].as_str(), names[63].as_str()),
            ("pixel_0_0", "pixel_7_7")
        );
        assert_eq!(d.class_names()[9], "9");
        // The first image of scikit-learn's load_digits() is a 0 whose first row is this:
        assert_eq!(&d.row(0)[..8], &[0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn iris_loads_with_names_and_classes() {
        let d = iris();
        assert_eq!((d.n_samples, d.n_features), (150, 4));
        assert_eq!(d.class_counts(), vec![50, 50, 50]);
        assert_eq!(d.labels().unwrap()[149], 2);
        assert_eq!(d.row(149), &[5.9, 3.0, 5.1, 1.8]);
        let names = d.feature_names.clone().unwrap();
        assert_eq!(
            names,
            ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        );
    }

    #[test]
    fn moons_follow_the_two_half_circles() {
        let clean = moons(101, 0.0, 3);
        assert_eq!(clean.class_counts(), vec![50, 51]);
        for i in 0..clean.len() {
            let [x, y] = [clean.row(i)[0] as f64, clean.row(i)[1] as f64];
            let r = if clean.labels().unwrap()[i] == 0 {
                (x * x + y * y).sqrt() // upper moon: the unit circle's top half
            } else {
                ((x - 1.0).powi(2) + (y - 0.5).powi(2)).sqrt() // lower moon, centred at (1, 0.5)
            };
            assert!((r - 1.0).abs() < 1e-6, "point {i} at radius {r}");
        }
        // Shuffled: the labels are not sorted.
        assert!(clean.labels().unwrap().windows(2).any(|w| w[0] > w[1]));
        let noisy = moons(1000, 0.1, 3);
        assert_ne!(noisy, moons(1000, 0.1, 4));
        assert_eq!(moons(0, 0.1, 0).len(), 0);
        assert_eq!(moons(1, 0.1, 0).class_counts(), vec![0, 1]);
    }
}
