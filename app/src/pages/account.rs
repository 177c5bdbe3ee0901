use leptos::prelude::*;
use leptos_meta::Title;

use crate::accounts::{ChangeMyPassword, UserSummary, my_account, server_message};

/// Who am I: my name, role and how I sign in; change my local password; sign out.
#[component]
pub fn AccountPage() -> impl IntoView {
    let account = Resource::new_blocking(|| (), |()| my_account());
    // Every other page sends here until a generated password is replaced.
    let must_change = leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("must_change")
        .is_some();
    view! {
        <Title text="My account" />
        <section class="panel">
            <h1>"My account"</h1>
            {must_change.then(|| view! {
                <p class="status status-warn" role="alert" data-testid="must-change-password">
                    "The password you signed in with was generated, and someone else has seen it. Choose your own below to go on."
                </p>
            })}
            <Suspense fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || {
                    account
                        .get()
                        .map(|account| match account {
                            Ok(account) => details(account.user).into_any(),
                            Err(error) => {
                                view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

fn details(user: UserSummary) -> impl IntoView {
    let local = !user.single_sign_on;
    let signs_in_with = if local {
        "a password".to_string()
    } else {
        format!("single sign-on ({})", user.signs_in_with)
    };
    view! {
        <dl class="facts">
            <dt>"Name"</dt>
            <dd>{user.display_name}</dd>
            <dt>"Username"</dt>
            <dd><code>{user.username}</code></dd>
            <dt>"Email"</dt>
            <dd>{user.email.unwrap_or_else(|| "—".to_string())}</dd>
            <dt>"Role"</dt>
            <dd><span class="badge badge-muted">{user.role.as_str()}</span></dd>
            <dt>"Signs in with"</dt>
            <dd>{signs_in_with}</dd>
            <dt>"Last sign-in"</dt>
            <dd>{user.last_sign_in_at.unwrap_or_else(|| "never".to_string())}</dd>
        </dl>
        {if local { change_password().into_any() } else {
            view! { <p class="hint">"Your password is managed by your single-sign-on provider."</p> }.into_any()
        }}
        <form method="post" action="/auth/sign-out" class="inline-form">
            <button type="submit" class="button-secondary">"Sign out"</button>
        </form>
    }
}

fn change_password() -> impl IntoView {
    let change = ServerAction::<ChangeMyPassword>::new();
    view! {
        <h2>"Change my password"</h2>
        <ActionForm action=change attr:class="stacked-form" attr:aria-label="Change my password">
            <label>
                "Current password"
                <input type="password" name="current_password" autocomplete="current-password" required />
            </label>
            <label>
                "New password (at least 12 characters)"
                <input type="password" name="new_password" autocomplete="new-password" minlength="12" required />
            </label>
            <label>
                "New password, again"
                <input type="password" name="repeat_password" autocomplete="new-password" minlength="12" required />
            </label>
            <button type="submit" class="button-primary">"Change password"</button>
        </ActionForm>
        {move || match change.value().get() {
            Some(Ok(())) => view! {
                <p class="status status-ok" role="status">
                    "Your password is changed. Your other sessions were ended. "
                    <a href="/">"Go on to the overview"</a>
                </p>
            }.into_any(),
            Some(Err(error)) => view! {
                <p class="status status-error" role="alert">{server_message(&error)}</p>
            }.into_any(),
            None => ().into_any(),
        }}
    }
}
