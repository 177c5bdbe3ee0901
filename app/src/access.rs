//! Who may open which page and call which server function: one table, read
//! by the server's guard (which enforces it) and by the navigation (which
//! hides what a role cannot use). Anything not listed is denied.

use crate::roles::Role;
use Role::{Admin, Customer, Developer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user.
    SignedIn,
    /// Signed-in users with one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a visitor with `role` (`None`: not signed in) may pass.
    pub fn allows(self, role: Option<Role>) -> bool {
        match self {
            Access::Public => true,
            Access::SignedIn => role.is_some(),
            Access::Roles(roles) => role.is_some_and(|role| roles.contains(&role)),
        }
    }
}

const CUSTOMERS: Access = Access::Roles(&[Customer, Admin]);
const DEVELOPERS: Access = Access::Roles(&[Developer, Admin]);
const ADMINS: Access = Access::Roles(&[Admin]);

/// Every page, by its route.
pub const PAGES: &[(&str, Access)] = &[
    ("/", Access::SignedIn),
    ("/sign-in", Access::Public),
    ("/account", Access::SignedIn),
    ("/databases", CUSTOMERS),
    ("/databases/new", CUSTOMERS),
    ("/databases/{id}", CUSTOMERS),
    // Not a page: the database's live status (server-sent events).
    ("/databases/{id}/events", CUSTOMERS),
    ("/apps", DEVELOPERS),
    ("/apps/new", DEVELOPERS),
    ("/apps/validate", DEVELOPERS),
    ("/apps/{name}", DEVELOPERS),
    ("/apps/{name}/releases/{sha}", DEVELOPERS),
    ("/apps/{name}/secrets", DEVELOPERS),
    ("/deploys", DEVELOPERS),
    ("/deploys/{id}", DEVELOPERS),
    ("/environments", DEVELOPERS),
    ("/secrets", DEVELOPERS),
    ("/admin/users", ADMINS),
    ("/admin/audit", ADMINS),
    ("/admin/quotas", ADMINS),
    // Not a page but a download: the audit log as CSV or JSON.
    ("/admin/audit/export", ADMINS),
];

/// Every server function, by its endpoint (`/api/<endpoint>`).
pub const SERVER_FUNCTIONS: &[(&str, Access)] = &[
    ("render_manifests", DEVELOPERS),
    // The sign-in page asks it before anyone is signed in.
    ("sign_in_options", Access::Public),
    ("my_account", Access::SignedIn),
    ("change_my_password", Access::SignedIn),
    ("list_users", ADMINS),
    ("create_user", ADMINS),
    ("update_user", ADMINS),
    ("end_user_sessions", ADMINS),
    ("delete_user", ADMINS),
    ("list_audit", ADMINS),
    ("engine_health", ADMINS),
    ("list_databases", CUSTOMERS),
    ("database_overview", CUSTOMERS),
    ("create_database", CUSTOMERS),
    ("database_detail", CUSTOMERS),
    ("reveal_database_password", CUSTOMERS),
    ("rotate_database_password", CUSTOMERS),
    ("change_database", CUSTOMERS),
    ("my_quota", CUSTOMERS),
    ("quota_board", ADMINS),
    ("set_default_quota", ADMINS),
    ("set_customer_quota", ADMINS),
    ("remove_customer_quota", ADMINS),
    ("list_apps", DEVELOPERS),
    ("register_app", DEVELOPERS),
    ("app_detail", DEVELOPERS),
    ("release_detail", DEVELOPERS),
    ("rotate_webhook_secret", DEVELOPERS),
    ("update_app", DEVELOPERS),
    ("delete_app", DEVELOPERS),
    ("list_deployments", DEVELOPERS),
    ("deployment_detail", DEVELOPERS),
    ("decide_deployment", DEVELOPERS),
    ("deploy_by_hand", DEVELOPERS),
    ("lift_hold", DEVELOPERS),
    ("set_approval_rules", DEVELOPERS),
    ("deploy_measures", DEVELOPERS),
    ("environment_matrix", DEVELOPERS),
    ("app_workloads", DEVELOPERS),
    // Reading states is for developers; changing them, the service checks
    // for the app's maintainers and admins.
    ("secrets_overview", DEVELOPERS),
    ("app_secrets", DEVELOPERS),
    ("secret_versions", DEVELOPERS),
    ("set_secret", DEVELOPERS),
    ("delete_secret", DEVELOPERS),
    ("roll_back_secret", DEVELOPERS),
    ("import_secrets", DEVELOPERS),
];

/// The decision for a path; a `{name}` segment of a route matches any one
/// non-empty segment.
pub fn page(path: &str) -> Option<Access> {
    PAGES
        .iter()
        .find(|(route, _)| *route == path)
        .or_else(|| {
            PAGES
                .iter()
                .find(|(route, _)| route.contains('{') && matches_route(route, path))
        })
        .map(|(_, access)| *access)
}

fn matches_route(route: &str, path: &str) -> bool {
    let mut route_segments = route.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (route_segments.next(), path_segments.next()) {
            (None, None) => return true,
            (Some(expected), Some(actual)) => {
                let parameter = expected.starts_with('{') && expected.ends_with('}');
                if (parameter && actual.is_empty()) || (!parameter && expected != actual) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

pub fn server_function(endpoint: &str) -> Option<Access> {
    SERVER_FUNCTIONS
        .iter()
        .find(|(name, _)| *name == endpoint)
        .map(|(_, access)| *access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_get_their_sections_and_admins_everything() {
        assert!(page("/databases").is_some_and(|access| access.allows(Some(Customer))));
        assert!(!page("/databases").is_some_and(|access| access.allows(Some(Developer))));
        assert!(!page("/apps").is_some_and(|access| access.allows(Some(Customer))));
        assert!(page("/admin/audit").is_some_and(|access| !access.allows(Some(Developer))));
        for (_, access) in PAGES {
            assert!(access.allows(Some(Admin)));
        }
        assert!(!Access::SignedIn.allows(None));
        assert!(page("/nowhere").is_none() && server_function("unlisted").is_none());
        assert_eq!(page("/databases/0192"), page("/databases"));
        assert_eq!(page("/databases/0192/events"), page("/databases"));
        assert!(page("/databases//events").is_none());
        assert!(page("/databases/0192/other").is_none());
    }
}
