//! Visitors of every kind (anonymous, and a signed-in user of each role)
//! and a portal without a cluster to send them to: the access and
//! hostile-input suites share them.

use std::sync::Arc;

use app::roles::Role;
use axum::Router;
use server::cli::ServeArgs;
use server::store::Store;

/// A visitor: no cookie, or the session cookie of a user with this role.
pub struct Visitor {
    pub role: Option<Role>,
    pub cookie: Option<String>,
}

pub async fn visitors(store: &Arc<dyn Store>) -> Vec<Visitor> {
    let mut visitors = vec![Visitor {
        role: None,
        cookie: None,
    }];
    for role in Role::ALL {
        let user = super::user(store.as_ref(), &format!("visitor-{role}"), role).await;
        let (cookie, _) = super::session(store.as_ref(), user.id).await;
        visitors.push(Visitor {
            role: Some(role),
            cookie: Some(cookie),
        });
    }
    visitors
}

pub async fn portal() -> (Router, Vec<Visitor>, tempfile::TempDir) {
    let (store, dir) = super::sqlite().await;
    let visitors = visitors(&store).await;
    let app = super::router_on(store, &ServeArgs::default());
    (app, visitors, dir)
}
