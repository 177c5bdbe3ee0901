//! What the databases pages' server functions need from the server.

use super::{
    DatabaseChange, DatabaseDetail, DatabaseList, DatabaseOverview, NewDatabaseForm, Quota,
    QuotaBoard, QuotaView, Status,
};
use crate::caller::{Caller, ServiceError};

/// Databases: the caller's own (admins: everyone's), their creation and
/// lifecycle. Ownership is checked here, on every call.
#[async_trait::async_trait]
pub trait Databases: Send + Sync + 'static {
    async fn list(
        &self,
        caller: &Caller,
        search: String,
        status: Option<Status>,
        page: u32,
    ) -> Result<DatabaseList, ServiceError>;
    /// How many the caller has in each status, and those that need them.
    async fn overview(&self, caller: &Caller) -> Result<DatabaseOverview, ServiceError>;
    /// Returns the new database's id (or the earlier one's, for a repeated
    /// request key).
    async fn create(&self, caller: &Caller, form: NewDatabaseForm) -> Result<String, ServiceError>;
    async fn detail(&self, caller: &Caller, id: &str) -> Result<DatabaseDetail, ServiceError>;
    async fn reveal_password(&self, caller: &Caller, id: &str) -> Result<String, ServiceError>;
    async fn rotate_password(&self, caller: &Caller, id: &str) -> Result<(), ServiceError>;
    async fn change(
        &self,
        caller: &Caller,
        id: &str,
        change: DatabaseChange,
        confirm_name: String,
    ) -> Result<(), ServiceError>;

    /// The caller's quota and what their databases use.
    async fn quota(&self, caller: &Caller) -> Result<QuotaView, ServiceError>;
    /// The default quota and every customer's own (admins).
    async fn quota_board(&self, caller: &Caller, page: u32) -> Result<QuotaBoard, ServiceError>;
    /// Sets the default quota (`username` `None`), or a customer's own;
    /// `quota` `None` puts the customer back on the default (admins).
    async fn set_quota(
        &self,
        caller: &Caller,
        username: Option<String>,
        quota: Option<Quota>,
    ) -> Result<(), ServiceError>;
}
