//! One behaviour, two databases: every check here runs against a fresh SQLite
//! file and a fresh PostgreSQL database.
//!
//! PostgreSQL comes from `PORTAL_TEST_POSTGRES_URL` (default: the local server
//! as `postgres`). With `PORTAL_REQUIRE_POSTGRES=1` (set by `make test` and CI)
//! an unreachable PostgreSQL fails the run instead of skipping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use app::roles::Role;
use chrono::{Duration, Utc};
use server::store::{
    self, AuditQuery, DatabaseQuery, NewAuditEvent, NewDatabase, NewSession, NewUser, OidcIdentity,
    Outcome, SignInFlow, Store, StoreError, UserQuery,
};
use sqlx::Connection;
use uuid::Uuid;

struct TestStore {
    url: String,
    store: Arc<dyn Store>,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, database: String },
}

impl TestStore {
    async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("portal.db").display());
        TestStore::open(url, Cleanup::Sqlite(dir)).await
    }

    async fn postgres() -> Option<TestStore> {
        let admin_url = std::env::var("PORTAL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let required = std::env::var("PORTAL_REQUIRE_POSTGRES").is_ok_and(|value| value == "1");
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(connection) => connection,
            Err(error) if !required => {
                eprintln!("SKIPPED: PostgreSQL at {admin_url} is unreachable ({error})");
                return None;
            }
            Err(error) => panic!("PostgreSQL is required but unreachable at {admin_url}: {error}"),
        };
        let database = format!("portal_test_{}", Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = match admin_url.rfind('/') {
            Some(slash) => format!("{}/{database}", &admin_url[..slash]),
            None => panic!("PORTAL_TEST_POSTGRES_URL must name a database: {admin_url}"),
        };
        Some(
            TestStore::open(
                url,
                Cleanup::Postgres {
                    admin_url,
                    database,
                },
            )
            .await,
        )
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

    async fn finish(self) {
        drop(self.store);
        if let Cleanup::Postgres {
            admin_url,
            database,
        } = self.cleanup
        {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

/// Runs each named check once on SQLite and once on PostgreSQL.
macro_rules! on_both_stores {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let test = super::TestStore::sqlite().await;
                    super::$check(&test).await;
                    test.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(test) = super::TestStore::postgres().await else { return };
                    super::$check(&test).await;
                    test.finish().await;
                }
            )*
        }
    };
}

on_both_stores!(
    migrating_twice_changes_nothing,
    users_are_found_by_id_and_by_username_in_any_case,
    a_taken_username_is_a_conflict_that_names_it,
    an_sso_identity_belongs_to_one_user,
    user_search_pages_through_every_match_once,
    user_search_treats_wildcards_as_text,
    sessions_are_created_touched_and_ended,
    a_password_hash_is_replaced_for_one_user,
    access_changes_and_active_admins_are_counted,
    ending_a_users_sessions_leaves_others_alone,
    audit_events_come_back_newest_first_with_their_details,
    audit_filters_narrow_the_log,
    audit_pages_cover_the_log_without_gaps_or_overlaps,
    the_audit_log_cannot_be_edited_or_deleted,
    database_names_are_unique_per_owner,
    databases_are_listed_per_owner_or_for_everyone,
    a_database_needs_an_existing_owner,
    an_sso_user_is_found_by_issuer_and_subject_and_kept_up_to_date,
    a_deleted_user_takes_their_sessions_but_not_their_databases,
    a_sign_in_flow_can_be_finished_once,
    changing_a_password_can_keep_the_current_session,
    a_database_create_with_the_same_request_key_creates_one,
    the_engine_finds_unsettled_databases_and_records_steps,
    databases_are_searched_and_filtered_by_status,
);

fn local_user(username: &str, role: Role) -> NewUser {
    NewUser {
        username: username.to_string(),
        display_name: format!("{username} display"),
        email: Some(format!("{username}@example.test")),
        role,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string()),
        oidc_identity: None,
    }
}

fn event(actor: &str, action: &str, target: &str) -> NewAuditEvent {
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

async fn migrating_twice_changes_nothing(test: &TestStore) {
    test.store
        .create_user(local_user("ada", Role::Admin))
        .await
        .unwrap();
    test.store.migrate().await.unwrap();
    test.store.ping().await.unwrap();
    assert_eq!(test.store.count_users().await.unwrap(), 1);
}

async fn users_are_found_by_id_and_by_username_in_any_case(test: &TestStore) {
    let created = test
        .store
        .create_user(local_user("Grace", Role::Developer))
        .await
        .unwrap();
    assert_eq!(created.role, Role::Developer);
    assert!(!created.disabled);
    assert!(created.last_sign_in_at.is_none());

    let by_id = test.store.user_by_id(created.id).await.unwrap();
    assert_eq!(by_id.username, "Grace");
    assert_eq!(by_id.email.as_deref(), Some("Grace@example.test"));

    let by_name = test.store.user_by_username("grace").await.unwrap();
    assert_eq!(by_name.id, created.id);

    assert!(matches!(
        test.store.user_by_username("nobody").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        test.store.user_by_id(Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_taken_username_is_a_conflict_that_names_it(test: &TestStore) {
    test.store
        .create_user(local_user("linus", Role::Customer))
        .await
        .unwrap();
    match test
        .store
        .create_user(local_user("LINUS", Role::Admin))
        .await
    {
        Err(StoreError::Conflict(message)) => assert!(message.contains("LINUS"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(test.store.count_users().await.unwrap(), 1);
}

async fn an_sso_identity_belongs_to_one_user(test: &TestStore) {
    let identity = OidcIdentity {
        issuer: "https://idp.example.test".to_string(),
        subject: "alice".to_string(),
    };
    let mut first = local_user("alice", Role::Customer);
    first.password_hash = None;
    first.oidc_identity = Some(identity.clone());
    let created = test.store.create_user(first).await.unwrap();
    assert_eq!(created.oidc_identity, Some(identity.clone()));
    assert!(created.password_hash.is_none());

    let mut second = local_user("alice2", Role::Customer);
    second.oidc_identity = Some(identity);
    assert!(matches!(
        test.store.create_user(second).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn user_search_pages_through_every_match_once(test: &TestStore) {
    for index in 0..25 {
        test.store
            .create_user(local_user(&format!("team-{index:02}"), Role::Developer))
            .await
            .unwrap();
    }
    test.store
        .create_user(local_user("outsider", Role::Customer))
        .await
        .unwrap();

    let mut seen = Vec::new();
    for page in 0..3 {
        let found = test
            .store
            .list_users(&UserQuery {
                search: Some("TEAM".to_string()),
                limit: 10,
                offset: page * 10,
            })
            .await
            .unwrap();
        assert_eq!(found.total, 25);
        seen.extend(found.items.into_iter().map(|user| user.username));
    }
    let expected: Vec<String> = (0..25).map(|index| format!("team-{index:02}")).collect();
    assert_eq!(seen, expected, "sorted by username, each exactly once");

    let everyone = test
        .store
        .list_users(&UserQuery {
            search: None,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(everyone.total, 26);

    let by_email = test
        .store
        .list_users(&UserQuery {
            search: Some("outsider@example".to_string()),
            limit: 10,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(by_email.total, 1);
}

async fn user_search_treats_wildcards_as_text(test: &TestStore) {
    test.store
        .create_user(local_user("under_score", Role::Developer))
        .await
        .unwrap();
    test.store
        .create_user(local_user("underxscore", Role::Developer))
        .await
        .unwrap();
    let found = test
        .store
        .list_users(&UserQuery {
            search: Some("under_".to_string()),
            limit: 10,
            offset: 0,
        })
        .await
        .unwrap();
    let names: Vec<_> = found
        .items
        .iter()
        .map(|user| user.username.as_str())
        .collect();
    assert_eq!(names, ["under_score"]);

    let percent = test
        .store
        .list_users(&UserQuery {
            search: Some("%".to_string()),
            limit: 10,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(percent.total, 0);
}

async fn access_changes_and_active_admins_are_counted(test: &TestStore) {
    let ada = test
        .store
        .create_user(local_user("ada", Role::Admin))
        .await
        .unwrap();
    test.store
        .create_user(local_user("bob", Role::Admin))
        .await
        .unwrap();
    test.store
        .create_user(local_user("cy", Role::Customer))
        .await
        .unwrap();
    assert_eq!(test.store.count_active_admins().await.unwrap(), 2);
    let ada = test
        .store
        .update_user_access(ada.id, Role::Admin, true)
        .await
        .unwrap();
    assert!(ada.disabled);
    assert_eq!(test.store.count_active_admins().await.unwrap(), 1);
    let ada = test
        .store
        .update_user_access(ada.id, Role::Developer, false)
        .await
        .unwrap();
    assert_eq!((ada.role, ada.disabled), (Role::Developer, false));
    assert!(matches!(
        test.store
            .update_user_access(uuid::Uuid::now_v7(), Role::Admin, false)
            .await,
        Err(server::store::StoreError::NotFound)
    ));
}

async fn a_password_hash_is_replaced_for_one_user(test: &TestStore) {
    let kim = test
        .store
        .create_user(local_user("kim", Role::Developer))
        .await
        .unwrap();
    let lee = test
        .store
        .create_user(local_user("lee", Role::Developer))
        .await
        .unwrap();
    test.store
        .set_password_hash(kim.id, "$argon2id$new")
        .await
        .unwrap();
    assert_eq!(
        test.store
            .user_by_id(kim.id)
            .await
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );
    assert_eq!(
        test.store.user_by_id(lee.id).await.unwrap().password_hash,
        lee.password_hash
    );
    assert!(matches!(
        test.store
            .set_password_hash(uuid::Uuid::now_v7(), "$argon2id$x")
            .await,
        Err(server::store::StoreError::NotFound)
    ));
}

async fn sessions_are_created_touched_and_ended(test: &TestStore) {
    let user = test
        .store
        .create_user(local_user("sam", Role::Customer))
        .await
        .unwrap();
    let now = Utc::now();
    test.store
        .create_session(NewSession {
            token_hash: "hash-1".to_string(),
            user_id: user.id,
            created_at: now,
            expires_at: now + Duration::hours(8),
            client_address: Some("10.0.0.1".to_string()),
            user_agent: Some("test".to_string()),
        })
        .await
        .unwrap();

    let session = test.store.session("hash-1").await.unwrap();
    assert_eq!(session.user_id, user.id);
    assert_eq!(session.last_seen_at, session.created_at);

    let later = now + Duration::minutes(5);
    test.store.touch_session("hash-1", later).await.unwrap();
    let touched = test.store.session("hash-1").await.unwrap();
    assert!(touched.last_seen_at > touched.created_at);

    test.store.delete_session("hash-1").await.unwrap();
    assert!(matches!(
        test.store.session("hash-1").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        test.store.touch_session("hash-1", later).await,
        Err(StoreError::NotFound)
    ));
}

async fn ending_a_users_sessions_leaves_others_alone(test: &TestStore) {
    let kim = test
        .store
        .create_user(local_user("kim", Role::Customer))
        .await
        .unwrap();
    let lee = test
        .store
        .create_user(local_user("lee", Role::Customer))
        .await
        .unwrap();
    let now = Utc::now();
    for (hash, user) in [("k1", kim.id), ("k2", kim.id), ("l1", lee.id)] {
        test.store
            .create_session(NewSession {
                token_hash: hash.to_string(),
                user_id: user,
                created_at: now,
                expires_at: now + Duration::hours(1),
                client_address: None,
                user_agent: None,
            })
            .await
            .unwrap();
    }
    assert_eq!(test.store.delete_sessions_of_user(kim.id).await.unwrap(), 2);
    assert!(test.store.session("k1").await.is_err());
    assert!(test.store.session("l1").await.is_ok());
}

async fn audit_events_come_back_newest_first_with_their_details(test: &TestStore) {
    let first = test
        .store
        .append_audit(event("ada", "user.create", "user:grace"))
        .await
        .unwrap();
    let second = test
        .store
        .append_audit(NewAuditEvent {
            outcome: Outcome::Denied,
            ..event("mallory", "user.delete", "user:ada")
        })
        .await
        .unwrap();
    assert!(second.id > first.id);

    let page = test
        .store
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|event| event.id).collect();
    assert_eq!(ids, [second.id, first.id]);
    assert_eq!(page.items[0].outcome, Outcome::Denied);
    assert_eq!(page.items[1].details["after"]["role"], "developer");
    assert_eq!(page.items[1].client_address.as_deref(), Some("127.0.0.1"));
    assert!(page.next_before_id.is_none());
}

async fn audit_filters_narrow_the_log(test: &TestStore) {
    test.store
        .append_audit(event("ada", "user.create", "user:grace"))
        .await
        .unwrap();
    test.store
        .append_audit(event("ada", "database.create", "database:orders"))
        .await
        .unwrap();
    test.store
        .append_audit(event("grace", "database.create", "database:users_db"))
        .await
        .unwrap();

    let query = |actor: Option<&str>, action: Option<&str>, target: Option<&str>| AuditQuery {
        actor: actor.map(str::to_string),
        action: action.map(str::to_string),
        target_prefix: target.map(str::to_string),
        limit: 50,
        ..Default::default()
    };
    let count = |page: store::AuditPage| page.items.len();
    let by_actor = test.store.list_audit(&query(Some("ada"), None, None)).await;
    assert_eq!(count(by_actor.unwrap()), 2);
    let by_action = test
        .store
        .list_audit(&query(None, Some("database.create"), None))
        .await;
    assert_eq!(count(by_action.unwrap()), 2);
    let by_both = test
        .store
        .list_audit(&query(Some("ada"), Some("database.create"), None))
        .await;
    assert_eq!(count(by_both.unwrap()), 1);
    let by_target = test
        .store
        .list_audit(&query(None, None, Some("database:")))
        .await;
    assert_eq!(count(by_target.unwrap()), 2);
    // `_` in a prefix is a literal underscore, not a wildcard.
    let literal = test
        .store
        .list_audit(&query(None, None, Some("database:users_")))
        .await;
    assert_eq!(count(literal.unwrap()), 1);

    let future = test
        .store
        .list_audit(&AuditQuery {
            since: Some(Utc::now() + Duration::hours(1)),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(future.items.is_empty());
    let past = test
        .store
        .list_audit(&AuditQuery {
            since: Some(Utc::now() - Duration::hours(1)),
            until: Some(Utc::now() + Duration::hours(1)),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(past.items.len(), 3);
}

async fn audit_pages_cover_the_log_without_gaps_or_overlaps(test: &TestStore) {
    let mut appended = Vec::new();
    for index in 0..23 {
        let stored = test
            .store
            .append_audit(event("ada", "thing.touch", &format!("thing:{index}")))
            .await
            .unwrap();
        appended.push(stored.id);
    }
    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = test
            .store
            .list_audit(&AuditQuery {
                before_id: cursor,
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 10);
        read.extend(page.items.iter().map(|event| event.id));
        match page.next_before_id {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    appended.reverse();
    assert_eq!(read, appended);
}

async fn the_audit_log_cannot_be_edited_or_deleted(test: &TestStore) {
    test.store
        .append_audit(event("ada", "user.create", "user:grace"))
        .await
        .unwrap();
    // Straight to the database, past the store: the refusal must come from the schema.
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let update = sqlx::query("UPDATE audit_events SET actor_name = 'someone else'")
        .execute(&mut connection)
        .await;
    let update_error = update.expect_err("an update must be refused").to_string();
    assert!(update_error.contains("append-only"), "{update_error}");
    let delete = sqlx::query("DELETE FROM audit_events")
        .execute(&mut connection)
        .await;
    let delete_error = delete.expect_err("a delete must be refused").to_string();
    assert!(delete_error.contains("append-only"), "{delete_error}");
    let page = test
        .store
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].actor_name, "ada");
}

async fn database_names_are_unique_per_owner(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("olga", Role::Customer))
        .await
        .unwrap();
    let other = test
        .store
        .create_user(local_user("oscar", Role::Customer))
        .await
        .unwrap();
    let orders = |owner_id| NewDatabase {
        owner_id,
        name: "orders".to_string(),
        engine: "cassandra".to_string(),
        tier: "small".to_string(),
        region: "local".to_string(),
        schema_name: "shop".to_string(),
        request_key: None,
    };
    let created = test.store.create_database(orders(owner.id)).await.unwrap();
    assert_eq!(created.status, "PENDING");
    assert_eq!(
        test.store.database(created.id).await.unwrap().name,
        "orders"
    );

    match test.store.create_database(orders(owner.id)).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("orders"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    test.store.create_database(orders(other.id)).await.unwrap();

    // A terminated database stays as history and gives its name back.
    test.store
        .set_database_intent(created.id, "terminated", "small")
        .await
        .unwrap();
    let again = test.store.create_database(orders(owner.id)).await.unwrap();
    assert_ne!(again.id, created.id);
    assert_eq!(
        test.store.database(created.id).await.unwrap().name,
        "orders"
    );
    match test.store.create_database(orders(owner.id)).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("orders"), "{message}"),
        other => panic!("the live one still holds the name, got {other:?}"),
    }
    test.store
        .set_database_intent(again.id, "terminated", "small")
        .await
        .unwrap();
    test.store.create_database(orders(owner.id)).await.unwrap();
    assert_eq!(
        databases_owned_by(test, owner.id).await,
        3,
        "two terminated and one live, all named orders"
    );
}

async fn databases_are_listed_per_owner_or_for_everyone(test: &TestStore) {
    let ann = test
        .store
        .create_user(local_user("ann", Role::Customer))
        .await
        .unwrap();
    let bob = test
        .store
        .create_user(local_user("bob", Role::Customer))
        .await
        .unwrap();
    for (owner, count) in [(ann.id, 7), (bob.id, 3)] {
        for index in 0..count {
            test.store
                .create_database(NewDatabase {
                    owner_id: owner,
                    name: format!("db-{index}"),
                    engine: "postgresql".to_string(),
                    tier: "small".to_string(),
                    region: "local".to_string(),
                    schema_name: "shop".to_string(),
                    request_key: None,
                })
                .await
                .unwrap();
        }
    }
    let anns = test
        .store
        .list_databases(&DatabaseQuery {
            search: None,
            status: None,
            owner_id: Some(ann.id),
            limit: 5,
            offset: 5,
        })
        .await
        .unwrap();
    assert_eq!(anns.total, 7);
    assert_eq!(anns.items.len(), 2);
    assert!(
        anns.items
            .iter()
            .all(|database| database.owner_id == ann.id)
    );

    let everyone = test
        .store
        .list_databases(&DatabaseQuery {
            search: None,
            status: None,
            owner_id: None,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(everyone.total, 10);
    // Newest first.
    assert!(
        everyone
            .items
            .windows(2)
            .all(|pair| pair[0].created_at >= pair[1].created_at)
    );

    // Every filter at once: owner, name and status.
    let query = |owner_id, search: &str, status: &str| DatabaseQuery {
        owner_id,
        search: Some(search.to_string()),
        status: Some(status.to_string()),
        limit: 100,
        offset: 0,
    };
    let found = test
        .store
        .list_databases(&query(Some(ann.id), "db-1", "PENDING"))
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].name, "db-1");
    assert_eq!(found.items[0].owner_id, ann.id);
    let none_active = test
        .store
        .list_databases(&query(Some(bob.id), "db-", "ACTIVE"))
        .await
        .unwrap();
    assert_eq!(none_active.total, 0);
    let all_pending = test
        .store
        .list_databases(&query(None, "db-", "PENDING"))
        .await
        .unwrap();
    assert_eq!(all_pending.total, 10);
    // `_` is a character, not a wildcard.
    let underscore = test
        .store
        .list_databases(&query(None, "db_", "PENDING"))
        .await
        .unwrap();
    assert_eq!(underscore.total, 0);
}

async fn a_database_needs_an_existing_owner(test: &TestStore) {
    let result = test
        .store
        .create_database(NewDatabase {
            owner_id: Uuid::now_v7(),
            name: "orphan".to_string(),
            engine: "cassandra".to_string(),
            tier: "small".to_string(),
            region: "local".to_string(),
            schema_name: "shop".to_string(),
            request_key: None,
        })
        .await;
    assert!(result.is_err(), "a database must belong to a known user");
}

async fn an_sso_user_is_found_by_issuer_and_subject_and_kept_up_to_date(test: &TestStore) {
    let identity = OidcIdentity {
        issuer: "https://idp.example.test".to_string(),
        subject: "sub-42".to_string(),
    };
    let mut new = local_user("maria", Role::Customer);
    new.password_hash = None;
    new.oidc_identity = Some(identity.clone());
    let created = test.store.create_user(new).await.unwrap();
    let found = test.store.user_by_oidc_identity(&identity).await.unwrap();
    assert_eq!(found.id, created.id);
    let other_issuer = OidcIdentity {
        issuer: "https://other.example.test".to_string(),
        subject: "sub-42".to_string(),
    };
    assert!(matches!(
        test.store.user_by_oidc_identity(&other_issuer).await,
        Err(StoreError::NotFound)
    ));
    let updated = test
        .store
        .update_user_profile(created.id, "Maria S.", None, Role::Developer)
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Maria S.");
    assert_eq!(updated.email, None);
    assert_eq!(updated.role, Role::Developer);
    assert!(matches!(
        test.store
            .update_user_profile(Uuid::now_v7(), "x", None, Role::Customer)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn a_deleted_user_takes_their_sessions_but_not_their_databases(test: &TestStore) {
    let gone = test
        .store
        .create_user(local_user("gone", Role::Customer))
        .await
        .unwrap();
    let owner = test
        .store
        .create_user(local_user("owner", Role::Customer))
        .await
        .unwrap();
    let now = Utc::now();
    test.store
        .create_session(NewSession {
            token_hash: "gone-session".to_string(),
            user_id: gone.id,
            created_at: now,
            expires_at: now + Duration::hours(1),
            client_address: None,
            user_agent: None,
        })
        .await
        .unwrap();
    test.store.delete_user(gone.id).await.unwrap();
    assert!(matches!(
        test.store.user_by_id(gone.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        test.store.session("gone-session").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        test.store.delete_user(gone.id).await,
        Err(StoreError::NotFound)
    ));

    test.store
        .create_database(NewDatabase {
            owner_id: owner.id,
            name: "orders".to_string(),
            engine: "postgresql".to_string(),
            tier: "small".to_string(),
            region: "local".to_string(),
            schema_name: "shop".to_string(),
            request_key: None,
        })
        .await
        .unwrap();
    match test.store.delete_user(owner.id).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("databases"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(test.store.user_by_id(owner.id).await.is_ok());
}

async fn a_sign_in_flow_can_be_finished_once(test: &TestStore) {
    let now = Utc::now();
    let flow = |id: &str, created_at| SignInFlow {
        id_hash: id.to_string(),
        provider: "corp".to_string(),
        csrf_state: "state".to_string(),
        nonce: "nonce".to_string(),
        pkce_verifier: "verifier".to_string(),
        next_path: "/apps".to_string(),
        created_at,
    };
    test.store
        .create_sign_in_flow(flow("fresh", now))
        .await
        .unwrap();
    test.store
        .create_sign_in_flow(flow("old", now - Duration::minutes(30)))
        .await
        .unwrap();
    let taken = test.store.take_sign_in_flow("fresh").await.unwrap();
    assert_eq!(
        (taken.provider.as_str(), taken.next_path.as_str()),
        ("corp", "/apps")
    );
    assert_eq!(taken.pkce_verifier, "verifier");
    assert!(matches!(
        test.store.take_sign_in_flow("fresh").await,
        Err(StoreError::NotFound)
    ));
    let forgotten = test
        .store
        .delete_sign_in_flows_before(now - Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(forgotten, 1);
    assert!(matches!(
        test.store.take_sign_in_flow("old").await,
        Err(StoreError::NotFound)
    ));
}

async fn changing_a_password_can_keep_the_current_session(test: &TestStore) {
    let user = test
        .store
        .create_user(local_user("keeper", Role::Developer))
        .await
        .unwrap();
    let now = Utc::now();
    for hash in ["this-browser", "laptop", "phone"] {
        test.store
            .create_session(NewSession {
                token_hash: hash.to_string(),
                user_id: user.id,
                created_at: now,
                expires_at: now + Duration::hours(1),
                client_address: None,
                user_agent: None,
            })
            .await
            .unwrap();
    }
    let ended = test
        .store
        .delete_other_sessions_of_user(user.id, "this-browser")
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert!(test.store.session("this-browser").await.is_ok());
    assert!(test.store.session("phone").await.is_err());
}

/// How many databases, terminated ones included, the owner has.
async fn databases_owned_by(test: &TestStore, owner_id: Uuid) -> u64 {
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

fn new_database(owner_id: Uuid, name: &str, key: Option<&str>) -> NewDatabase {
    NewDatabase {
        owner_id,
        name: name.to_string(),
        engine: "cassandra".to_string(),
        tier: "small".to_string(),
        region: "local".to_string(),
        schema_name: "shop".to_string(),
        request_key: key.map(str::to_string),
    }
}

async fn a_database_create_with_the_same_request_key_creates_one(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("dora", Role::Customer))
        .await
        .unwrap();
    let first = test
        .store
        .create_database(new_database(owner.id, "orders", Some("form-1")))
        .await
        .unwrap();
    let again = test
        .store
        .create_database(new_database(owner.id, "orders", Some("form-1")))
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(
        (first.status.as_str(), first.intent.as_str()),
        ("PENDING", "running")
    );
    assert!(!first.settled && !first.configured);
    assert_eq!(first.schema_name, "shop");
    assert_eq!(databases_owned_by(test, owner.id).await, 1);
    // The same form sent twice at the same moment: one database for both.
    let (one, other) = tokio::join!(
        test.store
            .create_database(new_database(owner.id, "carts", Some("form-3"))),
        test.store
            .create_database(new_database(owner.id, "carts", Some("form-3"))),
    );
    assert_eq!(one.unwrap().id, other.unwrap().id);
    // Another key with the same name is a conflict that names it.
    match test
        .store
        .create_database(new_database(owner.id, "orders", Some("form-2")))
        .await
    {
        Err(StoreError::Conflict(message)) => assert!(message.contains("orders"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn the_engine_finds_unsettled_databases_and_records_steps(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("eve", Role::Customer))
        .await
        .unwrap();
    let database = test
        .store
        .create_database(new_database(owner.id, "events", None))
        .await
        .unwrap();
    let unsettled = test.store.unsettled_databases(10).await.unwrap();
    assert_eq!(
        unsettled.iter().map(|db| db.id).collect::<Vec<_>>(),
        [database.id]
    );

    let step = test
        .store
        .start_step(database.id, "namespace", 1)
        .await
        .unwrap();
    test.store.finish_step(step, "success", None).await.unwrap();
    let failed = test
        .store
        .start_step(database.id, "operator-resource", 2)
        .await
        .unwrap();
    test.store
        .finish_step(failed, "failure", Some("429 Too Many Requests"))
        .await
        .unwrap();
    let steps = test.store.steps(database.id).await.unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (steps[0].step.as_str(), steps[0].outcome.as_str()),
        ("namespace", "success")
    );
    assert!(steps[0].finished_at.is_some());
    assert_eq!(steps[1].attempt, 2);
    assert_eq!(steps[1].message.as_deref(), Some("429 Too Many Requests"));

    test.store
        .update_database_state(
            database.id,
            store::DatabaseState {
                status: "ACTIVE".to_string(),
                message: None,
                settled: true,
                configured: true,
            },
        )
        .await
        .unwrap();
    assert!(test.store.unsettled_databases(10).await.unwrap().is_empty());
    let parked = test
        .store
        .set_database_intent(database.id, "parked", "medium")
        .await
        .unwrap();
    assert_eq!(
        (parked.intent.as_str(), parked.tier.as_str()),
        ("parked", "medium")
    );
    assert!(!parked.settled && parked.configured);
    assert_eq!(test.store.unsettled_databases(10).await.unwrap().len(), 1);
    assert!(matches!(
        test.store
            .set_database_intent(Uuid::now_v7(), "parked", "small")
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn databases_are_searched_and_filtered_by_status(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("fay", Role::Customer))
        .await
        .unwrap();
    for name in ["orders", "order_history", "users"] {
        let name = name.replace('_', "-");
        test.store
            .create_database(new_database(owner.id, &name, None))
            .await
            .unwrap();
    }
    let found = test
        .store
        .list_databases(&DatabaseQuery {
            search: Some("ORDER".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 2);
    let active = test
        .store
        .list_databases(&DatabaseQuery {
            status: Some("ACTIVE".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(active.total, 0);
}

/// A SQLite file from before names were reusable (migration 5 rebuilds the
/// databases table) keeps every database, its timeline and its foreign keys.
#[tokio::test]
async fn upgrading_a_sqlite_file_keeps_databases_and_their_timelines() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    use std::str::FromStr;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let owner = Uuid::now_v7();
    let database = Uuid::now_v7();
    {
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let mut before = sqlx::migrate!("../migrations/sqlite");
        let older: Vec<_> = before
            .migrations
            .iter()
            .filter(|migration| migration.version < 5)
            .cloned()
            .collect();
        before.migrations = std::borrow::Cow::Owned(older);
        before.run(&pool).await.unwrap();
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO users (id, username, display_name, role, created_at, updated_at) \
             VALUES ($1, 'olga', 'Olga', 'customer', $2, $2)",
        )
        .bind(owner)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO databases (id, owner_id, name, engine, tier, region, status, created_at, \
             updated_at, schema_name, intent, settled, deletion_protection, request_key) \
             VALUES ($1, $2, 'orders', 'cassandra', 'small', 'local', 'TERMINATED', $3, $3, \
             'shop', 'terminated', TRUE, TRUE, 'form-1')",
        )
        .bind(database)
        .bind(owner)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO provisioning_steps (database_id, step, attempt, started_at, outcome) \
             VALUES ($1, 'namespace', 1, $2, 'success')",
        )
        .bind(database)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let kept = store.database(database).await.unwrap();
    assert_eq!(
        (
            kept.name.as_str(),
            kept.intent.as_str(),
            kept.status.as_str()
        ),
        ("orders", "terminated", "TERMINATED")
    );
    assert!(kept.deletion_protection && kept.settled);
    assert_eq!(store.steps(database).await.unwrap().len(), 1);
    // Steps still need their database, and new ones follow the old ids.
    let step = store.start_step(database, "namespace", 2).await.unwrap();
    assert!(step > 1, "step ids continue after the kept one: {step}");
    assert!(
        store
            .start_step(Uuid::now_v7(), "namespace", 1)
            .await
            .is_err()
    );
    // The terminated one gave its name back; the request key still counts.
    let again = store
        .create_database(new_database(owner, "orders", None))
        .await
        .unwrap();
    assert_ne!(again.id, database);
    let replay = store
        .create_database(new_database(owner, "other", Some("form-1")))
        .await
        .unwrap();
    assert_eq!(replay.id, database);
    // Foreign keys are on again and point at the rebuilt table.
    assert!(
        store
            .create_database(new_database(Uuid::now_v7(), "orphan", None))
            .await
            .is_err()
    );
    match store.delete_user(owner).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("databases"), "{message}"),
        other => panic!("the user's databases keep them, got {other:?}"),
    }
}
