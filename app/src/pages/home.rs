use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::roles::Role;

/// The sections of the portal, with what each is for; the home page shows
/// only those the viewer's role may open.
const SECTIONS: &[(&str, &str, &str)] = &[
    (
        "/databases",
        "Databases",
        "Press Create database and watch Cassandra or PostgreSQL come up live. Connection details, credentials, resize, park and terminate in one place.",
    ),
    (
        "/apps",
        "Apps",
        "Each repository's dscloud.yaml becomes microservices, jobs and cronjobs, promoted from dev to prod only when their integration tests pass.",
    ),
    (
        "/deploys",
        "Deploys",
        "Every deployment of every app: what went where, its tests, approvals, rollbacks.",
    ),
    (
        "/secrets",
        "Secrets",
        "The values your services need, per environment, write-only once saved.",
    ),
    (
        "/admin/users",
        "Users",
        "Who may sign in, with which role; end sessions, reset passwords.",
    ),
    (
        "/admin/quotas",
        "Quotas",
        "How many databases each customer may have, and how large they may be in all.",
    ),
    (
        "/admin/audit",
        "Audit",
        "Who changed what, when and from where: users, roles and every action.",
    ),
];

/// What the portal is, and the sections this viewer can use.
#[component]
pub fn Home() -> impl IntoView {
    let role = crate::viewer::current().map(|viewer| viewer.role);
    let cards = SECTIONS
        .iter()
        .filter(|(href, _, _)| crate::access::page(href).is_some_and(|access| access.allows(role)))
        .map(|(href, label, text)| {
            view! {
                <article class="card">
                    <h2><A href=*href>{*label}</A></h2>
                    <p>{*text}</p>
                </article>
            }
        })
        .collect_view();
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Databases and deployments, self-service"</h1>
            <p class="lede">
                "DSCloud Portal creates databases on Kubernetes for you, takes every commit of your "
                "applications through dev, test and prod, and keeps a record of every change."
            </p>
        </section>
        <div class="glances">{glances(role)}</div>
        <section class="cards" aria-label="What you can do">{cards}</section>
    }
}

/// What each role needs first: a customer their databases; a developer
/// their apps and recent deploys; an admin the users, the audit log and
/// the engines.
fn glances(role: Option<Role>) -> AnyView {
    use super::home_glances::{
        AppsAtAGlance, EngineHealthGlance, RecentAudit, RecentDeploys, UsersAtAGlance,
    };
    match role {
        Some(Role::Customer) => view! { <DatabasesAtAGlance /> }.into_any(),
        Some(Role::Developer) => view! { <AppsAtAGlance /><RecentDeploys /> }.into_any(),
        Some(Role::Admin) => {
            view! { <UsersAtAGlance /><RecentAudit /><EngineHealthGlance /> }.into_any()
        }
        None => ().into_any(),
    }
}

/// The viewer's databases by status, and those in ERROR.
#[component]
fn DatabasesAtAGlance() -> impl IntoView {
    let overview = Resource::new(|| (), |()| crate::databases::fetch_database_overview());
    view! {
        <section class="panel card glance" aria-labelledby="glance-heading">
            <h2 id="glance-heading"><A href="/databases">"Your databases"</A></h2>
            <Transition fallback=|| view! { <p class="hint">"Counting your databases…"</p> }>
                {move || overview.get().map(|overview| match overview {
                    Ok(overview) if overview.total() == 0 => view! {
                        <p>"None yet. " <A href="/databases/new">"Create a database"</A> " and watch it come up."</p>
                    }.into_any(),
                    Ok(overview) => view! {
                        <ul class="glance-counts">
                            {overview.counts.into_iter().map(|(status, count)| view! {
                                <li>
                                    <A href=format!("/databases?status={}", status.as_str())>
                                        <strong>{count}</strong>" "{status.as_str()}
                                    </A>
                                </li>
                            }).collect_view()}
                        </ul>
                        {(!overview.attention.is_empty()).then(move || view! {
                            <h3>"Needs your attention"</h3>
                            <ul data-testid="attention">
                                {overview.attention.into_iter().map(|database| view! {
                                    <li><A href=format!("/databases/{}", database.id)>{database.name}</A>" is in ERROR"</li>
                                }).collect_view()}
                            </ul>
                        })}
                    }.into_any(),
                    Err(error) => view! {
                        <p class="status status-error" role="alert">{crate::accounts::server_message(&error)}</p>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
