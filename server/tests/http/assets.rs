//! The front end's files: the copy compressed at build time that the
//! browser accepts, cached for a year when the names carry their hashes,
//! and a missing file never cached.

use super::*;

/// A site root with one hashed WASM file and its build-time copies (their
/// bytes differ, so the test sees which one was served).
fn site() -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("app.3fa9c1.wasm"), b"plain bytes").unwrap();
    std::fs::write(pkg.join("app.3fa9c1.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("app.3fa9c1.wasm.gz"), b"gzip bytes").unwrap();
    site
}

async fn portal_serving(site: &std::path::Path, hashed: bool) -> (Router, tempfile::TempDir) {
    let (store, dir) = support::sqlite().await;
    let args = ServeArgs {
        site_root: site.to_path_buf(),
        ..ServeArgs::default()
    };
    let mut state = support::app_state(store, &args);
    state.leptos_options.hash_files = hashed;
    (router(state, &args, None).unwrap(), dir)
}

async fn fetch(
    app: &Router,
    path: &str,
    accept_encoding: Option<&str>,
) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(encodings) = accept_encoding {
        request = request.header(header::ACCEPT_ENCODING, encodings);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 1024 * 1024).await.unwrap().to_vec();
    (parts.status, parts.headers, bytes)
}

#[tokio::test]
async fn each_browser_gets_the_copy_it_accepts_made_at_build_time_and_keeps_it_a_year() {
    let site = site();
    let (app, _dir) = portal_serving(site.path(), true).await;
    let path = "/pkg/app.3fa9c1.wasm";
    for (accepts, encoding, body) in [
        (Some("gzip, deflate, br, zstd"), Some("br"), "brotli bytes"),
        (Some("gzip"), Some("gzip"), "gzip bytes"),
        (None, None, "plain bytes"),
    ] {
        let (status, headers, bytes) = fetch(&app, path, accepts).await;
        assert_eq!(status, StatusCode::OK, "{accepts:?}");
        assert_eq!(
            headers
                .get(header::CONTENT_ENCODING)
                .map(|value| value.to_str().unwrap()),
            encoding,
            "{accepts:?}"
        );
        // Not compressed again on the way out: the stored copy, as it is.
        assert_eq!(String::from_utf8(bytes).unwrap(), body, "{accepts:?}");
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
    }

    let (status, headers, _) = fetch(&app, "/pkg/app.0000.wasm", Some("br")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn names_without_a_hash_are_revalidated() {
    let site = site();
    let (app, _dir) = portal_serving(site.path(), false).await;
    let (status, headers, _) = fetch(&app, "/pkg/app.3fa9c1.wasm", Some("br")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, no-cache");
}
