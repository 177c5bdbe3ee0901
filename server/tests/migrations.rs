//! Replicas that start together migrate one at a time, and readiness
//! (`/readyz`, `Store::ping`) holds a replica back until the database has
//! every migration its binary knows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use sqlx::Connection as _;

mod support;

#[tokio::test(flavor = "multi_thread")]
async fn replicas_starting_together_both_migrate_without_error() {
    let Some(database) = support::empty_postgres().await else {
        return;
    };
    let url = database.url.clone();
    let replicas = [
        server::store::connect(&url).await.unwrap(),
        server::store::connect(&url).await.unwrap(),
        server::store::connect(&url).await.unwrap(),
    ];
    let (a, b, c) = tokio::join!(
        replicas[0].migrate(),
        replicas[1].migrate(),
        replicas[2].migrate()
    );
    for (replica, migrated) in [a, b, c].into_iter().enumerate() {
        migrated.unwrap_or_else(|error| panic!("replica {replica}: {error}"));
    }
    for replica in &replicas {
        replica.ping().await.unwrap();
    }
}

#[tokio::test]
async fn a_database_behind_the_binary_is_not_ready() {
    // Migrated: ready (on the store of this run, SQLite or PostgreSQL).
    let (migrated, _guard) = support::store().await;
    migrated.ping().await.unwrap();
    let (store, dir) = support::sqlite().await;
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    let refused = store.ping().await.unwrap_err();
    assert!(
        matches!(refused, server::store::StoreError::Behind { applied, needed } if applied + 1 == needed),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("this portal needs"),
        "{refused}"
    );
}
