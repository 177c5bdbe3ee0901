//! A release's images: the portal's build Jobs (created once per component
//! and commit, observed with their digest), or the images the app's own CI
//! pushes, asked of the registry.

use super::jobs::observe_job;
use super::{Context, DeployError, Deployer};
use crate::cluster::Kind;
use crate::deploy::build::{self, BuildTarget};
use crate::deploy::objects;
use crate::deploy::plan::{Observed, Run, RunState};
use crate::store::{BuildMode, DeploymentRecord};

impl Deployer {
    /// Each image the release still lacks, as its build or the registry shows it.
    pub(super) async fn observe_builds(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
    ) -> Result<Observed, DeployError> {
        let mut builds = Vec::new();
        for component in &context.missing_images {
            let target = self.build_target(context, deployment, component);
            builds.push(match context.app.build {
                BuildMode::Portal => {
                    let name = target.job_name();
                    let state =
                        observe_job(&context.site.cluster, build::BUILD_NAMESPACE, &name, true)
                            .await?;
                    Run {
                        name: component.clone(),
                        object: format!("Job/{name}"),
                        state,
                    }
                }
                BuildMode::External => self.pushed_image(&target).await?,
            });
        }
        Ok(Observed::Building(builds))
    }

    /// The build Jobs the planner asked for, in the build namespace.
    pub(super) async fn create_builds(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
        components: &[String],
    ) -> Result<(), DeployError> {
        let cluster = &context.site.cluster;
        let labels = objects::engine_labels(context.app.id, &context.site.name);
        cluster
            .apply(Kind::NAMESPACE, &build::namespace(labels.clone()))
            .await?;
        for component in components {
            let target = self.build_target(context, deployment, component);
            cluster
                .create(Kind::JOB, &build::job(&target, labels.clone()))
                .await?;
        }
        Ok(())
    }

    /// An image external CI pushes, as the registry shows it.
    async fn pushed_image(&self, target: &BuildTarget<'_>) -> Result<Run, DeployError> {
        let tag = target.tag();
        let state = match &self.registry_client {
            None => RunState::Waiting(format!(
                "the image registry {:?} is not an address the portal can ask",
                self.registry
            )),
            Some(registry) => {
                let repository = format!("{}/{}", target.app, target.component);
                match registry.digest(&repository, target.commit).await? {
                    Some(digest) => RunState::Succeeded {
                        digest: Some(digest),
                        log: String::new(),
                    },
                    None => RunState::Waiting(format!("waiting for external CI to push {tag}")),
                }
            }
        };
        Ok(Run {
            name: target.component.to_string(),
            object: format!("image {tag}"),
            state,
        })
    }

    pub(super) fn build_target<'a>(
        &'a self,
        context: &'a Context<'_>,
        deployment: &'a DeploymentRecord,
        component: &'a str,
    ) -> BuildTarget<'a> {
        BuildTarget {
            app: &context.app.name,
            component,
            commit: &deployment.sha,
            registry: &self.registry,
            repository_url: &context.app.repository_url,
        }
    }
}
