//! `cargo bench`: the standard workloads of `chainrule bench`, under criterion.

use criterion::{criterion_group, criterion_main, Criterion};

fn standard_workloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("standard");
    group.sample_size(10);
    for w in chainrule::bench::workloads() {
        let mut run = (w.setup)();
        group.bench_function(w.name, |b| b.iter(&mut run));
    }
    group.finish();
}

criterion_group!(benches, standard_workloads);
criterion_main!(benches);
