//! What server functions need from the server, as traits the `server` crate
//! implements and provides through Leptos context. Server functions stay thin:
//! they check who is calling, then call one of these.

use crate::dscloud::DscloudFile;

/// Renders a checked `dscloud.yaml` into Kubernetes objects.
pub trait ManifestRenderer: Send + Sync + 'static {
    /// The YAML of every object of one environment, for a file that is not
    /// deployed yet (the commit is a placeholder). Errors are for people.
    fn render_preview(
        &self,
        app: &str,
        environment: &str,
        file: &DscloudFile,
    ) -> Result<String, String>;
}

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
    Unavailable(String),
}

impl ServiceError {
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::Invalid(_) => 400,
            ServiceError::Forbidden(_) => 403,
            ServiceError::NotFound(_) => 404,
            ServiceError::Conflict(_) => 409,
            ServiceError::Unavailable(_) => 503,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ServiceError::Invalid(message)
            | ServiceError::Forbidden(message)
            | ServiceError::NotFound(message)
            | ServiceError::Conflict(message)
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

/// Accounts, users and the audit log.
#[async_trait::async_trait]
pub trait Accounts: Send + Sync + 'static {
    async fn account(&self, caller: &Caller) -> Result<crate::accounts::AccountView, ServiceError>;
    async fn change_password(
        &self,
        caller: &Caller,
        current_password: String,
        new_password: String,
    ) -> Result<(), ServiceError>;
    async fn list_users(
        &self,
        search: String,
        page: u32,
    ) -> Result<crate::accounts::UserList, ServiceError>;
    /// Returns the generated password.
    async fn create_user(
        &self,
        caller: &Caller,
        username: String,
        display_name: String,
        email: String,
        role: crate::roles::Role,
    ) -> Result<String, ServiceError>;
    async fn update_user(
        &self,
        caller: &Caller,
        username: String,
        role: crate::roles::Role,
        disabled: bool,
    ) -> Result<(), ServiceError>;
    async fn end_sessions(&self, caller: &Caller, username: String) -> Result<u64, ServiceError>;
    async fn delete_user(&self, caller: &Caller, username: String) -> Result<(), ServiceError>;
    async fn list_audit(
        &self,
        filter: crate::accounts::AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<crate::accounts::AuditList, ServiceError>;
}

/// Databases: the caller's own (admins: everyone's), their creation and
/// lifecycle. Ownership is checked here, on every call.
#[async_trait::async_trait]
pub trait Databases: Send + Sync + 'static {
    async fn list(
        &self,
        caller: &Caller,
        search: String,
        status: Option<crate::databases::Status>,
        page: u32,
    ) -> Result<crate::databases::DatabaseList, ServiceError>;
    /// Returns the new database's id (or the earlier one's, for a repeated
    /// request key).
    async fn create(
        &self,
        caller: &Caller,
        form: crate::databases::NewDatabaseForm,
    ) -> Result<String, ServiceError>;
    async fn detail(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<crate::databases::DatabaseDetail, ServiceError>;
    async fn reveal_password(&self, caller: &Caller, id: &str) -> Result<String, ServiceError>;
    async fn rotate_password(&self, caller: &Caller, id: &str) -> Result<(), ServiceError>;
    async fn change(
        &self,
        caller: &Caller,
        id: &str,
        change: crate::databases::DatabaseChange,
        confirm_name: String,
    ) -> Result<(), ServiceError>;
}
