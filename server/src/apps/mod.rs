//! Applications from git: registering a repository (checked at once), the
//! poller that turns each new head of the tracked branch into a release,
//! and the push webhooks that wake it.

pub mod access;
pub mod poller;
pub mod release;
pub mod service;
mod views;
pub mod webhooks;

use crate::crypto::Scope;

/// Where an app's sealed values belong (`crate::crypto`).
pub fn credentials_scope(app: uuid::Uuid) -> Scope<'static> {
    Scope {
        app,
        purpose: "repository-credentials",
        name: "credentials",
        version: 1,
    }
}

pub fn webhook_scope(app: uuid::Uuid, version: i64) -> Scope<'static> {
    Scope {
        app,
        purpose: "webhook-secret",
        name: "secret",
        version,
    }
}

/// Opens the keyring the portal seals with: the file `--keyring` names
/// (which must exist), else `<data-dir>/keyring`, created on the first
/// start. Refuses when a stored value was sealed with a key the keyring
/// does not hold: nothing could open it.
pub async fn open_keyring(
    store: &dyn crate::store::Store,
    given: Option<&std::path::Path>,
    data_dir: &std::path::Path,
) -> Result<std::sync::Arc<crate::crypto::Keyring>, String> {
    let default = data_dir.join("keyring");
    let (path, create) = match given {
        Some(path) => (path.to_path_buf(), false),
        None => (default, true),
    };
    let (keyring, created) =
        crate::crypto::Keyring::open_or_create(&path, create).map_err(|error| error.to_string())?;
    if created {
        tracing::warn!(
            "created a new keyring at {} (mode 0600): keep a copy; without it the repository credentials and secrets stored here cannot be read",
            path.display()
        );
    }
    let crate::secrets::rewrap::Inventory {
        rows_per_key,
        unproven,
    } = crate::secrets::rewrap::inventory(store, &keyring)
        .await
        .map_err(|error| format!("cannot read the sealed values: {error}"))?;
    if let Some((missing, rows)) = rows_per_key.iter().find(|(id, _)| !keyring.contains(id)) {
        return Err(format!(
            "{rows} stored value(s) are sealed with key {missing:?}, which the keyring {} does not hold: give it the key (keys are tried by id), or nothing sealed with it can be read",
            path.display()
        ));
    }
    if let Some(id) = unproven {
        return Err(format!(
            "the keyring's key {id:?} opens none of the values sealed with {id:?}: it is another key under the same name; give the portal the keyring they were sealed with"
        ));
    }
    for (id, rows) in &rows_per_key {
        tracing::info!(key = %id, rows, "sealed values per key");
    }
    Ok(std::sync::Arc::new(keyring))
}

/// An app's stored credentials, opened for git; `None` when it has none.
pub fn open_credentials(
    keyring: &crate::crypto::Keyring,
    app: &crate::store::AppRecord,
) -> Result<Option<crate::git::Credentials>, crate::crypto::CryptoError> {
    use crate::git::Credentials;
    use crate::store::CredentialsKind;
    let Some(sealed) = &app.credentials else {
        return Ok(None);
    };
    let value = keyring.open_text(&credentials_scope(app.id), &sealed.sealed)?;
    Ok(Some(match sealed.kind {
        CredentialsKind::Token => Credentials::Token(value),
        CredentialsKind::SshKey => Credentials::SshKey(value),
    }))
}

/// The store failed under an apps page or route: logged, and said plainly.
pub(crate) fn unavailable(error: &crate::store::StoreError) -> app::caller::ServiceError {
    tracing::error!(%error, "apps: the store failed");
    app::caller::ServiceError::Unavailable(
        "the portal's database cannot be reached; try again".to_string(),
    )
}

/// The longest app name: it names the namespaces `<app>-<environment>`,
/// which must stay DNS labels of at most 63 characters.
pub const MAX_APP_NAME: usize = 40;
