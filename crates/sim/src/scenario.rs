//! What a run simulates: the stream, the viewers and their access links, the CDN, the
//! tracker, join pattern and churn. Built-in scenarios, overridable key by key from the
//! command line (`key=value`) or a scenario file (one `key = value` per line).

use serde::Serialize;

/// One kind of access link (fibre, cable, mobile…), drawn with probability ∝ `weight`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Class {
    /// Name, for the report.
    pub name: String,
    /// Relative share of viewers.
    pub weight: f64,
    /// Download capacity, kb/s.
    pub down_kbps: f64,
    /// Upload capacity, kb/s.
    pub up_kbps: f64,
    /// One-way latency from this viewer to the network core, ms (a path between two
    /// viewers adds both ends).
    pub latency_ms: f64,
    /// Per-frame jitter added to the one-way latency, uniform in `0..jitter_ms`.
    pub jitter_ms: f64,
    /// Probability that a frame is lost once; the reliable data channel resends it one
    /// retransmission timeout (3 × the path latency) later.
    pub loss: f64,
}

/// How viewers arrive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Join {
    /// Evenly spread (Poisson) over `join_over_s`.
    Steady,
    /// A flash crowd: most arrive in the first seconds of `join_over_s` (exponential
    /// arrivals with a mean of a tenth of the window).
    Flash,
}

/// Rendition choice.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Abr {
    /// Stay on the start rendition.
    Off,
    /// Like hls.js: an estimate of throughput from the load times the player sees
    /// (peer and CDN loads alike), switching up with headroom, down on a stall.
    Throughput,
}

/// Whom the tracker hands an announcer's offers to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrackerPolicy {
    /// Random members of the swarm, each offer to a different one, as the WebTorrent
    /// trackers (bittorrent-tracker, aquatic_ws) do.
    Random,
    /// A probe, not what any WebTorrent tracker can do: of up to 64 random members, those
    /// whose playheads are nearest the announcer's. What matching viewers by position
    /// would buy over random members of a (VOD: stretch's) swarm.
    Nearest,
}

/// Everything one run simulates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    /// Name, for the report.
    pub name: String,
    /// Seed of the run: the same seed gives the same numbers.
    pub seed: u64,
    /// Viewers (concurrent, in the steady state; churn replaces leavers).
    pub viewers: usize,
    /// Simulated time, seconds.
    pub duration_s: f64,
    /// Live (sliding window) or VOD.
    pub live: bool,
    /// Segment duration (= target duration), seconds.
    pub segment_s: f64,
    /// Live: segments in the sliding window.
    pub window: u64,
    /// VOD: segments in the title.
    pub vod_segments: u64,
    /// Renditions, kb/s, lowest first.
    pub renditions_kbps: Vec<f64>,
    /// Rendition a player starts on.
    pub start_level: usize,
    /// Rendition choice.
    pub abr: Abr,
    /// Access link classes.
    pub classes: Vec<Class>,
    /// CDN one-way latency, ms (a request takes two of these before the first byte).
    pub cdn_latency_ms: f64,
    /// CDN throughput per viewer, kb/s (also bounded by the viewer's download).
    pub cdn_kbps: f64,
    /// Mean of an exponentially distributed wait each CDN response adds before its first
    /// byte, ms (0: none, every response as fast as the latency allows). Edge caches that
    /// miss, origins that queue: with 200, one response in 150 waits a second more.
    pub cdn_jitter_ms: f64,
    /// Tracker one-way latency, ms.
    pub tracker_latency_ms: f64,
    /// Whom the tracker relays offers to.
    pub tracker: TrackerPolicy,
    /// Connection limit per viewer (`Config::max_peers`).
    pub max_peers: usize,
    /// Agent cache, in segments of the top rendition.
    pub cache_segments: usize,
    /// Arrival pattern.
    pub join: Join,
    /// Window over which viewers arrive, seconds.
    pub join_over_s: f64,
    /// Churn: mean session length, seconds (exponential); 0 = viewers stay to the end.
    /// A leaver vanishes at once (mid-transfer or not) and a new viewer takes its place.
    pub session_mean_s: f64,
    /// VOD: share of viewers that start at a random point instead of the beginning.
    pub vod_seek: f64,
    /// Live: hls.js `liveSyncDurationCount` (start this many segments behind the edge).
    pub live_sync_count: u64,
    /// Player forward buffer (hls.js `maxBufferLength`), seconds.
    pub max_buffer_s: f64,
    /// Segment payloads are simulated at 1/`byte_scale` of their size (links carry them
    /// at the nominal size; every byte count reported is nominal). Keeps memory and copies
    /// small; the agents see consistent sizes, times and rates, but for the master's
    /// `BANDWIDTH`s, which stay nominal: an agent sizes a rendition it has not received
    /// yet from what it measured per declared bit of another, as it would a real
    /// stream's peak declarations.
    pub byte_scale: u64,
    /// A peer's segment crosses the data channel in chunks of at most
    /// `MAX_CHUNK_DATA` nominal bytes, as the browsers send it (eight for a 2 s segment at
    /// 2 Mb/s): a receiver that cancels a late transfer keeps the chunks that arrived and
    /// the CDN fetches only the rest. False: in the one chunk the core sends a scaled
    /// segment in (a third fewer events; a cancelled transfer leaves nothing).
    pub browser_chunks: bool,
    /// Viewers run the agent. False: plain hls.js, every load straight from the CDN, no
    /// tracker, no peers: the baseline the agent's stalls and start-up are held to.
    pub p2p: bool,
}

impl Scenario {
    /// Names of the built-in scenarios.
    pub const BUILTIN: [&'static str; 5] = [
        "steady-live",
        "flash-crowd",
        "heavy-churn",
        "upload-starved",
        "vod-long-tail",
    ];

    /// A built-in scenario by name.
    pub fn builtin(name: &str) -> Option<Scenario> {
        let base = Scenario {
            name: name.into(),
            seed: 1,
            viewers: 100,
            duration_s: 600.0,
            live: true,
            segment_s: 2.0,
            window: 6,
            vod_segments: 900,
            renditions_kbps: vec![2000.0],
            start_level: 0,
            abr: Abr::Off,
            classes: home_mix(),
            cdn_latency_ms: 40.0,
            cdn_kbps: 50_000.0,
            cdn_jitter_ms: 0.0,
            tracker_latency_ms: 50.0,
            tracker: TrackerPolicy::Random,
            max_peers: 12,
            cache_segments: 20,
            join: Join::Steady,
            join_over_s: 60.0,
            session_mean_s: 0.0,
            vod_seek: 0.0,
            live_sync_count: 3,
            max_buffer_s: 30.0,
            // 256: a 2 Mb/s segment of 2 s is carried as 2 KB. Memory per viewer is
            // mostly cached payloads (docs/BENCHMARKS.md, "Simulator speed, third round").
            byte_scale: 256,
            browser_chunks: true,
            p2p: true,
        };
        let s = match name {
            "steady-live" => base,
            "flash-crowd" => Scenario {
                join: Join::Flash,
                join_over_s: 30.0,
                ..base
            },
            "heavy-churn" => Scenario {
                session_mean_s: 120.0,
                ..base
            },
            "upload-starved" => Scenario {
                classes: starved_mix(),
                ..base
            },
            "vod-long-tail" => Scenario {
                live: false,
                renditions_kbps: vec![800.0, 1600.0, 3200.0],
                start_level: 1,
                abr: Abr::Throughput,
                join_over_s: 600.0,
                session_mean_s: 240.0,
                vod_seek: 0.5,
                cache_segments: 60,
                // Its CDN share moved more with 256 than the live scenarios' did (seeds
                // 1–3 in docs/BENCHMARKS.md): kept at the earlier scale.
                byte_scale: 64,
                ..base
            },
            _ => return None,
        };
        Some(s)
    }

    /// Applies one `key=value` override.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let (key, v) = (key.trim(), value.trim());
        let f = || v.parse::<f64>().map_err(|e| format!("{key}: {e}"));
        // Times, rates and sizes: a value the run cannot use (a segment of no length, a
        // CDN of no throughput, NaN) is refused here rather than ending in a division by
        // zero or an endless run.
        let not_below_zero = |strict: bool| {
            let x = f()?;
            if usable(x, strict) {
                return Ok(x);
            }
            let bound = if strict { "more than" } else { "at least" };
            Err(format!("{key}: must be {bound} 0, not {v}"))
        };
        let pos = || not_below_zero(true);
        let nonneg = || not_below_zero(false);
        let u = || v.parse::<u64>().map_err(|e| format!("{key}: {e}"));
        let u1 = || match u()? {
            0 => Err(format!("{key}: must be at least 1")),
            x => Ok(x),
        };
        match key {
            "name" => self.name = v.into(),
            "seed" => self.seed = u()?,
            "viewers" => self.viewers = u1()? as usize,
            "duration" => self.duration_s = pos()?,
            "live" => self.live = parse_bool(v)?,
            "segment" => self.segment_s = pos()?,
            "window" => self.window = u1()?,
            "vod_segments" => self.vod_segments = u1()?,
            "renditions" => {
                self.renditions_kbps = v
                    .split(',')
                    .map(|x| match x.trim().parse::<f64>() {
                        Ok(r) if usable(r, true) => Ok(r),
                        Ok(_) => Err(format!("{key}: each must be more than 0, not {x}")),
                        Err(e) => Err(format!("{key}: {e}")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "start_level" => self.start_level = u()? as usize,
            "abr" => {
                self.abr = match v {
                    "off" => Abr::Off,
                    "throughput" => Abr::Throughput,
                    _ => return Err(format!("abr: off or throughput, not {v}")),
                }
            }
            "classes" => self.classes = parse_classes(v)?,
            "cdn_latency" => self.cdn_latency_ms = nonneg()?,
            "cdn_kbps" => self.cdn_kbps = pos()?,
            "cdn_jitter" => self.cdn_jitter_ms = nonneg()?,
            "tracker_latency" => self.tracker_latency_ms = nonneg()?,
            "tracker" => {
                self.tracker = match v {
                    "random" => TrackerPolicy::Random,
                    "nearest" => TrackerPolicy::Nearest,
                    _ => return Err(format!("tracker: random or nearest, not {v}")),
                }
            }
            "max_peers" => self.max_peers = u()? as usize,
            "cache_segments" => self.cache_segments = u()? as usize,
            "join" => {
                self.join = match v {
                    "steady" => Join::Steady,
                    "flash" => Join::Flash,
                    _ => return Err(format!("join: steady or flash, not {v}")),
                }
            }
            "join_over" => self.join_over_s = nonneg()?,
            "session_mean" => self.session_mean_s = nonneg()?,
            "vod_seek" => match nonneg()? {
                x if x <= 1.0 => self.vod_seek = x,
                _ => return Err(format!("vod_seek: a share, at most 1, not {v}")),
            },
            "live_sync_count" => self.live_sync_count = u()?,
            "max_buffer" => self.max_buffer_s = pos()?,
            "byte_scale" => self.byte_scale = u()?.max(1),
            "browser_chunks" => self.browser_chunks = parse_bool(v)?,
            "p2p" => self.p2p = parse_bool(v)?,
            other => return Err(format!("unknown key {other:?}")),
        }
        Ok(())
    }

    /// Reads a scenario file: `base = <builtin>` (optional, first), then `key = value`
    /// lines; `#` starts a comment.
    pub fn parse_file(text: &str) -> Result<Scenario, String> {
        let mut s = Scenario::builtin("steady-live").expect("builtin");
        s.name = "custom".into();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected key = value", i + 1))?;
            if k.trim() == "base" {
                let name = s.name.clone();
                s = Scenario::builtin(v.trim())
                    .ok_or_else(|| format!("line {}: no scenario {}", i + 1, v.trim()))?;
                if name != "custom" {
                    s.name = name;
                }
                continue;
            }
            s.set(k, v).map_err(|e| format!("line {}: {e}", i + 1))?;
        }
        Ok(s)
    }

    /// Mean upload capacity of the class mix, kb/s.
    pub fn mean_upload_kbps(&self) -> f64 {
        let w: f64 = self.classes.iter().map(|c| c.weight).sum();
        self.classes
            .iter()
            .map(|c| c.weight * c.up_kbps)
            .sum::<f64>()
            / w.max(f64::MIN_POSITIVE)
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("expected true or false, not {v}")),
    }
}

/// Whether `x` is a finite number above 0 (`strict`), or at least 0.
fn usable(x: f64, strict: bool) -> bool {
    x.is_finite() && (x > 0.0 || (!strict && x == 0.0))
}

/// `name:weight:down_kbps:up_kbps:latency_ms:jitter_ms:loss;…`
fn parse_classes(v: &str) -> Result<Vec<Class>, String> {
    let mut out = Vec::new();
    for part in v.split(';').filter(|p| !p.trim().is_empty()) {
        let f: Vec<&str> = part.trim().split(':').collect();
        if f.len() != 7 {
            return Err(format!(
                "class {part:?}: expected name:weight:down:up:latency:jitter:loss"
            ));
        }
        let n = |i: usize| {
            f[i].parse::<f64>()
                .map_err(|e| format!("class {part:?} field {i}: {e}"))
        };
        let c = Class {
            name: f[0].into(),
            weight: n(1)?,
            down_kbps: n(2)?,
            up_kbps: n(3)?,
            latency_ms: n(4)?,
            jitter_ms: n(5)?,
            loss: n(6)?,
        };
        // Links carry every frame, control frames too: a link of no capacity would never
        // deliver one (and its times would overflow), so it is refused here.
        let checks = [
            (c.weight >= 0.0, "weight must be at least 0"),
            (c.down_kbps > 0.0, "down must be more than 0 kb/s"),
            (c.up_kbps > 0.0, "up must be more than 0 kb/s"),
            (c.latency_ms >= 0.0, "latency must be at least 0 ms"),
            (c.jitter_ms >= 0.0, "jitter must be at least 0 ms"),
            (
                (0.0..1.0).contains(&c.loss),
                "loss must be at least 0 and under 1",
            ),
        ];
        for (ok, what) in checks {
            // `ok` is false for NaN too; infinities are refused below.
            if !ok {
                return Err(format!("class {part:?}: {what}"));
            }
        }
        if [c.weight, c.down_kbps, c.up_kbps, c.latency_ms, c.jitter_ms]
            .iter()
            .any(|x| x.is_infinite())
        {
            return Err(format!("class {part:?}: numbers must be finite"));
        }
        out.push(c);
    }
    if out.iter().all(|c| c.weight == 0.0) {
        return Err("no classes of weight above 0".into());
    }
    Ok(out)
}

fn class(name: &str, weight: f64, down: f64, up: f64, lat: f64, jit: f64, loss: f64) -> Class {
    Class {
        name: name.into(),
        weight,
        down_kbps: down,
        up_kbps: up,
        latency_ms: lat,
        jitter_ms: jit,
        loss,
    }
}

/// Fibre, cable and mobile viewers: mean upload 7.9 Mb/s.
pub fn home_mix() -> Vec<Class> {
    vec![
        class("fibre", 0.3, 100_000.0, 20_000.0, 5.0, 2.0, 0.0),
        class("cable", 0.5, 50_000.0, 3_000.0, 15.0, 5.0, 0.001),
        class("mobile", 0.2, 12_000.0, 2_000.0, 40.0, 20.0, 0.01),
    ]
}

/// Slow uplinks: mean upload 1 Mb/s, half the 2 Mb/s stream.
pub fn starved_mix() -> Vec<Class> {
    vec![
        class("dsl", 0.5, 16_000.0, 500.0, 20.0, 5.0, 0.001),
        class("cable", 0.3, 50_000.0, 1_000.0, 15.0, 5.0, 0.001),
        class("mobile", 0.2, 12_000.0, 2_250.0, 40.0, 20.0, 0.01),
    ]
}
