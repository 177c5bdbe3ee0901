//! The colour theme: follow the system by default, or a choice the user made,
//! remembered in a cookie so the server renders the right theme on first paint.

use std::fmt;

/// The name of the cookie that remembers an explicit theme choice.
pub const THEME_COOKIE: &str = "theme";

/// Where the theme switch posts when no WASM runs (the sign-in page loads
/// none, and a browser may have JavaScript off): the server sets the cookie
/// and sends the person back to `back`.
pub const THEME_PATH: &str = "/theme";

/// The `Set-Cookie` value that remembers `theme` for a year. Not `HttpOnly`:
/// the switch in the browser writes the same cookie.
pub fn theme_cookie(theme: Theme) -> String {
    format!("{THEME_COOKIE}={theme}; Path=/; Max-Age=31536000; SameSite=Lax")
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// Follow `prefers-color-scheme`.
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    /// The next theme in the toggle's cycle: system → light → dark → system.
    pub fn next(self) -> Self {
        match self {
            Theme::System => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::System,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// A choice as the switch's form sends it; `None` for anything else.
    pub fn from_choice(value: &str) -> Option<Self> {
        [Theme::System, Theme::Light, Theme::Dark]
            .into_iter()
            .find(|theme| theme.as_str() == value)
    }

    /// A remembered choice; anything unknown follows the system.
    pub fn parse(value: &str) -> Self {
        Self::from_choice(value).unwrap_or_default()
    }

    /// Reads the theme from a `Cookie` request header.
    pub fn from_cookie_header(header: &str) -> Self {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == THEME_COOKIE)
            .map(|(_, value)| Theme::parse(value.trim()))
            .unwrap_or_default()
    }

    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "Theme: system",
            Theme::Light => "Theme: light",
            Theme::Dark => "Theme: dark",
        }
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The theme the page was rendered with: on the server, from the request's
/// cookie; in the browser, from the `<html data-theme>` the server rendered, so
/// hydration sees exactly what the server produced.
pub fn current_theme() -> Theme {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| {
                parts
                    .headers
                    .get(http::header::COOKIE)
                    .and_then(|value| value.to_str().ok())
                    .map(Theme::from_cookie_header)
            })
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        leptos::prelude::document()
            .document_element()
            .and_then(|root| root.get_attribute("data-theme"))
            .map(|value| Theme::parse(&value))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Theme::default()
    }
}

/// Applies a theme to the live document and remembers it for a year.
#[cfg(feature = "hydrate")]
pub fn apply_theme(theme: Theme) {
    use wasm_bindgen::JsCast;
    let document = leptos::prelude::document();
    if let Some(root) = document.document_element() {
        // Failing to set an attribute only leaves the old theme in place.
        let _ = root.set_attribute("data-theme", theme.as_str());
    }
    if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.set_cookie(&theme_cookie(theme));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_theme_cookie_among_others() {
        assert_eq!(
            Theme::from_cookie_header("a=b; theme=dark; c=d"),
            Theme::Dark
        );
        assert_eq!(Theme::from_cookie_header("theme=light"), Theme::Light);
    }

    #[test]
    fn unknown_or_missing_values_follow_the_system() {
        assert_eq!(Theme::from_cookie_header(""), Theme::System);
        assert_eq!(Theme::from_cookie_header("theme=purple"), Theme::System);
        assert_eq!(Theme::from_cookie_header("xtheme=dark"), Theme::System);
    }

    #[test]
    fn a_choice_is_one_of_the_three_names_exactly() {
        for theme in [Theme::System, Theme::Light, Theme::Dark] {
            assert_eq!(Theme::from_choice(theme.as_str()), Some(theme));
        }
        assert_eq!(Theme::from_choice("purple"), None);
        assert_eq!(Theme::from_choice("Dark"), None);
        assert_eq!(Theme::from_choice(""), None);
    }

    #[test]
    fn the_toggle_cycles_through_all_three() {
        let start = Theme::System;
        assert_eq!(start.next(), Theme::Light);
        assert_eq!(start.next().next(), Theme::Dark);
        assert_eq!(start.next().next().next(), Theme::System);
    }
}
