//! Check a `dscloud.yaml`: paste or upload it, see every problem (pointing at
//! its line) or the components per environment, and the Kubernetes objects
//! the deploy engine would apply.
//!
//! The check runs in the browser, with the same code as the server, on every
//! keystroke. Without JavaScript the form posts the text and the server
//! renders the same result; the URL never carries the file.

use crate::dscloud::{
    Checked, DEFAULT_PROMOTION_ORDER, DscloudFile, PostedFile, Problem, Severity, WorkloadKind,
    check,
};
use leptos::prelude::*;
use leptos_meta::Title;

const EXAMPLE: &str = include_str!("../../tests/dscloud/valid/reference.yaml");

/// The Kubernetes objects of one environment, as YAML, for a file as typed.
/// Images and Job names carry a placeholder commit: the deploy engine renders
/// the real one.
#[server(endpoint = "render_manifests")]
pub async fn render_manifests(
    text: String,
    app: String,
    environment: String,
) -> Result<String, ServerFnError> {
    // The guard already decided; every server function decides again itself.
    crate::caller::authorize("render_manifests")?;
    let renderer = use_context::<std::sync::Arc<dyn crate::dscloud::ManifestRenderer>>()
        .ok_or_else(|| crate::caller::missing_service("rendering is"))?;
    let Some(file) = check(&text).file else {
        return Err(crate::caller::refuse(
            "the file has errors; fix them to see its objects".into(),
        ));
    };
    renderer
        .render_preview(&app, &environment, &file)
        .map_err(|message| crate::caller::refuse(message.into()))
}

#[component]
pub fn ValidatePage() -> impl IntoView {
    // What the no-JavaScript form posted, if this page answers it; carried
    // into the hydrated page, so a page that hydrates after all starts there.
    let posted = SharedValue::new(|| use_context::<PostedFile>().unwrap_or_default()).into_inner();
    let initial = posted.text;
    let initial_app = if posted.app.is_empty() {
        "my-app".to_string()
    } else {
        posted.app
    };
    let (text, set_text) = signal(initial.clone());
    let (app, set_app) = signal(initial_app.clone());
    let checked = Memo::new(move |_| check(&text.read()));
    let textarea = NodeRef::<leptos::html::Textarea>::new();
    let result = NodeRef::<leptos::html::Section>::new();

    view! {
        <Title text="Check a dscloud.yaml" />
        <section class="page-head">
            <p class="breadcrumb"><a href="/apps">"Apps"</a>" / Check a dscloud.yaml"</p>
            <h1>"Check a dscloud.yaml"</h1>
            <p class="lede">
                "Paste or upload your repository's " <code>"dscloud.yaml"</code>
                ". Every problem is listed with its line as you type; a valid file shows what each environment gets."
            </p>
        </section>
        <div class="validate-grid">
            // With JavaScript the check is already live: Check only moves to
            // the result, and nothing is sent.
            <form
                method="post"
                action="/apps/validate"
                class="panel editor-panel"
                on:submit=move |event| {
                    event.prevent_default();
                    if let Some(result) = result.get_untracked() {
                        let _ = result.focus();
                    }
                }
            >
                <div class="editor-tools">
                    <label class="file-button">
                        "Upload a file"
                        <input
                            type="file"
                            accept=".yaml,.yml,text/yaml"
                            class="visually-hidden"
                            on:change=move |event| load_file(event, set_text)
                        />
                    </label>
                    <button type="button" class="button-secondary" on:click=move |_| set_text.set(EXAMPLE.to_string())>
                        "Load the example"
                    </button>
                    <button type="button" class="button-secondary" on:click=move |_| set_text.set(String::new())>
                        "Clear"
                    </button>
                </div>
                <label for="dscloud-text" class="visually-hidden">"dscloud.yaml"</label>
                <textarea
                    id="dscloud-text"
                    name="text"
                    class="editor"
                    spellcheck="false"
                    autocomplete="off"
                    wrap="off"
                    placeholder="microservices:\n  my-api:\n    environmentConfiguration:\n      dev: {}"
                    node_ref=textarea
                    prop:value=move || text.get()
                    on:input=move |event| set_text.set(event_target_value(&event))
                >
                    {initial}
                </textarea>
                <div class="editor-footer">
                    <label class="inline-field">
                        "App name"
                        <input
                            name="app"
                            value=initial_app
                            on:input=move |event| set_app.set(event_target_value(&event))
                            pattern="[a-z0-9]([a-z0-9\\-]*[a-z0-9])?"
                            maxlength="63"
                        />
                    </label>
                    <button type="submit" class="button-primary">"Check"</button>
                </div>
                <p class="hint">
                    "Editors can check as you type with the JSON Schema at "
                    <a href="/schema/dscloud.json">"/schema/dscloud.json"</a>
                    ": add " <code>"# yaml-language-server: $schema=/schema/dscloud.json"</code>
                    " with your portal's address."
                </p>
            </form>
            <section node_ref=result tabindex="-1" class="results" aria-live="polite" aria-label="Result">
                {move || {
                    let result = checked.get();
                    view! {
                        <Summary checked=result.clone() />
                        <Problems problems=result.problems.clone() text=text textarea=textarea />
                        {result.file.map(|file| view! { <Environments file=file text=text app=app /> })}
                    }
                }}
            </section>
        </div>
    }
}

#[component]
fn Summary(checked: Checked) -> impl IntoView {
    let errors = checked
        .problems
        .iter()
        .filter(|problem| problem.is_error())
        .count();
    let warnings = checked.problems.len() - errors;
    let (class, headline) = match (&checked.file, errors) {
        (Some(file), _) => (
            "status status-ok",
            format!("Valid: {}", components_phrase(file)),
        ),
        (None, _) => ("status status-error", plural(errors, "error")),
    };
    let warnings = (warnings > 0).then(|| format!(" · {}", plural(warnings, "warning")));
    view! {
        <p class=class role="status">
            <strong>{headline}</strong>
            {warnings}
        </p>
    }
}

fn components_phrase(file: &DscloudFile) -> String {
    let parts: Vec<String> = [
        (file.microservices.len(), "microservice"),
        (file.jobs.len(), "job"),
        (file.cronjobs.len(), "cronjob"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, word)| plural(count, word))
    .collect();
    if parts.is_empty() {
        "no components".to_string()
    } else {
        parts.join(", ")
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

#[component]
fn Problems(
    problems: Vec<Problem>,
    text: ReadSignal<String>,
    textarea: NodeRef<leptos::html::Textarea>,
) -> impl IntoView {
    (!problems.is_empty()).then(|| {
        view! {
            <ol class="problems">
                {problems
                    .into_iter()
                    .map(|problem| {
                        let line = problem.position.line;
                        let column = problem.position.column;
                        let class = match problem.severity {
                            Severity::Error => "problem problem-error",
                            Severity::Warning => "problem problem-warning",
                        };
                        let severity = match problem.severity {
                            Severity::Error => "Error",
                            Severity::Warning => "Warning",
                        };
                        view! {
                            <li class=class>
                                <button
                                    type="button"
                                    class="problem-location"
                                    title="Show this line in the editor"
                                    on:click=move |_| select_line(textarea, &text.get_untracked(), line)
                                >
                                    {format!("Line {line}, column {column}")}
                                </button>
                                <span class="visually-hidden">{severity}</span>
                                {(!problem.path.is_empty()).then(|| view! { <code class="problem-path">{problem.path.clone()}</code> })}
                                <span class="problem-message">{with_code(&problem.message)}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
    })
}

#[component]
fn Environments(
    file: DscloudFile,
    text: ReadSignal<String>,
    app: ReadSignal<String>,
) -> impl IntoView {
    let render = ServerAction::<RenderManifests>::new();
    let (shown, set_shown) = signal(None::<String>);
    let environments = file.environments(DEFAULT_PROMOTION_ORDER);
    if environments.is_empty() {
        return view! { <p class="hint">"No component lists an environment, so nothing would be deployed."</p> }
            .into_any();
    }
    environments
        .into_iter()
        .map(|environment| {
            let rows = component_rows(&file, &environment);
            let for_button = environment.clone();
            let for_result = environment.clone();
            let is_shown = move || shown.get().as_deref() == Some(for_result.as_str());
            view! {
                <section class="panel environment" aria-label=format!("Environment {environment}")>
                    <header class="environment-head">
                        <h2>{environment.clone()}</h2>
                        <button
                            type="button"
                            class="button-secondary"
                            on:click=move |_| {
                                set_shown.set(Some(for_button.clone()));
                                render.dispatch(RenderManifests {
                                    text: text.get_untracked(),
                                    app: app.get_untracked(),
                                    environment: for_button.clone(),
                                });
                            }
                        >
                            "Kubernetes objects"
                        </button>
                    </header>
                    <table class="components">
                        <thead>
                            <tr>
                                <th scope="col">"Component"</th>
                                <th scope="col">"Runs as"</th>
                                <th scope="col">"Resources"</th>
                                <th scope="col">"Details"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .map(|row| {
                                    view! {
                                        <tr>
                                            <th scope="row">{row.name}</th>
                                            <td>{row.runs_as}</td>
                                            <td>{row.resources}</td>
                                            <td>{row.details}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                    <Show when=is_shown>
                        {move || {
                            if render.pending().get() {
                                return view! { <p class="hint">"Rendering…"</p> }.into_any();
                            }
                            match render.value().get() {
                                Some(Ok(yaml)) => view! { <pre class="manifests" tabindex="0"><code>{yaml}</code></pre> }.into_any(),
                                Some(Err(error)) => {
                                    view! { <p class="status status-error" role="alert">{server_message(&error)}</p> }
                                        .into_any()
                                }
                                None => ().into_any(),
                            }
                        }}
                    </Show>
                </section>
            }
        })
        .collect_view()
        .into_any()
}

/// A message with its `quoted` names set as code.
fn with_code(message: &str) -> impl IntoView + use<> {
    message
        .split('`')
        .enumerate()
        .map(|(index, part)| {
            let part = part.to_string();
            if index % 2 == 1 {
                view! { <code>{part}</code> }.into_any()
            } else {
                part.into_any()
            }
        })
        .collect_view()
}

/// The message of a server error without the framework's prefix.
fn server_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

struct Row {
    name: String,
    runs_as: String,
    resources: String,
    details: String,
}

fn resources(memory_mb: u32, cpu_pct: u32) -> String {
    format!("{memory_mb} MiB · {} CPU", cpu(cpu_pct))
}

fn cpu(percent: u32) -> String {
    if percent.is_multiple_of(100) {
        format!("{}", percent / 100)
    } else {
        format!("{:.2}", f64::from(percent) / 100.0)
    }
}

/// One row per component deployed to `environment`, in the file's kinds order.
fn component_rows(file: &DscloudFile, environment: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, microservice) in &file.microservices {
        if !microservice.common.deploys_to(environment) {
            continue;
        }
        let deployment = &microservice.deployment;
        let kind = match deployment.kind {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        };
        let mut details: Vec<String> = microservice
            .ingress
            .iter()
            .map(|rule| match &rule.path_prefix_rewrite {
                Some(rewrite) => format!(
                    "{} → {rewrite} (port {})",
                    rule.path_prefix, rule.container_port
                ),
                None => format!("{} (port {})", rule.path_prefix, rule.container_port),
            })
            .collect();
        if microservice.ingress.is_empty() {
            details.push("private Service".to_string());
        }
        if microservice.integration_tests.contains_key(environment) {
            details.push("integration tests gate promotion".to_string());
        }
        rows.push(Row {
            name: name.clone(),
            runs_as: format!("{kind} × {}", deployment.instances),
            resources: resources(deployment.memory_mb, deployment.cpu_pct),
            details: details.join("; "),
        });
    }
    for (name, job) in &file.jobs {
        if job.common.deploys_to(environment) {
            rows.push(Row {
                name: name.clone(),
                runs_as: "Job, once per commit".to_string(),
                resources: resources(job.memory_mb, job.cpu_pct),
                details: variables_phrase(&job.common, environment),
            });
        }
    }
    for (name, cronjob) in &file.cronjobs {
        if cronjob.common.deploys_to(environment) {
            rows.push(Row {
                name: name.clone(),
                runs_as: format!("CronJob, {}", cronjob.schedule),
                resources: resources(cronjob.memory_mb, cronjob.cpu_pct),
                details: variables_phrase(&cronjob.common, environment),
            });
        }
    }
    rows
}

fn variables_phrase(common: &crate::dscloud::Common, environment: &str) -> String {
    let plain = common
        .environment_configuration
        .get(environment)
        .map_or(0, |variables| variables.len());
    format!(
        "{} · {}",
        plural(plain, "variable"),
        plural(common.secret_values.len(), "secret")
    )
}

/// Reads an uploaded file into the editor.
fn load_file(event: leptos::ev::Event, set_text: WriteSignal<String>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let file = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|input| input.files())
            .and_then(|files| files.get(0));
        if let Some(file) = file {
            leptos::task::spawn_local(async move {
                if let Ok(value) = wasm_bindgen_futures::JsFuture::from(file.text()).await
                    && let Some(text) = value.as_string()
                {
                    set_text.set(text);
                }
            });
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (event, set_text);
}

/// Focuses the editor with `line` selected.
fn select_line(textarea: NodeRef<leptos::html::Textarea>, text: &str, line: usize) {
    let Some(element) = textarea.get_untracked() else {
        return;
    };
    // Selection offsets count UTF-16 code units, as the browser does.
    let start: usize = text
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|line| line.encode_utf16().count() + 1)
        .sum();
    let length = text
        .split('\n')
        .nth(line.saturating_sub(1))
        .map_or(0, |line| line.encode_utf16().count());
    let _ = element.focus();
    let _ = element.set_selection_range(
        u32::try_from(start).unwrap_or(u32::MAX),
        u32::try_from(start + length).unwrap_or(u32::MAX),
    );
}
