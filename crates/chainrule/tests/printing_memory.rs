//! Printing an expression whose text repeats shared parts many times needs memory for the text,
//! not for a copy of the text of every node: the tests here run under an allocator that records
//! the peak of live bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chainrule::Expr;

struct Peak;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grow(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

#[test]
fn printing_needs_memory_for_the_text_only() {
    // The derivative of (x + 1)(x + 2)...(x + 150): 150 products of 149 factors each, built from
    // shared parts, printed as about 130 KB of text.
    let factors: Vec<String> = (1..=150).map(|k| format!("(x + {k})")).collect();
    let d = Expr::parse(&factors.join(" * ")).unwrap().derivative("x");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let text = d.to_string();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert!(text.len() > 100_000, "{} characters", text.len());
    // The text, its growth by doubling, and the walk's stack; a copy of every node's text would
    // take a hundred times more.
    assert!(
        peak < 4 * text.len() + (1 << 20),
        "{peak} bytes at the peak for {} characters",
        text.len()
    );
    let value = Expr::parse(&text).unwrap().eval(&[0.0]);
    // d/dx Π(x + k) at 0 is 150! · H(150), the harmonic number.
    let harmonic: f64 = (1..=150).map(|k| 1.0 / k as f64).sum();
    let factorial: f64 = (1..=150).map(|k| k as f64).product();
    assert!(
        (value / (factorial * harmonic) - 1.0).abs() < 1e-9,
        "{value}"
    );
}
