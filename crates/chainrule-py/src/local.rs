//! [`Local`]: how values that are not thread-safe (`Rc`, `RefCell`) live in Python objects.

use std::ops::Deref;

/// A value that is only ever touched while the calling thread holds the GIL.
///
/// Python objects must be `Send` and `Sync`, so that the interpreter may hand them to any
/// thread; the graphs kept here use `Rc` and `RefCell`, which are neither. They are safe all the
/// same because every access, drop included, happens inside a call from Python with the GIL
/// held, and no function of this crate releases it: two threads never touch them at once, and
/// taking the GIL orders their accesses. The module does not declare itself free of the GIL, so
/// free-threaded interpreters keep the GIL on while it is imported.
pub struct Local<T>(pub T);

// SAFETY: see the type's documentation: every access is serialised by the GIL.
unsafe impl<T> Send for Local<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Local<T> {}

impl<T> Deref for Local<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
