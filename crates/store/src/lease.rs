//! The lease: at most one daemon acts on a journal at a time.
//!
//! A lease has an owner, an expiry and a fencing token. Acquiring a free or expired lease increments the
//! token; renewing keeps it. Every acting write passes its [`Fence`] and [`check_fence`] verifies, inside
//! the same SQLite transaction as the write, that the token is still current and the lease unexpired. A
//! daemon that was paused past its expiry (and replaced) therefore cannot write, even if it still believes
//! it holds the lease; a killed daemon blocks the next one only until its lease expires.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::audit::{self, NewAudit};
use super::{Journal, StoreError};
use ballast_core::model::TimestampMs;

/// A lease as held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub name: String,
    pub owner: String,
    /// `Config::version()` of the holder, stamped on the lease's audit rows.
    pub config_version: String,
    /// Fencing token: strictly increases with every new holder.
    pub token: i64,
    pub expires_ms: TimestampMs,
}

impl Lease {
    /// The fence to pass with writes made under this lease.
    pub fn fence(&self) -> Fence {
        Fence {
            name: self.name.clone(),
            owner: self.owner.clone(),
            token: self.token,
        }
    }
}

/// What a write under a lease carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fence {
    pub name: String,
    pub owner: String,
    pub token: i64,
}

fn current(tx: &rusqlite::Connection, name: &str) -> Result<Option<Lease>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT owner, token, expires_ms, config_version FROM lease WHERE name = ?1",
            params![name],
            |r| {
                Ok(Lease {
                    name: name.to_string(),
                    owner: r.get(0)?,
                    config_version: r.get(3)?,
                    token: r.get(1)?,
                    expires_ms: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// Verify, inside the writing transaction, that `fence` is the current, unexpired holder.
pub fn check_fence(tx: &Transaction, fence: &Fence, now: TimestampMs) -> Result<(), StoreError> {
    let fenced = |reason: String| StoreError::Fenced {
        owner: fence.owner.clone(),
        token: fence.token,
        reason,
    };
    match current(tx, &fence.name)? {
        None => Err(fenced("no lease is held".into())),
        Some(l) if l.token != fence.token || l.owner != fence.owner => {
            Err(fenced(format!("{:?} holds token {} now", l.owner, l.token)))
        }
        Some(l) if l.expires_ms <= now => Err(fenced(format!(
            "it expired at {} and was not renewed",
            l.expires_ms
        ))),
        Some(_) => Ok(()),
    }
}

impl Journal {
    /// Take the lease `name` for `owner` for `ttl_ms`. Fails with [`StoreError::LeaseHeld`] while another
    /// owner holds an unexpired lease. Always issues a new fencing token.
    pub fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        config_version: &str,
        ttl_ms: i64,
        now: TimestampMs,
    ) -> Result<Lease, StoreError> {
        self.with_tx(|tx| {
            let prev = current(tx, name)?;
            if let Some(p) = &prev
                && p.owner != owner
                && p.expires_ms > now
            {
                return Err(StoreError::LeaseHeld {
                    name: name.into(),
                    owner: p.owner.clone(),
                    expires_ms: p.expires_ms,
                });
            }
            let token = prev.as_ref().map(|p| p.token + 1).unwrap_or(1);
            let lease = Lease {
                name: name.into(),
                owner: owner.into(),
                config_version: config_version.into(),
                token,
                expires_ms: now + ttl_ms,
            };
            tx.execute(
                "INSERT INTO lease (name, owner, token, acquired_ms, expires_ms, config_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET owner = ?2, token = ?3, acquired_ms = ?4, expires_ms = ?5,
                                                 config_version = ?6",
                params![name, owner, token, now, lease.expires_ms, config_version],
            )?;
            let detail = serde_json::json!({
                "token": token,
                "expires_ms": lease.expires_ms,
                "previous_owner": prev.as_ref().map(|p| p.owner.clone()),
                "previous_expired": prev.as_ref().map(|p| p.expires_ms <= now),
            });
            audit::append(
                tx,
                &NewAudit::json(owner, "lease.acquired", name, &detail, config_version),
                now,
                Some(token),
            )?;
            Ok(lease)
        })
    }

    /// Extend a held lease. Fails with [`StoreError::Fenced`] when another owner took it meanwhile.
    pub fn renew_lease(
        &self,
        lease: &Lease,
        ttl_ms: i64,
        now: TimestampMs,
    ) -> Result<Lease, StoreError> {
        self.with_tx(|tx| {
            match current(tx, &lease.name)? {
                Some(l) if l.token == lease.token && l.owner == lease.owner => {}
                Some(l) => {
                    return Err(StoreError::Fenced {
                        owner: lease.owner.clone(),
                        token: lease.token,
                        reason: format!("{:?} holds token {} now", l.owner, l.token),
                    });
                }
                None => {
                    return Err(StoreError::Fenced {
                        owner: lease.owner.clone(),
                        token: lease.token,
                        reason: "no lease is held".into(),
                    });
                }
            }
            let expires_ms = now + ttl_ms;
            tx.execute(
                "UPDATE lease SET expires_ms = ?2 WHERE name = ?1",
                params![lease.name, expires_ms],
            )?;
            Ok(Lease {
                expires_ms,
                ..lease.clone()
            })
        })
    }

    /// Give the lease up (on shutdown), so the next daemon need not wait for the expiry.
    pub fn release_lease(&self, lease: &Lease, now: TimestampMs) -> Result<(), StoreError> {
        self.with_tx(|tx| {
            check_fence(tx, &lease.fence(), now)?;
            tx.execute(
                "UPDATE lease SET expires_ms = ?2 WHERE name = ?1",
                params![lease.name, now],
            )?;
            audit::append(
                tx,
                &NewAudit::new(
                    &lease.owner,
                    "lease.released",
                    &lease.name,
                    "{}",
                    &lease.config_version,
                ),
                now,
                Some(lease.token),
            )?;
            Ok(())
        })
    }

    /// The lease as recorded, if any.
    pub fn current_lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.read(|c| current(c, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_until_expiry_then_a_new_token() {
        let j = Journal::open_in_memory().unwrap();
        let a = j
            .acquire_lease("daemon", "a", "0123456789ab", 1000, 0)
            .unwrap();
        assert_eq!(a.token, 1);
        match j.acquire_lease("daemon", "b", "0123456789ab", 1000, 500) {
            Err(StoreError::LeaseHeld {
                owner, expires_ms, ..
            }) => {
                assert_eq!(owner, "a");
                assert_eq!(expires_ms, 1000);
            }
            other => panic!("{other:?}"),
        }
        let a = j.renew_lease(&a, 1000, 900).unwrap();
        assert_eq!(a.expires_ms, 1900);
        assert!(
            j.acquire_lease("daemon", "b", "0123456789ab", 1000, 1800)
                .is_err()
        );
        // a stops renewing; b takes over after the expiry with a higher token
        let b = j
            .acquire_lease("daemon", "b", "0123456789ab", 1000, 1900)
            .unwrap();
        assert_eq!(b.token, 2);
        // a's fence is now refused inside a write, and a cannot renew
        let r = j.with_tx(|tx| check_fence(tx, &a.fence(), 1950));
        assert!(
            matches!(r, Err(StoreError::Fenced { token: 1, .. })),
            "{r:?}"
        );
        assert!(matches!(
            j.renew_lease(&a, 1000, 1950),
            Err(StoreError::Fenced { .. })
        ));
        j.with_tx(|tx| check_fence(tx, &b.fence(), 1950)).unwrap();
        // b's own expiry fences b too
        let r = j.with_tx(|tx| check_fence(tx, &b.fence(), 2900));
        assert!(matches!(r, Err(StoreError::Fenced { .. })), "{r:?}");
        // release lets the next owner in at once
        let b = j.renew_lease(&b, 1000, 3000).unwrap();
        j.release_lease(&b, 3100).unwrap();
        let c = j
            .acquire_lease("daemon", "c", "0123456789ab", 1000, 3100)
            .unwrap();
        assert_eq!(c.token, 3);
        let audit = j.audit_for("daemon").unwrap();
        assert!(audit.iter().all(|e| e.config_version == "0123456789ab"));
        assert_eq!(
            j.current_lease("daemon").unwrap().unwrap().config_version,
            "0123456789ab"
        );
        let actions: Vec<String> = audit.into_iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            vec![
                "lease.acquired",
                "lease.acquired",
                "lease.released",
                "lease.acquired"
            ]
        );
    }

    #[test]
    fn tokens_never_repeat_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut last = 0;
        for i in 0..4 {
            let j = Journal::open(&path).unwrap();
            let l = j
                .acquire_lease("daemon", &format!("p{i}"), "0123456789ab", 10, i * 100)
                .unwrap();
            assert!(l.token > last);
            last = l.token;
        }
    }
}
