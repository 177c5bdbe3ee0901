//! The apps list: every registered repository, searched and paged on the
//! server, with its branch, newest release and the poller's last word.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::databases::short_time;
use super::users::encode;
use crate::accounts::server_message;
use crate::apps::{AppList, AppSummary, list_apps};

#[component]
pub fn AppsPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let apps = Resource::new(
        move || (search(), page()),
        |(search, page)| list_apps(search, page),
    );
    view! {
        <Title text="Apps" />
        <section class="panel">
            <div class="page-head">
                <div class="panel-heading">
                    <h1>"Apps"</h1>
                    <p class="lede">"Each a git repository with a dscloud.yaml: every new commit of its branch becomes a release."</p>
                </div>
                <div class="actions">
                    <A href="/apps/validate" attr:class="button-secondary">"Check a dscloud.yaml"</A>
                    <A href="/apps/new" attr:class="button-primary">"Register app"</A>
                </div>
            </div>
            <Form method="GET" action="" attr:class="search-form" attr:role="search">
                <label>
                    <span class="visually-hidden">"Search apps"</span>
                    <input type="search" name="q" maxlength="200" placeholder="Search by name or repository" value=search />
                </label>
                <button type="submit" class="button-secondary">"Search"</button>
            </Form>
            <Transition fallback=|| view! { <p class="hint">"Loading apps…"</p> }>
                {move || {
                    apps.get()
                        .map(|apps| match apps {
                            Ok(apps) if apps.total == 0 && search().is_empty() => empty_state().into_any(),
                            Ok(apps) => app_table(apps, search()).into_any(),
                            Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

fn empty_state() -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2>"No apps yet"</h2>
            <p>"Register a repository whose root holds a dscloud.yaml; the portal checks it at once and follows its branch."</p>
            <A href="/apps/new" attr:class="button-primary">"Register app"</A>
        </div>
    }
}

fn app_table(apps: AppList, search: String) -> impl IntoView {
    let pages = apps.pages();
    let page = apps.page;
    let link = move |page: u32| format!("?q={}&page={page}", encode(&search));
    let summary = format!(
        "{} app{} · page {page} of {pages}",
        apps.total,
        if apps.total == 1 { "" } else { "s" }
    );
    view! {
        <p class="hint">{summary}</p>
        <div class="table-scroll">
            <table class="data-table apps-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Repository"</th>
                        <th scope="col">"Branch"</th>
                        <th scope="col">"Last commit"</th>
                        <th scope="col">"Checked"</th>
                    </tr>
                </thead>
                <tbody>{apps.items.into_iter().map(app_row).collect_view()}</tbody>
            </table>
        </div>
        <nav class="pagination" aria-label="Pages of apps">
            {(page > 1).then(|| view! { <A href=link(page - 1)>"← Previous"</A> })}
            {(page < pages).then(|| view! { <A href=link(page + 1)>"Next →"</A> })}
        </nav>
    }
}

fn app_row(app: AppSummary) -> impl IntoView {
    let href = format!("/apps/{}", app.name);
    let commit = app.last_commit.map(|commit| {
        let tone = if commit.accepted { "" } else { " rejected" };
        view! {
            <code class=format!("sha{tone}")>{commit.short().to_string()}</code>
            " "
            {commit.subject}
        }
    });
    let checked = match (&app.last_error, &app.last_polled_at) {
        (Some(error), _) => {
            view! { <span class="badge badge-error" title=error.clone()>"failing"</span> }
                .into_any()
        }
        (None, Some(at)) => view! { <span class="nowrap">{short_time(at)}</span> }.into_any(),
        (None, None) => view! { <span class="hint">"not yet"</span> }.into_any(),
    };
    let name = app.name.clone();
    view! {
        <tr data-app=app.name>
            <td><A href=href><strong>{name}</strong></A></td>
            <td class="wrap-anywhere">{app.repository_url}</td>
            <td>{app.branch}</td>
            <td>{commit}</td>
            <td>{checked}</td>
        </tr>
    }
}
