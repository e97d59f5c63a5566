//! A whole agent fed a sequence of inputs derived from the fuzz bytes (see
//! `hlsmesh_fuzz::agent`): nothing may panic, every drain must end, the cache keeps its
//! bound and each load is answered at most once.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hlsmesh_fuzz::agent::World::run(data);
});
