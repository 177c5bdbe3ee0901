//! A database's life through the service, one scenario per stage: created
//! and provisioned, its password rotated, parked, resumed and resized,
//! terminated. Each starts from a database of its own.

use super::*;

/// A Cassandra database called `name`, provisioned to ACTIVE.
async fn active_database(bed: &Bed, name: &str) -> String {
    let id = bed
        .service
        .create(&bed.cora, form(name, "cassandra"))
        .await
        .unwrap();
    bed.until(&id, Status::Active).await;
    id
}

/// The audit log holds each of `expected` (action, outcome).
async fn audited(bed: &Bed, expected: &[(&str, &str)]) {
    let actions = bed.audit_actions().await;
    for (action, outcome) in expected {
        assert!(
            actions.contains(&(action.to_string(), outcome.to_string())),
            "{action} {outcome} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_new_database_goes_from_pending_to_active_with_every_step_timed() {
    let bed = bed().await;
    let id = bed
        .service
        .create(&bed.cora, form("shop", "cassandra"))
        .await
        .unwrap();
    let fresh = bed.service.detail(&bed.cora, &id).await.unwrap();
    assert_eq!(fresh.summary.status, Status::Pending);
    assert_eq!(fresh.connection.port, 9042);
    assert_eq!(fresh.connection.schema_name, "shop");
    assert_eq!(
        fresh.connection.outside,
        app::databases::Outside::NotConfigured
    );
    bed.until(&id, Status::Active).await;

    let active = bed.service.detail(&bed.cora, &id).await.unwrap();
    let steps: Vec<&str> = active.steps.iter().map(|step| step.step.as_str()).collect();
    assert!(
        steps.contains(&"operator resource") && steps.contains(&"configured"),
        "{steps:?}"
    );
    assert!(
        active
            .steps
            .iter()
            .all(|step| step.outcome == "success" && step.duration_ms.is_some()),
        "{:?}",
        active.steps
    );
    audited(&bed, &[("database.create", "success")]).await;
}

#[tokio::test]
async fn a_rotation_keeps_the_database_active_and_the_new_password_out_of_the_audit_log() {
    let bed = bed().await;
    let id = active_database(&bed, "shop").await;
    let password = bed.service.reveal_password(&bed.cora, &id).await.unwrap();
    assert!(password.len() >= 20, "{password}");
    bed.service.rotate_password(&bed.cora, &id).await.unwrap();
    // Desired state: the engine writes the new password, then sets it
    // inside the database; the database stays ACTIVE throughout.
    let rotating = bed.service.detail(&bed.cora, &id).await.unwrap();
    assert_eq!(
        rotating.summary.status,
        Status::Active,
        "a rotation keeps the database ACTIVE"
    );
    bed.until(&id, Status::Active).await;
    let rotated = bed.service.reveal_password(&bed.cora, &id).await.unwrap();
    assert_ne!(password, rotated);
    let configure_runs = bed
        .service
        .detail(&bed.cora, &id)
        .await
        .unwrap()
        .steps
        .iter()
        .filter(|step| step.step == "configuration job")
        .count();
    assert_eq!(
        configure_runs, 2,
        "the rotation ran the configuration again"
    );
    audited(
        &bed,
        &[
            ("database.credential.reveal", "success"),
            ("database.credential.rotate", "success"),
        ],
    )
    .await;
    // The audit log names who saw the password, never the password.
    let events = bed
        .store
        .list_audit(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    for secret in [&password, &rotated] {
        assert!(
            events
                .items
                .iter()
                .all(|event| !event.details.to_string().contains(secret.as_str()))
        );
    }
}

#[tokio::test]
async fn parked_resumed_and_resized_a_database_reaches_each_state() {
    let bed = bed().await;
    let id = active_database(&bed, "shop").await;
    bed.service
        .change(&bed.cora, &id, DatabaseChange::Park, String::new())
        .await
        .unwrap();
    bed.until(&id, Status::Parked).await;
    let message = conflict(
        bed.service
            .change(&bed.cora, &id, DatabaseChange::Park, String::new())
            .await,
    );
    assert!(message.contains("already parked"), "{message}");
    bed.service
        .change(&bed.cora, &id, DatabaseChange::Resume, String::new())
        .await
        .unwrap();
    bed.until(&id, Status::Active).await;

    bed.service
        .change(
            &bed.cora,
            &id,
            DatabaseChange::Resize("small".into()),
            String::new(),
        )
        .await
        .unwrap();
    bed.until(&id, Status::Active).await;
    let resized = bed.service.detail(&bed.cora, &id).await.unwrap();
    assert_eq!(resized.summary.tier, "small");
    audited(
        &bed,
        &[
            ("database.park", "success"),
            ("database.resume", "success"),
            ("database.resize", "success"),
        ],
    )
    .await;
}

#[tokio::test]
async fn terminate_asks_for_the_name_respects_protection_and_keeps_the_record() {
    let bed = bed().await;
    let id = active_database(&bed, "shop").await;
    let protect = |on: bool| {
        bed.service.change(
            &bed.cora,
            &id,
            DatabaseChange::DeletionProtection(on),
            String::new(),
        )
    };
    protect(true).await.unwrap();
    let message = conflict(
        bed.service
            .change(&bed.cora, &id, DatabaseChange::Terminate, "shop".into())
            .await,
    );
    assert!(message.contains("deletion protection"), "{message}");
    protect(false).await.unwrap();
    let message = invalid(
        bed.service
            .change(&bed.cora, &id, DatabaseChange::Terminate, "shp".into())
            .await,
    );
    assert!(message.contains("type the database's name"), "{message}");
    bed.service
        .change(&bed.cora, &id, DatabaseChange::Terminate, "shop".into())
        .await
        .unwrap();
    bed.until(&id, Status::Terminated).await;

    // The row stays as history; nothing changes it any more.
    let gone = bed.service.detail(&bed.cora, &id).await.unwrap();
    assert_eq!(gone.intent, Intent::Terminated);
    let message = conflict(
        bed.service
            .change(&bed.cora, &id, DatabaseChange::Resume, String::new())
            .await,
    );
    assert!(message.contains("terminated"), "{message}");
    // Its name is free for a new database; the terminated one stays.
    let successor = bed
        .service
        .create(&bed.cora, form("shop", "cassandra"))
        .await
        .unwrap();
    assert_ne!(successor, id);
    assert_eq!(
        bed.service.detail(&bed.cora, &id).await.unwrap().intent,
        Intent::Terminated
    );
    audited(
        &bed,
        &[
            ("database.terminate", "denied"),
            ("database.terminate", "success"),
        ],
    )
    .await;
}
