//! Key rotation: put a new key first in the keyring, restart (new values
//! are sealed with it), then re-wrap: every value sealed with another key
//! is opened and sealed again, for the same row, under the active key.
//! When `portal keyring status` counts no row under the old key, remove it.
//!
//! Each row is replaced only if it is still what was read (a concurrent
//! change wins), so re-wrapping runs safely beside a serving portal.

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

/// Proves the keyring holds the keys the stored values were sealed with,
/// not merely keys of the same names: of the values sealed with each key
/// id (the apps' webhook secrets and the first secrets), one must open. A
/// key id none of whose values open is another key under the same name.
pub async fn check_keyring(store: &dyn Store, keyring: &Keyring) -> Result<(), String> {
    use std::collections::BTreeMap;
    // Key id -> whether one of its values opened.
    let mut opens: BTreeMap<String, bool> = BTreeMap::new();
    let mut note = |sealed: &str, opened: Result<(), crate::crypto::CryptoError>| {
        let Some(key_id) = key_id_of(sealed) else {
            return;
        };
        // Only "does not open" speaks against the key; a missing key is
        // refused by name before this, a malformed value is one row's problem.
        let verdict = match opened {
            Ok(()) => true,
            Err(crate::crypto::CryptoError::Tampered) => false,
            Err(_) => return,
        };
        let entry = opens.entry(key_id.to_string()).or_insert(false);
        *entry = *entry || verdict;
    };
    let cannot_read = |error: StoreError| format!("cannot read the sealed values: {error}");
    for row in store.sealed_app_rows().await.map_err(cannot_read)? {
        let scope = crate::apps::webhook_scope(row.app_id, row.webhook_secret_version);
        note(
            &row.webhook_secret,
            keyring.open(&scope, &row.webhook_secret).map(|_| ()),
        );
    }
    for row in store.sealed_secrets(0, BATCH).await.map_err(cannot_read)? {
        let purpose = super::purpose(&row.environment, &row.slot.group);
        let scope = super::scope(row.app_id, &purpose, &row.slot, row.version);
        note(&row.sealed, keyring.open(&scope, &row.sealed).map(|_| ()));
    }
    match opens.iter().find(|(_, opened)| !**opened) {
        Some((key_id, _)) => Err(format!(
            "the keyring's key {key_id:?} opens none of the values sealed with {key_id:?}: it is another key under the same name; give the portal the keyring they were sealed with"
        )),
        None => Ok(()),
    }
}
