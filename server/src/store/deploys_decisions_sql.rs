//! People's decisions on deployments (see `deploys.rs`): approval rules,
//! holds lifted, deploys by hand (rollback, redeploy), approvals given or
//! refused. Each is written with its audit event in one transaction.
//! Inherent methods the trait's impl in `deploys_sql.rs` calls.

macro_rules! impl_deploy_decisions {
    ($store:ty) => {
        impl $store {
            async fn set_approval_rules_audited(
                &self,
                app: uuid::Uuid,
                environment: &str,
                requires_approval: bool,
                forbid_self_approval: bool,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                sqlx::query(
                    "INSERT INTO deploy_environments (app_id, environment, requires_approval, \
                     forbid_self_approval) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (app_id, environment) DO UPDATE SET \
                     requires_approval = excluded.requires_approval, \
                     forbid_self_approval = excluded.forbid_self_approval",
                )
                .bind(app)
                .bind(environment)
                .bind(requires_approval)
                .bind(forbid_self_approval)
                .execute(&mut *tx)
                .await?;
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn lift_hold_audited(
                &self,
                app: uuid::Uuid,
                environment: &str,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let done = sqlx::query(
                    "UPDATE deploy_environments SET held_by = NULL, held_by_name = NULL, \
                     hold_reason = NULL, held_at = NULL \
                     WHERE app_id = $1 AND environment = $2 AND held_at IS NOT NULL",
                )
                .bind(app)
                .bind(environment)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn deploy_by_person_audited(
                &self,
                app: uuid::Uuid,
                environment: &str,
                person: &$crate::store::Person,
                deploy: &$crate::store::PersonalDeploy,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<i64> {
                use app::deploys::{DeploymentStatus, Trigger};
                use $crate::store::PersonalDeploy;
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let active: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, status FROM deployments WHERE app_id = $1 AND environment = $2 AND active",
                )
                .bind(app)
                .bind(environment)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((id, status)) = active {
                    let status = DeploymentStatus::parse(&status).unwrap_or(DeploymentStatus::Queued);
                    if status.is_running() {
                        return Err($crate::store::StoreError::Conflict(format!(
                            "deployment #{id} is {} in {environment}; wait until it ends",
                            status.label()
                        )));
                    }
                    sqlx::query(
                        "UPDATE deployments SET status = 'Superseded', active = FALSE, reason = $1, \
                         finished_at = $2, revision = revision + 1 WHERE id = $3",
                    )
                    .bind(format!("{} deployed another release by hand", person.name))
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                let (release_id, trigger) = match deploy {
                    PersonalDeploy::Rollback { release_id, .. } => (*release_id, Trigger::Rollback),
                    PersonalDeploy::Redeploy { release_id } => (*release_id, Trigger::Redeploy),
                };
                let deployment = $crate::store::NewDeployment {
                    app_id: app,
                    release_id,
                    environment: environment.to_string(),
                    trigger,
                    trigger_detail: None,
                    by: Some(person.clone()),
                    rollback_of: None,
                    status: DeploymentStatus::Queued,
                    approval_required: false,
                };
                let id = self.insert_deployment(&mut tx, &deployment, now).await?;
                if let PersonalDeploy::Rollback { reason, .. } = deploy {
                    sqlx::query(
                        "INSERT INTO deploy_environments (app_id, environment, held_by, held_by_name, \
                         hold_reason, held_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (app_id, environment) DO UPDATE SET held_by = excluded.held_by, \
                         held_by_name = excluded.held_by_name, hold_reason = excluded.hold_reason, \
                         held_at = excluded.held_at",
                    )
                    .bind(app)
                    .bind(environment)
                    .bind(person.id)
                    .bind(&person.name)
                    .bind(reason)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(audit) = audit {
                    // The event names the deployment this made.
                    let mut audit = audit.clone();
                    if let Some(details) = audit.details.as_object_mut() {
                        details.insert("deployment".to_string(), id.into());
                    }
                    $crate::store::audit::append_audit_in!(tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(id)
            }

            async fn decide_approval_audited(
                &self,
                id: i64,
                decision: &$crate::store::Approval,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<()> {
                let (status, verdict) = if decision.approved {
                    ("Queued", "approved")
                } else {
                    ("Rejected", "rejected")
                };
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let done = sqlx::query(
                    "UPDATE deployments SET status = $1, active = $2, approval = $3, approval_by = $4, \
                     approval_by_name = $5, approval_comment = $6, approval_at = $7, \
                     reason = CASE WHEN $2 THEN reason ELSE $8 END, \
                     finished_at = CASE WHEN $2 THEN NULL ELSE $7 END, revision = revision + 1 \
                     WHERE id = $9 AND status = 'AwaitingApproval'",
                )
                .bind(status)
                .bind(decision.approved)
                .bind(verdict)
                .bind(decision.by)
                .bind(&decision.by_name)
                .bind(&decision.comment)
                .bind(decision.at)
                .bind(format!("rejected by {}", decision.by_name))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    if let Some(audit) = audit {
                        $crate::store::audit::append_audit_in!(tx, audit).await?;
                    }
                    tx.commit().await?;
                    return Ok(());
                }
                drop(tx);
                let deployment = $crate::store::DeployStore::deployment(self, id).await?;
                Err($crate::store::StoreError::Conflict(format!(
                    "deployment #{id} no longer waits for approval: it is {}",
                    deployment.status.label()
                )))
            }
        }
    };
}
pub(crate) use impl_deploy_decisions;
