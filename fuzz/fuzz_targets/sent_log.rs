//! Fuzz target `sent_log`: see `synack_fuzz` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::TARGETS.iter().find(|t| t.0 == "sent_log").expect("target").1(data));
