//! A release's way through dev → test → prod, and what stops it: a failing
//! integration test, a rollout that never becomes healthy, a failing Job, a
//! failed build.

use super::*;

#[tokio::test]
async fn a_commit_is_built_once_and_promoted_through_three_environments() {
    let bed = bed(Scenario::version("1")).await;
    let created = support::count_created_jobs(&bed.client);
    let sha = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    let history = bed
        .until("promoted to prod", succeeded_everywhere(&sha))
        .await;
    assert_eq!(history.len(), 3, "{}", describe(&history));
    let dev = of(&history, "dev", &sha)[0];
    assert_eq!(dev.trigger, Trigger::Poll);
    let test = of(&history, "test", &sha)[0];
    assert_eq!(
        (test.trigger, test.trigger_detail.as_deref()),
        (Trigger::Promotion, Some("dev"))
    );
    let prod = of(&history, "prod", &sha)[0];
    assert_eq!(prod.trigger_detail.as_deref(), Some("test"));
    // Built once, in dev: web, its tests and the migrate job.
    let builds: Vec<_> = dev
        .steps
        .iter()
        .filter(|step| step.kind == StepKind::Build)
        .collect();
    assert_eq!(builds.len(), 3, "{:?}", dev.steps);
    assert!(test.steps.iter().all(|step| step.kind != StepKind::Build));
    // The tests ran in test only, and passed.
    assert_eq!((test.tests_passed, test.tests_failed), (1, 0));
    assert_eq!(dev.tests_passed + prod.tests_passed, 0);
    // Deployed by digest, the engine's labels on it.
    for environment in ENVIRONMENTS {
        assert_eq!(bed.running_version(environment).await.as_deref(), Some("1"));
    }
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), "shop-prod");
    let web = deployments.get("web").await.unwrap();
    let image = web.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    assert!(
        image.starts_with("registry.test/shop/web@sha256:"),
        "{image}"
    );
    let labels = web.metadata.labels.unwrap();
    assert_eq!(labels["dscloud.io/engine"], "deploy");
    // Every Job once: 3 builds, migrate in each environment, the tests in test.
    let created = counted_jobs(&bed.client, &created).await;
    assert_eq!(created.len(), 7, "{created:?}");
    assert!(created.values().all(|count| *count == 1), "{created:?}");
}

#[tokio::test]
async fn a_failing_test_in_test_rolls_test_back_and_leaves_prod_alone() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first release everywhere", succeeded_everywhere(&first))
        .await;
    let broken = Scenario {
        test_exit: 3,
        ..Scenario::version("2")
    };
    let second = bed.push(broken, "Break checkout").await;
    let history = bed
        .until("rolled back in test", |history| {
            history.iter().any(|row| {
                row.environment == "test"
                    && row.trigger == Trigger::AutoRollback
                    && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    assert_eq!(
        of(&history, "dev", &second)[0].status,
        DeploymentStatus::Succeeded
    );
    let failed = of(&history, "test", &second)[0];
    assert_eq!(failed.status, DeploymentStatus::Failed);
    let reason = failed.reason.as_deref().unwrap();
    assert!(
        reason.contains("integration tests of web failed: exit code 3"),
        "{reason}"
    );
    assert_eq!((failed.tests_passed, failed.tests_failed), (0, 1));
    let test_step = failed
        .steps
        .iter()
        .find(|step| step.kind == StepKind::Test)
        .unwrap();
    assert_eq!(test_step.exit_code, Some(3));
    assert_eq!(test_step.log_tail.as_deref(), Some("checkout: 1 failed"));
    let rollback = history
        .iter()
        .find(|row| row.trigger == Trigger::AutoRollback)
        .unwrap();
    assert_eq!(rollback.sha, first);
    assert_eq!(rollback.rollback_of, Some(failed.id));
    assert_eq!(failed.rolled_back_by, Some(rollback.id));
    assert_eq!(bed.running_version("test").await.as_deref(), Some("1"));
    // prod never saw the second release.
    assert!(of(&history, "prod", &second).is_empty());
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    assert_eq!(bed.running_version("dev").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn a_rollout_that_never_becomes_healthy_fails_and_is_rolled_back() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first release everywhere", succeeded_everywhere(&first))
        .await;
    let stuck = Scenario {
        failing_rollout_in: Some("dev"),
        ..Scenario::version("2")
    };
    let second = bed.push(stuck, "Stuck pods").await;
    let history = bed
        .until("rolled back in dev", |history| {
            history.iter().any(|row| {
                row.trigger == Trigger::AutoRollback && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    let failed = of(&history, "dev", &second)[0];
    assert_eq!(failed.status, DeploymentStatus::Failed);
    let reason = failed.reason.as_deref().unwrap();
    assert!(
        reason.contains("Deployment/web failed: ProgressDeadlineExceeded"),
        "{reason}"
    );
    assert_eq!(bed.running_version("dev").await.as_deref(), Some("1"));
    assert!(of(&history, "test", &second).is_empty());
}

#[tokio::test]
async fn a_failing_job_stops_the_release_with_its_exit_code() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first release everywhere", succeeded_everywhere(&first))
        .await;
    let failing = Scenario {
        failing_job_in: Some("dev"),
        ..Scenario::version("2")
    };
    let second = bed.push(failing, "Bad migration").await;
    let history = bed
        .until("rolled back in dev", |history| {
            history.iter().any(|row| {
                row.trigger == Trigger::AutoRollback && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    let failed = of(&history, "dev", &second)[0];
    let reason = failed.reason.as_deref().unwrap();
    assert!(reason.contains("Job migrate-"), "{reason}");
    assert!(reason.contains("exit code 2"), "{reason}");
    let job = failed
        .steps
        .iter()
        .find(|step| step.kind == StepKind::Job)
        .unwrap();
    assert_eq!(job.log_tail.as_deref(), Some("relation orders exists"));
}

#[tokio::test]
async fn a_failed_build_fails_the_release_and_deploys_nothing() {
    let behaviour = Behaviour {
        job_outcome: Arc::new(|job: &serde_json::Value| {
            let name = job["metadata"]["name"].as_str().unwrap_or_default();
            if name.starts_with("build-shop-web-") && !name.contains("integration") {
                (
                    1,
                    "#7 ERROR: failed to solve: npm ci: exit code 1\n".to_string(),
                )
            } else {
                (0, String::new())
            }
        }),
        ..Behaviour::instant()
    };
    let bed = bed_with(behaviour, Scenario::version("1")).await;
    let sha = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    let history = bed
        .until("the build failed", |history| {
            history
                .iter()
                .any(|row| row.status == DeploymentStatus::Failed)
        })
        .await;
    let failed = of(&history, "dev", &sha)[0];
    let reason = failed.reason.as_deref().unwrap();
    assert!(
        reason.contains("the build of web failed: exit code 1"),
        "{reason}"
    );
    let step = failed.steps.iter().find(|step| step.name == "web").unwrap();
    assert!(
        step.log_tail
            .as_deref()
            .unwrap()
            .contains("failed to solve")
    );
    assert_eq!(failed.rolled_back_by, None);
    assert_eq!(
        bed.running_version("dev").await,
        None,
        "nothing was applied"
    );
    assert_eq!(history.len(), 1);
}
