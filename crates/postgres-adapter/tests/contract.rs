//! The ports' contract kit, run against PostgreSQL: each test in a schema of its own.
//!
//! Needs a PostgreSQL server: `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Without one these tests fail, naming
//! the variable; they never pass by skipping.

use std::sync::Arc;

use secrecy::SecretString;
use sesame_ports::{Clock, DurableSessionStore, ManualClock, SessionStore, UserRepository};
use sesame_postgres::{Database, PostgresSessionStore, PostgresSettings, PostgresUserRepository};

fn test_database_url() -> String {
    sesame_testbed::test_database_url()
}

/// A migrated database in a schema of its own, and the schema's name.
async fn fresh_database() -> (Database, String) {
    Database::migrated_for_test(&test_database_url()).await
}

async fn fresh_sessions(clock: ManualClock) -> Arc<PostgresSessionStore> {
    Arc::new(PostgresSessionStore::new(&fresh_database().await.0, Arc::new(clock)))
}

sesame_ports::user_repository_contract!(|| async {
    Arc::new(PostgresUserRepository::new(&fresh_database().await.0)) as Arc<dyn UserRepository>
});
sesame_ports::session_store_contract!(|clock| async { fresh_sessions(clock).await as Arc<dyn SessionStore> });
sesame_ports::durable_session_store_contract!(|clock| async {
    fresh_sessions(clock).await as Arc<dyn DurableSessionStore>
});

#[tokio::test]
async fn a_corrupt_session_row_is_deleted_and_treated_as_absent() {
    let (database, schema) = fresh_database().await;
    let clock = ManualClock::default();
    let store = Arc::new(PostgresSessionStore::new(&database, Arc::new(clock.clone())));
    let fixture = sesame_ports::testkit::sessions::Fixture::new(store, clock);
    let pool = database.pool().clone();
    sesame_ports::testkit::sessions::a_corrupt_record_is_deleted_and_treated_as_absent(fixture, |hash| async move {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {schema}.sessions SET ip = 'not an ip' WHERE token_hash = $1"
        )))
        .bind(&hash.as_bytes()[..])
        .execute(&pool)
        .await
        .unwrap();
    })
    .await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(database.pool()).await.unwrap();
    assert_eq!(left, 1, "the corrupt row was deleted; the other session's row stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_purging_at_once_take_disjoint_batches_and_purge_everything() {
    let (database, _) = fresh_database().await;
    let clock = ManualClock::default();
    let store = Arc::new(PostgresSessionStore::new(&database, Arc::new(clock.clone())));
    let live = sesame_ports::testkit::SessionBuilder::opened_at(clock.now()).absolute_after(time::Duration::days(1));
    let live = live.idle_for(time::Duration::days(1)).build();
    store.create(&live).await.unwrap();
    for _ in 0..600 {
        store.create(&sesame_ports::testkit::SessionBuilder::opened_at(clock.now()).build()).await.unwrap();
    }
    clock.advance(time::Duration::hours(13));

    let purger = |store: Arc<PostgresSessionStore>| async move {
        let mut purged = 0;
        loop {
            let batch = store.purge_expired(50).await.expect("no purge fails or waits on the other's locks");
            purged += batch;
            if batch < 50 {
                return purged;
            }
        }
    };
    let (first, second) =
        tokio::join!(tokio::spawn(purger(Arc::clone(&store))), tokio::spawn(purger(Arc::clone(&store))));
    assert_eq!(first.unwrap() + second.unwrap(), 600, "every expired row purged exactly once");
    assert_eq!(store.get(&live.token_hash).await.unwrap(), Some(live), "the live session stays");
}

#[tokio::test]
async fn a_statement_over_the_statement_timeout_is_cancelled() {
    let mut settings = PostgresSettings::for_test(SecretString::from(test_database_url()));
    settings.statement_timeout = std::time::Duration::from_millis(100);
    let database = Database::connect(&settings)
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL is needed (TEST_DATABASE_URL): {err}"));
    let err = sqlx::query("SELECT pg_sleep(2)").execute(database.pool()).await.expect_err("cancelled");
    assert!(err.to_string().contains("statement timeout"), "{err}");
    sqlx::query("SELECT 1").execute(database.pool()).await.expect("the pool still answers");
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_named_as_the_cause() {
    let url = test_database_url();
    let missing = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/sesame_no_such_database"),
        None => panic!("TEST_DATABASE_URL has no database part: {url}"),
    };
    let err =
        Database::connect(&PostgresSettings::for_test(SecretString::from(missing))).await.unwrap_err().to_string();
    assert!(err.contains("\"sesame_no_such_database\" does not exist"), "the cause is named: {err}");
}
