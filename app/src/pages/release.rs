//! A release's page: the commit, the commits it brings, and its
//! `dscloud.yaml` with every problem the checks found marked at its line.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::databases::short_time;
use super::deploy_panels::PromotionPanel;
use super::validate::render_manifests;
use crate::accounts::server_message;
use crate::apps::{ReleaseDetail, fetch_release};

#[component]
pub fn ReleasePage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let sha = move || params.read().get("sha").unwrap_or_default();
    let detail = Resource::new(
        move || (name(), sha()),
        |(name, sha)| fetch_release(name, sha),
    );
    view! {
        <Title text=move || format!("{} release", name()) />
        <section class="panel">
            <nav class="breadcrumb" aria-label="Breadcrumb">
                <A href="/apps">"Apps"</A> " / " <A href=move || format!("/apps/{}", name())>{name}</A> " / release"
            </nav>
            <Transition fallback=|| view! { <p class="hint">"Loading the release…"</p> }>
                {move || detail.get().map(|detail| match detail {
                    Ok(detail) => release_view(detail).into_any(),
                    Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn release_view(detail: ReleaseDetail) -> impl IntoView {
    let release = detail.summary.clone();
    let verdict = if release.accepted {
        view! { <p class="status status-ok" data-verdict="accepted">"Accepted: its dscloud.yaml passes every check."</p> }.into_any()
    } else {
        view! { <p class="status status-error" data-verdict="rejected">"Rejected: it will never be deployed. Fix the problems below and push again."</p> }.into_any()
    };
    let lines: Vec<String> = detail
        .dscloud_yaml
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let problems = detail.problems.clone();
    let promotion = release.accepted.then(|| {
        view! { <PromotionPanel app=detail.app.clone() sha=release.sha.clone() /> }
    });
    view! {
        <div class="panel-heading">
            <h1><code>{release.short().to_string()}</code> " " {release.subject.clone()}</h1>
            <p class="lede">{format!("{} <{}> · {}", release.author, detail.author_email, short_time(&release.committed_at))}</p>
        </div>
        {verdict}
        {release.force_pushed.then(|| view! {
            <p class="status status-warn">{format!(
                "History was rewritten: the previous head {} is not in this commit's history.",
                detail.previous_sha.clone().unwrap_or_default().get(..7).unwrap_or_default()
            )}</p>
        })}
        {promotion}
        <h2>"What changed"</h2>
        {if detail.changes.is_empty() {
            view! { <p class="hint">{if detail.previous_sha.is_some() { "Nothing in dscloud.yaml." } else { "The first release." }}</p> }.into_any()
        } else {
            view! { <ul class="changes" data-changes="">{detail.changes.iter().map(|line| view! { <li>{line.clone()}</li> }).collect_view()}</ul> }.into_any()
        }}
        {(release.accepted && !detail.environments.is_empty()).then(|| view! {
            <KubernetesObjects app=detail.app.clone() environments=detail.environments.clone() text=detail.dscloud_yaml.clone().unwrap_or_default() />
        })}
        <h2>"Commits"</h2>
        <ol class="commits">
            {detail.commits.into_iter().map(|(sha, subject, author)| view! {
                <li><code>{sha.get(..7).unwrap_or_default().to_string()}</code> " " {subject} <span class="hint">{format!(" · {author}")}</span></li>
            }).collect_view()}
        </ol>
        {detail.commits_truncated.then(|| view! { <p class="hint">"…and older ones."</p> })}
        <h2>"Problems"</h2>
        {if problems.is_empty() {
            view! { <p class="hint">"None."</p> }.into_any()
        } else {
            view! {
                <ul class="problems" data-problems="">
                    {problems.iter().map(|(line, column, path, message, error)| view! {
                        <li class=if *error { "problem problem-error" } else { "problem problem-warning" }>
                            {if *line > 0 { format!("line {line}, column {column}: ") } else { String::new() }}
                            {(!path.is_empty()).then(|| view! { <code>{path.clone()}</code>" " })}
                            {message.clone()}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <h2>"dscloud.yaml"</h2>
        <pre class="source" aria-label="dscloud.yaml" tabindex="0">
            {lines.into_iter().enumerate().map(|(index, text)| {
                let number = index as u64 + 1;
                let marked = problems.iter().any(|(line, _, _, _, error)| *line == number && *error);
                view! {
                    <span class=if marked { "source-line marked" } else { "source-line" } data-line=number.to_string()>
                        <span class="line-number">{number.to_string()}</span>
                        {text}
                        "\n"
                    </span>
                }
            }).collect_view()}
        </pre>
    }
}

/// The Kubernetes objects one environment would get from this release.
#[component]
fn KubernetesObjects(app: String, environments: Vec<String>, text: String) -> impl IntoView {
    let chosen = RwSignal::new(environments.first().cloned().unwrap_or_default());
    let objects = Resource::new(
        move || chosen.get(),
        move |environment| render_manifests(text.clone(), app.clone(), environment),
    );
    view! {
        <h2>"Kubernetes objects"</h2>
        <div class="segmented" role="group" aria-label="Environment">
            {environments.into_iter().map(|environment| {
                let label = environment.clone();
                let value = environment.clone();
                view! {
                    <button type="button" class="button-secondary"
                        aria-pressed=move || (chosen.get() == environment).to_string()
                        on:click=move |_| chosen.set(value.clone())>{label}</button>
                }
            }).collect_view()}
        </div>
        <Transition fallback=|| view! { <p class="hint">"Rendering…"</p> }>
            {move || objects.get().map(|objects| match objects {
                Ok(yaml) => view! { <pre class="source" data-objects="" tabindex="0">{yaml}</pre> }.into_any(),
                Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            })}
        </Transition>
    }
}
