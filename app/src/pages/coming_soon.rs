use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// A section of the portal whose feature has not landed yet.
#[component]
pub fn ComingSoon(
    title: &'static str,
    summary: &'static str,
    /// What already works in this section: a link and its label.
    #[prop(optional)]
    available: Option<(&'static str, &'static str)>,
) -> impl IntoView {
    view! {
        <Title text=title />
        <section class="panel">
            <p class="badge badge-muted">"Coming soon"</p>
            <h1>{title}</h1>
            <p class="lede">{summary}</p>
            {available.map(|(href, label)| view! {
                <p>
                    <A href=href attr:class="button-primary">{label}</A>
                </p>
            })}
            <p>
                <A href="/">"Back to the overview"</A>
            </p>
        </section>
    }
}
