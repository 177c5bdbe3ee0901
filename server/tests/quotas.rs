//! Quotas through the service the server functions call: only admins set
//! them, customers see theirs, and a create or resize over it is refused
//! (409) with the reason and audited as denied. Also: a database change and
//! its audit event are one write, so a log that cannot be written stops the
//! change instead of losing its record.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use app::caller::{Caller, ServiceError};
use app::databases::{DatabaseChange, Databases, NewDatabaseForm, Quota};
use app::roles::Role;
use server::databases::DatabaseService;
use server::store::{AuditQuery, Store};

mod support;

struct Bed {
    store: Arc<dyn Store>,
    service: DatabaseService,
    cora: Caller,
    ada: Caller,
    dir: support::TestDir,
}

async fn bed() -> Bed {
    let (store, dir) = support::store().await;
    let mut callers = Vec::new();
    for (username, role) in [("cora", Role::Customer), ("ada", Role::Admin)] {
        let user = support::user(store.as_ref(), username, role).await;
        callers.push(Caller {
            username: Some(username.into()),
            role: Some(role),
            session_hash: None,
            address: Some("192.0.2.9".into()),
            user_id: Some(user.id.to_string()),
        });
    }
    // No cluster: desired state waits in the store, which is all a quota is about.
    let service = DatabaseService::new(store.clone(), Vec::new());
    let mut callers = callers.into_iter();
    Bed {
        store,
        service,
        cora: callers.next().unwrap(),
        ada: callers.next().unwrap(),
        dir,
    }
}

fn form(name: &str, tier: &str) -> NewDatabaseForm {
    NewDatabaseForm {
        name: name.into(),
        engine: "postgresql".into(),
        schema_name: String::new(),
        tier: tier.into(),
        region: "local".into(),
        request_key: String::new(),
    }
}

fn quota(databases: u32, vcpu: u64) -> Quota {
    Quota {
        databases,
        cpu_millis: vcpu * 1000,
        memory_mib: 64 * 1024,
        storage_gib: 1_000,
    }
}

impl Bed {
    async fn events(&self, action: &str) -> Vec<(String, String, serde_json::Value)> {
        self.store
            .list_audit(&AuditQuery {
                action: Some(action.into()),
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|event| {
                (
                    event.target,
                    event.outcome.as_str().to_string(),
                    event.details,
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn only_admins_set_quotas_and_customers_see_theirs() {
    let bed = bed().await;
    let refused = bed
        .service
        .set_quota(&bed.cora, Some("cora".into()), Some(quota(100, 100)))
        .await;
    assert!(
        matches!(refused, Err(ServiceError::Forbidden(_))),
        "{refused:?}"
    );
    assert!(matches!(
        bed.service.quota_board(&bed.cora, 1).await,
        Err(ServiceError::Forbidden(_))
    ));
    let view = bed.service.quota(&bed.cora).await.unwrap();
    assert_eq!((view.quota, view.own), (Quota::DEFAULT, false));

    bed.service
        .set_quota(&bed.ada, Some("cora".into()), Some(quota(1, 8)))
        .await
        .unwrap();
    let view = bed.service.quota(&bed.cora).await.unwrap();
    assert_eq!((view.quota, view.own), (quota(1, 8), true));
    let board = bed.service.quota_board(&bed.ada, 1).await.unwrap();
    assert_eq!(board.default, Quota::DEFAULT);
    assert_eq!(board.customers.len(), 1);
    assert_eq!(board.customers[0].username, "cora");

    let unknown = bed
        .service
        .set_quota(&bed.ada, Some("nobody".into()), Some(quota(1, 1)))
        .await;
    assert!(
        matches!(unknown, Err(ServiceError::NotFound(_))),
        "{unknown:?}"
    );
    let no_default = bed.service.set_quota(&bed.ada, None, None).await;
    assert!(
        matches!(no_default, Err(ServiceError::Invalid(_))),
        "{no_default:?}"
    );

    bed.service
        .set_quota(&bed.ada, None, Some(quota(4, 40)))
        .await
        .unwrap();
    bed.service
        .set_quota(&bed.ada, Some("cora".into()), None)
        .await
        .unwrap();
    let view = bed.service.quota(&bed.cora).await.unwrap();
    assert_eq!((view.quota, view.own), (quota(4, 40), false));

    let set = bed.events("quota.set").await;
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].0, "user:cora");
    assert_eq!(set[0].2["before"], "the default");
    assert_eq!(bed.events("quota.remove").await.len(), 1);
    let default = bed.events("quota.set_default").await;
    assert_eq!(default.len(), 1);
    assert_eq!(
        default[0].2["after"],
        "4 databases · 40 vCPU · 64 GiB memory · 1000 GiB storage"
    );
}

#[tokio::test]
async fn creates_and_resizes_over_the_quota_are_refused_with_the_reason() {
    let bed = bed().await;
    bed.service
        .set_quota(&bed.ada, Some("cora".into()), Some(quota(2, 4)))
        .await
        .unwrap();
    let id = bed
        .service
        .create(&bed.cora, form("orders", "small"))
        .await
        .unwrap();
    let refused = bed.service.create(&bed.cora, form("ledger", "small")).await;
    match &refused {
        Err(error @ ServiceError::Conflict(reason)) => {
            assert_eq!(error.status(), 409);
            assert!(
                reason.contains("CPU would be 6 vCPU of your 4 vCPU"),
                "{reason}"
            );
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    let denied = bed.events("database.create").await;
    assert_eq!(
        denied
            .iter()
            .map(|(_, outcome, _)| outcome.as_str())
            .collect::<Vec<_>>(),
        ["denied", "success"]
    );
    assert!(
        denied[0].2["reason"]
            .as_str()
            .unwrap()
            .contains("over your quota")
    );
    let list = bed
        .service
        .list(&bed.cora, String::new(), None, 1)
        .await
        .unwrap();
    assert_eq!(list.total, 1);

    let resize = bed
        .service
        .change(
            &bed.cora,
            &id,
            DatabaseChange::Resize("medium".into()),
            String::new(),
        )
        .await;
    assert!(
        matches!(resize, Err(ServiceError::Conflict(_))),
        "{resize:?}"
    );
    let resizes = bed.events("database.resize").await;
    assert_eq!(resizes.len(), 1);
    assert_eq!(resizes[0].1, "denied");
    // What fits still goes through.
    bed.service
        .change(
            &bed.cora,
            &id,
            DatabaseChange::Resize("starter".into()),
            String::new(),
        )
        .await
        .unwrap();
    let view = bed.service.quota(&bed.cora).await.unwrap();
    assert_eq!(view.usage.cpu_millis, 500);
    assert_eq!(view.sizes_left(), ["starter", "small"]);
}

/// A real SQLite trigger refuses audit writes, as a full disk would: the
/// change is refused with it, where it used to be made and its record lost.
#[tokio::test]
async fn a_change_whose_audit_event_cannot_be_written_is_not_made() {
    let bed = bed().await;
    let id = bed
        .service
        .create(&bed.cora, form("orders", "starter"))
        .await
        .unwrap();
    let _refusing = bed.dir.refuse_audit_writes().await;

    let create = bed
        .service
        .create(&bed.cora, form("ledger", "starter"))
        .await;
    assert!(
        matches!(create, Err(ServiceError::Unavailable(_))),
        "{create:?}"
    );
    let park = bed
        .service
        .change(&bed.cora, &id, DatabaseChange::Park, String::new())
        .await;
    assert!(
        matches!(park, Err(ServiceError::Unavailable(_))),
        "{park:?}"
    );
    let quota_change = bed
        .service
        .set_quota(&bed.ada, Some("cora".into()), Some(quota(1, 1)))
        .await;
    assert!(matches!(quota_change, Err(ServiceError::Unavailable(_))));

    let list = bed
        .service
        .list(&bed.cora, String::new(), None, 1)
        .await
        .unwrap();
    assert_eq!(list.total, 1, "the refused create left no database");
    let detail = bed.service.detail(&bed.cora, &id).await.unwrap();
    assert_eq!(detail.intent, app::databases::Intent::Running);
    assert!(!bed.service.quota(&bed.cora).await.unwrap().own);
}
