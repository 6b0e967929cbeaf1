//! Export pages over a map: the records with the smallest keys after a cursor.
//!
//! A page costs one pass over the map (no sorted index is kept for a store
//! that holds what fits in one process), and a record present throughout an
//! export is in exactly one page, whatever changes meanwhile.

use sesame_ports::{ExportCursor, ExportPage, PortError};

/// The first `limit` (at least one) of `records` by key after `after`, in key
/// order, and the cursor of the next page: `key_text` of the last key when
/// more remain.
pub(crate) fn page<K: Ord + Copy, T: Clone>(
    records: impl Iterator<Item = (K, T)>,
    after: Option<K>,
    limit: u32,
    key_text: impl Fn(K) -> String,
) -> ExportPage<T> {
    let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
    let mut candidates: Vec<(K, T)> = records.filter(|(key, _)| after.is_none_or(|after| *key > after)).collect();
    let more = candidates.len() > limit;
    if more {
        candidates.select_nth_unstable_by_key(limit - 1, |(key, _)| *key);
        candidates.truncate(limit);
    }
    candidates.sort_unstable_by_key(|(key, _)| *key);
    let next = if more { candidates.last().map(|(key, _)| ExportCursor::at(key_text(*key))) } else { None };
    ExportPage { records: candidates.into_iter().map(|(_, record)| record).collect(), next }
}

/// The key a cursor holds, read by `parse`; `None` at the start.
pub(crate) fn after<K>(cursor: &ExportCursor, parse: impl Fn(&str) -> Option<K>) -> Result<Option<K>, PortError> {
    match cursor.position() {
        None => Ok(None),
        Some(position) => parse(position)
            .map(Some)
            .ok_or_else(|| PortError::Invalid(format!("{position:?} is not a cursor of the in-memory store"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_record_once_in_key_order() {
        let records: Vec<(u32, u32)> = [7, 3, 9, 1, 5, 8, 2].into_iter().map(|key| (key, key * 10)).collect();
        let mut after_key = None;
        let mut seen = Vec::new();
        loop {
            let page = page(records.iter().copied(), after_key, 3, |key| key.to_string());
            seen.extend(page.records);
            match page.next {
                Some(next) => after_key = super::after(&next, |text| text.parse().ok()).unwrap(),
                None => break,
            }
        }
        assert_eq!(seen, [10, 20, 30, 50, 70, 80, 90]);
        assert!(super::after::<u32>(&ExportCursor::at("x"), |text| text.parse().ok()).is_err());
    }
}
