#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rgrad::fuzzing::indexing(data));
