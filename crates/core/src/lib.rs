//! hlsmesh's agent, without I/O: it decides, the embedder does.
//!
//! One [`Agent`] serves one viewer. The embedder (the wasm layer in a browser, a test,
//! or the simulator) turns the world into [`Input`]s and carries out the [`Output`]s.
//! Time comes in as an argument, randomness from the seed in [`Config`], so the same
//! inputs always give the same outputs.
//!
//! ```
//! use hlsmesh_core::{Agent, Config, Input, Instant, Output};
//!
//! let mut agent = Agent::new(Config { trackers: vec!["wss://tracker.example".into()], ..Config::default() }, Instant::ZERO);
//! let now = Instant::from_micros(1_000);
//! let url = "https://cdn.example/live/index.m3u8";
//! let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n";
//! let playlist = hlsmesh_core::playlist::read(url, text.as_bytes()).unwrap();
//! agent.handle_input(now, Input::Playlist { url: url.into(), playlist });
//! // Drain until the agent says when it next wants to be woken.
//! let wake_at = loop {
//!     match agent.poll_output() {
//!         Output::Timeout(at) => break at,
//!         Output::TrackerConnect { url, .. } => assert_eq!(url, "wss://tracker.example"),
//!         _ => {}
//!     }
//! };
//! assert!(wake_at > now);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod agent;
pub mod cache;
#[cfg(test)]
mod fixtures;
pub mod integrity;
pub mod peer;
pub mod playlist;
pub mod rng;
pub mod scheduler;
mod sha1;
pub mod stats;
mod swarm;
pub mod text;
pub mod time;
pub mod tracker;
pub mod url;
pub mod vecmap;

pub use agent::{
    Agent, Config, ConnId, Event, FetchId, HttpResponse, Input, LoadId, Output, Playback, Source,
    TrackerId, DEFAULT_MAX_PEERS,
};
pub use hlsmesh_proto as proto;
pub use stats::Stats;
pub use swarm::{hex, stretch_hash, swarm_hash, STRETCH};
pub use time::Instant;
