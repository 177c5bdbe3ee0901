//! The environment matrix: apps × environments for a page of apps, from
//! three queries whatever the page holds.

use app::caller::ServiceError;
use app::deploys::{EnvironmentMatrix, MATRIX_PAGE_SIZE, MatrixCell, MatrixRow};
use uuid::Uuid;

use super::views::short;
use super::{DeployService, MAX_TEXT};
use crate::apps::unavailable;

impl DeployService {
    pub(super) async fn matrix_page(
        &self,
        search: &str,
        page: u32,
    ) -> Result<EnvironmentMatrix, ServiceError> {
        let search = search.trim();
        if search.chars().count() > MAX_TEXT {
            return Err(ServiceError::Invalid(format!(
                "the search is longer than {MAX_TEXT} characters"
            )));
        }
        let page = page.max(1);
        let apps = self
            .store
            .list_apps(&crate::store::AppQuery {
                search: (!search.is_empty()).then(|| search.to_string()),
                limit: MATRIX_PAGE_SIZE,
                offset: (page - 1).saturating_mul(MATRIX_PAGE_SIZE),
            })
            .await
            .map_err(|error| unavailable(&error))?;
        let ids: Vec<Uuid> = apps.items.iter().map(|app| app.id).collect();
        let entries = self
            .store
            .matrix_entries(&ids)
            .await
            .map_err(|error| unavailable(&error))?;
        let rows = apps
            .items
            .iter()
            .map(|app| MatrixRow {
                app: app.name.clone(),
                cells: self
                    .environments
                    .iter()
                    .map(|environment| {
                        let current = entries.current.iter().find(|deployment| {
                            deployment.app_id == app.id && deployment.environment == *environment
                        });
                        MatrixCell {
                            current: current.map(|deployment| {
                                (
                                    deployment.id,
                                    short(&deployment.sha).to_string(),
                                    deployment
                                        .finished_at
                                        .unwrap_or(deployment.created_at)
                                        .to_rfc3339(),
                                )
                            }),
                            tests: current
                                .filter(|deployment| {
                                    deployment.tests_passed + deployment.tests_failed > 0
                                })
                                .map(|deployment| {
                                    (deployment.tests_passed, deployment.tests_failed)
                                }),
                            active: entries
                                .active
                                .iter()
                                .find(|(id, env, _, _)| *id == app.id && env == environment)
                                .map(|(_, _, deployment, status)| (*deployment, *status)),
                            held: entries
                                .held
                                .iter()
                                .any(|(id, env)| *id == app.id && env == environment),
                        }
                    })
                    .collect(),
            })
            .collect();
        Ok(EnvironmentMatrix {
            environments: self.environments.clone(),
            rows,
            total: apps.total,
            page,
            page_size: MATRIX_PAGE_SIZE,
        })
    }
}
