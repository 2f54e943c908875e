#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = dataseal_btfs::fuzzing::node_answers(data) {
        panic!("{broken}");
    }
});
