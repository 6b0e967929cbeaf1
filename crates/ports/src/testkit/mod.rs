//! The contract test kit: one suite that every adapter runs against itself.
//!
//! An adapter crate turns on this crate's `testkit` feature in its
//! dev-dependencies and invokes the macros in an integration test:
//!
//! ```text
//! use std::sync::Arc;
//! use sesame_ports::{ManualClock, SessionStore, UserRepository};
//!
//! sesame_ports::user_repository_contract!(|| async {
//!     Arc::new(MyUsers::new()) as Arc<dyn UserRepository>
//! });
//! sesame_ports::session_store_contract!(|clock: ManualClock| async move {
//!     Arc::new(MySessions::new(Arc::new(clock))) as Arc<dyn SessionStore>
//! });
//! ```
//!
//! A store that is also a tier of a tiered store runs the tier's kit too:
//! [`session_cache_contract!`](crate::session_cache_contract) for a cache,
//! [`durable_session_store_contract!`](crate::durable_session_store_contract)
//! for a durable store. Tests make sessions with [`SessionBuilder`].
//!
//! Each macro expands to one `#[tokio::test]` per contract clause, so a failure
//! names the clause. The closure is called once per test and must return a store
//! of its own (a fresh schema, a unique key prefix), so the tests can run in
//! parallel. The session store must read time from the clock it is handed: the
//! kit moves that clock to test expiry.

pub mod cache;
pub mod durable;
pub mod limits;
pub mod sessions;
pub mod users;

pub use sessions::SessionBuilder;

/// Runs the [`UserRepository`](crate::UserRepository) contract against the
/// repositories that `$make` (an `async` closure taking nothing and returning
/// `Arc<dyn UserRepository>`) builds, one per test.
#[macro_export]
macro_rules! user_repository_contract {
    ($make:expr) => {
        $crate::__contract_tests! {
            mod user_repository_contract;
            |make| $crate::testkit::users::Fixture::new(make().await);
            users {
                create_then_find_by_id_and_email,
                find_of_unknown_user_returns_none,
                email_is_unique_case_insensitively,
                concurrent_creation_of_one_email_has_one_winner,
                delete_removes_the_user_and_frees_the_email,
                update_changes_only_the_given_fields,
                update_to_a_taken_email_is_refused,
                update_of_unknown_user_is_not_found,
                ping_answers,
                export_pages_through_every_user_once,
                import_creates_a_user_as_exported_then_skips_it,
                import_of_a_taken_email_is_refused,
            }
            $make
        }
    };
}

/// Runs the [`RateLimiter`](crate::RateLimiter) contract against the limiters
/// that `$make` (an `async` closure taking nothing and returning
/// `Arc<dyn RateLimiter>`) builds, one per test.
#[macro_export]
macro_rules! rate_limiter_contract {
    ($make:expr) => {
        $crate::__contract_tests! {
            mod rate_limiter_contract;
            |make| $crate::testkit::limits::Fixture::new(make().await);
            limits {
                a_burst_is_allowed_then_events_are_limited,
                keys_are_counted_apart,
                reset_restores_the_full_burst,
                events_are_allowed_again_after_the_wait,
                concurrent_events_never_exceed_the_burst,
            }
            $make
        }
    };
}

/// Runs the [`SessionStore`](crate::SessionStore) contract against the stores
/// that `$make` (an `async` closure taking a [`ManualClock`](crate::ManualClock)
/// and returning `Arc<dyn SessionStore>`) builds, one per test.
#[macro_export]
macro_rules! session_store_contract {
    ($make:expr) => {
        $crate::__contract_tests! {
            mod session_store_contract;
            |make| {
                let clock = $crate::ManualClock::default();
                $crate::testkit::sessions::Fixture::new(make(clock.clone()).await, clock)
            };
            sessions {
                create_then_get,
                get_of_unknown_hash_returns_none,
                touch_extends_the_idle_expiry,
                touch_of_unknown_session_returns_false,
                delete_removes_the_session,
                list_returns_the_users_live_sessions_oldest_first,
                revoke_deletes_one_own_session,
                revoke_of_another_users_session_is_refused,
                revoke_all_ends_every_session_of_one_user_only,
                idle_expiry_ends_an_unused_session,
                absolute_expiry_ends_a_session_however_much_it_is_used,
                expired_session_is_neither_touched_nor_revoked,
                delete_of_an_expired_session_reports_none,
                create_replaces_a_session_with_the_same_hash,
                purge_removes_only_sessions_that_are_not_live,
                ping_answers,
                export_pages_through_every_live_session_once,
                import_creates_a_session_as_exported_then_skips_it,
                import_takes_a_later_use_and_never_an_earlier_one,
                import_skips_an_expired_session,
                import_never_revives_a_session_it_ended,
            }
            $make
        }
    };
}

/// Runs the [`SessionCache`](crate::SessionCache) contract against the caches
/// that `$make` (an `async` closure taking a [`ManualClock`](crate::ManualClock)
/// and returning `Arc<dyn SessionCache>`) builds, one per test.
#[macro_export]
macro_rules! session_cache_contract {
    ($make:expr) => {
        $crate::__contract_tests! {
            mod session_cache_contract;
            |make| {
                let clock = $crate::ManualClock::default();
                $crate::testkit::cache::Fixture::new(make(clock.clone()).await, clock)
            };
            cache {
                put_is_durable_and_create_is_not,
                mark_durable_marks_only_a_live_session,
                fill_stores_only_where_nothing_is,
                end_leaves_a_marker_that_fill_respects,
                end_of_a_session_the_cache_never_held_leaves_a_marker,
                deletions_leave_ended_markers,
                end_by_hash_leaves_a_marker_whatever_the_cache_held,
                an_expired_session_is_missing,
                import_never_revives_an_ended_session,
            }
            $make
        }
    };
}

/// Runs the [`DurableSessionStore`](crate::DurableSessionStore) contract against
/// the stores that `$make` (an `async` closure taking a
/// [`ManualClock`](crate::ManualClock) and returning `Arc<dyn
/// DurableSessionStore>`) builds, one per test.
#[macro_export]
macro_rules! durable_session_store_contract {
    ($make:expr) => {
        $crate::__contract_tests! {
            mod durable_session_store_contract;
            |make| {
                let clock = $crate::ManualClock::default();
                $crate::testkit::durable::Fixture::new(make(clock.clone()).await, clock)
            };
            durable {
                insert_if_absent_stores_once,
                insert_if_absent_never_revives_an_ended_session,
                deletions_leave_sessions_cache_pending_until_cleared,
                ended_since_lists_recent_ends_whether_cleared_or_not,
                ended_records_are_purged_at_their_expiry,
                touch_many_records_uses_and_never_shortens_a_session,
                import_never_revives_an_ended_session,
            }
            $make
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    (
        mod $module:ident;
        |$make:ident| $fixture:expr;
        $kit:ident { $($name:ident),+ $(,)? }
        $make_expr:expr
    ) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $make = $make_expr;
                    $crate::testkit::$kit::$name($fixture).await;
                }
            )+
        }
    };
}
