//! `GET /admin/audit/export?format=csv|json&actor=…`: the audit log, with the
//! audit page's filters, as a download. Admins only (the guard's table).

use std::sync::Arc;

use app::accounts::AuditFilter;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::service::{audit_entry, audit_query};
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
    let mut entries = Vec::new();
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
        entries.extend(page.items.into_iter().map(audit_entry));
        match page.next_before_id {
            Some(next) if entries.len() < MAX_EVENTS => before = Some(next),
            _ => break,
        }
    }
    entries.truncate(MAX_EVENTS);
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let (body, content_type, extension) = if csv {
        (to_csv(&entries), "text/csv; charset=utf-8", "csv")
    } else {
        (
            serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".to_string()),
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

fn to_csv(entries: &[app::accounts::AuditEntry]) -> String {
    let mut out = String::from("id,at,actor,address,action,target,outcome,details\r\n");
    for entry in entries {
        let fields = [
            entry.id.to_string(),
            entry.at.clone(),
            entry.actor.clone(),
            entry.address.clone().unwrap_or_default(),
            entry.action.clone(),
            entry.target.clone(),
            entry.outcome.clone(),
            entry.details.clone(),
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
