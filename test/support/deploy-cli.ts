// What the deployment files may refer to, read from the code itself: commands and their flags
// (from each command module's --help text), flag defaults, the environment variables the code
// reads, and the paths the processes' HTTP server answers.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMANDS } from '../../cli/commands.js';
import type { Command } from '../../cli/command.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

interface WithSubcommands {
  subcommands?: Record<string, { load: () => Promise<{ default: Command }> }>;
}

/** The help text of `phasesweep CMD [SUB]`, or an error naming what exists. */
export async function helpOf(words: string[]): Promise<string> {
  const [name, sub] = words;
  const entry = name === undefined ? undefined : COMMANDS[name];
  if (entry === undefined)
    throw new Error(`no command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
  const command = (await entry.load()).default as Command & WithSubcommands;
  if (command.subcommands === undefined) return command.help;
  const subEntry = sub === undefined ? undefined : command.subcommands[sub];
  if (subEntry === undefined)
    throw new Error(
      `no subcommand "${name} ${sub}" (subcommands: ${Object.keys(command.subcommands).join(', ')})`,
    );
  return (await subEntry.load()).default.help;
}

/** True when `phasesweep NAME` takes a subcommand (`sweep submit`). */
export async function hasSubcommands(name: string): Promise<boolean> {
  const entry = COMMANDS[name];
  if (entry === undefined) return false;
  return ((await entry.load()).default as WithSubcommands).subcommands !== undefined;
}

export interface FlagDoc {
  /** The text after the flag up to its description, e.g. `(default 0.0.0.0:7070 …)` lines. */
  description: string;
}

/**
 * The flags a help text documents: those in its Usage line and those that start an option line
 * (`  --name ARG   description`). Flags merely mentioned inside a description don't count.
 */
export function flagsOfHelp(help: string): Map<string, FlagDoc> {
  const flags = new Map<string, FlagDoc>();
  const lines = help.split('\n');
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    let head: string;
    if (trimmed.startsWith('Usage:')) head = trimmed;
    else if (trimmed.startsWith('--')) head = trimmed.split(/\s{2,}/)[0] ?? '';
    else return;
    // An option's description may continue on the following, deeper-indented lines.
    let description = trimmed.startsWith('--') ? trimmed.slice(head.length) : '';
    for (let j = i + 1; j < lines.length && /^\s{6,}[^-\s]/.test(lines[j]!); j++)
      description += ' ' + lines[j]!.trim();
    for (const m of head.matchAll(/--([a-z][a-z0-9-]*)/g)) {
      const existing = flags.get(m[1]!);
      if (existing === undefined || existing.description === '') flags.set(m[1]!, { description });
    }
  });
  return flags;
}

/**
 * The port a flag's help names after "default": its default HOST:PORT, or for a flag that is off by
 * default the address it suggests (`default off … (e.g. 0.0.0.0:7073)`).
 */
export function defaultPort(doc: FlagDoc | undefined): number | undefined {
  const m = doc && /default[^)]*?:(\d{2,5})\b/.exec(doc.description);
  return m ? Number(m[1]) : undefined;
}

const SOURCE_DIRS = [
  'cli',
  'coordinator',
  'worker',
  'pipeline',
  'spec',
  'observability',
  'analysis',
  'proto',
];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Environment variables the shipped code reads (`process.env['X']` / `process.env.X`). */
export function envVarsReadByCode(): Set<string> {
  const names = new Set<string>();
  for (const file of SOURCE_DIRS.flatMap((d) => sourceFiles(path.join(ROOT, d)))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/process\.env(?:\[['"]([A-Z0-9_]+)['"]\]|\.([A-Z0-9_]+))/g))
      names.add((m[1] ?? m[2])!);
  }
  return names;
}

/** The paths the processes' operational HTTP server answers (/metrics, /healthz, /readyz). */
export function opsServerPaths(): Set<string> {
  const files = sourceFiles(path.join(ROOT, 'observability'));
  const paths = new Set<string>();
  for (const file of files)
    for (const m of readFileSync(file, 'utf8').matchAll(/pathname === '(\/[a-z/-]*)'/g)) paths.add(m[1]!);
  return paths;
}

/** `phasesweep …` invocations in a document's fenced code blocks, one argv each. */
export function phasesweepCommandsIn(markdown: string): string[][] {
  const blocks = [...markdown.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const lines = blocks.flatMap((b) => b.replace(/\\\n\s*/g, ' ').split('\n'));
  const out: string[][] = [];
  for (const line of lines) {
    // Only lines that run the CLI (`phasesweep …`, `npx phasesweep …`), not ones that name the
    // namespace or the image.
    const m = /^(?:npx\s+)?phasesweep\s+(.*)$/.exec(line.replace(/\s#.*$/, '').trim());
    if (m) out.push(m[1]!.split(/\s+/).filter((w) => w !== ''));
  }
  return out;
}
