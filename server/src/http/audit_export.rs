//! `GET /admin/audit/export?format=csv|json&actor=…`: the audit log, with the
//! audit page's filters, as a download. Admins only (the guard's table).

use std::sync::Arc;

use app::accounts::AuditFilter;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::service::{audit_query, target_name};
use crate::store::{MAX_PAGE_SIZE, Store};

pub const PATH: &str = "/admin/audit/export";
/// An export stops here; narrow the filters for more.
const MAX_EVENTS: usize = 100_000;

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
}

pub async fn export(
    State(store): State<Arc<dyn Store>>,
    Query(query): Query<ExportQuery>,
) -> Response {
    let csv = match query.format.as_deref().unwrap_or("csv") {
        "csv" => true,
        "json" => false,
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("format {other:?} is not offered: use csv or json"),
            )
                .into_response();
        }
    };
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        target: query.target,
        since: query.since,
        until: query.until,
    };
    let mut events = Vec::new();
    let mut before = None;
    loop {
        let page_query = match audit_query(&filter, before, MAX_PAGE_SIZE) {
            Ok(page_query) => page_query,
            Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
        };
        let page = match store.list_audit(&page_query).await {
            Ok(page) => page,
            Err(error) => {
                tracing::error!(%error, "audit export failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the audit log cannot be read right now",
                )
                    .into_response();
            }
        };
        events.extend(page.items.into_iter().map(ExportedEvent::from));
        match page.next_before_id {
            Some(next) if events.len() < MAX_EVENTS => before = Some(next),
            _ => break,
        }
    }
    events.truncate(MAX_EVENTS);
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let (body, content_type, extension) = if csv {
        (to_csv(&events), "text/csv; charset=utf-8", "csv")
    } else {
        (
            serde_json::to_string_pretty(&events).unwrap_or_else(|_| "[]".to_string()),
            "application/json",
            "json",
        )
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"dscloud-audit-{day}.{extension}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// One event as exported: times in RFC 3339 (UTC), the details as the JSON
/// object they are (not a string holding JSON), the target's name where the
/// event recorded one.
#[derive(Serialize)]
struct ExportedEvent {
    id: i64,
    at: String,
    actor: String,
    address: Option<String>,
    action: String,
    target: String,
    target_name: Option<String>,
    outcome: &'static str,
    details: serde_json::Value,
}

impl From<crate::store::AuditEvent> for ExportedEvent {
    fn from(event: crate::store::AuditEvent) -> Self {
        ExportedEvent {
            id: event.id,
            at: event
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            target_name: target_name(&event.target, &event.details),
            actor: event.actor_name,
            address: event.client_address,
            action: event.action,
            target: event.target,
            outcome: event.outcome.as_str(),
            details: event.details,
        }
    }
}

fn to_csv(events: &[ExportedEvent]) -> String {
    let mut out = String::from("id,at,actor,address,action,target,target_name,outcome,details\r\n");
    for event in events {
        let fields = [
            event.id.to_string(),
            event.at.clone(),
            event.actor.clone(),
            event.address.clone().unwrap_or_default(),
            event.action.clone(),
            event.target.clone(),
            event.target_name.clone().unwrap_or_default(),
            event.outcome.to_string(),
            event.details.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// RFC 4180 quoting, and no spreadsheet formulas: a cell that starts with
/// `=`, `+`, `-` or `@` (a username can) is prefixed with `'` (OWASP's CSV
/// injection advice).
fn csv_field(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_string()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@admin"), "'@admin");
    }
}
