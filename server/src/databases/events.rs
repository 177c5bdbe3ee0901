//! `GET /databases/{id}/events`: a database's state as server-sent events,
//! for the database page's live status. The first event is the current
//! state; another follows whenever it changes (status, message, a step).
//!
//! The store is read every half second rather than fed by the engine in this
//! process: with several replicas the engine may run in another one, and the
//! store is what they share. A stream ends after a few minutes; the browser
//! reconnects through the guard, so a session that ended stops receiving.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::caller::{Caller, ServiceError};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::service::DatabaseService;
use crate::auth::sign_in::SignedIn;

const POLL: Duration = Duration::from_millis(500);
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

pub const PATH: &str = "/databases/{id}/events";

pub async fn stream(service: Arc<DatabaseService>, id: String, request: Request) -> Response {
    let caller = caller_of(&request);
    // Ownership is checked before the stream starts: an error is a plain answer.
    if let Err(error) = service.visible_detail(&caller, &id).await {
        return refusal(&error);
    }
    let started = Instant::now();
    let state = (service, caller, id, String::new(), started);
    let events =
        futures_util::stream::unfold(state, |(service, caller, id, last, started)| async move {
            let mut first = last.is_empty();
            loop {
                if !first {
                    tokio::time::sleep(POLL).await;
                }
                first = false;
                if started.elapsed() > STREAM_LIFETIME {
                    return None;
                }
                let Ok((_, detail)) = service.visible_detail(&caller, &id).await else {
                    // Gone, or the store is down: end; the browser retries.
                    return None;
                };
                let fingerprint = serde_json::to_string(&app::databases::DatabaseDetail {
                    read_at: String::new(),
                    estimate_seconds: None,
                    ..detail.clone()
                })
                .unwrap_or_default();
                if fingerprint == last {
                    continue;
                }
                let data = serde_json::to_string(&detail).unwrap_or_default();
                let event = Event::default()
                    .event("message")
                    .retry(Duration::from_secs(1))
                    .data(data);
                return Some((
                    Ok::<_, Infallible>(event),
                    (service, caller, id, fingerprint, started),
                ));
            }
        });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn caller_of(request: &Request) -> Caller {
    let signed_in = request.extensions().get::<SignedIn>();
    Caller {
        username: signed_in.map(|signed_in| signed_in.user.username.clone()),
        role: signed_in.map(|signed_in| signed_in.user.role),
        session_hash: None,
        address: None,
        user_id: signed_in.map(|signed_in| signed_in.user.id.to_string()),
    }
}

fn refusal(error: &ServiceError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, error.message().to_string()).into_response()
}
