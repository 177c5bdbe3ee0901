//! The browser's entry point: hydrate the server-rendered page.

// The layout query of the async hydration future nests as deep as the view
// types; the default 128 levels are too few.
#![recursion_limit = "256"]

use leptos::web_sys;

/// Set on `<html>` once the whole page is hydrated, the lazy route's chunks
/// included: until then a button that needs the WASM does nothing.
const HYDRATED: &str = "data-hydrated";

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy routes: the page's chunks are fetched before its part hydrates,
    // so hydration is asynchronous (what `hydrate_lazy` does, plus saying
    // when it is over).
    wasm_bindgen_futures::spawn_local(async {
        let Some(document) = web_sys::window().and_then(|window| window.document()) else {
            return;
        };
        let Some(body) = document.body() else {
            return;
        };
        let owner = leptos::mount::hydrate_from_async(body, app::App).await;
        owner.forget();
        if let Some(html) = document.document_element() {
            let _ = html.set_attribute(HYDRATED, "");
        }
    });
}
