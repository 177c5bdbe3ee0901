//! `GET /databases/{id}/events`: a database's state as server-sent events,
//! for the database page's live status. The first event is the current
//! state; another follows whenever it changes (status, message, a step).
//!
//! Pages learn of changes from the one change feed (`feed.rs`), not by
//! polling each on its own. A stream belongs to its session: at most
//! [`MAX_PER_SESSION`] at once, and it ends within [`SESSION_CHECK`] of
//! the session ending (sign-out, expiry) or its user changing (disabled, a
//! new role). It also ends after a few minutes; the browser reconnects
//! through the guard.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::caller::{Caller, ServiceError};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;
use uuid::Uuid;

use super::feed::{ChangeFeed, Subscription};
use super::service::DatabaseService;
use crate::auth::sign_in::{Authenticator, SignedIn};

/// Live views one session may hold open (a browser opens at most six
/// connections to a host; more would starve its other requests anyway).
pub const MAX_PER_SESSION: usize = 8;
/// How often a stream asks whether its session still stands.
pub const SESSION_CHECK: Duration = Duration::from_secs(2);
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

pub const PATH: &str = "/databases/{id}/events";

/// Everything the live views share.
pub struct LiveViews {
    service: Arc<DatabaseService>,
    feed: Arc<ChangeFeed>,
    auth: Arc<Authenticator>,
    /// Open streams per session (by the session's token hash).
    open: Mutex<HashMap<String, usize>>,
}

impl LiveViews {
    pub fn new(
        service: Arc<DatabaseService>,
        feed: Arc<ChangeFeed>,
        auth: Arc<Authenticator>,
    ) -> Arc<LiveViews> {
        Arc::new(LiveViews {
            service,
            feed,
            auth,
            open: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one more stream of `session`, if it has one left.
    fn take_slot(self: &Arc<Self>, session: &str) -> Option<Slot> {
        let mut open = self.lock();
        let count = open.entry(session.to_string()).or_insert(0);
        if *count >= MAX_PER_SESSION {
            return None;
        }
        *count += 1;
        Some(Slot {
            views: self.clone(),
            session: session.to_string(),
        })
    }
}

/// One open stream's place; given back when the stream ends.
struct Slot {
    views: Arc<LiveViews>,
    session: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.views.lock();
        if let Some(count) = open.get_mut(&self.session) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.session);
            }
        }
    }
}

pub async fn stream(views: Arc<LiveViews>, id: String, request: Request) -> Response {
    let Some(signed_in) = request.extensions().get::<SignedIn>().cloned() else {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    };
    let caller = caller_of(&signed_in);
    // Ownership is checked before the stream starts: an error is a plain answer.
    let first = match views.service.visible_detail(&caller, &id).await {
        Ok((_, detail)) => detail,
        Err(error) => return refusal(&error),
    };
    let Ok(database) = id.parse::<Uuid>() else {
        return refusal(&ServiceError::NotFound("no such database".to_string()));
    };
    let Some(slot) = views.take_slot(&signed_in.session_hash) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "You have {MAX_PER_SESSION} live database views open: close some of those tabs."
            ),
        )
            .into_response();
    };
    let subscription = views.feed.subscribe(database);
    let now = Instant::now();
    let live = Live {
        views,
        caller,
        signed_in,
        headers: request.headers().clone(),
        id,
        subscription,
        _slot: slot,
        first: Some(first),
        last: String::new(),
        next_check: now + SESSION_CHECK,
        ends_at: now + STREAM_LIFETIME,
    };
    let events = futures_util::stream::unfold(live, |mut live| async move {
        let event = live.next().await?;
        Some((Ok::<_, Infallible>(event), live))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// One open stream.
struct Live {
    views: Arc<LiveViews>,
    caller: Caller,
    signed_in: SignedIn,
    /// The request's headers: its session cookie, checked again and again.
    headers: HeaderMap,
    id: String,
    subscription: Subscription,
    _slot: Slot,
    first: Option<app::databases::DatabaseDetail>,
    /// What the page was last sent, without the parts that change by
    /// themselves (the time read, the estimate).
    last: String,
    next_check: Instant,
    ends_at: Instant,
}

impl Live {
    /// The next event to send, or `None` to end the stream.
    async fn next(&mut self) -> Option<Event> {
        if let Some(first) = self.first.take() {
            return self.event_if_new(&first);
        }
        loop {
            tokio::select! {
                changed = self.subscription.changed() => {
                    if !changed {
                        return None;
                    }
                    // Gone, or the store is down: end; the browser retries.
                    let (_, detail) = self.views.service.visible_detail(&self.caller, &self.id).await.ok()?;
                    if let Some(event) = self.event_if_new(&detail) {
                        return Some(event);
                    }
                }
                () = tokio::time::sleep_until(self.next_check) => {
                    if !self.session_stands().await {
                        return None;
                    }
                    self.next_check = Instant::now() + SESSION_CHECK;
                }
                () = tokio::time::sleep_until(self.ends_at) => return None,
                // This replica stops: the browser reconnects to another.
                () = crate::stopping::begun() => return None,
            }
        }
    }

    fn event_if_new(&mut self, detail: &app::databases::DatabaseDetail) -> Option<Event> {
        let fingerprint = serde_json::to_string(&app::databases::DatabaseDetail {
            read_at: String::new(),
            estimate_seconds: None,
            ..detail.clone()
        })
        .unwrap_or_default();
        if fingerprint == self.last {
            return None;
        }
        self.last = fingerprint;
        let data = serde_json::to_string(detail).unwrap_or_default();
        Some(
            Event::default()
                .event("message")
                .retry(Duration::from_secs(1))
                .data(data),
        )
    }

    /// The same session, still valid, of the same user with the same role.
    async fn session_stands(&self) -> bool {
        self.views
            .auth
            .current_user(&self.headers)
            .await
            .ok()
            .flatten()
            .is_some_and(|now| {
                now.session_hash == self.signed_in.session_hash
                    && now.user.id == self.signed_in.user.id
                    && now.user.role == self.signed_in.user.role
            })
    }
}

fn caller_of(signed_in: &SignedIn) -> Caller {
    Caller {
        username: Some(signed_in.user.username.clone()),
        role: Some(signed_in.user.role),
        session_hash: Some(signed_in.session_hash.clone()),
        address: None,
        user_id: Some(signed_in.user.id.to_string()),
    }
}

fn refusal(error: &ServiceError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, error.message().to_string()).into_response()
}
