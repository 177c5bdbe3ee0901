//! One deployment: why it ran, its status with the reason, the failed step
//! first with its object, exit code and log, then every step with its
//! duration, what changed in dscloud.yaml against what ran there before,
//! and what a maintainer can do. It looks again while it runs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::databases::short_time;
use super::deploys::{duration, row_actions, status_badge, tests_cell};
use super::users::encode;
use crate::accounts::server_message;
use crate::deploys::{DeploymentDetail, Step, StepState, fetch_deployment};

#[component]
pub fn DeploymentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let detail = Resource::new(id, fetch_deployment);
    #[cfg(feature = "hydrate")]
    {
        let handle =
            set_interval_with_handle(move || detail.refetch(), std::time::Duration::from_secs(2));
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text=move || format!("Deployment #{}", id()) />
        <section class="panel">
            <nav class="breadcrumb" aria-label="Breadcrumb"><A href="/deploys">"Deploys"</A> " / " {move || format!("#{}", id())}</nav>
            <Transition fallback=|| view! { <p class="hint">"Loading the deployment…"</p> }>
                {move || detail.get().map(|detail| match detail {
                    Ok(detail) => deployment_view(detail).into_any(),
                    Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn deployment_view(detail: DeploymentDetail) -> impl IntoView {
    let row = detail.row.clone();
    let heading = format!("{} → {}", row.short(), row.environment);
    let reason = row.reason.clone().map(|reason| {
        view! { <p class="status status-error" role="status" data-reason="">{reason}</p> }
    });
    let related = detail.rollback_of.map(|other| {
        let text = if row.rollback {
            "the deployment it rolled back"
        } else {
            "the rollback that undid it"
        };
        view! { <p><A href=format!("/deploys/{other}")>{text}</A></p> }
    });
    let approval = row.approval.clone().map(|approval| {
        let comment = detail
            .approval_comment
            .clone()
            .map(|comment| format!(": “{comment}”"))
            .unwrap_or_default();
        view! { <dt>"Approval"</dt><dd>{format!("{approval}{comment}")}</dd> }
    });
    let actions = detail.may_act.then(|| row_actions(&row));
    let steps: Vec<_> = detail.steps.iter().cloned().map(step_view).collect();
    let changes = (!detail.changes.is_empty()).then(|| {
        let before = detail.previous_sha.clone().unwrap_or_default();
        let lines: Vec<_> = detail
            .changes
            .iter()
            .map(|line| view! { <li>{line.clone()}</li> })
            .collect();
        view! {
            <h2>"What changed"</h2>
            <p class="hint">{format!("dscloud.yaml against {}, which ran in {} before", before.get(..7).unwrap_or(&before), row.environment)}</p>
            <ul class="changes">{lines}</ul>
        }
    });
    let secrets = (!detail.secret_versions.is_empty()).then(|| {
        let versions = detail.secret_versions.join(", ");
        view! { <dt>"Secrets written"</dt><dd data-secret-versions="">{versions}</dd> }
    });
    let tests = tests_cell(&row);
    let app_href = format!("/deploys?app={}", encode(&row.app));
    let release_href = format!("/apps/{}/releases/{}", row.app, row.sha);
    let (app, sha) = (row.app.clone(), row.sha.clone());
    view! {
        <div class="panel-heading">
            <h1>{heading}</h1>
            <p class="lede">{row.subject.clone()} " · " {row.author.clone()}</p>
        </div>
        <p>{status_badge(row.status)} " " {row.current.then(|| view! { <span class="badge badge-ok">"current"</span> })}</p>
        {reason}
        <dl class="facts">
            <dt>"App"</dt><dd><A href=app_href>{app}</A></dd>
            <dt>"Environment"</dt><dd>{row.environment.clone()}</dd>
            <dt>"Commit"</dt><dd><A href=release_href><code class="sha">{sha}</code></A></dd>
            <dt>"Why"</dt><dd>{row.why.clone()}</dd>
            <dt>"Started"</dt><dd>{short_time(&row.created_at)}</dd>
            <dt>"Duration"</dt><dd>{duration(row.duration_ms)}</dd>
            <dt>"Tests"</dt><dd>{tests}</dd>
            {approval}
            {secrets}
        </dl>
        {related}
        {actions}
        <h2>"Steps"</h2>
        {detail.steps.is_empty().then(|| view! { <p class="hint">"No step has started yet."</p> })}
        <ol class="steps" data-steps="">{steps}</ol>
        {changes}
    }
}

fn step_view(step: Step) -> impl IntoView {
    let tone = match step.state {
        StepState::Succeeded => "step-ok",
        StepState::Failed => "step-failed",
        StepState::Running => "step-running",
    };
    let state = match step.state {
        StepState::Succeeded => "succeeded",
        StepState::Failed => "failed",
        StepState::Running => "running",
    };
    let exit = step
        .exit_code
        .map(|code| view! { " · " <span data-exit-code=code.to_string()>{format!("exit code {code}")}</span> });
    let object = step
        .object
        .clone()
        .map(|object| view! { " · " <code>{object}</code> });
    let message = step
        .message
        .clone()
        .map(|message| view! { <p class="step-message">{message}</p> });
    let log = step.log_tail.clone().map(|log| {
        view! { <details open=step.state == StepState::Failed><summary>"Log"</summary><pre class="log" tabindex="0">{log}</pre></details> }
    });
    view! {
        <li class=format!("step {tone}") data-step=step.kind.label() data-name=step.name.clone()>
            <strong>{format!("{} {}", step.kind.label(), step.name)}</strong>
            " · " {state}
            " · " {duration(step.duration_ms)}
            {exit}{object}
            {message}
            {log}
        </li>
    }
}
