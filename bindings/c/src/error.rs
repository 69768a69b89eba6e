//! The per-thread last error. Every function that returns a `cidb_status` clears it on entry
//! and sets it when it fails, so the message always belongs to the calling thread's most
//! recent status-returning call; threads never see each other's messages.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Forgets the calling thread's last error (the start of every status-returning call).
pub(crate) fn clear() {
    // `try_with`: during thread teardown the slot may be gone; there is nothing to clear.
    let _ = LAST_ERROR.try_with(|e| e.borrow_mut().take());
}

/// Records `message` as the calling thread's last error.
pub(crate) fn set(message: &str) {
    // Messages come from Rust strings; a NUL inside one would end the C string early.
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = Some(text));
}

/// A copy of the calling thread's last error, for Rust tests.
pub fn last_error() -> Option<String> {
    LAST_ERROR.try_with(|e| e.borrow().as_ref().map(|c| c.to_string_lossy().into_owned())).ok().flatten()
}

/// The message of the calling thread's most recent failed call, or `""` when its most recent
/// status-returning call succeeded (or there was none). Never NULL.
///
/// Ownership: cidb owns the returned string. It stays valid until the calling thread makes
/// its next call to a cidb function that returns a `cidb_status`; copy it to keep it
/// longer. Never free it. Calls to `cidb_last_error_message`, `cidb_last_error_copy`,
/// `cidb_status_name`, `cidb_version` and the `_free` functions do not change it.
#[no_mangle]
pub extern "C" fn cidb_last_error_message() -> *const c_char {
    crate::ffi::boundary_value(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|e| e.borrow().as_ref().map_or(c"".as_ptr(), |c| c.as_ptr()))
            .unwrap_or(c"".as_ptr())
    })
}

/// Copies the calling thread's last error message into `buf`, like `snprintf`: at most
/// `buf_len - 1` bytes followed by a NUL (nothing is written when `buf_len` is 0, and `buf`
/// may then be NULL). Returns the message's full length in bytes, without the NUL; a
/// return value `>= buf_len` means the copy was truncated. Returns 0 when there is no error.
///
/// Ownership: `buf` belongs to the caller and is only written during the call.
#[no_mangle]
pub extern "C" fn cidb_last_error_copy(buf: *mut c_char, buf_len: usize) -> usize {
    crate::ffi::boundary_value(0, || {
        let msg = LAST_ERROR.try_with(|e| e.borrow().clone()).ok().flatten().unwrap_or_default();
        let bytes = msg.as_bytes();
        if !buf.is_null() && buf_len > 0 {
            let n = bytes.len().min(buf_len - 1);
            // SAFETY: the caller gives `buf_len` writable bytes at `buf` (see the contract);
            // we write `n + 1 <= buf_len` of them.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), buf, n);
                *buf.add(n) = 0;
            }
        }
        bytes.len()
    })
}
