//! The process's open-file (descriptor) limit: raising it, reading it.
//!
//! Every socket is a file descriptor, and a process may hold only
//! `RLIMIT_NOFILE` of them. Many systems start programs with a *soft* limit of
//! 1,024 although the *hard* limit (the most an unprivileged process may ask
//! for) is far higher: a class of students would use that up. So the binary
//! raises the soft limit to the hard one at start, and the HTTP server leaves
//! at least half of whatever the limit is to the demos and the bridge (see
//! `http_serve.rs`).
//!
//! Windows has no such limit for sockets: there the functions do nothing.

/// Raises the soft descriptor limit to the hard limit; returns the limit now
/// in force (`None` where there is none, or it could not be read).
pub fn raise() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(_) => current(),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit; keeping it");
            current()
        }
    }
}

/// The soft descriptor limit in force, if the platform has one.
#[cfg(unix)]
pub fn current() -> Option<u64> {
    rlimit::Resource::NOFILE
        .get()
        .ok()
        .map(|(soft, _hard)| soft)
}

/// The soft descriptor limit in force, if the platform has one.
#[cfg(not(unix))]
pub fn current() -> Option<u64> {
    None
}
