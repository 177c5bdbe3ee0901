//! Who may see and act on deployments, and what bad input is told.

use super::*;

fn caller_of(user: &server::store::User) -> Caller {
    Caller {
        username: Some(user.username.clone()),
        role: Some(user.role),
        session_hash: None,
        address: Some("192.0.2.9".into()),
        user_id: Some(user.id.to_string()),
    }
}

fn refusal<T: std::fmt::Debug>(
    result: Result<T, app::caller::ServiceError>,
) -> app::caller::ServiceError {
    result.expect_err("expected a refusal")
}

#[tokio::test]
async fn who_may_see_and_act_and_what_bad_input_is_told() {
    use app::caller::ServiceError;
    use app::deploys::{Deploys, HandAction, HistoryFilter};
    use server::deploy::service::DeployService;
    let bed = bed(Scenario::version("1")).await;
    bed.store
        .set_approval_rules(bed.app, "prod", true, true, None)
        .await
        .unwrap();
    let first = first_sha(&bed).await;
    let engine = bed.start(bed.deployer());
    bed.until("waiting before prod", |history| {
        of(history, "prod", &first)
            .iter()
            .any(|row| row.status == DeploymentStatus::AwaitingApproval)
    })
    .await;
    let environments: Vec<String> = ENVIRONMENTS.iter().map(|name| name.to_string()).collect();
    let service = DeployService::new(bed.store.clone(), environments, Some(engine.handle()))
        .with_sites(sites(&[("local", &bed.portal.client)]));
    let cora = caller_of(&support::user(bed.store.as_ref(), "cora", Role::Customer).await);
    let otto = caller_of(&support::user(bed.store.as_ref(), "otto", Role::Developer).await);
    // Dana maintains the app and is the commit's author (same email).
    let dana_user = bed.store.user_by_username("dana").await.unwrap();
    bed.store
        .update_user_profile(
            dana_user.id,
            "Dana",
            Some("dana@example.test"),
            Role::Developer,
            None,
        )
        .await
        .unwrap();

    // A customer sees nothing.
    assert!(matches!(
        refusal(service.history(&cora, HistoryFilter::default()).await),
        ServiceError::Forbidden(_)
    ));
    // Every developer sees the history; only maintainers act.
    let list = service
        .history(
            &otto,
            HistoryFilter {
                app: "shop".into(),
                ..HistoryFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(list.total, 3);
    assert!(!list.may_act);
    let prod = list
        .items
        .iter()
        .find(|row| row.environment == "prod")
        .unwrap();
    assert_eq!(prod.approval.as_deref(), Some("awaiting approval"));
    let error = refusal(service.decide(&otto, prod.id, true, "").await);
    assert!(
        matches!(error, ServiceError::Forbidden(ref m) if m.contains("shop's maintainers")),
        "{error:?}"
    );
    // The author may not approve their own commit here.
    let error = refusal(service.decide(&bed.dana, prod.id, true, "mine").await);
    assert!(
        matches!(error, ServiceError::Forbidden(ref m) if m.contains("forbids approving your own commit")),
        "{error:?}"
    );
    // Rejecting is allowed, and recorded once.
    service
        .decide(&bed.dana, prod.id, false, "not today")
        .await
        .unwrap();
    let error = refusal(service.decide(&bed.dana, prod.id, false, "").await);
    assert!(matches!(error, ServiceError::Conflict(_)), "{error:?}");

    // Bad filters say what is wrong.
    let bad = |filter: HistoryFilter| {
        let service = &service;
        let dana = bed.dana.clone();
        async move {
            match refusal(service.history(&dana, filter).await) {
                ServiceError::Invalid(message) => message,
                other => panic!("expected Invalid, got {other:?}"),
            }
        }
    };
    assert!(
        bad(HistoryFilter {
            status: "Done".into(),
            ..Default::default()
        })
        .await
        .contains("no deployment status \"Done\"")
    );
    assert!(
        bad(HistoryFilter {
            environment: "staging".into(),
            ..Default::default()
        })
        .await
        .contains("environments: dev, test, prod")
    );
    assert!(
        bad(HistoryFilter {
            from: "02/12/2026".into(),
            ..Default::default()
        })
        .await
        .contains("not YYYY-MM-DD")
    );
    assert!(
        bad(HistoryFilter {
            from: "2026-12-03".into(),
            until: "2026-12-01".into(),
            ..Default::default()
        })
        .await
        .contains("after the until date")
    );
    let error = refusal(
        service
            .history(
                &bed.dana,
                HistoryFilter {
                    app: "nope".into(),
                    ..Default::default()
                },
            )
            .await,
    );
    assert!(matches!(error, ServiceError::NotFound(_)));

    // By hand: only a release that succeeded there, and not what runs already.
    let dev = list
        .items
        .iter()
        .find(|row| row.environment == "dev")
        .unwrap();
    let error = refusal(
        service
            .by_hand(&bed.dana, dev.id, HandAction::Rollback, "")
            .await,
    );
    assert!(
        matches!(error, ServiceError::Invalid(ref m) if m.contains("runs in dev already; redeploy it instead")),
        "{error:?}"
    );
    let error = refusal(
        service
            .by_hand(&bed.dana, prod.id, HandAction::Redeploy, "")
            .await,
    );
    assert!(
        matches!(error, ServiceError::Invalid(ref m) if m.contains("did not succeed in prod")),
        "{error:?}"
    );
    let error = refusal(
        service
            .by_hand(&otto, dev.id, HandAction::Redeploy, "")
            .await,
    );
    assert!(matches!(error, ServiceError::Forbidden(_)));
    let redeploy = service
        .by_hand(&bed.dana, dev.id, HandAction::Redeploy, "")
        .await
        .unwrap();
    let history = bed
        .until("redeployed", |history| {
            history
                .iter()
                .any(|row| row.id == redeploy && row.status == DeploymentStatus::Succeeded)
        })
        .await;
    assert_eq!(
        history
            .iter()
            .find(|row| row.id == redeploy)
            .unwrap()
            .trigger,
        Trigger::Redeploy
    );
    // What runs where, at a glance; the measures; the live workloads.
    let matrix = service.matrix(&otto, "", 1).await.unwrap();
    assert_eq!(matrix.environments, ["dev", "test", "prod"]);
    let shop = &matrix.rows[0];
    assert_eq!(shop.app, "shop");
    assert_eq!(shop.cells[0].current.as_ref().unwrap().1, &first[..7]);
    assert_eq!(shop.cells[1].tests, Some((1, 0)));
    assert!(shop.cells[2].current.is_none(), "prod was rejected");
    let measures = service.measures(&otto, "shop", 30).await.unwrap();
    let (name, test_measures) = &measures.environments[1];
    assert_eq!(name, "test");
    assert_eq!(test_measures.deployments, 1);
    assert_eq!(test_measures.change_failure_rate, Some(0.0));
    assert!(test_measures.lead_time_seconds.is_some());
    assert_eq!(test_measures.days.len(), 30);
    let live = service.workloads(&otto, "shop").await.unwrap();
    let dev_live = live
        .iter()
        .find(|environment| environment.environment == "dev")
        .unwrap();
    assert_eq!(dev_live.error, None);
    let web = &dev_live.workloads[0];
    assert_eq!(web.object, "Deployment/web");
    assert_eq!((web.desired, web.ready), (1, 1));
    assert!(web.image.contains("@sha256:"), "{}", web.image);
    assert_eq!(web.pods.len(), 1);
    assert_eq!(web.pods[0].state, "running");
    let prod_live = live
        .iter()
        .find(|environment| environment.environment == "prod")
        .unwrap();
    assert!(prod_live.workloads.is_empty());
    assert!(matches!(
        refusal(service.matrix(&cora, "", 1).await),
        ServiceError::Forbidden(_)
    ));

    // What was done is in the audit log.
    let audit = bed
        .store
        .list_audit(&server::store::AuditQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .items
        .iter()
        .map(|event| event.action.as_str())
        .collect();
    assert!(actions.contains(&"deployment.reject"), "{actions:?}");
    assert!(actions.contains(&"deployment.redeploy"), "{actions:?}");
}
