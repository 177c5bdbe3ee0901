//! The audit log (admins): filters, server-side pages (newest first, by
//! cursor) and CSV / JSON export. Read-only: events are never edited or deleted.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::users::encode;
use crate::accounts::{
    AUDIT_ACTIONS, AuditEntry, AuditFilter, AuditList, list_audit, server_message,
};

const FILTERS: [&str; 5] = ["actor", "action", "target", "since", "until"];

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let value = move |key: &str| query.read().get(key).filter(|value| !value.is_empty());
    let filter = move || AuditFilter {
        actor: value("actor"),
        action: value("action"),
        target: value("target"),
        since: value("since"),
        until: value("until"),
    };
    let before = move || value("before").and_then(|before| before.parse::<i64>().ok());
    let events = Resource::new(
        move || (filter(), before()),
        |(filter, before)| list_audit(filter, before),
    );
    // The filters as a query string, for the next page and the exports.
    let filter_query = move || {
        FILTERS
            .iter()
            .filter_map(|key| value(key).map(|text| format!("{key}={}", encode(&text))))
            .collect::<Vec<_>>()
            .join("&")
    };
    let field = move |key: &'static str,
                      label: &'static str,
                      kind: &'static str,
                      hint: &'static str| {
        view! {
            <label>
                {label}
                <input name=key type=kind placeholder=hint value=move || value(key).unwrap_or_default() />
            </label>
        }
    };
    view! {
        <Title text="Audit log" />
        <section class="panel">
            <div class="panel-heading">
                <h1>"Audit log"</h1>
                <p class="lede">"Every change made through the portal: when, who, from where, what, and how it ended. Times are UTC."</p>
            </div>
            <Form method="GET" action="" attr:class="filter-form" attr:aria-label="Filter the audit log">
                {field("actor", "Actor", "text", "username")}
                <label>
                    "Action"
                    <select name="action">
                        {move || {
                            let chosen = value("action").unwrap_or_default();
                            let typed = (!chosen.is_empty() && !AUDIT_ACTIONS.contains(&chosen.as_str()))
                                .then(|| chosen.clone());
                            let option = |action: String, chosen: &str| {
                                let selected = action == chosen;
                                let label = action.clone();
                                view! { <option value=action selected=selected>{label}</option> }
                            };
                            view! {
                                <option value="" selected=chosen.is_empty()>"Any action"</option>
                                {typed.map(|action| option(action, &chosen))}
                                {AUDIT_ACTIONS.iter().map(|action| option(action.to_string(), &chosen)).collect_view()}
                            }
                        }}
                    </select>
                </label>
                {field("target", "Target starts with", "text", "e.g. user:")}
                {field("since", "From", "datetime-local", "")}
                {field("until", "Until", "datetime-local", "")}
                <div class="form-buttons">
                    <button type="submit" class="button-primary">"Filter"</button>
                    <A href="/admin/audit" attr:class="button-secondary">"Clear"</A>
                </div>
            </Form>
            <p class="exports">
                "Export what the filters match: "
                <a rel="external" download href=move || format!("/admin/audit/export?format=csv&{}", filter_query())>"CSV"</a>
                " · "
                <a rel="external" download href=move || format!("/admin/audit/export?format=json&{}", filter_query())>"JSON"</a>
            </p>
            <Transition fallback=|| view! { <p class="hint">"Loading events…"</p> }>
                {move || {
                    events
                        .get()
                        .map(|events| match events {
                            Ok(events) => event_table(events, filter_query(), before().is_some()).into_any(),
                            Err(error) => {
                                view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

fn event_table(events: AuditList, filter_query: String, paged: bool) -> impl IntoView {
    if events.items.is_empty() {
        return view! { <p class="empty-state">"No event matches these filters."</p> }.into_any();
    }
    let newest = format!("?{filter_query}");
    let older = events
        .next_before
        .map(|before| format!("?{filter_query}&before={before}"));
    view! {
        // Scrolls sideways on mid-size screens: focusable for keyboards.
        <div class="table-scroll" tabindex="0" role="region" aria-label="Audit events">
            <table class="data-table audit-table">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"From"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {events
                        .items
                        .into_iter()
                        .map(event_row)
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pagination" aria-label="Pages of the audit log">
            {paged.then(|| view! { <A href=newest>"⇤ Newest"</A> })}
            {older.map(|href| view! { <A href=href>"Older events →"</A> })}
        </nav>
    }
    .into_any()
}

fn event_row(event: AuditEntry) -> impl IntoView {
    let outcome_class = match event.outcome.as_str() {
        "success" => "badge badge-ok",
        "denied" => "badge badge-warn",
        _ => "badge badge-error",
    };
    // A target named by an id shows its name; the id stays on hover.
    let target = match event.target_name {
        Some(name) => {
            let kind = event
                .target
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string();
            view! {
                <span title=event.target.clone()>{kind}" "<strong>{name}</strong></span>
            }
            .into_any()
        }
        None => view! { <code>{event.target}</code> }.into_any(),
    };
    let details = if event.fields.is_empty() {
        view! { <span class="hint">"—"</span> }.into_any()
    } else {
        view! {
            <ul class="audit-details">
                {event
                    .fields
                    .into_iter()
                    .map(|(key, value)| view! { <li><span class="key">{key}":"</span>" "{value}</li> })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <tr>
            <td class="nowrap" data-label="When">{event.at}</td>
            <td data-label="Actor">{event.actor}</td>
            <td data-label="From">{event.address.unwrap_or_else(|| "—".to_string())}</td>
            <td data-label="Action"><code>{event.action}</code></td>
            <td data-label="Target" class="audit-target">{target}</td>
            <td data-label="Outcome"><span class=outcome_class>{event.outcome}</span></td>
            <td data-label="Details">{details}</td>
        </tr>
    }
}
