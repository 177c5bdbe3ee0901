//! The home page's glances for developers (their apps, recent deploys) and
//! admins (users, recent audit, the engines).

use leptos::prelude::*;
use leptos_router::components::A;

use super::databases::short_time;
use super::deploys::status_badge;
use crate::accounts::server_message;

/// How many rows a glance lists; the section's page has the rest.
const GLANCE_ROWS: usize = 5;

fn failed(error: &ServerFnError) -> AnyView {
    view! { <p class="status status-error" role="alert">{server_message(error)}</p> }.into_any()
}

/// The apps, those whose repository cannot be read first.
#[component]
pub fn AppsAtAGlance() -> impl IntoView {
    let apps = Resource::new(|| (), |()| crate::apps::list_apps(String::new(), 0));
    view! {
        <section class="panel card glance" aria-labelledby="apps-glance-heading">
            <h2 id="apps-glance-heading"><A href="/apps">"Apps"</A></h2>
            <Transition fallback=|| view! { <p class="hint">"Reading the apps…"</p> }>
                {move || apps.get().map(|apps| match apps {
                    Ok(apps) if apps.total == 0 => view! {
                        <p>"None yet. " <A href="/apps/new">"Register an app"</A> " from its git repository."</p>
                    }.into_any(),
                    Ok(apps) => {
                        let total = apps.total;
                        let mut items = apps.items;
                        items.sort_by_key(|app| app.last_error.is_none());
                        view! {
                            <p><strong>{total}</strong>{if total == 1 { " app" } else { " apps" }}</p>
                            <ul class="glance-list" data-testid="apps-glance">
                                {items.into_iter().take(GLANCE_ROWS).map(|app| {
                                    let problem = app.last_error.map(|error| view! {
                                        " " <span class="badge badge-error" title=error>"cannot read its repository"</span>
                                    });
                                    let commit = app.last_commit.map(|commit| view! {
                                        " " <code>{commit.sha}</code>" "<span class="hint">{commit.subject}</span>
                                    });
                                    view! {
                                        <li><A href=format!("/apps/{}", app.name)>{app.name.clone()}</A>{commit}{problem}</li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                    Err(error) => failed(&error),
                })}
            </Transition>
        </section>
    }
}

/// The newest deployments of every app.
#[component]
pub fn RecentDeploys() -> impl IntoView {
    let deployments = Resource::new(
        || (),
        |()| crate::deploys::list_deployments(crate::deploys::HistoryFilter::default()),
    );
    view! {
        <section class="panel card glance" aria-labelledby="deploys-glance-heading">
            <h2 id="deploys-glance-heading"><A href="/deploys">"Recent deploys"</A></h2>
            <Transition fallback=|| view! { <p class="hint">"Reading the deploy history…"</p> }>
                {move || deployments.get().map(|list| match list {
                    Ok(list) if list.items.is_empty() => view! {
                        <p>"No deployment yet: each new commit of a registered app starts one."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="glance-list" data-testid="deploys-glance">
                            {list.items.into_iter().take(GLANCE_ROWS).map(|row| view! {
                                <li>
                                    <A href=format!("/deploys/{}", row.id)>
                                        {format!("{} to {}", row.app, row.environment)}
                                    </A>
                                    " "{status_badge(row.status)}" "
                                    <span class="hint">{short_time(&row.created_at)}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => failed(&error),
                })}
            </Transition>
        </section>
    }
}

/// How many users there are, and a way to add one.
#[component]
pub fn UsersAtAGlance() -> impl IntoView {
    let users = Resource::new(|| (), |()| crate::accounts::list_users(String::new(), 0));
    view! {
        <section class="panel card glance" aria-labelledby="users-glance-heading">
            <h2 id="users-glance-heading"><A href="/admin/users">"Users"</A></h2>
            <Transition fallback=|| view! { <p class="hint">"Counting the users…"</p> }>
                {move || users.get().map(|users| match users {
                    Ok(users) => {
                        let disabled = users.items.iter().filter(|user| user.disabled).count();
                        view! {
                            <p data-testid="users-glance">
                                <strong>{users.total}</strong>{if users.total == 1 { " user" } else { " users" }}
                                {(disabled > 0).then(|| format!(", {disabled} of the first page disabled"))}
                            </p>
                        }.into_any()
                    }
                    Err(error) => failed(&error),
                })}
            </Transition>
        </section>
    }
}

/// The newest audit events.
#[component]
pub fn RecentAudit() -> impl IntoView {
    let events = Resource::new(
        || (),
        |()| crate::accounts::list_audit(crate::accounts::AuditFilter::default(), None),
    );
    view! {
        <section class="panel card glance" aria-labelledby="audit-glance-heading">
            <h2 id="audit-glance-heading"><A href="/admin/audit">"Recent audit"</A></h2>
            <Transition fallback=|| view! { <p class="hint">"Reading the audit log…"</p> }>
                {move || events.get().map(|events| match events {
                    Ok(events) => view! {
                        <ul class="glance-list" data-testid="audit-glance">
                            {events.items.into_iter().take(GLANCE_ROWS).map(|event| {
                                let target = event.target_name.clone().unwrap_or(event.target.clone());
                                view! {
                                    <li>
                                        <strong>{event.actor}</strong>" "<code>{event.action}</code>" "
                                        <span title=event.target>{target}</span>" "
                                        <span class="hint">{short_time(&event.at)}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => failed(&error),
                })}
            </Transition>
        </section>
    }
}

/// Whether this replica leads each engine, its queue and its last failure.
#[component]
pub fn EngineHealthGlance() -> impl IntoView {
    let engines = Resource::new(|| (), |()| crate::engines::fetch_engine_health());
    view! {
        <section class="panel card glance" aria-labelledby="engines-glance-heading">
            <h2 id="engines-glance-heading">"Engines"</h2>
            <Transition fallback=|| view! { <p class="hint">"Asking the engines…"</p> }>
                {move || engines.get().map(|engines| match engines {
                    Ok(engines) if engines.is_empty() => view! {
                        <p>"No engine runs on this server (no Kubernetes is configured)."</p>
                    }.into_any(),
                    Ok(engines) => view! {
                        <ul class="glance-list" data-testid="engines-glance">
                            {engines.into_iter().map(|engine| {
                                let state = engine.state();
                                let tone = match state {
                                    "failing" => "badge-error",
                                    "stand-by" => "badge-muted",
                                    "working" => "badge-warn",
                                    _ => "badge-ok",
                                };
                                let counts = format!(
                                    "{} queued, {} running, {} failing; {} reconciles, {} failed",
                                    engine.queued, engine.running, engine.failing, engine.reconciles, engine.failures,
                                );
                                let failure = engine.last_failure.map(|failure| view! {
                                    <br/><span class="hint">
                                        {format!("Last failure {} on {}: {}", short_time(&failure.at), failure.item, failure.message)}
                                    </span>
                                });
                                let name = engine.name;
                                let key = name.clone();
                                view! {
                                    <li data-engine=key>
                                        <strong>{name}</strong>" "
                                        <span class=format!("badge {tone}")>{state}</span>" "
                                        <span class="hint">{counts}</span>
                                        {failure}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => failed(&error),
                })}
            </Transition>
        </section>
    }
}
