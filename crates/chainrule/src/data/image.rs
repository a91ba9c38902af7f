//! The shape of the images a dataset's rows hold: channels, height and width.

use std::fmt;
use std::str::FromStr;

use super::{DataError, Dataset};

/// The shape of one image, `channels × height × width`: each row of an image dataset holds its
/// pixels in that order (channel by channel, each row by row), as PyTorch's `[C, H, W]`.
///
/// Written and read as `CxHxW` (`1x28x28`; `28x28` is one channel):
///
/// ```
/// use chainrule::data::ImageShape;
///
/// let s: ImageShape = "1x28x28".parse().unwrap();
/// assert_eq!((s.channels, s.height, s.width, s.len()), (1, 28, 28, 784));
/// assert_eq!(s.to_string(), "1x28x28");
/// assert_eq!("8x8".parse::<ImageShape>().unwrap(), ImageShape::new(1, 8, 8));
/// assert!("3x0x4".parse::<ImageShape>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// The number of channels (1 for grey levels, 3 for colour).
    pub channels: usize,
    /// The number of rows of pixels.
    pub height: usize,
    /// The number of pixels per row.
    pub width: usize,
}

impl ImageShape {
    /// The shape `channels × height × width`.
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        ImageShape {
            channels,
            height,
            width,
        }
    }

    /// The number of values of one image (`channels · height · width`).
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an image holds no value (a dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]`, the shape of one image as a tensor.
    pub fn dims(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

impl FromStr for ImageShape {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        let bad = || {
            DataError::invalid(format!(
                "--image '{s}': expected CHANNELSxHEIGHTxWIDTH with sizes of at least 1, e.g. \
                 1x28x28 or 3x32x32"
            ))
        };
        let sizes = s
            .trim()
            .split(['x', '×'])
            .map(|p| p.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        match sizes[..] {
            [c, h, w] => Ok(ImageShape::new(c, h, w)),
            [h, w] => Ok(ImageShape::new(1, h, w)),
            _ => Err(bad()),
        }
    }
}

impl Dataset {
    /// The same dataset, its rows read as images of `shape`; an error when an image does not
    /// have as many values as a row has features.
    ///
    /// ```
    /// use chainrule::data::ImageShape;
    ///
    /// let digits = chainrule::data::digits();
    /// assert_eq!(digits.image, Some(ImageShape::new(1, 8, 8)));
    /// let err = digits.with_image(ImageShape::new(3, 8, 8)).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "images of 3x8x8 hold 192 values, but the data has 64 features per sample"
    /// );
    /// ```
    pub fn with_image(mut self, shape: ImageShape) -> Result<Self, DataError> {
        if shape.len() != self.n_features {
            return Err(DataError::invalid(format!(
                "images of {shape} hold {} values, but the data has {} features per sample",
                shape.len(),
                self.n_features
            )));
        }
        self.image = Some(shape);
        Ok(self)
    }
}
