// Child processes of a test run: started with output to a log file, waited on
// for a readiness line, and stopped by pid (SIGTERM, then SIGKILL) at the end,
// also when the test fails or the runner is interrupted.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
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
