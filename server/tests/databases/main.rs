//! Databases as customers use them, through the service the server functions
//! call, with the provisioning engine on the sandbox: create (and its bad
//! input), the whole lifecycle, credentials, and that no customer ever sees
//! or touches another customer's database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use app::caller::{Caller, ServiceError};
use app::databases::Databases;
use app::databases::{DatabaseChange, Intent, NewDatabaseForm, Status};
use app::roles::Role;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ListParams};
use sandbox::{Behaviour, Sandbox};
use server::databases::DatabaseService;
use server::provisioning::RegionConnection;
use server::provisioning::engine::ProvisioningEngine;
use server::provisioning::objects;
use server::store::{AuditQuery, Store};

#[path = "../support/mod.rs"]
mod support;

mod lifecycle;

struct Bed {
    store: Arc<dyn Store>,
    service: DatabaseService,
    engine: ProvisioningEngine,
    cora: Caller,
    carl: Caller,
    ada: Caller,
    _sandbox: Sandbox,
    _dir: support::TestDir,
}

/// A sandbox cluster with quick simulated operators, and a client for it.
fn cluster() -> (Sandbox, Client) {
    let sandbox = Sandbox::with_controllers(Behaviour {
        operator_ready: Duration::from_millis(200),
        job_run: Duration::from_millis(50),
        ..Behaviour::default()
    });
    sandbox.install_operator_crds();
    let client = Client::new(sandbox.router(), "default");
    (sandbox, client)
}

async fn bed() -> Bed {
    let (sandbox, client) = cluster();
    let (store, dir) = support::store().await;
    let mut callers = Vec::new();
    for (username, role) in [
        ("cora", Role::Customer),
        ("carl", Role::Customer),
        ("ada", Role::Admin),
    ] {
        let user = support::user(store.as_ref(), username, role).await;
        callers.push(Caller {
            username: Some(username.into()),
            role: Some(role),
            session_hash: None,
            address: Some("192.0.2.9".into()),
            user_id: Some(user.id.to_string()),
        });
    }
    let engine = ProvisioningEngine::new(store.clone(), client.clone());
    let service = DatabaseService::new(
        store.clone(),
        vec![RegionConnection {
            name: "local".into(),
            client,
            engine: engine.handle(),
            outside: server::cluster::OutsideAddress::None,
        }],
    );
    let mut callers = callers.into_iter();
    Bed {
        store,
        service,
        engine,
        cora: callers.next().unwrap(),
        carl: callers.next().unwrap(),
        ada: callers.next().unwrap(),
        _sandbox: sandbox,
        _dir: dir,
    }
}

fn form(name: &str, engine: &str) -> NewDatabaseForm {
    NewDatabaseForm {
        name: name.into(),
        engine: engine.into(),
        schema_name: String::new(),
        tier: "starter".into(),
        region: "local".into(),
        request_key: String::new(),
    }
}

impl Bed {
    /// Runs the engine until the database reports `status`, settled.
    async fn until(&self, id: &str, status: Status) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let _ = self.engine.pass().await;
            let detail = self.service.detail(&self.cora, id).await.unwrap();
            if detail.summary.status == status && detail.settled {
                return;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        let detail = self.service.detail(&self.cora, id).await.unwrap();
        panic!(
            "never {status}: {:?} ({:?})",
            detail.summary.status, detail.status_message
        );
    }

    async fn audit_actions(&self) -> Vec<(String, String)> {
        self.store
            .list_audit(&AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|event| (event.action, event.outcome.as_str().to_string()))
            .collect()
    }
}

fn invalid(result: Result<impl std::fmt::Debug, ServiceError>) -> String {
    match result {
        Err(ServiceError::Invalid(message)) => message,
        other => panic!("expected a refusal for bad input, got {other:?}"),
    }
}

/// A refusal because of the database as it stands (HTTP 409).
fn conflict(result: Result<impl std::fmt::Debug, ServiceError>) -> String {
    match result {
        Err(error @ ServiceError::Conflict(_)) => {
            assert_eq!(error.status(), 409);
            error.message().to_string()
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_create_input_is_refused_with_the_reason_and_creates_nothing() {
    let bed = bed().await;
    let cases = [
        (form("Orders", "cassandra"), "lowercase"),
        (form(&"x".repeat(41), "cassandra"), "at most 40"),
        (form("orders", "mysql"), "unknown engine"),
        (
            NewDatabaseForm {
                tier: "huge".into(),
                ..form("orders", "cassandra")
            },
            "unknown size",
        ),
        (
            NewDatabaseForm {
                region: "mars".into(),
                ..form("orders", "cassandra")
            },
            "unknown region",
        ),
        (
            NewDatabaseForm {
                schema_name: "system_auth".into(),
                ..form("orders", "cassandra")
            },
            "reserved",
        ),
    ];
    for (bad, expected) in cases {
        let message = invalid(bed.service.create(&bed.cora, bad.clone()).await);
        assert!(message.contains(expected), "{bad:?}: {message}");
    }
    let list = bed
        .service
        .list(&bed.cora, String::new(), None, 1)
        .await
        .unwrap();
    assert_eq!(list.total, 0);

    bed.service
        .create(&bed.cora, form("orders", "cassandra"))
        .await
        .unwrap();
    let message = conflict(
        bed.service
            .create(&bed.cora, form("orders", "postgresql"))
            .await,
    );
    assert!(
        message.contains("already have a database named"),
        "{message}"
    );
    // Another customer may use the same name.
    bed.service
        .create(&bed.carl, form("orders", "postgresql"))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_same_form_sent_twice_creates_one_database() {
    let bed = bed().await;
    let once = NewDatabaseForm {
        request_key: "form-7f3a".into(),
        ..form("orders", "postgresql")
    };
    let first = bed.service.create(&bed.cora, once.clone()).await.unwrap();
    let second = bed.service.create(&bed.cora, once).await.unwrap();
    assert_eq!(first, second);
    let list = bed
        .service
        .list(&bed.cora, String::new(), None, 1)
        .await
        .unwrap();
    assert_eq!(list.total, 1);
    // One database, one "created" in the audit log.
    let creates = bed
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _)| action == "database.create")
        .count();
    assert_eq!(creates, 1);
}

/// The audit log refusing writes (a real SQLite trigger, as a full disk or
/// a lost database would): the password stays hidden, and is shown again
/// once the log can say who saw it.
#[tokio::test]
async fn no_password_is_shown_when_the_audit_log_cannot_record_who_saw_it() {
    let bed = bed().await;
    let id = bed
        .service
        .create(&bed.cora, form("ledger", "postgresql"))
        .await
        .unwrap();
    bed.until(&id, Status::Active).await;
    let refusal = bed._dir.refuse_audit_writes().await;
    let refused = bed.service.reveal_password(&bed.cora, &id).await;
    assert_eq!(
        refused,
        Err(ServiceError::Unavailable(
            "the audit log cannot be written right now, so the password is not shown: try again shortly".into()
        ))
    );
    refusal.lift().await;
    let password = bed.service.reveal_password(&bed.cora, &id).await.unwrap();
    assert!(password.len() >= 20);
    let reveals = bed
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _)| action == "database.credential.reveal")
        .count();
    assert_eq!(reveals, 1, "one reveal, one record");
}

#[tokio::test]
async fn customers_never_see_or_touch_each_others_databases() {
    let bed = bed().await;
    let coras = bed
        .service
        .create(&bed.cora, form("ledger", "postgresql"))
        .await
        .unwrap();
    bed.service
        .create(&bed.carl, form("carts", "cassandra"))
        .await
        .unwrap();
    bed.until(&coras, Status::Active).await;

    let carls_view = bed
        .service
        .list(&bed.carl, String::new(), None, 1)
        .await
        .unwrap();
    assert_eq!(
        carls_view
            .items
            .iter()
            .map(|item| item.name.as_str())
            .collect::<Vec<_>>(),
        ["carts"]
    );
    assert!(carls_view.items.iter().all(|item| item.owner.is_none()));

    // Every way in answers "not found", exactly like an id that does not exist.
    let not_found = |result: Result<(), ServiceError>| match result {
        Err(ServiceError::NotFound(message)) => message,
        other => panic!("expected not found, got {other:?}"),
    };
    not_found(bed.service.detail(&bed.carl, &coras).await.map(|_| ()));
    not_found(
        bed.service
            .reveal_password(&bed.carl, &coras)
            .await
            .map(|_| ()),
    );
    not_found(bed.service.rotate_password(&bed.carl, &coras).await);
    for change in [
        DatabaseChange::Park,
        DatabaseChange::Resize("large".into()),
        DatabaseChange::DeletionProtection(true),
        DatabaseChange::Terminate,
    ] {
        not_found(
            bed.service
                .change(&bed.carl, &coras, change, "ledger".into())
                .await,
        );
    }
    not_found(
        bed.service
            .detail(&bed.carl, "0192f000-0000-7000-8000-000000000000")
            .await
            .map(|_| ()),
    );
    not_found(
        bed.service
            .detail(&bed.carl, "not-a-uuid")
            .await
            .map(|_| ()),
    );
    let unchanged = bed.service.detail(&bed.cora, &coras).await.unwrap();
    assert_eq!(unchanged.summary.status, Status::Active);
    assert_eq!(unchanged.intent, Intent::Running);

    // Admins see everyone's, with the owner.
    let everyone = bed
        .service
        .list(&bed.ada, String::new(), None, 1)
        .await
        .unwrap();
    let mut owners: Vec<_> = everyone
        .items
        .iter()
        .map(|item| (item.name.clone(), item.owner.clone().unwrap()))
        .collect();
    owners.sort();
    assert_eq!(
        owners,
        [
            ("carts".to_string(), "carl".to_string()),
            ("ledger".to_string(), "cora".to_string())
        ]
    );
    assert!(bed.service.detail(&bed.ada, &coras).await.is_ok());
}

#[tokio::test]
async fn later_databases_get_an_estimate_from_earlier_provisions() {
    let bed = bed().await;
    let first = bed
        .service
        .create(&bed.cora, form("first", "postgresql"))
        .await
        .unwrap();
    assert_eq!(
        bed.service
            .detail(&bed.cora, &first)
            .await
            .unwrap()
            .estimate_seconds,
        None,
        "no history, no estimate"
    );
    bed.until(&first, Status::Active).await;
    let second = bed
        .service
        .create(&bed.cora, form("second", "postgresql"))
        .await
        .unwrap();
    let estimate = bed
        .service
        .detail(&bed.cora, &second)
        .await
        .unwrap()
        .estimate_seconds;
    assert!(matches!(estimate, Some(1..=5)), "{estimate:?}");
    // Another engine has no history yet.
    let other = bed
        .service
        .create(&bed.cora, form("third", "cassandra"))
        .await
        .unwrap();
    assert_eq!(
        bed.service
            .detail(&bed.cora, &other)
            .await
            .unwrap()
            .estimate_seconds,
        None
    );
}

#[tokio::test]
async fn each_database_is_provisioned_on_the_cluster_of_its_region() {
    let bed = bed().await;
    let (_eu_sandbox, eu) = cluster();
    let (_us_sandbox, us) = cluster();
    let eu_engine = ProvisioningEngine::new(bed.store.clone(), eu.clone()).for_region("eu-west");
    let us_engine = ProvisioningEngine::new(bed.store.clone(), us.clone()).for_region("us-east");
    let service = DatabaseService::new(
        bed.store.clone(),
        vec![
            RegionConnection {
                name: "eu-west".into(),
                client: eu.clone(),
                engine: eu_engine.handle(),
                outside: server::cluster::OutsideAddress::Template(
                    "{name}.eu-west.db.example.com".into(),
                ),
            },
            RegionConnection {
                name: "us-east".into(),
                client: us.clone(),
                engine: us_engine.handle(),
                outside: server::cluster::OutsideAddress::None,
            },
        ],
    );

    // Only the configured regions are offered.
    let message = invalid(service.create(&bed.cora, form("orders", "cassandra")).await);
    assert!(
        message.contains(r#"unknown region "local": choose eu-west, us-east"#),
        "{message}"
    );
    let in_region = |name: &str, engine: &str, region: &str| NewDatabaseForm {
        region: region.into(),
        ..form(name, engine)
    };
    let orders = service
        .create(&bed.cora, in_region("orders", "cassandra", "eu-west"))
        .await
        .unwrap();
    let ledger = service
        .create(&bed.cora, in_region("ledger", "postgresql", "us-east"))
        .await
        .unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let _ = eu_engine.pass().await;
        let _ = us_engine.pass().await;
        let mut active = true;
        for id in [&orders, &ledger] {
            let detail = service.detail(&bed.cora, id).await.unwrap();
            active &= detail.summary.status == Status::Active && detail.settled;
        }
        if active {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never both ACTIVE");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }

    // Each cluster holds its own region's database and nothing of the other.
    let databases_on = |client: Client| async move {
        let namespaces: Api<Namespace> = Api::all(client);
        namespaces
            .list(&ListParams::default().labels(objects::DATABASE_LABEL))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|namespace| namespace.metadata.labels?.remove(objects::DATABASE_LABEL))
            .collect::<Vec<_>>()
    };
    assert_eq!(databases_on(eu).await, vec![orders.clone()]);
    assert_eq!(databases_on(us).await, vec![ledger.clone()]);
    let detail = service.detail(&bed.cora, &orders).await.unwrap();
    assert_eq!(detail.summary.region, "eu-west");
    // Each region says how clients outside its cluster reach it.
    assert_eq!(
        detail.connection.outside,
        app::databases::Outside::Address("orders.eu-west.db.example.com:9042".into())
    );
    let elsewhere = service.detail(&bed.cora, &ledger).await.unwrap();
    assert_eq!(
        elsewhere.connection.outside,
        app::databases::Outside::NotConfigured
    );

    // The credentials are read from the database's own cluster.
    for id in [&orders, &ledger] {
        let password = service.reveal_password(&bed.cora, id).await.unwrap();
        assert!(password.len() >= 20, "a generated password");
    }
}
