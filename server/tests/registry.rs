//! The registry client against a real registry (the CNCF distribution
//! registry, open and behind the token flow): an image is found by its
//! digest once pushed, not before; tokens are asked for with the
//! credentials and kept; refusals and an unreachable registry are said.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use server::registry::{Credentials, Registry, RegistryError, credentials};

mod support;

use support::registry::{PASSWORD, TestRegistry};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn credentials_for(registry: &TestRegistry, password: &str) -> Option<Credentials> {
    credentials::for_host(&registry.auth_file(password), &registry.host).unwrap()
}

#[tokio::test]
async fn an_image_is_found_by_its_digest_once_pushed_and_not_before() {
    let registry = TestRegistry::open().await;
    let client = Registry::new(&registry.host, None).unwrap();
    assert_eq!(client.digest("shop/web", SHA).await.unwrap(), None);
    let digest = registry.push("shop/web", SHA).await;
    assert_eq!(client.digest("shop/web", SHA).await.unwrap(), Some(digest));
    assert_eq!(
        client.digest("shop/api", SHA).await.unwrap(),
        None,
        "another component"
    );
    assert_eq!(
        client
            .digest("shop/web", &SHA.replace('0', "f"))
            .await
            .unwrap(),
        None,
        "another commit"
    );
}

#[tokio::test]
async fn a_path_in_the_registry_name_prefixes_the_repository() {
    let registry = TestRegistry::open().await;
    let digest = registry.push("team/shop/web", SHA).await;
    let client = Registry::new(&format!("{}/team", registry.host), None).unwrap();
    assert_eq!(client.digest("shop/web", SHA).await.unwrap(), Some(digest));
}

#[tokio::test]
async fn the_token_flow_is_followed_with_the_credentials_and_its_token_kept() {
    let registry = TestRegistry::with_tokens().await;
    let client = Registry::new(&registry.host, credentials_for(&registry, PASSWORD)).unwrap();
    assert_eq!(client.digest("shop/web", SHA).await.unwrap(), None);
    let digest = registry.push("shop/web", SHA).await;
    assert_eq!(client.digest("shop/web", SHA).await.unwrap(), Some(digest));
    let asked = registry.token_requests.lock().unwrap().clone();
    assert_eq!(
        asked,
        ["repository:shop/web:pull"],
        "one token for the scope, then kept"
    );
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_refused_with_the_reason() {
    let registry = TestRegistry::with_tokens().await;
    registry.push("shop/web", SHA).await;
    let wrong = Registry::new(&registry.host, credentials_for(&registry, "wrong")).unwrap();
    let error = wrong.digest("shop/web", SHA).await.unwrap_err();
    assert!(matches!(error, RegistryError::Refused(..)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("token service answered 401") && message.contains("--registry-auth"),
        "{message}"
    );
    assert!(!message.contains("wrong"), "never the password: {message}");
    let anonymous = Registry::new(&registry.host, None).unwrap();
    let error = anonymous.digest("shop/web", SHA).await.unwrap_err();
    assert!(matches!(error, RegistryError::Refused(..)), "{error:?}");
}

#[tokio::test]
async fn a_registry_that_does_not_answer_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Registry::new(&format!("127.0.0.1:{port}"), None).unwrap();
    let error = client.digest("shop/web", SHA).await.unwrap_err();
    assert!(matches!(error, RegistryError::Unreachable(..)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("127.0.0.1:{port} cannot be reached"))
    );
}
