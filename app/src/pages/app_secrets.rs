//! An app's secrets, per environment: every key the newest release reads
//! there (and its integration tests' secret groups), set / missing /
//! unused, with the version in force, who set it, when, and since when the
//! cluster has it. Maintainers and admins set, replace, delete, roll back
//! and import; values are typed masked and never come back.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::databases::short_time;
use crate::accounts::server_message;
use crate::secrets::{
    AppSecrets, DeleteSecretValue, EnvironmentSecrets, ImportSecretValues, RollBackSecretValue,
    SecretKeyView, SecretState, SetSecretValue, SetValue, fetch_app_secrets, fetch_secret_versions,
};

/// Every change the page can make; one of each, shared by all its forms,
/// so any result reloads the states and is said once at the top.
#[derive(Clone, Copy)]
struct Changes {
    set: ServerAction<SetSecretValue>,
    delete: ServerAction<DeleteSecretValue>,
    roll_back: ServerAction<RollBackSecretValue>,
    import: ServerAction<ImportSecretValues>,
}

impl Changes {
    fn version(&self) -> (usize, usize, usize, usize) {
        (
            self.set.version().get(),
            self.delete.version().get(),
            self.roll_back.version().get(),
            self.import.version().get(),
        )
    }
}

#[component]
pub fn AppSecretsPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let changes = Changes {
        set: ServerAction::new(),
        delete: ServerAction::new(),
        roll_back: ServerAction::new(),
        import: ServerAction::new(),
    };
    let secrets = Resource::new(
        move || (name(), changes.version()),
        |(name, _)| fetch_app_secrets(name),
    );
    view! {
        <Title text=move || format!("Secrets of {}", name()) />
        <section class="panel">
            <nav class="breadcrumb" aria-label="Breadcrumb">
                <A href="/secrets">"Secrets"</A> " / " <A href=move || format!("/apps/{}", name())>{name}</A>
            </nav>
            <div class="panel-heading">
                <h1>{move || format!("Secrets of {}", name())}</h1>
                <p class="lede">"Values your services read at deploy time. Write-only: once saved, a value is never shown again. In the cluster they are as safe as its encryption at rest and its RBAC on Secrets."</p>
            </div>
            <Outcome changes=changes />
            <Transition fallback=|| view! { <p class="hint">"Loading the secrets…"</p> }>
                {move || secrets.get().map(|secrets| match secrets {
                    Ok(secrets) => secrets_view(secrets, changes).into_any(),
                    Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The last change's result.
#[component]
fn Outcome(changes: Changes) -> impl IntoView {
    let said = move || {
        let results = [
            changes.set.value().get().map(|result| result.map(|version| format!("Saved as version {version}. It reaches the cluster with the next deploy there, which starts now."))),
            changes.delete.value().get().map(|result| result.map(|_| "Deleted. It leaves the cluster with the next deploy there.".to_string())),
            changes.roll_back.value().get().map(|result| result.map(|version| format!("Rolled back: the earlier value is version {version} now."))),
            changes.import.value().get().map(|result| result.map(|count| format!("{count} key{} set.", if count == 1 { "" } else { "s" }))),
        ];
        results.into_iter().flatten().last()
    };
    move || {
        said().map(|result| match result {
            Ok(message) => {
                view! { <p class="status status-ok" role="status">{message}</p> }.into_any()
            }
            Err(error) => {
                view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                    .into_any()
            }
        })
    }
}

fn secrets_view(secrets: AppSecrets, changes: Changes) -> impl IntoView + use<> {
    let release = match &secrets.release {
        Some(sha) => {
            format!("Expected keys from release {sha}, the newest that passed the checks.")
        }
        None => "No release has passed the checks yet: no key is expected.".to_string(),
    };
    let who = if secrets.may_change {
        "You may change them: you maintain this app or are an admin."
    } else {
        "Only this app's maintainers and admins change them; you see which keys are set or missing."
    };
    let app = secrets.app.clone();
    let environments: Vec<_> = secrets
        .environments
        .into_iter()
        .map(|environment| environment_view(&app, environment, secrets.may_change, changes))
        .collect();
    view! {
        <p class="hint">{release} " " {who}</p>
        {environments}
    }
}

fn environment_view(
    app: &str,
    environment: EnvironmentSecrets,
    may_change: bool,
    changes: Changes,
) -> impl IntoView + use<> {
    let missing = environment.missing();
    let name = environment.environment.clone();
    let blocking = (!missing.is_empty()).then(|| {
        view! {
            <p class="status status-error" role="status" data-blocking="">
                {format!("Blocks the deploy to {name}: {} {} no value.", missing.join(", "), if missing.len() == 1 { "has" } else { "have" })}
            </p>
        }
    });
    let groups: Vec<_> = environment
        .groups
        .iter()
        .filter(|group| group.group.is_empty() || !group.keys.is_empty())
        .map(|group| {
            let title = if group.group.is_empty() {
                "The app's Secret (secretValues)".to_string()
            } else {
                format!("Secret group {} (integration tests)", group.group)
            };
            let rows: Vec<_> = group
                .keys
                .iter()
                .map(|key| {
                    key_row(
                        app,
                        &environment.environment,
                        &group.group,
                        key,
                        may_change,
                        changes,
                    )
                })
                .collect();
            let empty = group.keys.is_empty().then(|| {
                view! { <tr><td colspan="4" class="hint">"No key is expected or set here."</td></tr> }
            });
            view! {
                <h3>{title}</h3>
                <table class="data-table card-table" data-group=group.group.clone()>
                    <thead><tr><th scope="col">"Key"</th><th scope="col">"State"</th><th scope="col">"Read by"</th><th scope="col">"Change"</th></tr></thead>
                    <tbody>{rows}{empty}</tbody>
                </table>
            }
        })
        .collect();
    let adding = may_change.then(|| {
        view! {
            <AddKey app=app.to_string() environment=environment.environment.clone() changes=changes />
            <ImportKeys app=app.to_string() environment=environment.environment.clone() changes=changes />
        }
    });
    view! {
        <section class="environment-secrets" data-environment=environment.environment.clone() aria-label=format!("Secrets in {}", environment.environment)>
            <h2>{environment.environment.clone()}</h2>
            {blocking}
            {groups}
            {adding}
        </section>
    }
}

fn set_facts(value: &SetValue) -> String {
    let cluster = match &value.in_cluster_since {
        Some(since) => format!("in the cluster since {}", short_time(since)),
        None => "not in the cluster yet".to_string(),
    };
    format!(
        "v{} · by {} · {} · {cluster}",
        value.version,
        value.by,
        short_time(&value.at)
    )
}

fn key_row(
    app: &str,
    environment: &str,
    group: &str,
    key: &SecretKeyView,
    may_change: bool,
    changes: Changes,
) -> impl IntoView + use<> {
    let (badge, facts) = match &key.state {
        SecretState::Set(value) => (
            view! { <span class="badge badge-ok">"set"</span> }.into_any(),
            set_facts(value),
        ),
        SecretState::Missing => (
            view! { <span class="badge badge-error">"missing"</span> }.into_any(),
            "no value: the deploy here waits for it".to_string(),
        ),
        SecretState::Unused(value) => (
            view! { <span class="badge badge-muted">"unused"</span> }.into_any(),
            format!("{} · the newest release does not read it", set_facts(value)),
        ),
    };
    let is_set = !matches!(key.state, SecretState::Missing);
    let read_by = if key.needed_by.is_empty() {
        "—".to_string()
    } else {
        key.needed_by.join(", ")
    };
    let change = may_change.then(|| {
        let (app, environment, group, name) = (
            app.to_string(),
            environment.to_string(),
            group.to_string(),
            key.name.clone(),
        );
        let delete = is_set.then(|| {
            let label = format!("Delete {name}");
            let (app, environment, group, name) =
                (app.clone(), environment.clone(), group.clone(), name.clone());
            view! {
                <ActionForm action=changes.delete attr:class="inline-form" attr:aria-label=label>
                    <input type="hidden" name="app" value=app />
                    <input type="hidden" name="environment" value=environment />
                    <input type="hidden" name="group" value=group />
                    <input type="hidden" name="name" value=name />
                    <button type="submit" class="button-secondary">"Delete"</button>
                </ActionForm>
            }
        });
        let value_form = view! {
            <ValueForm app=app.clone() environment=environment.clone() group=group.clone() name=name.clone() replace=is_set changes=changes />
        };
        view! {
            {value_form}
            {delete}
            <Versions app=app environment=environment group=group name=name changes=changes />
        }
    });
    view! {
        <tr data-key=key.name.clone()>
            <th scope="row"><code>{key.name.clone()}</code></th>
            <td>{badge} " " <span class="hint">{facts}</span></td>
            <td>{read_by}</td>
            <td>{change}</td>
        </tr>
    }
}

/// A masked value field with a "show while typing" switch.
#[component]
fn SecretInput(label: String) -> impl IntoView {
    let shown = RwSignal::new(false);
    view! {
        <input
            name="value"
            type=move || if shown.get() { "text" } else { "password" }
            autocomplete="off"
            spellcheck="false"
            required
            aria-label=label
            placeholder="Value"
        />
        <label class="inline-check">
            <input type="checkbox" on:change=move |event| shown.set(event_target_checked(&event)) />
            "Show while typing"
        </label>
    }
}

#[component]
fn ValueForm(
    app: String,
    environment: String,
    group: String,
    name: String,
    replace: bool,
    changes: Changes,
) -> impl IntoView {
    let label = format!("{} {name}", if replace { "Replace" } else { "Set" });
    let input_label = format!("New value of {name}");
    view! {
        <ActionForm action=changes.set attr:class="inline-form" attr:aria-label=label>
            <input type="hidden" name="app" value=app />
            <input type="hidden" name="environment" value=environment />
            <input type="hidden" name="group" value=group />
            <input type="hidden" name="name" value=name />
            <SecretInput label=input_label />
            <button type="submit" class="button-primary">{if replace { "Replace" } else { "Set" }}</button>
        </ActionForm>
    }
}

#[component]
fn AddKey(app: String, environment: String, changes: Changes) -> impl IntoView {
    let label = format!("Add a key in {environment}");
    view! {
        <details class="add-secret">
            <summary>{label.clone()}</summary>
            <ActionForm action=changes.set attr:class="stacked-form" attr:aria-label=label>
                <input type="hidden" name="app" value=app />
                <input type="hidden" name="environment" value=environment />
                <label>"Key" <input name="name" required maxlength="128" pattern="[A-Za-z_][A-Za-z0-9_]*" autocomplete="off" /></label>
                <label>"Secret group (empty: the app's Secret)" <input name="group" maxlength="63" autocomplete="off" /></label>
                <SecretInput label="Value".to_string() />
                <button type="submit" class="button-primary">"Add"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn ImportKeys(app: String, environment: String, changes: Changes) -> impl IntoView {
    let summary = format!("Import a .env paste into {environment}");
    let label = format!("Import into {environment}");
    view! {
        <details class="import-secrets">
            <summary>{summary}</summary>
            <ActionForm action=changes.import attr:class="stacked-form" attr:aria-label=label>
                <input type="hidden" name="app" value=app />
                <input type="hidden" name="environment" value=environment />
                <label>"Secret group (empty: the app's Secret)" <input name="group" maxlength="63" autocomplete="off" /></label>
                <label>"KEY=value lines (every line is checked; all or nothing)"
                    <textarea name="text" rows="6" required spellcheck="false" autocomplete="off" class="masked-text"></textarea>
                </label>
                <button type="submit" class="button-primary">"Import"</button>
            </ActionForm>
        </details>
    }
}

/// A key's versions (never values), loaded when asked, each earlier one
/// with a way back to it.
#[component]
fn Versions(
    app: String,
    environment: String,
    group: String,
    name: String,
    changes: Changes,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    let label = format!("Versions of {name}");
    let key = (app, environment, group, name);
    view! {
        <button type="button" class="button-link" aria-expanded=move || shown.get().to_string() on:click=move |_| shown.update(|shown| *shown = !*shown)>{label}</button>
        <Show when=move || shown.get()>
            {
                let key = key.clone();
                let versions = Resource::new(
                    {
                        let key = key.clone();
                        move || (key.clone(), changes.version())
                    },
                    |((app, environment, group, name), _)| fetch_secret_versions(app, environment, group, name),
                );
                view! {
                    <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                        {
                            let key = key.clone();
                            move || versions.get().map(|versions| match versions {
                                Ok(versions) => {
                                    let items: Vec<_> = versions.into_iter().map(|version| {
                                        let (app, environment, group, name) = key.clone();
                                        let what = if version.deleted { "deleted".to_string() } else { format!("set by {}", version.by) };
                                        let text = format!("v{} · {what} · {}", version.version, short_time(&version.at));
                                        let back_label = format!("Roll back {name} to v{}", version.version);
                                        let back = (!version.deleted && !version.current).then(|| view! {
                                            <ActionForm action=changes.roll_back attr:class="inline-form" attr:aria-label=back_label>
                                                <input type="hidden" name="app" value=app />
                                                <input type="hidden" name="environment" value=environment />
                                                <input type="hidden" name="group" value=group />
                                                <input type="hidden" name="name" value=name.clone() />
                                                <input type="hidden" name="version" value=version.version.to_string() />
                                                <button type="submit" class="button-secondary">"Roll back to this"</button>
                                            </ActionForm>
                                        });
                                        let current = version.current.then(|| view! { " " <span class="badge badge-ok">"in force"</span> });
                                        view! { <li>{text}{current}{back}</li> }
                                    }).collect();
                                    view! { <ol class="secret-versions">{items}</ol> }.into_any()
                                }
                                Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                            })
                        }
                    </Transition>
                }
            }
        </Show>
    }
}
