//! Local accounts: the first admin, creating users and resetting passwords,
//! with what the audit log keeps (and never keeps: a password).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::Write;
use std::process::{Command, Stdio};

use app::roles::Role;
use server::audit::Actor;
use server::auth::accounts::{self, FIRST_ADMIN, NewLocalUser};
use server::auth::password;
use server::store::{self, AuditQuery, NewSession};

mod support;

async fn sqlite() -> (std::sync::Arc<dyn store::Store>, support::TestDir) {
    support::store().await
}

#[tokio::test]
async fn the_first_start_creates_one_admin_with_a_password_that_works() {
    let (store, _dir) = sqlite().await;
    let password = accounts::ensure_first_admin(store.as_ref())
        .await
        .unwrap()
        .unwrap();
    let admin = store.user_by_username(FIRST_ADMIN).await.unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(password::verify(
        &password,
        admin.password_hash.as_deref().unwrap()
    ));
    // Only on an empty store.
    assert_eq!(
        accounts::ensure_first_admin(store.as_ref()).await.unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn a_reset_ends_sessions_and_is_audited_without_the_password() {
    let (store, _dir) = sqlite().await;
    let actor = Actor::command_line();
    let (kim, first) = accounts::create_local_user(
        store.as_ref(),
        &actor,
        NewLocalUser {
            username: "kim".to_string(),
            display_name: None,
            email: None,
            role: Role::Developer,
            password: None,
        },
    )
    .await
    .unwrap();
    let first = first.unwrap();
    let now = chrono::Utc::now();
    store
        .create_session(NewSession {
            token_hash: "kim-session".to_string(),
            user_id: kim.id,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            client_address: None,
            user_agent: None,
        })
        .await
        .unwrap();

    let second = accounts::reset_password(store.as_ref(), &actor, "KIM", None)
        .await
        .unwrap()
        .unwrap();
    let kim = store.user_by_id(kim.id).await.unwrap();
    assert!(password::verify(
        &second,
        kim.password_hash.as_deref().unwrap()
    ));
    assert!(!password::verify(
        &first,
        kim.password_hash.as_deref().unwrap()
    ));
    assert!(
        store.session("kim-session").await.is_err(),
        "the reset ended the session"
    );

    let log = store
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = log
        .items
        .iter()
        .map(|event| event.action.as_str())
        .collect();
    assert_eq!(actions, ["user.reset_password", "user.create"]);
    let everything = serde_json::to_string(&log.items).unwrap();
    assert!(
        !everything.contains(&first) && !everything.contains(&second),
        "no password in the audit log"
    );
    assert!(everything.contains("portal-cli"));

    let unknown = accounts::reset_password(store.as_ref(), &actor, "nobody", None)
        .await
        .unwrap_err();
    assert_eq!(unknown.to_string(), "there is no user named \"nobody\"");
}

fn portal(data_dir: &std::path::Path, arguments: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn portal_admin_creates_users_and_resets_passwords_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = portal(
        dir.path(),
        &["admin", "create-user", "kim", "--role", "developer"],
        None,
    );
    assert!(ok, "{out}");
    assert!(out.contains("created developer kim"), "{out}");
    let password = out
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .unwrap();
    assert_eq!(password.len(), 24);

    let (ok, out) = portal(
        dir.path(),
        &["admin", "create-user", "kim", "--role", "customer"],
        None,
    );
    assert!(!ok);
    assert!(out.contains("already exists"), "{out}");
    let (ok, out) = portal(
        dir.path(),
        &["admin", "create-user", "lee", "--role", "boss"],
        None,
    );
    assert!(!ok);
    assert!(
        out.contains("expected one of admin, developer, customer"),
        "{out}"
    );
    let (ok, out) = portal(
        dir.path(),
        &["admin", "reset-password", "kim", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!ok);
    assert!(out.contains("at least 12 characters"), "{out}");
    let (ok, out) = portal(
        dir.path(),
        &["admin", "reset-password", "kim", "--password-stdin"],
        Some("a long enough secret\n"),
    );
    assert!(ok, "{out}");
    assert!(
        !out.contains("password: "),
        "a chosen password is not echoed: {out}"
    );
    let (ok, out) = portal(dir.path(), &["admin", "reset-password", "nobody"], None);
    assert!(!ok);
    assert!(out.contains("there is no user named \"nobody\""), "{out}");
}

#[tokio::test]
async fn role_changes_and_disabling_end_sessions_and_spare_the_last_admin() {
    let (store, _dir) = sqlite().await;
    let actor = Actor::command_line();
    accounts::ensure_first_admin(store.as_ref()).await.unwrap();
    let (kim, _) = accounts::create_local_user(
        store.as_ref(),
        &actor,
        NewLocalUser {
            username: "kim".to_string(),
            display_name: None,
            email: None,
            role: Role::Developer,
            password: None,
        },
    )
    .await
    .unwrap();
    let session = |name: &str, user_id| NewSession {
        token_hash: name.to_string(),
        user_id,
        created_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        client_address: None,
        user_agent: None,
    };
    store
        .create_session(session("kim-1", kim.id))
        .await
        .unwrap();

    let promoted = accounts::set_access(store.as_ref(), &actor, "kim", Role::Admin, false)
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert!(
        store.session("kim-1").await.is_err(),
        "a role change ends the user's sessions"
    );

    store
        .create_session(session("kim-2", kim.id))
        .await
        .unwrap();
    let disabled = accounts::set_access(store.as_ref(), &actor, "kim", Role::Admin, true)
        .await
        .unwrap();
    assert!(disabled.disabled);
    assert!(
        store.session("kim-2").await.is_err(),
        "disabling ends the user's sessions"
    );

    // Kim is disabled: the first admin is the last active one.
    let refused = accounts::set_access(store.as_ref(), &actor, FIRST_ADMIN, Role::Developer, false)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "\"admin\" is the last active admin: make another user admin first"
    );
    let refused = accounts::set_access(store.as_ref(), &actor, FIRST_ADMIN, Role::Admin, true)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "\"admin\" is the last active admin: make another user admin first",
        "nor disabled"
    );
    assert_eq!(
        store.user_by_username(FIRST_ADMIN).await.unwrap().role,
        Role::Admin
    );

    // With kim enabled again, the first admin may step down.
    accounts::set_access(store.as_ref(), &actor, "kim", Role::Admin, false)
        .await
        .unwrap();
    let demoted = accounts::set_access(store.as_ref(), &actor, FIRST_ADMIN, Role::Customer, false)
        .await
        .unwrap();
    assert_eq!(demoted.role, Role::Customer);

    let log = store
        .list_audit(&AuditQuery {
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap();
    let outcomes: Vec<(&str, store::Outcome)> = log
        .items
        .iter()
        .filter(|event| event.action == "user.update_access")
        .map(|event| (event.target.as_str(), event.outcome))
        .collect();
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|(_, outcome)| *outcome == store::Outcome::Denied)
    );
}
