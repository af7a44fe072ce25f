//! Reads shared by every environment of one round of reads: what the Region holds for all of
//! them (the cluster, every connector, the brokers' VPC, the REST APIs) is read once, not once
//! per environment. A fleet of 50 environments then makes one ListConnectors where it made 50,
//! within quotas that every call of the account shares (API Gateway's 10 calls a second).
//!
//! A round is as fresh as its first read: a read under an environment's lock starts a new one
//! ([`super::Aws::fresh`]), so that what is changed is what is there now. A failed read is not
//! kept: the next asker reads again, and reports its own error.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// One value per key, of any type, read at most once while it succeeds.
type Cell = Arc<OnceCell<Arc<dyn Any + Send + Sync>>>;

/// The shared reads of one round, by key (the operation and what it was asked).
#[derive(Default)]
pub struct SharedReads {
    cells: Mutex<HashMap<String, Cell>>,
}

impl std::fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.cells.lock().map(|cells| cells.len()).unwrap_or_default();
        f.debug_struct("SharedReads").field("keys", &keys).finish()
    }
}

impl SharedReads {
    /// The value read under `key` in this round, or `read`'s, kept for the round's other askers
    /// (who wait for it rather than read too). One key holds one type: a key names its read.
    pub async fn get_or_read<T, E, F, Fut>(&self, key: String, read: F) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(cells.entry(key).or_default())
        };
        let value = cell.get_or_try_init(|| async { read().await.map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>) }).await?;
        // A key names one read, and so one type: a mismatch is a bug in pinfra.
        Ok(value.downcast_ref::<T>().expect("a shared read's key names one type").clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn one_read_serves_every_asker_of_a_round() {
        let shared = SharedReads::default();
        let reads = AtomicU32::new(0);
        let read = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<_, String>(vec!["connector-a".to_owned()])
        };
        let (a, b) = tokio::join!(
            shared.get_or_read("kafkaconnect:ListConnectors".into(), read),
            shared.get_or_read("kafkaconnect:ListConnectors".into(), read)
        );
        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // Another key is another read.
        shared.get_or_read("kafka:ListClustersV2 x".into(), read).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_read_is_read_again() {
        let shared = SharedReads::default();
        let first: Result<u32, String> = shared.get_or_read("k".into(), || async { Err("throttled".to_owned()) }).await;
        assert_eq!(first, Err("throttled".to_owned()));
        let second: Result<u32, String> = shared.get_or_read("k".into(), || async { Ok(7) }).await;
        assert_eq!(second, Ok(7));
    }
}
