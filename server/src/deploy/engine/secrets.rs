//! The deploy engine's reads and writes of an app's secrets: the values in
//! force, opened for applying, and the redeploy when they changed.

use uuid::Uuid;

use super::{Context, DeployError, Deployer};
use crate::deploy::plan;
use crate::engine::Term;
use crate::secrets::sync::{self as secret_sync, Desired};
use crate::store::SecretVersion;

impl Deployer {
    pub(super) async fn latest_secrets(
        &self,
        context: &Context<'_>,
    ) -> Result<Vec<SecretVersion>, DeployError> {
        Ok(self
            .store
            .latest_secrets(context.app.id, &context.site.name)
            .await?)
    }

    pub(super) fn open_secrets(
        &self,
        context: &Context<'_>,
        latest: &[SecretVersion],
    ) -> Result<Desired, String> {
        secret_sync::open(
            self.keyring.as_deref(),
            context.app.id,
            &context.site.name,
            latest,
        )
    }

    /// An idle environment whose values in force are not the ones what runs
    /// there wrote: a redeploy with them (or, when they are the same and
    /// only the note that they reached the cluster was lost, that note).
    pub(super) async fn resync_secrets(
        &self,
        app: Uuid,
        environment: &str,
        state: &crate::store::EnvironmentState,
        term: &Term,
    ) -> Result<(), DeployError> {
        let Some(current) = &state.current else {
            return Ok(());
        };
        let latest = self.store.latest_secrets(app, environment).await?;
        let desired = secret_sync::versions_of(&latest);
        // Usually what runs is also the last attempt: one read for both.
        let (written, last_attempt) = match self.store.last_secret_attempt(app, environment).await?
        {
            Some((id, versions)) if id == current.id => (versions.unwrap_or_default(), None),
            last => (
                self.store
                    .deployment_secret_versions(current.id)
                    .await?
                    .unwrap_or_default(),
                last.and_then(|(_, versions)| versions),
            ),
        };
        match plan::secrets_resync(
            environment,
            state,
            &written,
            last_attempt.as_ref(),
            &desired,
        ) {
            Some(redeploy) => {
                tracing::info!(%app, %environment, detail = ?redeploy.trigger_detail, "secrets changed: redeploying");
                self.store
                    .enqueue_deployment(term.fence(), &redeploy, &[], None)
                    .await?;
                self.wake((app, environment.to_string()));
            }
            None if written == desired && latest.iter().any(|row| row.synced_at.is_none()) => {
                let through = latest.iter().map(|row| row.id).max().unwrap_or_default();
                self.store
                    .mark_secrets_synced(term.fence(), app, environment, through)
                    .await?;
            }
            None => {}
        }
        Ok(())
    }
}
