//! Push webhooks: public, checked by their signature.

use super::*;

/// The forges' push webhooks reach the portal without a session (they sign
/// their deliveries instead), through the cross-origin and sign-in guards.
#[tokio::test]
async fn push_webhooks_are_public_and_checked_by_their_signature() {
    use hmac::Mac as _;
    let (store, _dir) = support::sqlite().await;
    let keyring = Arc::new(
        server::crypto::Keyring::parse(&server::crypto::new_key_line("k1"), "test").unwrap(),
    );
    let id = uuid::Uuid::now_v7();
    let secret = "hook-secret";
    store
        .create_app(server::store::NewApp {
            id,
            name: "orders".into(),
            repository_url: "https://git.example.test/orders.git".into(),
            branch: "main".into(),
            poll_interval_seconds: 60,
            credentials: None,
            webhook_secret_sealed: keyring
                .seal(&server::apps::webhook_scope(id, 1), secret.as_bytes())
                .unwrap(),
            created_by: None,
            maintainers: Vec::new(),
            build: server::store::BuildMode::Portal,
            audit: None,
        })
        .await
        .unwrap();
    let args = ServeArgs::default();
    let app = router(
        AppState {
            leptos_options: leptos_options(&args),
            store: store.clone(),
            kubernetes: None,
            regions: Vec::new(),
            webhooks: Some(Arc::new(server::apps::webhooks::Webhooks {
                store: store.clone(),
                keyring,
                poller: None,
            })),
            apps: None,
            deploys: None,
            secrets: None,
        },
        &args,
        None,
    )
    .unwrap();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let deliver = |path: &str, signature: &str, delivery: &str| {
        Request::post(path)
            .header("x-github-event", "push")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", format!("sha256={signature}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let accepted = app
        .clone()
        .oneshot(deliver("/hooks/apps/orders", &signature, "d-1"))
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let forged = app
        .clone()
        .oneshot(deliver("/hooks/apps/orders", &"0".repeat(64), "d-2"))
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unknown = app
        .clone()
        .oneshot(deliver("/hooks/apps/nothing", &signature, "d-3"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(store.app(id).await.unwrap().last_webhook_at.is_some());
}
