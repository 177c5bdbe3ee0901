//! Deployments: one unfinished per app and environment (across writers),
//! the engine's writes only over the revision it read and only in its term,
//! candidates for promotion, a person's rollback and its hold, approvals
//! decided once, and the history's filters and pages.

use app::deploys::{DeploymentStatus, Trigger};
use server::store::{
    Approval, DeploymentQuery, NewApp, NewDeployment, NewRelease, Person, PersonalDeploy,
    PollOutcome, Progress,
};

use super::*;

on_both_stores!(
    one_unfinished_deployment_per_environment,
    engine_writes_need_the_revision_read_and_a_current_term,
    candidates_follow_the_promotion_order,
    a_persons_rollback_holds_the_environment_and_waits_for_running_work,
    approvals_are_decided_once,
    the_history_filters_and_pages_on_the_server,
);

struct Shop {
    app: Uuid,
    releases: Vec<i64>,
    person: Person,
}

/// An app with `count` accepted releases (oldest first).
async fn shop(test: &TestStore, count: usize) -> Shop {
    let dana = test
        .store
        .create_user(local_user("dana", Role::Developer))
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
            created_by: Some(dana.id),
            maintainers: vec![dana.id],
            build: server::store::BuildMode::Portal,
            audit: None,
        })
        .await
        .unwrap();
    let mut previous: Option<String> = None;
    for index in 0..count {
        let sha = format!("{index:0>40}");
        let release = NewRelease {
            sha: sha.clone(),
            subject: format!("change {index}"),
            author: if index % 2 == 0 { "Ada" } else { "Grace" }.into(),
            author_email: "dev@example.test".into(),
            committed_at: "2026-12-01T10:00:00Z".into(),
            previous_sha: previous.clone(),
            force_pushed: false,
            commits: serde_json::json!([]),
            commits_truncated: false,
            dscloud_yaml: Some("microservices: {}\n".into()),
            accepted: true,
            problems: serde_json::json!([]),
            found_by_webhook: index == 0,
        };
        test.store
            .record_poll(
                app.id,
                previous.as_deref(),
                PollOutcome::NewRelease(Box::new(release)),
                Utc::now(),
            )
            .await
            .unwrap();
        previous = Some(sha);
    }
    let releases = test
        .store
        .releases(app.id, 100, 0)
        .await
        .unwrap()
        .items
        .into_iter()
        .rev()
        .map(|release| release.id)
        .collect();
    Shop {
        app: app.id,
        releases,
        person: Person {
            id: dana.id,
            name: "dana".into(),
        },
    }
}

fn automatic(shop: &Shop, release: i64, environment: &str) -> NewDeployment {
    NewDeployment {
        app_id: shop.app,
        release_id: release,
        environment: environment.into(),
        trigger: Trigger::Poll,
        trigger_detail: None,
        by: None,
        rollback_of: None,
        status: DeploymentStatus::Queued,
        approval_required: false,
    }
}

fn progress(status: DeploymentStatus) -> Progress {
    Progress {
        status,
        reason: None,
        steps: Vec::new(),
    }
}

async fn active(
    test: &TestStore,
    shop: &Shop,
    environment: &str,
) -> server::store::DeploymentRecord {
    test.store
        .environment_state(shop.app, environment, None)
        .await
        .unwrap()
        .active
        .expect("an unfinished deployment")
}

async fn one_unfinished_deployment_per_environment(test: &TestStore) {
    let shop = shop(test, 2).await;
    let first = automatic(&shop, shop.releases[0], "dev");
    let enqueued = test
        .store
        .enqueue_deployment(None, &first, &[], None)
        .await
        .unwrap();
    assert_eq!(enqueued, Reported::Applied);
    // A second writer (another replica, a stale read) finds the environment taken.
    let second = automatic(&shop, shop.releases[1], "dev");
    let again = test
        .store
        .enqueue_deployment(None, &second, &[], None)
        .await
        .unwrap();
    assert_eq!(again, Reported::Stale);
    // Another environment is free.
    let test_env = automatic(&shop, shop.releases[0], "test");
    assert_eq!(
        test.store
            .enqueue_deployment(None, &test_env, &[], None)
            .await
            .unwrap(),
        Reported::Applied
    );
    // Replacing the waiting one supersedes it in the same step.
    let waiting = active(test, &shop, "dev").await;
    let replaced = test
        .store
        .enqueue_deployment(None, &second, &[], Some((waiting.id, waiting.revision)))
        .await
        .unwrap();
    assert_eq!(replaced, Reported::Applied);
    let superseded = test.store.deployment(waiting.id).await.unwrap();
    assert_eq!(superseded.status, DeploymentStatus::Superseded);
    assert!(superseded.finished_at.is_some());
    assert_eq!(
        active(test, &shop, "dev").await.release_id,
        shop.releases[1]
    );
}

async fn engine_writes_need_the_revision_read_and_a_current_term(test: &TestStore) {
    let shop = shop(test, 1).await;
    let term = test.store.begin_term("deploy", "replica-a").await.unwrap();
    let fence = Fence {
        lease: "deploy".into(),
        term,
    };
    let deployment = automatic(&shop, shop.releases[0], "dev");
    test.store
        .enqueue_deployment(Some(&fence), &deployment, &[], None)
        .await
        .unwrap();
    let read = active(test, &shop, "dev").await;
    let written = test
        .store
        .progress_deployment(
            Some(&fence),
            read.id,
            read.revision,
            &progress(DeploymentStatus::Deploying),
        )
        .await
        .unwrap();
    assert_eq!(written, Reported::Applied);
    let now = test.store.deployment(read.id).await.unwrap();
    assert_eq!(now.status, DeploymentStatus::Deploying);
    assert!(now.started_at.is_some());
    // Over the old revision: a change landed meanwhile.
    let stale = test
        .store
        .progress_deployment(
            Some(&fence),
            read.id,
            read.revision,
            &progress(DeploymentStatus::RollingOut),
        )
        .await
        .unwrap();
    assert_eq!(stale, Reported::Stale);
    // Another replica took over: the old term's write is refused.
    test.store.begin_term("deploy", "replica-b").await.unwrap();
    let refused = test
        .store
        .progress_deployment(
            Some(&fence),
            now.id,
            now.revision,
            &progress(DeploymentStatus::RollingOut),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Deposed { .. })),
        "{refused:?}"
    );
    assert_eq!(
        test.store.deployment(read.id).await.unwrap().status,
        DeploymentStatus::Deploying
    );
}

async fn candidates_follow_the_promotion_order(test: &TestStore) {
    let shop = shop(test, 3).await;
    let state = test
        .store
        .environment_state(shop.app, "dev", None)
        .await
        .unwrap();
    let ids: Vec<i64> = state.candidates.iter().map(|c| c.release_id).collect();
    assert_eq!(
        ids,
        [shop.releases[2], shop.releases[1], shop.releases[0]],
        "newest first"
    );
    assert_eq!(state.candidates[2].found_by, Trigger::Webhook);
    let environments = ["dev".to_string(), "test".to_string()];
    assert_eq!(
        test.store.deploy_pending(&environments).await.unwrap(),
        [(shop.app, "dev".to_string())]
    );
    // Release 1 succeeds in dev: test may take it, dev takes only newer ones.
    test.store
        .enqueue_deployment(
            None,
            &automatic(&shop, shop.releases[1], "dev"),
            &[shop.releases[0]],
            None,
        )
        .await
        .unwrap();
    let running = active(test, &shop, "dev").await;
    test.store
        .progress_deployment(
            None,
            running.id,
            running.revision,
            &progress(DeploymentStatus::Succeeded),
        )
        .await
        .unwrap();
    let dev = test
        .store
        .environment_state(shop.app, "dev", None)
        .await
        .unwrap();
    assert_eq!(
        dev.candidates
            .iter()
            .map(|c| c.release_id)
            .collect::<Vec<_>>(),
        [shop.releases[2]]
    );
    assert_eq!(dev.current.unwrap().release_id, shop.releases[1]);
    let test_env = test
        .store
        .environment_state(shop.app, "test", Some("dev"))
        .await
        .unwrap();
    assert_eq!(test_env.candidates.len(), 1);
    assert_eq!(test_env.candidates[0].release_id, shop.releases[1]);
    assert_eq!(test_env.candidates[0].found_by, Trigger::Promotion);
    let mut pending = test.store.deploy_pending(&environments).await.unwrap();
    pending.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        pending,
        [
            (shop.app, "dev".to_string()),
            (shop.app, "test".to_string())
        ]
    );
}

async fn a_persons_rollback_holds_the_environment_and_waits_for_running_work(test: &TestStore) {
    let shop = shop(test, 2).await;
    test.store
        .enqueue_deployment(None, &automatic(&shop, shop.releases[1], "prod"), &[], None)
        .await
        .unwrap();
    let running = active(test, &shop, "prod").await;
    test.store
        .progress_deployment(
            None,
            running.id,
            running.revision,
            &progress(DeploymentStatus::Testing),
        )
        .await
        .unwrap();
    let rollback = PersonalDeploy::Rollback {
        release_id: shop.releases[0],
        reason: "slow checkout".into(),
    };
    let rollback_event = event("dana", "deployment.rollback", "app:deploy-audit");
    let refused = test
        .store
        .deploy_by_person(
            shop.app,
            "prod",
            &shop.person,
            &rollback,
            Some(&rollback_event),
        )
        .await;
    match refused {
        Err(StoreError::Conflict(message)) => {
            assert!(
                message.contains("is testing in prod; wait until it ends"),
                "{message}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        test.store
            .environment_rules(shop.app, "prod")
            .await
            .unwrap()
            .hold
            .is_none()
    );
    let running = active(test, &shop, "prod").await;
    test.store
        .progress_deployment(
            None,
            running.id,
            running.revision,
            &progress(DeploymentStatus::Succeeded),
        )
        .await
        .unwrap();
    let id = test
        .store
        .deploy_by_person(
            shop.app,
            "prod",
            &shop.person,
            &rollback,
            Some(&rollback_event),
        )
        .await
        .unwrap();
    let row = test.store.deployment(id).await.unwrap();
    assert_eq!(
        (row.trigger, row.status),
        (Trigger::Rollback, DeploymentStatus::Queued)
    );
    assert_eq!(row.triggered_by_name.as_deref(), Some("dana"));
    let hold = test
        .store
        .environment_rules(shop.app, "prod")
        .await
        .unwrap()
        .hold
        .unwrap();
    assert_eq!(
        (hold.by_name.as_str(), hold.reason.as_str()),
        ("dana", "slow checkout")
    );
    let lift = event("dana", "deployment.hold.lift", "app:deploy-audit");
    assert!(
        test.store
            .lift_hold(shop.app, "prod", Some(&lift))
            .await
            .unwrap()
    );
    assert!(
        !test
            .store
            .lift_hold(shop.app, "prod", Some(&lift))
            .await
            .unwrap(),
        "no hold left"
    );
    // Each change that was made is logged once, with it; the refused
    // rollback and the lift of no hold are not.
    let logged = audit_of(test, "app:deploy-audit").await;
    assert_eq!(
        logged
            .iter()
            .map(|event| event.action.as_str())
            .collect::<Vec<_>>(),
        ["deployment.hold.lift", "deployment.rollback"]
    );
    assert_eq!(logged[1].details["deployment"], id);
}

async fn audit_of(test: &TestStore, target: &str) -> Vec<server::store::AuditEvent> {
    test.store
        .list_audit(&AuditQuery {
            target: Some(target.to_string()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items
}

async fn approvals_are_decided_once(test: &TestStore) {
    let shop = shop(test, 1).await;
    let waiting = NewDeployment {
        status: DeploymentStatus::AwaitingApproval,
        approval_required: true,
        ..automatic(&shop, shop.releases[0], "prod")
    };
    test.store
        .enqueue_deployment(None, &waiting, &[], None)
        .await
        .unwrap();
    let row = active(test, &shop, "prod").await;
    assert!(row.approval_required && row.approval.is_none());
    let approve = Approval {
        approved: true,
        by: Some(shop.person.id),
        by_name: "dana".into(),
        comment: "go".into(),
        at: Utc::now(),
    };
    let approved_event = event("dana", "deployment.approve", "app:approval-audit");
    test.store
        .decide_approval(row.id, &approve, Some(&approved_event))
        .await
        .unwrap();
    let approved = test.store.deployment(row.id).await.unwrap();
    assert_eq!(approved.status, DeploymentStatus::Queued);
    assert_eq!(approved.approval.as_ref().unwrap().comment, "go");
    match test
        .store
        .decide_approval(row.id, &approve, Some(&approved_event))
        .await
    {
        Err(StoreError::Conflict(message)) => {
            assert!(
                message.contains("no longer waits for approval: it is queued"),
                "{message}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Approved once, logged once: the refused second decision is not.
    assert_eq!(audit_of(test, "app:approval-audit").await.len(), 1);
}

async fn the_history_filters_and_pages_on_the_server(test: &TestStore) {
    let shop = shop(test, 6).await;
    for (index, release) in shop.releases.iter().enumerate() {
        let environment = if index % 2 == 0 { "dev" } else { "test" };
        test.store
            .enqueue_deployment(None, &automatic(&shop, *release, environment), &[], None)
            .await
            .unwrap();
        let running = active(test, &shop, environment).await;
        let status = if index == 3 {
            DeploymentStatus::Failed
        } else {
            DeploymentStatus::Succeeded
        };
        test.store
            .progress_deployment(None, running.id, running.revision, &progress(status))
            .await
            .unwrap();
    }
    let query = |change: &dyn Fn(&mut DeploymentQuery)| {
        let mut query = DeploymentQuery {
            limit: 4,
            ..DeploymentQuery::default()
        };
        change(&mut query);
        query
    };
    let page = test.store.deployments(&query(&|_| {})).await.unwrap();
    assert_eq!(page.total, 6);
    assert_eq!(page.items.len(), 4);
    assert_eq!(page.items[0].release_id, shop.releases[5], "newest first");
    let second = test
        .store
        .deployments(&query(&|q| q.offset = 4))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);
    let dev = test
        .store
        .deployments(&query(&|q| q.environment = Some("dev".into())))
        .await
        .unwrap();
    assert_eq!(dev.total, 3);
    let failed = test
        .store
        .deployments(&query(&|q| q.status = Some(DeploymentStatus::Failed)))
        .await
        .unwrap();
    assert_eq!(failed.total, 1);
    assert_eq!(failed.items[0].release_id, shop.releases[3]);
    let grace = test
        .store
        .deployments(&query(&|q| q.commit_or_author = Some("grac".into())))
        .await
        .unwrap();
    assert_eq!(grace.total, 3);
    let by_sha = test
        .store
        .deployments(&query(&|q| {
            q.commit_or_author = Some(format!("{}4", "0".repeat(39)))
        }))
        .await
        .unwrap();
    assert_eq!(by_sha.total, 1);
    let webhook = test
        .store
        .deployments(&query(&|q| q.trigger = Some(Trigger::Webhook)))
        .await
        .unwrap();
    assert_eq!(
        webhook.total, 0,
        "these rows were made with the poll trigger"
    );
    let future = test
        .store
        .deployments(&query(&|q| q.from = Some(Utc::now() + Duration::hours(1))))
        .await
        .unwrap();
    assert_eq!(future.total, 0);
    let past = test
        .store
        .deployments(&query(&|q| q.until = Some(Utc::now() + Duration::hours(1))))
        .await
        .unwrap();
    assert_eq!(past.total, 6);
}
