//! Values the server rendered into `<meta name=… content=…>` for the browser
//! to read when it hydrates: what the server knows synchronously (who is
//! signed in, which Kubernetes) without a request or async resource.

/// The `content` of the page's `<meta name="{name}">`.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub fn content(name: &str) -> Option<String> {
    web_sys::window()?
        .document()?
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()
        .flatten()
        .and_then(|element| element.get_attribute("content"))
}
