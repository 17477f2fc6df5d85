//! Failed-login limiting: failures are counted per key (a user name, a
//! client address) within a window; at the limit the key is locked out for
//! a while, during which even a correct password is refused without being
//! checked. A success clears the user name's count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

/// One limiter (one kind of key).
#[derive(Debug)]
pub struct Limiter {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    map: Mutex<HashMap<String, Entry>>,
}

impl Limiter {
    /// `max_failures` within `window`, then locked for `lockout`.
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_failures,
            window,
            lockout,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(seconds to wait)` while `key` is locked out.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        match self.map().get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err((until - now).as_secs().max(1)),
            _ => Ok(()),
        }
    }

    /// Count a failure of `key`.
    pub fn fail(&self, key: &str, now: Instant) {
        let mut map = self.map();
        if map.len() > 100_000 {
            let (window, lockout) = (self.window, self.lockout);
            map.retain(|_, e| {
                now.duration_since(e.window_start) < window.max(lockout)
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let e = map.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        if now.duration_since(e.window_start) >= self.window
            || e.locked_until.is_some_and(|u| u <= now)
        {
            *e = Entry {
                failures: 0,
                window_start: now,
                locked_until: None,
            };
        }
        e.failures += 1;
        if e.failures >= self.max_failures {
            e.locked_until = Some(now + self.lockout);
        }
    }

    /// Forget `key`'s failures.
    pub fn clear(&self, key: &str) {
        self.map().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_then_recovers() {
        let l = Limiter::new(3, Duration::from_secs(60), Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..2 {
            l.fail("alice", t0 + Duration::from_secs(i));
            assert!(l.check("alice", t0 + Duration::from_secs(i)).is_ok());
        }
        l.fail("alice", t0 + Duration::from_secs(2));
        let wait = l.check("alice", t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!(wait, 9);
        assert!(l.check("bob", t0).is_ok());
        assert!(l.check("alice", t0 + Duration::from_secs(13)).is_ok());
        // After the lockout the count starts again.
        l.fail("alice", t0 + Duration::from_secs(14));
        assert!(l.check("alice", t0 + Duration::from_secs(14)).is_ok());
        // Failures spread beyond the window do not add up.
        let l = Limiter::new(2, Duration::from_secs(5), Duration::from_secs(10));
        l.fail("x", t0);
        l.fail("x", t0 + Duration::from_secs(6));
        assert!(l.check("x", t0 + Duration::from_secs(6)).is_ok());
        l.clear("x");
        l.fail("x", t0 + Duration::from_secs(7));
        assert!(l.check("x", t0 + Duration::from_secs(7)).is_ok());
    }
}
