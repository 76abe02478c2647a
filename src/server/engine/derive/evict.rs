//! Keeping stored derivatives within the byte budget ([`ByteBudget`](super::budget::ByteBudget)):
//! remembered reads written to the catalog in a batch, for the least-recently-served order, and an
//! eviction on its own task once a new derivative takes what is stored past the budget.

use std::sync::Arc;

use crate::server::engine::errors::EngineError;
use crate::server::engine::Inner;
use crate::server::storage::Orphan;

impl Inner {
    /// Remembers that derivative `key` was read and, once a batch has gathered, writes it out.
    pub(super) fn served_derivative(self: &Arc<Self>, key: &str) {
        let budget = &self.derivative_budget;
        if budget.served(key) && budget.start_flush() {
            let inner = self.clone();
            tokio::spawn(async move {
                if let Err(err) = inner.flush_served().await {
                    tracing::warn!(error = %err, "recording when derivatives were served failed");
                }
                inner.derivative_budget.flushed();
            });
        }
    }

    /// Writes the remembered reads to the catalog, for eviction's least-recently-served order.
    async fn flush_served(&self) -> Result<(), EngineError> {
        let served = self.derivative_budget.take_served();
        if !served.is_empty() {
            self.catalog
                .touch_derivatives(&served, crate::server::clock::now_millis())
                .await?;
        }
        Ok(())
    }

    /// Counts a new derivative and, past the budget, starts an eviction unless one is running.
    pub(super) fn stored_derivative(self: &Arc<Self>, bytes: u64) {
        if self.derivative_budget.stored(bytes) {
            let inner = self.clone();
            tokio::spawn(async move {
                // Derivatives stored while this ran are counted in the total it ends with: go again
                // until what is stored fits.
                for _ in 0..8 {
                    match inner.evict_derivatives().await {
                        Ok(stored) if stored > inner.derivative_budget.max_bytes() => continue,
                        Ok(_) => break,
                        Err(err) => {
                            tracing::warn!(error = %err, "evicting derivatives failed");
                            break;
                        }
                    }
                }
                inner.derivative_budget.evicted();
            });
        }
    }

    /// Removes the least recently served derivatives (rows, then blobs) down to nine tenths of the
    /// budget; returns what is stored then.
    async fn evict_derivatives(&self) -> Result<u64, EngineError> {
        let budget = &self.derivative_budget;
        self.flush_served().await?;
        let stored = self.catalog.derivative_bytes().await?;
        if stored > budget.max_bytes() {
            let evicted = self.catalog.evict_derivatives(budget.evict_to()).await?;
            metrics::counter!("pixzoo_derivatives_evicted_total").increment(evicted.len() as u64);
            for orphan in &evicted {
                if let Orphan::Derivative { key, .. } = orphan {
                    self.memory.forget_derivative(key);
                }
                self.remove_orphan(orphan).await?;
            }
        }
        let stored = self.catalog.derivative_bytes().await?;
        budget.set_stored(stored);
        Ok(stored)
    }
}
