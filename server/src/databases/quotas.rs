//! Quotas as the pages use them: a customer reads theirs on the create
//! form; admins set the default and each customer's own. Every change is
//! audited in the transaction that makes it.

use app::caller::{Caller, ServiceError};
use app::databases::{CustomerQuota, QUOTAS_PAGE_SIZE, Quota, QuotaBoard, QuotaView};
use serde_json::json;

use super::DatabaseService;
use super::service::unavailable;
use crate::store::{Outcome, StoreError};

impl DatabaseService {
    pub(super) async fn quota_view(&self, caller: &Caller) -> Result<QuotaView, ServiceError> {
        let requester = Self::requester(caller)?;
        let applied = self
            .store
            .quota_of(requester.id)
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(QuotaView {
            quota: applied.quota,
            usage: applied.usage,
            own: applied.own,
        })
    }

    pub(super) async fn board(
        &self,
        caller: &Caller,
        page: u32,
    ) -> Result<QuotaBoard, ServiceError> {
        Self::admin(caller)?;
        let page = page.max(1);
        let default = self
            .store
            .default_quota()
            .await
            .map_err(|error| unavailable(&error))?;
        let found = self
            .store
            .customer_quotas(
                QUOTAS_PAGE_SIZE,
                (page - 1).saturating_mul(QUOTAS_PAGE_SIZE),
            )
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(QuotaBoard {
            default,
            customers: found
                .items
                .into_iter()
                .map(|record| CustomerQuota {
                    username: record.username,
                    quota: record.quota,
                    usage: record.usage,
                })
                .collect(),
            total: found.total,
            page,
            page_size: QUOTAS_PAGE_SIZE,
        })
    }

    pub(super) async fn change_quota(
        &self,
        caller: &Caller,
        username: Option<String>,
        quota: Option<Quota>,
    ) -> Result<(), ServiceError> {
        let requester = Self::admin(caller)?;
        let Some(username) = username else {
            let quota = quota.ok_or_else(|| {
                ServiceError::Invalid("the default quota cannot be removed, only changed".into())
            })?;
            let before = self
                .store
                .default_quota()
                .await
                .map_err(|error| unavailable(&error))?;
            let audit = crate::audit::event(
                &requester.actor,
                "quota.set_default",
                "quota:default",
                Outcome::Success,
                json!({"before": before.describe(), "after": quota.describe()}),
            );
            return self
                .store
                .set_default_quota(&quota, &audit)
                .await
                .map_err(|error| unavailable(&error));
        };
        let unknown = || ServiceError::NotFound(format!("no user named {username:?}"));
        let user = match self.store.user_by_username(username.trim()).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(unknown()),
            Err(error) => return Err(unavailable(&error)),
        };
        let before = self
            .store
            .quota_of(user.id)
            .await
            .map_err(|error| unavailable(&error))?;
        let describe = |quota: Option<&Quota>, own: bool| match quota {
            Some(quota) if own => quota.describe(),
            _ => "the default".to_string(),
        };
        let (action, after) = match &quota {
            Some(quota) => ("quota.set", describe(Some(quota), true)),
            None => ("quota.remove", describe(None, false)),
        };
        let audit = crate::audit::event(
            &requester.actor,
            action,
            &format!("user:{}", user.username),
            Outcome::Success,
            json!({"before": describe(Some(&before.quota), before.own), "after": after}),
        );
        match self
            .store
            .set_customer_quota(user.id, quota.as_ref(), &audit)
            .await
        {
            Ok(()) => Ok(()),
            // Deleted since it was looked up.
            Err(StoreError::NotFound) => Err(unknown()),
            Err(error) => Err(unavailable(&error)),
        }
    }

    fn admin(caller: &Caller) -> Result<super::service::Requester, ServiceError> {
        let requester = Self::requester(caller)?;
        if !requester.admin {
            return Err(ServiceError::Forbidden(
                "only admins can see and change quotas".to_string(),
            ));
        }
        Ok(requester)
    }
}
