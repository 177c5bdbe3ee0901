use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_location};

/// Any address the router does not know. Answers 404 on the server too.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let path = use_location().pathname;
    view! {
        <Title text="Page not found" />
        <section class="panel">
            <p class="badge badge-muted">"404"</p>
            <h1>"Page not found"</h1>
            <p class="lede">
                "There is nothing at " <code>{move || path.get()}</code> "."
            </p>
            <p>
                <A href="/">"Go to the overview"</A>
            </p>
        </section>
    }
}
