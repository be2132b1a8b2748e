//! Tags: the string map carried in a member's metadata (the format is
//! [`swim_wire::tags`]), and what changed between two versions of it.

use swim_wire::tags::{TagsView, encode_tags};

use crate::error::Error;

/// One tag that changed in an update ([`Event::MemberUpdated`](crate::Event::MemberUpdated)).
///
/// ```
/// use swim_runtime::TagChange;
/// let change = TagChange { key: "role".into(), old: Some("replica".into()), new: Some("primary".into()) };
/// assert_eq!(change.to_string(), "role: replica -> primary");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagChange {
    /// The tag.
    pub key: String,
    /// Its value before (`None`: it was added).
    pub old: Option<String>,
    /// Its value now (`None`: it was removed).
    pub new: Option<String>,
}

impl std::fmt::Display for TagChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        write!(f, "{}: {} -> {}", self.key, shown(&self.old), shown(&self.new))
    }
}

/// The tags that differ between two metadata blobs (either may be raw
/// metadata, which has no tags), in key order.
pub(crate) fn tag_changes(old: &[u8], new: &[u8]) -> Vec<TagChange> {
    let (old, new) = (TagsView::lenient(old), TagsView::lenient(new));
    let mut changes = Vec::new();
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    let owned = |v: &str| Some(v.to_owned());
    loop {
        let change = match (a.peek().copied(), b.peek().copied()) {
            (None, None) => break,
            (Some((k, v)), None) => {
                a.next();
                TagChange { key: k.into(), old: owned(v), new: None }
            }
            (None, Some((k, v))) => {
                b.next();
                TagChange { key: k.into(), old: None, new: owned(v) }
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    a.next();
                    TagChange { key: ka.into(), old: owned(va), new: None }
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                    TagChange { key: kb.into(), old: None, new: owned(vb) }
                }
                std::cmp::Ordering::Equal => {
                    a.next();
                    b.next();
                    if va == vb {
                        continue;
                    }
                    TagChange { key: ka.into(), old: owned(va), new: owned(vb) }
                }
            },
        };
        changes.push(change);
    }
    changes
}

/// A change to this member's tags, carried out by its task (so that
/// concurrent changes do not lose each other).
#[derive(Debug)]
pub(crate) enum TagEdit {
    Set(String, String),
    Remove(String),
    Replace(Vec<(String, String)>),
}

impl TagEdit {
    /// The metadata after applying the edit to `meta`. Raw metadata (not
    /// tags) is never silently replaced by a single tag's edit.
    pub(crate) fn apply(self, meta: &[u8]) -> Result<Vec<u8>, Error> {
        let current = match TagsView::parse(meta) {
            Ok(Some(tags)) => tags,
            Ok(None) if meta.is_empty() => TagsView::default(),
            Ok(None) | Err(_) if !matches!(self, TagEdit::Replace(_)) => return Err(Error::MetadataNotTags),
            _ => TagsView::default(),
        };
        let mut tags: Vec<(&str, &str)> = current.iter().collect();
        let mut out = Vec::new();
        let result = match &self {
            TagEdit::Set(k, v) => {
                tags.push((k, v));
                encode_tags(tags, &mut out)
            }
            TagEdit::Remove(k) => encode_tags(tags.into_iter().filter(|(key, _)| key != k), &mut out),
            TagEdit::Replace(all) => encode_tags(all.iter().map(|(k, v)| (k, v)), &mut out),
        };
        result.map_err(Error::Tags)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(tags: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_tags(tags.iter().copied(), &mut out).unwrap();
        out
    }

    #[test]
    fn changes_list_added_removed_and_changed_tags_in_key_order() {
        let old = meta(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let new = meta(&[("b", "2"), ("c", "4"), ("d", "5")]);
        let changes: Vec<String> = tag_changes(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(changes, ["a: 1 -> (none)", "c: 3 -> 4", "d: (none) -> 5"]);
        assert!(tag_changes(&old, &old).is_empty());
        assert_eq!(tag_changes(b"raw", &new).len(), 3, "raw metadata has no tags");
    }

    #[test]
    fn edits_keep_the_other_tags_and_refuse_to_overwrite_raw_metadata() {
        let m = TagEdit::Set("role".into(), "db".into()).apply(&[]).unwrap();
        let m = TagEdit::Set("zone".into(), "eu".into()).apply(&m).unwrap();
        let m = TagEdit::Set("role".into(), "cache".into()).apply(&m).unwrap();
        assert_eq!(m, meta(&[("role", "cache"), ("zone", "eu")]));
        let m = TagEdit::Remove("role".into()).apply(&m).unwrap();
        assert_eq!(m, meta(&[("zone", "eu")]));
        assert!(matches!(TagEdit::Set("a".into(), "b".into()).apply(b"raw"), Err(Error::MetadataNotTags)));
        assert!(matches!(TagEdit::Remove("a".into()).apply(b"raw"), Err(Error::MetadataNotTags)));
        let replaced = TagEdit::Replace(vec![("a".into(), "b".into())]).apply(b"raw").unwrap();
        assert_eq!(replaced, meta(&[("a", "b")]));
        assert!(matches!(TagEdit::Set(String::new(), "b".into()).apply(&[]), Err(Error::Tags(_))));
    }
}
