use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::accounts::{SignInOptions, fetch_sign_in_options};

/// The sign-in page: a button for each single-sign-on provider and the
/// local password form, all plain form posts, so they work the same with and
/// without JavaScript.
#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let read = move |key: &str| query.read_untracked().get(key);
    let next = read("next").unwrap_or_else(|| "/".to_string());
    let provider = read("provider").unwrap_or_else(|| "the provider".to_string());
    let message = match read("error").as_deref() {
        Some("invalid") => Some("Wrong username or password.".to_string()),
        Some("throttled") => Some(format!(
            "Too many failed attempts. Try again in {}.",
            read("retry")
                .and_then(|seconds| seconds.parse::<u64>().ok())
                .map_or_else(|| "a moment".to_string(), crate::accounts::wait_in_words)
        )),
        Some("unavailable") => {
            Some("Signing in is not possible right now; try again shortly.".to_string())
        }
        Some("local_off") => {
            Some("Password sign-in is switched off on this portal: use single sign-on.".to_string())
        }
        Some("disabled") => {
            Some("Your account is disabled. Ask an admin to enable it.".to_string())
        }
        Some("sso_no_role") => Some(format!(
            "Your groups at {provider} give you no role in this portal. Ask an admin for access."
        )),
        Some("sso_last_admin") => Some(format!(
            "Your groups at {provider} no longer make you an admin, but you are this portal's last active admin. Another admin must be named first (the portal's host can do it with `portal admin`)."
        )),
        Some("sso_expired") => Some(
            "That sign-in took too long or was started in another browser. Try again.".to_string(),
        ),
        Some("sso_unknown") => Some(format!("There is no sign-in provider called {provider:?}.")),
        Some("sso_failed") => Some(format!(
            "Signing in with {provider} did not work. Try again; if it keeps failing, tell an admin (the portal's log says why)."
        )),
        _ => None,
    };
    let signed_out = read("signed_out").is_some();
    // After a failed attempt the username is kept; the password is typed again.
    let username = read("username").unwrap_or_default();
    let options = Resource::new_blocking(|| (), |()| fetch_sign_in_options());
    view! {
        <Title text="Sign in" />
        <section class="panel sign-in">
            <h1>"Sign in"</h1>
            <p class="lede">"DSCloud Portal: your databases and deployments."</p>
            {signed_out.then(|| view! { <p class="status status-ok" role="status">"You are signed out."</p> })}
            {message.map(|message| view! { <p class="status status-error" role="alert">{message}</p> })}
            <Suspense fallback=|| view! { <p class="hint">"Loading the ways to sign in…"</p> }>
                {move || {
                    options
                        .get()
                        .map(|options| {
                            let options = options.unwrap_or(SignInOptions {
                                local: true,
                                providers: Vec::new(),
                            });
                            methods(options, next.clone(), username.clone())
                        })
                }}
            </Suspense>
        </section>
    }
}

fn methods(options: SignInOptions, next: String, username: String) -> impl IntoView {
    let both = options.local && !options.providers.is_empty();
    let buttons = options
        .providers
        .into_iter()
        .map(|provider| {
            let action = format!("/auth/sso/{}/start", provider.id);
            view! {
                <form method="post" action=action class="sso-form">
                    <input type="hidden" name="next" value=next.clone() />
                    <button type="submit" class="button-primary sso-button">
                        {format!("Sign in with {}", provider.name)}
                    </button>
                </form>
            }
        })
        .collect_view();
    let local = options.local.then(|| {
        view! {
            <form method="post" action="/auth/sign-in" class="sign-in-form">
                <input type="hidden" name="next" value=next.clone() />
                <label>
                    "Username"
                    <input name="username" autocomplete="username" required value=username.clone() autofocus=!both && username.is_empty() />
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required autofocus=!username.is_empty() />
                </label>
                <button type="submit" class=if both { "button-secondary" } else { "button-primary" }>
                    "Sign in"
                </button>
            </form>
        }
    });
    view! {
        <div class="sso-buttons">{buttons}</div>
        {both.then(|| view! { <p class="divider"><span>"or with a local account"</span></p> })}
        {local}
    }
}
