//! Visitors of every kind (anonymous, and a signed-in user of each role)
//! and a portal without a cluster to send them to: the access and
//! hostile-input suites share them.

use std::sync::Arc;

use app::roles::Role;
use axum::Router;
use server::cli::ServeArgs;
use server::store::{NewSession, NewUser, Store};

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
        let user = store
            .create_user(NewUser {
                username: format!("visitor-{role}"),
                display_name: format!("Visitor {role}"),
                email: None,
                role,
                password_hash: None,
                oidc_identity: None,
            })
            .await
            .unwrap();
        let token = server::auth::session::new_token();
        let now = chrono::Utc::now();
        store
            .create_session(NewSession {
                token_hash: server::auth::session::token_hash(&token),
                user_id: user.id,
                created_at: now,
                expires_at: now + chrono::Duration::hours(1),
                client_address: None,
                user_agent: None,
            })
            .await
            .unwrap();
        visitors.push(Visitor {
            role: Some(role),
            cookie: Some(format!("dscloud_session={token}")),
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
