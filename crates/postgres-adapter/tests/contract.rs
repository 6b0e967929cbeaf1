//! The ports' contract kit, run against PostgreSQL: each test in a schema of its own.
//!
//! Needs a PostgreSQL server: `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Without one these tests fail, naming
//! the variable; they never pass by skipping.

use std::sync::Arc;

use secrecy::SecretString;
use sesame_ports::UserRepository;
use sesame_postgres::{PostgresSettings, PostgresUserRepository};

fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn fresh_repository() -> Arc<dyn UserRepository> {
    let mut settings = PostgresSettings::new(SecretString::from(test_database_url()));
    settings.schema = Some(format!("sesame_test_{}", uuid::Uuid::new_v4().simple()));
    let repo = PostgresUserRepository::connect(&settings).await.unwrap_or_else(|err| {
        panic!("PostgreSQL is needed: {err}. Start it, or set TEST_DATABASE_URL to a server that runs.")
    });
    repo.migrate().await.expect("migrations");
    Arc::new(repo)
}

sesame_ports::user_repository_contract!(fresh_repository);

#[tokio::test]
async fn a_statement_over_the_statement_timeout_is_cancelled() {
    let mut settings = PostgresSettings::new(SecretString::from(test_database_url()));
    settings.statement_timeout = std::time::Duration::from_millis(100);
    let repo = PostgresUserRepository::connect(&settings)
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL is needed (TEST_DATABASE_URL): {err}"));
    let err = sqlx::query("SELECT pg_sleep(2)").execute(repo.pool()).await.expect_err("cancelled");
    assert!(err.to_string().contains("statement timeout"), "{err}");
    repo.ping().await.expect("the pool still answers");
}
