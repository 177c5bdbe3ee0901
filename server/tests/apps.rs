//! Applications from real git repositories (made by the `git` CLI here,
//! served as `file://` and over HTTP by `git http-backend`): registration
//! checks the repository at once and creates nothing on a refusal; the
//! poller turns pushes into releases (several commits, a broken then fixed
//! file, a force-push, a deleted branch); a token-protected repository;
//! webhooks wake the poller; nothing secret is stored in the clear.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use app::caller::{Caller, ServiceError};
use app::roles::Role;
use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use server::apps::poller::Poller;
use server::apps::service::{AppService, Registration};
use server::apps::webhooks::Webhooks;
use server::crypto::Keyring;
use server::git::Git;
use server::store::{AppQuery, CredentialsKind, Store};

mod support;

use support::git::{BROKEN_FILE, Repository, VALID_FILE};

struct Bed {
    store: Arc<dyn Store>,
    service: AppService,
    poller: Poller,
    keyring: Arc<Keyring>,
    git_root: std::path::PathBuf,
    dana: Caller,
    cora: Caller,
    dir: tempfile::TempDir,
}

async fn bed() -> Bed {
    let (store, dir) = support::sqlite().await;
    let keyring = Arc::new(Keyring::parse(&server::crypto::new_key_line("k1"), "test").unwrap());
    let git_root = dir.path().join("git");
    let git = Git::new(git_root.clone()).with_timeout(Duration::from_secs(20));
    let caller = |user: &server::store::User| Caller {
        username: Some(user.username.clone()),
        role: Some(user.role),
        session_hash: None,
        address: Some("192.0.2.7".into()),
        user_id: Some(user.id.to_string()),
    };
    let dana = caller(&support::user(store.as_ref(), "dana", Role::Developer).await);
    let cora = caller(&support::user(store.as_ref(), "cora", Role::Customer).await);
    Bed {
        service: AppService::new(store.clone(), keyring.clone(), git.clone(), None),
        poller: Poller::new(store.clone(), keyring.clone(), git),
        store,
        keyring,
        git_root,
        dana,
        cora,
        dir,
    }
}

fn invalid<T>(result: Result<T, ServiceError>) -> String {
    match result {
        Err(ServiceError::Invalid(message)) => message,
        Err(other) => panic!("expected a refusal of the input, got {other:?}"),
        Ok(_) => panic!("expected a refusal, it was accepted"),
    }
}

impl Bed {
    /// Polls the app once now (as the poller's reconcile does when it is due).
    async fn poll(&self, name: &str) -> server::store::AppRecord {
        let app = self.store.app_by_name(name).await.unwrap();
        let outcome = self.poller.look(&app).await;
        self.store
            .record_poll(app.id, app.head_sha.as_deref(), outcome, chrono::Utc::now())
            .await
            .unwrap();
        self.store.app_by_name(name).await.unwrap()
    }

    async fn nothing_created(&self) {
        assert_eq!(
            self.store
                .list_apps(&AppQuery {
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .total,
            0
        );
        let mirrors = std::fs::read_dir(&self.git_root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "git"))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(mirrors, 0, "no mirror left behind");
    }
}

#[tokio::test]
async fn a_developer_registers_a_repository_and_its_head_is_the_first_release() {
    let bed = bed().await;
    let repository = Repository::new();
    let sha = repository.commit(&[("dscloud.yaml", VALID_FILE)], "First version");
    repository.push("main");
    let registered = bed
        .service
        .register(
            &bed.dana,
            support::registration("orders", &repository.url()),
        )
        .await
        .unwrap();
    assert_eq!(registered.app.branch, "main", "the default branch");
    assert_eq!(registered.app.head_sha.as_deref(), Some(sha.as_str()));
    assert_eq!(registered.webhook_secret.expose_secret().len(), 43);
    let releases = bed.store.releases(registered.app.id, 10, 0).await.unwrap();
    assert_eq!(releases.total, 1);
    let release = &releases.items[0];
    assert!(release.accepted);
    assert_eq!(
        (release.sha.as_str(), release.subject.as_str()),
        (sha.as_str(), "First version")
    );
    assert_eq!(release.author, "Dana Developer");
    assert_eq!(release.dscloud_yaml.as_deref(), Some(VALID_FILE));
    // The webhook secret is stored sealed, and opens with the keyring.
    let app = bed.store.app(registered.app.id).await.unwrap();
    assert!(
        !app.webhook_secret_sealed
            .contains(registered.webhook_secret.expose_secret())
    );
    let opened = bed
        .keyring
        .open_text(
            &server::apps::webhook_scope(app.id, 1),
            &app.webhook_secret_sealed,
        )
        .unwrap();
    assert_eq!(
        opened.expose_secret(),
        registered.webhook_secret.expose_secret()
    );
    // Its maintainer is the developer who registered it.
    let dana_id = uuid::Uuid::parse_str(bed.dana.user_id.as_deref().unwrap()).unwrap();
    assert_eq!(bed.store.app_maintainers(app.id).await.unwrap(), [dana_id]);
}

#[tokio::test]
async fn a_refused_registration_says_why_and_creates_nothing() {
    let bed = bed().await;
    let repository = Repository::new();
    // No commits yet.
    let message = invalid(
        bed.service
            .register(
                &bed.dana,
                support::registration("orders", &repository.url()),
            )
            .await,
    );
    assert!(message.contains("no commits"), "{message}");
    repository.commit(&[("README.md", "hello")], "No description yet");
    repository.push("main");
    let message = invalid(
        bed.service
            .register(
                &bed.dana,
                support::registration("orders", &repository.url()),
            )
            .await,
    );
    assert!(
        message.contains("there is no dscloud.yaml at the root"),
        "{message}"
    );
    // Far too large to be a description: refused without reading it.
    let huge = format!("{VALID_FILE}# {}\n", "x".repeat(2 * 1024 * 1024));
    repository.commit(&[("dscloud.yaml", &huge)], "Huge");
    repository.push("main");
    let message = invalid(
        bed.service
            .register(
                &bed.dana,
                support::registration("orders", &repository.url()),
            )
            .await,
    );
    assert!(
        message.contains("the portal reads at most 1048576"),
        "{message}"
    );
    repository.commit(&[("dscloud.yaml", BROKEN_FILE)], "Broken");
    repository.push("main");
    let message = invalid(
        bed.service
            .register(
                &bed.dana,
                support::registration("orders", &repository.url()),
            )
            .await,
    );
    assert!(
        message.contains("line 3, column 5") && message.contains("secretValue"),
        "{message}"
    );
    let message = invalid(
        bed.service
            .register(
                &bed.dana,
                Registration {
                    branch: "release".into(),
                    ..support::registration("orders", &repository.url())
                },
            )
            .await,
    );
    assert!(message.contains("no branch \"release\""), "{message}");
    let missing = format!("file://{}/nothing-here.git", bed.dir.path().display());
    let message = invalid(
        bed.service
            .register(&bed.dana, support::registration("orders", &missing))
            .await,
    );
    assert!(message.contains("cannot be reached"), "{message}");
    for (name, url, expected) in [
        ("Orders", repository.url(), "lowercase letters"),
        (
            "orders",
            "ftp://example.test/app.git".to_string(),
            "use https://",
        ),
        (
            "orders",
            "http://example.test/app.git".to_string(),
            "http:// only for a repository on this machine",
        ),
        (
            "orders",
            "--upload-pack=evil".to_string(),
            "cannot start with '-'",
        ),
    ] {
        let message = invalid(
            bed.service
                .register(&bed.dana, support::registration(name, &url))
                .await,
        );
        assert!(message.contains(expected), "{name} {url}: {message}");
    }
    // Customers cannot register at all.
    assert!(matches!(
        bed.service
            .register(
                &bed.cora,
                support::registration("orders", &repository.url())
            )
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    bed.nothing_created().await;
}

#[tokio::test]
async fn pushes_become_releases_broken_files_are_rejected_and_force_pushes_are_said() {
    let bed = bed().await;
    let repository = Repository::new();
    let first = repository.commit(&[("dscloud.yaml", VALID_FILE)], "First");
    repository.push("main");
    let app = bed
        .service
        .register(
            &bed.dana,
            support::registration("orders", &repository.url()),
        )
        .await
        .unwrap()
        .app;

    // Nothing new: no release, the poll is recorded.
    let polled = bed.poll("orders").await;
    assert_eq!(polled.head_sha.as_deref(), Some(first.as_str()));
    assert!(polled.last_polled_at.is_some() && polled.last_error.is_none());

    // Two commits in one push: one release that lists both.
    repository.commit(&[("orders-api/main.go", "package main")], "Add the service");
    let broken = repository.commit(&[("dscloud.yaml", BROKEN_FILE)], "Rename a key");
    repository.push("main");
    bed.poll("orders").await;
    let release = bed.store.release(app.id, &broken).await.unwrap();
    assert!(!release.accepted, "a broken file is rejected");
    let subjects: Vec<&str> = release
        .commits
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Rename a key", "Add the service"]);
    let problem = release
        .problems
        .as_array()
        .unwrap()
        .iter()
        .find(|problem| problem["severity"] == "error")
        .unwrap();
    assert_eq!(
        (problem["line"].as_u64(), problem["severity"].as_str()),
        (Some(3), Some("error"))
    );
    assert!(problem["message"].as_str().unwrap().contains("secretValue"));
    assert_eq!(
        bed.store
            .latest_accepted_release(app.id)
            .await
            .unwrap()
            .unwrap()
            .sha,
        first,
        "the rejected one is never the one to deploy"
    );

    // Fixed.
    let fixed = repository.commit(&[("dscloud.yaml", VALID_FILE)], "Fix the key");
    repository.push("main");
    bed.poll("orders").await;
    assert!(bed.store.release(app.id, &fixed).await.unwrap().accepted);

    // History rewritten.
    let rewritten = repository.amend("Fix the key, reworded");
    repository.push("main");
    bed.poll("orders").await;
    let release = bed.store.release(app.id, &rewritten).await.unwrap();
    assert!(release.force_pushed);
    assert_eq!(release.previous_sha.as_deref(), Some(fixed.as_str()));
    assert_eq!(bed.store.releases(app.id, 50, 0).await.unwrap().total, 4);

    // The branch deleted: said, and the releases stay.
    repository.delete_branch("main");
    let polled = bed.poll("orders").await;
    assert!(polled.last_error.unwrap().contains("no longer exists"));
    assert_eq!(polled.failures, 1);
    assert_eq!(bed.store.releases(app.id, 50, 0).await.unwrap().total, 4);
}

#[tokio::test]
async fn a_repository_that_needs_a_token_is_refused_without_it_and_followed_with_it() {
    let bed = bed().await;
    let repository = Repository::new();
    repository.commit(&[("dscloud.yaml", VALID_FILE)], "First");
    repository.push("main");
    let base = support::git::serve_http(repository.root.path(), Some("tok-123")).await;
    let url = format!("{base}/app.git");
    let message = invalid(
        bed.service
            .register(&bed.dana, support::registration("private", &url))
            .await,
    );
    assert!(message.contains("refused the credentials"), "{message}");
    let with_wrong = Registration {
        credentials: Some((CredentialsKind::Token, SecretString::from("wrong"))),
        ..support::registration("private", &url)
    };
    let message = invalid(bed.service.register(&bed.dana, with_wrong).await);
    assert!(message.contains("refused the credentials"), "{message}");
    bed.nothing_created().await;

    let with_token = Registration {
        credentials: Some((CredentialsKind::Token, SecretString::from("tok-123"))),
        ..support::registration("private", &url)
    };
    let app = bed
        .service
        .register(&bed.dana, with_token)
        .await
        .unwrap()
        .app;
    let sealed = app.credentials.as_ref().unwrap();
    assert_eq!(sealed.kind, CredentialsKind::Token);
    assert!(!sealed.sealed.contains("tok-123"));
    let next = repository.commit(&[("jobs.txt", "x")], "Second");
    repository.push("main");
    assert_eq!(bed.poll("private").await.head_sha, Some(next));
    // The token is nowhere in the database file.
    let bytes = std::fs::read(bed.dir.path().join("portal.db")).unwrap();
    let wal = std::fs::read(bed.dir.path().join("portal.db-wal")).unwrap_or_default();
    for file in [bytes, wal] {
        assert!(
            !file.windows(7).any(|window| window == b"tok-123"),
            "the token is stored sealed only"
        );
    }
}

#[tokio::test]
async fn a_verified_push_wakes_the_poller_and_a_release_appears_within_two_seconds() {
    let bed = bed().await;
    let repository = Repository::new();
    repository.commit(&[("dscloud.yaml", VALID_FILE)], "First");
    repository.push("main");
    let registered = bed
        .service
        .register(
            &bed.dana,
            support::registration("orders", &repository.url()),
        )
        .await
        .unwrap();
    // Polls are far apart; only the webhook can make it quick.
    bed.store
        .change_app(
            registered.app.id,
            server::store::AppSettings::PollInterval(86_400),
            None,
        )
        .await
        .unwrap();
    bed.store
        .record_poll(
            registered.app.id,
            registered.app.head_sha.as_deref(),
            server::store::PollOutcome::Unchanged,
            chrono::Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    let runner = Arc::new(
        Poller::new(
            bed.store.clone(),
            bed.keyring.clone(),
            Git::new(bed.git_root.clone()),
        )
        .runner(4),
    );
    let handle = runner.handle();
    let running = runner.clone();
    tokio::spawn(async move { running.run(std::future::pending()).await });
    let webhooks = Webhooks {
        store: bed.store.clone(),
        keyring: bed.keyring.clone(),
        poller: Some(handle),
    };
    let pushed = repository.commit(&[("dscloud.yaml", VALID_FILE), ("x", "y")], "Pushed");
    repository.push("main");
    let body = br#"{"ref":"refs/heads/main"}"#;
    let mut headers = HeaderMap::new();
    headers.insert("x-gitea-event", "push".parse().unwrap());
    headers.insert("x-gitea-delivery", "delivery-1".parse().unwrap());
    headers.insert(
        "x-gitea-signature",
        hmac_hex(registered.webhook_secret.expose_secret().as_bytes(), body)
            .parse()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let answer = webhooks
        .receive("orders", &headers, axum::body::Bytes::from_static(body))
        .await;
    assert_eq!(answer.status(), 202);
    loop {
        if bed.store.release(registered.app.id, &pushed).await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no release within 2 s of the push"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The same delivery again: ignored; a bad signature: refused.
    let replay = webhooks
        .receive("orders", &headers, axum::body::Bytes::from_static(body))
        .await;
    assert_eq!(replay.status(), 200);
    headers.insert("x-gitea-delivery", "delivery-2".parse().unwrap());
    let forged = webhooks
        .receive("orders", &headers, axum::body::Bytes::from_static(b"{}"))
        .await;
    assert_eq!(forged.status(), 401);
    let audit = bed
        .store
        .list_audit(&server::store::AuditQuery {
            action: Some("app.webhook".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let results: Vec<&str> = audit
        .items
        .iter()
        .map(|event| event.details["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        ["bad signature", "ignored: delivered before", "accepted"]
    );
    let oversized = webhooks
        .receive(
            "orders",
            &headers,
            axum::body::Bytes::from(vec![b' '; 2 * 1024 * 1024]),
        )
        .await;
    assert_eq!(oversized.status(), 413);
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn maintainers_change_settings_others_cannot_and_deleting_takes_everything() {
    use app::apps::{AppSettingsForm, Apps};
    let bed = bed().await;
    let repository = Repository::new();
    repository.commit(&[("dscloud.yaml", VALID_FILE)], "First");
    repository.push("main");
    repository.push("release");
    let app = bed
        .service
        .register(
            &bed.dana,
            support::registration("orders", &repository.url()),
        )
        .await
        .unwrap()
        .app;
    let erin = support::user(bed.store.as_ref(), "erin", Role::Developer).await;
    let erin = Caller {
        username: Some("erin".into()),
        role: Some(Role::Developer),
        session_hash: None,
        address: None,
        user_id: Some(erin.id.to_string()),
    };
    let settings = |branch: &str, interval: &str| AppSettingsForm {
        name: "orders".into(),
        branch: branch.into(),
        poll_interval_seconds: interval.into(),
        credentials_kind: "keep".into(),
        credentials: String::new(),
        build: String::new(),
    };
    // Every developer sees it; only its maintainers change it.
    assert!(
        !bed.service
            .detail(&erin, "orders")
            .await
            .unwrap()
            .may_change
    );
    assert!(matches!(
        Apps::update(&bed.service, &erin, settings("release", "")).await,
        Err(ServiceError::Forbidden(_))
    ));
    let message = invalid(Apps::update(&bed.service, &bed.dana, settings("nope", "")).await);
    assert!(message.contains("no branch \"nope\""), "{message}");
    let message = invalid(Apps::update(&bed.service, &bed.dana, settings("", "5")).await);
    assert!(message.contains("10 to 86400"), "{message}");
    Apps::update(&bed.service, &bed.dana, settings("release", "120"))
        .await
        .unwrap();
    let changed = bed.store.app(app.id).await.unwrap();
    assert_eq!(
        (changed.branch.as_str(), changed.poll_interval_seconds),
        ("release", 120)
    );
    assert_eq!(changed.build, server::store::BuildMode::Portal);
    // Its images from the team's CI: said on the page with where to push.
    let message = invalid(
        Apps::update(
            &bed.service,
            &bed.dana,
            AppSettingsForm {
                build: "jenkins".into(),
                ..settings("", "")
            },
        )
        .await,
    );
    assert!(
        message.contains("unknown build mode \"jenkins\""),
        "{message}"
    );
    Apps::update(
        &bed.service,
        &bed.dana,
        AppSettingsForm {
            build: "external".into(),
            ..settings("", "")
        },
    )
    .await
    .unwrap();
    let detail = bed.service.detail(&bed.dana, "orders").await.unwrap();
    assert_eq!(detail.build, server::store::BuildMode::External);
    assert_eq!(
        detail.image_pattern,
        "registry.dscloud.local/orders/<component>:<commit sha>"
    );
    // A new webhook secret: the old one no longer opens.
    let secret = Apps::rotate_webhook_secret(&bed.service, &bed.dana, "orders")
        .await
        .unwrap();
    let rotated = bed.store.app(app.id).await.unwrap();
    assert_eq!(rotated.webhook_secret_version, 2);
    let opened = bed
        .keyring
        .open_text(
            &server::apps::webhook_scope(app.id, 2),
            &rotated.webhook_secret_sealed,
        )
        .unwrap();
    assert_eq!(opened.expose_secret(), secret);
    // Deleting: the name typed, by a maintainer.
    let message = invalid(Apps::delete(&bed.service, &bed.dana, "orders", "order").await);
    assert!(message.contains("type the app's name"), "{message}");
    assert!(matches!(
        Apps::delete(&bed.service, &erin, "orders", "orders").await,
        Err(ServiceError::Forbidden(_))
    ));
    Apps::delete(&bed.service, &bed.dana, "orders", "orders")
        .await
        .unwrap();
    bed.nothing_created().await;
    let audit = bed
        .store
        .list_audit(&server::store::AuditQuery {
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .items
        .iter()
        .map(|event| event.action.as_str())
        .collect();
    for expected in [
        "app.register",
        "app.settings.change",
        "app.webhook_secret.rotate",
        "app.delete",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
}
