//! Deserializers that hold at most a fixed amount of what they read: truncated strings, lists that
//! keep their first N elements and skip the rest without holding them, string maps, property bags.
//! The bounds themselves are in [`crate::limits`].

use crate::limits::{MAX_NAME_BYTES, MAX_PROPERTIES, MAX_TAGS};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// Appended to a string cut at its limit, so a reader sees it was cut.
pub const TRUNCATED: &str = "…[truncated]";

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
pub fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = String::with_capacity(max + TRUNCATED.len());
    cut.push_str(&text[..floor_char_boundary(text, max)]);
    cut.push_str(TRUNCATED);
    cut
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut i = index.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A JSON string of at most `N` bytes (longer ones are truncated). Any other JSON type is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text<const N: usize>(pub String);

impl<const N: usize> Text<N> {
    pub fn into_string(self) -> String {
        self.0
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de, const N: usize> Deserialize<'de> for Text<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<const N: usize>;
        impl<const N: usize> Visitor<'_> for TextVisitor<N> {
            type Value = Text<N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<N>, E> {
                Ok(Text(truncated(v, N)))
            }
            fn visit_string<E: de::Error>(self, mut v: String) -> Result<Text<N>, E> {
                if v.len() > N {
                    v = truncated(&v, N);
                }
                Ok(Text(v))
            }
        }
        deserializer.deserialize_str(TextVisitor::<N>)
    }
}

/// A short identifier-like string ([`MAX_NAME_BYTES`]).
pub type Name = Text<MAX_NAME_BYTES>;

/// A JSON array of which the first `N` elements are kept; the rest are skipped (not held, not
/// type-checked) and counted.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedVec<T, const N: usize> {
    pub items: Vec<T>,
    pub omitted: usize,
}

impl<T, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        BoundedVec {
            items: Vec::new(),
            omitted: 0,
        }
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for BoundedVec<T, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T, const N: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for SeqVisitor<T, N> {
            type Value = BoundedVec<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut kept = BoundedVec::default();
                while kept.items.len() < N {
                    match seq.next_element::<T>()? {
                        Some(item) => kept.items.push(item),
                        None => return Ok(kept),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    kept.omitted += 1;
                }
                Ok(kept)
            }
        }
        deserializer.deserialize_seq(SeqVisitor::<T, N>(PhantomData))
    }
}

/// A JSON object of string values, at most `N` entries kept (in key order; later keys beyond the
/// bound are skipped). Keys and values are [`Name`]s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StringMap<const N: usize>(pub BTreeMap<String, String>);

impl<'de, const N: usize> Deserialize<'de> for StringMap<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for MapVisitor<N> {
            type Value = StringMap<N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut kept = BTreeMap::new();
                while let Some(key) = map.next_key::<Name>()? {
                    if kept.len() < N {
                        let value = map.next_value::<Name>()?;
                        kept.insert(key.0, value.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(StringMap(kept))
            }
        }
        deserializer.deserialize_map(MapVisitor::<N>)
    }
}

/// A JSON object whose values are deserialized as `T`, at most `N` entries kept.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedMap<T, const N: usize>(pub BTreeMap<String, T>);

impl<T, const N: usize> Default for BoundedMap<T, N> {
    fn default() -> Self {
        BoundedMap(BTreeMap::new())
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for BoundedMap<T, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T, const N: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for MapVisitor<T, N> {
            type Value = BoundedMap<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut kept = BTreeMap::new();
                while let Some(key) = map.next_key::<Name>()? {
                    if kept.len() < N {
                        let value = map.next_value::<T>()?;
                        kept.insert(key.0, value);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(BoundedMap(kept))
            }
        }
        deserializer.deserialize_map(MapVisitor::<T, N>(PhantomData))
    }
}

/// A SARIF property bag, reduced to what a finding can use: `tags` (strings), and every other key
/// whose value is a scalar, as text (`"7.5"`, `"true"`). Nested objects and arrays are free-form
/// tool data: skipped. The bag is free-form by the spec, so nothing in it is a type error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PropertyBag {
    pub tags: Vec<String>,
    pub values: BTreeMap<String, String>,
}

impl PropertyBag {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of the first of `keys` present (keys compared ASCII-case-insensitively).
    pub fn first_of<'a>(&'a self, keys: &[&'a str]) -> Option<(&'a str, &'a str)> {
        keys.iter().find_map(|wanted| {
            self.values
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(wanted))
                .map(|(key, value)| (key.as_str(), value.as_str()))
        })
    }
}

impl<'de> Deserialize<'de> for PropertyBag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BagVisitor;
        impl<'de> Visitor<'de> for BagVisitor {
            type Value = PropertyBag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property bag (an object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PropertyBag, A::Error> {
                let mut bag = PropertyBag::default();
                while let Some(key) = map.next_key::<Name>()? {
                    if key.0 == "tags" {
                        let tags = map.next_value::<Tags>()?;
                        bag.tags = tags.0;
                    } else if bag.values.len() < MAX_PROPERTIES {
                        if let AnyScalar(Some(value)) = map.next_value::<AnyScalar>()? {
                            bag.values.insert(key.0, value);
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(bag)
            }
        }
        deserializer.deserialize_map(BagVisitor)
    }
}

/// Any JSON value: a scalar as text ([`Name`]-bounded), anything else skipped as `None`.
pub(crate) struct AnyScalar(pub Option<String>);

impl<'de> Deserialize<'de> for AnyScalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = AnyScalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<AnyScalar, E> {
                Ok(AnyScalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnyScalar, E> {
                Ok(AnyScalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnyScalar, E> {
                Ok(AnyScalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<AnyScalar, E> {
                Ok(AnyScalar(Some(v.to_string())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnyScalar, E> {
                Ok(AnyScalar(Some(truncated(v, MAX_NAME_BYTES))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnyScalar, E> {
                Ok(AnyScalar(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyScalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AnyScalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyScalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyScalar(None))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// `properties.tags`: the string elements of an array (others skipped); not an array: no tags.
struct Tags(Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of tags")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut tags = Vec::new();
                while let Some(AnyScalar(tag)) = seq.next_element::<AnyScalar>()? {
                    if let Some(tag) = tag.filter(|_| tags.len() < MAX_TAGS) {
                        tags.push(tag);
                    }
                }
                Ok(Tags(tags))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Tags(Vec::new()))
            }
        }
        deserializer.deserialize_any(TagsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters_and_says_so() {
        let cut = truncated("ééé", 3);
        assert_eq!(cut, format!("é{TRUNCATED}"));
        assert_eq!(truncated("abc", 3), "abc");
    }

    #[test]
    fn bounded_vec_keeps_the_first_elements_and_counts_the_rest() {
        let v: BoundedVec<u32, 2> = serde_json::from_str("[1,2,3,{\"x\":[4]}]").unwrap();
        assert_eq!(v.items, vec![1, 2]);
        assert_eq!(v.omitted, 2);
    }

    #[test]
    fn property_bags_keep_scalars_and_tags_and_skip_structures() {
        let bag: PropertyBag = serde_json::from_str(
            r#"{"tags":["a",1,{"b":2}],"security-severity":7.5,"x":{"y":1},"ok":true,"n":null}"#,
        )
        .unwrap();
        assert_eq!(bag.tags, vec!["a", "1"]);
        assert_eq!(bag.get("security-severity"), Some("7.5"));
        assert_eq!(bag.get("ok"), Some("true"));
        assert_eq!(bag.get("x"), None);
        assert_eq!(bag.get("n"), None);
    }
}
