//! Caps per client address: one machine (or one NAT) cannot take every
//! bridge session or every connection of a demo.
//!
//! A [`PerClient`] counts what each IP address holds; a [`ClientSlot`] is one
//! unit of it, given back when dropped (the connection or session ended).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// How much each client address holds, against one cap.
#[derive(Debug, Clone)]
pub struct PerClient {
    cap: usize,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One session or connection of one address; dropping it frees the place.
#[derive(Debug)]
pub struct ClientSlot {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    /// At most `cap` at once per address.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            counts: Arc::default(),
        }
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// A place for `ip`, or `None` if it already holds `cap`.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<ClientSlot> {
        let mut counts = lock(&self.counts);
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            ip,
            counts: self.counts.clone(),
        })
    }

    /// How many places `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        lock(&self.counts).get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

fn lock(m: &Mutex<HashMap<IpAddr, usize>>) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Nothing panics while holding it; do not let a poison spread.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_capped_and_others_are_not() {
        let caps = PerClient::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let one = caps.try_acquire(a).unwrap();
        let _two = caps.try_acquire(a).unwrap();
        assert!(
            caps.try_acquire(a).is_none(),
            "a third for the same address"
        );
        assert!(
            caps.try_acquire(b).is_some(),
            "another address still gets one"
        );
        drop(one);
        assert_eq!(caps.held(a), 1);
        assert!(
            caps.try_acquire(a).is_some(),
            "a freed place can be taken again"
        );
    }
}
