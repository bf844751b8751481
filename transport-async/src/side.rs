//! The read side and the write side of a connection, each held by one task at a time (across
//! awaits), taken without waiting by whoever finds it free.
//!
//! A side is held by whoever moved its state from free to held, until its guard drops. A task
//! that must have a side it found taken ([`Side::take_or_queue`]) marks it wanted, and the
//! release then notifies the connection's [`Changes`]; a task that only tries
//! ([`Side::take_now`]: the other holder will do the work) does not, so a release wakes nobody
//! for nothing. async-lock's mutex, used before, notified its event-listener on every
//! release, and that event takes a lock per notification, listened to or not: four per echo of
//! a small message.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::change::Changes;

/// Free: whoever swaps this out holds the side.
const FREE: u8 = 0;
const HELD: u8 = 1;
/// Held, and a task found it so and waits for its release ([`Side::take_or_queue`]).
const WANTED: u8 = 2;

/// One side, free or held: a try-lock whose release notifies only a task that queued for it.
/// An atomic state rather than a mutex around an `Option<Box<T>>`: taking and releasing a side
/// happen twice per echo of a small message, and a lock, a move out and a move back cost
/// about a hundred instructions each time (BENCHMARKS.md, "Many connections", session 11).
pub(crate) struct Side<T> {
    state: AtomicU8,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `Held`, and at most one `Held` exists at a time
// (the state moves away from `FREE` only by a compare-and-swap that one caller wins, and back
// only when that caller's `Held` drops): it is handed from one thread to another, never
// shared, which needs `T: Send` only.
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for Side<T> {}

impl<T> std::fmt::Debug for Side<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Side").field("state", &self.state.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

impl<T> Side<T> {
    pub(crate) fn new(value: T) -> Self {
        Side { state: AtomicU8::new(FREE), value: UnsafeCell::new(value) }
    }

    /// The side, for the only owner of the connection (`&mut`: no `Held` exists).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The side if it is free, for a task that needs it only if nobody else has it.
    pub(crate) fn take_now<'a>(&'a self, changes: &'a Changes) -> Option<Held<'a, T>> {
        // Acquire: what the last holder wrote to the value happened before its release.
        self.state.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).ok()?;
        Some(Held { side: self, changes })
    }

    /// The side if it is free; otherwise its release notifies `changes`. The caller listens
    /// before it calls this.
    pub(crate) fn take_or_queue<'a>(&'a self, changes: &'a Changes) -> Option<Held<'a, T>> {
        let mut seen = FREE;
        loop {
            // Release when marking: the caller's listener, made before, is then seen by the
            // releaser's notification (which acquires by its swap).
            let (want, ordering) = if seen == FREE { (HELD, Ordering::Acquire) } else { (WANTED, Ordering::Release) };
            match self.state.compare_exchange(seen, want, ordering, Ordering::Relaxed) {
                Ok(_) if want == HELD => return Some(Held { side: self, changes }),
                // Marked (or found marked): the release notifies.
                Ok(_) => return None,
                Err(WANTED) => return None,
                // Released, or taken, since it was looked at: look again.
                Err(now) => seen = now,
            }
        }
    }

    /// The side, waiting until it is free.
    pub(crate) async fn take<'a>(&'a self, changes: &'a Changes) -> Held<'a, T> {
        loop {
            let released = changes.listen();
            if let Some(held) = self.take_or_queue(changes) {
                return held;
            }
            released.await;
        }
    }
}

/// A side held; released when dropped (also when the future that held it is dropped).
pub(crate) struct Held<'a, T> {
    side: &'a Side<T>,
    changes: &'a Changes,
}

impl<T> Deref for Held<'_, T> {
    type Target = T;

    #[allow(unsafe_code)]
    fn deref(&self) -> &T {
        // SAFETY: this `Held` is the only one (see `Side`'s `Sync`), and the value is reached
        // only through it, so no `&mut` to it exists while this borrow lives.
        unsafe { &*self.side.value.get() }
    }
}

impl<T> DerefMut for Held<'_, T> {
    #[allow(unsafe_code)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow through it.
        unsafe { &mut *self.side.value.get() }
    }
}

impl<T> Drop for Held<'_, T> {
    fn drop(&mut self) {
        // Release: the value's changes happen before the next holder's acquire; acquire: a
        // waiter's mark, and its listener before it, happen before the notification.
        if self.side.state.swap(FREE, Ordering::AcqRel) == WANTED {
            self.changes.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_is_held_by_one_at_a_time_and_a_waiter_gets_it_when_released() {
        let changes = Changes::default();
        let side = Side::new(5u32);
        let mut held = side.take_now(&changes).expect("free");
        assert!(side.take_now(&changes).is_none(), "held");
        *held += 1;
        let mut waiting = std::pin::pin!(side.take(&changes));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(held);
        match waiting.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(h) => assert_eq!(*h, 6),
            std::task::Poll::Pending => panic!("released: the waiter takes it"),
        }
    }

    #[test]
    fn a_release_notifies_only_a_queued_waiter() {
        let changes = Changes::default();
        let side = Side::new(());
        let held = side.take_now(&changes).expect("free");
        let mut quiet = std::pin::pin!(changes.listen());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(side.take_now(&changes).is_none());
        drop(held);
        assert!(quiet.as_mut().poll(&mut cx).is_pending(), "nobody queued: no notification");
        let held = side.take_now(&changes).expect("free");
        let mut queued = std::pin::pin!(changes.listen());
        assert!(side.take_or_queue(&changes).is_none());
        drop(held);
        assert!(queued.as_mut().poll(&mut cx).is_ready(), "the queued waiter is notified");
    }

    #[test]
    fn threads_taking_a_side_in_turn_never_hold_it_together() {
        let changes = Changes::default();
        let side = Side::new((0u64, false));
        let rounds = if cfg!(miri) { 50 } else { 20_000 };
        std::thread::scope(|s| {
            for queue in [false, true, false, true] {
                let (side, changes) = (&side, &changes);
                s.spawn(move || {
                    let mut done = 0;
                    while done < rounds {
                        let held = if queue { side.take_or_queue(changes) } else { side.take_now(changes) };
                        if let Some(mut h) = held {
                            assert!(!h.1, "held twice at once");
                            h.1 = true;
                            h.0 += 1;
                            h.1 = false;
                            done += 1;
                        }
                    }
                });
            }
        });
        let h = side.take_now(&changes).expect("free again");
        assert_eq!(h.0, 4 * rounds);
    }
}
