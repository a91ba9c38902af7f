//! Times, on one thread, the matrix products of the baby GPT's training step at the shapes each of
//! its two threads computes (half of the 12×64 rows, or half of the batch summed for a weight
//! gradient), in the step's layouts, through the library's matrix products; and this core's peak
//! of fused multiply-adds in 256-bit registers, for scale. `bench/products.py` runs it beside the same
//! products in PyTorch (`bench/torch_products.py`), in alternating rounds.
//!
//! ```sh
//! cargo run --release -p chainrule --example step_products [-- --json]
//! cargo run --release -p chainrule --no-default-features --example step_products   # AVX2 only
//! ```

use std::time::Instant;

use chainrule::tensor::kernels::gemm_serial;

/// One product `m × k` by `k × n`: its name, its sizes, and whether the left and the right
/// operand are read transposed (a row-major matrix read by columns), as the step reads them.
struct Product {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    lhs_t: bool,
    rhs_t: bool,
}

/// The step's products on one thread (each shape once; the step has four layers of each but the
/// output layer's). `bench/torch_products.py` lists the same ones.
const PRODUCTS: [Product; 11] = [
    p("qkv x·Wᵀ", 384, 128, 384, false, true),
    p("attn proj x·Wᵀ", 384, 128, 128, false, true),
    p("fc x·Wᵀ", 384, 128, 512, false, true),
    p("mlp proj x·Wᵀ", 384, 512, 128, false, true),
    p("lm head x·Wᵀ", 384, 128, 65, false, true),
    p("qkv dY·W", 384, 384, 128, false, false),
    p("fc dY·W", 384, 512, 128, false, false),
    p("mlp proj dY·W", 384, 128, 512, false, false),
    p("qkv dYᵀ·X", 384, 384, 128, true, false),
    p("fc dYᵀ·X", 512, 384, 128, true, false),
    p("mlp proj dYᵀ·X", 128, 384, 512, true, false),
];

const fn p(name: &'static str, m: usize, k: usize, n: usize, lhs_t: bool, rhs_t: bool) -> Product {
    Product {
        name,
        m,
        k,
        n,
        lhs_t,
        rhs_t,
    }
}

/// Floating-point operations each product is timed for (about 0.1 s at 50 GFLOP/s).
const FLOPS_PER_PRODUCT: f64 = 5e9;

/// The median of five timings of `reps` products, in µs per product.
fn time_product(pr: &Product) -> f64 {
    let (m, k, n) = (pr.m, pr.k, pr.n);
    // Values of order one that are not all equal, so that nothing is special.
    let fill = |len: usize, seed: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7 + seed) % 13) as f32 / 13.0 - 0.5)
            .collect()
    };
    let (a, b) = (fill(m * k, 1), fill(k * n, 2));
    let mut c = vec![0.0f32; m * n];
    // A transposed operand is stored row-major the other way round: `lhs` as `k × m`, `rhs` as
    // `n × k`.
    let (lrs, lcs) = if pr.lhs_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rrs, rcs) = if pr.rhs_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    let run = |c: &mut [f32]| {
        // SAFETY: `a` holds m·k elements, `b` k·n and `c` m·n, addressed with the strides above.
        unsafe {
            gemm_serial(
                m,
                n,
                k,
                c.as_mut_ptr(),
                n as isize,
                1,
                false,
                a.as_ptr(),
                lrs,
                lcs,
                b.as_ptr(),
                rrs,
                rcs,
            )
        }
    };
    let flops = 2.0 * (m * n * k) as f64;
    let reps = (FLOPS_PER_PRODUCT / 5.0 / flops).ceil() as usize;
    for _ in 0..reps.min(20) {
        run(&mut c);
    }
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                run(&mut c);
            }
            t.elapsed().as_secs_f64() * 1e6 / reps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    std::hint::black_box(&c);
    times[2]
}

/// This core's rate of fused multiply-adds, in GFLOP/s, for vectors of `bits` (256), or `None`
/// where the processor has no such instructions (the AVX-512 intrinsics need a newer Rust than
/// the crate's minimum, so 512 bits are not measured).
fn peak_gflops(bits: u32) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        const ITERS: usize = 20_000_000;
        let lanes = bits as usize / 32;
        let start = Instant::now();
        let sum = match bits {
            256 if std::is_x86_feature_detected!("fma") => {
                // SAFETY: the processor has AVX2 and FMA (checked above).
                unsafe { fma_chains_256(ITERS) }
            }
            _ => return None,
        };
        let seconds = start.elapsed().as_secs_f64();
        std::hint::black_box(sum);
        Some((ITERS * CHAINS * lanes * 2) as f64 / seconds / 1e9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = bits;
        None
    }
}

/// Independent chains of multiply-adds: more than the four cycles of an FMA's latency times its
/// two ports, so that the ports, not the chains, set the pace.
const CHAINS: usize = 10;

/// Runs `iters` rounds of [`CHAINS`] fused multiply-adds on 256-bit vectors.
///
/// # Safety
/// The processor must have AVX and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
unsafe fn fma_chains_256(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    let (mul, add) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, mul, add);
        }
    }
    let mut out = [0.0f32; 8];
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
    // SAFETY: `out` has room for the 8 lanes.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
    out.iter().sum()
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    // One thread: the products are timed as each of the step's threads runs them.
    let rows: Vec<(&Product, f64)> = PRODUCTS.iter().map(|p| (p, time_product(p))).collect();
    let peaks = [(256, peak_gflops(256))];
    let total_us: f64 = rows.iter().map(|r| r.1).sum();
    if json {
        let products: Vec<String> = rows
            .iter()
            .map(|(p, us)| {
                format!(
                    "{{\"name\": \"{}\", \"m\": {}, \"k\": {}, \"n\": {}, \"us\": {us:.3}}}",
                    p.name, p.m, p.k, p.n
                )
            })
            .collect();
        let peaks: Vec<String> = peaks
            .iter()
            .map(|(bits, g)| match g {
                Some(g) => format!("\"{bits}\": {g:.2}"),
                None => format!("\"{bits}\": null"),
            })
            .collect();
        println!(
            "{{\"kernels\": \"{}\", \"peak_gflops\": {{{}}}, \"total_us\": {total_us:.3}, \"products\": [{}]}}",
            if cfg!(feature = "avx512") { "avx512" } else { "avx2" },
            peaks.join(", "),
            products.join(", ")
        );
        return;
    }
    for (bits, g) in peaks {
        match g {
            Some(g) => println!("peak of {bits}-bit fused multiply-adds: {g:.1} GFLOP/s"),
            None => println!("peak of {bits}-bit fused multiply-adds: not available"),
        }
    }
    println!(
        "{:>16}  {:>15}  {:>10}  {:>8}",
        "product", "m×k×n", "µs", "GFLOP/s"
    );
    for (p, us) in &rows {
        let gflops = 2.0 * (p.m * p.k * p.n) as f64 / us / 1e3;
        let size = format!("{}×{}×{}", p.m, p.k, p.n);
        println!("{:>16}  {size:>15}  {us:>10.1}  {gflops:>8.1}", p.name);
    }
    println!("{:>16}  {:>15}  {total_us:>10.1}", "all, once each", "");
}
