//! The users page (admins): search, server-side pagination, create a local
//! user, change role, disable / enable, end sessions, delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use crate::accounts::{
    CreateUser, DeleteUser, EndUserSessions, UpdateUser, UserList, UserSummary, list_users,
    server_message,
};
use crate::roles::Role;

/// The actions of this page, shared by every row.
#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateUser>,
    update: ServerAction<UpdateUser>,
    end_sessions: ServerAction<EndUserSessions>,
    delete: ServerAction<DeleteUser>,
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let actions = Actions {
        create: ServerAction::new(),
        update: ServerAction::new(),
        end_sessions: ServerAction::new(),
        delete: ServerAction::new(),
    };
    let changes = move || {
        (
            actions.create.version().get(),
            actions.update.version().get(),
            actions.end_sessions.version().get(),
            actions.delete.version().get(),
        )
    };
    let users = Resource::new(
        move || (search(), page(), changes()),
        |(search, page, _)| list_users(search, page),
    );
    view! {
        <Title text="Users" />
        <section class="panel">
            <div class="panel-heading">
                <h1>"Users"</h1>
                <p class="lede">"Who can sign in, with which role. Changing a role or disabling a user ends their sessions."</p>
            </div>
            <Form method="GET" action="" attr:class="search-form" attr:role="search">
                <label>
                    <span class="visually-hidden">"Search users"</span>
                    <input type="search" name="q" placeholder="Search by name, username or email" value=search />
                </label>
                <button type="submit" class="button-secondary">"Search"</button>
            </Form>
            <Outcome actions=actions />
            <Transition fallback=|| view! { <p class="hint">"Loading users…"</p> }>
                {move || {
                    users
                        .get()
                        .map(|users| match users {
                            Ok(users) => user_table(users, search(), actions).into_any(),
                            Err(error) => {
                                view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
            <CreateUserForm action=actions.create />
        </section>
    }
}

/// Which of the page's actions was sent last: only its outcome is shown, so
/// an earlier failure does not stay on screen after a later success.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LastAction {
    Create,
    Update,
    EndSessions,
    Delete,
}

/// What the last action did, or why it failed.
#[component]
fn Outcome(actions: Actions) -> impl IntoView {
    let last = RwSignal::new(None::<LastAction>);
    Effect::new(move |_| {
        let sent = [
            (actions.create.pending().get(), LastAction::Create),
            (actions.update.pending().get(), LastAction::Update),
            (
                actions.end_sessions.pending().get(),
                LastAction::EndSessions,
            ),
            (actions.delete.pending().get(), LastAction::Delete),
        ];
        if let Some((_, action)) = sent.into_iter().find(|(pending, _)| *pending) {
            last.set(Some(action));
        }
    });
    let failure = move || match last.get() {
        Some(LastAction::Update) => actions.update.value().get().and_then(Result::err),
        Some(LastAction::EndSessions) => actions.end_sessions.value().get().and_then(Result::err),
        Some(LastAction::Delete) => actions.delete.value().get().and_then(Result::err),
        // Without JavaScript (no pending state) a form post shows its own answer.
        None => [
            actions.update.value().get().and_then(Result::err),
            actions.end_sessions.value().get().and_then(Result::err),
            actions.delete.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next(),
        // The create form shows its outcome under itself.
        Some(LastAction::Create) => None,
    };
    let ended = move || {
        matches!(last.get(), Some(LastAction::EndSessions) | None)
            .then(|| actions.end_sessions.value().get().and_then(Result::ok))
            .flatten()
    };
    view! {
        {move || failure().map(|error| view! { <p class="status status-error" role="alert">{server_message(&error)}</p> })}
        {move || ended().map(|count| view! { <p class="status status-ok" role="status">{format!("Sessions ended: {count}.")}</p> })}
    }
}

fn user_table(users: UserList, search: String, actions: Actions) -> impl IntoView {
    let pages = users.pages();
    let page = users.page;
    let link = move |page: u32| format!("?q={}&page={page}", encode(&search));
    let summary = format!(
        "{} user{} · page {page} of {pages}",
        users.total,
        if users.total == 1 { "" } else { "s" }
    );
    view! {
        <p class="hint">{summary}</p>
        <div class="table-scroll">
            <table class="data-table users-table">
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Signs in with"</th>
                        <th scope="col">"Last sign-in"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {users.items.into_iter().map(|user| user_row(user, actions)).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pagination" aria-label="Pages of users">
            {(page > 1).then(|| view! { <A href=link(page - 1)>"← Previous"</A> })}
            {(page < pages).then(|| view! { <A href=link(page + 1)>"Next →"</A> })}
        </nav>
    }
}

fn user_row(user: UserSummary, actions: Actions) -> impl IntoView {
    let username = user.username.clone();
    let role_options = Role::ALL
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == user.role>{role.as_str()}</option> })
        .collect_view();
    let toggle_label = if user.disabled { "Enable" } else { "Disable" };
    let status = if user.disabled { "disabled" } else { "active" };
    // Form contents are closures: each takes its own copy of the name.
    let for_role = username.clone();
    let for_toggle = username.clone();
    let for_sessions = username.clone();
    let for_delete = username.clone();
    let role_label = format!("Role of {username}");
    let toggle_aria = format!("{toggle_label} {username}");
    let sessions_aria = format!("End sessions of {username}");
    let delete_label = format!("Delete {username} for good");
    let current_role = user.role.as_str();
    let disabled = user.disabled;
    view! {
        <tr data-username=username.clone()>
            <td>
                <strong>{user.display_name}</strong>
                <br />
                <code>{username.clone()}</code>
                {user.email.map(|email| view! { <br /><span class="hint">{email}</span> })}
            </td>
            <td>
                <ActionForm action=actions.update attr:class="inline-form">
                    <input type="hidden" name="username" value=for_role />
                    <input type="hidden" name="disabled" value=disabled.to_string() />
                    <select name="role" aria-label=role_label>{role_options}</select>
                    <button type="submit" class="button-secondary">"Save role"</button>
                </ActionForm>
                {user.single_sign_on.then(|| view! { <p class="hint">"Set from SSO groups at each sign-in"</p> })}
            </td>
            <td>{user.signs_in_with}</td>
            <td>{user.last_sign_in_at.unwrap_or_else(|| "never".to_string())}</td>
            <td><span class=if disabled { "badge badge-warn" } else { "badge badge-ok" }>{status}</span></td>
            <td class="row-actions">
                <ActionForm action=actions.update attr:class="inline-form">
                    <input type="hidden" name="username" value=for_toggle />
                    <input type="hidden" name="role" value=current_role />
                    <input type="hidden" name="disabled" value=(!disabled).to_string() />
                    <button type="submit" class="button-secondary" aria-label=toggle_aria>{toggle_label}</button>
                </ActionForm>
                <ActionForm action=actions.end_sessions attr:class="inline-form">
                    <input type="hidden" name="username" value=for_sessions />
                    <button type="submit" class="button-secondary" aria-label=sessions_aria>"End sessions"</button>
                </ActionForm>
                <details class="confirm">
                    <summary>"Delete…"</summary>
                    <ActionForm action=actions.delete attr:class="inline-form">
                        <input type="hidden" name="username" value=for_delete />
                        <button type="submit" class="button-danger">{delete_label}</button>
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}

#[component]
fn CreateUserForm(action: ServerAction<CreateUser>) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let role_options = Role::ALL
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == Role::Customer>{role.as_str()}</option> })
        .collect_view();
    view! {
        <h2>"Create a local user"</h2>
        <ActionForm action=action attr:class="stacked-form create-user" attr:aria-label="Create a local user">
            <label>
                "Username"
                <input name="username" required maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9._@\\-]*" autocomplete="off" />
            </label>
            <label>
                "Display name (optional)"
                <input name="display_name" />
            </label>
            <label>
                "Email (optional)"
                <input name="email" type="email" />
            </label>
            <label>
                "Role"
                <select name="role">{role_options}</select>
            </label>
            // The generated password is the action's answer, which only the
            // hydrated page can show: a plain form post would create a user
            // whose password nobody ever sees.
            <button type="submit" class="button-primary" disabled=move || !hydrated.get()>"Create user"</button>
            <noscript>
                <p class="hint" data-testid="create-user-needs-javascript">
                    "Creating a user needs JavaScript: their generated password is shown once, on this page."
                </p>
            </noscript>
        </ActionForm>
        {move || match action.value().get() {
            Some(Ok(password)) => view! {
                <div class="status status-ok" role="status">
                    <p>"User created. Their password, shown this once: " <code class="secret">{password}</code></p>
                    <p class="hint">"Hand it over safely; they can change it on their account page."</p>
                </div>
            }.into_any(),
            Some(Err(error)) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            None => ().into_any(),
        }}
    }
}

/// A query-string value.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
