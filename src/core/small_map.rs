//! A map kept as a vector of pairs, in insertion order.
//!
//! A client watches a handful of jobs at a time, where a linear scan is as fast as a tree and
//! the code is a fraction of `BTreeMap`'s (which cost ~18 KB of the wasm binary). Insertion
//! order also makes a resubscription replay jobs in the order the app subscribed to them.

/// A map for few entries. Lookups are linear.
#[derive(Debug, Clone)]
pub struct SmallMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            entries: Vec::new(),
        }
    }
}

impl<K: PartialEq, V> SmallMap<K, V> {
    fn position<Q>(&self, key: &Q) -> Option<usize>
    where
        K: PartialEq<Q>,
        Q: ?Sized,
    {
        self.entries.iter().position(|(known, _)| known == key)
    }

    pub fn get<Q: ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: PartialEq<Q>,
    {
        self.position(key).map(|index| &self.entries[index].1)
    }

    pub fn get_mut<Q: ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: PartialEq<Q>,
    {
        self.position(key).map(|index| &mut self.entries[index].1)
    }

    /// Sets the value of `key`, keeping its place if it was there.
    pub fn insert(&mut self, key: K, value: V) {
        match self.position(&key) {
            Some(index) => self.entries[index].1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn remove<Q: ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: PartialEq<Q>,
    {
        self.position(key).map(|index| self.entries.remove(index).1)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().map(|(key, value)| (&*key, value))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::SmallMap;

    #[test]
    fn entries_keep_insertion_order_and_replace_in_place() {
        let mut map = SmallMap::default();
        map.insert("b", 1);
        map.insert("a", 2);
        map.insert("b", 3);
        assert_eq!(map.iter().collect::<Vec<_>>(), vec![(&"b", &3), (&"a", &2)]);
        assert_eq!(map.remove(&"b"), Some(3));
        assert_eq!(map.get(&"a"), Some(&2));
        assert_eq!(map.len(), 1);
        assert_eq!(map.remove(&"z"), None);
    }
}
