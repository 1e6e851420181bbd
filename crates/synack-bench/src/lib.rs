//! Benchmarks live in `benches/compare.rs`; run `cargo bench -p synack-bench`.
