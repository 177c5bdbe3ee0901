//! What the apps pages' server functions need from the server.

use super::{AppDetail, AppList, AppSettingsForm, RegisterAppForm, Registered, ReleaseDetail};
use crate::caller::{Caller, ServiceError};

/// Apps: every developer sees every app; registering needs the developer
/// role; changing one, its maintainers or an admin.
#[async_trait::async_trait]
pub trait Apps: Send + Sync + 'static {
    async fn list(
        &self,
        caller: &Caller,
        search: String,
        page: u32,
    ) -> Result<AppList, ServiceError>;
    async fn register(
        &self,
        caller: &Caller,
        form: RegisterAppForm,
    ) -> Result<Registered, ServiceError>;
    async fn detail(&self, caller: &Caller, name: &str) -> Result<AppDetail, ServiceError>;
    async fn release(
        &self,
        caller: &Caller,
        name: &str,
        sha: &str,
    ) -> Result<ReleaseDetail, ServiceError>;
    async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<String, ServiceError>;
    async fn update(&self, caller: &Caller, form: AppSettingsForm) -> Result<(), ServiceError>;
    async fn delete(
        &self,
        caller: &Caller,
        name: &str,
        confirm_name: &str,
    ) -> Result<(), ServiceError>;
}
