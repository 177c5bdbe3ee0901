//! An OpenID Connect issuer whose ID tokens the test writes by hand: the
//! real provider (npm oidc-provider, in the end-to-end suite) never issues
//! a token with a wrong nonce, a foreign audience, no signature or a bad one,
//! so the checks that refuse them can only be reached with a forger.
//!
//! It serves discovery, its signing key (ES256, made with `ring`) and a token
//! endpoint that answers each authorization code with the ID token the test
//! registered for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, routing::get, routing::post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "dscloud-portal";
pub const CLIENT_SECRET: &str = "sso-tokens-test-secret";

/// A P-256 signing key with its key id.
pub struct SigningKey {
    pub kid: String,
    pair: EcdsaKeyPair,
}

impl SigningKey {
    pub fn generate(kid: &str) -> SigningKey {
        let random = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random)
                .unwrap();
        SigningKey {
            kid: kid.to_string(),
            pair,
        }
    }

    /// The public half as a JWK: the point is 0x04 ‖ x ‖ y.
    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    /// A compact JWS of `claims`, signed with this key under `kid`.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
        let input = signing_input(&header, claims);
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// `base64url(header).base64url(claims)`, what a JWS signs.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[derive(Clone)]
struct Shared {
    url: String,
    key: Arc<SigningKey>,
    id_tokens: Arc<Mutex<HashMap<String, String>>>,
}

/// The running issuer.
pub struct Issuer {
    pub url: String,
    pub key: Arc<SigningKey>,
    id_tokens: Arc<Mutex<HashMap<String, String>>>,
}

impl Issuer {
    pub async fn start() -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Shared {
            url: url.clone(),
            key: Arc::new(SigningKey::generate("issuer-key-1")),
            id_tokens: Arc::default(),
        };
        let routes = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(keys))
            .route("/token", post(token))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, routes).await });
        Issuer {
            url,
            key: shared.key,
            id_tokens: shared.id_tokens,
        }
    }

    /// The token endpoint will answer `code` with this ID token.
    pub fn answer(&self, code: &str, id_token: String) {
        self.id_tokens
            .lock()
            .unwrap()
            .insert(code.to_string(), id_token);
    }
}

async fn discovery(State(shared): State<Shared>) -> Json<Value> {
    let url = &shared.url;
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        // A forger's metadata offers everything; the portal must not follow it.
        "id_token_signing_alg_values_supported": ["ES256", "HS256", "none"],
    }))
}

async fn keys(State(shared): State<Shared>) -> Json<Value> {
    Json(json!({ "keys": [shared.key.jwk()] }))
}

async fn token(
    State(shared): State<Shared>,
    body: axum::extract::Form<HashMap<String, String>>,
) -> Json<Value> {
    let code = body.get("code").cloned().unwrap_or_default();
    let id_token = shared.id_tokens.lock().unwrap().remove(&code);
    Json(json!({
        "access_token": format!("access-{code}"),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}
