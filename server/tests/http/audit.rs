//! The audit log for admins: the export and the list function's filters.

use super::*;

#[tokio::test]
async fn admins_export_the_filtered_audit_log_as_csv_and_json() {
    let (app, store, _dir) = portal_with_user("kim", "a-long-password").await;
    // A failed sign-in, then a good one: two events about kim.
    for password in ["wrong-password!", "a-long-password"] {
        app.clone()
            .oneshot(sign_in_request("kim", password, "/"))
            .await
            .unwrap();
    }
    let admin = portal_with(store).await;
    let response = get(
        &admin,
        "/admin/audit/export?format=csv&action=session.sign_in&target=user:kim",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("dscloud-audit-")
    );
    let csv = text(response).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,actor,address,action,target,target_name,outcome,details"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains(",success,") && lines[2].contains(",failure,"),
        "{csv}"
    );
    assert!(!csv.contains("a-long-password") && !csv.contains("wrong-password"));

    // JSON: the details are objects (not strings of JSON), times RFC 3339.
    let json = text(
        get(
            &admin,
            "/admin/audit/export?format=json&action=session.sign_in&target=user:kim",
        )
        .await,
    )
    .await;
    let events: serde_json::Value = serde_json::from_str(&json).unwrap();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{json}");
    for event in events {
        assert!(event["details"].is_object(), "{json}");
        let at = event["at"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        assert!(at.ends_with('Z'), "{at}");
    }
    let json = text(get(&admin, "/admin/audit/export?format=json&actor=nobody").await).await;
    assert_eq!(json.trim(), "[]");
    let bad = get(&admin, "/admin/audit/export?format=xml").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = get(&admin, "/admin/audit/export?since=soon").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(text(bad).await.contains("from:"));

    // Not for the developer who signed in above.
    let response = app
        .clone()
        .oneshot(sign_in_request("kim", "a-long-password", "/"))
        .await
        .unwrap();
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_string();
    let refused = app
        .clone()
        .oneshot(
            Request::get("/admin/audit/export")
                .header(header::COOKIE, session)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_audit_server_function_filters_by_actor_and_time_and_pages_by_cursor() {
    let (store, _dir) = support::sqlite().await;
    for (actor, action) in [
        ("ada", "user.create"),
        ("bob", "database.create"),
        ("ada", "database.park"),
    ] {
        store
            .append_audit(store::NewAuditEvent {
                actor_id: None,
                actor_name: actor.into(),
                client_address: None,
                action: action.into(),
                target: "t".into(),
                outcome: store::Outcome::Success,
                details: serde_json::json!({}),
            })
            .await
            .unwrap();
    }
    let app = portal_with(store).await;
    // (actor, action) of each event listed, newest first.
    let listed = |body: String| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(
                    Request::post("/api/list_audit")
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .header(header::ACCEPT, "application/json")
                        .body(Body::from(body.clone()))
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{body}");
            let list: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| {
                    (
                        item["id"].as_i64().unwrap(),
                        format!(
                            "{} {}",
                            item["actor"].as_str().unwrap(),
                            item["action"].as_str().unwrap()
                        ),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let events = |listed: &[(i64, String)]| -> Vec<String> {
        listed.iter().map(|(_, event)| event.clone()).collect()
    };
    let all = listed(String::new()).await;
    assert_eq!(
        events(&all),
        [
            "ada database.park",
            "bob database.create",
            "ada user.create"
        ]
    );
    assert_eq!(
        events(&listed("filter[actor]=ada".into()).await),
        ["ada database.park", "ada user.create"]
    );
    assert!(listed("filter[actor]=nobody".into()).await.is_empty());
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d");
    assert!(listed(format!("filter[since]={tomorrow}")).await.is_empty());
    assert_eq!(listed(format!("filter[since]={yesterday}")).await.len(), 3);
    // The next page starts below the cursor.
    let newest = all[0].0;
    assert_eq!(
        events(&listed(format!("before={newest}")).await),
        ["bob database.create", "ada user.create"]
    );
}
