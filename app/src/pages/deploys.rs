//! The deploy history: every attempt to put a release into an environment,
//! across every app or one, filtered and paged on the server, never capped.
//! Failures, rollbacks, supersessions and approvals are rows like the
//! others; running rows update by themselves. Filtered to one app, it shows
//! that app's environments (what runs, holds, approvals) and lets its
//! maintainers act from the rows.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

use super::databases::short_time;
use super::deploy_panels::DoraPanel;
use super::users::encode;
use crate::accounts::server_message;
use crate::deploys::{
    DecideDeployment, DeployByHand, DeploymentList, DeploymentRow, DeploymentStatus,
    EnvironmentView, HistoryFilter, LiftEnvironmentHold, SetApprovalRules, Trigger,
    list_deployments,
};

#[component]
pub fn DeploysPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let query = query.read();
        let get = |key: &str| query.get(key).unwrap_or_default();
        HistoryFilter {
            app: get("app"),
            environment: get("environment"),
            status: get("status"),
            trigger: get("trigger"),
            who: get("who"),
            from: get("from"),
            until: get("until"),
            page: get("page").parse().unwrap_or(1),
        }
    };
    let history = Resource::new(filter, list_deployments);
    #[cfg(feature = "hydrate")]
    {
        // Running rows move on by themselves while the page is open.
        let handle =
            set_interval_with_handle(move || history.refetch(), std::time::Duration::from_secs(3));
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text="Deploys" />
        <section class="panel">
            <div class="panel-heading">
                <h1>"Deploys"</h1>
                <p class="lede">"Every attempt to put a release into an environment: builds, rollouts, Jobs, integration tests, promotions, approvals and rollbacks."</p>
            </div>
            <Transition fallback=|| view! { <p class="hint">"Loading the history…"</p> }>
                {move || history.get().map(|history| match history {
                    Ok(list) => history_view(list, filter()).into_any(),
                    Err(error) => view! {
                        {filters(&filter(), &[])}
                        <p class="status status-error" role="alert">{server_message(&error)}</p>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn filters(filter: &HistoryFilter, environments: &[String]) -> impl IntoView + use<> {
    let option = |value: &str, label: &str, selected: &str| {
        view! { <option value=value.to_string() selected=value == selected>{label.to_string()}</option> }
    };
    let environment_options: Vec<_> = environments
        .iter()
        .map(|environment| option(environment, environment, &filter.environment))
        .collect();
    let status_options: Vec<_> = DeploymentStatus::ALL
        .iter()
        .map(|status| option(status.as_str(), status.label(), &filter.status))
        .collect();
    let trigger_options: Vec<_> = Trigger::ALL
        .iter()
        .map(|trigger| option(trigger.as_str(), trigger.as_str(), &filter.trigger))
        .collect();
    let any_environment = option("", "any", &filter.environment);
    let any_status = option("", "any", &filter.status);
    let any_trigger = option("", "any", &filter.trigger);
    let (app, who, from, until) = (
        filter.app.clone(),
        filter.who.clone(),
        filter.from.clone(),
        filter.until.clone(),
    );
    view! {
        <Form method="GET" action="" attr:class="filter-form" attr:aria-label="Filter the history">
            <label>"App"<input name="app" maxlength="63" value=app spellcheck="false" /></label>
            <label>"Environment"<select name="environment">{any_environment}{environment_options}</select></label>
            <label>"Status"<select name="status">{any_status}{status_options}</select></label>
            <label>"Why"<select name="trigger">{any_trigger}{trigger_options}</select></label>
            <label>"Commit or author"<input name="who" maxlength="200" value=who spellcheck="false" /></label>
            <label>"From"<input type="date" name="from" value=from /></label>
            <label>"Until"<input type="date" name="until" value=until /></label>
            <button type="submit" class="button-secondary">"Filter"</button>
        </Form>
    }
}

fn history_view(list: DeploymentList, filter: HistoryFilter) -> impl IntoView {
    let pages = list.pages();
    let page = list.page;
    let link = {
        let filter = filter.clone();
        move |page: u32| {
            format!(
                "?app={}&environment={}&status={}&trigger={}&who={}&from={}&until={}&page={page}",
                encode(&filter.app),
                encode(&filter.environment),
                encode(&filter.status),
                encode(&filter.trigger),
                encode(&filter.who),
                encode(&filter.from),
                encode(&filter.until),
            )
        }
    };
    let summary = format!(
        "{} deployment{} · page {page} of {pages}",
        list.total,
        if list.total == 1 { "" } else { "s" }
    );
    let may_act = list.may_act;
    let app = filter.app.clone();
    let environments = (!list.app_environments.is_empty()).then(|| {
        let cards: Vec<_> = list
            .app_environments
            .iter()
            .cloned()
            .map(|environment| environment_card(&app, environment, may_act))
            .collect();
        view! {
            <h2>"Environments of " {app.clone()}</h2>
            <div class="environment-cards" data-environments="">{cards}</div>
            <DoraPanel app=app.clone() />
        }
    });
    let rows: Vec<_> = list
        .items
        .into_iter()
        .map(|row| history_row(row, may_act))
        .collect();
    let empty = rows.is_empty();
    view! {
        {filters(&filter, &list.environments)}
        {environments}
        <p class="hint">{summary}</p>
        {empty.then(|| view! { <p class="empty-state">"No deployment matches. A new commit of a registered app starts one."</p> })}
        <div class="table-scroll">
            <table class="data-table deploys-table">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"App"</th>
                        <th scope="col">"Environment"</th>
                        <th scope="col">"Release"</th>
                        <th scope="col">"Why"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Duration"</th>
                        <th scope="col">"Tests"</th>
                        <th scope="col">"Approval"</th>
                        {may_act.then(|| view! { <th scope="col">"Actions"</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="pagination" aria-label="Pages of the history">
            {(page > 1).then(|| view! { <A href=link(page - 1)>"← Newer"</A> })}
            {(page < pages).then(|| view! { <A href=link(page + 1)>"Older →"</A> })}
        </nav>
    }
}

/// The badge of a status.
pub fn status_badge(status: DeploymentStatus) -> impl IntoView {
    let tone = match status {
        DeploymentStatus::Succeeded => "badge-ok",
        DeploymentStatus::Failed | DeploymentStatus::Errored | DeploymentStatus::Rejected => {
            "badge-error"
        }
        DeploymentStatus::Superseded => "badge-muted",
        _ => "badge-warn",
    };
    view! { <span class=format!("badge {tone}") data-status=status.as_str()>{status.label()}</span> }
}

/// How long it took, as people read it.
pub fn duration(milliseconds: Option<i64>) -> String {
    match milliseconds {
        None => String::new(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) if ms < 120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Passed and failed tests, each failure with its exit code.
pub fn tests_cell(row: &DeploymentRow) -> impl IntoView + use<> {
    if row.test_results.is_empty() {
        return view! { <span class="hint">"—"</span> }.into_any();
    }
    let results: Vec<_> = row
        .test_results
        .iter()
        .map(|(name, code)| {
            let passed = *code == Some(0);
            let text = match code {
                Some(0) => format!("{name} passed"),
                Some(code) => format!("{name} failed (exit code {code})"),
                None => format!("{name} failed"),
            };
            view! { <li class=if passed { "test-passed" } else { "test-failed" }>{text}</li> }
        })
        .collect();
    view! { <ul class="test-results">{results}</ul> }.into_any()
}

fn history_row(row: DeploymentRow, may_act: bool) -> impl IntoView {
    let href = format!("/deploys/{}", row.id);
    let app_href = format!("/deploys?app={}", encode(&row.app));
    let reason = row.reason.clone();
    let rollback_marker = row
        .rollback
        .then(|| view! { <span class="badge badge-warn">"rollback"</span> " " });
    let rolled_back = row
        .rolled_back_by
        .map(|by| view! { <br /><A href=format!("/deploys/{by}")>"rolled back"</A> });
    let current = row.current.then(
        || view! { " " <span class="badge badge-ok" title="what runs there now">"current"</span> },
    );
    let actions = may_act.then(|| row_actions(&row));
    let tests = tests_cell(&row);
    let when = short_time(&row.created_at);
    let short = row.short().to_string();
    let app = row.app.clone();
    view! {
        <tr data-deployment=row.id.to_string() data-environment=row.environment.clone() data-sha=row.sha.clone()>
            <td class="nowrap"><A href=href.clone()>{when}</A></td>
            <td><A href=app_href>{app}</A></td>
            <td>{row.environment.clone()}</td>
            <td>
                <A href=href><code class="sha">{short}</code></A>
                " " {row.subject.clone()}
                <br /><span class="hint">{row.author.clone()}</span>
            </td>
            <td>{rollback_marker}{row.why.clone()}</td>
            <td>
                {status_badge(row.status)}{current}{rolled_back}
                {reason.map(|reason| view! { <br /><span class="status-reason">{reason}</span> })}
            </td>
            <td class="nowrap">{duration(row.duration_ms)}</td>
            <td>{tests}</td>
            <td>{row.approval.clone().unwrap_or_default()}</td>
            {actions.map(|actions| view! { <td>{actions}</td> })}
        </tr>
    }
}

/// What a maintainer does from a row: decide an approval, roll back to a
/// release that succeeded there, or redeploy what runs.
pub fn row_actions(row: &DeploymentRow) -> impl IntoView + use<> {
    let id = row.id.to_string();
    match row.status {
        DeploymentStatus::AwaitingApproval => view! { <ApprovalForm id=id /> }.into_any(),
        DeploymentStatus::Succeeded if row.current => {
            view! { <HandForm id=id action="Redeploy" label="Redeploy" /> }.into_any()
        }
        DeploymentStatus::Succeeded => {
            view! { <HandForm id=id action="Rollback" label="Roll back to this" /> }.into_any()
        }
        _ => ().into_any(),
    }
}

#[component]
pub fn ApprovalForm(id: String) -> impl IntoView {
    let decide = ServerAction::<DecideDeployment>::new();
    let (approve_id, reject_id) = (id.clone(), id);
    view! {
        {move || decide.value().get().map(|result| match result {
            Ok(()) => view! { <p class="status status-ok" role="status">"Recorded."</p> }.into_any(),
            Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
        })}
        <ActionForm action=decide attr:class="inline-form" attr:aria-label="Approve">
            <input type="hidden" name="id" value=approve_id />
            <input type="hidden" name="approve" value="true" />
            <input name="comment" maxlength="500" placeholder="Comment" aria-label="Comment" />
            <button type="submit" class="button-primary">"Approve"</button>
        </ActionForm>
        <ActionForm action=decide attr:class="inline-form" attr:aria-label="Reject">
            <input type="hidden" name="id" value=reject_id />
            <input type="hidden" name="approve" value="false" />
            <input type="hidden" name="comment" value="" />
            <button type="submit" class="button-secondary">"Reject"</button>
        </ActionForm>
    }
}

#[component]
pub fn HandForm(id: String, action: &'static str, label: &'static str) -> impl IntoView {
    let deploy = ServerAction::<DeployByHand>::new();
    let rollback = action == "Rollback";
    view! {
        {move || deploy.value().get().map(|result| match result {
            Ok(id) => view! { <p class="status status-ok" role="status">"Started: " <A href=format!("/deploys/{id}")>{format!("#{id}")}</A></p> }.into_any(),
            Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
        })}
        <ActionForm action=deploy attr:class="inline-form" attr:aria-label=label>
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="action" value=action />
            {if rollback {
                view! { <input name="reason" maxlength="500" placeholder="Why (holds the environment)" aria-label="Why" /> }.into_any()
            } else {
                view! { <input type="hidden" name="reason" value="" /> }.into_any()
            }}
            <button type="submit" class="button-secondary">{label}</button>
        </ActionForm>
    }
}

fn environment_card(
    app: &str,
    environment: EnvironmentView,
    may_act: bool,
) -> impl IntoView + use<> {
    let current = match &environment.current {
        Some((sha, subject, since)) => view! {
            <p>"Runs " <code class="sha">{sha.clone()}</code> " " {subject.clone()} <br /><span class="hint">{format!("since {}", short_time(since))}</span></p>
        }.into_any(),
        None => view! { <p class="hint">"Nothing deployed yet."</p> }.into_any(),
    };
    let active = environment.active.map(|(id, status)| {
        view! { <p><A href=format!("/deploys/{id}")>{format!("#{id}")}</A> " " {status_badge(status)}</p> }
    });
    let tests = environment.last_tests.map(|(passed, failed)| {
        view! { <p class="hint">{format!("last tests: {passed} passed, {failed} failed")}</p> }
    });
    let hold = environment.hold.clone().map(|hold| {
        let lift = may_act.then(|| {
            view! { <LiftHoldForm app=app.to_string() environment=environment.environment.clone() /> }
        });
        view! { <p class="status status-warn" data-hold="">{hold}</p>{lift} }
    });
    let rules = may_act.then(|| {
        view! {
            <ApprovalRulesForm
                app=app.to_string()
                environment=environment.environment.clone()
                requires=environment.requires_approval
                forbid_self=environment.forbid_self_approval
            />
        }
    });
    let approval = (environment.requires_approval && !may_act)
        .then(|| view! { <p class="hint">"Needs a maintainer's approval."</p> });
    view! {
        <article class="environment-card" data-environment=environment.environment.clone()>
            <h3>{environment.environment.clone()}</h3>
            {current}{active}{tests}{hold}{approval}{rules}
        </article>
    }
}

#[component]
fn LiftHoldForm(app: String, environment: String) -> impl IntoView {
    let lift = ServerAction::<LiftEnvironmentHold>::new();
    view! {
        {move || lift.value().get().map(|result| match result {
            Ok(()) => view! { <p class="status status-ok" role="status">"Lifted: automatic promotion resumes."</p> }.into_any(),
            Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
        })}
        <ActionForm action=lift attr:class="inline-form" attr:aria-label="Lift the hold">
            <input type="hidden" name="app" value=app />
            <input type="hidden" name="environment" value=environment />
            <button type="submit" class="button-secondary">"Lift the hold"</button>
        </ActionForm>
    }
}

#[component]
fn ApprovalRulesForm(
    app: String,
    environment: String,
    requires: bool,
    forbid_self: bool,
) -> impl IntoView {
    let save = ServerAction::<SetApprovalRules>::new();
    view! {
        {move || save.value().get().map(|result| match result {
            Ok(()) => view! { <p class="status status-ok" role="status">"Saved."</p> }.into_any(),
            Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
        })}
        <ActionForm action=save attr:class="stacked-form" attr:aria-label="Approval rules">
            <input type="hidden" name="app" value=app />
            <input type="hidden" name="environment" value=environment />
            <label>
                "Approval"
                <select name="requires_approval">
                    <option value="false" selected=!requires>"not needed"</option>
                    <option value="true" selected=requires>"a maintainer approves each release"</option>
                </select>
            </label>
            <label>
                "Own commits"
                <select name="forbid_self_approval">
                    <option value="false" selected=!forbid_self>"may be approved by their author"</option>
                    <option value="true" selected=forbid_self>"need another maintainer"</option>
                </select>
            </label>
            <button type="submit" class="button-secondary">"Save rules"</button>
        </ActionForm>
    }
}
