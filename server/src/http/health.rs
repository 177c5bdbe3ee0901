//! Liveness and readiness, for load balancers and Kubernetes probes.

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use super::AppState;

/// The process is up and answering.
pub async fn alive() -> &'static str {
    "ok"
}

/// The portal can do its work: its database answers and is migrated.
/// Never tied to leadership: every replica serves every page.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "store": state.store.kind() })),
        ),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            let reason = match error {
                crate::store::StoreError::Behind { .. } => error.to_string(),
                _ => "the database does not answer".to_string(),
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "store": state.store.kind(),
                    "reason": reason,
                })),
            )
        }
    }
}
