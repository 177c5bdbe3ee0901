//! The apps domain's SQL, for both engines (see `apps.rs`).

macro_rules! impl_app_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AppStore for $store {
            async fn create_app(
                &self,
                app: $crate::store::NewApp,
            ) -> $crate::store::StoreResult<$crate::store::AppRecord> {
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                sqlx::query(
                    "INSERT INTO apps (id, name, repository_url, branch, poll_interval_seconds, \
                     credentials_kind, credentials_sealed, webhook_secret_sealed, created_by, \
                     created_at, updated_at, next_poll_at, build_mode) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $11)",
                )
                .bind(app.id)
                .bind(&app.name)
                .bind(&app.repository_url)
                .bind(&app.branch)
                .bind(i64::from(app.poll_interval_seconds))
                .bind(app.credentials.as_ref().map(|c| c.kind.as_str()))
                .bind(app.credentials.as_ref().map(|c| c.sealed.as_str()))
                .bind(&app.webhook_secret_sealed)
                .bind(app.created_by)
                .bind(now)
                .bind(app.build.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|error| {
                    $crate::store::shared::conflict_or(error, || {
                        format!("an app named {:?} exists already", app.name)
                    })
                })?;
                for maintainer in &app.maintainers {
                    sqlx::query("INSERT INTO app_maintainers (app_id, user_id) VALUES ($1, $2)")
                        .bind(app.id)
                        .bind(maintainer)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(audit) = &app.audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                self.app(app.id).await
            }

            async fn app(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::store::AppRecord> {
                let sql = format!(
                    "SELECT {} FROM apps WHERE id = $1",
                    $crate::store::apps::APP_COLUMNS
                );
                let row: Option<$crate::store::apps::AppRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn app_by_name(
                &self,
                name: &str,
            ) -> $crate::store::StoreResult<$crate::store::AppRecord> {
                let sql = format!(
                    "SELECT {} FROM apps WHERE name = $1",
                    $crate::store::apps::APP_COLUMNS
                );
                let row: Option<$crate::store::apps::AppRow> =
                    sqlx::query_as(&sql).bind(name).fetch_optional(&self.pool).await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn list_apps(
                &self,
                query: &$crate::store::AppQuery,
            ) -> $crate::store::StoreResult<$crate::store::Page<$crate::store::AppRecord>> {
                let pattern = query.search.as_deref().map($crate::store::shared::contains_pattern);
                let filter = if pattern.is_some() {
                    "WHERE LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(repository_url) LIKE $1 ESCAPE '\\'"
                } else {
                    "WHERE $1 IS NULL"
                };
                let sql = format!(
                    "SELECT {} FROM apps {filter} ORDER BY name, id LIMIT $2 OFFSET $3",
                    $crate::store::apps::APP_COLUMNS
                );
                let rows: Vec<$crate::store::apps::AppRow> = sqlx::query_as(&sql)
                    .bind(&pattern)
                    .bind($crate::store::page_size(query.limit))
                    .bind(i64::from(query.offset))
                    .fetch_all(&self.pool)
                    .await?;
                let count_sql = format!("SELECT COUNT(*) FROM apps {filter}");
                let total = $crate::store::shared::page_total(
                    query.offset,
                    query.limit,
                    rows.len(),
                    sqlx::query_scalar(&count_sql).bind(&pattern).fetch_one(&self.pool),
                )
                .await?;
                Ok($crate::store::Page {
                    items: rows
                        .into_iter()
                        .map($crate::store::AppRecord::try_from)
                        .collect::<$crate::store::StoreResult<_>>()?,
                    total,
                })
            }

            async fn app_maintainers(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<uuid::Uuid>> {
                let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
                    "SELECT user_id FROM app_maintainers WHERE app_id = $1 ORDER BY user_id",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                Ok(ids)
            }

            async fn change_app(
                &self,
                id: uuid::Uuid,
                settings: $crate::store::AppSettings,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<$crate::store::AppRecord> {
                use $crate::store::AppSettings;
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let done = match &settings {
                    AppSettings::Branch(branch) => {
                        // Another branch: the next poll starts from its head.
                        sqlx::query(
                            "UPDATE apps SET branch = $1, next_poll_at = $2, updated_at = $2 WHERE id = $3",
                        )
                        .bind(branch)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                    }
                    AppSettings::PollInterval(seconds) => {
                        sqlx::query(
                            "UPDATE apps SET poll_interval_seconds = $1, updated_at = $2 WHERE id = $3",
                        )
                        .bind(i64::from(*seconds))
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                    }
                    AppSettings::Credentials(credentials) => {
                        sqlx::query(
                            "UPDATE apps SET credentials_kind = $1, credentials_sealed = $2, \
                             next_poll_at = $3, updated_at = $3 WHERE id = $4",
                        )
                        .bind(credentials.as_ref().map(|c| c.kind.as_str()))
                        .bind(credentials.as_ref().map(|c| c.sealed.as_str()))
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                    }
                    AppSettings::WebhookSecret(sealed) => {
                        sqlx::query(
                            "UPDATE apps SET webhook_secret_sealed = $1, \
                             webhook_secret_version = webhook_secret_version + 1, updated_at = $2 \
                             WHERE id = $3",
                        )
                        .bind(sealed)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                    }
                    AppSettings::Build(build) => {
                        sqlx::query("UPDATE apps SET build_mode = $1, updated_at = $2 WHERE id = $3")
                            .bind(build.as_str())
                            .bind(now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?
                    }
                    AppSettings::Maintainers(maintainers) => {
                        sqlx::query("DELETE FROM app_maintainers WHERE app_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        for maintainer in maintainers {
                            sqlx::query(
                                "INSERT INTO app_maintainers (app_id, user_id) VALUES ($1, $2)",
                            )
                            .bind(id)
                            .bind(maintainer)
                            .execute(&mut *tx)
                            .await?;
                        }
                        sqlx::query("UPDATE apps SET updated_at = $1 WHERE id = $2")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?
                    }
                };
                $crate::store::users::found(done.rows_affected())?;
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                self.app(id).await
            }

            async fn delete_app(
                &self,
                id: uuid::Uuid,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let done = sqlx::query("DELETE FROM apps WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                $crate::store::users::found(done.rows_affected())?;
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn apps_due(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<uuid::Uuid>> {
                let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
                    "SELECT id FROM apps WHERE next_poll_at <= $1 ORDER BY next_poll_at, id LIMIT $2",
                )
                .bind(now)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&self.pool)
                .await?;
                Ok(ids)
            }

            async fn record_poll(
                &self,
                id: uuid::Uuid,
                read_head: Option<&str>,
                outcome: $crate::store::PollOutcome,
                next_poll_at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                use $crate::store::PollOutcome;
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let done = match &outcome {
                    PollOutcome::Unchanged => {
                        sqlx::query(
                            "UPDATE apps SET last_polled_at = $1, last_error = NULL, failures = 0, \
                             next_poll_at = $2 WHERE id = $3",
                        )
                        .bind(now)
                        .bind(next_poll_at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                    }
                    PollOutcome::Failed(reason) => {
                        sqlx::query(
                            "UPDATE apps SET last_polled_at = $1, last_error = $2, \
                             failures = failures + 1, next_poll_at = $3 WHERE id = $4",
                        )
                        .bind(now)
                        .bind(reason)
                        .bind(next_poll_at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                    }
                    PollOutcome::NewRelease(release) => {
                        let moved = sqlx::query(
                            "UPDATE apps SET head_sha = $1, last_polled_at = $2, last_error = NULL, \
                             failures = 0, next_poll_at = $3 \
                             WHERE id = $4 AND COALESCE(head_sha, '') = COALESCE($5, '')",
                        )
                        .bind(&release.sha)
                        .bind(now)
                        .bind(next_poll_at)
                        .bind(id)
                        .bind(read_head)
                        .execute(&mut *tx)
                        .await?;
                        if moved.rows_affected() == 1 {
                            sqlx::query(
                                "INSERT INTO releases (app_id, sha, subject, author, author_email, \
                                 committed_at, previous_sha, force_pushed, commits, \
                                 commits_truncated, dscloud_yaml, accepted, problems, created_at, \
                                 found_by) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                            )
                            .bind(id)
                            .bind(&release.sha)
                            .bind(&release.subject)
                            .bind(&release.author)
                            .bind(&release.author_email)
                            .bind(&release.committed_at)
                            .bind(&release.previous_sha)
                            .bind(release.force_pushed)
                            .bind(release.commits.to_string())
                            .bind(release.commits_truncated)
                            .bind(&release.dscloud_yaml)
                            .bind(release.accepted)
                            .bind(release.problems.to_string())
                            .bind(now)
                            .bind(if release.found_by_webhook { "webhook" } else { "poll" })
                            .execute(&mut *tx)
                            .await?;
                        }
                        moved
                    }
                };
                tx.commit().await?;
                if done.rows_affected() == 0 {
                    // Either gone, or another poller recorded this head first.
                    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM apps WHERE id = $1")
                        .bind(id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err($crate::store::StoreError::from)
                        .and_then(|count| $crate::store::users::found(count as u64))?;
                }
                Ok(())
            }

            async fn record_webhook(
                &self,
                id: uuid::Uuid,
                delivery_id: &str,
            ) -> $crate::store::StoreResult<bool> {
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let fresh = sqlx::query(
                    "INSERT INTO webhook_deliveries (app_id, delivery_id, received_at) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(delivery_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let done = sqlx::query(
                    "UPDATE apps SET last_webhook_at = $1, \
                     next_poll_at = CASE WHEN $2 THEN $1 ELSE next_poll_at END WHERE id = $3",
                )
                .bind(now)
                .bind(fresh)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                $crate::store::users::found(done.rows_affected())?;
                tx.commit().await?;
                Ok(fresh)
            }

            async fn sealed_app_values(&self) -> $crate::store::StoreResult<Vec<String>> {
                let rows: Vec<(Option<String>, String)> = sqlx::query_as(
                    "SELECT credentials_sealed, webhook_secret_sealed FROM apps",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .flat_map(|(credentials, webhook)| credentials.into_iter().chain([webhook]))
                    .collect())
            }

            async fn releases(
                &self,
                app: uuid::Uuid,
                limit: u32,
                offset: u32,
            ) -> $crate::store::StoreResult<$crate::store::Page<$crate::store::ReleaseRecord>>
            {
                let sql = format!(
                    "SELECT {} FROM releases WHERE app_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
                    $crate::store::apps::RELEASE_COLUMNS
                );
                let rows: Vec<$crate::store::apps::ReleaseRow> = sqlx::query_as(&sql)
                    .bind(app)
                    .bind($crate::store::page_size(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await?;
                let total: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM releases WHERE app_id = $1")
                        .bind(app)
                        .fetch_one(&self.pool)
                        .await?;
                Ok($crate::store::Page {
                    items: rows
                        .into_iter()
                        .map($crate::store::ReleaseRecord::try_from)
                        .collect::<$crate::store::StoreResult<_>>()?,
                    total: $crate::store::shared::count(total),
                })
            }

            async fn release(
                &self,
                app: uuid::Uuid,
                sha: &str,
            ) -> $crate::store::StoreResult<$crate::store::ReleaseRecord> {
                let sql = format!(
                    "SELECT {} FROM releases WHERE app_id = $1 AND sha = $2 ORDER BY id DESC LIMIT 1",
                    $crate::store::apps::RELEASE_COLUMNS
                );
                let row: Option<$crate::store::apps::ReleaseRow> = sqlx::query_as(&sql)
                    .bind(app)
                    .bind(sha)
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn newest_releases(
                &self,
                apps: &[uuid::Uuid],
            ) -> $crate::store::StoreResult<Vec<$crate::store::ReleaseRecord>> {
                if apps.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders: Vec<String> =
                    (1..=apps.len()).map(|index| format!("${index}")).collect();
                let sql = format!(
                    "SELECT {} FROM releases WHERE id IN (SELECT MAX(id) FROM releases \
                     WHERE app_id IN ({}) GROUP BY app_id)",
                    $crate::store::apps::RELEASE_COLUMNS,
                    placeholders.join(", ")
                );
                let mut query = sqlx::query_as::<_, $crate::store::apps::ReleaseRow>(&sql);
                for app in apps {
                    query = query.bind(*app);
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map($crate::store::ReleaseRecord::try_from)
                    .collect()
            }

            async fn latest_accepted_release(
                &self,
                app: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::ReleaseRecord>> {
                let sql = format!(
                    "SELECT {} FROM releases WHERE app_id = $1 AND accepted = TRUE \
                     ORDER BY id DESC LIMIT 1",
                    $crate::store::apps::RELEASE_COLUMNS
                );
                let row: Option<$crate::store::apps::ReleaseRow> = sqlx::query_as(&sql)
                    .bind(app)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }
        }
    };
}
pub(crate) use impl_app_store;
