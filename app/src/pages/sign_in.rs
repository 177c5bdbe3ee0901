use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The sign-in page: a plain form posted to `/auth/sign-in`, so it works the
/// same with and without JavaScript.
#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let read = move |key: &str| query.read_untracked().get(key);
    let next = read("next").unwrap_or_else(|| "/".to_string());
    let message = match read("error").as_deref() {
        Some("invalid") => Some("Wrong username or password.".to_string()),
        Some("throttled") => Some(format!(
            "Too many failed attempts. Try again in {} minute(s).",
            read("retry").unwrap_or_else(|| "a few".to_string())
        )),
        Some("unavailable") => {
            Some("Signing in is not possible right now; try again shortly.".to_string())
        }
        _ => None,
    };
    let signed_out = read("signed_out").is_some();
    view! {
        <Title text="Sign in" />
        <section class="panel sign-in">
            <h1>"Sign in"</h1>
            <p class="lede">"DSCloud Portal: your databases and deployments."</p>
            {signed_out.then(|| view! { <p class="status status-ok" role="status">"You are signed out."</p> })}
            {message.map(|message| view! { <p class="status status-error" role="alert">{message}</p> })}
            <form method="post" action="/auth/sign-in" class="sign-in-form">
                <input type="hidden" name="next" value=next />
                <label>
                    "Username"
                    <input name="username" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required />
                </label>
                <button type="submit" class="button-primary">"Sign in"</button>
            </form>
        </section>
    }
}
