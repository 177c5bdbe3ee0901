//! The front end's files under `/pkg/`: the release build names them by
//! their content (cargo-leptos `hash-files`) and makes their gzip and brotli
//! copies once (`--precompress`). A browser gets the copy it accepts, never
//! one compressed per request, and keeps a hashed file for a year without
//! asking again: a new build has new names.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use tower_http::services::ServeDir;

/// Where the front end's files are, under the site root and in URLs.
pub const PKG_DIR: &str = "pkg";
/// What cargo-leptos writes next to the binary when it hashes file names.
pub const HASH_FILE: &str = "hash.txt";

/// A hashed name's content never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Plain names (a build without hashing) may change under the same name:
/// browsers keep them but ask first.
const REVALIDATE: &str = "public, no-cache";

/// `hash.txt` beside this binary (it may not exist).
fn hash_file() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|directory| directory.join(HASH_FILE)))
}

/// Whether this binary's build hashed the front end's names: cargo-leptos
/// writes their hashes into `hash.txt` beside it.
pub fn hashed_names() -> bool {
    hash_file().is_some_and(|hashes| hashes.is_file())
}

/// The stylesheet's URL as this build named it, for the pages rendered
/// outside Leptos (the 403 page); read once.
pub fn stylesheet_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let hashes = hash_file().and_then(|path| std::fs::read_to_string(path).ok());
        stylesheet_path(hashes.as_deref())
    })
}

/// `/pkg/<name>.<css hash>.css`, or `/pkg/<name>.css` without a hash.
fn stylesheet_path(hashes: Option<&str>) -> String {
    let name = super::SITE_OUTPUT_NAME;
    let hash = hashes.and_then(|text| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix("css:"))
            .map(str::trim)
            .filter(|hash| !hash.is_empty())
    });
    match hash {
        Some(hash) => format!("/{PKG_DIR}/{name}.{hash}.css"),
        None => format!("/{PKG_DIR}/{name}.css"),
    }
}

/// The `/pkg` routes: the files of `<site_root>/pkg`, their precompressed
/// copies where the browser takes them.
pub fn routes<S: Clone + Send + Sync + 'static>(site_root: &Path, hashed: bool) -> Router<S> {
    let files = ServeDir::new(site_root.join(PKG_DIR))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .fallback_service(files)
        .layer(axum::middleware::from_fn(move |request, next| {
            cache_control(hashed, request, next)
        }))
}

/// Only a file found is cached: a missing one may exist after the next deploy.
async fn cache_control(hashed: bool, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let policy = match response.status() {
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED if hashed => {
            IMMUTABLE
        }
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED => REVALIDATE,
        _ => "no-store",
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_is_named_by_its_hash_when_the_build_wrote_one() {
        let hashes = "js: XyLMYua65D3L\nwasm: N2rH5dVdqM\ncss: MQnqHlLAtupg\n";
        assert_eq!(
            stylesheet_path(Some(hashes)),
            "/pkg/dscloud-portal.MQnqHlLAtupg.css"
        );
        assert_eq!(stylesheet_path(None), "/pkg/dscloud-portal.css");
        assert_eq!(
            stylesheet_path(Some("js: abc\n")),
            "/pkg/dscloud-portal.css"
        );
    }
}
