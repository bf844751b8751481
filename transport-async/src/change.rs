//! How one task tells the others that the connection changed: a generation count and the
//! wakers of the tasks listening for the next one.
//!
//! A general-purpose event (event-listener's) takes its lock on every notification and
//! allocates every listener; a connection notifies after every round of `drive`, and there
//! is usually nobody listening. Here a notification with no listener is a fence and a load,
//! and a listener allocates nothing: the first one registers its waker in a slot of its own
//! without a lock (a connection has one listener most of the time: the task waiting in
//! `recv`), any other in a list behind a lock that keeps its capacity.
//! Measured on the many-connections echo (`cargo bench -p wsduplex-bench --bench many`,
//! instructions per echo under callgrind): BENCHMARKS.md, "Many connections".

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use atomic_waker::AtomicWaker;

/// The changes of one connection.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Listeners alive: a notification that finds none skips the lock.
    listening: AtomicUsize,
    /// Changes so far; bumped under the lock, read without it.
    generation: AtomicU64,
    /// The waker of the listener that holds the slot (`slot_held`).
    slot: AtomicWaker,
    slot_held: AtomicBool,
    /// Every other listener's.
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    next_id: u64,
    wakers: Vec<(u64, Waker)>,
}

impl Changes {
    /// A listener for the next change. **Listen, then look again**: a change made after this
    /// returns (and notified) completes it, so a caller that looks at the state after listening
    /// and finds nothing to do loses no notification by waiting on it.
    pub(crate) fn listen(&self) -> Listener<'_> {
        // SeqCst, paired with the fence in `notify`: either the notifier sees this listener,
        // or the caller's look after this sees the notifier's change.
        self.listening.fetch_add(1, Ordering::SeqCst);
        Listener { changes: self, generation: self.generation.load(Ordering::SeqCst), entry: Entry::None }
    }

    /// Wakes every listener.
    pub(crate) fn notify(&self) {
        // The change that calls this was made before: published to a listener that counted
        // itself after it (see `listen`).
        fence(Ordering::SeqCst);
        if self.listening.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut wakers = {
            let mut w = self.lock();
            self.generation.fetch_add(1, Ordering::SeqCst);
            std::mem::take(&mut w.wakers)
        };
        // After the count: the slot's listener registers, then looks at the count.
        self.slot.wake();
        // Woken outside the lock: a waker may run arbitrary code.
        for (_, waker) in wakers.drain(..) {
            waker.wake();
        }
        let mut w = self.lock();
        if w.wakers.is_empty() {
            // Keep the list's capacity: the next listeners allocate nothing.
            w.wakers = wakers;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // A panic elsewhere leaves a list of wakers, valid whatever happened.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Completes at the first change after [`Changes::listen`].
#[must_use = "a listener does nothing unless polled"]
#[derive(Debug)]
pub(crate) struct Listener<'a> {
    changes: &'a Changes,
    generation: u64,
    /// Where its waker is, once polled.
    entry: Entry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Never polled.
    None,
    Slot,
    /// Its id in the list.
    List(u64),
}

impl Future for Listener<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let changes = self.changes;
        if changes.generation.load(Ordering::SeqCst) != self.generation {
            return Poll::Ready(());
        }
        if self.entry == Entry::None
            && changes.slot_held.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
        {
            self.entry = Entry::Slot;
        }
        if self.entry == Entry::Slot {
            // Register, then look: a notification after the registration wakes this waker,
            // one before it moved the count this looks at (both SeqCst).
            changes.slot.register(cx.waker());
            return if changes.generation.load(Ordering::SeqCst) != self.generation {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        let mut w = changes.lock();
        // Looked at again under the lock, where `notify` counts a change.
        if changes.generation.load(Ordering::SeqCst) != self.generation {
            return Poll::Ready(());
        }
        let entry = match self.entry {
            Entry::List(id) => w.wakers.iter_mut().find(|(i, _)| *i == id),
            _ => None,
        };
        match entry {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            // Never polled: a notification takes entries only as it moves the generation.
            None => {
                let id = w.next_id;
                w.next_id += 1;
                w.wakers.push((id, cx.waker().clone()));
                drop(w);
                self.entry = Entry::List(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Listener<'_> {
    fn drop(&mut self) {
        match self.entry {
            Entry::None => {}
            Entry::Slot => {
                // The waker goes with its listener: the slot's next holder registers its own.
                drop(self.changes.slot.take());
                self.changes.slot_held.store(false, Ordering::Release);
            }
            Entry::List(id) => {
                let mut w = self.changes.lock();
                if let Some(i) = w.wakers.iter().position(|(e, _)| *e == id) {
                    w.wakers.swap_remove(i);
                }
            }
        }
        self.changes.listening.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Flag>, Waker) {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        (flag.clone(), Waker::from(flag))
    }

    fn poll(l: &mut Listener<'_>, w: &Waker) -> Poll<()> {
        Pin::new(l).poll(&mut Context::from_waker(w))
    }

    #[test]
    fn a_change_after_listening_completes_the_listener_polled_or_not() {
        let c = Changes::default();
        let (in_slot, w1) = waker();
        let (in_list, w2) = waker();
        let mut early = c.listen();
        let mut first = c.listen();
        let mut second = c.listen();
        assert!(poll(&mut first, &w1).is_pending());
        assert!(poll(&mut second, &w2).is_pending());
        assert_eq!((first.entry, second.entry), (Entry::Slot, Entry::List(0)), "the first polled has the slot");
        c.notify();
        assert!(in_slot.0.load(Ordering::SeqCst), "the slot's listener's task is woken");
        assert!(in_list.0.load(Ordering::SeqCst), "the listed listener's task is woken");
        assert!(poll(&mut first, &w1).is_ready());
        assert!(poll(&mut second, &w2).is_ready());
        assert!(poll(&mut early, &w1).is_ready(), "listened before the change, polled after it");
        // A change before listening is not this listener's.
        let mut late = c.listen();
        assert!(poll(&mut late, &w1).is_pending());
    }

    #[test]
    fn a_dropped_listener_leaves_nothing_behind() {
        let c = Changes::default();
        let (flag, w) = waker();
        let mut first = c.listen();
        let mut second = c.listen();
        for _ in 0..2 {
            // Polled again: the same entry, its waker replaced.
            assert!(poll(&mut first, &w).is_pending());
            assert!(poll(&mut second, &w).is_pending());
        }
        assert!(c.slot_held.load(Ordering::SeqCst));
        assert_eq!(c.lock().wakers.len(), 1);
        drop(first);
        assert!(!c.slot_held.load(Ordering::SeqCst), "the slot is free for the next listener");
        drop(second);
        assert_eq!(c.lock().wakers.len(), 0);
        assert_eq!(c.listening.load(Ordering::SeqCst), 0);
        c.notify();
        assert!(!flag.0.load(Ordering::SeqCst), "nobody listens: nobody is woken");
        let mut next = c.listen();
        assert!(poll(&mut next, &w).is_pending());
        assert_eq!(next.entry, Entry::Slot);
    }

    #[test]
    fn a_notification_from_another_thread_is_never_lost() {
        // Listen, then look again: whatever the interleaving, the waiter either sees the flag
        // or is woken; in the slot (even rounds) or in the list (odd: the slot is taken).
        for round in 0..if cfg!(miri) { 40 } else { 4_000 } {
            let c = Arc::new(Changes::default());
            let mut holder = c.listen();
            if round % 2 == 1 {
                assert!(poll(&mut holder, Waker::noop()).is_pending());
            }
            let set = Arc::new(AtomicBool::new(false));
            let (c2, set2) = (c.clone(), set.clone());
            let t = std::thread::spawn(move || {
                set2.store(true, Ordering::SeqCst);
                c2.notify();
            });
            let (flag, w) = waker();
            let mut l = c.listen();
            let seen = set.load(Ordering::SeqCst) || poll(&mut l, &w).is_ready();
            if l.entry != Entry::None {
                assert_eq!(l.entry == Entry::Slot, round % 2 == 0, "the slot is taken in odd rounds");
            }
            t.join().expect("notifier");
            assert!(seen || flag.0.load(Ordering::SeqCst) || poll(&mut l, &w).is_ready());
        }
    }
}
