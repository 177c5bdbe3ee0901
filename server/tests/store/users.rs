//! Users: local and single-sign-on accounts, search, roles, deletion.

use super::*;

on_both_stores!(
    users_are_found_by_id_and_by_username_in_any_case,
    a_taken_username_is_a_conflict_that_names_it,
    an_sso_identity_belongs_to_one_user,
    user_search_pages_through_every_match_once,
    user_search_treats_wildcards_as_text,
    access_changes_and_active_admins_are_counted,
    a_password_hash_is_replaced_for_one_user,
    an_sso_user_is_found_by_issuer_and_subject_and_kept_up_to_date,
    a_deleted_user_takes_their_sessions_but_not_their_databases,
    the_last_admin_stays_even_when_two_admins_are_demoted_at_once,
    an_access_change_ends_sessions_and_is_audited_with_it,
    a_sign_in_is_recorded_on_its_user_only,
);

async fn a_sign_in_is_recorded_on_its_user_only(test: &TestStore) {
    let ada = test
        .store
        .create_user(local_user("ada", Role::Customer))
        .await
        .unwrap();
    let bea = test
        .store
        .create_user(local_user("bea", Role::Customer))
        .await
        .unwrap();
    assert_eq!(ada.last_sign_in_at, None);
    // Microseconds: what both databases keep.
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T08:30:15.123456Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    test.store.record_sign_in(ada.id, at).await.unwrap();
    let later = at + chrono::Duration::minutes(5);
    test.store.record_sign_in(ada.id, later).await.unwrap();
    assert_eq!(
        test.store.user_by_id(ada.id).await.unwrap().last_sign_in_at,
        Some(later),
        "the newest sign-in"
    );
    assert_eq!(
        test.store.user_by_id(bea.id).await.unwrap().last_sign_in_at,
        None
    );
}

/// The interleaving the service's check-then-write got wrong: another
/// change, under way and not committed, has demoted the only other admin.
/// The store's change must wait for it, then see it and refuse.
async fn the_last_admin_stays_even_when_two_admins_are_demoted_at_once(test: &TestStore) {
    use sqlx::Connection as _;
    let ada = test
        .store
        .create_user(local_user("ada", Role::Admin))
        .await
        .unwrap();
    test.store
        .create_user(local_user("bea", Role::Admin))
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let mut other = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let mut in_flight = other.begin().await.unwrap();
    for sql in [
        "UPDATE store_locks SET name = name WHERE name = 'admins'",
        "UPDATE users SET role = 'developer' WHERE username = 'bea'",
    ] {
        sqlx::query(sql).execute(&mut *in_flight).await.unwrap();
    }
    let store = test.store.clone();
    let mut racing = tokio::spawn(async move {
        store
            .update_user_access(ada.id, Role::Developer, false, None)
            .await
            .map(|change| change.user.role)
    });
    let early = tokio::time::timeout(std::time::Duration::from_millis(500), &mut racing).await;
    assert!(early.is_err(), "the change did not wait: {early:?}");
    in_flight.commit().await.unwrap();
    let answer = racing.await.unwrap();
    assert!(
        matches!(&answer, Err(StoreError::LastAdmin(name)) if name == "ada"),
        "{answer:?}"
    );
    assert_eq!(test.store.count_active_admins().await.unwrap(), 1);
    // Nor deleted, nor demoted by single sign-on, nor disabled.
    assert!(matches!(
        test.store.delete_user(ada.id, None).await,
        Err(StoreError::LastAdmin(_))
    ));
    assert!(matches!(
        test.store
            .update_user_profile(ada.id, "Ada", None, Role::Customer, None)
            .await,
        Err(StoreError::LastAdmin(_))
    ));
    assert!(matches!(
        test.store
            .update_user_access(ada.id, Role::Admin, true, None)
            .await,
        Err(StoreError::LastAdmin(_))
    ));
    assert_eq!(
        test.store.user_by_id(ada.id).await.unwrap().role,
        Role::Admin
    );
}

async fn an_access_change_ends_sessions_and_is_audited_with_it(test: &TestStore) {
    let root = test
        .store
        .create_user(local_user("root", Role::Admin))
        .await
        .unwrap();
    let dev = test
        .store
        .create_user(local_user("dev", Role::Developer))
        .await
        .unwrap();
    for token in ["one", "two"] {
        test.store
            .create_session(NewSession {
                token_hash: token.to_string(),
                user_id: dev.id,
                created_at: Utc::now(),
                expires_at: Utc::now() + Duration::hours(1),
                client_address: None,
                user_agent: None,
            })
            .await
            .unwrap();
    }
    let change = test
        .store
        .update_user_access(
            dev.id,
            Role::Customer,
            false,
            Some(&event("root", "user.update_access", "user:dev")),
        )
        .await
        .unwrap();
    assert_eq!(
        (change.user.role, change.sessions_ended),
        (Role::Customer, 2)
    );
    let events = test
        .store
        .list_audit(&AuditQuery {
            target: Some("user:dev".to_string()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details["sessions_ended"], 2);
    // Refused: no event. (The last admin cannot disable themselves.)
    let refused = test
        .store
        .update_user_access(
            root.id,
            Role::Admin,
            true,
            Some(&event("root", "user.update_access", "user:root")),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::LastAdmin(_))),
        "{refused:?}"
    );
    let root_events = test
        .store
        .list_audit(&AuditQuery {
            target: Some("user:root".to_string()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert!(root_events.is_empty());
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
        .update_user_access(ada.id, Role::Admin, true, None)
        .await
        .unwrap()
        .user;
    assert!(ada.disabled);
    assert_eq!(test.store.count_active_admins().await.unwrap(), 1);
    let ada = test
        .store
        .update_user_access(ada.id, Role::Developer, false, None)
        .await
        .unwrap()
        .user;
    assert_eq!((ada.role, ada.disabled), (Role::Developer, false));
    assert!(matches!(
        test.store
            .update_user_access(uuid::Uuid::now_v7(), Role::Admin, false, None)
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
    assert!(!kim.must_change_password);
    test.store
        .set_password_hash(kim.id, "$argon2id$temporary", true)
        .await
        .unwrap();
    assert!(
        test.store
            .user_by_id(kim.id)
            .await
            .unwrap()
            .must_change_password
    );
    test.store
        .set_password_hash(kim.id, "$argon2id$new", false)
        .await
        .unwrap();
    assert!(
        !test
            .store
            .user_by_id(kim.id)
            .await
            .unwrap()
            .must_change_password
    );
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
            .set_password_hash(uuid::Uuid::now_v7(), "$argon2id$x", false)
            .await,
        Err(server::store::StoreError::NotFound)
    ));
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
        .update_user_profile(created.id, "Maria S.", None, Role::Developer, None)
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Maria S.");
    assert_eq!(updated.email, None);
    assert_eq!(updated.role, Role::Developer);
    assert!(matches!(
        test.store
            .update_user_profile(Uuid::now_v7(), "x", None, Role::Customer, None)
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
    test.store.delete_user(gone.id, None).await.unwrap();
    assert!(matches!(
        test.store.user_by_id(gone.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        test.store.session("gone-session").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        test.store.delete_user(gone.id, None).await,
        Err(StoreError::NotFound)
    ));

    test.store
        .create_database(NewDatabase {
            id: uuid::Uuid::now_v7(),
            owner_id: owner.id,
            name: "orders".to_string(),
            engine: Engine::Postgresql,
            tier: small(),
            region: "local".to_string(),
            schema_name: "shop".to_string(),
            request_key: None,
            audit: None,
        })
        .await
        .unwrap();
    match test.store.delete_user(owner.id, None).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("databases"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(test.store.user_by_id(owner.id).await.is_ok());
}
