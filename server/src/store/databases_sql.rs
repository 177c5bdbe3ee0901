//! The databases domain's SQL, for both engines (see `databases.rs`).

macro_rules! impl_database_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::DatabaseStore for $store {
            async fn create_database(
                &self,
                database: $crate::store::NewDatabase,
            ) -> $crate::store::StoreResult<$crate::store::Creation> {
                use $crate::store::{Creation, StoreError};
                if let Some(earlier) = self.database_by_request_key(&database).await? {
                    return Ok(Creation::Replayed(earlier));
                }
                let now = chrono::Utc::now();
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let (quota, usage) =
                    $crate::store::quotas::lock_quota_of!(tx, database.owner_id, None).await?;
                if let Some(reason) = quota.refusal(&usage, &usage.with(&database.tier)) {
                    return Err(StoreError::OverQuota(reason));
                }
                let inserted = sqlx::query(
                    "INSERT INTO databases (id, owner_id, name, engine, tier, region, status, \
                     created_at, updated_at, schema_name, request_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $7, $8, $9)",
                )
                .bind(database.id)
                .bind(database.owner_id)
                .bind(&database.name)
                .bind(database.engine.as_str())
                .bind(database.tier.name)
                .bind(&database.region)
                .bind(now)
                .bind(&database.schema_name)
                .bind(&database.request_key)
                .execute(&mut *tx)
                .await;
                if let Err(error) = inserted {
                    drop(tx);
                    // The same form sent twice at once: the other request
                    // created it, and this one answers with that database.
                    if let Some(earlier) = self.database_by_request_key(&database).await? {
                        return Ok(Creation::Replayed(earlier));
                    }
                    return Err($crate::store::shared::conflict_or(error, || {
                        format!(
                            "you already have a database named {:?}; choose another name",
                            database.name
                        )
                    }));
                }
                if let Some(audit) = &database.audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                self.database_changes.bump();
                Ok(Creation::Created(self.database(database.id).await?))
            }

            async fn database(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::store::DatabaseRecord> {
                let sql = format!(
                    "SELECT {} FROM databases WHERE id = $1",
                    $crate::store::databases::DATABASE_COLUMNS
                );
                let row: Option<$crate::store::databases::DatabaseRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn list_databases(
                &self,
                query: &$crate::store::DatabaseQuery,
            ) -> $crate::store::StoreResult<$crate::store::Page<$crate::store::DatabaseRecord>>
            {
                let pattern = query.search.as_deref().map($crate::store::shared::contains_pattern);
                let (filter, parameters) =
                    $crate::store::databases::listing_filter(query, pattern.is_some());
                let sql = format!(
                    "SELECT {columns} FROM databases {filter} \
                     ORDER BY created_at DESC, id DESC LIMIT ${limit} OFFSET ${offset}",
                    columns = $crate::store::databases::DATABASE_COLUMNS,
                    limit = parameters + 1,
                    offset = parameters + 2,
                );
                let count_sql = format!("SELECT COUNT(*) FROM databases {filter}");
                let mut rows_query =
                    sqlx::query_as::<_, $crate::store::databases::DatabaseRow>(&sql);
                let mut count_query = sqlx::query_scalar::<_, i64>(&count_sql);
                if let Some(owner) = query.owner_id {
                    rows_query = rows_query.bind(owner);
                    count_query = count_query.bind(owner);
                }
                if let Some(pattern) = &pattern {
                    rows_query = rows_query.bind(pattern.clone());
                    count_query = count_query.bind(pattern.clone());
                }
                if let Some(status) = query.status {
                    rows_query = rows_query.bind(status.as_str());
                    count_query = count_query.bind(status.as_str());
                }
                let rows = rows_query
                    .bind($crate::store::page_size(query.limit))
                    .bind(i64::from(query.offset))
                    .fetch_all(&self.pool)
                    .await?;
                let total = $crate::store::shared::page_total(
                    query.offset,
                    query.limit,
                    rows.len(),
                    count_query.fetch_one(&self.pool),
                )
                .await?;
                Ok($crate::store::Page {
                    items: $crate::store::databases::records(rows)?,
                    total,
                })
            }

            async fn change_database(
                &self,
                id: uuid::Uuid,
                change: $crate::store::DesiredChange,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<$crate::store::DatabaseRecord> {
                use $crate::store::{DesiredChange, StoreError};
                let (set, condition) = change.sql();
                let sql = format!(
                    "UPDATE databases SET {set}, updated_at = $2 WHERE id = $1 AND {condition}"
                );
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                if let DesiredChange::Resize(tier) = change {
                    let owner: Option<uuid::Uuid> =
                        sqlx::query_scalar("SELECT owner_id FROM databases WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let owner = owner.ok_or(StoreError::NotFound)?;
                    let (quota, others) =
                        $crate::store::quotas::lock_quota_of!(tx, owner, Some(id)).await?;
                    let current: String =
                        sqlx::query_scalar("SELECT tier FROM databases WHERE id = $1")
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                    let before = others.with($crate::store::quotas::size(&current)?);
                    if let Some(reason) = quota.refusal(&before, &others.with(&tier)) {
                        return Err(StoreError::OverQuota(reason));
                    }
                }
                let query = sqlx::query(&sql).bind(id).bind(chrono::Utc::now());
                let query = match change {
                    DesiredChange::Resize(tier) => query.bind(tier.name),
                    DesiredChange::DeletionProtection(enabled) => query.bind(enabled),
                    _ => query,
                };
                let done = query.execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    drop(tx);
                    let after = self.database(id).await?;
                    return Err(StoreError::Conflict(change.refusal(&after).unwrap_or_else(
                        || format!("{} changed meanwhile; look again and retry", after.name),
                    )));
                }
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                self.database_changes.bump();
                self.database(id).await
            }

            async fn pending_databases(
                &self,
                region: Option<&str>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Pending>> {
                let sql = format!(
                    "SELECT {} FROM databases WHERE settled = FALSE \
                     AND ($1 IS NULL OR region = $1) ORDER BY updated_at, id LIMIT $2",
                    $crate::store::databases::DATABASE_COLUMNS
                );
                let rows: Vec<$crate::store::databases::DatabaseRow> = sqlx::query_as(&sql)
                    .bind(region)
                    .bind(i64::from(limit.max(1)))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map($crate::store::databases::pending).collect())
            }

            async fn report_database(
                &self,
                id: uuid::Uuid,
                fence: Option<&$crate::store::Fence>,
                report: &$crate::store::EngineReport,
            ) -> $crate::store::StoreResult<$crate::store::Reported> {
                use $crate::store::Reported;
                let sql = format!(
                    "UPDATE databases SET status = $1, status_message = $2, settled = $3, \
                     configured = $4, configured_version = $5, updated_at = $6 \
                     WHERE id = $7 AND generation = $8 AND {}",
                    $crate::store::terms::fence_condition(9, 10)
                );
                let done = sqlx::query(&sql)
                    .bind(report.status.as_str())
                    .bind(&report.message)
                    .bind(report.settled)
                    .bind(report.configured)
                    .bind(report.configured_version)
                    .bind(chrono::Utc::now())
                    .bind(id)
                    .bind(report.generation)
                    .bind(fence.map(|fence| fence.lease.as_str()))
                    .bind(fence.map(|fence| fence.term))
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 1 {
                    self.database_changes.bump();
                    return Ok(Reported::Applied);
                }
                self.refused_engine_write(fence).await?;
                // Not refused for the term: the desired state moved on
                // (or the database is gone, which `database` says).
                self.database(id).await?;
                Ok(Reported::Stale)
            }

            async fn report_unreadable_database(
                &self,
                id: uuid::Uuid,
                fence: Option<&$crate::store::Fence>,
                reason: &str,
            ) -> $crate::store::StoreResult<()> {
                let sql = format!(
                    "UPDATE databases SET status = 'ERROR', status_message = $1, settled = TRUE, \
                     updated_at = $2 WHERE id = $3 AND {}",
                    $crate::store::terms::fence_condition(4, 5)
                );
                let done = sqlx::query(&sql)
                    .bind(reason)
                    .bind(chrono::Utc::now())
                    .bind(id)
                    .bind(fence.map(|fence| fence.lease.as_str()))
                    .bind(fence.map(|fence| fence.term))
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    self.refused_engine_write(fence).await?;
                    return Err($crate::store::StoreError::NotFound);
                }
                self.database_changes.bump();
                Ok(())
            }

            async fn start_step(
                &self,
                database_id: uuid::Uuid,
                fence: Option<&$crate::store::Fence>,
                step: &str,
                attempt: i32,
            ) -> $crate::store::StoreResult<i64> {
                let sql = format!(
                    "INSERT INTO provisioning_steps (database_id, step, attempt, started_at, outcome) \
                     SELECT $1, $2, $3, $4, 'running' WHERE {} RETURNING id",
                    $crate::store::terms::fence_condition(5, 6)
                );
                let id: Option<i64> = sqlx::query_scalar(&sql)
                    .bind(database_id)
                    .bind(step)
                    .bind(attempt)
                    .bind(chrono::Utc::now())
                    .bind(fence.map(|fence| fence.lease.as_str()))
                    .bind(fence.map(|fence| fence.term))
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(id) = id else {
                    self.refused_engine_write(fence).await?;
                    return Err($crate::store::StoreError::NotFound);
                };
                self.database_changes.bump();
                // A step that keeps failing would add a row per retry for
                // ever: its first attempt and newest failures are kept (the
                // attempt just begun is the newest, once it fails).
                if attempt > $crate::store::databases::KEPT_FAILURES {
                    sqlx::query(
                        "DELETE FROM provisioning_steps WHERE database_id = $1 AND step = $2 \
                         AND outcome = 'failure' AND attempt > 1 AND id NOT IN \
                         (SELECT id FROM provisioning_steps WHERE database_id = $1 AND step = $2 \
                         AND outcome = 'failure' ORDER BY id DESC LIMIT $3)",
                    )
                    .bind(database_id)
                    .bind(step)
                    .bind(i64::from($crate::store::databases::KEPT_FAILURES - 1))
                    .execute(&self.pool)
                    .await?;
                }
                Ok(id)
            }

            async fn finish_step(
                &self,
                step_id: i64,
                outcome: &str,
                message: Option<&str>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE provisioning_steps SET outcome = $1, message = $2, finished_at = $3 \
                     WHERE id = $4",
                )
                .bind(outcome)
                .bind(message)
                .bind(chrono::Utc::now())
                .bind(step_id)
                .execute(&self.pool)
                .await?;
                self.database_changes.bump();
                Ok(())
            }

            async fn steps(
                &self,
                database_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ProvisioningStep>> {
                let rows: Vec<$crate::store::ProvisioningStep> = sqlx::query_as(
                    "SELECT id, database_id, step, attempt, started_at, finished_at, outcome, message \
                     FROM provisioning_steps WHERE database_id = $1 ORDER BY id",
                )
                .bind(database_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows)
            }

            async fn database_marks(
                &self,
                ids: &[uuid::Uuid],
            ) -> $crate::store::StoreResult<Vec<(uuid::Uuid, String)>> {
                let mut marks = Vec::with_capacity(ids.len());
                // Bound the statement's size; a page rarely has more open.
                for chunk in ids.chunks(500) {
                    let placeholders: Vec<String> =
                        (1..=chunk.len()).map(|number| format!("${number}")).collect();
                    let sql = format!(
                        "SELECT d.id, d.updated_at, \
                         (SELECT COUNT(*) FROM provisioning_steps s WHERE s.database_id = d.id), \
                         (SELECT COUNT(*) FROM provisioning_steps s \
                          WHERE s.database_id = d.id AND s.outcome <> 'running') \
                         FROM databases d WHERE d.id IN ({})",
                        placeholders.join(", ")
                    );
                    let mut query = sqlx::query_as::<
                        _,
                        (uuid::Uuid, chrono::DateTime<chrono::Utc>, i64, i64),
                    >(&sql);
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    for (id, updated_at, steps, finished) in query.fetch_all(&self.pool).await? {
                        let at = updated_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                        marks.push((id, format!("{at}/{steps}/{finished}")));
                    }
                }
                Ok(marks)
            }

            fn database_changes(&self) -> tokio::sync::watch::Receiver<u64> {
                self.subscribe_to_database_changes()
            }

            async fn provisioning_durations(
                &self,
                engine: app::databases::Engine,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<f64>> {
                // The first "configured" step ends a provision; later steps
                // (park, resize, rotate) do not count.
                let rows = sqlx::query_as(
                    "SELECT MIN(s.started_at), MIN(CASE WHEN s.step = 'configured' THEN s.finished_at END) \
                     FROM provisioning_steps s JOIN databases d ON d.id = s.database_id \
                     WHERE d.engine = $1 AND d.configured = TRUE \
                     GROUP BY d.id, d.created_at ORDER BY d.created_at DESC LIMIT $2",
                )
                .bind(engine.as_str())
                .bind(i64::from(limit.max(1)))
                .fetch_all(&self.pool)
                .await?;
                Ok($crate::store::databases::durations(rows))
            }
        }

        impl $store {
            /// The database an earlier sending of the same create form made.
            async fn database_by_request_key(
                &self,
                database: &$crate::store::NewDatabase,
            ) -> $crate::store::StoreResult<Option<$crate::store::DatabaseRecord>> {
                let Some(key) = &database.request_key else {
                    return Ok(None);
                };
                let sql = format!(
                    "SELECT {} FROM databases WHERE owner_id = $1 AND request_key = $2",
                    $crate::store::databases::DATABASE_COLUMNS
                );
                let earlier: Option<$crate::store::databases::DatabaseRow> = sqlx::query_as(&sql)
                    .bind(database.owner_id)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                earlier.map(TryInto::try_into).transpose()
            }

            /// After an engine write changed nothing: `Deposed` if its term
            /// has ended, else `Ok` (the caller says what else went wrong).
            async fn refused_engine_write(
                &self,
                fence: Option<&$crate::store::Fence>,
            ) -> $crate::store::StoreResult<()> {
                use $crate::store::TermStore as _;
                let Some(fence) = fence else { return Ok(()) };
                if self.current_term(&fence.lease).await? != Some(fence.term) {
                    return Err($crate::store::StoreError::Deposed {
                        lease: fence.lease.clone(),
                        term: fence.term,
                    });
                }
                Ok(())
            }
        }
    };
}
pub(crate) use impl_database_store;
