//! Calling a JS function from any thread: a thin wrapper over a napi threadsafe function
//! (TSFN), used by change-feed subscriptions and alert callbacks. It owns the rules those
//! two need and napi-rs's wrapper does not give:
//!
//! - After [`JsCallback::close`] returns, the function is never called again, even for
//!   calls already queued (they are dropped on the JS thread), and the TSFN is released so
//!   it no longer keeps the event loop alive.
//! - [`JsCallback::call`] hands back a receiver that completes once the JS function has
//!   returned (or the call was dropped), so a caller can wait for JS to keep up
//!   (backpressure) without blocking a thread.
//! - An exception thrown by the JS function is re-raised as an uncaught exception
//!   (`process.on('uncaughtException')`), as for any event listener; it never reaches cidb.
//! - The TSFN pointer is only used under a lock that its finalizer also takes, so a
//!   worker's environment tearing down (which finalizes it) cannot race a call from another
//!   thread into freed memory; [`JsCallback::closed`] wakes whoever waits on it then too,
//!   so the work feeding a callback of a terminated worker ends.

use napi::bindgen_prelude::{sys, ToNapiValue};
use parking_lot::Mutex;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

struct Raw(sys::napi_threadsafe_function);

// SAFETY: a TSFN is made to be used from any thread; only the thread-safe napi calls
// (call, release) are made on it off the JS thread, and always under `State::tsfn`'s lock.
unsafe impl Send for Raw {}

struct State {
    /// `None` once released by `close` or finalized by napi.
    tsfn: Mutex<Option<Raw>>,
    closed: AtomicBool,
    /// Becomes true with `closed`, for async waiters.
    signal: watch::Sender<bool>,
}

impl State {
    fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        self.signal.send_replace(true);
    }
}

struct Item<T> {
    value: T,
    done: oneshot::Sender<()>,
}

/// A JS function callable from any thread with values of type `T`.
pub struct JsCallback<T> {
    state: Arc<State>,
    _t: PhantomData<fn(T)>,
}

impl<T: ToNapiValue + Send + 'static> JsCallback<T> {
    /// Wraps the function `func` of `env` (call on the JS thread). With `keep_alive` the
    /// callback keeps the event loop alive until closed, like a listening socket; without,
    /// it never does.
    pub fn new(env: sys::napi_env, func: sys::napi_value, keep_alive: bool) -> cidb::Result<JsCallback<T>> {
        let failed = |what: &str| cidb::Error::new(cidb::ErrorKind::Internal, format!("cannot {what} a JS callback"));
        let state = Arc::new(State { tsfn: Mutex::new(None), closed: AtomicBool::new(false), signal: watch::Sender::new(false) });
        const NAME: &str = "cidb callback";
        let mut name = ptr::null_mut();
        // SAFETY: env is the live environment of the calling JS thread; NAME outlives the call.
        if unsafe { sys::napi_create_string_utf8(env, NAME.as_ptr().cast(), NAME.len() as isize, &mut name) }
            != sys::Status::napi_ok
        {
            return Err(failed("name"));
        }
        // One strong count travels with the TSFN: `context` for `call_js`, `finalize_data`
        // for `finalize`, which takes it back.
        let ctx = Arc::into_raw(state.clone()).cast_mut().cast::<c_void>();
        let mut tsfn = ptr::null_mut();
        // SAFETY: func is a function value of env; the callbacks match napi's signatures and
        // `ctx` stays valid until `finalize` runs.
        let status = unsafe {
            sys::napi_create_threadsafe_function(
                env,
                func,
                ptr::null_mut(),
                name,
                0,
                1,
                ctx,
                Some(finalize),
                ctx,
                Some(call_js::<T>),
                &mut tsfn,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: napi did not take the pointer; reclaim the count made above.
            drop(unsafe { Arc::from_raw(ctx.cast::<State>()) });
            return Err(failed("create"));
        }
        if !keep_alive {
            // SAFETY: on the JS thread of env, with the TSFN just created.
            unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
        }
        *state.tsfn.lock() = Some(Raw(tsfn));
        Ok(JsCallback { state, _t: PhantomData })
    }

    /// Queues a call with `value`. The receiver completes when the function has returned
    /// or the call was dropped (closed meanwhile); `None` when closed already.
    pub fn call(&self, value: T) -> Option<oneshot::Receiver<()>> {
        if self.is_closed() {
            return None;
        }
        let (done, rx) = oneshot::channel();
        let guard = self.state.tsfn.lock();
        let raw = guard.as_ref()?;
        let item = Box::into_raw(Box::new(Item { value, done }));
        // SAFETY: raw is live (held under the lock its finalizer takes); nonblocking on an
        // unbounded queue never waits. On success napi owns `item` until `call_js`.
        let status =
            unsafe { sys::napi_call_threadsafe_function(raw.0, item.cast(), sys::ThreadsafeFunctionCallMode::nonblocking) };
        if status != sys::Status::napi_ok {
            // SAFETY: napi did not take the item.
            drop(unsafe { Box::from_raw(item) });
            return None;
        }
        Some(rx)
    }

    /// Stops all calls, queued ones included, and releases the TSFN. Any thread; idempotent.
    pub fn close(&self) {
        self.state.mark_closed();
        let mut tsfn = self.state.tsfn.lock();
        if let Some(raw) = tsfn.take() {
            // SAFETY: raw is live (under the lock); this gives back the one thread count it
            // was created with. Finalization is asynchronous, on the JS thread.
            unsafe { sys::napi_release_threadsafe_function(raw.0, sys::ThreadsafeFunctionReleaseMode::release) };
        }
    }

    /// True once closed, or once napi finalized the function (its environment went away).
    pub fn is_closed(&self) -> bool {
        self.state.closed.load(Ordering::Acquire)
    }

    /// Resolves once closed or finalized.
    pub async fn closed(&self) {
        let mut rx = self.state.signal.subscribe();
        // The sender lives in `state`, which `self` keeps alive: this cannot fail.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// Runs on the JS thread for each queued call, or with a null `env` while napi empties the
/// queue of a finalized TSFN (then only the item is freed).
unsafe extern "C" fn call_js<T: ToNapiValue>(
    env: sys::napi_env,
    js_cb: sys::napi_value,
    context: *mut c_void,
    data: *mut c_void,
) {
    // SAFETY: every item was boxed by `call` and is handed to this function exactly once.
    let item = unsafe { Box::from_raw(data.cast::<Item<T>>()) };
    if env.is_null() || js_cb.is_null() || context.is_null() {
        return;
    }
    // SAFETY: with a live env, `finalize` has not run, so the count it owns keeps State alive.
    let state = unsafe { &*context.cast::<State>() };
    if state.closed.load(Ordering::Acquire) {
        return;
    }
    let Item { value, done } = *item;
    // SAFETY: env is the live environment of this JS thread; napi opened a handle scope.
    unsafe {
        match T::to_napi_value(env, value) {
            Ok(arg) => {
                let mut recv = ptr::null_mut();
                sys::napi_get_undefined(env, &mut recv);
                let mut result = ptr::null_mut();
                if sys::napi_call_function(env, recv, js_cb, 1, &arg, &mut result) == sys::Status::napi_pending_exception {
                    rethrow_uncaught(env);
                }
            }
            Err(e) => {
                // Converting a delivery cannot fail short of running out of memory; say so
                // loudly rather than dropping it.
                let mut pending = false;
                sys::napi_is_exception_pending(env, &mut pending);
                if pending {
                    rethrow_uncaught(env);
                } else {
                    let msg = format!("cidb could not convert a callback argument: {e}");
                    let mut text = ptr::null_mut();
                    let mut err = ptr::null_mut();
                    sys::napi_create_string_utf8(env, msg.as_ptr().cast(), msg.len() as isize, &mut text);
                    sys::napi_create_error(env, ptr::null_mut(), text, &mut err);
                    sys::napi_fatal_exception(env, err);
                }
            }
        }
    }
    let _ = done.send(());
}

/// Turns the pending JS exception into an uncaught exception.
unsafe fn rethrow_uncaught(env: sys::napi_env) {
    let mut exc = ptr::null_mut();
    // SAFETY: called on the JS thread with an exception pending.
    unsafe {
        sys::napi_get_and_clear_last_exception(env, &mut exc);
        sys::napi_fatal_exception(env, exc);
    }
}

/// napi destroys the TSFN (all releases done, or its environment is going away).
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the strong count `new` gave napi; this is its only release.
    let state = unsafe { Arc::from_raw(data.cast::<State>()) };
    state.tsfn.lock().take();
    state.mark_closed();
}
