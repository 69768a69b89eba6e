//! The helpers every export is built from: the panic boundary, argument checks that turn a
//! NULL or non-UTF-8 pointer into `CIDB_INVALID_INPUT` naming the argument, `out_`
//! parameter writers, and the strings cidb hands to C (released by `cidb_string_free`).
//! Nothing here knows about engines or tenants.

use crate::error;
use crate::status::cidb_status;
use cidb::{Error, ErrorKind, Result};
use std::any::Any;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

/// Runs the body of a status-returning export: clears the thread's last error, runs `f`,
/// and turns its error into a status plus message, or a panic into `CIDB_INTERNAL`.
pub fn boundary(f: impl FnOnce() -> Result<()>) -> cidb_status {
    error::clear();
    // AssertUnwindSafe: after a panic we only report it; the engine's shared state uses
    // locks that do not poison and writes are transactional, so no half-done change is
    // observed by later calls.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => cidb_status::CIDB_OK,
        Ok(Err(e)) => fail(&e),
        Err(payload) => {
            error::set(&format!("internal error: panic in cidb: {}", panic_text(payload.as_ref())));
            drop_quietly(payload);
            cidb_status::CIDB_INTERNAL
        }
    }
}

/// Runs the body of an export that returns a value instead of a status (`cidb_version`,
/// `cidb_status_name`, ...): a panic returns `on_panic`. The last error is not touched.
pub fn boundary_value<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            drop_quietly(payload);
            on_panic
        }
    }
}

/// Records `e` as the thread's last error and returns its status.
pub fn fail(e: &Error) -> cidb_status {
    error::set(&e.to_string());
    cidb_status::from_kind(e.kind())
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Drops a panic payload; a payload whose destructor panics is leaked instead of unwinding
/// into C.
fn drop_quietly(payload: Box<dyn Any + Send>) {
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(second);
    }
}

/// `CIDB_INVALID_INPUT` with `message`.
pub fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

/// Borrows the object behind a handle argument, or fails naming `name` when it is NULL.
///
/// The caller must pass a pointer cidb handed out and has not released.
pub fn arg_ref<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: non-NULL handles are, by the header's contract, live objects cidb created.
    unsafe { p.as_ref() }.ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// Borrows a NUL-terminated UTF-8 argument, or fails naming `name` when it is NULL or not
/// UTF-8.
pub fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    opt_str(p, name)?.ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// Like [`arg_str`] for an argument that may be NULL (`None`).
pub fn opt_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes a NUL-terminated string that stays valid during the call.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Some(s)),
        Err(e) => Err(invalid(format!("{name} is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()))),
    }
}

/// An `out_` parameter: checked for NULL once, then written with [`Out::set`].
pub struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Checks `p` is not NULL (else `CIDB_INVALID_INPUT` naming `name`) and writes `init` to
    /// it, so the caller sees a defined value (NULL, 0, false) even when the call fails.
    pub fn new(p: *mut T, name: &str, init: T) -> Result<Out<T>> {
        let out = Out(NonNull::new(p).ok_or_else(|| invalid(format!("{name} is NULL")))?);
        out.set(init);
        Ok(out)
    }

    /// Writes the result. The previous value is overwritten without being dropped (out
    /// parameters hold plain C values: pointers, integers, booleans).
    pub fn set(&self, v: T) {
        // SAFETY: non-NULL and, by the contract, writable and aligned for T.
        unsafe { self.0.as_ptr().write(v) }
    }
}

/// Hands `text` to C as a string the caller releases with `cidb_string_free`.
pub fn c_string(text: String) -> Result<*mut c_char> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Error::new(ErrorKind::Internal, "result text holds a NUL byte"))
}

/// Releases a string returned by cidb through a `char **out_...` parameter (JSON results,
/// text). NULL is accepted and ignored.
///
/// Ownership: `s` must come from cidb and not have been released yet; after this call it is
/// invalid. Never pass a string from `malloc`, `strdup` or `cidb_last_error_message`.
#[no_mangle]
pub extern "C" fn cidb_string_free(s: *mut c_char) {
    boundary_value((), || {
        if !s.is_null() {
            // SAFETY: by the contract `s` came from `CString::into_raw` in `c_string`.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// Releases a handle created with `Box::into_raw`. NULL is ignored.
pub fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: by the contract `p` came from `Box::into_raw` and is released once.
        drop(unsafe { Box::from_raw(p) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal_with_a_message() {
        let s = boundary(|| panic!("boom {}", 42));
        assert_eq!(s, cidb_status::CIDB_INTERNAL);
        let msg = error::last_error().unwrap();
        assert!(msg.contains("panic") && msg.contains("boom 42"), "{msg}");
        // The next successful call clears it.
        assert_eq!(boundary(|| Ok(())), cidb_status::CIDB_OK);
        assert_eq!(error::last_error(), None);
        assert_eq!(boundary_value(7, || panic!("x")), 7);
    }

    #[test]
    fn errors_map_to_their_kind_status_and_message() {
        let s = boundary(|| Err(Error::new(ErrorKind::NotFound, "no customer c9")));
        assert_eq!(s, cidb_status::CIDB_NOT_FOUND);
        assert!(error::last_error().unwrap().contains("no customer c9"));
    }

    #[test]
    fn null_and_bad_utf8_arguments_are_named() {
        let e = arg_str(std::ptr::null(), "customer_id").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("customer_id is NULL"));
        let bad = [b'a', 0xff, b'b', 0];
        let e = arg_str(bad.as_ptr().cast(), "name").unwrap_err();
        assert!(e.message().contains("name is not valid UTF-8") && e.message().contains("offset 1"), "{e}");
        assert_eq!(opt_str(std::ptr::null(), "role").unwrap(), None);
        let e = Out::<u64>::new(std::ptr::null_mut(), "out_count", 0).err().unwrap();
        assert!(e.message().contains("out_count is NULL"));
    }
}
