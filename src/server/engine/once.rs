//! Work done once across instances: the instance that claims a key does it; identical requests at
//! the others wait for the claim's release and read what it stored (generations and derivatives).

use std::future::Future;

use super::errors::EngineError;
use super::Inner;
use crate::server::storage::Claimed;

/// A claim released without a result (its request was refused, or the result deleted at once) lets
/// a waiter try for itself; this many claims in all before it gives up.
const CLAIMS: usize = 3;

impl Inner {
    /// `work` runs only under the claim of `claim_key`; `stored` reads what another instance made.
    /// A failure reaches the waiters (and is not kept); a refusal of this request's ticket does not,
    /// since theirs may be admitted.
    pub(super) async fn once<T, S, W>(
        &self,
        claim_key: &str,
        gave_up: &str,
        stored: impl Fn() -> S,
        work: impl FnOnce() -> W,
    ) -> Result<T, EngineError>
    where
        S: Future<Output = Result<Option<T>, EngineError>>,
        W: Future<Output = Result<T, EngineError>>,
    {
        let claim = 'claim: {
            for _ in 0..CLAIMS {
                match self.coordination.claim(claim_key).await? {
                    Claimed::Won(claim) => break 'claim claim,
                    Claimed::Failed(failure) => return Err(EngineError::Elsewhere(failure)),
                    Claimed::Done => {
                        if let Some(hit) = stored().await? {
                            return Ok(hit);
                        }
                    }
                }
            }
            return Err(EngineError::Internal(gave_up.to_owned()));
        };
        let made = work().await;
        let outcome = match &made {
            Err(err) if !err.is_refusal() => Err(err.as_failure()),
            _ => Ok(()),
        };
        self.coordination.release(claim_key, claim, outcome).await;
        made
    }
}
