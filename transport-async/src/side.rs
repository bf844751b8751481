//! The read side and the write side of a connection, each held by one task at a time (across
//! awaits), taken without waiting by whoever finds it free.
//!
//! A side is moved out of its slot while held and put back when its guard drops. A task that
//! must have a side it found taken ([`Side::take_or_queue`]) is queued, and the release then
//! notifies the connection's [`Changes`]; a task that only tries ([`Side::take_now`]: the other
//! holder will do the work) is not, so a release wakes nobody for nothing. async-lock's mutex,
//! used before, notified its event-listener on every release, and that event takes a lock per
//! notification, listened to or not: four per echo of a small message.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::change::Changes;

/// One side, free or held.
#[derive(Debug)]
pub(crate) struct Side<T> {
    slot: Mutex<Slot<T>>,
}

#[derive(Debug)]
struct Slot<T> {
    /// `None` while a guard holds it. Boxed: taking and giving back move a pointer.
    value: Option<Box<T>>,
    /// A task found it taken and waits for its release. Set and cleared under the slot's
    /// lock, so a release cannot miss a waiter that failed just before it.
    wanted: bool,
}

impl<T> Side<T> {
    pub(crate) fn new(value: T) -> Self {
        Side { slot: Mutex::new(Slot { value: Some(Box::new(value)), wanted: false }) }
    }

    fn slot(&self) -> MutexGuard<'_, Slot<T>> {
        // A panic elsewhere leaves the slot as it was: a side, or none while it is held.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The side if it is free, for a task that needs it only if nobody else has it.
    pub(crate) fn take_now<'a>(&'a self, changes: &'a Changes) -> Option<Held<'a, T>> {
        let value = self.slot().value.take()?;
        Some(Held { side: self, changes, value: Some(value) })
    }

    /// The side if it is free; otherwise its release notifies `changes`. The caller listens
    /// before it calls this.
    pub(crate) fn take_or_queue<'a>(&'a self, changes: &'a Changes) -> Option<Held<'a, T>> {
        let mut slot = self.slot();
        match slot.value.take() {
            Some(value) => Some(Held { side: self, changes, value: Some(value) }),
            None => {
                slot.wanted = true;
                None
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

/// A side held; given back when dropped (also when the future that held it is dropped).
#[derive(Debug)]
pub(crate) struct Held<'a, T> {
    side: &'a Side<T>,
    changes: &'a Changes,
    /// Always `Some` until the drop.
    value: Option<Box<T>>,
}

impl<T> Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_deref().expect("held until dropped")
    }
}

impl<T> DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().expect("held until dropped")
    }
}

impl<T> Drop for Held<'_, T> {
    fn drop(&mut self) {
        let wanted = {
            let mut slot = self.side.slot();
            slot.value = self.value.take();
            std::mem::take(&mut slot.wanted)
        };
        if wanted {
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
}
