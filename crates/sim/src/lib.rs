//! hlsmesh's swarm simulator: many `hlsmesh_core::Agent`s, the same code that ships in
//! the wasm, over a simulated network in virtual time.
//!
//! A [`Scenario`] describes the stream (live sliding window or VOD, renditions), the
//! viewers (access classes with download and upload capacity, latency, jitter, loss),
//! the CDN, the tracker, arrivals and churn. [`Sim`] runs it: an event queue in virtual
//! time, a tracker that relays the agents' real JSON announces, offers and answers to
//! random peers, data channels that carry the real frames through each viewer's uplink
//! (shared equally by its sending channels) and downlink queue, a CDN with latency and
//! per-viewer throughput, and an hls.js-like player per viewer. [`Summary`] holds what it
//! measured next to the theoretical bound.
//!
//! ```
//! use hlsmesh_sim::{Scenario, Sim, Summary};
//!
//! let mut sc = Scenario::builtin("steady-live").unwrap();
//! sc.viewers = 4;
//! sc.duration_s = 30.0;
//! sc.join_over_s = 2.0;
//! let summary = Summary::of(&Sim::new(sc).run());
//! assert!(summary.played_bytes > 0);
//! assert!(summary.cdn_share >= summary.bound_cdn_share - 1e-9);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod engine;
mod player;
mod queue;
mod report;
mod rng;
mod scenario;
mod tracker_wire;
mod uplink;

pub use engine::{CdnCauses, Outcome, Sim, Totals};
pub use player::{ViewerMetrics, LOW_BUFFER_S};
pub use report::{seeds_label, svg, AcrossSeeds, Point, Summary, TARGET_GAP_POINTS};
pub use scenario::{home_mix, starved_mix, Abr, Class, Join, Scenario, TrackerPolicy};

/// Runs a scenario to the end and sums it up.
pub fn run(sc: Scenario) -> Summary {
    Summary::of(&Sim::new(sc).run())
}
