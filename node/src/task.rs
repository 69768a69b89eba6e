//! How an operation runs, in its two forms. Every operation is written once as a
//! *preparation* (on the JS thread: read and check the JS arguments, take what the work
//! needs) that yields a *job* (a `Send` closure doing the engine work and building the
//! result). The sync form runs the job on the calling thread; the `…Async` form runs it as a
//! napi `AsyncTask` on the libuv thread pool and settles a Promise. Writes have a third
//! runner, [`run_future`]: their `…Async` form awaits the core's non-blocking write future
//! (`cidb::AsyncTenant`) on napi's tokio runtime, so no thread waits while the group commit
//! is made durable and any number of in-flight writes can share one commit. Either way a
//! cidb error becomes the same JS error (see `errors`), a failed preparation rejects the
//! Promise rather than throwing, and a panic anywhere becomes `CIDB_INTERNAL` instead of
//! crossing the FFI boundary.

use crate::errors::to_napi;
use cidb::{Error, ErrorKind};
use napi::bindgen_prelude::{AsyncTask, Env, PromiseRaw, ToNapiValue, TypeName};
use napi::Task;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The engine work of one call, ready to run on any thread.
pub type Job<T> = Box<dyn FnOnce() -> cidb::Result<T> + Send + 'static>;

/// Boxes a job closure.
pub fn job<T>(f: impl FnOnce() -> cidb::Result<T> + Send + 'static) -> Job<T> {
    Box::new(f)
}

/// Runs `f`, turning a panic into an `Internal` error.
pub fn guarded<T>(f: impl FnOnce() -> cidb::Result<T>) -> cidb::Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::new(ErrorKind::Internal, format!("cidb panicked: {what}")))
    })
}

/// The sync form: prepare and run on the calling (JS) thread; errors throw.
pub fn run_sync<T>(env: &Env, prepare: impl FnOnce() -> cidb::Result<Job<T>>) -> napi::Result<T> {
    guarded(|| prepare()?()).map_err(|e| to_napi(env, e))
}

/// A sync read run in place, with no job: for the hottest calls, where boxing a job and
/// cloning the handles it keeps alive would cost more than the read itself.
pub fn run_now<T>(env: &Env, f: impl FnOnce() -> cidb::Result<T>) -> napi::Result<T> {
    guarded(f).map_err(|e| to_napi(env, e))
}

/// The async form: prepare now, run the job on the libuv pool; errors reject.
pub fn run_async<T>(prepare: impl FnOnce() -> cidb::Result<Job<T>>) -> AsyncTask<Op<T>>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    AsyncTask::new(Op { job: Some(guarded(prepare)) })
}

/// The future form: prepare now (on the JS thread), then await the returned future on napi's
/// tokio runtime; the Promise settles on the JS thread with the result or the cidb error.
/// For operations whose engine work is itself a future that waits without a thread (writes).
pub fn run_future<'env, T, F>(env: &'env Env, prepare: impl FnOnce() -> cidb::Result<F>) -> napi::Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = cidb::Result<T>> + Send + 'static,
{
    let prepared = guarded(|| prepare().map(Guarded));
    env.spawn_future_with_callback(
        async move {
            Ok(match prepared {
                Ok(fut) => fut.await,
                Err(e) => Err(e),
            })
        },
        |env, result| result.map_err(|e| to_napi(env, e)),
    )
}

/// A future whose panics become `Internal` errors.
struct Guarded<F>(F);

impl<T, F: Future<Output = cidb::Result<T>>> Future for Guarded<F> {
    type Output = cidb::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<cidb::Result<T>> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|g| &mut g.0) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(p) => p,
            Err(_) => Poll::Ready(Err(Error::new(ErrorKind::Internal, "cidb panicked in an async operation"))),
        }
    }
}

/// A prepared operation as a napi task.
pub struct Op<T> {
    job: Option<cidb::Result<Job<T>>>,
}

impl<T> Task for Op<T>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    type Output = cidb::Result<T>;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(match self.job.take() {
            Some(Ok(job)) => guarded(job),
            Some(Err(e)) => Err(e),
            None => Err(Error::new(ErrorKind::Internal, "the task ran twice")),
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<T> {
        output.map_err(|e| to_napi(&env, e))
    }
}
