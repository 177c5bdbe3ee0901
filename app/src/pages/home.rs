use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// What the portal is and where to start.
#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Databases and deployments, self-service"</h1>
            <p class="lede">
                "DSCloud Portal creates databases on Kubernetes for you, takes every commit of your "
                "applications through dev, test and prod, and keeps a record of every change."
            </p>
        </section>
        <section class="cards" aria-label="What you can do">
            <article class="card">
                <h2><A href="/databases">"Databases"</A></h2>
                <p>
                    "Press Create database and watch Cassandra or PostgreSQL come up live. "
                    "Connection details, credentials, resize, park and terminate in one place."
                </p>
            </article>
            <article class="card">
                <h2><A href="/apps">"Apps and deploys"</A></h2>
                <p>
                    "Each repository's dscloud.yaml becomes microservices, jobs and cronjobs, "
                    "promoted from dev to prod only when their integration tests pass."
                </p>
            </article>
            <article class="card">
                <h2><A href="/secrets">"Secrets"</A></h2>
                <p>"The values your services need, per environment, write-only once saved."</p>
            </article>
            <article class="card">
                <h2><A href="/admin/audit">"Audit"</A></h2>
                <p>"Who changed what, when and from where: users, roles and every action, for admins."</p>
            </article>
        </section>
    }
}
