//! The browser's entry point: hydrate the server-rendered page.

// The layout query of the async hydration future nests as deep as the view
// types; the default 128 levels are too few.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy routes: the page's chunk is fetched before its part is hydrated.
    leptos::mount::hydrate_lazy(app::App);
}
