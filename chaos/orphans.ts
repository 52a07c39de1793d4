// Finds the run's processes in /proc by the marker every one of them inherits in its environment
// (children of children included, whatever their command line), so nothing the run started —
// worker, trainer or server — outlives it unnoticed.
import { readdirSync, readFileSync } from 'node:fs';
import { MARKER_ENV } from './processes.js';

export interface MarkedProcess {
  pid: number;
  cmdline: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/** Live processes (zombies excluded) carrying `MARKER_ENV=runId` or naming the run id, other than this one. */
export function findMarked(runId: string): MarkedProcess[] {
  const needle = `\0${MARKER_ENV}=${runId}\0`;
  const out: MarkedProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const environ = read(`/proc/${entry}/environ`) ?? '';
    const cmdline = (read(`/proc/${entry}/cmdline`) ?? '').split('\0').join(' ').trim();
    if (!`\0${environ}\0`.includes(needle) && !cmdline.includes(runId)) continue;
    // A zombie has exited; its parent has yet to reap it.
    const stat = read(`/proc/${entry}/stat`);
    const state = stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') continue;
    out.push({ pid, cmdline });
  }
  return out;
}

/** SIGKILLs each (after SIGCONT, for a paused one); returns how many were still there. */
export function killAll(procs: readonly MarkedProcess[]): number {
  let n = 0;
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGCONT');
      process.kill(p.pid, 'SIGKILL');
      n++;
    } catch {
      // already gone
    }
  }
  return n;
}
