//! A fixed-size byte buffer on the host: owned (64-byte aligned) or borrowed from an external
//! owner such as a numpy array or a DLPack producer, which it keeps alive.
//!
//! The buffer never grows or moves, so raw element pointers into it stay valid for as long as
//! the buffer lives. Like torch, concurrent writers to the same elements race on values, never
//! on memory safety: no length or address ever changes.

use std::alloc::{alloc, alloc_zeroed, dealloc, Layout as AllocLayout};
use std::any::Any;
use std::ptr::NonNull;

const ALIGN: usize = 64;

enum Owner {
    Aligned(AllocLayout),
    External(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
    Empty,
}

pub struct CpuBuffer {
    ptr: NonNull<u8>,
    nbytes: usize,
    owner: Owner,
}

// SAFETY: the buffer is plain memory whose extent never changes; element races are the user's
// (as in torch), and the external owner is Send + Sync.
unsafe impl Send for CpuBuffer {}
unsafe impl Sync for CpuBuffer {}

impl CpuBuffer {
    fn allocate(nbytes: usize, zeroed: bool) -> Self {
        if nbytes == 0 {
            return CpuBuffer { ptr: NonNull::<u64>::dangling().cast(), nbytes: 0, owner: Owner::Empty };
        }
        let layout = AllocLayout::from_size_align(nbytes, ALIGN).expect("allocation size overflows");
        // SAFETY: layout has non-zero size.
        let raw = unsafe { if zeroed { alloc_zeroed(layout) } else { alloc(layout) } };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        CpuBuffer { ptr, nbytes, owner: Owner::Aligned(layout) }
    }

    /// Uninitialised memory; callers write every element before it is read.
    pub fn uninit(nbytes: usize) -> Self {
        Self::allocate(nbytes, false)
    }

    pub fn zeroed(nbytes: usize) -> Self {
        Self::allocate(nbytes, true)
    }

    /// Zeroed memory, or None when the allocation fails (huge user sizes).
    pub fn try_zeroed(nbytes: usize) -> Option<Self> {
        if nbytes == 0 {
            return Some(Self::zeroed(0));
        }
        let layout = AllocLayout::from_size_align(nbytes, ALIGN).ok()?;
        // SAFETY: layout has non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        NonNull::new(raw).map(|ptr| CpuBuffer { ptr, nbytes, owner: Owner::Aligned(layout) })
    }

    /// Attempts an allocation, reporting failure instead of aborting (huge user sizes).
    pub fn try_uninit(nbytes: usize) -> Option<Self> {
        if nbytes == 0 {
            return Some(Self::uninit(0));
        }
        let layout = AllocLayout::from_size_align(nbytes, ALIGN).ok()?;
        // SAFETY: layout has non-zero size.
        let raw = unsafe { alloc(layout) };
        NonNull::new(raw).map(|ptr| CpuBuffer { ptr, nbytes, owner: Owner::Aligned(layout) })
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        let b = Self::uninit(bytes.len());
        // SAFETY: fresh allocation of exactly bytes.len() bytes.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), b.ptr.as_ptr(), bytes.len()) };
        b
    }

    /// Wraps memory owned by someone else.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `nbytes` bytes for as long as `owner` lives.
    pub unsafe fn external(ptr: *mut u8, nbytes: usize, owner: Box<dyn Any + Send + Sync>) -> Self {
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::<u64>::dangling().cast());
        CpuBuffer { ptr, nbytes, owner: Owner::External(owner) }
    }

    pub fn nbytes(&self) -> usize {
        self.nbytes
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn is_external(&self) -> bool {
        matches!(self.owner, Owner::External(_))
    }

    /// The bytes, for serialisation.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr is valid for nbytes bytes while self lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.nbytes) }
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        if let Owner::Aligned(layout) = self.owner {
            // SAFETY: allocated with exactly this layout in `allocate`.
            unsafe { dealloc(self.ptr.as_ptr(), layout) }
        }
    }
}
