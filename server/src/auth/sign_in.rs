//! Signing in with a local password and out again: the service and its two
//! routes (`POST /auth/sign-in`, `POST /auth/sign-out`), plain form posts
//! that work without JavaScript.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::password;
use super::session::{self, Lifetimes, Validity};
use super::sso::SingleSignOn;
use super::throttle::Throttle;
use crate::store::{NewSession, Outcome, Store, StoreError, User};
use crate::web::{client_address, urlencode, with_cookie};

/// Who is signed in on a request, put there by [`identify`].
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    /// The SHA-256 of the session token the request came with.
    pub session_hash: String,
}

pub struct Authenticator {
    store: Arc<dyn Store>,
    throttle: Mutex<Throttle>,
    lifetimes: Lifetimes,
    /// Whether local accounts may sign in with a password.
    local_sign_in: bool,
    sso: Option<SingleSignOn>,
    /// Verified against when the username is unknown, so both answers take as long.
    decoy_hash: String,
    cookie: session::SessionCookie,
}

#[derive(Debug)]
pub enum SignInError {
    /// Unknown user, wrong password or disabled: one answer for all three.
    Invalid,
    Throttled(Duration),
    /// Password sign-in is switched off by configuration.
    LocalSignInOff,
    Store(StoreError),
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, lifetimes: Lifetimes) -> Self {
        Authenticator {
            store,
            throttle: Mutex::new(Throttle::default()),
            lifetimes,
            local_sign_in: true,
            sso: None,
            decoy_hash: password::hash(&crate::random::password()).unwrap_or_default(),
            cookie: session::SessionCookie::default(),
        }
    }

    /// The session cookie for the portal's public URL (https: Secure and
    /// `__Host-`).
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.cookie = session::SessionCookie::for_public_url(url);
        self
    }

    pub fn session_cookie(&self) -> session::SessionCookie {
        self.cookie
    }

    /// With single sign-on, and with or without local password sign-in.
    pub fn with_sign_in_methods(mut self, local_sign_in: bool, sso: Option<SingleSignOn>) -> Self {
        self.local_sign_in = local_sign_in;
        self.sso = sso;
        self
    }

    /// How users may sign in, for the sign-in page.
    pub fn sign_in_options(&self) -> app::accounts::SignInOptions {
        app::accounts::SignInOptions {
            local: self.local_sign_in,
            providers: self
                .sso
                .as_ref()
                .map(|sso| {
                    sso.buttons()
                        .into_iter()
                        .map(|button| app::accounts::ProviderButton {
                            id: button.id,
                            name: button.name,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    pub fn sso(&self) -> Option<&SingleSignOn> {
        self.sso.as_ref()
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks the password and opens a session; returns the user and the new token.
    pub async fn sign_in(
        &self,
        username: &str,
        password_given: &str,
        address: &str,
        user_agent: Option<String>,
    ) -> Result<(User, String), SignInError> {
        if !self.local_sign_in {
            return Err(SignInError::LocalSignInOff);
        }
        // Text that cannot be a username (a password typed in the wrong
        // field, a megabyte of junk) is neither kept as a throttle key nor
        // written to the audit log as typed.
        let plausible = app::accounts::check_username(username).is_ok();
        let username = if plausible { username } else { NOT_A_USERNAME };
        let attempt = self
            .throttle()
            .begin(username, address, Instant::now())
            .map_err(|retry| SignInError::Throttled(retry.0))?;
        let user = match plausible {
            false => None,
            true => match self.store.user_by_username(username).await {
                Ok(user) => Some(user),
                Err(StoreError::NotFound) => None,
                Err(error) => {
                    self.throttle().not_counted(attempt);
                    return Err(SignInError::Store(error));
                }
            },
        };
        let hash = user
            .as_ref()
            .and_then(|user| user.password_hash.clone())
            .unwrap_or_else(|| self.decoy_hash.clone());
        let matches = password::verify_off_the_runtime(password_given.to_string(), hash).await;
        let user = match user {
            Some(user) if matches && !user.disabled && user.password_hash.is_some() => user,
            _ => {
                self.throttle().failed(&attempt, Instant::now());
                // The first failure of a row and each doubling, with the
                // count: a guesser cannot grow the log at their own pace.
                if attempt.worth_auditing() {
                    let failures = attempt.failures_in_a_row;
                    self.audit(
                        None,
                        username,
                        address,
                        "session.sign_in",
                        Outcome::Failure,
                        json!({ "failures_in_a_row": failures }),
                    )
                    .await;
                }
                return Err(SignInError::Invalid);
            }
        };
        self.throttle().succeeded(attempt);
        let token = self
            .open_session(&user, address, user_agent, "session.sign_in")
            .await
            .map_err(SignInError::Store)?;
        Ok((user, token))
    }

    /// Opens a session for a user who proved who they are; returns its token
    /// (a new one each time: the id rotates at every sign-in).
    pub async fn open_session(
        &self,
        user: &User,
        address: &str,
        user_agent: Option<String>,
        action: &str,
    ) -> Result<String, StoreError> {
        self.open_session_for(user, address, user_agent, action, self.lifetimes.absolute)
            .await
    }

    /// A session for a user the provider just vouched for: it ends when
    /// their groups are `sso_groups` old, if that is sooner than the usual
    /// lifetime, and the next sign-in reads the groups again.
    pub async fn open_sso_session(
        &self,
        user: &User,
        address: &str,
        user_agent: Option<String>,
    ) -> Result<String, StoreError> {
        let lifetime = self.lifetimes.sso_session();
        self.open_session_for(user, address, user_agent, "session.sign_in_sso", lifetime)
            .await
    }

    async fn open_session_for(
        &self,
        user: &User,
        address: &str,
        user_agent: Option<String>,
        action: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, StoreError> {
        let token = session::new_token();
        let now = chrono::Utc::now();
        let absolute = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(8));
        self.store
            .create_session(NewSession {
                token_hash: session::token_hash(&token),
                user_id: user.id,
                created_at: now,
                expires_at: now + absolute,
                client_address: Some(address.to_string()),
                user_agent,
            })
            .await?;
        self.store.record_sign_in(user.id, now).await?;
        self.audit(
            Some(user.id),
            &user.username,
            address,
            action,
            Outcome::Success,
            json!({}),
        )
        .await;
        Ok(token)
    }

    /// The user a request's session belongs to, if it is still valid.
    /// Ends sessions past their limits; notes activity at most once a minute.
    /// A store that cannot answer is an error, not "signed out": the
    /// caller says the portal is unavailable instead of sending a signed-in
    /// person to the sign-in page.
    pub async fn current_user(&self, headers: &HeaderMap) -> Result<Option<SignedIn>, StoreError> {
        let Some(token) = self.cookie.token(headers) else {
            return Ok(None);
        };
        let hash = session::token_hash(&token);
        let (record, user) = match self.store.session_with_user(&hash).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let now = chrono::Utc::now();
        if session::validity(&record, now, self.lifetimes) != Validity::Valid {
            let _ = self.store.delete_session(&hash).await;
            return Ok(None);
        }
        if now - record.last_seen_at > chrono::Duration::seconds(60) {
            let _ = self.store.touch_session(&hash, now).await;
        }
        Ok((!user.disabled).then_some(SignedIn {
            user,
            session_hash: hash,
        }))
    }

    pub async fn sign_out(&self, headers: &HeaderMap, address: &str) {
        if let Some(token) = self.cookie.token(headers) {
            let hash = session::token_hash(&token);
            if let Ok(record) = self.store.session(&hash).await {
                let _ = self.store.delete_session(&hash).await;
                if let Ok(user) = self.store.user_by_id(record.user_id).await {
                    self.audit(
                        Some(user.id),
                        &user.username,
                        address,
                        "session.sign_out",
                        Outcome::Success,
                        json!({}),
                    )
                    .await;
                }
            }
        }
    }

    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// Records a sign-in or sign-out about `actor` themself.
    async fn audit(
        &self,
        actor_id: Option<uuid::Uuid>,
        actor: &str,
        address: &str,
        action: &str,
        outcome: Outcome,
        details: serde_json::Value,
    ) {
        let who = crate::audit::Actor {
            id: actor_id,
            name: actor.to_string(),
            address: Some(address.to_string()),
        };
        let target = format!("user:{actor}");
        crate::audit::audit(self.store.as_ref(), &who, action, &target, outcome, details).await;
    }
}

/// Puts the signed-in user (if any) into the request for everything after it.
pub async fn identify(
    auth: Arc<Authenticator>,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    // Static files, health and the auth routes (which read the cookie
    // themselves) never need the user: no session lookup for them.
    if super::guard::is_public(request.uri().path()) {
        return next.run(request).await;
    }
    match auth.current_user(request.headers()).await {
        Ok(Some(signed_in)) => {
            request.extensions_mut().insert(signed_in);
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "cannot read the session: the store does not answer");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "The portal's database does not answer right now; your session is kept. Try again in a few seconds.",
            )
                .into_response();
        }
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct SignInForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// The most of a typed username sent back to the form after a failure.
const MAX_USERNAME_ECHO: usize = 100;

/// What a failed sign-in records for a username that cannot be one.
pub const NOT_A_USERNAME: &str = "(not a username)";

/// The longest `next` kept; a longer one is not a page of this portal.
const MAX_NEXT_LENGTH: usize = 2048;

/// Where to go after signing in: a path of this site, or else `/`. Only
/// visible ASCII passes: browsers drop tabs and newlines from a
/// `Location`, so `/<TAB>/evil.example` would become `//evil.example`, a
/// host. Non-ASCII arrives percent-encoded from our own links.
pub fn safe_next(next: &str) -> &str {
    let visible = next.bytes().all(|byte| byte.is_ascii_graphic());
    let path_of_this_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= MAX_NEXT_LENGTH;
    if visible && path_of_this_site {
        next
    } else {
        "/"
    }
}

pub async fn sign_in_route(auth: Arc<Authenticator>, request: Request) -> Response {
    let address = client_address(&request);
    let headers = request.headers().clone();
    let Ok(Form(form)) = Form::<SignInForm>::from_request(request, &()).await else {
        return (StatusCode::BAD_REQUEST, "The sign-in form was incomplete.").into_response();
    };
    let next = safe_next(&form.next).to_string();
    // The username goes back into the form (never the password), so a typo
    // in the password costs one field, not two.
    // Only what can be a username: a password typed into that field must
    // not end up in the address bar and the browser's history.
    let typed = form.username.trim();
    let username: String = if app::accounts::check_username(typed).is_ok() {
        typed.chars().take(MAX_USERNAME_ECHO).collect()
    } else {
        String::new()
    };
    let back = |error: &str| {
        let query = format!(
            "error={error}&next={}&username={}",
            urlencode(&next),
            urlencode(&username)
        );
        Redirect::to(&format!("/sign-in?{query}")).into_response()
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    match auth
        .sign_in(form.username.trim(), &form.password, &address, user_agent)
        .await
    {
        Ok((user, token)) => with_cookie(
            Redirect::to(if user.must_change_password {
                super::guard::MUST_CHANGE_PAGE
            } else {
                &next
            })
            .into_response(),
            &auth.session_cookie().set(&token, auth.lifetimes().absolute),
        ),
        Err(SignInError::Invalid) => back("invalid"),
        Err(SignInError::LocalSignInOff) => back("local_off"),
        // In seconds: the first waits are a second or two.
        Err(SignInError::Throttled(wait)) => back(&format!(
            "throttled&retry={}",
            wait.as_secs_f64().ceil().max(1.0) as u64
        )),
        Err(SignInError::Store(error)) => {
            tracing::error!(%error, "sign-in failed on the store");
            back("unavailable")
        }
    }
}

pub async fn sign_out_route(auth: Arc<Authenticator>, request: Request) -> Response {
    let address = client_address(&request);
    auth.sign_out(request.headers(), &address).await;
    with_cookie(
        Redirect::to("/sign-in?signed_out=1").into_response(),
        &auth.session_cookie().expire(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/databases?page=2"), "/databases?page=2");
        assert_eq!(safe_next("//evil.example/x"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
        // What browsers strip from a Location would join the slashes.
        assert_eq!(safe_next("/\t/evil.example"), "/");
        assert_eq!(safe_next("/\n/evil.example"), "/");
        assert_eq!(safe_next("/\r/evil.example"), "/");
        assert_eq!(safe_next("/ /evil.example"), "/");
        assert_eq!(safe_next("/\u{00a0}/evil.example"), "/");
        assert_eq!(safe_next("/databases?q=%09"), "/databases?q=%09");
        assert_eq!(safe_next(&format!("/{}", "a".repeat(MAX_NEXT_LENGTH))), "/");
    }

    #[test]
    fn the_next_path_survives_the_round_trip() {
        assert_eq!(
            urlencode("/apps/validate?text=a b&x=1"),
            "/apps/validate%3Ftext%3Da%20b%26x%3D1"
        );
    }
}
