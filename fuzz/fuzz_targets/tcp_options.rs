//! Fuzz target `tcp_options`: see `synack_fuzz` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::TARGETS.iter().find(|t| t.0 == "tcp_options").expect("target").1(data));
