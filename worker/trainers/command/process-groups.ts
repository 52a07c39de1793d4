// The process groups of the trainers running in this worker process, and the synchronous
// 'exit' handler that kills them all: a worker that exits by any path Node sees (a second
// Ctrl-C, process.exit, an uncaught error) leaves no trainer behind. A SIGKILLed worker runs
// no handler; its trainers see EOF on their channel and exit (docs/trainer-protocol.md).
const live = new Set<number>();
let installed = false;

function killAll(): void {
  for (const pgid of live) signalGroup(pgid, 'SIGKILL');
  live.clear();
}

/** Signals the whole group; false when it has no process left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

export function registerGroup(pgid: number): void {
  if (!installed) {
    process.on('exit', killAll);
    installed = true;
  }
  live.add(pgid);
}

export function unregisterGroup(pgid: number): void {
  live.delete(pgid);
}

/** Trainer groups not yet ended by their attempt (for tests and diagnostics). */
export function liveTrainerGroups(): number[] {
  return [...live];
}
