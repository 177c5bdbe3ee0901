//! Secret values: versions inserted all or none and never twice, the newest
//! per slot (deletions included), what the cluster has yet to receive, the
//! versions a deployment wrote, re-wrapping only over what was read, and
//! rows counted per master key.

use app::deploys::{DeploymentStatus, Trigger};
use server::store::{
    NewApp, NewDeployment, NewRelease, NewSecretVersion, Person, PollOutcome, SecretSlot,
};

use super::*;

on_both_stores!(
    versions_are_written_all_or_none_and_never_twice,
    the_newest_version_per_slot_and_deletions,
    the_cluster_catches_up_only_with_what_was_read,
    a_deployment_keeps_the_versions_it_wrote,
    rewrapping_replaces_only_what_was_read_and_rows_are_counted_per_key,
);

struct Shop {
    app: Uuid,
    person: Person,
}

async fn shop(test: &TestStore) -> Shop {
    let kim = test
        .store
        .create_user(local_user("kim", Role::Developer))
        .await
        .unwrap();
    let app = test
        .store
        .create_app(NewApp {
            id: Uuid::now_v7(),
            name: "shop".into(),
            repository_url: "https://git.example.test/shop.git".into(),
            branch: "main".into(),
            poll_interval_seconds: 60,
            credentials: None,
            webhook_secret_sealed: "dscloud:v1:k1:hook".into(),
            created_by: Some(kim.id),
            maintainers: vec![kim.id],
            build: server::store::BuildMode::Portal,
            audit: None,
        })
        .await
        .unwrap();
    Shop {
        app: app.id,
        person: Person {
            id: kim.id,
            name: "kim".into(),
        },
    }
}

fn version(slot: SecretSlot, version: i64, sealed: Option<&str>) -> NewSecretVersion {
    NewSecretVersion {
        slot,
        version,
        sealed: sealed.map(str::to_string),
    }
}

async fn versions_are_written_all_or_none_and_never_twice(test: &TestStore) {
    let shop = shop(test).await;
    let (a, b) = (SecretSlot::app("A"), SecretSlot::in_group("tests", "B"));
    test.store
        .insert_secret_versions(
            shop.app,
            "dev",
            &[
                version(a.clone(), 1, Some("dscloud:v1:k1:a1")),
                version(b.clone(), 1, Some("dscloud:v1:k1:b1")),
            ],
            &shop.person,
            None,
        )
        .await
        .unwrap();
    // B's version 1 exists: A's version 2 in the same write is not kept.
    let clash = test
        .store
        .insert_secret_versions(
            shop.app,
            "dev",
            &[
                version(a.clone(), 2, Some("dscloud:v1:k1:a2")),
                version(b.clone(), 1, Some("dscloud:v1:k1:other")),
            ],
            &shop.person,
            None,
        )
        .await;
    match clash {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains("group tests: B"), "{message}");
            assert!(
                !message.contains("other"),
                "never the sealed value: {message}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let latest = test.store.latest_secrets(shop.app, "dev").await.unwrap();
    let versions: Vec<(SecretSlot, i64)> = latest
        .iter()
        .map(|row| (row.slot.clone(), row.version))
        .collect();
    assert_eq!(versions, vec![(a, 1), (b, 1)]);
    assert_eq!(latest[0].created_by_name, "kim");
    // Another environment is another set of slots.
    assert!(
        test.store
            .latest_secrets(shop.app, "prod")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_newest_version_per_slot_and_deletions(test: &TestStore) {
    let shop = shop(test).await;
    let a = SecretSlot::app("A");
    for (number, sealed) in [(1, Some("s1")), (2, Some("s2")), (3, None)] {
        test.store
            .insert_secret_versions(
                shop.app,
                "dev",
                &[version(a.clone(), number, sealed)],
                &shop.person,
                None,
            )
            .await
            .unwrap();
    }
    let latest = test.store.latest_secrets(shop.app, "dev").await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].version, 3);
    assert_eq!(latest[0].sealed, None, "deleted at version 3");
    let history = test
        .store
        .secret_history(shop.app, "dev", &a)
        .await
        .unwrap();
    let numbers: Vec<i64> = history.iter().map(|row| row.version).collect();
    assert_eq!(numbers, vec![3, 2, 1]);
    assert_eq!(history[1].sealed.as_deref(), Some("s2"));
}

async fn the_cluster_catches_up_only_with_what_was_read(test: &TestStore) {
    let shop = shop(test).await;
    let environments = vec!["dev".to_string(), "prod".to_string()];
    let write = |number: i64| {
        let store = test.store.clone();
        let person = shop.person.clone();
        let app = shop.app;
        async move {
            store
                .insert_secret_versions(
                    app,
                    "dev",
                    &[version(SecretSlot::app("A"), number, Some("s"))],
                    &person,
                    None,
                )
                .await
                .unwrap();
        }
    };
    write(1).await;
    assert_eq!(
        test.store.unsynced_secrets(&environments).await.unwrap(),
        vec![(shop.app, "dev".to_string())]
    );
    // Only the configured environments count.
    assert!(
        test.store
            .unsynced_secrets(&["prod".to_string()])
            .await
            .unwrap()
            .is_empty()
    );
    let read = test.store.latest_secrets(shop.app, "dev").await.unwrap();
    let through = read[0].id;
    // Version 2 lands after the engine read version 1.
    write(2).await;
    test.store
        .mark_secrets_synced(None, shop.app, "dev", through)
        .await
        .unwrap();
    let latest = test.store.latest_secrets(shop.app, "dev").await.unwrap();
    assert_eq!(latest[0].version, 2);
    assert!(
        latest[0].synced_at.is_none(),
        "version 2 is not in the cluster"
    );
    assert_eq!(
        test.store
            .unsynced_secrets(&environments)
            .await
            .unwrap()
            .len(),
        1
    );
    let history = test
        .store
        .secret_history(shop.app, "dev", &SecretSlot::app("A"))
        .await
        .unwrap();
    assert!(history[1].synced_at.is_some(), "version 1 is");
    // A deposed engine cannot say it wrote anything.
    let old = test.store.begin_term("deploy", "replica-a").await.unwrap();
    test.store.begin_term("deploy", "replica-b").await.unwrap();
    let stale = Fence {
        lease: "deploy".into(),
        term: old,
    };
    assert!(matches!(
        test.store
            .mark_secrets_synced(Some(&stale), shop.app, "dev", latest[0].id)
            .await,
        Err(StoreError::Deposed { .. })
    ));
    assert_eq!(
        test.store
            .unsynced_secrets(&environments)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_deployment_keeps_the_versions_it_wrote(test: &TestStore) {
    let shop = shop(test).await;
    let release = NewRelease {
        sha: "a".repeat(40),
        subject: "first".into(),
        author: "Kim".into(),
        author_email: "kim@example.test".into(),
        committed_at: "2026-12-01T10:00:00Z".into(),
        previous_sha: None,
        force_pushed: false,
        commits: serde_json::json!([]),
        commits_truncated: false,
        dscloud_yaml: Some("microservices: {}\n".into()),
        accepted: true,
        problems: serde_json::json!([]),
        found_by_webhook: false,
    };
    test.store
        .record_poll(
            shop.app,
            None,
            PollOutcome::NewRelease(Box::new(release)),
            Utc::now(),
        )
        .await
        .unwrap();
    let release_id = test.store.releases(shop.app, 1, 0).await.unwrap().items[0].id;
    assert_eq!(
        test.store
            .last_secret_attempt(shop.app, "dev")
            .await
            .unwrap(),
        None
    );
    test.store
        .enqueue_deployment(
            None,
            &NewDeployment {
                app_id: shop.app,
                release_id,
                environment: "dev".into(),
                trigger: Trigger::Poll,
                trigger_detail: None,
                by: None,
                rollback_of: None,
                status: DeploymentStatus::Queued,
                approval_required: false,
            },
            &[],
            None,
        )
        .await
        .unwrap();
    let id = test
        .store
        .environment_state(shop.app, "dev", None)
        .await
        .unwrap()
        .active
        .unwrap()
        .id;
    assert_eq!(
        test.store.deployment_secret_versions(id).await.unwrap(),
        None
    );
    let written = vec![
        (SecretSlot::app("A"), 3),
        (SecretSlot::in_group("tests", "B"), 1),
    ];
    test.store
        .record_secret_versions(None, id, &written)
        .await
        .unwrap();
    assert_eq!(
        test.store.deployment_secret_versions(id).await.unwrap(),
        Some(written.clone())
    );
    assert_eq!(
        test.store
            .last_secret_attempt(shop.app, "dev")
            .await
            .unwrap(),
        Some((id, Some(written)))
    );
}

async fn rewrapping_replaces_only_what_was_read_and_rows_are_counted_per_key(test: &TestStore) {
    let shop = shop(test).await;
    test.store
        .insert_secret_versions(
            shop.app,
            "dev",
            &[
                version(SecretSlot::app("A"), 1, Some("dscloud:v1:k1:old-a")),
                version(SecretSlot::app("B"), 1, Some("dscloud:v1:k1:old-b")),
            ],
            &shop.person,
            None,
        )
        .await
        .unwrap();
    let rows = test.store.sealed_secrets(0, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    // Paged by id.
    let next = test.store.sealed_secrets(rows[0].id, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(
        test.store
            .rewrap_secret(rows[0].id, "dscloud:v1:k1:old-a", "dscloud:v1:k2:new-a")
            .await
            .unwrap()
    );
    // Read before another change landed: not replaced.
    assert!(
        !test
            .store
            .rewrap_secret(rows[0].id, "dscloud:v1:k1:old-a", "dscloud:v1:k2:again")
            .await
            .unwrap()
    );
    // The app's webhook secret (k1) counts too.
    assert_eq!(
        test.store.sealed_rows_per_key().await.unwrap(),
        vec![("k1".to_string(), 2), ("k2".to_string(), 1)]
    );
    let apps = test.store.sealed_app_rows().await.unwrap();
    assert_eq!(apps.len(), 1);
    assert!(
        test.store
            .rewrap_app_value(
                shop.app,
                server::store::AppSealed::WebhookSecret,
                "dscloud:v1:k1:hook",
                "dscloud:v1:k2:hook"
            )
            .await
            .unwrap()
    );
    assert_eq!(
        test.store.sealed_rows_per_key().await.unwrap(),
        vec![("k1".to_string(), 1), ("k2".to_string(), 2)]
    );
}
