//! Hostile files are refused quickly and without large allocations: every test here runs under an
//! allocator that records the largest single allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chainrule::data::{CsvOptions, Dataset, IdxArray};
use chainrule::model_file::ModelFile;
use chainrule::Expr;

struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the thread running a bounded section is measured: other tests of this binary run on
    // other threads at the same time, and their allocations are not the code under test.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

fn record(size: usize) {
    if MEASURING.try_with(Cell::get).unwrap_or(false) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

/// The tests measure one at a time, since the allocator is shared.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f`, checking that it allocates no block over `limit` bytes and ends within 5 seconds.
fn bounded<R>(limit: usize, f: impl FnOnce() -> R) -> R {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    LARGEST.store(0, Ordering::Relaxed);
    let start = Instant::now();
    MEASURING.with(|m| m.set(true));
    let r = f();
    MEASURING.with(|m| m.set(false));
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= limit, "allocated a block of {largest} bytes");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    r
}

const SMALL: usize = 1 << 20;

fn safetensors(header: &str, data_len: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data_len));
    bytes
}

fn load(bytes: &[u8]) -> Result<ModelFile, String> {
    bounded(SMALL, || {
        ModelFile::from_bytes(bytes, Path::new("hostile.safetensors")).map_err(|e| e.to_string())
    })
}

#[test]
fn safetensors_header_length_larger_than_the_file() {
    let mut bytes = safetensors(
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        4,
    );
    for claimed in [bytes.len() as u64, u32::MAX as u64, 1 << 40, u64::MAX] {
        bytes[..8].copy_from_slice(&claimed.to_le_bytes());
        let err = load(&bytes).unwrap_err();
        assert!(err.contains("header length"), "{err}");
    }
}

#[test]
fn safetensors_offsets_out_of_range_or_overlapping() {
    for header in [
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4000000000]}}"#,
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#,
        r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,3]}}"#,
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
    ] {
        assert!(load(&safetensors(header, 4)).is_err(), "{header}");
    }
}

#[test]
fn safetensors_shapes_that_overflow_or_disagree_with_the_bytes() {
    for header in [
        r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#,
        r#"{"w":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,4]}}"#,
        r#"{"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}}"#,
        r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
        r#"{"w":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4]}}"#,
    ] {
        let err = load(&safetensors(header, 4)).unwrap_err();
        assert!(!err.is_empty(), "{header}");
    }
}

#[test]
fn idx_header_claiming_2_to_the_32_images_fails_at_once() {
    // 0xffffffff images of 28 × 28 bytes, and a few bytes of data.
    let mut bytes = vec![0, 0, 8, 3];
    for d in [u32::MAX, 28, 28] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(&[0; 100]);
    let err = bounded(SMALL, || IdxArray::parse(&bytes, "huge.idx")).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    // 255 dimensions whose product overflows.
    let mut bytes = vec![0, 0, 8, 255];
    for _ in 0..255 {
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    let err = bounded(SMALL, || IdxArray::parse(&bytes, "overflow.idx")).unwrap_err();
    assert!(err.to_string().contains("overflow"), "{err}");
}

#[test]
fn a_csv_line_of_a_gigabyte_is_refused_without_reading_it_whole() {
    // Generated lazily: the gigabyte never exists in memory.
    let line = std::io::repeat(b'1').take(1 << 30);
    let reader = BufReader::new(b"a,b\n".chain(line));
    let err = bounded(4 * SMALL, || {
        Dataset::from_csv_reader(reader, "huge.csv", &CsvOptions::default())
    })
    .unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("huge.csv:2") && err.contains("longer than"),
        "{err}"
    );
}

#[test]
fn a_csv_line_of_a_gigabyte_of_quoted_field_or_blanks_is_refused_too() {
    for fill in [b' ', b'"', b','] {
        let reader = BufReader::new(std::io::repeat(fill).take(1 << 30));
        let r = bounded(4 * SMALL, || {
            Dataset::from_csv_reader(reader, "huge.csv", &CsvOptions::default())
        });
        assert!(r.is_err());
    }
}

/// The parser's memory is linear in the text (its tokens), whatever the text.
#[test]
fn expressions_nested_or_long_beyond_reason() {
    const LINEAR: usize = 64 * 200_000;
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(bounded(LINEAR, || Expr::parse(&deep)).is_err());
    let signs = format!("{}x", "-".repeat(100_000));
    assert!(bounded(LINEAR, || Expr::parse(&signs)).is_err());
    let powers = vec!["x"; 100_000].join("^");
    assert!(bounded(LINEAR, || Expr::parse(&powers)).is_err());
    let sum = vec!["x"; 100_000].join("+");
    assert!(bounded(LINEAR, || Expr::parse(&sum)).is_ok());
}
