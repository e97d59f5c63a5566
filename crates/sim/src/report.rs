//! What a run measured, next to the bound it is held to: a summary for the terminal, JSON
//! for machines and an SVG plot of offload against swarm size.

use serde::{Deserialize, Serialize};

use crate::engine::{CdnCauses, Outcome};

/// The numbers of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Viewers configured.
    pub viewers: usize,
    /// Viewer sessions (arrivals, including churn replacements).
    pub sessions: u64,
    /// Most viewers present at once.
    pub peak_viewers: usize,
    /// Simulated seconds.
    pub duration_s: f64,
    /// Mean bitrate of what was played, kb/s.
    pub played_kbps: f64,
    /// Mean upload capacity of the viewers, kb/s.
    pub mean_upload_kbps: f64,
    /// Segment bytes the players got.
    pub played_bytes: u64,
    /// CDN bytes ÷ played bytes.
    pub cdn_share: f64,
    /// Peer segment bytes the agents used ÷ played bytes.
    pub p2p_share: f64,
    /// 1 − CDN share.
    pub offload: f64,
    /// The least CDN share physics allows: max(one copy of each segment played,
    /// played − upload capacity) ÷ played (Kumar, Liu and Ross 2007, generalised to
    /// arrivals and renditions).
    pub bound_cdn_share: f64,
    /// 1 − bound CDN share.
    pub bound_offload: f64,
    /// Bound offload − measured offload, percentage points.
    pub gap_points: f64,
    /// Total stall time ÷ total viewing time (after the first frame).
    pub stall_ratio: f64,
    /// Share of viewers that stalled at least once.
    pub viewers_stalled: f64,
    /// Playing time with under [`crate::player::LOW_BUFFER_S`] buffered ÷ total viewing
    /// time: how exposed playback was to a late response.
    pub low_buffer_ratio: f64,
    /// Stalls per viewer, mean.
    pub stalls_per_viewer: f64,
    /// Stall time per viewer, seconds: mean, 95th percentile, max.
    pub stall_s: [f64; 3],
    /// Time to first frame, ms: median, 95th, 99th percentile.
    pub ttff_ms: [f64; 3],
    /// Whether the stream is live (VOD has no live edge: `latency_s` stays 0).
    pub live: bool,
    /// Live: mean distance behind the live edge per viewer, seconds: median, 95th.
    pub latency_s: [f64; 2],
    /// Control bytes (protocol frames but chunk payload, chunk headers, tracker
    /// messages) ÷ played bytes.
    pub control_overhead: f64,
    /// Tracker messages per viewer-minute watched: sent by viewers, and sent to them
    /// (what a tracker serves, beside its open sockets).
    pub tracker_per_viewer_minute: [f64; 2],
    /// Segment bytes uploaded that no agent used ÷ segment bytes uploaded.
    pub wasted_upload: f64,
    /// Segment bytes viewers downloaded (from the CDN or peers) beyond what their players
    /// loaded ÷ played bytes: prefetches a viewer left with before playing them, copies
    /// fetched twice.
    pub unused_download: f64,
    /// Loads the agent failed (the player fetched them itself).
    pub fallbacks: u64,
    /// Rendition switches per viewer.
    pub switches_per_viewer: f64,
    /// Connected peers per viewer at the end (or departure), mean.
    pub mean_peers: f64,
    /// Events the simulator processed.
    pub events: u64,
    /// Inputs the agents handled.
    pub agent_inputs: u64,
    /// Most frequent reasons agents gave for dropping a peer.
    pub disconnects: Vec<(String, u64)>,
    /// Events by kind: arrivals and departures, agent wake-ups, other agent inputs,
    /// frames, uplink events (frames leaving), closes, tracker, CDN, playlist refreshes,
    /// player.
    pub events_by_kind: [u64; 10],
    /// Frames delivered by tag (see `Totals::frames_by_tag`).
    pub frames_by_tag: [u64; 8],
    /// CDN segment fetches by the agents: whole, and rest-of-segment (Range).
    pub cdn_fetches: [u64; 2],
    /// Peer transfers finished from the CDN, and peer demotions.
    pub peer_fallbacks: u64,
    /// See `peer_fallbacks`.
    pub peers_demoted: u64,
    /// Why the agents' whole-segment CDN fetches went to the CDN.
    pub cdn_causes: CdnCauses,

    /// Wall-clock seconds of the run (filled by the CLI).
    pub wall_s: f64,
    /// CPU seconds of the run (filled by the CLI).
    pub cpu_s: f64,
    /// Peak resident memory, MiB (filled by the CLI).
    pub rss_mib: f64,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i]
}

impl Summary {
    /// Sums up a finished run.
    pub fn of(o: &Outcome) -> Summary {
        let t = &o.totals;
        let sc = &o.scenario;
        let played = t.played_bytes.max(1) as f64;
        let bound_bytes = (t.distinct_bytes as f64).max(played - t.upload_capacity as f64);
        let bound = (bound_bytes / played).min(1.0);
        let cdn_share = t.cdn_bytes as f64 / played;
        let watched: Vec<f64> = o
            .viewers
            .iter()
            .map(|v| v.session_s() - v.ttff_ms.unwrap_or(0.0) / 1000.0)
            .collect();
        let watch_total: f64 = watched.iter().map(|w| w.max(0.0)).sum();
        // Per second of all viewers' time after their first frame (0 with none).
        let of_watching = |secs: f64| match watch_total > 0.0 {
            true => secs / watch_total,
            false => 0.0,
        };
        let started: Vec<_> = o.viewers.iter().filter(|v| v.ttff_ms.is_some()).collect();
        let nv = started.len().max(1) as f64;
        let stall_total: f64 = o.viewers.iter().map(|v| v.stall_s).sum();
        let mut stall_s: Vec<f64> = started.iter().map(|v| v.stall_s).collect();
        let mut ttff: Vec<f64> = started.iter().filter_map(|v| v.ttff_ms).collect();
        let mut lat: Vec<f64> = started
            .iter()
            .filter(|v| v.latency_n > 0)
            .map(|v| v.latency_sum / v.latency_n as f64)
            .collect();
        let play_s = played * 8.0 / 1000.0;
        let mut disconnects: Vec<(String, u64)> =
            t.disconnects.iter().map(|(k, v)| (k.clone(), *v)).collect();
        disconnects.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        disconnects.truncate(6);
        let offload = 1.0 - cdn_share;
        Summary {
            scenario: sc.name.clone(),
            seed: sc.seed,
            viewers: sc.viewers,
            sessions: t.sessions,
            peak_viewers: o.peak_viewers,
            duration_s: sc.duration_s,
            played_kbps: of_watching(play_s),
            mean_upload_kbps: sc.mean_upload_kbps(),
            played_bytes: t.played_bytes,
            cdn_share,
            p2p_share: t.p2p_used as f64 / played,
            offload,
            bound_cdn_share: bound,
            bound_offload: 1.0 - bound,
            gap_points: ((1.0 - bound) - offload) * 100.0,
            stall_ratio: of_watching(stall_total),
            viewers_stalled: started.iter().filter(|v| v.stalls > 0).count() as f64 / nv,
            low_buffer_ratio: of_watching(o.viewers.iter().map(|v| v.low_buffer_s).sum()),
            stalls_per_viewer: started.iter().map(|v| v.stalls as f64).sum::<f64>() / nv,
            stall_s: [
                stall_s.iter().sum::<f64>() / nv,
                pct(&mut stall_s, 0.95),
                stall_s.iter().cloned().fold(0.0, f64::max),
            ],
            ttff_ms: [
                pct(&mut ttff, 0.5),
                pct(&mut ttff, 0.95),
                pct(&mut ttff, 0.99),
            ],
            live: sc.live,
            latency_s: [pct(&mut lat, 0.5), pct(&mut lat, 0.95)],
            control_overhead: (t.control_bytes + t.tracker_bytes) as f64 / played,
            tracker_per_viewer_minute: t
                .tracker_messages
                .map(|m| m as f64 * 60.0 / watch_total.max(1e-9)),
            wasted_upload: if t.p2p_sent > 0 {
                t.p2p_sent.saturating_sub(t.p2p_used) as f64 / t.p2p_sent as f64
            } else {
                0.0
            },
            unused_download: (t.cdn_bytes + t.p2p_used).saturating_sub(t.played_bytes) as f64
                / played,
            fallbacks: o.viewers.iter().map(|v| v.fallbacks as u64).sum(),
            switches_per_viewer: o.viewers.iter().map(|v| v.switches as f64).sum::<f64>()
                / o.viewers.len().max(1) as f64,
            mean_peers: o.mean_peers,
            events: t.events,
            agent_inputs: t.agent_inputs,
            disconnects,
            cdn_fetches: t.cdn_fetches,
            events_by_kind: t.by_kind,
            frames_by_tag: t.frames_by_tag,
            peer_fallbacks: t.peer_fallbacks,
            peers_demoted: t.peers_demoted,
            cdn_causes: t.cdn_causes.clone(),
            wall_s: 0.0,
            cpu_s: 0.0,
            rss_mib: 0.0,
        }
    }

    /// A two-column table for the terminal.
    pub fn table(&self) -> String {
        let p = |x: f64| format!("{:.2}%", x * 100.0);
        let rows: Vec<(&str, String)> = vec![
            (
                "scenario",
                format!("{} (seed {})", self.scenario, self.seed),
            ),
            (
                "viewers",
                format!(
                    "{} configured, {} sessions, peak {}",
                    self.viewers, self.sessions, self.peak_viewers
                ),
            ),
            ("simulated", format!("{:.0} s", self.duration_s)),
            (
                "played / upload",
                format!(
                    "{:.0} kb/s played, {:.0} kb/s mean upload",
                    self.played_kbps, self.mean_upload_kbps
                ),
            ),
            ("CDN share", p(self.cdn_share)),
            ("P2P share", p(self.p2p_share)),
            (
                "offload (bound)",
                format!(
                    "{} ({}; gap {:.2} points)",
                    p(self.offload),
                    p(self.bound_offload),
                    self.gap_points
                ),
            ),
            (
                "stalls",
                format!(
                    "{} of viewing time; {} of viewers; {:.2} per viewer",
                    p(self.stall_ratio),
                    p(self.viewers_stalled),
                    self.stalls_per_viewer
                ),
            ),
            (
                "low buffer",
                format!(
                    "{} of viewing time with under {:.0} s buffered",
                    p(self.low_buffer_ratio),
                    crate::player::LOW_BUFFER_S
                ),
            ),
            (
                "stall time / viewer",
                format!(
                    "mean {:.2} s, p95 {:.2} s, max {:.2} s",
                    self.stall_s[0], self.stall_s[1], self.stall_s[2]
                ),
            ),
            (
                "time to first frame",
                format!(
                    "p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms",
                    self.ttff_ms[0], self.ttff_ms[1], self.ttff_ms[2]
                ),
            ),
            (
                "behind live edge",
                if self.live {
                    format!(
                        "p50 {:.1} s, p95 {:.1} s",
                        self.latency_s[0], self.latency_s[1]
                    )
                } else {
                    "— (VOD)".into()
                },
            ),
            ("control overhead", p(self.control_overhead)),
            (
                "tracker messages",
                format!(
                    "{:.1} sent, {:.1} received per viewer-minute",
                    self.tracker_per_viewer_minute[0], self.tracker_per_viewer_minute[1]
                ),
            ),
            ("wasted uploads", p(self.wasted_upload)),
            ("unused downloads", p(self.unused_download)),
            (
                "player fallbacks",
                format!(
                    "{} loads; {:.2} rendition switches per viewer",
                    self.fallbacks, self.switches_per_viewer
                ),
            ),
            ("peers per viewer", format!("{:.1}", self.mean_peers)),
            (
                "cost",
                format!(
                    "{} events, {} agent inputs, {:.1} s wall, {:.1} s CPU, {:.0} MiB peak RSS",
                    self.events, self.agent_inputs, self.wall_s, self.cpu_s, self.rss_mib
                ),
            ),
        ];
        let mut s = String::new();
        for (k, v) in rows {
            s.push_str(&format!("{k:<22}{v}\n"));
        }
        s.push_str(&format!(
            "{:<22}{} whole, {} rest (Range); {} peer fallbacks, {} demotions\n",
            "CDN fetches",
            self.cdn_fetches[0],
            self.cdn_fetches[1],
            self.peer_fallbacks,
            self.peers_demoted
        ));
        let c = &self.cdn_causes;
        s.push_str(&format!(
            "{:<22}{} first copies, {} beside one in flight, {} with no copy online; with \
             a copy online: {} at session start, {} at a neighbour, {} in the swarm, {} \
             elsewhere\n",
            "why the CDN",
            c.first_copy,
            c.copy_in_flight,
            c.no_copy_online,
            c.session_start,
            c.neighbour,
            c.copy_in_swarm,
            c.copy_elsewhere,
        ));
        if !self.disconnects.is_empty() {
            s.push_str("peer drops            ");
            let d: Vec<String> = self
                .disconnects
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            s.push_str(&d.join("; "));
            s.push('\n');
        }
        s
    }

    /// One row of a markdown table (see [`Summary::markdown_header`]).
    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {:.1}% | {:.1}% | {:.1}% | {:.2} | {:.3}% | {:.2} | {:.0} / {:.0} ms | {} | {:.2}% | {:.1}% | {:.1} s |",
            self.peak_viewers,
            self.cdn_share * 100.0,
            self.p2p_share * 100.0,
            self.bound_cdn_share * 100.0,
            self.gap_points,
            self.stall_ratio * 100.0,
            self.stall_s[0],
            self.ttff_ms[0],
            self.ttff_ms[1],
            if self.live {
                format!("{:.1} s", self.latency_s[0])
            } else {
                "—".into()
            },
            self.control_overhead * 100.0,
            self.wasted_upload * 100.0,
            self.cpu_s,
        )
    }

    /// Header of the markdown table.
    pub fn markdown_header() -> &'static str {
        "| viewers | CDN share | P2P share | bound (CDN ≥) | gap (points) | stall time | stall s/viewer | first frame p50 / p95 | behind edge p50 | control | wasted upload | CPU |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    }
}

/// The offload target: within this many points of the bound.
pub const TARGET_GAP_POINTS: f64 = 5.0;

/// One swarm size run with several seeds: how far the measured offload stays from the
/// bound across them, not only for one. A run's gap moves a point or more from seed to
/// seed at 100 viewers (which viewers meet, who leaves when), so a target is judged on
/// the spread.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcrossSeeds {
    /// Viewers configured.
    pub viewers: usize,
    /// Most viewers present at once, mean over the seeds (the plot's x).
    pub peak_viewers: usize,
    /// The seeds, in the order they ran.
    pub seeds: Vec<u64>,
    /// Gap to the bound, points: mean, least, most.
    pub gap_points: [f64; 3],
    /// Seeds whose gap is within [`TARGET_GAP_POINTS`].
    pub within_target: usize,
    /// CDN share, mean.
    pub cdn_share: f64,
    /// The bound's CDN share, mean.
    pub bound_cdn_share: f64,
    /// Stall time ÷ viewing time: the worst seed's.
    pub stall_ratio_max: f64,
}

impl AcrossSeeds {
    /// Groups `runs` by configured viewers (in the order each size first appears) and
    /// sums each group up; an empty list gives none.
    pub fn of(runs: &[Summary]) -> Vec<AcrossSeeds> {
        let mut sizes: Vec<usize> = Vec::new();
        for r in runs {
            if !sizes.contains(&r.viewers) {
                sizes.push(r.viewers);
            }
        }
        sizes
            .into_iter()
            .map(|viewers| {
                let group: Vec<&Summary> = runs.iter().filter(|r| r.viewers == viewers).collect();
                let n = group.len() as f64;
                let mean = |f: fn(&Summary) -> f64| group.iter().map(|r| f(r)).sum::<f64>() / n;
                let gaps = group.iter().map(|r| r.gap_points);
                AcrossSeeds {
                    viewers,
                    peak_viewers: mean(|r| r.peak_viewers as f64).round() as usize,
                    seeds: group.iter().map(|r| r.seed).collect(),
                    gap_points: [
                        mean(|r| r.gap_points),
                        gaps.clone().fold(f64::INFINITY, f64::min),
                        gaps.fold(f64::NEG_INFINITY, f64::max),
                    ],
                    within_target: group
                        .iter()
                        .filter(|r| r.gap_points <= TARGET_GAP_POINTS)
                        .count(),
                    cdn_share: mean(|r| r.cdn_share),
                    bound_cdn_share: mean(|r| r.bound_cdn_share),
                    stall_ratio_max: group.iter().map(|r| r.stall_ratio).fold(0.0, f64::max),
                }
            })
            .collect()
    }

    /// One row of a markdown table (see [`AcrossSeeds::markdown_header`]).
    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {} | {:.2} | {:.2} / {:.2} | {} of {} | {:.1}% | {:.1}% | {:.3}% |",
            self.viewers,
            seeds_label(&self.seeds, "–", ", "),
            self.gap_points[0],
            self.gap_points[1],
            self.gap_points[2],
            self.within_target,
            self.seeds.len(),
            self.cdn_share * 100.0,
            self.bound_cdn_share * 100.0,
            self.stall_ratio_max * 100.0,
        )
    }

    /// Header of the markdown table.
    pub fn markdown_header() -> String {
        format!(
            "| viewers | seeds | gap mean (points) | gap least / most | within {TARGET_GAP_POINTS} points | CDN share, mean | bound, mean | stall time, worst seed |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
        )
    }
}

/// A list of seeds in short: `first{to}last` when they follow each other, else each one,
/// joined by `sep`.
pub fn seeds_label(seeds: &[u64], to: &str, sep: &str) -> String {
    match seeds {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if seeds.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])) => {
            format!("{first}{to}{last}")
        }
        all => all
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(sep),
    }
}

/// One point of the plot: viewers, measured offload, bound offload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Viewers (peak present at once).
    pub viewers: usize,
    /// 1 − CDN share.
    pub offload: f64,
    /// 1 − the bound's CDN share.
    pub bound_offload: f64,
}

impl From<&AcrossSeeds> for Point {
    fn from(a: &AcrossSeeds) -> Point {
        Point {
            viewers: a.peak_viewers,
            offload: 1.0 - a.cdn_share,
            bound_offload: 1.0 - a.bound_cdn_share,
        }
    }
}

impl From<&Summary> for Point {
    fn from(s: &Summary) -> Point {
        Point {
            viewers: s.peak_viewers,
            offload: s.offload,
            bound_offload: s.bound_offload,
        }
    }
}

/// An SVG plot of offload against viewers (log scale), measured points and the bound.
pub fn svg(title: &str, runs: &[Point]) -> String {
    let (w, h) = (640.0, 400.0);
    let (l, r, t, b) = (64.0, 20.0, 40.0, 56.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let xs: Vec<f64> = runs
        .iter()
        .map(|s| (s.viewers.max(1) as f64).log10())
        .collect();
    let x0 = xs
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min)
        .floor()
        .clamp(0.0, 9.0);
    let x1 = xs.iter().cloned().fold(0.0, f64::max).ceil().max(x0 + 1.0);
    let px = |x: f64| l + (x - x0) / (x1 - x0) * pw;
    let py = |y: f64| t + (1.0 - y.clamp(0.0, 1.0)) * ph;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        w / 2.0,
        xml(title)
    );
    for i in 0..=10 {
        let y = i as f64 / 10.0;
        let (x2, yy, tx, ty, label) = (l + pw, py(y), l - 6.0, py(y) + 4.0, i * 10);
        s.push_str(&format!(
            "<line x1=\"{l}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}%</text>\n"
        ));
    }
    let mut d = x0 as i32;
    while d as f64 <= x1 {
        let x = px(d as f64);
        s.push_str(&format!(
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{t}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            t + ph,
            t + ph + 16.0,
            10u64.pow(d as u32)
        ));
        d += 1;
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">viewers</text>\n<text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">offload (1 − CDN share)</text>\n",
        l + pw / 2.0,
        h - 12.0,
        t + ph / 2.0,
        t + ph / 2.0
    ));
    let line = |vals: Vec<(f64, f64)>, color: &str, dash: &str| {
        let pts: Vec<String> = vals
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let mut out = format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"{dash}\" points=\"{}\"/>\n",
            pts.join(" ")
        );
        for (x, y) in vals {
            out.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{color}\"/>\n",
                px(x),
                py(y)
            ));
        }
        out
    };
    s.push_str(&line(
        xs.iter()
            .zip(runs)
            .map(|(x, r)| (*x, r.bound_offload))
            .collect(),
        "#888",
        "6 4",
    ));
    s.push_str(&line(
        xs.iter().zip(runs).map(|(x, r)| (*x, r.offload)).collect(),
        "#1f6feb",
        "none",
    ));
    let ly = t + ph - 40.0;
    s.push_str(&format!(
        "<rect x=\"{0}\" y=\"{1}\" width=\"230\" height=\"44\" fill=\"white\" stroke=\"#ccc\"/>\n<line x1=\"{2}\" x2=\"{3}\" y1=\"{4}\" y2=\"{4}\" stroke=\"#1f6feb\" stroke-width=\"2\"/><text x=\"{5}\" y=\"{6}\">measured offload</text>\n<line x1=\"{2}\" x2=\"{3}\" y1=\"{7}\" y2=\"{7}\" stroke=\"#888\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"{5}\" y=\"{8}\">bound: 1 − max(1/n, 1 − ū/r)</text>\n",
        l + pw - 240.0,
        ly - 4.0,
        l + pw - 232.0,
        l + pw - 206.0,
        ly + 10.0,
        l + pw - 200.0,
        ly + 14.0,
        ly + 30.0,
        ly + 34.0
    ));
    s.push_str("</svg>\n");
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
