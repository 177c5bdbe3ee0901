//! Deploy panels other pages embed: an app's DORA measures (with a small
//! chart per environment), its live workloads per environment, and a
//! release's promotion through the environments side by side.

use leptos::prelude::*;
use leptos_router::components::A;

use super::deploys::{duration, status_badge, tests_cell};
use crate::accounts::server_message;
use crate::deploys::{
    DoraMeasures, EnvironmentWorkloads, HistoryFilter, app_workloads, deploy_measures,
    list_deployments,
};

/// An app's DORA measures over the last 30 days.
#[component]
pub fn DoraPanel(app: String) -> impl IntoView {
    let measures = Resource::new(move || app.clone(), |app| deploy_measures(app, 30));
    view! {
        <Transition fallback=|| ()>
            {move || measures.get().map(|measures| match measures {
                Ok(measures) => {
                    let cards: Vec<_> = measures.environments.into_iter().map(|(environment, measures)| dora_card(environment, measures)).collect();
                    view! {
                        <h2>{format!("DORA measures, last {} days", measures.window_days)}</h2>
                        <div class="environment-cards" data-dora="">{cards}</div>
                    }.into_any()
                }
                Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            })}
        </Transition>
    }
}

fn human(seconds: Option<i64>) -> String {
    match seconds {
        None => "—".to_string(),
        Some(seconds) => duration(Some(seconds.saturating_mul(1000))),
    }
}

fn dora_card(environment: String, measures: DoraMeasures) -> impl IntoView {
    let failure_rate = measures
        .change_failure_rate
        .map_or_else(|| "—".to_string(), |rate| format!("{:.0} %", rate * 100.0));
    let peak = measures
        .days
        .iter()
        .map(|(_, succeeded, failed)| succeeded + failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = measures.days.len() * 6;
    let bars: Vec<_> = measures
        .days
        .iter()
        .enumerate()
        .map(|(index, (day, succeeded, failed))| {
            let x = index * 6;
            let ok = f64::from(*succeeded) / f64::from(peak) * 36.0;
            let bad = f64::from(*failed) / f64::from(peak) * 36.0;
            view! {
                <g>
                    <title>{format!("{day}: {succeeded} succeeded, {failed} failed")}</title>
                    <rect x=x.to_string() y=format!("{:.1}", 40.0 - ok) width="5" height=format!("{ok:.1}") class="bar-ok" />
                    <rect x=x.to_string() y=format!("{:.1}", 40.0 - ok - bad) width="5" height=format!("{bad:.1}") class="bar-failed" />
                </g>
            }
        })
        .collect();
    let heading = environment.clone();
    view! {
        <article class="environment-card" data-environment=environment>
            <h3>{heading}</h3>
            <dl class="facts">
                <dt>"Deployments"</dt><dd>{format!("{} ({:.2} a day)", measures.deployments, measures.per_day)}</dd>
                <dt>"Lead time"</dt><dd>{human(measures.lead_time_seconds)}</dd>
                <dt>"Change failure rate"</dt><dd>{failure_rate}</dd>
                <dt>"Time to restore"</dt><dd>{human(measures.time_to_restore_seconds)}</dd>
            </dl>
            <svg class="dora-chart" viewBox=format!("0 0 {width} 40") role="img" aria-label="Deployments a day: succeeded and failed">{bars}</svg>
        </article>
    }
}

/// An app's workloads in each environment, read live (every 5 s).
#[component]
pub fn WorkloadsPanel(app: String) -> impl IntoView {
    let workloads = Resource::new(move || app.clone(), app_workloads);
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || workloads.refetch(),
            std::time::Duration::from_secs(5),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <h2>"Live workloads"</h2>
        <Transition fallback=|| view! { <p class="hint">"Reading the clusters…"</p> }>
            {move || workloads.get().map(|workloads| match workloads {
                Ok(environments) => {
                    let cards: Vec<_> = environments.into_iter().map(workloads_card).collect();
                    view! { <div class="environment-cards" data-workloads="">{cards}</div> }.into_any()
                }
                Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            })}
        </Transition>
    }
}

fn workloads_card(environment: EnvironmentWorkloads) -> impl IntoView {
    let body = match (&environment.error, environment.workloads.is_empty()) {
        (Some(error), _) => view! { <p class="status status-error">{error.clone()}</p> }.into_any(),
        (None, true) => view! { <p class="hint">"Nothing runs here."</p> }.into_any(),
        (None, false) => {
            let workloads: Vec<_> = environment
                .workloads
                .into_iter()
                .map(|workload| {
                    let pods: Vec<_> = workload
                        .pods
                        .into_iter()
                        .map(|pod| {
                            let log = (!pod.log_tail.is_empty()).then(|| {
                                view! { <details><summary>"Log"</summary><pre class="log" tabindex="0">{pod.log_tail.clone()}</pre></details> }
                            });
                            view! {
                                <li data-pod=pod.name.clone()>
                                    <code>{pod.name.clone()}</code>
                                    {format!(" · {} · {} · {} restart{}", pod.phase, pod.state, pod.restarts, if pod.restarts == 1 { "" } else { "s" })}
                                    {pod.ready.then_some(" · ready")}
                                    {log}
                                </li>
                            }
                        })
                        .collect();
                    view! {
                        <div class="workload" data-workload=workload.object.clone()>
                            <strong>{workload.object.clone()}</strong>
                            <p class="hint">{format!("{} desired · {} ready · {} available", workload.desired, workload.ready, workload.available)}</p>
                            <p class="wrap-anywhere"><code>{workload.image.clone()}</code></p>
                            <ul class="pods">{pods}</ul>
                        </div>
                    }
                })
                .collect();
            view! { {workloads} }.into_any()
        }
    };
    view! {
        <article class="environment-card" data-environment=environment.environment.clone()>
            <h3>{environment.environment.clone()}</h3>
            {body}
        </article>
    }
}

/// A release through the environments, side by side: each deployment of
/// it with its status, steps and tests.
#[component]
pub fn PromotionPanel(app: String, sha: String) -> impl IntoView {
    let deployments = Resource::new(
        move || (app.clone(), sha.clone()),
        |(app, sha)| {
            list_deployments(HistoryFilter {
                app,
                who: sha,
                ..HistoryFilter::default()
            })
        },
    );
    view! {
        <h2>"Promotion"</h2>
        <Transition fallback=|| ()>
            {move || deployments.get().map(|list| match list {
                Ok(list) => {
                    let columns: Vec<_> = list.environments.iter().map(|environment| {
                        let rows: Vec<_> = list.items.iter().filter(|row| &row.environment == environment).cloned().collect();
                        let entries: Vec<_> = rows.into_iter().rev().map(|row| {
                            let tests = tests_cell(&row);
                            view! {
                                <li>
                                    <A href=format!("/deploys/{}", row.id)>{format!("#{}", row.id)}</A>
                                    " " {status_badge(row.status)} " " {row.why.clone()}
                                    {row.reason.clone().map(|reason| view! { <br /><span class="status-reason">{reason}</span> })}
                                    {tests}
                                </li>
                            }
                        }).collect();
                        let empty = entries.is_empty();
                        view! {
                            <article class="environment-card" data-environment=environment.clone()>
                                <h3>{environment.clone()}</h3>
                                {empty.then(|| view! { <p class="hint">"Not deployed here."</p> })}
                                <ul class="promotion">{entries}</ul>
                            </article>
                        }
                    }).collect();
                    view! { <div class="environment-cards" data-promotion="">{columns}</div> }.into_any()
                }
                Err(error) => view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }.into_any(),
            })}
        </Transition>
    }
}
