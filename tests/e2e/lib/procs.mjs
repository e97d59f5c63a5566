// Child processes of a test run: started with output to a log file, waited on
// for a readiness line, and stopped by pid (SIGTERM, then SIGKILL) at the end,
// also when the test fails or the runner is interrupted.
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { once } from "node:events";

const live = new Set(); // every group not yet stopped, for the exit handlers

function killSync(pid, signal) {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

// Last-resort cleanup: the runner kills us, or we exit without stopAll().
let handlersInstalled = false;
function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const g of live) for (const p of g.procs) if (p.exitCode === null) killSync(p.pid, "SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(sig, async () => {
      await Promise.allSettled([...live].map((g) => g.stopAll()));
      process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[sig]);
    });
  }
}

export class ProcessGroup {
  /** @param {string} logDir where each process's stdout+stderr goes (NAME.log) */
  constructor(logDir) {
    this.logDir = logDir;
    /** @type {Array<{name:string,pid:number,child:import("node:child_process").ChildProcess,exitCode:number|null,signal:string|null,exited:Promise<void>,logFile:string,tail:string[]}>} */
    this.procs = [];
    installHandlers();
    live.add(this);
  }

  /**
   * Start a process. Resolves once `ready` (a RegExp) matches a line of its
   * output (stdout or stderr), with the match; rejects if it exits first or
   * `timeoutMs` passes. Without `ready`, resolves at once.
   */
  async start(name, cmd, args, { cwd, env, ready, timeoutMs = 15000 } = {}) {
    const logFile = `${this.logDir}/${name}.log`;
    const log = createWriteStream(logFile, { flags: "a" });
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const p = { name, pid: child.pid, child, exitCode: null, signal: null, logFile, tail: [] };
    p.exited = once(child, "exit")
      .then(([code, signal]) => {
        p.exitCode = code ?? -1;
        p.signal = signal;
      })
      .catch(() => {});
    child.on("error", (err) => log.write(`[spawn error] ${err.message}\n`));
    this.procs.push(p);

    let onLine = () => {};
    for (const stream of [child.stdout, child.stderr]) {
      let buf = "";
      stream.on("data", (d) => {
        log.write(d);
        buf += d.toString();
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          p.tail.push(line);
          if (p.tail.length > 40) p.tail.shift();
          onLine(line);
        }
      });
    }
    child.on("exit", () => log.end());
    if (!child.pid) throw new Error(`${name}: failed to start ${cmd}`);
    if (!ready) return { proc: p, match: null };

    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${name}: not ready after ${timeoutMs} ms; last output:\n${p.tail.join("\n")}`));
      }, timeoutMs);
      onLine = (line) => {
        const m = line.match(ready);
        if (m) {
          clearTimeout(timer);
          onLine = () => {};
          resolve({ proc: p, match: m });
        }
      };
      p.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${name}: exited (code ${p.exitCode}, signal ${p.signal}) before ready; output:\n${p.tail.join("\n")}`));
      });
    });
  }

  /** Stop one process by pid: SIGTERM, then SIGKILL after graceMs. */
  async stop(p, graceMs = 3000) {
    if (p.exitCode !== null) return;
    killSync(p.pid, "SIGTERM");
    const t = new Promise((r) => setTimeout(r, graceMs, "timeout"));
    if ((await Promise.race([p.exited.then(() => "exited"), t])) === "timeout") {
      killSync(p.pid, "SIGKILL");
      await p.exited;
    }
  }

  /** Stop everything, most recently started first. */
  async stopAll() {
    for (const p of [...this.procs].reverse()) await this.stop(p);
    live.delete(this);
  }
}

/**
 * The pid of the process whose command line contains `marker` and whose parent's does not
 * (the top of a process tree started with a unique marker argument), or null.
 */
export async function pidByMarker(marker) {
  const found = new Map(); // pid -> ppid, for processes carrying the marker
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!(await readFile(`/proc/${name}/cmdline`, "utf8")).includes(marker)) continue;
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      found.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited while we looked
    }
  }
  for (const [pid, ppid] of found) if (!found.has(ppid)) return pid;
  return null;
}

let clockTicks = null;

/**
 * CPU time (user + system, seconds) of process `pid` and all its descendants alive now,
 * plus what their reaped children used (cutime/cstime), from /proc. Null if `pid` is gone.
 */
export async function processTreeCpuS(pid) {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  const procs = new Map(); // pid -> { ppid, ticks }
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      // fields after "(comm)": state ppid ... utime(12) stime(13) cutime(14) cstime(15)
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // exited while we looked
    }
  }
  if (!procs.has(pid)) return null;
  let ticks = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    ticks += procs.get(p).ticks;
    for (const [child, c] of procs) if (c.ppid === p) todo.push(child);
  }
  return ticks / clockTicks;
}
