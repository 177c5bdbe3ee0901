use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

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
        <section class="cards" aria-label="What you can do">{cards}</section>
    }
}
