//! The browser's entry point: hydrate the server-rendered page.

// The layout query of the async hydration future nests as deep as the view
// types; the default 128 levels are too few.
#![recursion_limit = "256"]

use leptos::web_sys;

/// Set on `<html>` once the whole page is hydrated, the lazy route's chunks
/// included: until then a button that needs the WASM does nothing.
const HYDRATED: &str = "data-hydrated";

/// Slack in the read-only data segment, for the WASM splitter (`cargo leptos
/// --split`). It hands each module its share of that segment and re-packs
/// the shares with their alignment; when the padding makes the result even a
/// few bytes longer than the input, it gives up and puts the whole segment,
/// every page's strings and tables (~188 KB, ~74 KB gzip), in the main module
/// that every page loads ("Overlong segment 0 by 156 after relocation" on
/// 2026-12-08, after a change that added nothing to the main module).
/// `#[used]` keeps these bytes in the segment although nothing reads them, so
/// the splitter, which emits only what some module reaches, leaves them out
/// and has their length to pad with. They reach no module: the pages pay
/// nothing for them. `first-load.spec.ts` fails if the cliff comes back.
#[used]
static SPLIT_DATA_SLACK: [u8; 4096] = [0xA5; 4096];

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
