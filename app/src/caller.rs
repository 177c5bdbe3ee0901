//! Who calls a server function, and how a service's refusal reaches them:
//! the types every server function and every service trait share. Server
//! functions check the caller with [`authorize`] (against `crate::access`),
//! call a service, and turn its refusal into an answer with [`refuse`].

use leptos::prelude::*;

/// Who is calling a server function, as the server identified them.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// `None` when nobody is signed in.
    pub username: Option<String>,
    pub role: Option<crate::roles::Role>,
    /// The SHA-256 of the caller's session token (to keep this session when
    /// the others end).
    pub session_hash: Option<String>,
    pub address: Option<String>,
    /// The signed-in user's id (a UUID), for ownership checks.
    pub user_id: Option<String>,
}

impl Caller {
    /// The caller of the current request (the server provides it as context).
    pub fn current() -> Caller {
        leptos::prelude::use_context::<Caller>().unwrap_or_default()
    }
}

/// Why a service refused: the caller's request (400), their role (403),
/// something they may not see (404), the current state of what they asked
/// to change (409), or the server (503).
/// The message is for people: it says what went wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceError {
    Invalid(String),
    /// The caller's role does not allow it (403).
    Forbidden(String),
    /// Nothing by that name the caller may see (404): another customer's
    /// database looks exactly like one that does not exist.
    NotFound(String),
    /// The request is fine but what it targets refuses it as it stands: a
    /// name in use, deletion protection on, a database already parked (409).
    Conflict(String),
    /// Too many failed attempts: the caller must wait (429).
    TooManyAttempts(String),
    Unavailable(String),
}

impl ServiceError {
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::Invalid(_) => 400,
            ServiceError::Forbidden(_) => 403,
            ServiceError::NotFound(_) => 404,
            ServiceError::Conflict(_) => 409,
            ServiceError::TooManyAttempts(_) => 429,
            ServiceError::Unavailable(_) => 503,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ServiceError::Invalid(message)
            | ServiceError::Forbidden(message)
            | ServiceError::NotFound(message)
            | ServiceError::Conflict(message)
            | ServiceError::TooManyAttempts(message)
            | ServiceError::Unavailable(message) => message,
        }
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl From<String> for ServiceError {
    fn from(message: String) -> Self {
        ServiceError::Invalid(message)
    }
}

impl From<&str> for ServiceError {
    fn from(message: &str) -> Self {
        ServiceError::Invalid(message.to_string())
    }
}

/// A service this server does not run (a test bed, a server without a
/// keyring): 503 with what is missing, never a 500.
#[cfg(feature = "ssr")]
pub(crate) fn missing_service(what: &str) -> ServerFnError {
    let message = format!("{what} not available on this server");
    // A page rendered on such a server still renders (saying so); only a
    // call of the function itself answers 503.
    let called = use_context::<http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with("/api/"));
    if called {
        refuse(ServiceError::Unavailable(message))
    } else {
        ServerFnError::new(message)
    }
}

/// The longest text a search or filter field takes: nobody types more,
/// and every character costs a `LIKE` on the server.
pub const MAX_SEARCH_LENGTH: usize = 200;

/// Refuses a search or filter field longer than [`MAX_SEARCH_LENGTH`].
pub fn check_search<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ServiceError> {
    for (name, text) in fields {
        let length = text.chars().count();
        if length > MAX_SEARCH_LENGTH {
            return Err(ServiceError::Invalid(format!(
                "the {name} is {length} characters long; at most {MAX_SEARCH_LENGTH} are searched"
            )));
        }
    }
    Ok(())
}

/// A service's refusal as the server function's error, with its HTTP status
/// (400 or 503, not 500) for callers that read it; a plain form post without
/// JavaScript keeps Leptos's redirect back to the page.
#[cfg(feature = "ssr")]
pub(crate) fn refuse(error: ServiceError) -> ServerFnError {
    let plain_form = use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .map(|accept| accept.contains("text/html"))
        })
        .unwrap_or(false);
    if !plain_form
        && let (Some(options), Ok(status)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(error.status()),
        )
    {
        options.set_status(status);
    }
    ServerFnError::new(error.message())
}

/// Refuses the call unless `crate::access` lets the caller make it (the
/// server's guard refused it already; this keeps the function safe if it is
/// ever mounted elsewhere).
#[cfg(feature = "ssr")]
pub(crate) fn authorize(endpoint: &str) -> Result<(), ServerFnError> {
    let role = crate::viewer::current().map(|viewer| viewer.role);
    match crate::access::server_function(endpoint) {
        Some(access) if access.allows(role) => Ok(()),
        _ => Err(refuse(ServiceError::Forbidden(
            "your role does not allow this".to_string(),
        ))),
    }
}
