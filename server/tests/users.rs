//! What the account, users and audit pages do, through the service their
//! server functions call, and the users single sign-on creates: on a real
//! SQLite store, with what the audit log says after each step.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use app::accounts::Accounts;
use app::accounts::AuditFilter;
use app::caller::{Caller, ServiceError};
use app::roles::Role;
use server::audit::Actor;
use server::auth::accounts::{self, NewLocalUser};
use server::auth::password;
use server::auth::service::AccountService;
use server::auth::sso::Identity;
use server::auth::sso::config;
use server::auth::sso::provision::{self, Refusal};
use server::store::{self, AuditQuery, NewSession, Store};

mod support;

const PASSWORD: &str = "correct horse battery";

async fn sqlite() -> (Arc<dyn Store>, support::TestDir) {
    support::store().await
}

async fn user(store: &dyn Store, username: &str, role: Role) {
    accounts::create_local_user(
        store,
        &Actor::command_line(),
        NewLocalUser {
            username: username.to_string(),
            display_name: None,
            email: None,
            role,
            password: Some(PASSWORD.to_string()),
        },
    )
    .await
    .unwrap();
}

fn caller(username: &str, role: Role, session: Option<&str>) -> Caller {
    Caller {
        username: Some(username.to_string()),
        role: Some(role),
        session_hash: session.map(str::to_string),
        address: Some("192.0.2.7".to_string()),
        user_id: None,
    }
}

async fn session(store: &dyn Store, username: &str, hash: &str) {
    let user = store.user_by_username(username).await.unwrap();
    let now = chrono::Utc::now();
    store
        .create_session(NewSession {
            token_hash: hash.to_string(),
            user_id: user.id,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            client_address: None,
            user_agent: None,
        })
        .await
        .unwrap();
}

async fn last_event(store: &dyn Store) -> store::AuditEvent {
    store
        .list_audit(&AuditQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .remove(0)
}

#[tokio::test]
async fn changing_my_password_checks_the_old_one_and_ends_my_other_sessions() {
    let (store, _dir) = sqlite().await;
    user(store.as_ref(), "kim", Role::Developer).await;
    session(store.as_ref(), "kim", "here").await;
    session(store.as_ref(), "kim", "elsewhere").await;
    let service = AccountService::new(store.clone(), []);
    let kim = caller("kim", Role::Developer, Some("here"));

    let error = service
        .change_password(&kim, "wrong".into(), "a brand new password".into())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "the current password is wrong");
    assert_eq!(
        last_event(store.as_ref()).await.outcome,
        store::Outcome::Failure
    );

    let error = service
        .change_password(&kim, PASSWORD.into(), "short".into())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("12"), "{error}");

    service
        .change_password(&kim, PASSWORD.into(), "a brand new password".into())
        .await
        .unwrap();
    let stored = store.user_by_username("kim").await.unwrap();
    assert!(password::verify(
        "a brand new password",
        stored.password_hash.as_deref().unwrap()
    ));
    assert!(store.session("here").await.is_ok());
    assert!(matches!(
        store.session("elsewhere").await,
        Err(server::store::StoreError::NotFound)
    ));
    let event = last_event(store.as_ref()).await;
    assert_eq!(event.action, "user.change_password");
    assert_eq!(event.client_address.as_deref(), Some("192.0.2.7"));
    assert!(!event.details.to_string().contains("brand new"));
}

#[tokio::test]
async fn admins_manage_users_but_never_remove_the_last_admin_or_themselves() {
    let (store, _dir) = sqlite().await;
    user(store.as_ref(), "root", Role::Admin).await;
    user(store.as_ref(), "dev", Role::Developer).await;
    let service = AccountService::new(store.clone(), []);
    let root = caller("root", Role::Admin, None);

    let password = service
        .create_user(
            &root,
            " newbie ".into(),
            "New Bie".into(),
            "".into(),
            Role::Customer,
        )
        .await
        .unwrap();
    let newbie = store.user_by_username("newbie").await.unwrap();
    assert!(password::verify(
        &password,
        newbie.password_hash.as_deref().unwrap()
    ));
    assert_eq!(
        (newbie.display_name.as_str(), newbie.email.as_deref()),
        ("New Bie", None)
    );
    let error = service
        .create_user(
            &root,
            "bad name".into(),
            "".into(),
            "".into(),
            Role::Customer,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a valid username"), "{error}");
    let error = service
        .create_user(&root, "DEV".into(), "".into(), "".into(), Role::Customer)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("already exists"), "{error}");

    session(store.as_ref(), "dev", "dev-1").await;
    session(store.as_ref(), "dev", "dev-2").await;
    assert_eq!(service.end_sessions(&root, "dev".into()).await.unwrap(), 2);
    assert_eq!(last_event(store.as_ref()).await.action, "user.end_sessions");

    let error = service
        .delete_user(&root, "root".into())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("your own account"), "{error}");
    let error = service
        .update_user(&root, "root".into(), Role::Developer, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("last active admin"), "{error}");

    service.delete_user(&root, "dev".into()).await.unwrap();
    let event = last_event(store.as_ref()).await;
    assert_eq!(
        (event.action.as_str(), event.target.as_str()),
        ("user.delete", "user:dev")
    );
    let error = service
        .delete_user(&root, "dev".into())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no user named"), "{error}");

    // With a second admin, the first one can go, but the last may not.
    service
        .update_user(&root, "newbie".into(), Role::Admin, false)
        .await
        .unwrap();
    let newbie = caller("newbie", Role::Admin, None);
    service.delete_user(&newbie, "root".into()).await.unwrap();
    let listed = service.list_users(String::new(), 1).await.unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].username, "newbie");
    assert_eq!(listed.items[0].signs_in_with, "password");
}

#[tokio::test]
async fn the_users_list_is_searched_and_paged_on_the_server() {
    let (store, _dir) = sqlite().await;
    for index in 0..30 {
        user(store.as_ref(), &format!("user{index:02}"), Role::Customer).await;
    }
    user(store.as_ref(), "zed", Role::Developer).await;
    let service = AccountService::new(store.clone(), []);
    let first = service.list_users(String::new(), 1).await.unwrap();
    assert_eq!((first.total, first.items.len(), first.pages()), (31, 25, 2));
    let second = service.list_users(String::new(), 2).await.unwrap();
    assert_eq!(second.items.len(), 6);
    assert_eq!(second.items.last().unwrap().username, "zed");
    let found = service.list_users("ZE".into(), 1).await.unwrap();
    assert_eq!(found.total, 1);
}

#[tokio::test]
async fn the_audit_list_filters_and_explains_a_bad_time() {
    let (store, _dir) = sqlite().await;
    user(store.as_ref(), "root", Role::Admin).await;
    user(store.as_ref(), "dev", Role::Developer).await;
    let service = AccountService::new(store.clone(), []);
    let creations = service
        .list_audit(
            AuditFilter {
                action: Some("user.create".into()),
                target: Some("user:d".into()),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap();
    assert_eq!(creations.items.len(), 1);
    assert_eq!(creations.items[0].target, "user:dev");
    let error = service
        .list_audit(
            AuditFilter {
                since: Some("last tuesday".into()),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("from:"), "{error}");
}

fn corp() -> config::ProviderConfig {
    let file = "providers:\n  - id: corp\n    name: Corp SSO\n    issuer: http://127.0.0.1:9400\n    client_id: portal\n    roles:\n      admin: [portal-admins]\n      developer: [developers]\n";
    config::parse(file).unwrap().providers.remove(0)
}

fn identity(subject: &str, username: &str, groups: &[&str]) -> Identity {
    Identity {
        provider: "corp".to_string(),
        issuer: "http://127.0.0.1:9400".to_string(),
        subject: subject.to_string(),
        username_hint: username.to_string(),
        display_name: Some(format!("{username} from Corp")),
        email: Some(format!("{username}@corp.test")),
        groups: groups.iter().map(|group| group.to_string()).collect(),
        groups_from_userinfo: false,
    }
}

#[tokio::test]
async fn single_sign_on_creates_users_keyed_by_issuer_and_subject_with_mapped_roles() {
    let (store, _dir) = sqlite().await;
    let corp = corp();
    let alice = provision::user_for(
        store.as_ref(),
        &identity("s-1", "alice", &["developers"]),
        &corp,
        "192.0.2.1",
    )
    .await
    .unwrap();
    assert_eq!(alice.role, Role::Developer);
    assert!(alice.password_hash.is_none());

    // The same subject with new groups and a new name: the same user, updated.
    let again = provision::user_for(
        store.as_ref(),
        &identity("s-1", "alice-renamed", &["portal-admins"]),
        &corp,
        "192.0.2.1",
    )
    .await
    .unwrap();
    assert_eq!(again.id, alice.id);
    assert_eq!(again.username, "alice");
    assert_eq!(again.role, Role::Admin);
    assert_eq!(
        last_event(store.as_ref()).await.action,
        "user.update_access"
    );

    // A local user already has the name: the SSO user gets it with the provider.
    user(store.as_ref(), "bob", Role::Customer).await;
    let bob = provision::user_for(
        store.as_ref(),
        &identity("s-2", "bob", &["developers"]),
        &corp,
        "192.0.2.1",
    )
    .await
    .unwrap();
    assert_eq!(bob.username, "bob@corp");

    // No mapped group and no default role: refused, and the refusal audited.
    let refused = provision::user_for(
        store.as_ref(),
        &identity("s-3", "carol", &["sales"]),
        &corp,
        "192.0.2.1",
    )
    .await;
    assert!(matches!(refused, Err(Refusal::NoRole)));
    assert_eq!(
        last_event(store.as_ref()).await.outcome,
        store::Outcome::Denied
    );
    assert!(matches!(
        store.user_by_username("carol").await,
        Err(server::store::StoreError::NotFound)
    ));

    // A disabled SSO user stays out.
    accounts::set_access(
        store.as_ref(),
        &Actor::command_line(),
        "bob@corp",
        Role::Developer,
        true,
    )
    .await
    .unwrap();
    let refused = provision::user_for(
        store.as_ref(),
        &identity("s-2", "bob", &["developers"]),
        &corp,
        "192.0.2.1",
    )
    .await;
    assert!(matches!(refused, Err(Refusal::Disabled)));

    let service = AccountService::new(
        store.clone(),
        [("http://127.0.0.1:9400/".to_string(), "Corp SSO".to_string())],
    );
    let listed = service.list_users("alice".into(), 1).await.unwrap();
    assert_eq!(listed.items[0].signs_in_with, "Corp SSO");
    assert!(listed.items[0].single_sign_on);
    let error = service
        .change_password(
            &caller("alice", Role::Admin, None),
            "x".into(),
            "y".repeat(12),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("single sign-on"), "{error}");
}

/// The provider drops the portal's only admin from its admin group: the
/// sign-in is refused (the old role would ignore the provider; the new one
/// would leave nobody to manage the portal), audited, and the role stays.
#[tokio::test]
async fn single_sign_on_never_demotes_the_last_active_admin() {
    let (store, _dir) = sqlite().await;
    let corp = corp();
    let alice = provision::user_for(
        store.as_ref(),
        &identity("s-1", "alice", &["portal-admins"]),
        &corp,
        "192.0.2.1",
    )
    .await
    .unwrap();
    assert_eq!(alice.role, Role::Admin);
    let refused = provision::user_for(
        store.as_ref(),
        &identity("s-1", "alice", &["developers"]),
        &corp,
        "192.0.2.1",
    )
    .await;
    assert!(matches!(refused, Err(Refusal::LastAdmin)), "{refused:?}");
    let event = last_event(store.as_ref()).await;
    assert_eq!(
        (event.action.as_str(), event.outcome),
        ("user.update_access", store::Outcome::Denied)
    );
    assert_eq!(store.user_by_id(alice.id).await.unwrap().role, Role::Admin);

    // Once another admin exists, the provider's word holds again.
    user(store.as_ref(), "root", Role::Admin).await;
    let demoted = provision::user_for(
        store.as_ref(),
        &identity("s-1", "alice", &["developers"]),
        &corp,
        "192.0.2.1",
    )
    .await
    .unwrap();
    assert_eq!(demoted.role, Role::Developer);
    let event = last_event(store.as_ref()).await;
    assert_eq!(
        (event.action.as_str(), event.outcome),
        ("user.update_access", store::Outcome::Success)
    );
}

/// Roles follow the provider within `--sso-groups-max-age-hours`: a
/// single-sign-on session ends then (and the next sign-in reads the groups
/// again), even when sessions may otherwise live longer.
#[tokio::test]
async fn single_sign_on_sessions_end_when_their_groups_are_too_old() {
    use server::auth::session::{Lifetimes, token_hash};
    use server::auth::sign_in::Authenticator;
    use std::time::Duration;
    let (store, _dir) = sqlite().await;
    user(store.as_ref(), "dora", Role::Developer).await;
    let dora = store.user_by_username("dora").await.unwrap();
    let auth = Authenticator::new(
        store.clone(),
        Lifetimes {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(48 * 3600),
            sso_groups: Duration::from_secs(3600),
        },
    );
    let lifetime = |token: String| {
        let store = store.clone();
        async move {
            let session = store.session(&token_hash(&token)).await.unwrap();
            (session.expires_at - session.created_at).num_minutes()
        }
    };
    let sso = auth
        .open_sso_session(&dora, "192.0.2.1", None)
        .await
        .unwrap();
    assert_eq!(lifetime(sso).await, 60);
    let local = auth
        .open_session(&dora, "192.0.2.1", None, "session.sign_in")
        .await
        .unwrap();
    assert_eq!(lifetime(local).await, 48 * 60);
}

/// A real SQLite trigger refuses audit writes, as a full disk would: every
/// change to a user is refused with it (where it used to be made and its
/// record lost), and nothing about the user changes.
#[tokio::test]
async fn user_changes_whose_audit_event_cannot_be_written_are_not_made() {
    let (store, dir) = sqlite().await;
    user(store.as_ref(), "root", Role::Admin).await;
    user(store.as_ref(), "dev", Role::Developer).await;
    session(store.as_ref(), "dev", "dev-1").await;
    session(store.as_ref(), "root", "root-1").await;
    let service = AccountService::new(store.clone(), []);
    let root = caller("root", Role::Admin, Some("root-1"));
    let _refusing = dir.refuse_audit_writes().await;

    let before = store.user_by_username("dev").await.unwrap();
    let unavailable = |result: Result<(), ServiceError>, what: &str| {
        assert!(
            matches!(&result, Err(ServiceError::Unavailable(_))),
            "{what}: {result:?}"
        );
    };
    unavailable(
        service
            .create_user(&root, "newbie".into(), "".into(), "".into(), Role::Customer)
            .await
            .map(|_| ()),
        "create",
    );
    unavailable(
        service
            .update_user(&root, "dev".into(), Role::Customer, true)
            .await,
        "role and disable",
    );
    unavailable(
        service.end_sessions(&root, "dev".into()).await.map(|_| ()),
        "end sessions",
    );
    unavailable(service.delete_user(&root, "dev".into()).await, "delete");
    unavailable(
        service
            .change_password(&root, PASSWORD.into(), "a brand new passphrase".into())
            .await,
        "change password",
    );
    let reset = accounts::reset_password(store.as_ref(), &Actor::command_line(), "dev", None).await;
    assert!(
        matches!(
            reset,
            Err(accounts::AccountError::Store(store::StoreError::Database(
                _
            )))
        ),
        "{reset:?}"
    );

    assert!(matches!(
        store.user_by_username("newbie").await,
        Err(store::StoreError::NotFound)
    ));
    let after = store.user_by_username("dev").await.unwrap();
    assert_eq!(
        (after.role, after.disabled, after.password_hash),
        (before.role, before.disabled, before.password_hash)
    );
    assert!(store.session("dev-1").await.is_ok(), "dev's session stays");
    let root_after = store.user_by_username("root").await.unwrap();
    assert!(password::verify(
        PASSWORD,
        root_after.password_hash.as_deref().unwrap()
    ));
}
