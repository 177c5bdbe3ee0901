//! Pages as the server renders them: security headers and nonces, request ids, the 404 page, every section, body limits, compression, the published schema.

use super::*;

#[tokio::test]
async fn pages_carry_the_security_headers_and_a_matching_nonce() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(headers.contains_key("x-request-id"));
    // A signed-in page is its viewer's own: never kept by any cache.
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let schema = get(&app, "/schema/dscloud.json").await;
    assert_ne!(
        schema
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|value| value.to_str().unwrap()),
        Some("no-store"),
        "the schema is the same for everyone"
    );

    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");

    let html = text(response).await;
    assert!(html.contains("Databases and deployments, self-service"));
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script must carry the header's nonce"
    );
}

#[tokio::test]
async fn every_response_gets_a_fresh_nonce() {
    let (app, _dir) = sqlite_portal().await;
    let first = get(&app, "/").await.headers()[header::CONTENT_SECURITY_POLICY].clone();
    let second = get(&app, "/").await.headers()[header::CONTENT_SECURITY_POLICY].clone();
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_request_id_given_by_a_proxy_is_kept() {
    let (app, _dir) = sqlite_portal().await;
    let response = app
        .oneshot(
            Request::get("/healthz")
                .header("x-request-id", "trace-me-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn unknown_addresses_get_the_404_page() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = text(response).await;
    assert!(html.contains("Page not found"));
    assert!(html.contains("/no/such/page"));
}

#[tokio::test]
async fn every_section_renders_on_the_server() {
    let (app, _dir) = sqlite_portal().await;
    for (path, heading) in [
        ("/databases", "Databases"),
        ("/apps", "Apps"),
        ("/deploys", "Deploys"),
        ("/secrets", "Secrets"),
        ("/admin/users", "Users"),
        ("/admin/audit", "Audit log"),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = text(response).await;
        assert!(html.contains(&format!("<h1>{heading}</h1>")), "{path}");
        assert!(html.contains(r#"aria-current="page""#), "{path}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let (app, _dir) = sqlite_portal().await;
    let too_big = vec![b'x'; ServeArgs::default().max_body_bytes + 1];
    let response = app
        .oneshot(
            Request::post("/api/anything")
                .header(header::CONTENT_LENGTH, too_big.len())
                .body(Body::from(too_big))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it() {
    let (app, _dir) = sqlite_portal().await;
    let response = app
        .oneshot(
            Request::get("/")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn the_dscloud_schema_is_published_for_editors() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/schema/dscloud.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/schema+json"
    );
    let schema: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(schema["title"], "dscloud.yaml");
    let microservice = &schema["$defs"]["Microservice"];
    assert_eq!(microservice["additionalProperties"], false);
    let mut keys: Vec<&str> = microservice["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    // The keys the reference allows on a microservice, spelt as in the file.
    assert_eq!(
        keys,
        [
            "deployment",
            "description",
            "environmentConfiguration",
            "ingress",
            "integrationTests",
            "secretValues"
        ]
    );
    assert_eq!(
        schema["$defs"]["Deployment"]["properties"]["memoryMB"]["maximum"],
        65536
    );
}
