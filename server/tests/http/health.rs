//! Liveness and readiness.

use super::*;

#[tokio::test]
async fn healthz_answers_while_the_process_lives() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "ok");
}

#[tokio::test]
async fn readyz_reports_the_store_it_reached() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"], "sqlite");
}

#[tokio::test]
async fn readyz_fails_when_the_database_goes_away() {
    let admin_url = std::env::var("PORTAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(connection) => connection,
        Err(error) if std::env::var("PORTAL_REQUIRE_POSTGRES").as_deref() != Ok("1") => {
            eprintln!("SKIPPED: PostgreSQL unreachable ({error})");
            return;
        }
        Err(error) => panic!("PostgreSQL is required but unreachable: {error}"),
    };
    let database = format!("portal_ready_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let slash = admin_url.rfind('/').unwrap();
    let store = store::connect(&format!("{}/{database}", &admin_url[..slash]))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let app = portal_with(store).await;
    assert_eq!(get(&app, "/readyz").await.status(), StatusCode::OK);

    sqlx::query(&format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let response = get(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["store"], "postgres");
    // Liveness is not readiness: the process itself is fine.
    assert_eq!(get(&app, "/healthz").await.status(), StatusCode::OK);
    // A signed-in visitor is told the portal cannot answer, not sent to
    // sign in as if their session were gone.
    let page = get(&app, "/databases").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(page).await.contains("your session is kept"));
}
