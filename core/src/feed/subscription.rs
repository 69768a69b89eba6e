//! Subscriptions: each has a bounded queue filled by the writer thread after every commit
//! (never blocking it) and drained by the subscriber: blocking `recv`, an iterator, a
//! callback on a thread of its own, or a tokio `Stream`. When the queue is full, events are
//! dropped and counted, and keep being dropped until the subscriber has drained the queue
//! and received one [`Delivery::Missed`] notice naming how many it missed and the first
//! missed sequence number to resume from; so the notice always arrives, in order.

use super::event::{Event, Filter};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A committed change.
    Event(Event),
    /// Events were dropped because the queue was full.
    Missed {
        /// How many.
        count: u64,
        /// The first dropped sequence number (resume with `events_since`).
        from_seq: u64,
    },
}

pub(crate) enum Sink {
    Sync(crossbeam_channel::Sender<Delivery>),
    Async(tokio::sync::mpsc::Sender<Delivery>),
}

/// Events dropped since the subscriber last drained its queue: (count, first seq).
pub(crate) type Missed = Arc<Mutex<Option<(u64, u64)>>>;

/// The writer's side of a subscription.
pub(crate) struct SubSender {
    pub id: u64,
    pub tenant: Option<String>,
    pub filter: Filter,
    sink: Sink,
    missed: Missed,
}

enum Sent {
    Ok,
    Full,
    Closed,
}

impl SubSender {
    pub fn new(id: u64, tenant: Option<String>, filter: Filter, sink: Sink, missed: Missed) -> SubSender {
        SubSender { id, tenant, filter, sink, missed }
    }

    fn try_send(&self, d: Delivery) -> Sent {
        match &self.sink {
            Sink::Sync(tx) => match tx.try_send(d) {
                Ok(()) => Sent::Ok,
                Err(crossbeam_channel::TrySendError::Full(_)) => Sent::Full,
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => Sent::Closed,
            },
            Sink::Async(tx) => match tx.try_send(d) {
                Ok(()) => Sent::Ok,
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Sent::Full,
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => Sent::Closed,
            },
        }
    }

    /// Offers one event; returns false when the subscriber is gone.
    pub fn offer(&self, e: &Event) -> bool {
        if self.tenant.as_deref().is_some_and(|t| t != e.tenant) || !self.filter.matches(e) {
            return true;
        }
        let mut missed = self.missed.lock();
        if let Some((count, _)) = missed.as_mut() {
            *count += 1; // still in a gap the subscriber has not been told about
            return true;
        }
        match self.try_send(Delivery::Event(e.clone())) {
            Sent::Ok => true,
            Sent::Full => {
                *missed = Some((1, e.seq));
                true
            }
            Sent::Closed => false,
        }
    }
}

fn take_missed(missed: &Missed) -> Option<Delivery> {
    missed.lock().take().map(|(count, from_seq)| Delivery::Missed { count, from_seq })
}

/// The receiving rule shared by every form: queued deliveries first; once the queue is
/// empty, a pending gap notice; then wait.
pub(crate) fn receive(rx: &crossbeam_channel::Receiver<Delivery>, missed: &Missed, wait: Option<Duration>) -> Option<Delivery> {
    if let Ok(d) = rx.try_recv() {
        return Some(d);
    }
    if let Some(m) = take_missed(missed) {
        return Some(m);
    }
    match wait {
        Some(t) if t.is_zero() => None,
        Some(t) => rx.recv_timeout(t).ok(),
        None => rx.recv().ok(),
    }
}

/// A subscription handle. Dropping it unsubscribes.
pub struct Subscription {
    pub(crate) id: u64,
    pub(crate) rx: crossbeam_channel::Receiver<Delivery>,
    pub(crate) missed: Missed,
    pub(crate) feed: Arc<super::FeedInner>,
}

impl Subscription {
    /// The subscription's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Waits up to `timeout` for the next delivery; `None` on timeout or after unsubscribe.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Delivery> {
        receive(&self.rx, &self.missed, Some(timeout))
    }

    /// The next delivery if one is queued.
    pub fn try_recv(&self) -> Option<Delivery> {
        receive(&self.rx, &self.missed, Some(Duration::ZERO))
    }

    /// Stops delivery now (also done on drop and at engine close).
    pub fn unsubscribe(&self) {
        self.feed.remove(self.id);
    }
}

impl Iterator for Subscription {
    type Item = Delivery;
    /// Blocks until the next delivery; `None` once unsubscribed or the engine closed.
    fn next(&mut self) -> Option<Delivery> {
        receive(&self.rx, &self.missed, None)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.feed.remove(self.id);
    }
}

/// A subscription whose deliveries go to a callback on a thread of its own. Dropping it (or
/// `unsubscribe`) stops delivery; the thread ends after the callback in progress returns.
pub struct CallbackSubscription {
    pub(crate) id: u64,
    pub(crate) feed: Arc<super::FeedInner>,
    pub(crate) thread: Option<std::thread::JoinHandle<()>>,
}

impl CallbackSubscription {
    /// The subscription's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Stops delivery and waits for the delivery thread (unless called from it).
    pub fn unsubscribe(&mut self) {
        self.feed.remove(self.id);
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for CallbackSubscription {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

/// A subscription as a tokio `Stream` of deliveries. Dropping it unsubscribes.
pub struct SubscriptionStream {
    pub(crate) id: u64,
    pub(crate) rx: tokio::sync::mpsc::Receiver<Delivery>,
    pub(crate) missed: Missed,
    pub(crate) feed: Arc<super::FeedInner>,
}

impl tokio_stream::Stream for SubscriptionStream {
    type Item = Delivery;
    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Delivery>> {
        use std::task::Poll;
        match self.rx.poll_recv(cx) {
            Poll::Ready(d) => Poll::Ready(d),
            // The queue is empty: a gap is only ever recorded while it is full, so checking
            // here cannot miss a wake-up.
            Poll::Pending => match take_missed(&self.missed) {
                Some(m) => Poll::Ready(Some(m)),
                None => Poll::Pending,
            },
        }
    }
}

impl Drop for SubscriptionStream {
    fn drop(&mut self) {
        self.feed.remove(self.id);
    }
}
