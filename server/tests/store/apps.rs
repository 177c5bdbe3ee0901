//! Apps: registration, listing, settings, polls that record releases once,
//! webhook deliveries taken once, deletion with everything of the app.

use server::store::{
    AppQuery, AppSettings, CredentialsKind, NewApp, NewRelease, PollOutcome, SealedCredentials,
};

use super::*;

on_both_stores!(
    apps_are_registered_listed_and_searched,
    a_poll_records_a_release_once_even_when_two_pollers_race,
    webhook_deliveries_are_taken_once_and_make_the_app_due,
    settings_change_and_deleting_an_app_takes_its_releases,
    who_builds_the_images_is_kept_and_changed,
    an_unknown_build_mode_is_corrupt_not_a_default,
    app_changes_are_written_with_their_audit_event_or_not_at_all,
);

async fn app_changes_are_written_with_their_audit_event_or_not_at_all(test: &TestStore) {
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
        .await
        .unwrap();
    let mut orders = new_app("orders", dana.id);
    orders.audit = Some(event("dana", "app.register", "app:orders"));
    let app = test.store.create_app(orders).await.unwrap();
    // The same name again: refused, and no second registration logged.
    let mut again = new_app("orders", dana.id);
    again.audit = Some(event("dana", "app.register", "app:orders"));
    assert!(matches!(
        test.store.create_app(again).await,
        Err(StoreError::Conflict(_))
    ));
    test.store
        .change_app(
            app.id,
            AppSettings::PollInterval(300),
            Some(&event("dana", "app.settings.change", "app:orders")),
        )
        .await
        .unwrap();
    // An app that is gone: nothing changes, nothing is logged.
    assert!(matches!(
        test.store
            .change_app(
                Uuid::now_v7(),
                AppSettings::PollInterval(300),
                Some(&event("dana", "app.settings.change", "app:orders")),
            )
            .await,
        Err(StoreError::NotFound)
    ));
    test.store
        .delete_app(app.id, Some(&event("dana", "app.delete", "app:orders")))
        .await
        .unwrap();
    assert!(matches!(
        test.store
            .delete_app(app.id, Some(&event("dana", "app.delete", "app:orders")))
            .await,
        Err(StoreError::NotFound)
    ));
    let actions: Vec<String> = test
        .store
        .list_audit(&AuditQuery {
            target: Some("app:orders".to_string()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|event| event.action)
        .collect();
    assert_eq!(
        actions,
        ["app.delete", "app.settings.change", "app.register"]
    );
}

fn new_app(name: &str, maintainer: Uuid) -> NewApp {
    NewApp {
        id: Uuid::now_v7(),
        name: name.to_string(),
        repository_url: format!("https://git.example.test/{name}.git"),
        branch: "main".to_string(),
        poll_interval_seconds: 60,
        credentials: Some(SealedCredentials {
            kind: CredentialsKind::Token,
            sealed: "dscloud:v1:k1:sealed".to_string(),
        }),
        webhook_secret_sealed: "dscloud:v1:k1:hook".to_string(),
        created_by: Some(maintainer),
        maintainers: vec![maintainer],
        build: server::store::BuildMode::Portal,
        audit: None,
    }
}

fn release(sha: &str, accepted: bool) -> Box<NewRelease> {
    Box::new(NewRelease {
        sha: sha.to_string(),
        subject: format!("commit {sha}"),
        author: "Dana".to_string(),
        author_email: "dana@example.test".to_string(),
        committed_at: "2026-12-01T10:00:00Z".to_string(),
        previous_sha: None,
        force_pushed: false,
        commits: serde_json::json!([{"sha": sha}]),
        commits_truncated: false,
        dscloud_yaml: Some("microservices: {}\n".to_string()),
        accepted,
        problems: serde_json::json!([]),
        found_by_webhook: false,
    })
}

async fn apps_are_registered_listed_and_searched(test: &TestStore) {
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
        .await
        .unwrap();
    for name in ["orders", "billing", "order-history"] {
        test.store.create_app(new_app(name, dana.id)).await.unwrap();
    }
    match test.store.create_app(new_app("orders", dana.id)).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("orders"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let all = test
        .store
        .list_apps(&AppQuery {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        all.items
            .iter()
            .map(|app| app.name.as_str())
            .collect::<Vec<_>>(),
        ["billing", "order-history"]
    );
    let found = test
        .store
        .list_apps(&AppQuery {
            search: Some("ORDER".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 2);
    let orders = test.store.app_by_name("orders").await.unwrap();
    assert_eq!(orders.credentials.unwrap().kind, CredentialsKind::Token);
    assert_eq!(
        test.store.app_maintainers(orders.id).await.unwrap(),
        [dana.id]
    );
    assert!(orders.head_sha.is_none());
    assert_eq!(
        test.store.apps_due(Utc::now(), 10).await.unwrap().len(),
        3,
        "new apps are due at once"
    );
}

async fn a_poll_records_a_release_once_even_when_two_pollers_race(test: &TestStore) {
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
        .await
        .unwrap();
    let app = test
        .store
        .create_app(new_app("orders", dana.id))
        .await
        .unwrap();
    let later = Utc::now() + Duration::seconds(60);
    // Two pollers read no head and both found commit a.
    let (one, two) = tokio::join!(
        test.store.record_poll(
            app.id,
            None,
            PollOutcome::NewRelease(release("a", true)),
            later
        ),
        test.store.record_poll(
            app.id,
            None,
            PollOutcome::NewRelease(release("a", true)),
            later
        ),
    );
    one.unwrap();
    two.unwrap();
    assert_eq!(test.store.releases(app.id, 10, 0).await.unwrap().total, 1);
    let polled = test.store.app(app.id).await.unwrap();
    assert_eq!(polled.head_sha.as_deref(), Some("a"));
    assert!(
        test.store
            .apps_due(Utc::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A rejected one is recorded but never the one to deploy.
    test.store
        .record_poll(
            app.id,
            Some("a"),
            PollOutcome::NewRelease(release("b", false)),
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        test.store
            .latest_accepted_release(app.id)
            .await
            .unwrap()
            .unwrap()
            .sha,
        "a"
    );
    assert!(!test.store.release(app.id, "b").await.unwrap().accepted);
    let newest = test
        .store
        .newest_releases(&[app.id, Uuid::now_v7()])
        .await
        .unwrap();
    assert_eq!(
        newest
            .iter()
            .map(|release| release.sha.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert!(test.store.newest_releases(&[]).await.unwrap().is_empty());
    // Failures count up and say why; a success resets them.
    for _ in 0..2 {
        test.store
            .record_poll(
                app.id,
                Some("b"),
                PollOutcome::Failed("unreachable".into()),
                later,
            )
            .await
            .unwrap();
    }
    let failing = test.store.app(app.id).await.unwrap();
    assert_eq!(
        (failing.failures, failing.last_error.as_deref()),
        (2, Some("unreachable"))
    );
    test.store
        .record_poll(app.id, Some("b"), PollOutcome::Unchanged, later)
        .await
        .unwrap();
    let healthy = test.store.app(app.id).await.unwrap();
    assert_eq!((healthy.failures, healthy.last_error), (0, None));
    assert!(matches!(
        test.store
            .record_poll(Uuid::now_v7(), None, PollOutcome::Unchanged, later)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn webhook_deliveries_are_taken_once_and_make_the_app_due(test: &TestStore) {
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
        .await
        .unwrap();
    let app = test
        .store
        .create_app(new_app("orders", dana.id))
        .await
        .unwrap();
    test.store
        .record_poll(
            app.id,
            None,
            PollOutcome::Unchanged,
            Utc::now() + Duration::days(1),
        )
        .await
        .unwrap();
    assert!(
        test.store
            .apps_due(Utc::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        test.store
            .record_webhook(app.id, "delivery-1")
            .await
            .unwrap()
    );
    assert_eq!(test.store.apps_due(Utc::now(), 10).await.unwrap(), [app.id]);
    assert!(
        !test
            .store
            .record_webhook(app.id, "delivery-1")
            .await
            .unwrap(),
        "a replay"
    );
    assert!(
        test.store
            .app(app.id)
            .await
            .unwrap()
            .last_webhook_at
            .is_some()
    );
}

async fn settings_change_and_deleting_an_app_takes_its_releases(test: &TestStore) {
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
        .await
        .unwrap();
    let eve = test
        .store
        .create_user(local_user("eve", Role::Developer))
        .await
        .unwrap();
    let app = test
        .store
        .create_app(new_app("orders", dana.id))
        .await
        .unwrap();
    let changed = test
        .store
        .change_app(app.id, AppSettings::PollInterval(300), None)
        .await
        .unwrap();
    assert_eq!(changed.poll_interval_seconds, 300);
    let changed = test
        .store
        .change_app(
            app.id,
            AppSettings::WebhookSecret("dscloud:v1:k1:new".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(changed.webhook_secret_version, 2);
    let changed = test
        .store
        .change_app(app.id, AppSettings::Credentials(None), None)
        .await
        .unwrap();
    assert!(changed.credentials.is_none());
    test.store
        .change_app(
            app.id,
            AppSettings::Maintainers(vec![dana.id, eve.id]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(test.store.app_maintainers(app.id).await.unwrap().len(), 2);
    test.store
        .record_poll(
            app.id,
            None,
            PollOutcome::NewRelease(release("a", true)),
            Utc::now(),
        )
        .await
        .unwrap();
    test.store.record_webhook(app.id, "d").await.unwrap();
    test.store.delete_app(app.id, None).await.unwrap();
    assert!(matches!(
        test.store.app(app.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(test.store.releases(app.id, 10, 0).await.unwrap().total, 0);
    assert!(matches!(
        test.store.delete_app(app.id, None).await,
        Err(StoreError::NotFound)
    ));
    // A maintainer who is deleted leaves the app's list of maintainers.
    let again = test
        .store
        .create_app(new_app("billing", eve.id))
        .await
        .unwrap();
    test.store.delete_user(eve.id, None).await.unwrap();
    assert!(
        test.store
            .app_maintainers(again.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(test.store.app(again.id).await.unwrap().created_by, None);
}

async fn who_builds_the_images_is_kept_and_changed(test: &TestStore) {
    use server::store::BuildMode;
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
        .await
        .unwrap();
    let app = test
        .store
        .create_app(NewApp {
            build: BuildMode::External,
            ..new_app("orders", dana.id)
        })
        .await
        .unwrap();
    assert_eq!(app.build, BuildMode::External);
    let changed = test
        .store
        .change_app(app.id, AppSettings::Build(BuildMode::Portal), None)
        .await
        .unwrap();
    assert_eq!(changed.build, BuildMode::Portal);
    assert_eq!(
        test.store.app_by_name("orders").await.unwrap().build,
        BuildMode::Portal
    );
}

async fn an_unknown_build_mode_is_corrupt_not_a_default(test: &TestStore) {
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
        .await
        .unwrap();
    let app = test
        .store
        .create_app(new_app("orders", dana.id))
        .await
        .unwrap();
    test.execute("UPDATE apps SET build_mode = 'jenkins'").await;
    match test.store.app(app.id).await {
        Err(server::store::StoreError::Corrupt(message)) => {
            assert!(message.contains("build mode \"jenkins\""), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
