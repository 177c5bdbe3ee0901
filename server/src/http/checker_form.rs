//! `POST /apps/validate`: the `dscloud.yaml` checker's form without
//! JavaScript. The file comes in the body (a file in the URL meets the 414
//! of servers and browsers past ~64 KB); the page is rendered with it, the
//! same page a `GET` shows, so the URL stays `/apps/validate`.

use app::dscloud::PostedFile;
use axum::extract::Form;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use leptos::prelude::{LeptosOptions, provide_context};

pub const PATH: &str = "/apps/validate";

pub async fn check(
    context: impl Fn() + Clone + Send + Sync + 'static,
    options: LeptosOptions,
    parts: Parts,
    Form(posted): Form<PostedFile>,
) -> Response {
    let render = leptos_axum::render_app_to_stream_with_context(
        move || {
            context();
            provide_context(posted.clone());
        },
        move || app::shell(options.clone()),
    );
    render(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::empty(),
    ))
    .await
    .into_response()
}
