//! ID tokens the portal must refuse: a nonce from another sign-in, another
//! client's audience, an expired token, another issuer, no signature, a
//! signature by another key, an HMAC keyed with the client secret, a claim
//! changed after signing. Each goes through a real sign-in flow (state,
//! PKCE, the token endpoint over HTTP) against a forging issuer; the same
//! flow with an honest token signs in, so a check that is missing fails
//! its case.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use server::auth::sso::{Callback, SingleSignOn, SsoError, config};
use tower::ServiceExt;

#[path = "../support/mod.rs"]
mod support;

mod issuer;

use issuer::{CLIENT_ID, CLIENT_SECRET, Issuer, SigningKey, signing_input};

const PROVIDER: &str = "forger";

fn provider_config(issuer: &Issuer) -> config::SsoConfig {
    config::parse(&format!(
        "providers:\n  - id: {PROVIDER}\n    name: Forger ID\n    issuer: {}\n    \
         client_id: {CLIENT_ID}\n    client_secret: {CLIENT_SECRET}\n    \
         id_token_signing_algs: [ES256]\n    default_role: customer\n",
        issuer.url
    ))
    .unwrap()
}

/// The claims an honest issuer would put in this flow's ID token.
fn honest_claims(issuer: &Issuer, nonce: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": issuer.url, "sub": "alice", "aud": CLIENT_ID,
        "iat": now, "exp": now + 300, "nonce": nonce,
        "preferred_username": "alice", "email": "alice@forger.test", "name": "Alice",
        "groups": ["developers"],
    })
}

/// The state and nonce the portal sent the browser to the issuer with.
fn state_and_nonce(authorize_url: &str) -> (String, String) {
    let url = reqwest::Url::parse(authorize_url).unwrap();
    let parameter = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_else(|| panic!("{authorize_url} has no {name}"))
    };
    (parameter("state"), parameter("nonce"))
}

/// One sign-in from start to finish, the token endpoint answering with the
/// ID token `forge` makes from the flow's honest claims.
async fn sign_in(
    sso: &SingleSignOn,
    issuer: &Issuer,
    forge: impl FnOnce(Value) -> String,
) -> Result<server::auth::sso::Identity, SsoError> {
    let (authorize_url, flow) = sso.begin(PROVIDER, "/").await.unwrap();
    let (state, nonce) = state_and_nonce(&authorize_url);
    let code = format!("code-{state}");
    issuer.answer(&code, forge(honest_claims(issuer, &nonce)));
    let callback = Callback {
        code: Some(code),
        state: Some(state),
        ..Callback::default()
    };
    sso.finish(PROVIDER, Some(&flow), callback)
        .await
        .map(|(identity, _)| identity)
}

/// Makes an ID token from a flow's honest claims.
type Forge<'a> = Box<dyn FnOnce(Value) -> String + 'a>;

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

#[tokio::test]
async fn forged_id_tokens_are_refused_and_an_honest_one_signs_in() {
    let issuer = Issuer::start().await;
    let (store, _dir) = support::sqlite().await;
    let sso = SingleSignOn::new(
        provider_config(&issuer),
        store,
        "http://127.0.0.1:3000".into(),
    )
    .unwrap();
    let key = issuer.key.clone();
    let kid = key.kid.clone();
    let sign = |claims: Value| key.sign(&kid, &claims);

    let alice = sign_in(&sso, &issuer, sign).await.unwrap();
    assert_eq!(
        (alice.subject.as_str(), alice.groups.as_slice()),
        ("alice", ["developers".to_string()].as_slice())
    );

    let now = chrono::Utc::now().timestamp();
    let rogue = SigningKey::generate("rogue");
    let cases: Vec<(&str, Forge, &str)> = vec![
        (
            "a nonce from another sign-in",
            Box::new(|claims| sign(with(claims, "nonce", json!("another-flows-nonce")))),
            "invalid nonce",
        ),
        (
            "another client's audience",
            Box::new(|claims| sign(with(claims, "aud", json!("someone-else")))),
            "invalid audiences",
        ),
        (
            "an expired token",
            Box::new(move |claims| {
                let claims = with(claims, "iat", json!(now - 1200));
                sign(with(claims, "exp", json!(now - 600)))
            }),
            "expired: id token expired",
        ),
        (
            "another issuer named in the token",
            Box::new(|claims| sign(with(claims, "iss", json!("http://127.0.0.1:9")))),
            "invalid issuer",
        ),
        (
            "no signature (alg none)",
            Box::new(|claims| format!("{}.", signing_input(&json!({ "alg": "none" }), &claims))),
            "no signature found",
        ),
        (
            "a signature by another key under the issuer's key id",
            Box::new(|claims| rogue.sign(&kid, &claims)),
            "ec signature was wrong",
        ),
        (
            "an HMAC keyed with the client secret (RFC 8725 §2.1)",
            Box::new(|claims| {
                let input = signing_input(&json!({ "alg": "HS256", "typ": "JWT" }), &claims);
                let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, CLIENT_SECRET.as_bytes());
                let tag = ring::hmac::sign(&hmac, input.as_bytes());
                format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
            }),
            "disallowed signature algorithm",
        ),
        (
            "a claim changed after signing",
            Box::new(|claims| {
                let signed = sign(claims.clone());
                let signature = signed.rsplit('.').next().unwrap().to_string();
                let tampered = with(claims, "groups", json!(["portal-admins"]));
                let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
                format!("{}.{signature}", signing_input(&header, &tampered))
            }),
            "ec signature was wrong",
        ),
    ];
    for (case, forge, reason) in cases {
        match sign_in(&sso, &issuer, forge).await {
            Err(SsoError::Invalid(message)) => {
                println!("{case}: {message}");
                assert!(
                    message.to_lowercase().contains(reason),
                    "{case}: refused, but for another reason: {message}"
                );
            }
            Err(other) => panic!("{case}: refused as {other:?}, not as a failed check"),
            Ok(identity) => panic!("{case}: signed in as {identity:?}"),
        }
    }
}

/// Through the portal's own routes: a forged token ends on the sign-in page
/// with `sso_failed`, no session cookie and no user created.
#[tokio::test]
async fn the_callback_with_a_forged_token_leaves_no_session_and_no_user() {
    let issuer = Issuer::start().await;
    let (store, _dir) = support::sqlite().await;
    let args = server::cli::ServeArgs::default();
    let state = support::app_state(store.clone(), &args);
    let app = server::http::router(state, &args, Some(provider_config(&issuer))).unwrap();

    let start = Request::post(format!("/auth/sso/{PROVIDER}/start"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("next=%2Fapps"))
        .unwrap();
    let response = app.clone().oneshot(start).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let authorize_url = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(authorize_url.starts_with(&issuer.url), "{authorize_url}");
    let (state, nonce) = state_and_nonce(authorize_url);
    let flow_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let unsigned = signing_input(&json!({ "alg": "none" }), &honest_claims(&issuer, &nonce));
    issuer.answer("the-code", format!("{unsigned}."));
    let callback = Request::get(format!(
        "/auth/sso/{PROVIDER}/callback?code=the-code&state={state}"
    ))
    .header(header::COOKIE, flow_cookie)
    .body(Body::empty())
    .unwrap();
    let response = app.oneshot(callback).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("/sign-in?error=sso_failed&provider=Forger%20ID"),
        "{location}"
    );
    let cookies: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .all(|cookie| !cookie.starts_with("dscloud_session")),
        "{cookies:?}"
    );
    assert!(matches!(
        store.user_by_username("alice").await,
        Err(server::store::StoreError::NotFound)
    ));
}
