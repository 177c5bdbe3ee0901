//! Secrets across apps: each app with what is set and, per environment,
//! the keys still missing (which block its deploys there). Paged on the
//! server; each app links to its own secrets page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::users::encode;
use crate::accounts::server_message;
use crate::secrets::{SecretsOverview, fetch_secrets_overview};

#[component]
pub fn SecretsPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let overview = Resource::new(page, fetch_secrets_overview);
    view! {
        <Title text="Secrets" />
        <section class="panel">
            <div class="panel-heading">
                <h1>"Secrets"</h1>
                <p class="lede">"The values your services read at deploy time, per environment, write-only once saved."</p>
            </div>
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || overview.get().map(|overview| match overview {
                    Ok(overview) => overview_view(overview).into_any(),
                    Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn overview_view(overview: SecretsOverview) -> impl IntoView {
    if overview.total == 0 {
        return view! {
            <p class="hint">"No app yet. " <A href="/apps/new">"Register one"</A> " to give it secrets."</p>
        }
        .into_any();
    }
    let pages = overview.pages();
    let page = overview.page;
    let rows: Vec<_> = overview
        .apps
        .into_iter()
        .map(|app| {
            let href = format!("/apps/{}/secrets", encode(&app.app));
            let missing = if app.missing.is_empty() {
                view! { <span class="badge badge-ok">"nothing missing"</span> }.into_any()
            } else {
                let items: Vec<_> = app
                    .missing
                    .iter()
                    .map(|(environment, keys)| {
                        view! { <li><span class="badge badge-error">{environment.clone()}</span> " " {keys.join(", ")}</li> }
                    })
                    .collect();
                view! { <ul class="plain-list">{items}</ul> }.into_any()
            };
            let name = app.app.clone();
            view! {
                <tr data-app=app.app>
                    <th scope="row"><A href=href>{name}</A></th>
                    <td>{app.set}</td>
                    <td>{missing}</td>
                </tr>
            }
        })
        .collect();
    view! {
        <p class="hint">{format!("{} app{} · page {page} of {pages}", overview.total, if overview.total == 1 { "" } else { "s" })}</p>
        <table class="data-table card-table">
            <thead><tr><th scope="col">"App"</th><th scope="col">"Keys set"</th><th scope="col">"Missing (blocks the deploy there)"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <nav class="pagination" aria-label="Pages of apps">
            {(page > 1).then(|| view! { <A href=format!("?page={}", page - 1)>"← Previous"</A> })}
            {(page < pages).then(|| view! { <A href=format!("?page={}", page + 1)>"Next →"</A> })}
        </nav>
    }
    .into_any()
}
