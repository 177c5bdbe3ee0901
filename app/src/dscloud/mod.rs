//! `dscloud.yaml`: the model of an app's deployment description, and the
//! validation that turns text into it. Compiled for the browser too, so the
//! validate page checks a file as it is typed, with the server's exact rules.
//!
//! The reference is `../shared/docs/dscloud-yaml.md`; rendering to Kubernetes
//! objects is server-side (`server::manifests`).

mod check;
mod cron;
mod fields;
pub mod model;
mod names;
mod problem;
mod suggest;
mod yaml;

pub use check::{Checked, check};
pub use model::*;
pub use names::MAX_LABEL;
pub use problem::{Position, Problem, Severity};

/// A file sent by the checker's form without JavaScript: it is posted (a
/// file in the URL would hit the server's and browsers' limits), and the
/// server renders the page with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostedFile {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub app: String,
}

#[cfg(feature = "ssr")]
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
