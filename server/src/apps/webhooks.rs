//! `POST /hooks/apps/{name}`: push webhooks from GitHub, GitLab, Gitea and
//! Forgejo. The signature (or GitLab's token) is checked over the raw body
//! in constant time with the app's own secret; a delivery already taken is
//! ignored; a verified push only makes the app due for a poll now (the
//! repository decides, never the payload). Every delivery is audited:
//! accepted, refused for its signature, or ignored.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::webhook_scope;
use crate::audit::{Actor, audit};
use crate::crypto::Keyring;
use crate::engine::Handle;
use crate::store::{Outcome, Store, StoreError};

pub const PATH: &str = "/hooks/apps/{name}";
/// The largest delivery read (a push of many commits stays far below it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Where a delivery comes from, by its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
    Gitea,
    Forgejo,
}

impl Forge {
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Forgejo => "forgejo",
        }
    }

    /// The event, delivery id and signature headers of each forge.
    fn headers(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Forge::GitHub => ("x-github-event", "x-github-delivery", "x-hub-signature-256"),
            Forge::GitLab => ("x-gitlab-event", "x-gitlab-event-uuid", "x-gitlab-token"),
            Forge::Gitea => ("x-gitea-event", "x-gitea-delivery", "x-gitea-signature"),
            Forge::Forgejo => (
                "x-forgejo-event",
                "x-forgejo-delivery",
                "x-forgejo-signature",
            ),
        }
    }
}

/// What a delivery turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A verified push.
    Push { forge: Forge, id: String },
    /// Verified, but not a push (GitHub's `ping`, a tag event…).
    Other {
        forge: Forge,
        id: String,
        event: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No forge's headers: 400.
    UnknownSender,
    /// Missing or wrong signature: 401.
    BadSignature(Forge),
    /// No delivery id: 400.
    NoDeliveryId(Forge),
}

/// Checks a delivery against the app's secret. Forgejo is recognised
/// before Gitea (it sends both sets of headers).
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<Delivery, Refusal> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let forge = [Forge::GitHub, Forge::GitLab, Forge::Forgejo, Forge::Gitea]
        .into_iter()
        .find(|forge| text(forge.headers().0).is_some())
        .ok_or(Refusal::UnknownSender)?;
    let (event_header, delivery_header, signature_header) = forge.headers();
    let given = text(signature_header).ok_or(Refusal::BadSignature(forge))?;
    let genuine = match forge {
        Forge::GitLab => bool::from(given.as_bytes().ct_eq(secret)),
        Forge::GitHub => given
            .strip_prefix("sha256=")
            .is_some_and(|hex| signature_matches(secret, body, hex)),
        Forge::Gitea | Forge::Forgejo => signature_matches(secret, body, given),
    };
    if !genuine {
        return Err(Refusal::BadSignature(forge));
    }
    let id = text(delivery_header)
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .ok_or(Refusal::NoDeliveryId(forge))?
        .to_string();
    let event = text(event_header).unwrap_or_default();
    let push = match forge {
        Forge::GitLab => event == "Push Hook",
        _ => event == "push",
    };
    Ok(if push {
        Delivery::Push { forge, id }
    } else {
        Delivery::Other {
            forge,
            id,
            event: event.chars().take(64).collect(),
        }
    })
}

/// HMAC-SHA256 of the body, compared in constant time with the hex given.
fn signature_matches(secret: &[u8], body: &[u8], hex: &str) -> bool {
    let Some(given) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(hex.get(index..index + 2)?, 16).ok())
        .collect()
}

/// What the route needs.
pub struct Webhooks {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub poller: Option<Handle<Uuid>>,
}

impl Webhooks {
    pub async fn receive(&self, name: &str, headers: &HeaderMap, body: Bytes) -> Response {
        let answer = self.answer(name, headers, body).await;
        let provider = ["github", "gitlab", "gitea", "forgejo"]
            .into_iter()
            .find(|forge| headers.contains_key(format!("x-{forge}-event").as_str()))
            .unwrap_or("unknown");
        crate::metrics::webhook_delivery(provider, answer.status().as_str());
        answer
    }

    async fn answer(&self, name: &str, headers: &HeaderMap, body: Bytes) -> Response {
        if body.len() > MAX_BODY_BYTES {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a delivery has at most {MAX_BODY_BYTES} bytes"),
            )
                .into_response();
        }
        let app = match self.store.app_by_name(name).await {
            Ok(app) => app,
            Err(StoreError::NotFound) => {
                return (StatusCode::NOT_FOUND, format!("no app named {name:?}")).into_response();
            }
            Err(error) => {
                tracing::error!(%error, "webhooks: the store failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        let secret = match self.keyring.open(
            &webhook_scope(app.id, app.webhook_secret_version),
            &app.webhook_secret_sealed,
        ) {
            Ok(secret) => secret,
            Err(error) => {
                tracing::error!(app = %app.name, %error, "the webhook secret cannot be opened");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        let target = format!("app:{}", app.name);
        let actor = Actor {
            id: None,
            name: "webhook".to_string(),
            address: None,
        };
        let record = |outcome: Outcome, details: serde_json::Value| {
            let store = self.store.clone();
            let actor = actor.clone();
            let target = target.clone();
            async move {
                audit(
                    store.as_ref(),
                    &actor,
                    "app.webhook",
                    &target,
                    outcome,
                    details,
                )
                .await;
            }
        };
        match verify(headers, &body, secret.expose_secret()) {
            Err(Refusal::UnknownSender) => (
                StatusCode::BAD_REQUEST,
                "not a webhook from GitHub, GitLab, Gitea or Forgejo",
            )
                .into_response(),
            Err(Refusal::BadSignature(forge)) => {
                record(
                    Outcome::Denied,
                    json!({"forge": forge.as_str(), "result": "bad signature"}),
                )
                .await;
                (
                    StatusCode::UNAUTHORIZED,
                    "the signature does not match this app's webhook secret",
                )
                    .into_response()
            }
            Err(Refusal::NoDeliveryId(forge)) => (
                StatusCode::BAD_REQUEST,
                format!("a {} delivery without its delivery id", forge.as_str()),
            )
                .into_response(),
            Ok(Delivery::Other { forge, id, event }) => {
                record(
                    Outcome::Success,
                    json!({"forge": forge.as_str(), "delivery": id, "event": event, "result": "ignored"}),
                )
                .await;
                (StatusCode::ACCEPTED, "ignored: only pushes matter").into_response()
            }
            Ok(Delivery::Push { forge, id }) => {
                match self.store.record_webhook(app.id, &id).await {
                    Ok(true) => {
                        if let Some(poller) = &self.poller {
                            poller.changed(app.id);
                        }
                        record(
                            Outcome::Success,
                            json!({"forge": forge.as_str(), "delivery": id, "result": "accepted"}),
                        )
                        .await;
                        (
                            StatusCode::ACCEPTED,
                            "accepted: the repository is polled now",
                        )
                            .into_response()
                    }
                    Ok(false) => {
                        record(
                        Outcome::Success,
                        json!({"forge": forge.as_str(), "delivery": id, "result": "ignored: delivered before"}),
                    )
                    .await;
                        (StatusCode::OK, "already received").into_response()
                    }
                    Err(error) => {
                        tracing::error!(%error, "webhooks: the store failed");
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    const SECRET: &[u8] = b"s3cret";
    const BODY: &[u8] = br#"{"ref":"refs/heads/main","after":"abc"}"#;

    #[test]
    fn each_forges_signature_is_accepted_and_a_wrong_one_refused() {
        let signature = hmac_hex(SECRET, BODY);
        let github = headers(&[
            ("x-github-event", "push"),
            ("x-github-delivery", "d-1"),
            ("x-hub-signature-256", &format!("sha256={signature}")),
        ]);
        assert_eq!(
            verify(&github, BODY, SECRET),
            Ok(Delivery::Push {
                forge: Forge::GitHub,
                id: "d-1".into()
            })
        );
        let gitlab = headers(&[
            ("x-gitlab-event", "Push Hook"),
            ("x-gitlab-event-uuid", "d-2"),
            ("x-gitlab-token", "s3cret"),
        ]);
        assert_eq!(
            verify(&gitlab, BODY, SECRET),
            Ok(Delivery::Push {
                forge: Forge::GitLab,
                id: "d-2".into()
            })
        );
        let gitea = headers(&[
            ("x-gitea-event", "push"),
            ("x-gitea-delivery", "d-3"),
            ("x-gitea-signature", &signature),
        ]);
        assert!(matches!(
            verify(&gitea, BODY, SECRET),
            Ok(Delivery::Push {
                forge: Forge::Gitea,
                ..
            })
        ));
        let forgejo = headers(&[
            ("x-forgejo-event", "push"),
            ("x-forgejo-delivery", "d-4"),
            ("x-forgejo-signature", &signature),
            ("x-gitea-event", "push"),
            ("x-gitea-signature", &signature),
        ]);
        assert!(matches!(
            verify(&forgejo, BODY, SECRET),
            Ok(Delivery::Push {
                forge: Forge::Forgejo,
                ..
            })
        ));
        // The same headers over another body, or with another secret: refused.
        assert_eq!(
            verify(&github, b"{}", SECRET),
            Err(Refusal::BadSignature(Forge::GitHub))
        );
        assert_eq!(
            verify(&gitea, BODY, b"other"),
            Err(Refusal::BadSignature(Forge::Gitea))
        );
        assert_eq!(
            verify(&gitlab, BODY, b"s3cre"),
            Err(Refusal::BadSignature(Forge::GitLab))
        );
        let unsigned = headers(&[("x-github-event", "push"), ("x-github-delivery", "d-5")]);
        assert_eq!(
            verify(&unsigned, BODY, SECRET),
            Err(Refusal::BadSignature(Forge::GitHub))
        );
        let garbage = headers(&[
            ("x-github-event", "push"),
            ("x-github-delivery", "d-6"),
            ("x-hub-signature-256", "sha256=zz"),
        ]);
        assert_eq!(
            verify(&garbage, BODY, SECRET),
            Err(Refusal::BadSignature(Forge::GitHub))
        );
        assert_eq!(
            verify(&HeaderMap::new(), BODY, SECRET),
            Err(Refusal::UnknownSender)
        );
    }

    #[test]
    fn a_ping_is_verified_but_not_a_push() {
        let ping = headers(&[
            ("x-github-event", "ping"),
            ("x-github-delivery", "d-7"),
            (
                "x-hub-signature-256",
                &format!("sha256={}", hmac_hex(SECRET, BODY)),
            ),
        ]);
        assert!(matches!(
            verify(&ping, BODY, SECRET),
            Ok(Delivery::Other { .. })
        ));
    }
}
