//! A global allocator that counts the allocations of one thread while asked
//! to, for the zero-allocation tests and benchmarks.
//!
//! Install it in a test or bench binary, then wrap the code under test in
//! [`count_allocations`]. Counting is per thread, so tests running in
//! parallel do not disturb each other.
//!
//! ```
//! use swim_tests::alloc_counter::{CountingAllocator, count_allocations};
//!
//! #[global_allocator]
//! static ALLOC: CountingAllocator = CountingAllocator;
//!
//! fn main() {
//!     let (sum, allocations) = count_allocations(|| (1..=10u32).sum::<u32>());
//!     assert_eq!(sum, 55);
//!     assert_eq!(allocations.count, 0);
//!     let (_boxed, allocations) = count_allocations(|| Box::new(7u64));
//!     assert_eq!(allocations.count, 1);
//! }
//! ```
//!
//! This module holds the project's only `unsafe` code: implementing
//! [`GlobalAlloc`] requires it. Every method forwards to [`System`] with the
//! caller's arguments unchanged, so it upholds exactly the contract the caller
//! upheld.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
    static ACCUMULATED: Cell<Allocations> = const { Cell::new(Allocations { count: 0, bytes: 0 }) };
}

/// Forwards to the system allocator and counts allocations and
/// reallocations made by threads inside [`count_allocations`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

/// Bytes currently allocated through [`CountingAllocator`], all threads.
static LIVE: AtomicU64 = AtomicU64::new(0);

/// Heap bytes currently allocated by the whole process (all threads), if
/// [`CountingAllocator`] is installed; for measuring the memory a structure
/// holds (the difference before and after building it, on a quiet process).
pub fn live_bytes() -> u64 {
    LIVE.load(Ordering::Relaxed)
}

/// Whether each counted allocation prints where it came from.
static TRACE: AtomicBool = AtomicBool::new(false);

/// Prints a backtrace for every allocation counted from now on (to find
/// what allocates in a zero-allocation test; `SWIM_ALLOC_TRACE=1`).
pub fn trace(on: bool) {
    TRACE.store(on, Ordering::Relaxed);
}

fn note(size: usize) {
    // `try_with` so allocations during thread teardown are not a problem.
    let enabled = ENABLED.try_with(Cell::get).unwrap_or(false);
    if enabled {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        let _ = BYTES.try_with(|n| n.set(n.get() + size as u64));
        if TRACE.load(Ordering::Relaxed) {
            // Printing allocates: not counted.
            let _ = ENABLED.try_with(|e| e.set(false));
            eprintln!("allocation of {size} bytes:\n{}", std::backtrace::Backtrace::force_capture());
            let _ = ENABLED.try_with(|e| e.set(true));
        }
    }
}

// SAFETY: every method forwards to `System` with the arguments it was given.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        LIVE.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        LIVE.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        LIVE.fetch_add(new_size as u64, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as above; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// What [`count_allocations`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allocations {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub count: u64,
    /// Bytes requested by those calls.
    pub bytes: u64,
}

/// Runs `f` and counts the allocations it makes on this thread. Only
/// meaningful in a binary that installed [`CountingAllocator`].
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, Allocations) {
    start_counting();
    let out = f();
    (out, stop_counting())
}

/// Starts counting this thread's allocations (for spans that `await`: on a
/// current-thread runtime, every task that runs meanwhile is counted).
pub fn start_counting() {
    ALLOCS.set(0);
    BYTES.set(0);
    ENABLED.set(true);
}

/// Stops counting and returns what was counted since [`start_counting`].
pub fn stop_counting() -> Allocations {
    ENABLED.set(false);
    Allocations { count: ALLOCS.get(), bytes: BYTES.get() }
}

/// Runs `f`, adding its allocations on this thread to a running total
/// ([`accumulated`]); for measuring many short calls (a simulator counting
/// only the time spent inside nodes).
pub fn accumulate<R>(f: impl FnOnce() -> R) -> R {
    let (out, a) = count_allocations(f);
    let total = ACCUMULATED.get();
    ACCUMULATED.set(Allocations { count: total.count + a.count, bytes: total.bytes + a.bytes });
    out
}

/// The running total of [`accumulate`] on this thread; `reset` sets it to zero.
pub fn accumulated(reset: bool) -> Allocations {
    let total = ACCUMULATED.get();
    if reset {
        ACCUMULATED.set(Allocations::default());
    }
    total
}
