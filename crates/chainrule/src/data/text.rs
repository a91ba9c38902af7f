//! Text for character-level language models, as nanoGPT's `shakespeare_char`: the vocabulary of
//! a text's characters, the text as token indices split into training (the first 90%) and
//! validation (the last 10%) parts, random windows of a context's length for batches, and a
//! shipped corpus of Shakespeare's plays.

use std::fmt;
use std::path::Path;

use super::DataError;
use crate::util::rand::Rng;

/// Seven of Shakespeare's tragedies (1,058,545 characters), embedded: Hamlet, Macbeth, King
/// Lear, Othello, Romeo and Juliet, Richard III and Coriolanus, from the Python package
/// `shakespeare` 0.6 (the Open Knowledge Foundation's edition of the Project Gutenberg texts,
/// CC-BY 2.5; the plays are in the public domain). `data/README.md` says how it was made and
/// `data/make_shakespeare.py` makes it again.
pub const SHAKESPEARE_TXT: &str = include_str!("../../data/shakespeare.txt");

/// The characters of a text, sorted (by code point, as Python sorts them): token `i` is the
/// `i`-th character, as nanoGPT's `prepare.py` numbers them.
///
/// ```
/// use chainrule::data::CharVocab;
///
/// let v = CharVocab::from_text("hello");
/// assert_eq!(v.chars(), &['e', 'h', 'l', 'o']);
/// assert_eq!(v.encode("hole").unwrap(), vec![1, 3, 2, 0]);
/// assert_eq!(v.decode(&[1, 0, 2, 2, 3]), "hello");
/// assert_eq!(v.encode("help").unwrap_err().to_string(), "'p' is not in the vocabulary (4 characters: \"ehlo\")");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharVocab {
    chars: Vec<char>,
}

/// Characters that are not in a [`CharVocab`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownChars {
    /// The characters not in the vocabulary, each once, in order of appearance.
    pub chars: Vec<char>,
    /// The vocabulary's characters.
    pub vocab: String,
}

impl fmt::Display for UnknownChars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.chars.iter().map(|c| format!("{c:?}")).collect();
        let verb = if self.chars.len() == 1 { "is" } else { "are" };
        write!(
            f,
            "{} {verb} not in the vocabulary ({} characters: {:?})",
            shown.join(", "),
            self.vocab.chars().count(),
            self.vocab
        )
    }
}

impl std::error::Error for UnknownChars {}

impl CharVocab {
    /// The sorted distinct characters of `text`.
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        CharVocab { chars }
    }

    /// A vocabulary of these characters, which must be sorted and distinct (as
    /// [`CharVocab::as_string`] gives them); `None` if they are not.
    pub fn from_sorted(chars: &str) -> Option<Self> {
        let chars: Vec<char> = chars.chars().collect();
        chars
            .windows(2)
            .all(|w| w[0] < w[1])
            .then_some(CharVocab { chars })
    }

    /// The characters, token by token.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The characters as one string (how model files store the vocabulary).
    pub fn as_string(&self) -> String {
        self.chars.iter().collect()
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The token of one character.
    pub fn token(&self, c: char) -> Option<usize> {
        self.chars.binary_search(&c).ok()
    }

    /// The tokens of `text`, or the characters of it that have none.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, UnknownChars> {
        let mut tokens = Vec::with_capacity(text.len());
        let mut unknown: Vec<char> = Vec::new();
        for c in text.chars() {
            match self.token(c) {
                Some(t) => tokens.push(t),
                None if !unknown.contains(&c) => unknown.push(c),
                None => {}
            }
        }
        if unknown.is_empty() {
            Ok(tokens)
        } else {
            Err(UnknownChars {
                chars: unknown,
                vocab: self.as_string(),
            })
        }
    }

    /// The text of `tokens` (a token out of the vocabulary is written as U+FFFD).
    pub fn decode(&self, tokens: &[usize]) -> String {
        tokens
            .iter()
            .map(|&t| self.chars.get(t).copied().unwrap_or('\u{FFFD}'))
            .collect()
    }
}

/// Which part of a [`TextCorpus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The first 90% of the text.
    Train,
    /// The last 10%.
    Val,
}

/// A text as tokens of its [`CharVocab`], split as nanoGPT's `prepare.py` splits it: the first
/// `⌊0.9·n⌋` characters for training, the rest for validation.
///
/// ```
/// use chainrule::data::{Split, TextCorpus};
/// use chainrule::rand::Rng;
///
/// let corpus = TextCorpus::from_text(&"to be or not to be ".repeat(10), "<text>").unwrap();
/// assert_eq!((corpus.train.len(), corpus.val.len()), (171, 19));
/// let (x, y) = corpus.batch(Split::Train, 4, 8, &mut Rng::new(0));
/// assert_eq!((x.len(), y.len()), (32, 32));
/// assert_eq!(x[1..8], y[..7]); // the targets are the inputs shifted by one
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TextCorpus {
    /// The vocabulary.
    pub vocab: CharVocab,
    /// The tokens of the training part.
    pub train: Vec<u32>,
    /// The tokens of the validation part.
    pub val: Vec<u32>,
}

impl TextCorpus {
    /// The corpus of `text`; `name` names it in errors. A text needs at least two distinct
    /// characters (with one there is nothing to predict) and enough characters for both
    /// parts to hold a pair of input and target.
    pub fn from_text(text: &str, name: &str) -> Result<Self, DataError> {
        let n = text.chars().count();
        let vocab = CharVocab::from_text(text);
        if n == 0 {
            return Err(DataError::invalid(format!("{name}: the text is empty")));
        }
        if vocab.len() < 2 {
            return Err(DataError::invalid(format!(
                "{name}: the text has only one distinct character ({:?}): there is nothing to \
                 predict",
                vocab.chars()[0]
            )));
        }
        let tokens: Vec<u32> = text
            .chars()
            .map(|c| vocab.token(c).expect("in the vocabulary") as u32)
            .collect();
        let cut = (n as f64 * 0.9) as usize;
        if cut < 2 || n - cut < 2 {
            return Err(DataError::invalid(format!(
                "{name}: {n} characters are too few to split into training and validation \
                 parts of at least two characters each (the last 10% is for validation)"
            )));
        }
        let val = tokens[cut..].to_vec();
        let mut train = tokens;
        train.truncate(cut);
        Ok(TextCorpus { vocab, train, val })
    }

    /// The corpus called `name`: `shakespeare` (the shipped [`SHAKESPEARE_TXT`]) or a UTF-8
    /// text file.
    pub fn open(name: &str) -> Result<Self, DataError> {
        if name == "shakespeare" {
            return Self::from_text(SHAKESPEARE_TXT, "shakespeare");
        }
        let path = Path::new(name);
        if !path.is_file() {
            return Err(DataError::invalid(format!(
                "--data: '{name}' is neither the shipped text (shakespeare) nor a file"
            )));
        }
        let text = read_text(path)?;
        Self::from_text(&text, name)
    }

    /// The tokens of one part.
    pub fn part(&self, split: Split) -> &[u32] {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
        }
    }

    /// A batch of `batch` windows of `block` tokens at random places of a part (drawn from
    /// `rng`, as nanoGPT's `get_batch`), and their targets, each window shifted by one: both
    /// `[batch, block]` row-major. A part shorter than `block + 1` gives windows as long as it
    /// allows.
    pub fn batch(
        &self,
        split: Split,
        batch: usize,
        block: usize,
        rng: &mut Rng,
    ) -> (Vec<usize>, Vec<usize>) {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        self.batch_into(split, batch, block, rng, &mut x, &mut y);
        (x, y)
    }

    /// [`TextCorpus::batch`] into buffers the caller keeps (cleared first).
    pub fn batch_into(
        &self,
        split: Split,
        batch: usize,
        block: usize,
        rng: &mut Rng,
        x: &mut Vec<usize>,
        y: &mut Vec<usize>,
    ) {
        let data = self.part(split);
        let block = block.min(data.len().saturating_sub(1));
        x.clear();
        y.clear();
        let starts = data.len() - block;
        for _ in 0..batch {
            let i = rng.below(starts);
            x.extend(data[i..i + block].iter().map(|&t| t as usize));
            y.extend(data[i + 1..i + 1 + block].iter().map(|&t| t as usize));
        }
    }

    /// The longest context both parts can fill (one less than the shorter part).
    pub fn max_context(&self) -> usize {
        self.train.len().min(self.val.len()).saturating_sub(1)
    }
}

/// The text of a file, which must be UTF-8; an error names the byte offset of the first byte
/// that is not.
///
/// ```
/// let path = std::env::temp_dir().join(format!("chainrule-latin1-{}.txt", std::process::id()));
/// std::fs::write(&path, b"caf\xe9 au lait").unwrap();
/// let err = chainrule::data::read_text(&path).unwrap_err().to_string();
/// assert!(err.ends_with("is not UTF-8 text: byte 0xE9 at offset 3 does not make a valid character"), "{err}");
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.display().to_string(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let byte = e.as_bytes()[at];
        DataError::invalid(format!(
            "{} is not UTF-8 text: byte 0x{byte:02X} at offset {at} does not make a valid \
             character",
            path.display()
        ))
    })
}
