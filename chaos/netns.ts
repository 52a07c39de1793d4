// Network partitions between real processes: one worker runs in a network namespace of the run,
// joined to the host by two veth pairs with private /30 addresses made for the run — one to
// reach the coordinator, one to reach NATS — and a partition sets a host end down (then up).
// The coordinator and nats-server listen on the host ends; host processes reach those addresses
// locally whatever the link state, so only the namespaced worker is cut off.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { PartitionLink } from './schedule.js';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 });
  return stdout;
}

export interface NetnsLayout {
  ns: string;
  /** Host-end addresses: the coordinator and nats-server listen on these. */
  coordinatorHost: string;
  natsHost: string;
}

export class NetworkNamespace implements NetnsLayout {
  private readonly links: Record<'coordinator' | 'nats', string>;
  private readonly down = new Set<string>();

  private constructor(
    readonly ns: string,
    readonly coordinatorHost: string,
    readonly natsHost: string,
    hostLinks: Record<'coordinator' | 'nats', string>,
  ) {
    this.links = hostLinks;
  }

  /**
   * Creates the namespace and its two links, or says why it cannot (not root, no `ip netns`).
   * `id` is the run's hex id: every name and the addresses derive from it.
   */
  static async create(id: string): Promise<NetworkNamespace | { unavailable: string }> {
    const ns = `chaos-${id}`;
    const short = id.slice(0, 8);
    try {
      await ip('netns', 'add', ns);
    } catch (err) {
      return { unavailable: `ip netns add failed: ${firstLine(err)}` };
    }
    try {
      const base = await freeSubnet(id);
      const at = (n: number) => `10.${base[0]}.${base[1]}.${base[2] + n}`;
      const pairs = [
        { host: `cs${short}c`, peer: `cs${short}d`, hostIp: at(1), nsIp: at(2) },
        { host: `cs${short}n`, peer: `cs${short}o`, hostIp: at(5), nsIp: at(6) },
      ];
      for (const p of pairs) {
        await ip('link', 'add', p.host, 'type', 'veth', 'peer', 'name', p.peer);
        await ip('link', 'set', p.peer, 'netns', ns);
        await ip('addr', 'add', `${p.hostIp}/30`, 'dev', p.host);
        await ip('link', 'set', p.host, 'up');
        await ip('-n', ns, 'addr', 'add', `${p.nsIp}/30`, 'dev', p.peer);
        await ip('-n', ns, 'link', 'set', p.peer, 'up');
      }
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      return new NetworkNamespace(ns, pairs[0]!.hostIp, pairs[1]!.hostIp, {
        coordinator: pairs[0]!.host,
        nats: pairs[1]!.host,
      });
    } catch (err) {
      await ip('netns', 'del', ns).catch(() => undefined);
      return { unavailable: `setting up veth links failed: ${firstLine(err)}` };
    }
  }

  /** The command prefix that runs a program inside the namespace. */
  exec(command: string, args: string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.ns, command, ...args] };
  }

  private names(link: PartitionLink): string[] {
    return link === 'both' ? [this.links.coordinator, this.links.nats] : [this.links[link]];
  }

  async cut(link: PartitionLink): Promise<void> {
    for (const dev of this.names(link)) {
      await ip('link', 'set', dev, 'down');
      this.down.add(dev);
    }
  }

  async restore(link: PartitionLink): Promise<void> {
    for (const dev of this.names(link)) {
      await ip('link', 'set', dev, 'up');
      this.down.delete(dev);
    }
  }

  /** Restores every link, then removes the namespace (which takes its veth pairs with it). */
  async teardown(): Promise<void> {
    for (const dev of [...this.down]) await ip('link', 'set', dev, 'up').catch(() => undefined);
    await ip('netns', 'del', this.ns).catch(() => undefined);
    for (const dev of Object.values(this.links)) await ip('link', 'del', dev).catch(() => undefined);
  }
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim().split('\n')[0] ?? '';
}

/** A 10.a.b.c/29 derived from the run id that no address or route of this host overlaps. */
async function freeSubnet(id: string): Promise<[number, number, number]> {
  const taken = `${await ip('-4', '-o', 'addr', 'show')}\n${await ip('-4', 'route', 'show', 'table', 'all')}`;
  const h = Number.parseInt(id.slice(0, 8), 16);
  for (let i = 0; i < 64; i++) {
    const v = (h + i * 2654435761) >>> 0;
    const a = 200 + (v % 50);
    const b = (v >>> 8) % 256;
    const c = ((v >>> 16) % 32) * 8;
    if (!taken.includes(`10.${a}.${b}.`) && !taken.includes(`10.0.0.0/8`)) return [a, b, c];
  }
  throw new Error('no free private subnet found for the veth links');
}
