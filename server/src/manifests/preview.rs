//! The renderer the validate page calls: the objects of a file not yet deployed.

use app::dscloud::DscloudFile;
use app::dscloud::ManifestRenderer;

use super::{Target, render, to_yaml};

/// The commit shown in previews: every image and Job name carries the real
/// commit once the deploy engine renders it.
pub const PREVIEW_COMMIT: &str = "0000000000000000000000000000000000000000";

pub struct PreviewRenderer {
    pub registry: String,
    /// Each configured environment's ingress host and class.
    pub ingress: std::collections::BTreeMap<String, super::IngressSettings>,
}

impl ManifestRenderer for PreviewRenderer {
    fn render_preview(
        &self,
        app: &str,
        environment: &str,
        file: &DscloudFile,
    ) -> Result<String, String> {
        let target = Target {
            app,
            environment,
            commit: PREVIEW_COMMIT,
            registry: &self.registry,
            ingress: self.ingress.get(environment),
        };
        if !file
            .environments(&[])
            .iter()
            .any(|known| known == environment)
        {
            return Err(format!(
                "no component of this file is deployed to `{environment}`"
            ));
        }
        render(file, &target)
            .map(|manifests| to_yaml(&manifests))
            .map_err(|error| error.to_string())
    }
}
