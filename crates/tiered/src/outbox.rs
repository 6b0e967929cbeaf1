//! What the tiered store owes its durable tier: session uses to record (written
//! behind, in batches, at most one per session per flush) and ends that could
//! not be written while the durable tier was down. Bounded; drained by the
//! store's upkeep.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
};

use sesame_ports::{SessionTokenHash, Touch};

/// The queues, shared by every request of one instance.
#[derive(Debug)]
pub(crate) struct Outbox {
    capacity: usize,
    queues: Mutex<Queues>,
    /// How many ends wait, readable without the lock: every request asks
    /// whether its session's end waits, and almost always none does.
    ends_waiting: AtomicUsize,
}

#[derive(Debug, Default)]
struct Queues {
    /// The latest use of each session not yet written.
    touches: HashMap<SessionTokenHash, Touch>,
    /// Sessions ended in the cache whose durable record still has to end.
    ends: HashSet<SessionTokenHash>,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` touches and as many ends.
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, queues: Mutex::new(Queues::default()), ends_waiting: AtomicUsize::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a use; a later use of the same session replaces it. Returns
    /// `false` when the outbox is full and the use was dropped.
    pub(crate) fn touch(&self, touch: Touch) -> bool {
        let mut queues = self.lock();
        if queues.touches.len() >= self.capacity && !queues.touches.contains_key(&touch.token_hash) {
            return false;
        }
        queues.touches.insert(touch.token_hash, touch);
        true
    }

    /// Takes up to `limit` queued uses.
    pub(crate) fn take_touches(&self, limit: usize) -> Vec<Touch> {
        let mut queues = self.lock();
        let hashes: Vec<SessionTokenHash> = queues.touches.keys().take(limit).copied().collect();
        hashes.iter().filter_map(|hash| queues.touches.remove(hash)).collect()
    }

    /// Puts back uses whose write failed, unless a later use of the same
    /// session was queued meanwhile.
    pub(crate) fn restore_touches(&self, touches: Vec<Touch>) {
        let mut queues = self.lock();
        for touch in touches {
            queues.touches.entry(touch.token_hash).or_insert(touch);
        }
    }

    /// Queues the end of a session's durable record. Returns `false` when the
    /// outbox is full.
    pub(crate) fn end(&self, token_hash: SessionTokenHash) -> bool {
        let mut queues = self.lock();
        if queues.ends.len() >= self.capacity {
            return false;
        }
        queues.ends.insert(token_hash);
        self.ends_waiting.store(queues.ends.len(), Ordering::Release);
        true
    }

    /// Whether the session's durable record is waiting to be ended: it must not
    /// be read back from the durable tier meanwhile.
    pub(crate) fn is_ending(&self, token_hash: &SessionTokenHash) -> bool {
        self.ends_waiting.load(Ordering::Acquire) > 0 && self.lock().ends.contains(token_hash)
    }

    /// The sessions waiting to be ended.
    pub(crate) fn ends(&self) -> Vec<SessionTokenHash> {
        self.lock().ends.iter().copied().collect()
    }

    /// Takes a session off the ends to write.
    pub(crate) fn ended(&self, token_hash: &SessionTokenHash) {
        let mut queues = self.lock();
        queues.ends.remove(token_hash);
        self.ends_waiting.store(queues.ends.len(), Ordering::Release);
    }

    /// How many touches and ends wait.
    pub(crate) fn depth(&self) -> (usize, usize) {
        let queues = self.lock();
        (queues.touches.len(), queues.ends.len())
    }
}

#[cfg(test)]
mod tests {
    use time::{Duration, macros::datetime};

    use super::*;

    fn touch(byte: u8, minutes: i64) -> Touch {
        let at = datetime!(2026-01-01 0:00 UTC) + Duration::minutes(minutes);
        Touch {
            token_hash: SessionTokenHash::from_bytes([byte; 32]),
            last_seen_at: at,
            idle_expires_at: at + Duration::minutes(30),
        }
    }

    #[test]
    fn uses_of_one_session_coalesce_and_a_full_outbox_drops_new_sessions() {
        let outbox = Outbox::new(2);
        assert!(outbox.touch(touch(1, 0)));
        assert!(outbox.touch(touch(1, 1)), "a later use of a queued session always fits");
        assert!(outbox.touch(touch(2, 0)));
        assert!(!outbox.touch(touch(3, 0)), "full");
        let taken = outbox.take_touches(10);
        assert_eq!(taken.len(), 2);
        assert!(taken.contains(&touch(1, 1)), "the latest use of session 1 is kept");
    }

    #[test]
    fn a_failed_write_is_put_back_without_overwriting_a_later_use() {
        let outbox = Outbox::new(10);
        outbox.touch(touch(1, 0));
        let taken = outbox.take_touches(10);
        outbox.touch(touch(1, 5));
        outbox.restore_touches(taken);
        assert_eq!(outbox.take_touches(10), vec![touch(1, 5)]);
    }

    #[test]
    fn ends_are_remembered_until_written() {
        let outbox = Outbox::new(1);
        let hash = SessionTokenHash::from_bytes([7; 32]);
        assert!(!outbox.is_ending(&hash));
        assert!(outbox.end(hash));
        assert!(!outbox.end(SessionTokenHash::from_bytes([8; 32])), "full");
        assert!(outbox.is_ending(&hash));
        assert_eq!(outbox.ends(), vec![hash]);
        outbox.ended(&hash);
        assert!(!outbox.is_ending(&hash));
        assert_eq!(outbox.depth(), (0, 0));
    }
}
