//! The frame around every page: skip link, header with navigation, the main
//! landmark guarded by an error boundary, and the footer.

use leptos::prelude::*;
use leptos_router::components::A;

use super::theme_toggle::ThemeToggle;
use crate::kubernetes::{self, KubernetesTarget};

/// The sections of the portal, in navigation order.
const SECTIONS: &[(&str, &str)] = &[
    ("/databases", "Databases"),
    ("/apps", "Apps"),
    ("/deploys", "Deploys"),
    ("/environments", "Environments"),
    ("/secrets", "Secrets"),
    ("/admin/users", "Users"),
    ("/admin/quotas", "Quotas"),
    ("/admin/audit", "Audit"),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <div class="header-inner">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"DSCloud Portal"</span>
                </A>
                <nav class="site-nav" aria-label="Main">
                    <ul>
                        {SECTIONS
                            .iter()
                            .filter(|(href, _)| {
                                // Only what this role may open; the server enforces it too.
                                let role = crate::viewer::current().map(|viewer| viewer.role);
                                crate::access::page(href).is_some_and(|access| access.allows(role))
                            })
                            .map(|(href, label)| {
                                view! {
                                    <li>
                                        <A href=*href>{*label}</A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <div class="header-tools">
                    <ThemeToggle />
                    <ViewerMenu />
                </div>
            </div>
        </header>
        <main id="main" class="site-main" tabindex="-1">
            <ErrorBoundary fallback=|errors| {
                view! {
                    <section class="panel error-panel" role="alert">
                        <h1>"Something went wrong"</h1>
                        <p>"This page could not be shown. Nothing you entered was lost; try again, or go back."</p>
                        <ul class="error-list">
                            {move || {
                                errors
                                    .get()
                                    .into_iter()
                                    .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                                    .collect_view()
                            }}
                        </ul>
                    </section>
                }
            }>{children()}</ErrorBoundary>
        </main>
        <footer class="site-footer">
            <p>"DSCloud Portal · self-service databases and deployments on Kubernetes"</p>
            <KubernetesNotice />
        </footer>
    }
}

/// Says plainly which Kubernetes the portal runs on; on the sandbox, how to
/// look at it with kubectl.
#[component]
fn KubernetesNotice() -> impl IntoView {
    kubernetes::current().map(|target| match target {
        KubernetesTarget::Sandbox { kubeconfig } => view! {
            <p class="kubernetes-notice" data-kubernetes="sandbox">
                <span class="badge badge-muted">"Sandbox"</span>
                " Running on the built-in Kubernetes sandbox, not a real cluster. Look at it with "
                <code>{format!("kubectl --kubeconfig {kubeconfig} get ns")}</code>
            </p>
        }
        .into_any(),
        KubernetesTarget::Cluster { server } => view! {
            <p class="kubernetes-notice" data-kubernetes="cluster">
                "Kubernetes cluster: " <code>{server}</code>
            </p>
        }
        .into_any(),
    })
}

/// Who is signed in, and the way out; or the way in.
#[component]
fn ViewerMenu() -> impl IntoView {
    match crate::viewer::current() {
        Some(viewer) => view! {
            <div class="viewer">
                <A href="/account" attr:class="viewer-name" attr:title="My account">
                    {viewer.display_name}
                    <span class="badge badge-muted">{viewer.role.as_str()}</span>
                </A>
                <form method="post" action="/auth/sign-out">
                    <button type="submit" class="button-secondary">"Sign out"</button>
                </form>
            </div>
        }
        .into_any(),
        None => view! { <a href="/sign-in" class="button-secondary">"Sign in"</a> }.into_any(),
    }
}
