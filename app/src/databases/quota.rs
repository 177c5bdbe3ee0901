//! Per-customer limits on databases: how many a customer may have, and how
//! much CPU, memory and storage all of them may add up to. An admin sets a
//! default and, for a customer who needs more or less, that customer's own.
//! Terminated databases do not count; parked ones do (they keep their
//! storage, and resuming must not be refused).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TIERS, Tier};

/// The limits. CPU in millicores, memory in MiB, storage in GiB, each over
/// every node of every database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub databases: u32,
    pub cpu_millis: u64,
    pub memory_mib: u64,
    pub storage_gib: u64,
}

/// What a customer's databases use, in the quota's measures.
pub type Usage = Quota;

impl Quota {
    /// Until an admin changes it: two databases of the largest size, or
    /// ten small ones.
    pub const DEFAULT: Quota = Quota {
        databases: 10,
        cpu_millis: 40_000,
        memory_mib: 160 * 1024,
        storage_gib: 2_000,
    };

    /// What databases of these sizes use.
    pub fn used_by<'a>(tiers: impl IntoIterator<Item = &'a Tier>) -> Usage {
        tiers
            .into_iter()
            .fold(Usage::default(), |usage, tier| usage.with(tier))
    }

    /// This usage with one more database of `tier`.
    pub fn with(self, tier: &Tier) -> Usage {
        let nodes = u64::from(tier.nodes);
        Quota {
            databases: self.databases.saturating_add(1),
            cpu_millis: self.cpu_millis + nodes * u64::from(tier.cpu_millis),
            memory_mib: self.memory_mib + nodes * u64::from(tier.memory_mib),
            storage_gib: self.storage_gib + nodes * u64::from(tier.storage_gib),
        }
    }

    /// This usage without one database of `tier`.
    pub fn without(self, tier: &Tier) -> Usage {
        let nodes = u64::from(tier.nodes);
        Quota {
            databases: self.databases.saturating_sub(1),
            cpu_millis: self
                .cpu_millis
                .saturating_sub(nodes * u64::from(tier.cpu_millis)),
            memory_mib: self
                .memory_mib
                .saturating_sub(nodes * u64::from(tier.memory_mib)),
            storage_gib: self
                .storage_gib
                .saturating_sub(nodes * u64::from(tier.storage_gib)),
        }
    }

    /// Why going from `before` to `after` is refused: a measure that grows
    /// past this quota. A measure that stays or shrinks is never the reason,
    /// so a customer above a lowered quota can still shrink and terminate.
    pub fn refusal(&self, before: &Usage, after: &Usage) -> Option<String> {
        let measures = [
            (
                "databases",
                u64::from(before.databases),
                u64::from(after.databases),
                u64::from(self.databases),
            ),
            ("CPU", before.cpu_millis, after.cpu_millis, self.cpu_millis),
            (
                "memory",
                before.memory_mib,
                after.memory_mib,
                self.memory_mib,
            ),
            (
                "storage",
                before.storage_gib,
                after.storage_gib,
                self.storage_gib,
            ),
        ];
        let over: Vec<String> = measures
            .into_iter()
            .filter(|(_, before, after, limit)| after > before && after > limit)
            .map(|(measure, _, after, limit)| {
                format!(
                    "{measure} would be {} of your {}",
                    amount(measure, after),
                    amount(measure, limit)
                )
            })
            .collect();
        (!over.is_empty()).then(|| {
            format!(
                "over your quota: {}. Choose a smaller size, terminate a database you no longer need, or ask an admin for a larger quota",
                over.join(", ")
            )
        })
    }

    /// "3 databases · 12 vCPU · 24 GiB memory · 150 GiB storage".
    pub fn describe(&self) -> String {
        format!(
            "{} · {} · {} · {}",
            amount("databases", u64::from(self.databases)),
            amount("CPU", self.cpu_millis),
            amount("memory", self.memory_mib),
            amount("storage", self.storage_gib)
        )
    }
}

/// One measure's amount in the unit people read.
fn amount(measure: &str, value: u64) -> String {
    match measure {
        "databases" if value == 1 => "1 database".to_string(),
        "databases" => format!("{value} databases"),
        "CPU" => format!("{} vCPU", decimal(value, 1000)),
        "memory" => format!("{} GiB memory", decimal(value, 1024)),
        _ => format!("{value} GiB storage"),
    }
}

/// `value / unit` with up to three decimals and no trailing zeros.
fn decimal(value: u64, unit: u64) -> String {
    let text = format!("{:.3}", value as f64 / unit as f64);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The caller's quota and what their databases use, for the create form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaView {
    pub quota: Quota,
    pub usage: Usage,
    /// Set for this customer, rather than the default.
    pub own: bool,
}

impl QuotaView {
    /// The sizes a new database may still have, smallest first.
    pub fn sizes_left(&self) -> Vec<&'static str> {
        TIERS
            .iter()
            .filter(|tier| {
                self.quota
                    .refusal(&self.usage, &self.usage.with(tier))
                    .is_none()
            })
            .map(|tier| tier.name)
            .collect()
    }
}

/// A customer with their own quota, for the admins' page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerQuota {
    pub username: String,
    pub quota: Quota,
    pub usage: Usage,
}

/// The admins' quotas page: the default and every customer's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaBoard {
    pub default: Quota,
    pub customers: Vec<CustomerQuota>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// Customers with their own quota on one page of the admins' list.
pub const QUOTAS_PAGE_SIZE: u32 = 50;

/// What the quota forms send, as typed: whole databases, vCPU and GiB
/// (decimals allowed for CPU and memory).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaForm {
    pub databases: String,
    pub cpu: String,
    pub memory_gib: String,
    pub storage_gib: String,
}

/// The largest value a form may set for any measure: far above any real
/// cluster, low enough that sums never overflow.
const MAX_FIELD: f64 = 1_000_000.0;

impl QuotaForm {
    pub fn from_quota(quota: &Quota) -> QuotaForm {
        QuotaForm {
            databases: quota.databases.to_string(),
            cpu: decimal(quota.cpu_millis, 1000),
            memory_gib: decimal(quota.memory_mib, 1024),
            storage_gib: quota.storage_gib.to_string(),
        }
    }

    /// The quota typed, or which field is wrong and why.
    pub fn parse(&self) -> Result<Quota, String> {
        let number = |field: &str, text: &str, whole: bool| -> Result<f64, String> {
            let text = text.trim();
            let value: f64 = text
                .parse()
                .ok()
                .filter(|value: &f64| value.is_finite())
                .ok_or_else(|| format!("{field}: {text:?} is not a number"))?;
            if !(0.0..=MAX_FIELD).contains(&value) {
                return Err(format!("{field}: give a number from 0 to 1,000,000"));
            }
            if whole && value.fract() != 0.0 {
                return Err(format!("{field}: give a whole number"));
            }
            Ok(value)
        };
        Ok(Quota {
            databases: number("databases", &self.databases, true)? as u32,
            cpu_millis: (number("vCPU", &self.cpu, false)? * 1000.0).round() as u64,
            memory_mib: (number("memory (GiB)", &self.memory_gib, false)? * 1024.0).round() as u64,
            storage_gib: number("storage (GiB)", &self.storage_gib, true)? as u64,
        })
    }
}

#[cfg(feature = "ssr")]
fn quotas() -> Result<(crate::caller::Caller, std::sync::Arc<dyn super::Databases>), ServerFnError>
{
    let service = use_context::<std::sync::Arc<dyn super::Databases>>()
        .ok_or_else(|| crate::caller::missing_service("quotas are"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[cfg(feature = "ssr")]
use crate::caller::{authorize, refuse};

/// The caller's quota and what their databases use.
#[server(endpoint = "my_quota")]
pub async fn fetch_my_quota() -> Result<QuotaView, ServerFnError> {
    authorize("my_quota")?;
    let (caller, service) = quotas()?;
    service.quota(&caller).await.map_err(refuse)
}

#[server(endpoint = "quota_board")]
pub async fn fetch_quota_board(page: u32) -> Result<QuotaBoard, ServerFnError> {
    authorize("quota_board")?;
    let (caller, service) = quotas()?;
    service.quota_board(&caller, page).await.map_err(refuse)
}

/// The quota of every customer without their own.
#[server(endpoint = "set_default_quota")]
pub async fn set_default_quota(form: QuotaForm) -> Result<(), ServerFnError> {
    authorize("set_default_quota")?;
    let (caller, service) = quotas()?;
    let quota = form.parse().map_err(|error| refuse(error.into()))?;
    service
        .set_quota(&caller, None, Some(quota))
        .await
        .map_err(refuse)
}

/// Gives a customer their own quota (replacing the one they had).
#[server(endpoint = "set_customer_quota")]
pub async fn set_customer_quota(username: String, form: QuotaForm) -> Result<(), ServerFnError> {
    authorize("set_customer_quota")?;
    let (caller, service) = quotas()?;
    let quota = form.parse().map_err(|error| refuse(error.into()))?;
    service
        .set_quota(&caller, Some(username), Some(quota))
        .await
        .map_err(refuse)
}

/// Puts a customer back on the default quota.
#[server(endpoint = "remove_customer_quota")]
pub async fn remove_customer_quota(username: String) -> Result<(), ServerFnError> {
    authorize("remove_customer_quota")?;
    let (caller, service) = quotas()?;
    service
        .set_quota(&caller, Some(username), None)
        .await
        .map_err(refuse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databases::tier;

    fn size(name: &str) -> &'static Tier {
        tier(name).unwrap_or_else(|| panic!("no tier {name}"))
    }

    #[test]
    fn a_database_that_does_not_fit_is_refused_with_what_is_over() {
        let quota = Quota {
            databases: 2,
            cpu_millis: 4_000,
            memory_mib: 64 * 1024,
            storage_gib: 100,
        };
        let usage = Quota::used_by([size("small")]);
        assert_eq!(quota.refusal(&usage, &usage.with(size("starter"))), None);
        let refusal = quota
            .refusal(&usage, &usage.with(size("small")))
            .unwrap_or_default();
        assert!(
            refusal.contains("CPU would be 6 vCPU of your 4 vCPU"),
            "{refusal}"
        );
        assert!(!refusal.contains("databases would"), "{refusal}");
        let third = Quota::used_by([size("starter"), size("starter")]);
        let refusal = quota
            .refusal(&third, &third.with(size("starter")))
            .unwrap_or_default();
        assert!(
            refusal.contains("databases would be 3 databases of your 2 databases"),
            "{refusal}"
        );
    }

    #[test]
    fn shrinking_is_allowed_above_a_lowered_quota() {
        let quota = Quota {
            databases: 1,
            cpu_millis: 500,
            memory_mib: 1024,
            storage_gib: 5,
        };
        let usage = Quota::used_by([size("large"), size("medium")]);
        let smaller = usage.without(size("large")).with(size("small"));
        assert_eq!(quota.refusal(&usage, &smaller), None);
        let larger = usage.without(size("medium")).with(size("large"));
        assert!(quota.refusal(&usage, &larger).is_some());
    }

    #[test]
    fn forms_name_the_wrong_field() {
        let form = |databases: &str, cpu: &str| QuotaForm {
            databases: databases.to_string(),
            cpu: cpu.to_string(),
            memory_gib: "8".to_string(),
            storage_gib: "100".to_string(),
        };
        assert_eq!(
            form("3", "2.5").parse(),
            Ok(Quota {
                databases: 3,
                cpu_millis: 2_500,
                memory_mib: 8 * 1024,
                storage_gib: 100,
            })
        );
        assert!(form("2.5", "1").parse().is_err_and(|e| e.contains("whole")));
        assert!(form("-1", "1").parse().is_err_and(|e| e.contains("0 to")));
        assert!(
            form("3", "NaN")
                .parse()
                .is_err_and(|e| e.starts_with("vCPU"))
        );
        assert!(
            form("3", "1e300")
                .parse()
                .is_err_and(|e| e.contains("0 to"))
        );
        assert_eq!(
            QuotaForm::from_quota(&Quota::DEFAULT).parse(),
            Ok(Quota::DEFAULT)
        );
    }

    #[test]
    fn sizes_left_are_those_that_fit() {
        let view = QuotaView {
            quota: Quota {
                databases: 5,
                cpu_millis: 4_000,
                memory_mib: 64 * 1024,
                storage_gib: 1_000,
            },
            usage: Quota::used_by([size("small")]),
            own: true,
        };
        assert_eq!(view.sizes_left(), vec!["starter"]);
    }
}
