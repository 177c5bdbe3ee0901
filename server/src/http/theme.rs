//! `POST /theme`: the theme switch's form, for pages that run no WASM (the
//! sign-in page loads none) and browsers with JavaScript off. Sets the same
//! cookie the switch writes in the browser and sends the person back to the
//! page they were on, now rendered in the new theme.

use app::theme::{Theme, theme_cookie};
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::sign_in::safe_next;
use crate::web::with_cookie;

#[derive(Deserialize)]
pub struct ThemeForm {
    theme: String,
    #[serde(default)]
    back: String,
}

pub async fn switch(form: Result<Form<ThemeForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return (
            StatusCode::BAD_REQUEST,
            "The theme form was incomplete: it needs a theme (system, light or dark).",
        )
            .into_response();
    };
    let Some(theme) = Theme::from_choice(&form.theme) else {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "There is no theme called {:?}: choose system, light or dark.",
                form.theme
            ),
        )
            .into_response();
    };
    // 303: the browser follows with a GET of the page, not a second post.
    with_cookie(
        Redirect::to(safe_next(&form.back)).into_response(),
        &theme_cookie(theme),
    )
}
