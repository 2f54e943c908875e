use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use dataseal_base::Cid;

use crate::{Block, BlockStat, Error, Transport};

/// Which faults a [`FaultyStore`] injects. Deterministic: faults are tied to the call
/// number (every request of any kind counts, from 1), so a test or simulation replays
/// exactly.
///
/// ```
/// use dataseal_transport::Faults;
/// use std::time::Duration;
///
/// let faults = Faults::new()
///     .fail_every(10)
///     .corrupt_every(7)
///     .delay(Duration::from_millis(5))
///     .dead_after(1000);
/// # let _ = faults;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    drop_every: u64,
    corrupt_every: u64,
    fail_every: u64,
    dead_after: Option<u64>,
    delay: Option<Duration>,
}

impl Faults {
    /// No faults: the wrapper passes every call through.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every `n`-th call loses data silently: a `put` reports success without storing,
    /// a `get` or `stat` answers not-found, a `has` answers false. 0 turns this off.
    #[must_use]
    pub fn drop_every(mut self, n: u64) -> Self {
        self.drop_every = n;
        self
    }

    /// Every `n`-th call, if it is a `get`, returns the block with one bit flipped (an
    /// empty block gains a byte). 0 turns this off; 1 corrupts every block served.
    #[must_use]
    pub fn corrupt_every(mut self, n: u64) -> Self {
        self.corrupt_every = n;
        self
    }

    /// Every `n`-th call fails with [`Error::Unavailable`]. 0 turns this off.
    #[must_use]
    pub fn fail_every(mut self, n: u64) -> Self {
        self.fail_every = n;
        self
    }

    /// After `n` calls, every call fails with [`Error::Unavailable`], as a node that
    /// went away.
    #[must_use]
    pub fn dead_after(mut self, n: u64) -> Self {
        self.dead_after = Some(n);
        self
    }

    /// Every call waits this long first (on tokio's timer).
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

fn hits(every: u64, call: u64) -> bool {
    every != 0 && call.is_multiple_of(every)
}

/// A wrapper that injects faults into another store's answers, for tests and
/// simulations: lost writes and blocks, corrupted blocks, failed calls, delays and a
/// store that dies. See [`Faults`]. It can also be killed and revived at any moment with
/// [`FaultyStore::set_dead`], for example while a read is under way.
///
/// Only the block-level methods are faulted; the provided methods (CAR, add, cat) are
/// built on them, so they meet the same faults.
#[derive(Debug)]
pub struct FaultyStore<T> {
    inner: T,
    faults: Faults,
    calls: AtomicU64,
    dead: AtomicBool,
}

/// What happens to one call.
enum Fate {
    Pass,
    Drop,
    Corrupt,
}

impl<T: Transport> FaultyStore<T> {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: T, faults: Faults) -> Self {
        Self {
            inner,
            faults,
            calls: AtomicU64::new(0),
            dead: AtomicBool::new(false),
        }
    }

    /// The wrapped store.
    #[must_use]
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The number of calls so far.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Kills (`true`) or revives (`false`) the store: while dead, every call fails with
    /// [`Error::Unavailable`].
    pub fn set_dead(&self, dead: bool) {
        self.dead.store(dead, Ordering::SeqCst);
    }

    async fn enter(&self) -> Result<Fate, Error> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(delay) = self.faults.delay {
            tokio::time::sleep(delay).await;
        }
        if self.dead.load(Ordering::SeqCst) || self.faults.dead_after.is_some_and(|n| call > n) {
            return Err(Error::Unavailable(format!(
                "injected fault: the store is dead (call {call})"
            )));
        }
        if hits(self.faults.fail_every, call) {
            return Err(Error::Unavailable(format!(
                "injected fault: call {call} failed"
            )));
        }
        if hits(self.faults.drop_every, call) {
            return Ok(Fate::Drop);
        }
        if hits(self.faults.corrupt_every, call) {
            return Ok(Fate::Corrupt);
        }
        Ok(Fate::Pass)
    }
}

#[async_trait]
impl<T: Transport> Transport for FaultyStore<T> {
    async fn put(&self, block: &Block) -> Result<(), Error> {
        match self.enter().await? {
            Fate::Drop => Ok(()),
            Fate::Pass | Fate::Corrupt => self.inner.put(block).await,
        }
    }

    async fn get(&self, cid: &Cid) -> Result<Bytes, Error> {
        match self.enter().await? {
            Fate::Drop => Err(Error::NotFound(*cid)),
            Fate::Pass => self.inner.get(cid).await,
            Fate::Corrupt => {
                let mut data = self.inner.get(cid).await?.to_vec();
                match data.first_mut() {
                    Some(byte) => *byte ^= 0x01,
                    None => data.push(0),
                }
                Ok(Bytes::from(data))
            }
        }
    }

    async fn has(&self, cid: &Cid) -> Result<bool, Error> {
        match self.enter().await? {
            Fate::Drop => Ok(false),
            Fate::Pass | Fate::Corrupt => self.inner.has(cid).await,
        }
    }

    async fn stat(&self, cid: &Cid) -> Result<BlockStat, Error> {
        match self.enter().await? {
            Fate::Drop => Err(Error::NotFound(*cid)),
            Fate::Pass | Fate::Corrupt => self.inner.stat(cid).await,
        }
    }

    async fn pin(&self, root: &Cid) -> Result<(), Error> {
        self.enter().await?;
        self.inner.pin(root).await
    }

    async fn unpin(&self, root: &Cid) -> Result<bool, Error> {
        self.enter().await?;
        self.inner.unpin(root).await
    }

    async fn pins(&self) -> Result<Vec<Cid>, Error> {
        self.enter().await?;
        self.inner.pins().await
    }
}
