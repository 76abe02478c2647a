//! A daily budget of new generations per provider, counted from midnight UTC. The count for the day
//! starts from the catalog (so a restart does not reset it) and is reserved before the provider is
//! called: a failed call may still have cost money.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use crate::server::storage::{CatalogError, SharedCounters, Usage};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub struct DailyBudget {
    limits: BTreeMap<String, u32>,
    /// provider → (day number since the epoch, generations that day)
    spent: Mutex<HashMap<String, (i64, u32)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "today's budget of {limit} new images from {provider} is spent; it renews at midnight UTC"
    )]
    Spent {
        provider: String,
        limit: u32,
        resets_in: Duration,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl DailyBudget {
    pub fn new(limits: BTreeMap<String, u32>) -> Self {
        Self {
            limits,
            spent: Mutex::default(),
        }
    }

    /// Reserves one new generation from `provider`'s budget for today, if it has one: counted in
    /// `shared` when several instances share the catalog, else in this process.
    pub async fn take(
        &self,
        provider: &str,
        usage: &dyn Usage,
        shared: Option<&dyn SharedCounters>,
        now_ms: i64,
    ) -> Result<(), BudgetError> {
        let Some(&limit) = self.limits.get(provider) else {
            return Ok(());
        };
        let day = now_ms.div_euclid(DAY_MS);
        let counted_today = {
            let spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
            spent.get(provider).is_some_and(|(d, _)| *d == day)
        };
        // The first request of a day starts from what the catalog already holds for it.
        let stored = if counted_today {
            None
        } else {
            Some(usage.count_since(provider, day * DAY_MS).await?)
        };
        let spent_error = || BudgetError::Spent {
            provider: provider.to_owned(),
            limit,
            resets_in: Duration::from_millis(
                u64::try_from((day + 1) * DAY_MS - now_ms).unwrap_or(0),
            ),
        };
        if let Some(shared) = shared {
            // The cluster's count lives in the catalog; this process only notes the day was started.
            self.spent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(provider.to_owned(), (day, 0));
            let key = format!("budget:{provider}");
            return match shared.spend(&key, day, limit, stored.unwrap_or(0)).await? {
                true => Ok(()),
                false => Err(spent_error()),
            };
        }
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        let entry = spent.entry(provider.to_owned()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        // Another request may have started the day meanwhile; keep the larger count.
        if let Some(stored) = stored {
            entry.1 = entry.1.max(stored);
        }
        if entry.1 >= limit {
            return Err(spent_error());
        }
        entry.1 += 1;
        Ok(())
    }
}
