//! A map kept as a `Vec` of entries sorted by key: for the maps of a context's chats, runs
//! and fetches, which hold a few to a few thousand entries.
//!
//! Each `HashMap` type compiles its own table code (probing, growth and removal, about
//! 1–2 KB of wasm per key and value type) and the hasher's; these maps are small enough that
//! a binary search finds an entry as fast, and inserting or removing moves at most a few
//! thousand entries, which the browser does in microseconds. Iteration is in key order, so
//! it is the same in every run.

use std::borrow::Borrow;

use crate::sort::sort_by;

/// A map from `K` to `V`, its entries sorted by key, each key once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// A map of `entries`, in any order; of entries with the same key, the last one stays
    /// (as inserting them one by one would leave it).
    pub fn from_entries(entries: Vec<(K, V)>) -> Self {
        let mut entries: Vec<(usize, (K, V))> = entries.into_iter().enumerate().collect();
        // By key, the later entry of a key first, so the de-duplication below keeps it.
        sort_by(&mut entries, |a, b| {
            a.1 .0.cmp(&b.1 .0).then_with(|| b.0.cmp(&a.0))
        });
        let mut map = VecMap {
            entries: Vec::with_capacity(entries.len()),
        };
        for (_, (key, value)) in entries {
            if map.entries.last().is_none_or(|(last, _)| *last != key) {
                map.entries.push((key, value));
            }
        }
        map
    }

    /// Where `key` is (`Ok`), or where it would go (`Err`). Like the standard maps, a key is
    /// looked up by any form it borrows as (a `String` key by a `&str`), which orders alike.
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match self.find(key) {
            Ok(at) => Some(&mut self.entries[at].1),
            Err(_) => None,
        }
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets the value of `key`, returning the one it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| self.entries.remove(at).1)
    }

    /// The value of `key`, made `V::default()` first when it had none (the key cloned only
    /// then).
    pub fn get_or_default(&mut self, key: &K) -> &mut V
    where
        K: Clone,
        V: Default,
    {
        let at = match self.find(key) {
            Ok(at) => at,
            Err(at) => {
                self.entries.insert(at, (key.clone(), V::default()));
                at
            }
        };
        &mut self.entries[at].1
    }

    /// How many keys have a value.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(key, _)| key)
    }

    /// The values, in their keys' order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }

    /// The values, in their keys' order, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, value)| value)
    }

    /// The keys, in order, the values dropped.
    pub fn into_keys(self) -> impl Iterator<Item = K> {
        self.entries.into_iter().map(|(key, _)| key)
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(key, value)| keep(key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::VecMap;

    #[test]
    fn a_key_is_found_by_what_it_borrows_as() {
        let mut map: VecMap<String, u32> = VecMap::new();
        map.insert("b".to_owned(), 2);
        map.insert("a".to_owned(), 1);
        assert_eq!(map.get("a"), Some(&1));
        assert!(map.contains_key("b") && !map.contains_key("c"));
        *map.get_mut("b").expect("present") += 1;
        assert_eq!(map.remove("b"), Some(3));
        assert_eq!(
            map.keys().map(String::as_str).collect::<Vec<_>>(),
            vec!["a"]
        );
    }

    #[test]
    fn it_behaves_as_a_map_in_key_order() {
        let mut map = VecMap::new();
        assert_eq!(map.insert(5, "e"), None);
        assert_eq!(map.insert(1, "a"), None);
        assert_eq!(map.insert(3, "c"), None);
        assert_eq!(map.insert(3, "C"), Some("c"));
        assert_eq!(map.get(&3), Some(&"C"));
        assert_eq!(map.get(&4), None);
        assert!(map.contains_key(&1) && !map.contains_key(&2));
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), vec![1, 3, 5]);
        *map.get_or_default(&4) = "d";
        *map.get_mut(&1).expect("present") = "A";
        assert_eq!(
            map.values().copied().collect::<Vec<_>>(),
            vec!["A", "C", "d", "e"]
        );
        assert_eq!(map.remove(&3), Some("C"));
        assert_eq!(map.remove(&3), None);
        map.retain(|key, _| *key != 5);
        assert_eq!(map.iter().collect::<Vec<_>>(), vec![(&1, &"A"), (&4, &"d")]);
        assert_eq!(map.len(), 2);
        let mut counts: VecMap<&str, u32> = VecMap::default();
        *counts.get_or_default(&"x") += 1;
        *counts.get_or_default(&"x") += 1;
        assert_eq!(counts.get(&"x"), Some(&2));
        assert!(!counts.is_empty());
    }

    #[test]
    fn from_entries_sorts_and_keeps_the_last_of_a_key() {
        let map = VecMap::from_entries(vec![(3, "c"), (1, "a"), (3, "C"), (2, "b"), (1, "A")]);
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            vec![(&1, &"A"), (&2, &"b"), (&3, &"C")]
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::VecMap;

        proptest! {
            /// Any sequence of inserts, removes and defaults leaves the same entries as a
            /// `BTreeMap` given the same sequence.
            #[test]
            fn it_agrees_with_a_btree_map(ops in prop::collection::vec((0u8..3, 0u8..20, any::<u16>()), 0..200)) {
                let mut ours = VecMap::new();
                let mut theirs = BTreeMap::new();
                for (op, key, value) in ops {
                    match op {
                        0 => prop_assert_eq!(ours.insert(key, value), theirs.insert(key, value)),
                        1 => prop_assert_eq!(ours.remove(&key), theirs.remove(&key)),
                        _ => {
                            // Wrapping: a value inserted near `u16::MAX` may be bumped past
                            // it (the test's own arithmetic, not the map's, overflowed so).
                            let bump = 1u16.min(value);
                            let ours_value = ours.get_or_default(&key);
                            *ours_value = ours_value.wrapping_add(bump);
                            let theirs_value = theirs.entry(key).or_default();
                            *theirs_value = theirs_value.wrapping_add(bump);
                        }
                    }
                }
                prop_assert_eq!(ours.iter().collect::<Vec<_>>(), theirs.iter().collect::<Vec<_>>());
            }
        }
    }
}
