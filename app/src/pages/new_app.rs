//! Register app: a repository URL, its branch, optional credentials and
//! maintainers. The portal checks the repository before it creates
//! anything and says plainly what is wrong; on success it shows the push
//! webhook's URL and secret, once.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::accounts::server_message;
use crate::apps::RegisterApp;

#[component]
pub fn NewAppPage() -> impl IntoView {
    let register = ServerAction::<RegisterApp>::new();
    let kind = RwSignal::new("none".to_string());
    view! {
        <Title text="Register app" />
        <section class="panel">
            <nav class="breadcrumb" aria-label="Breadcrumb"><A href="/apps">"Apps"</A> " / Register"</nav>
            <div class="panel-heading">
                <h1>"Register app"</h1>
                <p class="lede">"One app is one git repository with a dscloud.yaml at its root. Its name names the namespaces <app>-<environment>."</p>
            </div>
            {move || register.value().get().map(|result| match result {
                Ok(registered) => {
                    let hook = format!("{}{}", origin(), registered.webhook_path);
                    view! {
                        <div class="status status-ok" role="status" data-registered=registered.name.clone()>
                            <p><strong>{format!("{} is registered.", registered.name)}</strong> " Its first release is the branch's head."</p>
                            <p>"Push webhook (GitHub, GitLab, Gitea or Forgejo; content type JSON): "<code>{hook}</code></p>
                            <p>"Secret, shown this once: "<code class="secret" data-webhook-secret="">{registered.webhook_secret}</code></p>
                            <A href=format!("/apps/{}", registered.name)>"Open the app"</A>
                        </div>
                    }.into_any()
                }
                Err(error) => view! { <p class="status status-error preformatted" role="alert">{server_message(&error)}</p> }.into_any(),
            })}
            <ActionForm action=register attr:class="stacked-form register-app" attr:aria-label="Register app">
                <label>
                    "Name"
                    <input name="form[name]" required maxlength="40" pattern="[a-z0-9]([a-z0-9\\-]*[a-z0-9])?" autocomplete="off" spellcheck="false" />
                    <span class="hint">"Lowercase letters, digits and '-', at most 40 characters."</span>
                </label>
                <label>
                    "Repository URL"
                    <input name="form[repository_url]" required maxlength="2048" autocomplete="off" spellcheck="false" placeholder="https://github.com/acme/orders.git" />
                    <span class="hint">"https://, ssh://, git@host:path, or file:///path for a repository on the portal's machine."</span>
                </label>
                <label>
                    "Branch"
                    <input name="form[branch]" maxlength="255" autocomplete="off" spellcheck="false" placeholder="the repository's default branch" />
                </label>
                <label>
                    "Check for new commits every (seconds)"
                    <input name="form[poll_interval_seconds]" type="number" min="10" max="86400" placeholder="60" />
                </label>
                <fieldset class="choice-group">
                    <legend>"Credentials"</legend>
                    {[("none", "None: a public repository"), ("token", "Access token (HTTPS)"), ("ssh-key", "SSH deploy key")]
                        .into_iter()
                        .map(|(value, label)| view! {
                            <label class="choice">
                                <input type="radio" name="form[credentials_kind]" value=value checked=value == "none"
                                    on:change=move |_| kind.set(value.to_string()) />
                                {label}
                            </label>
                        })
                        .collect_view()}
                    <label>
                        <span>"Token or private key (stored encrypted, never shown again)"</span>
                        <textarea name="form[credentials]" rows="3" spellcheck="false" autocomplete="off"
                            disabled=move || kind.get() == "none"></textarea>
                    </label>
                </fieldset>
                <fieldset class="choice-group">
                    <legend>"Images"</legend>
                    <label class="choice">
                        <input type="radio" name="form[build]" value="portal" checked />
                        "Built by the portal: one BuildKit Job per component, from its directory's Dockerfile"
                    </label>
                    <label class="choice">
                        <input type="radio" name="form[build]" value="external" />
                        "Pushed by your CI: the portal waits until <registry>/<app>/<component>:<commit sha> exists"
                    </label>
                </fieldset>
                <label>
                    "Other maintainers"
                    <input name="form[maintainers]" maxlength="2000" autocomplete="off" placeholder="usernames, separated by commas" />
                    <span class="hint">"Maintainers (and admins) may change the app; every developer sees it."</span>
                </label>
                <button type="submit" class="button-primary" disabled=move || register.pending().get()>
                    {move || if register.pending().get() { "Checking the repository…" } else { "Register" }}
                </button>
            </ActionForm>
        </section>
    }
}

/// The portal's own address, for the webhook URL.
fn origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        if let Some(origin) = web_sys::window().and_then(|window| window.location().origin().ok()) {
            return origin;
        }
    }
    String::new()
}
