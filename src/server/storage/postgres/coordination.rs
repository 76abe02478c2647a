//! Coordination through PostgreSQL, after pict-rs's claim protocol: a row in `claims` per key being
//! made, taken with one atomic upsert and kept alive by a heartbeat; waiters are woken by `NOTIFY` when
//! it is released and poll meanwhile, so a lost notification costs a poll interval, not a hang. A claim
//! whose heartbeat stops (its instance died) expires after the configured time and the next waiter takes
//! it over. Times are the database's clock, so instances' clocks need not agree.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::broadcast;

use crate::server::storage::coordination::{
    Claim, Claimed, Coordination, Failure, ImageNews, SharedCounters,
};
use crate::server::storage::error::CatalogError;

const CLAIMS: &str = "pixzoo_claims";
const DELETED: &str = "pixzoo_deleted";
const REPLACED: &str = "pixzoo_replaced";
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
/// How long a studio job stays pollable after its last change (as `server::studio::jobs` keeps them).
const JOBS_KEPT_MS: i64 = 15 * 60 * 1000;
/// The statement's own time, the same wherever it appears in one statement.
const STATEMENT_MS: &str = "(extract(epoch from statement_timestamp()) * 1000)::bigint";

/// What a released claim's `NOTIFY` says.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct News {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<Failure>,
}

pub struct PgCoordination {
    pool: PgPool,
    /// This process, as claim rows name their owner.
    owner: String,
    expiry: Duration,
    news: broadcast::Sender<News>,
    images: broadcast::Sender<ImageNews>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgCoordination {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgCoordination {
    /// Listens for other instances' news on a connection of its own; claims expire after `expiry`
    /// without a heartbeat.
    pub async fn start(pool: PgPool, expiry: Duration) -> Result<Self, CatalogError> {
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen_all([CLAIMS, DELETED, REPLACED]).await?;
        let (news, _) = broadcast::channel(1024);
        let (images, _) = broadcast::channel(1024);
        let task = tokio::spawn(listen(listener, news.clone(), images.clone(), pool.clone()));
        Ok(Self {
            pool,
            owner: uuid::Uuid::new_v4().simple().to_string(),
            expiry,
            news,
            images,
            listener: task,
        })
    }

    /// Takes the claim if nobody holds it or its holder's heartbeat is older than the expiry.
    async fn try_claim(&self, key: &str) -> Result<bool, CatalogError> {
        let won: Option<String> = sqlx::query_scalar(&format!(
            "INSERT INTO claims (key, owner, heartbeat_at) VALUES ($1, $2, {NOW_MS}) \
             ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, heartbeat_at = EXCLUDED.heartbeat_at \
             WHERE claims.heartbeat_at < {NOW_MS} - $3 RETURNING owner"
        ))
        .bind(key)
        .bind(&self.owner)
        .bind(self.expiry.as_millis() as i64)
        .fetch_optional(&self.pool)
        .await?;
        Ok(won.is_some())
    }

    fn heartbeat(&self, key: &str) -> tokio::task::JoinHandle<()> {
        let (pool, owner, key) = (self.pool.clone(), self.owner.clone(), key.to_owned());
        let every = self.interval();
        tokio::spawn(async move {
            let sql =
                format!("UPDATE claims SET heartbeat_at = {NOW_MS} WHERE key = $1 AND owner = $2");
            loop {
                tokio::time::sleep(every).await;
                match sqlx::query(&sql)
                    .bind(&key)
                    .bind(&owner)
                    .execute(&pool)
                    .await
                {
                    // Taken over after a stall: the work goes on, and the first row recorded wins.
                    Ok(done) if done.rows_affected() == 0 => return,
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "claim heartbeat failed"),
                }
            }
        })
    }

    /// How often a holder beats and a waiter looks again: well within the expiry.
    fn interval(&self) -> Duration {
        (self.expiry / 4).clamp(Duration::from_millis(100), Duration::from_secs(2))
    }

    async fn notify(&self, channel: &str, payload: &str) -> Result<(), CatalogError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Passes notifications on to this instance's waiters (and prunes finished studio jobs now and then).
/// `PgListener` reconnects by itself on the next `recv` after a lost connection; news sent meanwhile is
/// lost, which the waiters' polling covers.
async fn listen(
    mut listener: PgListener,
    news: broadcast::Sender<News>,
    images: broadcast::Sender<ImageNews>,
    pool: PgPool,
) {
    let mut prune = tokio::time::interval(Duration::from_secs(60));
    loop {
        let received = tokio::select! {
            received = listener.recv() => received,
            _ = prune.tick() => {
                // Studio jobs nobody can poll any more.
                let pruned = sqlx::query(&format!("DELETE FROM studio_jobs WHERE updated_at < {NOW_MS} - $1"))
                    .bind(JOBS_KEPT_MS)
                    .execute(&pool)
                    .await;
                if let Err(err) = pruned {
                    tracing::debug!(error = %err, "could not prune studio jobs");
                }
                continue;
            }
        };
        match received {
            Ok(notification) => match notification.channel() {
                CLAIMS => match serde_json::from_str::<News>(notification.payload()) {
                    Ok(item) => {
                        let _ = news.send(item);
                    }
                    Err(err) => tracing::warn!(error = %err, "unreadable claim notification"),
                },
                DELETED => {
                    let _ = images.send(ImageNews::Deleted(notification.payload().to_owned()));
                }
                REPLACED => {
                    let _ = images.send(ImageNews::Replaced(notification.payload().to_owned()));
                }
                _ => {}
            },
            Err(err) => {
                tracing::warn!(error = %err, "lost the catalog's notifications; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[async_trait::async_trait]
impl Coordination for PgCoordination {
    async fn claim(&self, key: &str) -> Result<Claimed, CatalogError> {
        // Subscribed before the first try, so a release between the try and the wait is not missed.
        let mut news = self.news.subscribe();
        loop {
            if self.try_claim(key).await? {
                return Ok(Claimed::Won(Claim::with_heartbeat(self.heartbeat(key))));
            }
            let look_again = tokio::time::Instant::now() + self.interval();
            loop {
                match tokio::time::timeout_at(look_again, news.recv()).await {
                    Ok(Ok(item)) if item.key == key => {
                        return Ok(match item.failure {
                            None => Claimed::Done,
                            Some(failure) => Claimed::Failed(failure),
                        });
                    }
                    Ok(Ok(_)) => {}
                    // Lagged (news missed) or the wait is over: look at the claim again.
                    Ok(Err(_)) | Err(_) => break,
                }
            }
        }
    }

    async fn release(&self, key: &str, claim: Claim, outcome: Result<(), Failure>) {
        drop(claim);
        let gone = sqlx::query("DELETE FROM claims WHERE key = $1 AND owner = $2")
            .bind(key)
            .bind(&self.owner)
            .execute(&self.pool)
            .await;
        let news = News {
            key: key.to_owned(),
            failure: outcome.err(),
        };
        let told = match serde_json::to_string(&news) {
            Ok(payload) => self.notify(CLAIMS, &payload).await,
            Err(err) => Err(CatalogError::Database(Box::new(err))),
        };
        // Unreleased, the claim expires on its own and a waiter takes over (and finds the row).
        if let Err(err) = gone.map_err(CatalogError::from).and(told) {
            tracing::warn!(error = %err, "could not release a claim; it will expire");
        }
    }

    async fn announce(&self, news: &ImageNews) {
        // A channel each, the image's id the payload.
        let (channel, id) = match news {
            ImageNews::Deleted(id) => (DELETED, id),
            ImageNews::Replaced(id) => (REPLACED, id),
        };
        if let Err(err) = self.notify(channel, id).await {
            tracing::warn!(error = %err, channel, "could not tell other instances of an image's news");
        }
    }

    fn image_news(&self) -> broadcast::Receiver<ImageNews> {
        self.images.subscribe()
    }

    async fn publish_job(&self, id: &str, view: &str) {
        let published = sqlx::query(&format!(
            "INSERT INTO studio_jobs (id, view, updated_at) VALUES ($1, $2, {NOW_MS}) \
             ON CONFLICT (id) DO UPDATE SET view = EXCLUDED.view, updated_at = EXCLUDED.updated_at"
        ))
        .bind(id)
        .bind(view)
        .execute(&self.pool)
        .await;
        if let Err(err) = published {
            tracing::warn!(error = %err, "could not publish a studio job's progress");
        }
    }

    async fn job(&self, id: &str) -> Result<Option<String>, CatalogError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT view FROM studio_jobs WHERE id = $1 AND updated_at > {NOW_MS} - $2"
        ))
        .bind(id)
        .bind(JOBS_KEPT_MS)
        .fetch_optional(&self.pool)
        .await?)
    }

    fn counters(&self) -> Option<&dyn SharedCounters> {
        Some(self)
    }
}

/// GCRA in one upsert: each key keeps its theoretical arrival time (`tat`); an event may happen when
/// moving it one interval on stays within the burst's allowance ahead of now. Daily budgets are a count
/// per key and day, taken under the row's lock.
#[async_trait::async_trait]
impl SharedCounters for PgCoordination {
    async fn pass(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<Result<(), Duration>, CatalogError> {
        let interval = 60_000.0 / f64::from(per_minute.max(1));
        let allowance = interval * f64::from(burst.max(1));
        let passed: Option<f64> = sqlx::query_scalar(&format!(
            "INSERT INTO rate_limits (key, tat) VALUES ($1, {STATEMENT_MS} + $2) \
             ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, {STATEMENT_MS}) + $2 \
             WHERE GREATEST(rate_limits.tat, {STATEMENT_MS}) + $2 - {STATEMENT_MS} <= $3 RETURNING tat"
        ))
        .bind(key)
        .bind(interval)
        .bind(allowance)
        .fetch_optional(&self.pool)
        .await?;
        if passed.is_some() {
            return Ok(Ok(()));
        }
        let wait: f64 = sqlx::query_scalar(&format!(
            "SELECT GREATEST(tat, {STATEMENT_MS}) + $2 - {STATEMENT_MS} - $3 FROM rate_limits WHERE key = $1"
        ))
        .bind(key)
        .bind(interval)
        .bind(allowance)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(interval);
        Ok(Err(Duration::from_millis(wait.max(1.0) as u64)))
    }

    async fn spend(
        &self,
        key: &str,
        day: i64,
        limit: u32,
        already: u32,
    ) -> Result<bool, CatalogError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO budgets (key, day, spent) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
        )
        .bind(key)
        .bind(day)
        .execute(&mut *tx)
        .await?;
        let (stored_day, spent): (i64, i64) =
            sqlx::query_as("SELECT day, spent FROM budgets WHERE key = $1 FOR UPDATE")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
        let spent = if stored_day == day { spent } else { 0 }.max(i64::from(already));
        if spent >= i64::from(limit) {
            return Ok(false);
        }
        sqlx::query("UPDATE budgets SET day = $2, spent = $3 WHERE key = $1")
            .bind(key)
            .bind(day)
            .bind(spent + 1)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
