// A minimal leveled logger to stderr; processes prefix lines with their role.
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(role: string, level: 'info' | 'warn' | 'silent' = 'info'): Logger {
  const write = (lvl: string, msg: string) =>
    process.stderr.write(`${new Date().toISOString()} ${role} ${lvl} ${msg}\n`);
  return {
    info: (msg) => level === 'info' && write('info', msg),
    warn: (msg) => level !== 'silent' && write('warn', msg),
    error: (msg) => level !== 'silent' && write('error', msg),
  };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
