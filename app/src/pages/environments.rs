//! The environment matrix: apps × environments, what runs where since when,
//! the last tests of it, holds and what waits for approval or works now.
//! Paged on the server (25 apps a page) and refreshed while open.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::databases::short_time;
use super::deploys::status_badge;
use super::users::encode;
use crate::accounts::server_message;
use crate::deploys::{DeploymentStatus, EnvironmentMatrix, MatrixCell, fetch_environment_matrix};

#[component]
pub fn EnvironmentsPage() -> impl IntoView {
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
    let matrix = Resource::new(
        move || (search(), page()),
        |(search, page)| fetch_environment_matrix(search, page),
    );
    #[cfg(feature = "hydrate")]
    {
        let handle =
            set_interval_with_handle(move || matrix.refetch(), std::time::Duration::from_secs(5));
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text="Environments" />
        <section class="panel">
            <div class="panel-heading">
                <h1>"Environments"</h1>
                <p class="lede">"What runs where: each app's release in each environment, since when, its tests, holds and approvals."</p>
            </div>
            <Form method="GET" action="" attr:class="search-form" attr:role="search">
                <label>
                    <span class="visually-hidden">"Search apps"</span>
                    <input type="search" name="q" maxlength="200" placeholder="Search by app name or repository" value=search />
                </label>
                <button type="submit" class="button-secondary">"Search"</button>
            </Form>
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || matrix.get().map(|matrix| match matrix {
                    Ok(matrix) => matrix_view(matrix, search()).into_any(),
                    Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn matrix_view(matrix: EnvironmentMatrix, search: String) -> impl IntoView {
    let pages = matrix.pages();
    let page = matrix.page;
    let link = move |page: u32| format!("?q={}&page={page}", encode(&search));
    let headers: Vec<_> = matrix
        .environments
        .iter()
        .map(|environment| view! { <th scope="col">{environment.clone()}</th> })
        .collect();
    let environments = matrix.environments.clone();
    let rows: Vec<_> = matrix
        .rows
        .into_iter()
        .map(|row| {
            let cells: Vec<_> = row
                .cells
                .into_iter()
                .zip(environments.iter())
                .map(|(cell, environment)| cell_view(cell, environment.clone()))
                .collect();
            let href = format!("/deploys?app={}", encode(&row.app));
            let name = row.app.clone();
            view! {
                <tr data-app=row.app>
                    <th scope="row"><A href=href>{name}</A></th>
                    {cells}
                </tr>
            }
        })
        .collect();
    let summary = format!(
        "{} app{} · page {page} of {pages}",
        matrix.total,
        if matrix.total == 1 { "" } else { "s" }
    );
    view! {
        <p class="hint">{summary}</p>
        <div class="table-scroll">
            <table class="data-table matrix-table">
                <thead><tr><th scope="col">"App"</th>{headers}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="pagination" aria-label="Pages of apps">
            {(page > 1).then(|| view! { <A href=link(page - 1)>"← Previous"</A> })}
            {(page < pages).then(|| view! { <A href=link(page + 1)>"Next →"</A> })}
        </nav>
    }
}

fn cell_view(cell: MatrixCell, environment: String) -> impl IntoView {
    let current = match cell.current {
        Some((id, sha, since)) => view! {
            <A href=format!("/deploys/{id}")><code class="sha">{sha}</code></A>
            <br /><span class="hint">{format!("since {}", short_time(&since))}</span>
        }
        .into_any(),
        None => view! { <span class="hint">"—"</span> }.into_any(),
    };
    let tests = cell.tests.map(|(passed, failed)| {
        let tone = if failed > 0 {
            "test-failed"
        } else {
            "test-passed"
        };
        view! { <br /><span class=tone>{format!("tests {passed}/{}", passed + failed)}</span> }
    });
    let active = cell.active.map(|(id, status)| {
        let label = if status == DeploymentStatus::AwaitingApproval {
            "approval pending"
        } else {
            "working"
        };
        view! { <br /><A href=format!("/deploys/{id}") attr:title=label>{status_badge(status)}</A> }
    });
    let held = cell
        .held
        .then(|| view! { <br /><span class="badge badge-warn">"held"</span> });
    view! { <td data-environment=environment>{current}{tests}{active}{held}</td> }
}
