//! The `*` pattern of ARNs and tag values in a selection.

use std::fmt;

/// An ARN pattern or a tag value pattern: `*` matches any run of characters, none
/// included; every other character is literal and case sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The literal runs between the stars: one more than there are stars.
    pieces: Vec<String>,
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern {
            text: text.to_owned(),
            pieces: text.split('*').map(str::to_owned).collect(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has no `*`: it matches one text only.
    pub fn is_literal(&self) -> bool {
        self.pieces.len() == 1
    }

    /// The text before the first `*`.
    pub fn literal_prefix(&self) -> &str {
        &self.pieces[0]
    }

    /// Leftmost-first matching of each literal run is exact for `*`-only patterns,
    /// and linear in practice, whatever the number of stars.
    pub fn matches(&self, text: &str) -> bool {
        let (first, last) = match self.pieces.as_slice() {
            [only] => return text == only,
            [first, .., last] => (first.as_str(), last.as_str()),
            [] => return false,
        };
        if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
            return false;
        }
        let mut rest = &text[first.len()..text.len() - last.len()];
        for piece in &self.pieces[1..self.pieces.len() - 1] {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}
