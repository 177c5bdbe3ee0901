//! The audit log: newest first, filtered, paginated, append-only.

use super::*;

on_both_stores!(
    audit_events_come_back_newest_first_with_their_details,
    audit_filters_narrow_the_log,
    audit_pages_cover_the_log_without_gaps_or_overlaps,
    the_audit_log_cannot_be_edited_or_deleted,
);

async fn audit_events_come_back_newest_first_with_their_details(test: &TestStore) {
    let first = test
        .store
        .append_audit(event("ada", "user.create", "user:grace"))
        .await
        .unwrap();
    let second = test
        .store
        .append_audit(NewAuditEvent {
            outcome: Outcome::Denied,
            ..event("mallory", "user.delete", "user:ada")
        })
        .await
        .unwrap();
    assert!(second.id > first.id);

    let page = test
        .store
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|event| event.id).collect();
    assert_eq!(ids, [second.id, first.id]);
    assert_eq!(page.items[0].outcome, Outcome::Denied);
    assert_eq!(page.items[1].details["after"]["role"], "developer");
    assert_eq!(page.items[1].client_address.as_deref(), Some("127.0.0.1"));
    assert!(page.next_before_id.is_none());
}

async fn audit_filters_narrow_the_log(test: &TestStore) {
    test.store
        .append_audit(event("ada", "user.create", "user:grace"))
        .await
        .unwrap();
    test.store
        .append_audit(event("ada", "database.create", "database:orders"))
        .await
        .unwrap();
    test.store
        .append_audit(event("grace", "database.create", "database:users_db"))
        .await
        .unwrap();

    let query = |actor: Option<&str>, action: Option<&str>, target: Option<&str>| AuditQuery {
        actor: actor.map(str::to_string),
        action: action.map(str::to_string),
        target_prefix: target.map(str::to_string),
        limit: 50,
        ..Default::default()
    };
    let count = |page: store::AuditPage| page.items.len();
    let by_actor = test.store.list_audit(&query(Some("ada"), None, None)).await;
    assert_eq!(count(by_actor.unwrap()), 2);
    let by_action = test
        .store
        .list_audit(&query(None, Some("database.create"), None))
        .await;
    assert_eq!(count(by_action.unwrap()), 2);
    let by_both = test
        .store
        .list_audit(&query(Some("ada"), Some("database.create"), None))
        .await;
    assert_eq!(count(by_both.unwrap()), 1);
    let by_target = test
        .store
        .list_audit(&query(None, None, Some("database:")))
        .await;
    assert_eq!(count(by_target.unwrap()), 2);
    // `_` in a prefix is a literal underscore, not a wildcard.
    let literal = test
        .store
        .list_audit(&query(None, None, Some("database:users_")))
        .await;
    assert_eq!(count(literal.unwrap()), 1);
    // An exact target matches that target only, not those it begins.
    let exact = test
        .store
        .list_audit(&AuditQuery {
            target: Some("database:orders".to_string()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(count(exact), 1);
    let none = test
        .store
        .list_audit(&AuditQuery {
            target: Some("database:order".to_string()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(count(none), 0);

    let future = test
        .store
        .list_audit(&AuditQuery {
            since: Some(Utc::now() + Duration::hours(1)),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(future.items.is_empty());
    let past = test
        .store
        .list_audit(&AuditQuery {
            since: Some(Utc::now() - Duration::hours(1)),
            until: Some(Utc::now() + Duration::hours(1)),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(past.items.len(), 3);
}

async fn audit_pages_cover_the_log_without_gaps_or_overlaps(test: &TestStore) {
    let mut appended = Vec::new();
    for index in 0..23 {
        let stored = test
            .store
            .append_audit(event("ada", "thing.touch", &format!("thing:{index}")))
            .await
            .unwrap();
        appended.push(stored.id);
    }
    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = test
            .store
            .list_audit(&AuditQuery {
                before_id: cursor,
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 10);
        read.extend(page.items.iter().map(|event| event.id));
        match page.next_before_id {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    appended.reverse();
    assert_eq!(read, appended);
}

async fn the_audit_log_cannot_be_edited_or_deleted(test: &TestStore) {
    test.store
        .append_audit(event("ada", "user.create", "user:grace"))
        .await
        .unwrap();
    // Straight to the database, past the store: the refusal must come from the schema.
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let update = sqlx::query("UPDATE audit_events SET actor_name = 'someone else'")
        .execute(&mut connection)
        .await;
    let update_error = update.expect_err("an update must be refused").to_string();
    assert!(update_error.contains("append-only"), "{update_error}");
    let delete = sqlx::query("DELETE FROM audit_events")
        .execute(&mut connection)
        .await;
    let delete_error = delete.expect_err("a delete must be refused").to_string();
    assert!(delete_error.contains("append-only"), "{delete_error}");
    let page = test
        .store
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].actor_name, "ada");
}
