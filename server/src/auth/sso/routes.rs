//! The two single-sign-on routes:
//!
//! - `POST /auth/sso/{provider}/start`: a button on the sign-in page; a POST
//!   because it records a flow (no state change over GET), and so the CSRF
//!   guard covers it.
//! - `GET /auth/sso/{provider}/callback`: where the provider sends the
//!   browser back. The flow cookie is SameSite=Lax so that this cross-site
//!   top-level navigation carries it (Strict would drop it).

use std::sync::Arc;

use axum::Form;
use axum::extract::{FromRequest, Query, Request};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::provision::{self, Refusal};
use super::{Callback, FLOW_COOKIE, FLOW_LIFETIME, SsoError};
use crate::auth::session;
use crate::auth::sign_in::{Authenticator, safe_next};
use crate::web::{client_address, urlencode, with_cookie};

#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    next: String,
}

fn flow_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{FLOW_COOKIE}={value}; Path=/auth/sso/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        FLOW_LIFETIME.as_secs()
    )
}

fn expired_flow_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{FLOW_COOKIE}=; Path=/auth/sso/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The name people know a provider by (its id when it is not configured).
fn label(auth: &Authenticator, provider: &str) -> String {
    auth.sso()
        .and_then(|sso| sso.provider_config(provider))
        .map_or_else(|| provider.to_string(), |config| config.name.clone())
}

/// Back to the sign-in page with a reason the page explains.
fn back_to_sign_in(reason: &str, provider: &str, next: &str) -> Response {
    Redirect::to(&format!(
        "/sign-in?error={reason}&provider={}&next={}",
        urlencode(provider),
        urlencode(next)
    ))
    .into_response()
}

pub async fn start(auth: Arc<Authenticator>, provider: String, request: Request) -> Response {
    let secure = auth.session_cookie().https;
    let next = match Form::<StartForm>::from_request(request, &()).await {
        Ok(Form(form)) => safe_next(&form.next).to_string(),
        Err(_) => "/".to_string(),
    };
    let Some(sso) = auth.sso() else {
        return back_to_sign_in("sso_unknown", &provider, &next);
    };
    let name = label(&auth, &provider);
    match sso.begin(&provider, &next).await {
        Ok((url, flow)) => with_cookie(
            Redirect::to(&url).into_response(),
            &flow_cookie(&flow, secure),
        ),
        Err(SsoError::UnknownProvider(_)) => back_to_sign_in("sso_unknown", &provider, &next),
        Err(error) => {
            tracing::error!(provider, %error, "cannot start a single sign-on");
            back_to_sign_in("sso_failed", &name, &next)
        }
    }
}

pub async fn callback(auth: Arc<Authenticator>, provider: String, request: Request) -> Response {
    let address = client_address(&request);
    let headers = request.headers().clone();
    let secure = auth.session_cookie().https;
    let callback = Query::<Callback>::try_from_uri(request.uri())
        .map(|Query(callback)| callback)
        .unwrap_or_default();
    let flow = session::cookie_value(&headers, FLOW_COOKIE);
    let forget_flow = |response: Response| with_cookie(response, &expired_flow_cookie(secure));
    let Some(sso) = auth.sso() else {
        return forget_flow(back_to_sign_in("sso_unknown", &provider, "/"));
    };
    let name = label(&auth, &provider);
    let (identity, next) = match sso.finish(&provider, flow.as_deref(), callback).await {
        Ok(done) => done,
        Err(SsoError::NoFlow) => {
            return forget_flow(back_to_sign_in("sso_expired", &name, "/"));
        }
        Err(SsoError::UnknownProvider(_)) => {
            return forget_flow(back_to_sign_in("sso_unknown", &provider, "/"));
        }
        Err(error) => {
            tracing::warn!(provider, %error, "single sign-on failed");
            return forget_flow(back_to_sign_in("sso_failed", &name, "/"));
        }
    };
    let Some(config) = sso.provider_config(&provider) else {
        return forget_flow(back_to_sign_in("sso_unknown", &provider, "/"));
    };
    let user = match provision::user_for(auth.store(), &identity, config, &address).await {
        Ok(user) => user,
        Err(Refusal::NoRole) => {
            return forget_flow(back_to_sign_in("sso_no_role", &name, &next));
        }
        Err(Refusal::Disabled) => {
            return forget_flow(back_to_sign_in("disabled", &name, &next));
        }
        Err(Refusal::LastAdmin) => {
            return forget_flow(back_to_sign_in("sso_last_admin", &name, &next));
        }
        Err(Refusal::Store(error)) => {
            tracing::error!(%error, "single sign-on failed on the store");
            return forget_flow(back_to_sign_in("unavailable", &name, &next));
        }
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    match auth.open_sso_session(&user, &address, user_agent).await {
        Ok(token) => forget_flow(with_cookie(
            Redirect::to(safe_next(&next)).into_response(),
            &auth
                .session_cookie()
                .set(&token, auth.lifetimes().sso_session()),
        )),
        Err(error) => {
            tracing::error!(%error, "cannot open a session after single sign-on");
            forget_flow(back_to_sign_in("unavailable", &name, &next))
        }
    }
}
