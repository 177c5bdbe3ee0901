//! What the secrets pages' server functions need from the server.

use secrecy::SecretString;

use super::{AppSecrets, SecretVersionView, SecretsOverview};
use crate::caller::{Caller, ServiceError};

/// Secrets: developers and admins see which keys are set or missing; an
/// app's maintainers and admins change them. No method returns a value.
#[async_trait::async_trait]
pub trait Secrets: Send + Sync + 'static {
    async fn overview(&self, caller: &Caller, page: u32) -> Result<SecretsOverview, ServiceError>;
    async fn app(&self, caller: &Caller, app: &str) -> Result<AppSecrets, ServiceError>;
    async fn versions(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
    ) -> Result<Vec<SecretVersionView>, ServiceError>;
    async fn set(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
        value: SecretString,
    ) -> Result<i64, ServiceError>;
    async fn delete(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
    ) -> Result<i64, ServiceError>;
    async fn roll_back(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
        version: i64,
    ) -> Result<i64, ServiceError>;
    async fn import(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        text: SecretString,
    ) -> Result<u32, ServiceError>;
}
