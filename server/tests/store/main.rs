//! One behaviour, two databases: every check here runs against a fresh SQLite
//! file and a fresh PostgreSQL database, one file per domain of the store.
//!
//! PostgreSQL comes from `PORTAL_TEST_POSTGRES_URL` (default: the local server
//! as `postgres`). With `PORTAL_REQUIRE_POSTGRES=1` (set by `make test` and CI)
//! an unreachable PostgreSQL fails the run instead of skipping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use app::databases::{Engine, Intent, Status};
use app::roles::Role;
use chrono::{Duration, Utc};
use server::store::{
    self, AuditQuery, DatabaseQuery, DesiredChange, EngineReport, Fence, NewAuditEvent,
    NewDatabase, NewSession, NewUser, OidcIdentity, Outcome, Reported, SignInFlow, Store,
    StoreError, UserQuery,
};
use sqlx::Connection;
use uuid::Uuid;

pub(crate) struct TestStore {
    url: String,
    store: Arc<dyn Store>,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// Drops the database when dropped.
    Postgres(#[allow(dead_code)] support::PostgresGuard),
}

impl TestStore {
    async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("portal.db").display());
        TestStore::open(url, Cleanup::Sqlite(dir)).await
    }

    async fn postgres() -> Option<TestStore> {
        let (store, guard) = support::postgres().await?;
        Some(TestStore {
            url: guard.url.clone(),
            store,
            cleanup: Cleanup::Postgres(guard),
        })
    }

    async fn open(url: String, cleanup: Cleanup) -> TestStore {
        let store = store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        TestStore {
            url,
            store,
            cleanup,
        }
    }

    /// One statement straight to the database, past the store (to make a
    /// row the store would never write).
    async fn execute(&self, sql: &str) {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        sqlx::query(sql).execute(&mut connection).await.unwrap();
    }

    async fn finish(self) {
        // The pool first, then the database (the guard, in `cleanup`).
        drop(self.store);
        drop(self.cleanup);
    }
}

/// Runs each named check once on SQLite and once on PostgreSQL.
macro_rules! on_both_stores {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let test = crate::TestStore::sqlite().await;
                    super::$check(&test).await;
                    test.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(test) = crate::TestStore::postgres().await else { return };
                    super::$check(&test).await;
                    test.finish().await;
                }
            )*
        }
    };
}

#[path = "../support/mod.rs"]
mod support;

mod apps;
mod audit;
mod database_changes;
mod database_engine;
mod databases;
mod deploys;
mod quotas;
mod secrets;
mod sessions;
mod users;

on_both_stores!(migrating_twice_changes_nothing);

pub(crate) fn local_user(username: &str, role: Role) -> NewUser {
    NewUser {
        username: username.to_string(),
        display_name: format!("{username} display"),
        email: Some(format!("{username}@example.test")),
        role,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string()),
        oidc_identity: None,
        audit: None,
    }
}

pub(crate) fn event(actor: &str, action: &str, target: &str) -> NewAuditEvent {
    NewAuditEvent {
        actor_id: None,
        actor_name: actor.to_string(),
        client_address: Some("127.0.0.1".to_string()),
        action: action.to_string(),
        target: target.to_string(),
        outcome: Outcome::Success,
        details: serde_json::json!({ "after": { "role": "developer" } }),
    }
}

/// How many databases, terminated ones included, the owner has.
pub(crate) async fn databases_owned_by(test: &TestStore, owner_id: Uuid) -> u64 {
    test.store
        .list_databases(&DatabaseQuery {
            owner_id: Some(owner_id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .total
}

pub(crate) fn small() -> app::databases::Tier {
    *app::databases::tier("small").unwrap()
}

pub(crate) fn new_database(owner_id: Uuid, name: &str, key: Option<&str>) -> NewDatabase {
    NewDatabase {
        id: Uuid::now_v7(),
        owner_id,
        name: name.to_string(),
        engine: Engine::Cassandra,
        tier: small(),
        region: "local".to_string(),
        schema_name: "shop".to_string(),
        request_key: key.map(str::to_string),
        audit: None,
    }
}

async fn migrating_twice_changes_nothing(test: &TestStore) {
    test.store
        .create_user(local_user("ada", Role::Admin))
        .await
        .unwrap();
    test.store.migrate().await.unwrap();
    test.store.ping().await.unwrap();
    assert_eq!(test.store.count_users().await.unwrap(), 1);
}
