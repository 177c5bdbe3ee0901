//! Sessions and single-sign-on flows.

use super::*;

on_both_stores!(
    sessions_are_created_touched_and_ended,
    a_session_is_read_with_its_user,
    ending_a_users_sessions_leaves_others_alone,
    a_sign_in_flow_can_be_finished_once,
    changing_a_password_can_keep_the_current_session,
    ended_sessions_are_forgotten_and_living_ones_kept,
);

async fn ended_sessions_are_forgotten_and_living_ones_kept(test: &TestStore) {
    let user = test
        .store
        .create_user(local_user("ned", Role::Customer))
        .await
        .unwrap();
    let now = Utc::now();
    // (name, began, last seen, expires)
    let sessions = [
        (
            "living",
            now - Duration::hours(1),
            now - Duration::minutes(1),
            now + Duration::hours(7),
        ),
        (
            "expired",
            now - Duration::hours(9),
            now - Duration::minutes(1),
            now - Duration::hours(1),
        ),
        (
            "idle",
            now - Duration::hours(2),
            now - Duration::hours(1),
            now + Duration::hours(6),
        ),
        (
            "too old",
            now - Duration::hours(30),
            now - Duration::minutes(2),
            now + Duration::hours(6),
        ),
    ];
    for (name, began, seen, expires) in sessions {
        test.store
            .create_session(NewSession {
                token_hash: name.to_string(),
                user_id: user.id,
                created_at: began,
                expires_at: expires,
                client_address: None,
                user_agent: None,
            })
            .await
            .unwrap();
        test.store.touch_session(name, seen).await.unwrap();
    }
    let forgotten = test
        .store
        .delete_ended_sessions(now, now - Duration::minutes(30), now - Duration::hours(24))
        .await
        .unwrap();
    assert_eq!(forgotten, 3);
    assert!(test.store.session("living").await.is_ok());
    for ended in ["expired", "idle", "too old"] {
        assert!(
            matches!(test.store.session(ended).await, Err(StoreError::NotFound)),
            "{ended}"
        );
    }
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
    assert_eq!(
        test.store
            .delete_sessions_of_user(kim.id, None)
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        test.store.session("k1").await,
        Err(StoreError::NotFound)
    ));
    assert!(test.store.session("l1").await.is_ok());
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
        .replace_password(user.id, "new-hash", false, Some("this-browser"), None)
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert!(test.store.session("this-browser").await.is_ok());
    assert!(matches!(
        test.store.session("phone").await,
        Err(StoreError::NotFound)
    ));
}

async fn a_session_is_read_with_its_user(test: &TestStore) {
    let user = test
        .store
        .create_user(local_user("robin", Role::Developer))
        .await
        .unwrap();
    let now = Utc::now();
    test.store
        .create_session(NewSession {
            token_hash: "hash-robin".to_string(),
            user_id: user.id,
            created_at: now,
            expires_at: now + Duration::hours(8),
            client_address: Some("10.0.0.7".to_string()),
            user_agent: Some("browser".to_string()),
        })
        .await
        .unwrap();

    let (session, found) = test.store.session_with_user("hash-robin").await.unwrap();
    let alone = test.store.session("hash-robin").await.unwrap();
    assert_eq!(session.token_hash, "hash-robin");
    assert_eq!(session.user_id, user.id);
    assert_eq!(session.created_at, alone.created_at);
    assert_eq!(session.last_seen_at, alone.last_seen_at);
    assert_eq!(session.expires_at, alone.expires_at);
    assert_eq!(session.client_address.as_deref(), Some("10.0.0.7"));
    assert_eq!(session.user_agent.as_deref(), Some("browser"));
    assert_eq!(found.id, user.id);
    assert_eq!(found.username, "robin");
    assert_eq!(found.display_name, "robin display");
    assert_eq!(found.email.as_deref(), Some("robin@example.test"));
    assert_eq!(found.role, Role::Developer);
    assert!(found.password_hash.is_some());
    assert!(!found.disabled);

    assert!(matches!(
        test.store.session_with_user("no-such-hash").await,
        Err(StoreError::NotFound)
    ));
}
