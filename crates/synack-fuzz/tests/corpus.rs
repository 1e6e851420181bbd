//! Replays every checked-in fuzz corpus (`fuzz/corpus/<target>/`) through
//! its fuzz body under `cargo test`, as s2n-quic does: an input that once
//! found a crash, or that covers a path, keeps being checked on every run.
//! (CI also fuzzes each target for a bounded time; see `.ci/run`.)

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut total = 0;
    for (name, body) in synack_fuzz::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let run = std::panic::catch_unwind(|| body(&data));
            assert!(run.is_ok(), "{name}: {} fails", path.display());
            n += 1;
        }
        assert!(n > 0, "the corpus of {name} is empty");
        println!("{name}: {n} inputs");
        total += n;
    }
    assert!(total > 100);
}
