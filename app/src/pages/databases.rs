//! The databases list: the caller's databases (admins: everyone's, with the
//! owner), searched, filtered by status and paged on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::users::encode;
use crate::accounts::server_message;
use crate::databases::{DatabaseList, DatabaseSummary, Status, list_databases};

#[component]
pub fn DatabasesPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let status = move || query.read().get("status").unwrap_or_default();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    };
    // While a database on the page is changing, the list asks again every
    // two seconds, so PENDING turns ACTIVE here as on the database's page.
    let tick = RwSignal::new(0_u32);
    let databases = Resource::new(
        move || (search(), status(), page(), tick.get()),
        |(search, status, page, _)| list_databases(search, status, page),
    );
    Effect::new(move |_| {
        let changing = databases.get().and_then(Result::ok).is_some_and(|list| {
            list.items
                .iter()
                .any(|database| !database.status.is_settled())
        });
        if changing {
            set_timeout(
                move || tick.update(|tick| *tick = tick.wrapping_add(1)),
                std::time::Duration::from_secs(2),
            );
        }
    });
    let status_options = move || {
        let chosen = status();
        std::iter::once(
            view! { <option value="" selected=chosen.is_empty()>"Any status"</option> }.into_any(),
        )
        .chain(Status::ALL.into_iter().map(|option| {
            let selected = chosen == option.as_str();
            view! { <option value=option.as_str() selected=selected>{option.as_str()}</option> }
                .into_any()
        }))
        .collect_view()
    };
    view! {
        <Title text="Databases" />
        <section class="panel">
            <div class="page-head">
                <div class="panel-heading">
                    <h1>"Databases"</h1>
                    <p class="lede">"Cassandra and PostgreSQL, each in its own namespace, run by its operator."</p>
                </div>
                <A href="/databases/new" attr:class="button-primary">"Create database"</A>
            </div>
            <Form method="GET" action="" attr:class="search-form" attr:role="search">
                <label>
                    <span class="visually-hidden">"Search databases"</span>
                    <input type="search" name="q" placeholder="Search by name" value=search />
                </label>
                <label>
                    <span class="visually-hidden">"Status"</span>
                    <select name="status">{status_options}</select>
                </label>
                <button type="submit" class="button-secondary">"Search"</button>
            </Form>
            <Transition fallback=|| view! { <p class="hint">"Loading databases…"</p> }>
                {move || {
                    databases
                        .get()
                        .map(|databases| match databases {
                            Ok(databases) if databases.total == 0 && search().is_empty() && status().is_empty() => {
                                empty_state().into_any()
                            }
                            Ok(databases) => database_table(databases, search(), status()).into_any(),
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

fn empty_state() -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2>"No databases yet"</h2>
            <p>"Create one: pick Cassandra or PostgreSQL and a size; it is ready in a few minutes on a real cluster, seconds on the sandbox."</p>
            <A href="/databases/new" attr:class="button-primary">"Create database"</A>
        </div>
    }
}

fn database_table(databases: DatabaseList, search: String, status: String) -> impl IntoView {
    let pages = databases.pages();
    let page = databases.page;
    let link = move |page: u32| {
        format!(
            "?q={}&status={}&page={page}",
            encode(&search),
            encode(&status)
        )
    };
    let summary = format!(
        "{} database{} · page {page} of {pages}",
        databases.total,
        if databases.total == 1 { "" } else { "s" }
    );
    let with_owner = databases.items.iter().any(|item| item.owner.is_some());
    view! {
        <p class="hint">{summary}</p>
        <div class="table-scroll">
            <table class="data-table databases-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Engine"</th>
                        <th scope="col">"Region"</th>
                        <th scope="col">"Size"</th>
                        <th scope="col">"Status"</th>
                        {with_owner.then(|| view! { <th scope="col">"Owner"</th> })}
                        <th scope="col">"Created"</th>
                    </tr>
                </thead>
                <tbody>
                    {databases.items.into_iter().map(|item| database_row(item, with_owner)).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pagination" aria-label="Pages of databases">
            {(page > 1).then(|| view! { <A href=link(page - 1)>"← Previous"</A> })}
            {(page < pages).then(|| view! { <A href=link(page + 1)>"Next →"</A> })}
        </nav>
    }
}

fn database_row(database: DatabaseSummary, with_owner: bool) -> impl IntoView {
    let href = format!("/databases/{}", database.id);
    let name = database.name.clone();
    view! {
        <tr data-database=database.name>
            <td><A href=href><strong>{name}</strong></A></td>
            <td>{database.engine.label()}</td>
            <td>{database.region}</td>
            <td>{database.tier}</td>
            <td><StatusBadge status=database.status /></td>
            {with_owner.then(|| view! { <td>{database.owner.unwrap_or_default()}</td> })}
            <td class="nowrap">{short_time(&database.created_at)}</td>
        </tr>
    }
}

/// A status as a coloured badge: green when usable, amber while changing,
/// red on error, grey when parked or gone.
#[component]
pub fn StatusBadge(status: Status) -> impl IntoView {
    let tone = match status {
        Status::Active => "badge badge-ok",
        Status::Error => "badge badge-error",
        Status::Parked | Status::Terminated => "badge badge-muted",
        _ => "badge badge-warn",
    };
    view! { <span class=tone data-status=status.as_str()>{status.as_str()}</span> }
}

/// `2026-11-23T10:04:05.123Z` → `2026-11-23 10:04 UTC`.
pub fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}
