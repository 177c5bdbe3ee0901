//! Key rotation: put a new key first in the keyring, restart (new values
//! are sealed with it), then re-wrap: every value sealed with another key
//! is opened and sealed again, for the same row, under the active key.
//! When `portal keyring status` counts no row under the old key, remove it.
//!
//! Each row is replaced only if it is still what was read (a concurrent
//! change wins), so re-wrapping runs safely beside a serving portal.

use std::collections::{BTreeMap, BTreeSet};

use crate::crypto::{Keyring, key_id_of};
use crate::store::{AppSealed, Store, StoreError};

/// Rows read per round.
const BATCH: u32 = 500;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rewrapped {
    /// Sealed again under the active key.
    pub rewrapped: u64,
    /// Already under it.
    pub current: u64,
    /// Changed meanwhile: left as the newer write made them.
    pub skipped: u64,
    /// Did not open: each named (never its value), left as it was.
    pub failed: Vec<String>,
}

pub async fn rewrap(store: &dyn Store, keyring: &Keyring) -> Result<Rewrapped, StoreError> {
    let active = keyring.active_id().to_string();
    let mut report = Rewrapped::default();
    let mut after = 0;
    loop {
        let rows = store.sealed_secrets(after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            if key_id_of(&row.sealed) == Some(active.as_str()) {
                report.current += 1;
                continue;
            }
            let purpose = super::purpose(&row.environment, &row.slot.group);
            let scope = super::scope(row.app_id, &purpose, &row.slot, row.version);
            let resealed = keyring.open(&scope, &row.sealed).and_then(|value| {
                use secrecy::ExposeSecret as _;
                keyring.seal(&scope, value.expose_secret())
            });
            match resealed {
                Ok(new) => {
                    if store.rewrap_secret(row.id, &row.sealed, &new).await? {
                        report.rewrapped += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
                Err(error) => report.failed.push(format!(
                    "secret {} v{} of app {} in {}: {error}",
                    row.slot.label(),
                    row.version,
                    row.app_id,
                    row.environment
                )),
            }
        }
    }
    for row in store.sealed_app_rows().await? {
        let values = [
            (
                AppSealed::Credentials,
                row.credentials.clone(),
                crate::apps::credentials_scope(row.app_id),
            ),
            (
                AppSealed::WebhookSecret,
                Some(row.webhook_secret.clone()),
                crate::apps::webhook_scope(row.app_id, row.webhook_secret_version),
            ),
        ];
        for (which, sealed, scope) in values {
            let Some(sealed) = sealed else { continue };
            if key_id_of(&sealed) == Some(active.as_str()) {
                report.current += 1;
                continue;
            }
            let resealed = keyring.open(&scope, &sealed).and_then(|value| {
                use secrecy::ExposeSecret as _;
                keyring.seal(&scope, value.expose_secret())
            });
            match resealed {
                Ok(new) => {
                    if store
                        .rewrap_app_value(row.app_id, which, &sealed, &new)
                        .await?
                    {
                        report.rewrapped += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
                Err(error) => report
                    .failed
                    .push(format!("{which:?} of app {}: {error}", row.app_id)),
            }
        }
    }
    Ok(report)
}

/// What the stored values need of a keyring: how many rows each key id
/// seals, and a key id none of whose values opens with the keyring's key of
/// that name (another key under the same name), if any.
pub struct Inventory {
    pub rows_per_key: BTreeMap<String, u64>,
    pub unproven: Option<String>,
}

/// Reads every sealed value once (the apps' own, then the secrets a page at
/// a time), counting them per key id and opening values of each id the
/// keyring holds until one opens.
pub async fn inventory(store: &dyn Store, keyring: &Keyring) -> Result<Inventory, StoreError> {
    let mut rows_per_key: BTreeMap<String, u64> = BTreeMap::new();
    let mut proven: BTreeSet<String> = BTreeSet::new();
    let mut refused: BTreeSet<String> = BTreeSet::new();
    let mut note = |sealed: &str, scope: &crate::crypto::Scope<'_>| {
        let id = key_id_of(sealed).unwrap_or("(unreadable)");
        *rows_per_key.entry(id.to_string()).or_default() += 1;
        if proven.contains(id) || !keyring.contains(id) {
            return;
        }
        // Only "does not open" speaks against the key; a malformed value
        // is one row's problem, reported where it is used.
        match keyring.open(scope, sealed) {
            Ok(_) => {
                refused.remove(id);
                proven.insert(id.to_string());
            }
            Err(crate::crypto::CryptoError::Tampered) => {
                refused.insert(id.to_string());
            }
            Err(_) => {}
        }
    };
    for row in store.sealed_app_rows().await? {
        if let Some(credentials) = &row.credentials {
            note(credentials, &crate::apps::credentials_scope(row.app_id));
        }
        let scope = crate::apps::webhook_scope(row.app_id, row.webhook_secret_version);
        note(&row.webhook_secret, &scope);
    }
    let mut after = 0;
    loop {
        let rows = store.sealed_secrets(after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in &rows {
            let purpose = super::purpose(&row.environment, &row.slot.group);
            note(
                &row.sealed,
                &super::scope(row.app_id, &purpose, &row.slot, row.version),
            );
        }
    }
    Ok(Inventory {
        rows_per_key,
        unproven: refused.into_iter().next(),
    })
}
