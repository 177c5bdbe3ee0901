//! Who may open each page and call each server function, written out here
//! by hand, apart from `app::access`: the guard's test checks that the
//! server follows the table, this one that the table says what the product
//! means. Opening `delete_user` to any signed-in user, or forgetting a new
//! page here, fails it.
//!
//! Each entry lists who passes: `A` anonymous visitors, `C` customers,
//! `D` developers, `M` admins.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;

use app::access;
use app::roles::Role;

const PAGES: &[(&str, &str)] = &[
    ("/", "CDM"),
    ("/sign-in", "ACDM"),
    ("/account", "CDM"),
    ("/databases", "CM"),
    ("/databases/new", "CM"),
    ("/databases/{id}", "CM"),
    ("/databases/{id}/events", "CM"),
    ("/apps", "DM"),
    ("/apps/new", "DM"),
    ("/apps/validate", "DM"),
    ("/apps/{name}", "DM"),
    ("/apps/{name}/releases/{sha}", "DM"),
    ("/apps/{name}/secrets", "DM"),
    ("/deploys", "DM"),
    ("/deploys/{id}", "DM"),
    ("/environments", "DM"),
    ("/secrets", "DM"),
    ("/admin/users", "M"),
    ("/admin/audit", "M"),
    ("/admin/quotas", "M"),
    ("/admin/audit/export", "M"),
];

const SERVER_FUNCTIONS: &[(&str, &str)] = &[
    ("sign_in_options", "ACDM"),
    ("my_account", "CDM"),
    ("change_my_password", "CDM"),
    ("render_manifests", "DM"),
    ("list_users", "M"),
    ("create_user", "M"),
    ("update_user", "M"),
    ("end_user_sessions", "M"),
    ("delete_user", "M"),
    ("list_audit", "M"),
    ("engine_health", "M"),
    ("list_databases", "CM"),
    ("database_overview", "CM"),
    ("create_database", "CM"),
    ("database_detail", "CM"),
    ("reveal_database_password", "CM"),
    ("rotate_database_password", "CM"),
    ("change_database", "CM"),
    ("my_quota", "CM"),
    ("quota_board", "M"),
    ("set_default_quota", "M"),
    ("set_customer_quota", "M"),
    ("remove_customer_quota", "M"),
    ("list_apps", "DM"),
    ("register_app", "DM"),
    ("app_detail", "DM"),
    ("release_detail", "DM"),
    ("rotate_webhook_secret", "DM"),
    ("update_app", "DM"),
    ("delete_app", "DM"),
    ("list_deployments", "DM"),
    ("deployment_detail", "DM"),
    ("decide_deployment", "DM"),
    ("deploy_by_hand", "DM"),
    ("lift_hold", "DM"),
    ("set_approval_rules", "DM"),
    ("deploy_measures", "DM"),
    ("environment_matrix", "DM"),
    ("app_workloads", "DM"),
    ("secrets_overview", "DM"),
    ("app_secrets", "DM"),
    ("secret_versions", "DM"),
    ("set_secret", "DM"),
    ("delete_secret", "DM"),
    ("roll_back_secret", "DM"),
    ("import_secrets", "DM"),
];

const VISITORS: [(char, Option<Role>); 4] = [
    ('A', None),
    ('C', Some(Role::Customer)),
    ('D', Some(Role::Developer)),
    ('M', Some(Role::Admin)),
];

fn names(entries: &[(&str, &str)]) -> BTreeSet<String> {
    entries.iter().map(|(name, _)| name.to_string()).collect()
}

#[test]
fn every_page_is_open_to_exactly_the_roles_the_product_means() {
    let table: BTreeSet<String> = access::PAGES
        .iter()
        .map(|(path, _)| path.to_string())
        .collect();
    assert_eq!(names(PAGES), table, "pin every page here, and only pages");
    for (path, who) in PAGES {
        let decision = access::page(path).unwrap();
        for (letter, role) in VISITORS {
            assert_eq!(
                decision.allows(role),
                who.contains(letter),
                "{path} for {role:?}"
            );
        }
    }
}

#[test]
fn every_server_function_is_open_to_exactly_the_roles_the_product_means() {
    let table: BTreeSet<String> = access::SERVER_FUNCTIONS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(
        names(SERVER_FUNCTIONS),
        table,
        "pin every server function here, and only those"
    );
    for (endpoint, who) in SERVER_FUNCTIONS {
        let decision = access::server_function(endpoint).unwrap();
        for (letter, role) in VISITORS {
            assert_eq!(
                decision.allows(role),
                who.contains(letter),
                "{endpoint} for {role:?}"
            );
        }
    }
}
