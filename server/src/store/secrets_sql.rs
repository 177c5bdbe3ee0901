//! The secrets domain's SQL, for both engines (see `secrets.rs`).

macro_rules! impl_secret_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SecretStore for $store {
            async fn insert_secret_versions(
                &self,
                app: uuid::Uuid,
                environment: &str,
                versions: &[$crate::store::NewSecretVersion],
                by: &$crate::store::Person,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<()> {
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                for version in versions {
                    sqlx::query(
                        "INSERT INTO secret_values (app_id, environment, secret_group, name, \
                         version, sealed, created_by, created_by_name, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(app)
                    .bind(environment)
                    .bind(&version.slot.group)
                    .bind(&version.slot.name)
                    .bind(version.version)
                    .bind(&version.sealed)
                    .bind(by.id)
                    .bind(&by.name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| {
                        $crate::store::shared::conflict_or(error, || {
                            format!(
                                "{} changed in {environment} meanwhile (version {} exists): reload and try again",
                                version.slot.label(),
                                version.version
                            )
                        })
                    })?;
                }
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn latest_secrets(
                &self,
                app: uuid::Uuid,
                environment: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::SecretVersion>> {
                let sql = format!(
                    "SELECT {} FROM secret_values s WHERE app_id = $1 AND environment = $2 \
                     AND version = (SELECT MAX(l.version) FROM secret_values l \
                     WHERE l.app_id = s.app_id AND l.environment = s.environment \
                     AND l.secret_group = s.secret_group AND l.name = s.name) \
                     ORDER BY secret_group, name",
                    $crate::store::secrets::SECRET_COLUMNS
                );
                let rows: Vec<$crate::store::secrets::SecretRow> = sqlx::query_as(&sql)
                    .bind(app)
                    .bind(environment)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn secret_history(
                &self,
                app: uuid::Uuid,
                environment: &str,
                slot: &$crate::store::SecretSlot,
            ) -> $crate::store::StoreResult<Vec<$crate::store::SecretVersion>> {
                let sql = format!(
                    "SELECT {} FROM secret_values WHERE app_id = $1 AND environment = $2 \
                     AND secret_group = $3 AND name = $4 ORDER BY version DESC LIMIT 100",
                    $crate::store::secrets::SECRET_COLUMNS
                );
                let rows: Vec<$crate::store::secrets::SecretRow> = sqlx::query_as(&sql)
                    .bind(app)
                    .bind(environment)
                    .bind(&slot.group)
                    .bind(&slot.name)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn mark_secrets_synced(
                &self,
                fence: Option<&$crate::store::Fence>,
                app: uuid::Uuid,
                environment: &str,
                through: i64,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                self.check_fence(&mut tx, fence).await?;
                sqlx::query(
                    "UPDATE secret_values SET synced_at = $1 WHERE app_id = $2 \
                     AND environment = $3 AND id <= $4 AND synced_at IS NULL",
                )
                .bind(chrono::Utc::now())
                .bind(app)
                .bind(environment)
                .bind(through)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn record_secret_versions(
                &self,
                fence: Option<&$crate::store::Fence>,
                deployment: i64,
                versions: &$crate::store::SecretVersions,
            ) -> $crate::store::StoreResult<()> {
                let json = serde_json::to_string(versions).map_err(|error| {
                    $crate::store::StoreError::Corrupt(format!("secret versions: {error}"))
                })?;
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                self.check_fence(&mut tx, fence).await?;
                sqlx::query("UPDATE deployments SET secret_versions = $1 WHERE id = $2")
                    .bind(json)
                    .bind(deployment)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn deployment_secret_versions(
                &self,
                deployment: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::SecretVersions>> {
                let json: Option<Option<String>> =
                    sqlx::query_scalar("SELECT secret_versions FROM deployments WHERE id = $1")
                        .bind(deployment)
                        .fetch_optional(&self.pool)
                        .await?;
                match json.flatten() {
                    None => Ok(None),
                    Some(json) => serde_json::from_str(&json).map(Some).map_err(|error| {
                        $crate::store::StoreError::Corrupt(format!(
                            "deployment {deployment}: secret versions: {error}"
                        ))
                    }),
                }
            }

            async fn last_secret_attempt(
                &self,
                app: uuid::Uuid,
                environment: &str,
            ) -> $crate::store::StoreResult<Option<(i64, Option<$crate::store::SecretVersions>)>>
            {
                let row: Option<(i64, Option<String>)> = sqlx::query_as(
                    "SELECT id, secret_versions FROM deployments WHERE app_id = $1 \
                     AND environment = $2 ORDER BY id DESC LIMIT 1",
                )
                .bind(app)
                .bind(environment)
                .fetch_optional(&self.pool)
                .await?;
                let Some((id, json)) = row else { return Ok(None) };
                let versions = match json {
                    None => None,
                    Some(json) => Some(serde_json::from_str(&json).map_err(|error| {
                        $crate::store::StoreError::Corrupt(format!(
                            "deployment {id}: secret versions: {error}"
                        ))
                    })?),
                };
                Ok(Some((id, versions)))
            }

            async fn unsynced_secrets(
                &self,
                environments: &[String],
            ) -> $crate::store::StoreResult<Vec<(uuid::Uuid, String)>> {
                let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as(
                    "SELECT DISTINCT app_id, environment FROM secret_values WHERE synced_at IS NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .filter(|(_, environment)| environments.contains(environment))
                    .collect())
            }

            async fn sealed_secrets(
                &self,
                after: i64,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::SealedSecret>> {
                let rows: Vec<(i64, uuid::Uuid, String, String, String, i64, String)> =
                    sqlx::query_as(
                        "SELECT id, app_id, environment, secret_group, name, version, sealed \
                         FROM secret_values WHERE id > $1 AND sealed IS NOT NULL \
                         ORDER BY id LIMIT $2",
                    )
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, app_id, environment, group, name, version, sealed)| {
                        $crate::store::SealedSecret {
                            id,
                            app_id,
                            environment,
                            slot: $crate::store::SecretSlot { group, name },
                            version,
                            sealed,
                        }
                    })
                    .collect())
            }

            async fn rewrap_secret(
                &self,
                id: i64,
                old: &str,
                new: &str,
            ) -> $crate::store::StoreResult<bool> {
                let done =
                    sqlx::query("UPDATE secret_values SET sealed = $1 WHERE id = $2 AND sealed = $3")
                        .bind(new)
                        .bind(id)
                        .bind(old)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn sealed_rows_per_key(
                &self,
            ) -> $crate::store::StoreResult<Vec<(String, u64)>> {
                use futures_util::TryStreamExt as _;
                let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
                let mut count = |sealed: &str| {
                    let id = $crate::crypto::key_id_of(sealed).unwrap_or("(unreadable)");
                    *counts.entry(id.to_string()).or_default() += 1;
                };
                let mut rows = sqlx::query_scalar::<_, String>(
                    "SELECT sealed FROM secret_values WHERE sealed IS NOT NULL",
                )
                .fetch(&self.pool);
                while let Some(sealed) = rows.try_next().await? {
                    count(&sealed);
                }
                drop(rows);
                for sealed in $crate::store::AppStore::sealed_app_values(self).await? {
                    count(&sealed);
                }
                Ok(counts.into_iter().collect())
            }

            async fn sealed_app_rows(
                &self,
            ) -> $crate::store::StoreResult<Vec<$crate::store::SealedAppRow>> {
                let rows: Vec<(uuid::Uuid, Option<String>, String, i64)> = sqlx::query_as(
                    "SELECT id, credentials_sealed, webhook_secret_sealed, webhook_secret_version \
                     FROM apps ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(app_id, credentials, webhook_secret, webhook_secret_version)| {
                        $crate::store::SealedAppRow {
                            app_id,
                            credentials,
                            webhook_secret,
                            webhook_secret_version,
                        }
                    })
                    .collect())
            }

            async fn rewrap_app_value(
                &self,
                app: uuid::Uuid,
                which: $crate::store::AppSealed,
                old: &str,
                new: &str,
            ) -> $crate::store::StoreResult<bool> {
                let sql = match which {
                    $crate::store::AppSealed::Credentials => {
                        "UPDATE apps SET credentials_sealed = $1 WHERE id = $2 AND credentials_sealed = $3"
                    }
                    $crate::store::AppSealed::WebhookSecret => {
                        "UPDATE apps SET webhook_secret_sealed = $1 WHERE id = $2 AND webhook_secret_sealed = $3"
                    }
                };
                let done = sqlx::query(sql)
                    .bind(new)
                    .bind(app)
                    .bind(old)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use impl_secret_store;
