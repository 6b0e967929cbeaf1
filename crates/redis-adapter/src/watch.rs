//! Noticing that Redis lost its data, and telling it from eviction.
//!
//! Each instance keeps *marker* keys of its own (one on a standalone server; on
//! a Cluster one in each 1/128th of the slot space, so every master holds some)
//! and reads them on every check, which also keeps them recently used under an
//! LRU policy. Their own, so that every instance notices a loss, not only the
//! first to look; they expire a day after their last refresh (hourly), so those
//! of a stopped instance go away. A marker that vanished means the server lost
//! keys: a restart without persistence, `FLUSHALL`, or eviction. `INFO` tells
//! them apart: if the servers' `evicted_keys` grew since the last check, it is
//! eviction (a warning, once per episode); otherwise the data was lost (one
//! ERROR, and `run_id` says whether the server restarted). Either way the
//! markers are written again.

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use redis::Value;
use sesame_ports::PortError;

use crate::{BACKEND, store::RedisSessionStore};

/// How long a marker outlives its last refresh.
const MARKER_TTL_SECONDS: u64 = 86_400;
/// How often the markers' TTL is refreshed.
const REFRESH_EVERY: Duration = Duration::from_secs(3600);

/// Slots in a Redis Cluster.
const SLOTS: u16 = 16_384;
/// Markers on a Cluster: one per window of `SLOTS / WINDOWS` slots.
const WINDOWS: u16 = 128;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataCheck {
    /// Keys vanished that no eviction explains: the data was lost.
    pub lost: bool,
    /// The servers evicted keys since the last check.
    pub evicting: bool,
    /// A server restarted, or a replica took over from a master, since the last
    /// check: what Redis holds may have gone back to an older state.
    pub went_back: bool,
}

/// How Redis is configured to keep (or lose) what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// `maxmemory-policy`; `None` when the server refuses `CONFIG GET`.
    pub eviction_policy: Option<String>,
    /// Whether an append-only file or snapshots persist the data; `None` when
    /// the server refuses `CONFIG GET`.
    pub persistent: Option<bool>,
}

impl Durability {
    /// Whether the server may evict session keys. Every session key has a TTL,
    /// so `volatile-*` policies evict them as surely as `allkeys-*`: only
    /// `noeviction` keeps them. Unknown counts as may.
    pub fn may_evict(&self) -> bool {
        self.eviction_policy.as_deref() != Some("noeviction")
    }
}

/// What the last check saw.
#[derive(Debug)]
struct Seen {
    /// Each server's `run_id`, by address (one entry on a standalone server).
    run_ids: BTreeMap<String, String>,
    /// `evicted_keys`, summed over the servers.
    evicted: u64,
    evicting: bool,
    /// When the markers' TTL was last refreshed.
    refreshed: Instant,
}

/// The markers and what the last check saw.
#[derive(Debug)]
pub(crate) struct Watch {
    markers: Vec<String>,
    seen: Mutex<Option<Seen>>,
}

impl Watch {
    /// This instance's markers under `prefix`: one, or one per slot window on a Cluster.
    pub(crate) fn new(prefix: &str, cluster: bool) -> Self {
        let own = format!("{prefix}marker:{}", uuid::Uuid::new_v4().simple());
        let markers = if cluster { cluster_markers(&own) } else { vec![own] };
        Self { markers, seen: Mutex::new(None) }
    }
}

/// Marker keys `{base}:{tag}` whose slots fall in every window of the slot
/// space (as far as a bounded search finds; a base holding a hash tag puts every
/// key in one slot, and then one marker is all there can be).
fn cluster_markers(base: &str) -> Vec<String> {
    let window = SLOTS / WINDOWS;
    let mut found: BTreeMap<u16, String> = BTreeMap::new();
    for tag in 0..100_000u32 {
        let key = format!("{base}:{{{tag}}}");
        found.entry(slot(key.as_bytes()) / window).or_insert(key);
        if found.len() == usize::from(WINDOWS) {
            break;
        }
    }
    found.into_values().collect()
}

/// The Cluster slot of `key` (CRC16/XMODEM of its hash tag, or of the whole key).
fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&byte| byte == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter().position(|&byte| byte == b'}').filter(|&close| close > 0).map(|close| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in tagged {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc % SLOTS
}

/// `field:value` lines of an `INFO` answer.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')).map(str::trim)
}

/// The `INFO` text of each server: one on a standalone server, one per master on a Cluster.
fn per_server(answer: Value) -> Vec<(String, String)> {
    let text = |value: Value| redis::from_redis_value::<String>(value).ok();
    match answer {
        Value::Map(entries) => {
            entries.into_iter().filter_map(|(address, info)| Some((text(address)?, text(info)?))).collect()
        }
        other => text(other).map(|info| vec![("server".to_owned(), info)]).unwrap_or_default(),
    }
}

impl RedisSessionStore {
    /// How the server keeps its data: `CONFIG GET maxmemory-policy`,
    /// `appendonly` and `save`. A server that refuses `CONFIG` (many managed
    /// services do) answers with unknowns rather than an error.
    pub async fn durability(&self) -> Result<Durability, PortError> {
        let answer: Result<Vec<String>, PortError> =
            self.query(redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy").arg("appendonly").arg("save")).await;
        let Ok(pairs) = answer else {
            return Ok(Durability { eviction_policy: None, persistent: None });
        };
        let value = |name: &str| pairs.chunks(2).find(|pair| pair[0] == name).and_then(|pair| pair.get(1)).cloned();
        let aof = value("appendonly").is_some_and(|value| value == "yes");
        let snapshots = value("save").is_some_and(|value| !value.trim().is_empty());
        Ok(Durability { eviction_policy: value("maxmemory-policy"), persistent: Some(aof || snapshots) })
    }

    /// Checks whether Redis lost its data since the last check (see the module
    /// docs); logs what it finds, once per episode. The first check only
    /// writes the markers.
    pub async fn check_data(&self) -> Result<DataCheck, PortError> {
        let watch = self.watch();
        let values: Vec<Option<String>> = if watch.markers.len() == 1 {
            vec![self.query(redis::cmd("GET").arg(&watch.markers[0])).await?]
        } else {
            self.query(redis::cmd("MGET").arg(&watch.markers)).await?
        };
        let missing: Vec<&String> =
            watch.markers.iter().zip(&values).filter(|(_, value)| value.is_none()).map(|(key, _)| key).collect();
        let servers = per_server(self.query(redis::cmd("INFO").arg("server").arg("stats")).await?);
        let run_ids: BTreeMap<String, String> = servers
            .iter()
            .filter_map(|(address, info)| Some((address.clone(), info_field(info, "run_id")?.to_owned())))
            .collect();
        let evicted: u64 =
            servers.iter().filter_map(|(_, info)| info_field(info, "evicted_keys")?.parse::<u64>().ok()).sum();

        let check = {
            let mut check = DataCheck::default();
            let mut seen = watch.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(last) = seen.as_ref() {
                // A restarted server counts from zero again.
                check.evicting = evicted > last.evicted || (evicted > 0 && run_ids != last.run_ids);
                let restarted = run_ids
                    .iter()
                    .filter(|(address, id)| last.run_ids.get(*address).is_some_and(|old| old != *id))
                    .count();
                let promoted = run_ids.keys().filter(|address| !last.run_ids.contains_key(*address)).count();
                check.went_back = restarted + promoted > 0;
                if !missing.is_empty() && !check.evicting {
                    check.lost = true;
                    metrics::counter!("sesame_redis_data_loss_total").increment(1);
                    tracing::error!(
                        backend = BACKEND,
                        markers_lost = missing.len(),
                        markers = watch.markers.len(),
                        servers_restarted = restarted,
                        "redis lost its data{}: every session it held is gone from it (sessions in PostgreSQL are unaffected)",
                        if restarted > 0 {
                            " in a restart without persistence"
                        } else {
                            " (FLUSHALL, or a restart without persistence)"
                        },
                    );
                }
                if check.evicting && !last.evicting {
                    tracing::warn!(
                        backend = BACKEND,
                        evicted = evicted.saturating_sub(last.evicted),
                        "redis is evicting keys: sessions it evicts are read from PostgreSQL in tiered mode, and lost in redis-only mode"
                    );
                }
            }
            let refreshed = seen.as_ref().map(|last| last.refreshed).filter(|at| at.elapsed() < REFRESH_EVERY);
            let refreshed_now = refreshed.is_none();
            *seen = Some(Seen {
                run_ids,
                evicted,
                evicting: check.evicting,
                refreshed: refreshed.unwrap_or_else(Instant::now),
            });
            (check, refreshed_now)
        };
        let (check, refresh) = check;
        // Markers that vanished are written again; every hour, all of them, to
        // push their expiry on.
        let rewrite: Vec<&String> = if refresh { watch.markers.iter().collect() } else { missing };
        for marker in rewrite {
            let set = redis::cmd("SET").arg(marker).arg("1").arg("EX").arg(MARKER_TTL_SECONDS).clone();
            self.query::<Option<String>>(&set).await?;
        }
        Ok(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on a Redis 7 server.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"123456789"), 0x31c3 % SLOTS);
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"), "an empty tag is no tag");
    }

    #[test]
    fn cluster_markers_cover_every_window() {
        let markers = cluster_markers("sesame:marker:0a1b");
        assert_eq!(markers.len(), usize::from(WINDOWS));
        let windows: std::collections::BTreeSet<u16> =
            markers.iter().map(|key| slot(key.as_bytes()) / (SLOTS / WINDOWS)).collect();
        assert_eq!(windows.len(), usize::from(WINDOWS));
        assert_eq!(cluster_markers("{one}:marker:0a1b").len(), 1, "a prefix with a hash tag has one slot");
    }

    #[test]
    fn info_fields_are_read_per_line() {
        let info = "# Server\r\nrun_id:abc123\r\n# Stats\r\nevicted_keys:42\r\n";
        assert_eq!(info_field(info, "run_id"), Some("abc123"));
        assert_eq!(info_field(info, "evicted_keys"), Some("42"));
        assert_eq!(info_field(info, "evicted"), None);
    }
}
