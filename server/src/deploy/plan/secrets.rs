//! When the secrets in force differ from what runs: a redeploy, decided here.

use app::deploys::{DeploymentStatus, Trigger};

use crate::store::{EnvironmentState, NewDeployment, SecretVersions};

/// When an environment is idle and the values in force there are not the
/// ones its running deployment wrote: deploy what runs again, with them.
/// Not while held, not when what runs wrote these very versions, and not
/// again after a deployment with them failed (a new change tries again).
pub fn secrets_resync(
    environment: &str,
    state: &EnvironmentState,
    written: &SecretVersions,
    last_attempt: Option<&SecretVersions>,
    desired: &SecretVersions,
) -> Option<NewDeployment> {
    let current = state.current.as_ref()?;
    if state.active.is_some() || state.rules.hold.is_some() || written == desired {
        return None;
    }
    if last_attempt == Some(desired) {
        return None;
    }
    Some(NewDeployment {
        app_id: current.app_id,
        release_id: current.release_id,
        environment: environment.to_string(),
        trigger: Trigger::Redeploy,
        trigger_detail: Some(crate::secrets::sync::describe_change(written, desired)),
        by: None,
        rollback_of: None,
        status: DeploymentStatus::Queued,
        approval_required: false,
    })
}
