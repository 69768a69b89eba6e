//! How an operation runs, in its two forms. Every operation is written once as a
//! *preparation* (on the JS thread: read and check the JS arguments, take what the work
//! needs) that yields a *job* (a `Send` closure doing the engine work and building the
//! result). The sync form runs the job on the calling thread; the `…Async` form runs it as a
//! napi `AsyncTask` on the libuv thread pool and settles a Promise. Either way a cidb error
//! becomes the same JS error (see `errors`), a failed preparation rejects the Promise rather
//! than throwing, and a panic anywhere becomes `CIDB_INTERNAL` instead of crossing the FFI
//! boundary.

use crate::errors::to_napi;
use cidb::{Error, ErrorKind};
use napi::bindgen_prelude::{AsyncTask, Env, ToNapiValue, TypeName};
use napi::Task;
use std::panic::{catch_unwind, AssertUnwindSafe};

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

/// The async form: prepare now, run the job on the libuv pool; errors reject.
pub fn run_async<T>(prepare: impl FnOnce() -> cidb::Result<Job<T>>) -> AsyncTask<Op<T>>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    AsyncTask::new(Op { job: Some(guarded(prepare)) })
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
