//! An app's page: what its newest accepted release describes (each
//! component and what it gets in each environment), its releases newest
//! first, and the repository's status. It looks again every few seconds,
//! so a pushed commit shows up without a reload.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::databases::short_time;
use super::deploy_panels::WorkloadsPanel;
use crate::accounts::server_message;
use crate::apps::{
    AppDetail, DeleteApp, ReleaseSummary, RotateWebhookSecret, UpdateApp, fetch_app,
};
use crate::dscloud::{Common, DscloudFile, check};

/// The usual promotion order, for showing environments.
const ENVIRONMENTS: &[&str] = &["dev", "test", "prod"];

#[component]
pub fn AppPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let detail = Resource::new(name, fetch_app);
    #[cfg(feature = "hydrate")]
    {
        // Keep looking while the page is open: new releases appear by themselves.
        let handle =
            set_interval_with_handle(move || detail.refetch(), std::time::Duration::from_secs(3));
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text=name />
        <section class="panel">
            <nav class="breadcrumb" aria-label="Breadcrumb"><A href="/apps">"Apps"</A> " / " {name}</nav>
            <Transition fallback=|| view! { <p class="hint">"Loading the app…"</p> }>
                {move || detail.get().map(|detail| match detail {
                    Ok(detail) => app_view(detail).into_any(),
                    Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn app_view(detail: AppDetail) -> impl IntoView {
    let file = detail
        .dscloud_yaml
        .as_deref()
        .and_then(|text| check(text).file);
    let status = repository_status(&detail);
    let app = detail.name.clone();
    let releases: Vec<AnyView> = detail
        .releases
        .iter()
        .cloned()
        .map(|release| release_item(&app, release))
        .collect();
    view! {
        <div class="panel-heading">
            <h1>{detail.name.clone()}</h1>
            <p class="lede"><span class="wrap-anywhere">{detail.repository_url.clone()}</span> " · branch " <code>{detail.branch.clone()}</code></p>
        </div>
        {status}
        <h2>"Components"</h2>
        {match (file, detail.latest_accepted.clone()) {
            (Some(file), Some(release)) => components(&file, &release).into_any(),
            _ => view! { <p class="hint">"No release has passed the checks yet."</p> }.into_any(),
        }}
        <p>
            <A href=format!("/deploys?app={}", super::users::encode(&detail.name))>"Deploy history of this app"</A>
            " · "
            <A href=format!("/apps/{}/secrets", super::users::encode(&detail.name))>"Secrets"</A>
        </p>
        <MissingSecrets app=detail.name.clone() />
        <WorkloadsPanel app=detail.name.clone() />
        <h2>"Releases"</h2>
        <p class="hint">{format!("{} release{}", detail.releases_total, if detail.releases_total == 1 { "" } else { "s" })}</p>
        <ol class="releases" data-releases="">
            {releases}
        </ol>
        <h2>"Settings"</h2>
        <dl class="facts">
            <dt>"Checked every"</dt><dd>{format!("{} s", detail.poll_interval_seconds)}</dd>
            <dt>"Credentials"</dt><dd>{detail.credentials.clone().unwrap_or_else(|| "none".to_string())}</dd>
            <dt>"Images"</dt>
            <dd data-build=detail.build.as_str()>
                {detail.build.describe()}
                {(detail.build == crate::apps::BuildMode::External).then(|| view! {
                    ": the deploy waits until your CI pushes " <code>{detail.image_pattern.clone()}</code>
                })}
            </dd>
            <dt>"Push webhook"</dt><dd><code>{detail.webhook_path.clone()}</code></dd>
            <dt>"Maintainers"</dt><dd>{detail.maintainers.join(", ")}</dd>
        </dl>
        {if detail.may_change {
            view! { <Settings name=detail.name.clone() branch=detail.branch.clone() interval=detail.poll_interval_seconds images=detail.build /> }.into_any()
        } else {
            view! { <p class="hint">"Only its maintainers and admins change this app."</p> }.into_any()
        }}
    }
}

/// The keys missing per environment, each blocking the deploy there.
#[component]
fn MissingSecrets(app: String) -> impl IntoView {
    let href = format!("/apps/{}/secrets", super::users::encode(&app));
    let secrets = Resource::new(move || app.clone(), crate::secrets::fetch_app_secrets);
    view! {
        <Transition fallback=|| ()>
            {move || {
                let href = href.clone();
                secrets.get().and_then(Result::ok).map(move |secrets| {
                    let blocked: Vec<_> = secrets
                        .environments
                        .iter()
                        .filter_map(|environment| {
                            let missing = environment.missing();
                            (!missing.is_empty()).then(|| format!(
                                "Blocks the deploy to {}: {} {} no value.",
                                environment.environment,
                                missing.join(", "),
                                if missing.len() == 1 { "has" } else { "have" }
                            ))
                        })
                        .map(|text| view! { <p class="status status-error" role="status" data-blocking="">{text} " " <A href=href.clone()>"Set it on the Secrets page"</A></p> })
                        .collect();
                    blocked
                })
            }}
        </Transition>
    }
}

/// What a maintainer may change: branch, interval, credentials, the webhook
/// secret (a new one, shown once), or the app itself (type its name).
#[component]
fn Settings(
    name: String,
    branch: String,
    interval: u32,
    images: crate::apps::BuildMode,
) -> impl IntoView {
    let update = ServerAction::<UpdateApp>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let delete = ServerAction::<DeleteApp>::new();
    let outcome = |result: Option<Result<(), ServerFnError>>, done: &'static str| {
        result.map(|result| match result {
            Ok(()) => view! { <p class="status status-ok" role="status">{done}</p> }.into_any(),
            Err(error) => {
                view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                    .into_any()
            }
        })
    };
    let (settings_name, rotate_name, delete_name) = (name.clone(), name.clone(), name.clone());
    let confirm_label = format!("Type {name} to delete the app and its releases");
    view! {
        <section class="app-settings" aria-label="Change the app">
            {move || outcome(update.value().get(), "Saved. The next check uses it.")}
            <ActionForm action=update attr:class="stacked-form" attr:aria-label="App settings">
                <input type="hidden" name="form[name]" value=settings_name />
                <label>"Branch"<input name="form[branch]" value=branch maxlength="255" spellcheck="false" /></label>
                <label>"Check every (seconds)"<input name="form[poll_interval_seconds]" type="number" min="10" max="86400" value=interval.to_string() /></label>
                <label>
                    "Credentials"
                    <select name="form[credentials_kind]">
                        <option value="keep" selected>"Keep as they are"</option>
                        <option value="none">"Remove them"</option>
                        <option value="token">"Replace with an access token"</option>
                        <option value="ssh-key">"Replace with an SSH deploy key"</option>
                    </select>
                </label>
                <label>"New token or key"<textarea name="form[credentials]" rows="2" spellcheck="false" autocomplete="off"></textarea></label>
                <label>
                    "Images"
                    <select name="form[build]">
                        <option value="portal" selected=images == crate::apps::BuildMode::Portal>"Built by the portal"</option>
                        <option value="external" selected=images == crate::apps::BuildMode::External>"Pushed by external CI"</option>
                    </select>
                </label>
                <button type="submit" class="button-secondary">"Save settings"</button>
            </ActionForm>
            {move || rotate.value().get().map(|result| match result {
                Ok(secret) => view! {
                    <p class="status status-ok" role="status">"The new webhook secret, shown this once: " <code data-webhook-secret="">{secret}</code></p>
                }.into_any(),
                Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            })}
            <ActionForm action=rotate attr:aria-label="New webhook secret">
                <input type="hidden" name="name" value=rotate_name />
                <button type="submit" class="button-secondary">"New webhook secret"</button>
            </ActionForm>
            {move || outcome(delete.value().get(), "Deleted.")}
            <ActionForm action=delete attr:class="danger-zone" attr:aria-label="Delete the app">
                <input type="hidden" name="name" value=delete_name />
                <label>{confirm_label}<input name="confirm_name" autocomplete="off" spellcheck="false" /></label>
                <button type="submit" class="button-danger">"Delete app"</button>
            </ActionForm>
        </section>
    }
}

fn repository_status(detail: &AppDetail) -> AnyView {
    let polled = detail
        .last_polled_at
        .as_deref()
        .map_or_else(|| "not yet".to_string(), short_time);
    let webhook = detail
        .last_webhook_at
        .as_deref()
        .map_or_else(|| "none yet".to_string(), short_time);
    let failures = detail.failures;
    let failing = detail.last_error.clone().map(|error| {
        format!(
            "The repository could not be read ({failures} time{} in a row, checking less often): {error}",
            if failures == 1 { "" } else { "s" }
        )
    });
    view! {
        <dl class="facts repository-status">
            <dt>"Last checked"</dt><dd>{polled}</dd>
            <dt>"Last push webhook"</dt><dd>{webhook}</dd>
        </dl>
        {failing.map(|message| view! {
            <p class="status status-error" role="alert" data-repository-error="">{message}</p>
        })}
    }
    .into_any()
}

fn release_item(app: &str, release: ReleaseSummary) -> AnyView {
    let href = format!("/apps/{app}/releases/{}", release.sha);
    let sha = release.sha.clone();
    let short = release.short().to_string();
    let subject = release.subject.clone();
    let byline = format!(
        " · {} · {}",
        release.author,
        short_time(&release.committed_at)
    );
    let commits = (release.commits > 1).then(|| format!(" · {} commits", release.commits));
    let verdict = if release.accepted {
        view! { <span class="badge badge-ok">"accepted"</span> }.into_any()
    } else {
        view! { <span class="badge badge-error">{format!("rejected: {} problem{}", release.errors, if release.errors == 1 { "" } else { "s" })}</span> }.into_any()
    };
    view! {
        <li data-release=sha>
            <A href=href><code>{short}</code></A>
            " " {subject} " "
            {verdict}
            <span class="hint">{byline}</span>
            {commits.map(|commits| view! { <span class="hint">{commits}</span> })}
            {release.force_pushed.then(|| view! { <span class="badge badge-warn">"history rewritten"</span> })}
        </li>
    }
    .into_any()
}

/// One row per component and environment: what it gets there.
fn components(file: &DscloudFile, release: &ReleaseSummary) -> AnyView {
    let mut rows: Vec<(String, String, &Common, Vec<String>)> = Vec::new();
    for (name, service) in &file.microservices {
        let deployment = &service.deployment;
        let mut facts = vec![
            format!(
                "{} instance{}",
                deployment.instances,
                if deployment.instances == 1 { "" } else { "s" }
            ),
            format!("{} MB", deployment.memory_mb),
            format!("{}% CPU", deployment.cpu_pct),
        ];
        facts.extend(
            service
                .ingress
                .iter()
                .map(|rule| match &rule.path_prefix_rewrite {
                    Some(rewrite) => format!("route {} → {rewrite}", rule.path_prefix),
                    None => format!("route {}", rule.path_prefix),
                }),
        );
        let probes = [
            ("readiness", &deployment.probes.readiness),
            ("liveness", &deployment.probes.liveness),
        ];
        for (which, probe) in probes {
            if let Some(probe) = probe {
                let protocol = match probe.protocol {
                    crate::dscloud::Protocol::Http => "HTTP",
                    crate::dscloud::Protocol::Tcp => "TCP",
                };
                facts.push(format!(
                    "{which} probe {protocol} :{}{} ({} s)",
                    probe.port,
                    probe.path.as_deref().unwrap_or_default(),
                    probe.timeout_seconds
                ));
            }
        }
        for (environment, tests) in &service.integration_tests {
            let mut variables: Vec<String> = tests.env.keys().cloned().collect();
            variables.extend(tests.secrets.keys().map(|key| format!("{key} (secret)")));
            facts.push(if variables.is_empty() {
                format!("integration tests in {environment}")
            } else {
                format!(
                    "integration tests in {environment} with {}",
                    variables.join(", ")
                )
            });
        }
        rows.push(("microservice".into(), name.clone(), &service.common, facts));
    }
    for (name, job) in &file.jobs {
        rows.push((
            "job".into(),
            name.clone(),
            &job.common,
            vec![
                format!("{} MB", job.memory_mb),
                format!("{}% CPU", job.cpu_pct),
                "once per commit".into(),
            ],
        ));
    }
    for (name, cronjob) in &file.cronjobs {
        rows.push((
            "cronjob".into(),
            name.clone(),
            &cronjob.common,
            vec![
                format!("schedule {}", cronjob.schedule),
                format!("{} MB", cronjob.memory_mb),
                format!("{}% CPU", cronjob.cpu_pct),
            ],
        ));
    }
    let environments = file.environments(ENVIRONMENTS);
    view! {
        <p class="hint">{format!("From release {} ({}).", release.short(), release.subject)}</p>
        <div class="components">
            {rows.into_iter().map(|(kind, name, common, facts)| {
                let per_environment: Vec<(String, BTreeMap<String, String>)> = environments
                    .iter()
                    .filter(|environment| common.deploys_to(environment))
                    .map(|environment| {
                        let variables = common
                            .environment_configuration
                            .get(environment.as_str())
                            .map(|variables| variables.iter().map(|(key, value)| (key.clone(), value.to_string())).collect())
                            .unwrap_or_default();
                        (environment.clone(), variables)
                    })
                    .collect();
                view! {
                    <article class="component" data-component=name.clone()>
                        <h3>{name.clone()} " " <span class="badge badge-muted">{kind}</span></h3>
                        {common.description.clone().map(|description| view! { <p>{description}</p> })}
                        <p class="hint">{facts.join(" · ")}</p>
                        {(!common.secret_values.is_empty()).then(|| view! {
                            <p>"Secret keys it reads: " {common.secret_values.iter().map(|key| view! { <code>{key.clone()}</code>" " }).collect_view()}</p>
                        })}
                        <table class="data-table">
                            <thead><tr><th scope="col">"Environment"</th><th scope="col">"Variables"</th></tr></thead>
                            <tbody>
                                {per_environment.into_iter().map(|(environment, variables)| {
                                    let shown = if variables.is_empty() {
                                        "none".to_string()
                                    } else {
                                        variables.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(", ")
                                    };
                                    let label = environment.clone();
                                    view! {
                                        <tr data-environment=environment>
                                            <td>{label}</td>
                                            <td>{shown}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </article>
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}
