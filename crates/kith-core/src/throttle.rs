//! Slowing and then refusing repeated failed sign-ins, per account and per
//! network address. Counts live in the database so they survive restarts and
//! are shared by every server process.

use std::time::Duration;

use crate::store::{self, ThrottleRow};
use crate::Db;

#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Failures for one account within `window` before it is locked.
    pub account_limit: i64,
    /// Failures from one address within `window` before it is locked.
    pub address_limit: i64,
    pub window: Duration,
    pub lock_for: Duration,
    /// Once this many failures are on record, each further attempt waits...
    pub slow_after: i64,
    /// ...this much longer per failure (1 step at `slow_after`, 2 after, ...).
    pub slow_step: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            account_limit: 5,
            address_limit: 20,
            window: Duration::from_secs(15 * 60),
            lock_for: Duration::from_secs(15 * 60),
            slow_after: 3,
            slow_step: Duration::from_secs(1),
        }
    }
}

pub(crate) fn account_key(email: &str) -> String {
    format!("email:{email}")
}

pub(crate) fn address_key(address: &str) -> String {
    format!("ip:{address}")
}

pub(crate) enum Verdict {
    Allowed {
        delay: Duration,
    },
    /// Locked until this time (ms since the epoch).
    Locked {
        until: i64,
    },
}

/// May an attempt go ahead, and after how long a pause?
pub(crate) async fn check(db: &Db, s: &ThrottleSettings, keys: &[(String, i64)], now: i64) -> sqlx::Result<Verdict> {
    let mut failures = 0;
    for (key, _limit) in keys {
        if let Some(row) = store::throttle_get(&db.pool, key).await? {
            if let Some(until) = row.locked_until {
                if until > now {
                    return Ok(Verdict::Locked { until });
                }
            }
            if now - row.window_start < s.window.as_millis() as i64 {
                failures = failures.max(row.failures);
            }
        }
    }
    let delay = if failures >= s.slow_after { s.slow_step * (failures - s.slow_after + 1) as u32 } else { Duration::ZERO };
    Ok(Verdict::Allowed { delay })
}

/// Records a failure against every key; returns a lock time if one was set.
pub(crate) async fn record_failure(db: &Db, s: &ThrottleSettings, keys: &[(String, i64)], now: i64) -> sqlx::Result<Option<i64>> {
    let mut locked = None;
    let mut tx = db.pool.begin().await?;
    for (key, _) in keys {
        store::throttle_hold(&mut *tx, key).await?;
    }
    for (key, limit) in keys {
        let row = store::throttle_get(&mut *tx, key).await?;
        let mut row = match row {
            Some(r) if now - r.window_start < s.window.as_millis() as i64 => r,
            _ => ThrottleRow { failures: 0, window_start: now, locked_until: None },
        };
        row.failures += 1;
        if row.failures >= *limit {
            let until = now + s.lock_for.as_millis() as i64;
            row.locked_until = Some(until);
            // Start counting afresh once the lock ends.
            row.failures = 0;
            row.window_start = until;
            locked = Some(until);
        }
        store::throttle_put(&mut *tx, key, &row).await?;
    }
    tx.commit().await?;
    Ok(locked)
}

/// After a successful sign-in the account's count starts again; the address
/// count is left to expire, so one good account cannot launder guesses.
pub(crate) async fn record_success(db: &Db, account: &str) -> sqlx::Result<()> {
    store::throttle_clear(&db.pool, account).await
}

/// "Try again in 15 minutes."
pub(crate) fn locked_message(until: i64, now: i64) -> String {
    let minutes = ((until - now) as f64 / 60_000.0).ceil().max(1.0) as i64;
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Too many failed sign-in attempts. For your security, signing in is paused. Try again in {minutes} {unit}.")
}
