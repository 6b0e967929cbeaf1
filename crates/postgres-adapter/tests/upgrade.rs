//! Rolling upgrades: migrations run before the new code, so the code of one
//! version must keep working on the schema of the next. Every migration is
//! checked to only add (no drop, rename, type change or new constraint on
//! existing rows); and the one migration that changed a table the running code
//! writes (`disable_users`) is replayed: the statements of the version before
//! it keep working once it is applied.
//!
//! Needs PostgreSQL at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); fails, naming the variable,
//! when none answers there.

use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// What a migration may not do once a version ran on the schema before it:
/// each would break that version while it still serves during the rollout.
const CONTRACTING: [&str; 7] =
    ["DROP ", "RENAME ", "ALTER COLUMN", "SET NOT NULL", "TRUNCATE", "DELETE FROM", "UPDATE "];

/// The migrations, oldest first: (file name, SQL without comments).
fn migrations() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(MIGRATIONS)
        .expect("the migrations directory")
        .map(|entry| entry.expect("a migration").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let sql = std::fs::read_to_string(&path).expect("a readable migration");
            let code: Vec<&str> = sql.lines().map(|line| line.split("--").next().unwrap_or("")).collect();
            (path.file_name().unwrap().to_string_lossy().into_owned(), code.join("\n").to_uppercase())
        })
        .collect()
}

#[test]
fn every_migration_only_adds() {
    let migrations = migrations();
    assert!(migrations.len() >= 3, "found {migrations:?}");
    for (name, sql) in &migrations {
        for word in CONTRACTING {
            assert!(
                !sql.contains(word),
                "{name} contains {word:?}: split it into an expanding step now and a contracting one a release later"
            );
        }
        for added in sql.split("ADD COLUMN").skip(1) {
            let column = added.split(';').next().unwrap_or_default();
            assert!(
                !column.contains("NOT NULL") || column.contains("DEFAULT"),
                "{name}: a NOT NULL column added without a DEFAULT breaks the previous version's inserts: {column}"
            );
        }
    }
}

#[tokio::test]
async fn the_version_before_disable_users_keeps_working_once_it_is_applied() {
    let url = sesame_testbed::test_database_url();
    let mut db = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL is needed: {err}. Start it, or set TEST_DATABASE_URL."));
    // `sesame_test_…`: `cargo xtask test` drops what a failed run leaves.
    let schema = format!("sesame_test_upgrade_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}; SET search_path TO {schema}")))
        .execute(&mut db)
        .await
        .unwrap();
    let source = |name: &str| std::fs::read_to_string(format!("{MIGRATIONS}/{name}")).expect(name);
    for before in ["20261127000001_create_users.sql", "20261130000001_create_sessions.sql"] {
        sqlx::raw_sql(AssertSqlSafe(source(before))).execute(&mut db).await.unwrap();
    }
    // The previous version's statements (crates/postgres-adapter/src/users.rs before the migration).
    let previous_insert =
        "INSERT INTO users (id, email, password_hash, is_verified, created_at) VALUES ($1, $2, $3, false, now())";
    let previous_select =
        "SELECT id, email, password_hash, is_verified, created_at FROM users WHERE lower(email) = lower($1)";
    let old_user = uuid::Uuid::new_v4();
    sqlx::query(previous_insert)
        .bind(old_user)
        .bind("old@example.com")
        .bind("$argon2id$x")
        .execute(&mut db)
        .await
        .unwrap();

    sqlx::raw_sql(AssertSqlSafe(source("20261130000002_disable_users.sql")))
        .execute(&mut db)
        .await
        .expect("the new migration");

    let during_rollout = uuid::Uuid::new_v4();
    sqlx::query(previous_insert)
        .bind(during_rollout)
        .bind("during@example.com")
        .bind("$argon2id$y")
        .execute(&mut db)
        .await
        .expect("the previous version still registers users");
    let row: (uuid::Uuid, String, String, bool) =
        sqlx::query_as("SELECT id, email, password_hash, is_verified FROM users WHERE lower(email) = lower($1)")
            .bind("during@example.com")
            .fetch_one(&mut db)
            .await
            .expect("and reads them");
    assert_eq!(row.0, during_rollout);
    sqlx::query(previous_select).bind("old@example.com").fetch_one(&mut db).await.expect("its own select works");
    let disabled: Vec<bool> =
        sqlx::query_scalar("SELECT is_disabled FROM users ORDER BY email").fetch_all(&mut db).await.unwrap();
    assert_eq!(disabled, [false, false], "users the previous version wrote are enabled in the new one");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut db).await.unwrap();
}
