//! The deployments domain's SQL, for both engines (see `deploys.rs`).

/// The triggers of automatic promotion, as SQL.
pub(crate) const AUTOMATIC: &str = "('poll', 'webhook', 'promotion')";

macro_rules! impl_deploy_store {
    ($store:ty) => {
        impl $store {
            /// Inside a transaction: `Deposed` unless the fence is current.
            async fn check_fence(
                &self,
                tx: &mut sqlx::Transaction<'static, <Self as $crate::store::deploys_sql::Db>::Db>,
                fence: Option<&$crate::store::Fence>,
            ) -> $crate::store::StoreResult<()> {
                let Some(fence) = fence else { return Ok(()) };
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT term FROM engine_terms WHERE lease = $1")
                        .bind(&fence.lease)
                        .fetch_optional(&mut **tx)
                        .await?;
                if current != Some(fence.term) {
                    return Err($crate::store::StoreError::Deposed {
                        lease: fence.lease.clone(),
                        term: fence.term,
                    });
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::DeployStore for $store {
            async fn environment_rules(
                &self,
                app: uuid::Uuid,
                environment: &str,
            ) -> $crate::store::StoreResult<$crate::store::EnvironmentRules> {
                let row: Option<$crate::store::deploys::RulesRow> = sqlx::query_as(
                    "SELECT requires_approval, forbid_self_approval, held_by, held_by_name, \
                     hold_reason, held_at FROM deploy_environments \
                     WHERE app_id = $1 AND environment = $2",
                )
                .bind(app)
                .bind(environment)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into).unwrap_or_default())
            }

            async fn set_approval_rules(
                &self,
                app: uuid::Uuid,
                environment: &str,
                requires_approval: bool,
                forbid_self_approval: bool,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<()> {
                self.set_approval_rules_audited(app, environment, requires_approval, forbid_self_approval, audit).await
            }

            async fn lift_hold(
                &self,
                app: uuid::Uuid,
                environment: &str,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<bool> {
                self.lift_hold_audited(app, environment, audit).await
            }

            async fn environment_state(
                &self,
                app: uuid::Uuid,
                environment: &str,
                previous: Option<&str>,
            ) -> $crate::store::StoreResult<$crate::store::EnvironmentState> {
                use $crate::store::deploys::{DEPLOYMENT_COLUMNS, DEPLOYMENT_FROM, DeploymentRow};
                use $crate::store::deploys_sql::AUTOMATIC;
                let rules = self.environment_rules(app, environment).await?;
                let active: Option<DeploymentRow> = sqlx::query_as(&format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} \
                     WHERE d.app_id = $1 AND d.environment = $2 AND d.active"
                ))
                .bind(app)
                .bind(environment)
                .fetch_optional(&self.pool)
                .await?;
                let current: Option<DeploymentRow> = sqlx::query_as(&format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} \
                     WHERE d.app_id = $1 AND d.environment = $2 AND d.status = 'Succeeded' \
                     ORDER BY d.id DESC LIMIT 1"
                ))
                .bind(app)
                .bind(environment)
                .fetch_optional(&self.pool)
                .await?;
                let last_automatic: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT MAX(release_id) FROM deployments \
                     WHERE app_id = $1 AND environment = $2 AND trigger IN {AUTOMATIC}"
                ))
                .bind(app)
                .bind(environment)
                .fetch_one(&self.pool)
                .await?;
                let rows: Vec<(i64, String, String)> = match previous {
                    None => {
                        sqlx::query_as(
                            "SELECT id, sha, found_by FROM releases \
                             WHERE app_id = $1 AND accepted AND id > $2 ORDER BY id DESC LIMIT 50",
                        )
                        .bind(app)
                        .bind(last_automatic.unwrap_or(0))
                        .fetch_all(&self.pool)
                        .await?
                    }
                    Some(previous) => {
                        sqlx::query_as(&format!(
                            "SELECT r.id, r.sha, r.found_by FROM releases r \
                             WHERE r.app_id = $1 AND r.id > $2 AND EXISTS (SELECT 1 FROM deployments p \
                             WHERE p.release_id = r.id AND p.environment = $3 \
                             AND p.status = 'Succeeded' AND p.trigger IN {AUTOMATIC}) \
                             ORDER BY r.id DESC LIMIT 50"
                        ))
                        .bind(app)
                        .bind(last_automatic.unwrap_or(0))
                        .bind(previous)
                        .fetch_all(&self.pool)
                        .await?
                    }
                };
                let candidates = rows
                    .into_iter()
                    .map(|(release_id, sha, found_by)| $crate::store::Candidate {
                        release_id,
                        sha,
                        found_by: if previous.is_some() {
                            app::deploys::Trigger::Promotion
                        } else if found_by == "webhook" {
                            app::deploys::Trigger::Webhook
                        } else {
                            app::deploys::Trigger::Poll
                        },
                    })
                    .collect();
                Ok($crate::store::EnvironmentState {
                    rules,
                    active: active.map(TryInto::try_into).transpose()?,
                    current: current.map(TryInto::try_into).transpose()?,
                    candidates,
                })
            }

            async fn deploy_pending(
                &self,
                environments: &[String],
            ) -> $crate::store::StoreResult<Vec<(uuid::Uuid, String)>> {
                use $crate::store::deploys_sql::AUTOMATIC;
                let mut pending: Vec<(uuid::Uuid, String)> =
                    sqlx::query_as("SELECT app_id, environment FROM deployments WHERE active")
                        .fetch_all(&self.pool)
                        .await?;
                let not_held = "NOT EXISTS (SELECT 1 FROM deploy_environments h \
                     WHERE h.app_id = a.id AND h.environment = $1 AND h.held_at IS NOT NULL)";
                let last_here = format!(
                    "COALESCE((SELECT MAX(d.release_id) FROM deployments d WHERE d.app_id = a.id \
                     AND d.environment = $1 AND d.trigger IN {AUTOMATIC}), 0)"
                );
                for (position, environment) in environments.iter().enumerate() {
                    let apps: Vec<uuid::Uuid> = match position.checked_sub(1) {
                        None => {
                            sqlx::query_scalar(&format!(
                                "SELECT a.id FROM apps a WHERE {not_held} AND \
                                 (SELECT MAX(r.id) FROM releases r WHERE r.app_id = a.id AND r.accepted) \
                                 > {last_here}"
                            ))
                            .bind(environment)
                            .fetch_all(&self.pool)
                            .await?
                        }
                        Some(previous) => {
                            sqlx::query_scalar(&format!(
                                "SELECT a.id FROM apps a WHERE {not_held} AND \
                                 (SELECT MAX(p.release_id) FROM deployments p WHERE p.app_id = a.id \
                                 AND p.environment = $2 AND p.status = 'Succeeded' \
                                 AND p.trigger IN {AUTOMATIC}) > {last_here}"
                            ))
                            .bind(environment)
                            .bind(&environments[previous])
                            .fetch_all(&self.pool)
                            .await?
                        }
                    };
                    pending.extend(apps.into_iter().map(|app| (app, environment.clone())));
                }
                pending.sort();
                pending.dedup();
                Ok(pending)
            }

            async fn enqueue_deployment(
                &self,
                fence: Option<&$crate::store::Fence>,
                deployment: &$crate::store::NewDeployment,
                superseded: &[i64],
                replacing: Option<(i64, i64)>,
            ) -> $crate::store::StoreResult<$crate::store::Reported> {
                use $crate::store::Reported;
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                self.check_fence(&mut tx, fence).await?;
                if let Some((id, revision)) = replacing {
                    let done = sqlx::query(
                        "UPDATE deployments SET status = 'Superseded', active = FALSE, \
                         reason = $1, finished_at = $2, revision = revision + 1 \
                         WHERE id = $3 AND revision = $4 AND active",
                    )
                    .bind("a newer release took its place before it started")
                    .bind(now)
                    .bind(id)
                    .bind(revision)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Ok(Reported::Stale);
                    }
                }
                for release in superseded {
                    sqlx::query(
                        "INSERT INTO deployments (app_id, release_id, environment, trigger, \
                         trigger_detail, status, active, reason, created_at, finished_at) \
                         VALUES ($1, $2, $3, $4, $5, 'Superseded', FALSE, $6, $7, $7)",
                    )
                    .bind(deployment.app_id)
                    .bind(release)
                    .bind(&deployment.environment)
                    .bind(deployment.trigger.as_str())
                    .bind(&deployment.trigger_detail)
                    .bind("a newer release was waiting when the environment became free")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                match self.insert_deployment(&mut tx, deployment, now).await {
                    Ok(_) => {}
                    Err($crate::store::StoreError::Conflict(_)) => return Ok(Reported::Stale),
                    Err(error) => return Err(error),
                }
                tx.commit().await?;
                Ok(Reported::Applied)
            }

            async fn progress_deployment(
                &self,
                fence: Option<&$crate::store::Fence>,
                id: i64,
                revision: i64,
                progress: &$crate::store::Progress,
            ) -> $crate::store::StoreResult<$crate::store::Reported> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                self.check_fence(&mut tx, fence).await?;
                if !self.write_progress(&mut tx, id, revision, progress).await? {
                    return Ok($crate::store::Reported::Stale);
                }
                tx.commit().await?;
                Ok($crate::store::Reported::Applied)
            }

            async fn fail_and_roll_back(
                &self,
                fence: Option<&$crate::store::Fence>,
                id: i64,
                revision: i64,
                progress: &$crate::store::Progress,
                rollback: &$crate::store::NewDeployment,
            ) -> $crate::store::StoreResult<$crate::store::Reported> {
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                self.check_fence(&mut tx, fence).await?;
                if !self.write_progress(&mut tx, id, revision, progress).await? {
                    return Ok($crate::store::Reported::Stale);
                }
                let rollback_id = match self.insert_deployment(&mut tx, rollback, now).await {
                    Ok(rollback_id) => rollback_id,
                    Err($crate::store::StoreError::Conflict(_)) => {
                        return Ok($crate::store::Reported::Stale);
                    }
                    Err(error) => return Err(error),
                };
                sqlx::query("UPDATE deployments SET rolled_back_by = $1 WHERE id = $2")
                    .bind(rollback_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::store::Reported::Applied)
            }

            async fn deploy_by_person(
                &self,
                app: uuid::Uuid,
                environment: &str,
                person: &$crate::store::Person,
                deploy: &$crate::store::PersonalDeploy,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<i64> {
                self.deploy_by_person_audited(app, environment, person, deploy, audit).await
            }

            async fn decide_approval(
                &self,
                id: i64,
                decision: &$crate::store::Approval,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<()> {
                self.decide_approval_audited(id, decision, audit).await
            }

            async fn deployment(
                &self,
                id: i64,
            ) -> $crate::store::StoreResult<$crate::store::DeploymentRecord> {
                use $crate::store::deploys::{DEPLOYMENT_COLUMNS, DEPLOYMENT_FROM, DeploymentRow};
                let row: Option<DeploymentRow> = sqlx::query_as(&format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM {DEPLOYMENT_FROM} WHERE d.id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn deployments(
                &self,
                query: &$crate::store::DeploymentQuery,
            ) -> $crate::store::StoreResult<$crate::store::Page<$crate::store::DeploymentRecord>>
            {
                self.history_page(query).await
            }

            async fn current_deployments(
                &self,
                apps: &[uuid::Uuid],
            ) -> $crate::store::StoreResult<Vec<(uuid::Uuid, String, i64)>> {
                if apps.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders: Vec<String> =
                    (1..=apps.len()).map(|index| format!("${index}")).collect();
                let sql = format!(
                    "SELECT app_id, environment, MAX(id) FROM deployments \
                     WHERE status = 'Succeeded' AND app_id IN ({}) GROUP BY app_id, environment",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query_as(&sql);
                for app in apps {
                    query = query.bind(app);
                }
                Ok(query.fetch_all(&self.pool).await?)
            }

            async fn matrix_entries(
                &self,
                apps: &[uuid::Uuid],
            ) -> $crate::store::StoreResult<$crate::store::MatrixEntries> {
                self.matrix_rows(apps).await
            }

            async fn attempts_since(
                &self,
                app: uuid::Uuid,
                environment: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DeploymentRecord>> {
                self.attempts_of(app, environment, since).await
            }

            async fn release_images(
                &self,
                release: i64,
            ) -> $crate::store::StoreResult<std::collections::BTreeMap<String, String>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT component, image FROM release_images WHERE release_id = $1",
                )
                .bind(release)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().collect())
            }

            async fn record_release_image(
                &self,
                release: i64,
                component: &str,
                image: &str,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO release_images (release_id, component, image, built_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (release_id, component) DO NOTHING",
                )
                .bind(release)
                .bind(component)
                .bind(image)
                .bind(chrono::Utc::now())
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }

        impl $store {
            async fn insert_deployment(
                &self,
                tx: &mut sqlx::Transaction<'static, <Self as $crate::store::deploys_sql::Db>::Db>,
                deployment: &$crate::store::NewDeployment,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<i64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO deployments (app_id, release_id, environment, trigger, trigger_detail, \
                     triggered_by, triggered_by_name, rollback_of, status, active, approval, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $10, $11) RETURNING id",
                )
                .bind(deployment.app_id)
                .bind(deployment.release_id)
                .bind(&deployment.environment)
                .bind(deployment.trigger.as_str())
                .bind(&deployment.trigger_detail)
                .bind(deployment.by.as_ref().map(|person| person.id))
                .bind(deployment.by.as_ref().map(|person| person.name.as_str()))
                .bind(deployment.rollback_of)
                .bind(deployment.status.as_str())
                .bind(deployment.approval_required.then_some("required"))
                .bind(now)
                .fetch_one(&mut **tx)
                .await
                .map_err(|error| {
                    $crate::store::shared::conflict_or(error, || {
                        format!(
                            "another deployment is unfinished in {}",
                            deployment.environment
                        )
                    })
                })?;
                Ok(id)
            }

            /// Writes the engine's progress over the revision it read;
            /// `false` when the row moved on.
            async fn write_progress(
                &self,
                tx: &mut sqlx::Transaction<'static, <Self as $crate::store::deploys_sql::Db>::Db>,
                id: i64,
                revision: i64,
                progress: &$crate::store::Progress,
            ) -> $crate::store::StoreResult<bool> {
                let now = chrono::Utc::now();
                let active = progress.status.is_active();
                let steps = serde_json::to_string(&progress.steps)
                    .map_err(|error| $crate::store::StoreError::Corrupt(error.to_string()))?;
                let (passed, failed) = $crate::store::deploys::test_counts(&progress.steps);
                let done = sqlx::query(
                    "UPDATE deployments SET status = $1, reason = $2, steps = $3, tests_passed = $4, \
                     tests_failed = $5, active = $6, \
                     started_at = CASE WHEN started_at IS NULL AND $7 THEN $8 ELSE started_at END, \
                     finished_at = CASE WHEN $6 THEN NULL ELSE $8 END, revision = revision + 1 \
                     WHERE id = $9 AND revision = $10 AND active",
                )
                .bind(progress.status.as_str())
                .bind(&progress.reason)
                .bind(steps)
                .bind(passed)
                .bind(failed)
                .bind(active)
                .bind(progress.status.is_running() || !active)
                .bind(now)
                .bind(id)
                .bind(revision)
                .execute(&mut **tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use impl_deploy_store;

/// The sqlx database of a store, for the helpers that take a transaction.
pub(crate) trait Db {
    type Db: sqlx::Database;
}
