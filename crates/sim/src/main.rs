//! `hlsmesh-sim <scenario|file> [key=value…] [--sweep N,N,…] [--seeds S-S|S,S,…] [--out DIR]`
//!
//! Runs a built-in scenario (or a scenario file), prints a table, writes JSON, and with
//! `--sweep` runs it at several swarm sizes and draws offload against the bound in SVG.
//! With `--seeds` each size runs once per seed, and the gap to the bound is reported as
//! its spread over them.

use std::path::PathBuf;
use std::process::ExitCode;

use hlsmesh_sim::{seeds_label, svg, AcrossSeeds, Point, Scenario, Sim, Summary};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc settings for a run: transparent huge pages for its memory (the agents' state
/// is spread over gigabytes at 10,000 viewers: fewer TLB misses), and freed pages kept
/// rather than handed back to the system after 10 ms (a run frees and reuses memory all
/// the time; handing it back cost page faults and zeroing). mimalloc reads them from the
/// environment when the process starts, and setting them in-process takes `unsafe`, so
/// the binary runs itself again with them set, unless either is set already (set one to
/// its default to opt out: `MIMALLOC_PURGE_DELAY=10`). 14% less user time at 3,000
/// viewers (docs/BENCHMARKS.md, "Simulator speed").
const ALLOCATOR_ENV: [(&str, &str); 2] = [
    ("MIMALLOC_ALLOW_LARGE_OS_PAGES", "1"),
    ("MIMALLOC_PURGE_DELAY", "-1"),
];

/// Runs this binary again with [`ALLOCATOR_ENV`] set; its exit code, or None when the
/// settings are already in place (or the binary cannot be re-run: then it runs as is).
fn rerun_with_allocator_env() -> Option<ExitCode> {
    if ALLOCATOR_ENV
        .iter()
        .any(|(k, _)| std::env::var_os(k).is_some())
    {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(ALLOCATOR_ENV)
        .status()
        .ok()?;
    Some(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

const USAGE: &str = "usage: hlsmesh-sim <scenario|file> [key=value ...] [--sweep N,N,...] [--seeds S-S|S,S,...] [--out DIR] [--quiet]
       hlsmesh-sim plot <out.svg> <title> <run.json>...   (offload vs viewers from earlier runs)
scenarios: steady-live flash-crowd heavy-churn upload-starved vod-long-tail (or a file of key = value lines)
keys: viewers seed duration live segment window vod_segments renditions start_level abr classes
      cdn_latency cdn_kbps cdn_jitter tracker_latency tracker max_peers cache_segments join
      join_over session_mean vod_seek live_sync_count max_buffer byte_scale browser_chunks p2p
      classes = name:weight:down_kbps:up_kbps:latency_ms:jitter_ms:loss;...
      tracker = random (as WebTorrent trackers) | nearest (a probe: the nearest playheads)";

fn main() -> ExitCode {
    if let Some(code) = rerun_with_allocator_env() {
        return code;
    }
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hlsmesh-sim: {e}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let first = args.next().ok_or("no scenario")?;
    if first == "--help" || first == "-h" {
        println!("{USAGE}");
        return Ok(());
    }
    if first == "plot" {
        return plot(args.collect());
    }
    let mut sc = match Scenario::builtin(&first) {
        Some(s) => s,
        None => {
            let text = std::fs::read_to_string(&first)
                .map_err(|e| format!("{first}: not a scenario name, and {e}"))?;
            Scenario::parse_file(&text)?
        }
    };
    let mut sweep: Option<Vec<usize>> = None;
    let mut seeds: Option<Vec<u64>> = None;
    let mut seed_key = false;
    let mut out = PathBuf::from("target/sim");
    let mut quiet = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sweep" => {
                let v = args.next().ok_or("--sweep needs a list")?;
                sweep = Some(
                    v.split(',')
                        .map(|x| {
                            x.trim()
                                .parse::<usize>()
                                .map_err(|e| format!("--sweep: {e}"))
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
            "--seeds" => seeds = Some(parse_seeds(&args.next().ok_or("--seeds needs a list")?)?),
            "--out" => out = PathBuf::from(args.next().ok_or("--out needs a directory")?),
            "--quiet" => quiet = true,
            kv => {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("expected key=value, not {kv}"))?;
                seed_key |= k.trim() == "seed";
                sc.set(k, v)?;
            }
        }
    }
    if seed_key && seeds.is_some() {
        return Err("seed= and --seeds: give one or the other".into());
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let sizes = sweep.clone().unwrap_or_else(|| vec![sc.viewers]);
    let mut runs = Vec::new();
    let seed_list = seeds.clone().unwrap_or_else(|| vec![sc.seed]);
    for (n, seed) in sizes
        .iter()
        .flat_map(|&n| seed_list.iter().map(move |&seed| (n, seed)))
    {
        let mut s = sc.clone();
        s.viewers = n;
        s.seed = seed;
        let cpu0 = cpu_seconds();
        let (outcome, wall) = timed(|| Sim::new(s).run());
        let cpu = cpu_seconds() - cpu0;
        if std::env::var_os("HLSMESH_SIM_COUNTS").is_some() {
            eprintln!(
                "events by kind {:?}, stale wake-ups {}",
                outcome.totals.by_kind, outcome.totals.stale_wakeups
            );
        }
        let mut summary = Summary::of(&outcome);
        summary.wall_s = wall;
        summary.cpu_s = cpu;
        summary.rss_mib = peak_rss_mib();
        if !quiet {
            println!("{}", summary.table());
        }
        runs.push(summary);
    }
    let mut stem = match &sweep {
        Some(_) => format!("{}-sweep", sc.name),
        None => format!("{}-{}", sc.name, sc.viewers),
    };
    let across = seeds.as_ref().map(|_| AcrossSeeds::of(&runs));
    let json = match &across {
        Some(a) => {
            // Runs over other seeds of the same sizes keep their own file.
            stem.push_str(&format!("-seeds{}", seeds_label(&seed_list, "-", "_")));
            serde_json::json!({ "scenario": sc, "runs": runs, "across_seeds": a })
        }
        None => serde_json::json!({ "scenario": sc, "runs": runs }),
    };
    let path = out.join(format!("{stem}.json"));
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    match &across {
        // Each run's row, with its seed first.
        Some(a) => {
            let mut header = Summary::markdown_header().lines();
            println!("| seed {}", header.next().unwrap_or_default());
            println!("| --- {}", header.next().unwrap_or_default());
            for r in &runs {
                println!("| {} {}", r.seed, r.markdown_row());
            }
            println!("\n{}", AcrossSeeds::markdown_header());
            for g in a {
                println!("{}", g.markdown_row());
            }
        }
        None => {
            println!("{}", Summary::markdown_header());
            for r in &runs {
                println!("{}", r.markdown_row());
            }
        }
    }
    println!("\nwrote {}", path.display());
    if sweep.is_some() {
        let path = out.join(format!("{stem}.svg"));
        let title = format!(
            "{}: offload vs viewers (r = {:.0} kb/s, ū = {:.0} kb/s)",
            sc.name,
            runs.first().map(|r| r.played_kbps).unwrap_or(0.0),
            sc.mean_upload_kbps()
        );
        // Across seeds, one point per size: the means.
        let points: Vec<Point> = match &across {
            Some(a) => a.iter().map(Point::from).collect(),
            None => runs.iter().map(Point::from).collect(),
        };
        std::fs::write(&path, svg(&title, &points))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `plot <out.svg> <title> <run.json>...`: one plot from the runs of several JSON files.
fn plot(args: Vec<String>) -> Result<(), String> {
    let [out, title, files @ ..] = args.as_slice() else {
        return Err("plot needs <out.svg> <title> <run.json>...".into());
    };
    let mut points = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{f}: {e}"))?;
        // A run over several seeds is drawn by its means, one point per size.
        if let Some(across) = v.get("across_seeds") {
            let across: Vec<AcrossSeeds> = serde_json::from_value(across.clone())
                .map_err(|e| format!("{f}: across_seeds: {e}"))?;
            points.extend(across.iter().map(Point::from));
            continue;
        }
        for r in v["runs"].as_array().ok_or(format!("{f}: no runs"))? {
            points.push(Point {
                viewers: r["peak_viewers"].as_u64().unwrap_or(0) as usize,
                offload: r["offload"].as_f64().unwrap_or(0.0),
                bound_offload: r["bound_offload"].as_f64().unwrap_or(0.0),
            });
        }
    }
    points.sort_by_key(|p| p.viewers);
    std::fs::write(out, svg(title, &points)).map_err(|e| format!("{out}: {e}"))?;
    println!("wrote {out}");
    Ok(())
}

/// Most seeds one `--seeds` runs.
const MAX_SEEDS: usize = 1000;

/// `--seeds`: seeds and ranges of seeds, comma-separated (`1-8`, `3,5,9-11`), each once,
/// in the order given.
fn parse_seeds(list: &str) -> Result<Vec<u64>, String> {
    let bad = |part: &str| format!("--seeds: {part:?} is not a seed or a range of seeds (1-8)");
    let mut seeds = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (Ok(lo), Ok(hi)) = (lo.parse::<u64>(), hi.parse::<u64>()) else {
            return Err(bad(part));
        };
        if hi < lo {
            return Err(bad(part));
        }
        for seed in lo..=hi {
            if !seeds.contains(&seed) {
                seeds.push(seed);
            }
            // More runs than anyone would wait for is a typo, not a request.
            if seeds.len() > MAX_SEEDS {
                return Err(format!("--seeds: more than {MAX_SEEDS} seeds"));
            }
        }
    }
    Ok(seeds)
}

/// Wall time of the run: the benchmark's own measurement, outside the sans-IO code.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = std::time::Instant::now();
    let v = f();
    (v, start.elapsed().as_secs_f64())
}

/// CPU time this process has used (Linux `/proc/self/stat` utime + stime), seconds; 0
/// elsewhere. On a shared machine this, not wall time, is what a run costs.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// Peak resident set size (Linux `VmHWM`), MiB; 0 elsewhere.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seeds_are_listed_or_ranged() {
        assert_eq!(parse_seeds("1-4"), Ok(vec![1, 2, 3, 4]));
        assert_eq!(parse_seeds("7"), Ok(vec![7]));
        assert_eq!(parse_seeds("3, 5,9-11"), Ok(vec![3, 5, 9, 10, 11]));
        assert_eq!(parse_seeds("2-3,1-2"), Ok(vec![2, 3, 1]), "each seed once");
        for bad in ["", "x", "4-2", "1-", "-3", "1,,2"] {
            assert!(
                parse_seeds(bad).unwrap_err().contains("not a seed"),
                "{bad:?}"
            );
        }
        for many in ["1-5000", "1-999,1000-1998", "0-18446744073709551615"] {
            assert!(
                parse_seeds(many).unwrap_err().contains("more than 1000"),
                "{many:?}"
            );
        }
        assert_eq!(parse_seeds("1-1000").map(|s| s.len()), Ok(1000));
    }
}
