//! The change feed (the Pub/Sub role): committed inserts, updates and deletes of customers,
//! scores, latest scores and messages, and context updates, delivered in commit order to
//! in-process subscribers and kept in a persisted log for a retention window so a restarted
//! process can resume from the last sequence it handled. Events are built and logged inside
//! the writing transaction and delivered only after the commit is durable: never for a
//! rolled-back write, and a slow subscriber never blocks a writer.

mod chunk;
mod event;
mod log;
mod subscription;

pub use event::{row_json, Crossing, Event, Filter, Op, CONTEXT_TABLE};
pub use subscription::{CallbackSubscription, Delivery, Subscription, SubscriptionStream};

pub(crate) use log::{any_older, create_tables, read, record, trim};
pub use chunk::FEED;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use subscription::{Sink, SubSender};

/// Change-feed settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedOptions {
    /// How long events stay readable with `events_since` (default 1 h; zero disables the
    /// persisted log, live delivery still works).
    pub retention: Duration,
    /// Deliveries queued per subscription before events are dropped (default 10,000).
    pub queue_capacity: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions { retention: Duration::from_secs(3600), queue_capacity: 10_000 }
    }
}

/// The subscriber registry shared by the engine and the subscription handles.
#[derive(Default)]
pub struct FeedInner {
    subs: RwLock<Vec<Arc<SubSender>>>,
    count: AtomicUsize,
    next_id: AtomicU64,
    delivered: AtomicU64,
}

impl FeedInner {
    pub(crate) fn remove(&self, id: u64) {
        let mut subs = self.subs.write();
        subs.retain(|s| s.id != id);
        self.count.store(subs.len(), Ordering::Release);
    }

    /// True when anyone is subscribed.
    pub fn has_subscribers(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Delivers a committed group's events (called by the writer after commit).
    pub fn deliver(&self, events: &[Event]) {
        if events.is_empty() || !self.has_subscribers() {
            return;
        }
        let subs = self.subs.read().clone();
        let mut gone = Vec::new();
        for e in events {
            for s in &subs {
                if !s.offer(e) {
                    gone.push(s.id);
                }
            }
        }
        self.delivered.fetch_add(events.len() as u64, Ordering::Relaxed);
        for id in gone {
            self.remove(id);
        }
    }

    /// Removes every subscription (engine close); their receivers then end.
    pub fn clear(&self) {
        self.subs.write().clear();
        self.count.store(0, Ordering::Release);
    }

    fn add(&self, tenant: Option<String>, filter: Filter, sink: Sink) -> (u64, subscription::Missed) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let missed = subscription::Missed::default();
        let mut subs = self.subs.write();
        subs.push(Arc::new(SubSender::new(id, tenant, filter, sink, missed.clone())));
        self.count.store(subs.len(), Ordering::Release);
        (id, missed)
    }

    /// Subscribes with a blocking receiver.
    pub fn subscribe(self: &Arc<Self>, tenant: Option<String>, filter: Filter, cap: usize) -> Subscription {
        let (tx, rx) = crossbeam_channel::bounded(cap.max(1));
        let (id, missed) = self.add(tenant, filter, Sink::Sync(tx));
        Subscription { id, rx, missed, feed: self.clone() }
    }

    /// Subscribes with a callback run on a delivery thread of its own.
    pub fn subscribe_callback(
        self: &Arc<Self>,
        tenant: Option<String>,
        filter: Filter,
        cap: usize,
        f: impl Fn(Delivery) + Send + 'static,
    ) -> CallbackSubscription {
        let (tx, rx) = crossbeam_channel::bounded(cap.max(1));
        let (id, missed) = self.add(tenant, filter, Sink::Sync(tx));
        let thread = std::thread::Builder::new()
            .name(format!("cidb-feed-{id}"))
            .spawn(move || {
                while let Some(d) = subscription::receive(&rx, &missed, None) {
                    // A panicking callback must not end delivery for good or reach the writer.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(d)));
                }
            })
            .ok();
        CallbackSubscription { id, feed: self.clone(), thread }
    }

    /// Subscribes as a tokio `Stream`.
    pub fn subscribe_stream(self: &Arc<Self>, tenant: Option<String>, filter: Filter, cap: usize) -> SubscriptionStream {
        let (tx, rx) = tokio::sync::mpsc::channel(cap.max(1));
        let (id, missed) = self.add(tenant, filter, Sink::Async(tx));
        SubscriptionStream { id, rx, missed, feed: self.clone() }
    }

    /// Events handed to subscribers so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
}
