//! The theme switch in the header: a form that posts the next theme, so it
//! works on a page that loads no WASM (the sign-in page) and with JavaScript
//! off; once the page has hydrated, the browser switches in place instead.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::theme::{THEME_PATH, Theme, current_theme};

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(current_theme());
    let location = use_location();
    // Where the server sends the person back to after a plain post.
    let back = move || {
        let search = location.search.get();
        let path = location.pathname.get();
        if search.is_empty() {
            path
        } else {
            format!("{path}?{search}")
        }
    };

    let switch = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let next = theme.get_untracked().next();
        theme.set(next);
        #[cfg(feature = "hydrate")]
        crate::theme::apply_theme(next);
    };
    let describe = move || format!("{}. Switch to {}", theme.get().label(), theme.get().next());

    view! {
        <form class="theme-form" method="post" action=THEME_PATH on:submit=switch>
            <input type="hidden" name="back" value=back />
            <button
                type="submit"
                name="theme"
                value=move || theme.get().next().as_str()
                class="theme-toggle"
                data-theme-choice=move || theme.get().as_str()
                aria-label=describe
                title=describe
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
        </form>
    }
}
