//! Tags: a string → string map carried in a member's metadata.
//!
//! Metadata is opaque bytes to the protocol. Tags give it a shape many
//! applications want (`role=cache`, `zone=eu-1`, `shard=7`) and that every
//! member decodes the same way, whatever its implementation:
//!
//! | bytes | field |
//! |---|---|
//! | 3 | [`TAGS_MAGIC`]: `0xFF`, `'T'`, format version 1 |
//! | then, for each tag, keys in strictly ascending byte order: | |
//! | 1 | key length, 1..=255 |
//! | n | key, UTF-8 |
//! | 2 | value length, big-endian, 0..=65,535 |
//! | n | value, UTF-8 |
//!
//! The encoding is canonical (sorted, no duplicates), so two maps are equal
//! exactly when their encodings are. Metadata that does not start with the
//! magic is not tags ([`TagsView::parse`] says `None`): an application that
//! sets raw metadata keeps its own format. The whole encoding counts against
//! the metadata budget (`limits.max_metadata`, 512 bytes by default).
//!
//! ```
//! use swim_wire::tags::{TagsView, encode_tags};
//! let mut meta = Vec::new();
//! encode_tags([("role", "cache"), ("shard", "7")], &mut meta).unwrap();
//! assert_eq!(meta.len(), 3 + (1 + 4 + 2 + 5) + (1 + 5 + 2 + 1));
//! let tags = TagsView::parse(&meta).unwrap().unwrap();
//! assert_eq!(tags.get("shard"), Some("7"));
//! assert_eq!(tags.iter().collect::<Vec<_>>(), [("role", "cache"), ("shard", "7")]);
//! assert!(TagsView::parse(b"zone=eu-1").unwrap().is_none(), "raw metadata is not tags");
//! ```

use core::fmt;

/// The first bytes of metadata that holds tags (marker, `'T'`, version 1).
pub const TAGS_MAGIC: [u8; 3] = [0xFF, b'T', 1];
/// The longest key, in bytes.
pub const MAX_TAG_KEY: usize = 255;
/// The longest value, in bytes.
pub const MAX_TAG_VALUE: usize = u16::MAX as usize;

/// Why tags could not be encoded or decoded, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TagsError {
    /// A key is empty.
    EmptyKey {
        /// The tag's position (0-based).
        index: usize,
    },
    /// A key is longer than [`MAX_TAG_KEY`] bytes.
    KeyTooLong {
        /// The tag's position.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A value is longer than [`MAX_TAG_VALUE`] bytes.
    ValueTooLong {
        /// The tag's position.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The same key twice, or keys out of order (decoding only: the
    /// encoding is canonical).
    Unordered {
        /// The tag's position.
        index: usize,
    },
    /// A key or value is not UTF-8.
    NotUtf8 {
        /// The tag's position.
        index: usize,
    },
    /// The bytes end inside a tag.
    Truncated {
        /// The byte offset where more was expected.
        offset: usize,
    },
}

impl fmt::Display for TagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TagsError::EmptyKey { index } => write!(f, "tag {index}: empty key"),
            TagsError::KeyTooLong { index, len } => {
                write!(f, "tag {index}: key of {len} bytes, longer than {MAX_TAG_KEY}")
            }
            TagsError::ValueTooLong { index, len } => {
                write!(f, "tag {index}: value of {len} bytes, longer than {MAX_TAG_VALUE}")
            }
            TagsError::Unordered { index } => write!(f, "tag {index}: key repeated or out of order"),
            TagsError::NotUtf8 { index } => write!(f, "tag {index}: key or value is not UTF-8"),
            TagsError::Truncated { offset } => write!(f, "tags end inside a tag at byte {offset}"),
        }
    }
}

impl std::error::Error for TagsError {}

/// Tags as a checked view over metadata bytes (nothing is copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagsView<'a> {
    /// The entries, after the magic; validated by `parse`.
    body: &'a [u8],
}

impl<'a> TagsView<'a> {
    /// Validates `meta` as tags: `Ok(None)` when it is not in the tags
    /// format (no [`TAGS_MAGIC`]), an error when it claims to be and is
    /// malformed.
    pub fn parse(meta: &'a [u8]) -> Result<Option<Self>, TagsError> {
        let Some(body) = meta.strip_prefix(&TAGS_MAGIC[..]) else { return Ok(None) };
        let mut entries = Entries { body, offset: 0, index: 0, strict: true };
        let mut previous: Option<&[u8]> = None;
        while let Some(entry) = entries.next_checked()? {
            if previous.is_some_and(|p| p >= entry.0.as_bytes()) {
                return Err(TagsError::Unordered { index: entries.index - 1 });
            }
            previous = Some(entry.0.as_bytes());
        }
        Ok(Some(TagsView { body }))
    }

    /// The tags in `meta`, or none when it is not (well-formed) tags.
    pub fn lenient(meta: &'a [u8]) -> Self {
        Self::parse(meta).ok().flatten().unwrap_or_default()
    }

    /// The tags, in ascending key order.
    pub fn iter(&self) -> TagsIter<'a> {
        TagsIter(Entries { body: self.body, offset: 0, index: 0, strict: false })
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// How many tags there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

impl<'a> IntoIterator for TagsView<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = TagsIter<'a>;
    fn into_iter(self) -> TagsIter<'a> {
        self.iter()
    }
}

/// The tags of a [`TagsView`], in ascending key order.
#[derive(Debug, Clone)]
pub struct TagsIter<'a>(Entries<'a>);

impl<'a> Iterator for TagsIter<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        // The view was validated: a failure here cannot happen and ends the
        // iteration rather than panicking.
        self.0.next_checked().ok().flatten()
    }
}

#[derive(Debug, Clone)]
struct Entries<'a> {
    body: &'a [u8],
    offset: usize,
    index: usize,
    strict: bool,
}

impl<'a> Entries<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TagsError> {
        let offset = TAGS_MAGIC.len() + self.offset;
        let bytes = self.body.get(self.offset..self.offset + n).ok_or(TagsError::Truncated { offset })?;
        self.offset += n;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], TagsError> {
        let offset = TAGS_MAGIC.len() + self.offset;
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| TagsError::Truncated { offset })
    }

    fn next_checked(&mut self) -> Result<Option<(&'a str, &'a str)>, TagsError> {
        if self.offset >= self.body.len() {
            return Ok(None);
        }
        let index = self.index;
        let [key_len] = self.take_array::<1>()?;
        let key_len = usize::from(key_len);
        if key_len == 0 && self.strict {
            return Err(TagsError::EmptyKey { index });
        }
        let key = self.take(key_len)?;
        let value_len = u16::from_be_bytes(self.take_array::<2>()?);
        let value = self.take(usize::from(value_len))?;
        let text = |b: &'a [u8]| core::str::from_utf8(b).map_err(|_| TagsError::NotUtf8 { index });
        self.index += 1;
        Ok(Some((text(key)?, text(value)?)))
    }
}

/// Writes `tags` in the tags format into `out` (cleared first), sorted by
/// key; a key given twice keeps its last value. Nothing is written on error.
pub fn encode_tags<K, V>(tags: impl IntoIterator<Item = (K, V)>, out: &mut Vec<u8>) -> Result<(), TagsError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut sorted: Vec<(K, V)> = tags.into_iter().collect();
    // Checked in the caller's order, so that an error's index is the
    // caller's position.
    for (index, (k, v)) in sorted.iter().enumerate() {
        let (k, v) = (k.as_ref(), v.as_ref());
        if k.is_empty() {
            return Err(TagsError::EmptyKey { index });
        }
        if k.len() > MAX_TAG_KEY {
            return Err(TagsError::KeyTooLong { index, len: k.len() });
        }
        if v.len() > MAX_TAG_VALUE {
            return Err(TagsError::ValueTooLong { index, len: v.len() });
        }
    }
    // Stable: for equal keys, the last given stays last and wins below.
    sorted.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    let mut kept: Vec<(&str, &str)> = Vec::with_capacity(sorted.len());
    for (k, v) in &sorted {
        match kept.last_mut() {
            Some(last) if last.0 == k.as_ref() => last.1 = v.as_ref(),
            _ => kept.push((k.as_ref(), v.as_ref())),
        }
    }
    out.clear();
    out.extend_from_slice(&TAGS_MAGIC);
    for (k, v) in kept {
        // Both lengths were checked above: the conversions cannot fail.
        out.push(u8::try_from(k.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&u16::try_from(v.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(tags: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_tags(tags.iter().copied(), &mut out).unwrap();
        out
    }

    #[test]
    fn golden_bytes() {
        assert_eq!(encoded(&[("b", ""), ("a", "xy")]), [0xFF, b'T', 1, 1, b'a', 0, 2, b'x', b'y', 1, b'b', 0, 0]);
        assert_eq!(encoded(&[]), TAGS_MAGIC);
    }

    #[test]
    fn canonical_last_value_wins_and_round_trips() {
        let bytes = encoded(&[("zone", "eu"), ("role", "db"), ("zone", "us")]);
        assert_eq!(bytes, encoded(&[("role", "db"), ("zone", "us")]));
        let view = TagsView::parse(&bytes).unwrap().unwrap();
        assert_eq!(view.iter().collect::<Vec<_>>(), [("role", "db"), ("zone", "us")]);
        assert_eq!((view.len(), view.get("zone"), view.get("nope")), (2, Some("us"), None));
    }

    #[test]
    fn bad_tags_are_refused_with_their_position() {
        let mut out = b"kept".to_vec();
        assert_eq!(encode_tags([("a", "1"), ("", "2")], &mut out), Err(TagsError::EmptyKey { index: 1 }), "as given");
        let long = "k".repeat(256);
        assert_eq!(encode_tags([(long.as_str(), "")], &mut out), Err(TagsError::KeyTooLong { index: 0, len: 256 }));
        let huge = "v".repeat(MAX_TAG_VALUE + 1);
        assert_eq!(
            encode_tags([("a", ""), ("b", huge.as_str())], &mut out),
            Err(TagsError::ValueTooLong { index: 1, len: MAX_TAG_VALUE + 1 })
        );
        assert_eq!(out, b"kept", "nothing written on error");
    }

    #[test]
    fn malformed_bytes_are_errors_and_raw_metadata_is_not_tags() {
        let good = encoded(&[("a", "1"), ("b", "2")]);
        for cut in TAGS_MAGIC.len() + 1..good.len() {
            if cut == 8 {
                continue; // a whole first tag
            }
            assert!(matches!(TagsView::parse(&good[..cut]), Err(TagsError::Truncated { .. })), "cut at {cut}");
        }
        let mut swapped = TAGS_MAGIC.to_vec();
        swapped.extend_from_slice(&[1, b'b', 0, 0, 1, b'a', 0, 0]);
        assert_eq!(TagsView::parse(&swapped), Err(TagsError::Unordered { index: 1 }));
        let mut twice = TAGS_MAGIC.to_vec();
        twice.extend_from_slice(&[1, b'a', 0, 0, 1, b'a', 0, 0]);
        assert_eq!(TagsView::parse(&twice), Err(TagsError::Unordered { index: 1 }));
        let mut bad = TAGS_MAGIC.to_vec();
        bad.extend_from_slice(&[1, 0xC0, 0, 0]);
        assert_eq!(TagsView::parse(&bad), Err(TagsError::NotUtf8 { index: 0 }));
        let mut empty = TAGS_MAGIC.to_vec();
        empty.extend_from_slice(&[0, 0, 0]);
        assert_eq!(TagsView::parse(&empty), Err(TagsError::EmptyKey { index: 0 }));
        assert_eq!(TagsView::parse(b"role=db"), Ok(None));
        assert!(TagsView::lenient(&swapped).is_empty());
    }
}
