//! The theme switch in the header. It only works once the page has hydrated,
//! so the server renders it disabled and the browser enables it.

use leptos::prelude::*;

use crate::theme::{Theme, current_theme};

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(current_theme());
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser: this marks the moment WASM took over.
    Effect::new(move |_| hydrated.set(true));

    let switch = move |_| {
        let next = theme.get_untracked().next();
        theme.set(next);
        #[cfg(feature = "hydrate")]
        crate::theme::apply_theme(next);
    };
    let describe = move || format!("{}. Switch to {}", theme.get().label(), theme.get().next());

    view! {
        <button
            type="button"
            class="theme-toggle"
            data-theme-choice=move || theme.get().as_str()
            disabled=move || !hydrated.get()
            aria-label=describe
            title=describe
            on:click=switch
        >
            <span class="theme-icon" aria-hidden="true">
                {move || match theme.get() {
                    Theme::System => "◐",
                    Theme::Light => "☀",
                    Theme::Dark => "☾",
                }}
            </span>
            <span class="theme-label">{move || theme.get().as_str()}</span>
        </button>
    }
}
