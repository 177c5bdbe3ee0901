//! What server functions need from the server, as traits the `server` crate
//! implements and provides through Leptos context. Server functions stay thin:
//! they check who is calling, then call one of these.

use crate::dscloud::DscloudFile;

/// Renders a checked `dscloud.yaml` into Kubernetes objects.
pub trait ManifestRenderer: Send + Sync + 'static {
    /// The YAML of every object of one environment, for a file that is not
    /// deployed yet (the commit is a placeholder). Errors are for people.
    fn render_preview(
        &self,
        app: &str,
        environment: &str,
        file: &DscloudFile,
    ) -> Result<String, String>;
}
