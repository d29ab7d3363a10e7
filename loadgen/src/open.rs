//! Opening many connections or sessions before a measurement starts.
//!
//! `hold` opens thousands of idle connections and `relay` hundreds of bridge
//! sessions, both before they measure anything. Opening them all at once would
//! measure the server's listen backlog (and flood loopback with SYN retries),
//! so a semaphore lets a bounded number open at a time; each gets a time limit,
//! and what fails is counted in the run's tally instead of ending the run.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::report::Tally;

/// How to say that opening one failed.
pub(crate) struct Failures<'a> {
    /// What is opened, as the error says it: `connect` or `open`.
    pub(crate) what: &'a str,
    /// The error when one took longer than the limit.
    pub(crate) late: &'a str,
}

/// Runs `open` `n` times, as many at once as `gate` has permits, each within
/// `limit`; returns what opened. Each failure is counted in `tally`:
/// `{what}: {error}`, `late`, or `{what} task: {panic}`.
pub(crate) async fn open_all<T, E, F, Fut>(
    n: usize,
    gate: &Arc<Semaphore>,
    limit: Duration,
    open: F,
    tally: &mut Tally,
    say: Failures<'_>,
) -> Vec<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Display + Send + 'static,
{
    let mut set = JoinSet::new();
    for _ in 0..n {
        let (gate, opening) = (gate.clone(), open());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("never closed");
            timeout(limit, opening).await
        });
    }
    let mut opened = Vec::with_capacity(n);
    while let Some(res) = set.join_next().await {
        match res {
            Ok(Ok(Ok(one))) => opened.push(one),
            Ok(Ok(Err(e))) => tally.error(format!("{}: {e}", say.what)),
            Ok(Err(_)) => tally.error(say.late),
            Err(e) => tally.error(format!("{} task: {e}", say.what)),
        }
    }
    opened
}
