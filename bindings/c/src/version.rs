//! The library's version, for checking at run time that the loaded library matches the
//! header a program was compiled against (`CIDB_VERSION`).

use std::ffi::c_char;

/// The version of the loaded cidb library, such as `"0.1.0"`; compare with the header's
/// `CIDB_VERSION` to detect a mismatched library.
///
/// Ownership: the returned string is static; never free it. It is never NULL.
#[no_mangle]
pub extern "C" fn cidb_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_package_version() {
        let v = unsafe { std::ffi::CStr::from_ptr(super::cidb_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
