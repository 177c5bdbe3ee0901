//! Restarts at every step, API faults, and environments in two clusters.

use super::*;

#[tokio::test]
async fn a_restart_at_every_step_runs_no_job_or_test_twice() {
    let bed = bed(Scenario::version("1")).await;
    let created = support::count_created_jobs(&bed.client);
    let first = first_sha(&bed).await;
    // Every reconcile by a new engine, as if the process died after each.
    let mut passes = 0;
    loop {
        let engine = DeployEngine::with_settings(bed.deployer(), quick(), None);
        engine.pass().await.unwrap();
        drop(engine);
        passes += 1;
        if succeeded_everywhere(&first)(&bed.history().await) {
            break;
        }
        assert!(
            passes < 500,
            "not converged: {}",
            describe(&bed.history().await)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let created = counted_jobs(&bed.client, &created).await;
    assert_eq!(created.len(), 7, "{created:?}");
    assert!(created.values().all(|count| *count == 1), "{created:?}");
    let history = bed.history().await;
    assert_eq!(history.len(), 3, "{}", describe(&history));
}

#[tokio::test]
async fn api_faults_are_retried_and_a_cluster_that_keeps_failing_ends_errored() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    // Three in ten writes fail, and the watches are cut every 200 ms.
    bed.sandbox
        .faults()
        .inject(Fault::always(Failure::Internal).on(Verb::Patch).rate(0.3));
    bed.sandbox.faults().inject(
        Fault::always(Failure::Unavailable)
            .on(Verb::Create)
            .rate(0.3),
    );
    bed.sandbox
        .faults()
        .cut_watches_after(Some(Duration::from_millis(200)));
    let engine = bed.start(bed.deployer().errored_after(50));
    bed.until("converged through faults", succeeded_everywhere(&first))
        .await;
    drop(engine);
    bed.sandbox.faults().clear();
    // Every Job create fails from now on: the deployment ends Errored.
    bed.sandbox.faults().inject(
        Fault::always(Failure::Unavailable)
            .on(Verb::Create)
            .for_resource("jobs"),
    );
    let second = bed.push(Scenario::version("2"), "Second").await;
    let _engine = bed.start(bed.deployer().errored_after(3));
    let history = bed
        .until("errored", |history| {
            history
                .iter()
                .any(|row| row.status == DeploymentStatus::Errored)
        })
        .await;
    let errored = of(&history, "dev", &second)[0];
    let reason = errored.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("the cluster kept failing while building"),
        "{reason}"
    );
    assert!(of(&history, "test", &second).is_empty());
}

#[tokio::test]
async fn environments_in_two_clusters_each_get_their_own_objects() {
    let bed = bed(Scenario::version("1")).await;
    let (_other_sandbox, other) = support::cluster(Behaviour::instant()).await;
    let first = first_sha(&bed).await;
    // dev in the first cluster; test and prod in the other.
    let deployer = Deployer::new(
        bed.store.clone(),
        sites(&[("local", &bed.portal.client), ("eu-west", &other)]),
        "registry.test".into(),
    );
    let _engine = bed.start(deployer);
    bed.until("promoted across clusters", succeeded_everywhere(&first))
        .await;
    assert_eq!(version_in(&bed.client, "dev").await.as_deref(), Some("1"));
    assert_eq!(version_in(&bed.client, "prod").await, None);
    assert_eq!(version_in(&other, "test").await.as_deref(), Some("1"));
    assert_eq!(version_in(&other, "prod").await.as_deref(), Some("1"));
    assert_eq!(version_in(&other, "dev").await, None);
}
