//! Inputs that trip a bug already found by these targets and reported, but not yet fixed
//! in the core, go here: a check per bug, named after it, that the targets call to skip
//! such inputs, so that `make test-fuzz` keeps looking for *new* bugs (honour
//! `HLSMESH_FUZZ_KNOWN_BUGS=1` to stop skipping and reproduce). Delete a check once its
//! fix lands; its reproducer in `crates/fuzz/regressions/` stays, replayed by `run.sh`
//! as a regression test.
//!
//! None open. Found and fixed so far: playlist-sn-overflow and
//! playlist-byterange-overflow (142f069), past-deadline (c7c7762),
//! plausible-bound-overflow and scheduler-wait-mismatch (6df0108).
