// Finding a worker's GPUs: nvidia-smi's output as it prints it, the real absence of nvidia-smi
// on this machine, real programs on PATH standing in for nvidia-smi and python3, the torch probe
// script in the real python3 where it has torch, and --gpus / CUDA_VISIBLE_DEVICES choosing.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../worker/training/index.js';
import {
  chooseCudaDevices,
  describeDevices,
  detectCudaDevices,
  gpuSelectionFromEnv,
  parseGpuSelection,
  parseNvidiaSmi,
  parseTorchProbe,
  TORCH_PROBE,
  webgpuDevices,
  type Detection,
} from '../../worker/devices.js';

const MiB = 1024 * 1024;

// `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits` as printed on
// an 8-GPU H100 node, a mixed workstation, a T4 cloud VM and an H200.
const H100_NODE = Array.from({ length: 8 }, (_, i) => `${i}, NVIDIA H100 80GB HBM3, 81559`).join('\n') + '\n';
const WORKSTATION = '0, NVIDIA GeForce RTX 4090, 24564\r\n1, NVIDIA RTX A4000, 16376\r\n';
const T4 = '0, Tesla T4, 15360\n';
const H200 = '0, NVIDIA H200, 143771\n';

function binDir(programs: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'phasesweep-bin-'));
  for (const [name, script] of Object.entries(programs)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

const onPath = (program: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('parseNvidiaSmi', () => {
  it('reads index, name and memory (MiB) of every GPU', () => {
    const { devices, skipped } = parseNvidiaSmi(H100_NODE);
    expect(skipped).toEqual([]);
    expect(devices).toHaveLength(8);
    expect(devices[7]).toEqual({
      kind: 'cuda',
      index: 7,
      name: 'NVIDIA H100 80GB HBM3',
      memory_bytes: 81559 * MiB,
    });
    expect(parseNvidiaSmi(WORKSTATION).devices.map((d) => [d.index, d.name, d.memory_bytes / MiB])).toEqual([
      [0, 'NVIDIA GeForce RTX 4090', 24564],
      [1, 'NVIDIA RTX A4000', 16376],
    ]);
    expect(parseNvidiaSmi(T4).devices[0]!.name).toBe('Tesla T4');
    expect(parseNvidiaSmi(H200).devices[0]!.memory_bytes).toBe(143771 * MiB);
  });

  it('keeps commas inside a name, reads unknown memory as 0, and sets aside lines it does not understand', () => {
    const { devices, skipped } = parseNvidiaSmi(
      '0, Graphics Device, rev 2, 40960\n1, NVIDIA GH200 480GB, [N/A]\n\nNo devices were found\n',
    );
    expect(devices.map((d) => [d.index, d.name, d.memory_bytes])).toEqual([
      [0, 'Graphics Device, rev 2', 40960 * MiB],
      [1, 'NVIDIA GH200 480GB', 0],
    ]);
    expect(skipped).toEqual(['No devices were found']);
    expect(parseNvidiaSmi('').devices).toEqual([]);
  });
});

describe('detectCudaDevices', () => {
  it.skipIf(onPath('nvidia-smi'))(
    'finds nothing on this machine, which has no nvidia-smi and no NVIDIA devices',
    async () => {
      const started = Date.now();
      const found = await detectCudaDevices();
      expect(found).toEqual({ devices: [], source: 'none', note: 'no nvidia-smi and no NVIDIA devices' });
      expect(Date.now() - started).toBeLessThan(2_000); // no torch import on a CPU machine
    },
  );

  it('runs nvidia-smi from PATH with the query flags', async () => {
    const dir = binDir({
      'nvidia-smi': `[ "$*" = "--query-gpu=index,name,memory.total --format=csv,noheader,nounits" ] || exit 2\nprintf '0, NVIDIA H100 80GB HBM3, 81559\\n1, NVIDIA H100 80GB HBM3, 81559\\n'`,
    });
    const found = await detectCudaDevices({ env: { ...process.env, PATH: `${dir}:${process.env['PATH']}` } });
    expect(found.source).toBe('nvidia-smi');
    expect(found.devices.map((d) => d.index)).toEqual([0, 1]);
    expect(found.note).toBe('');
  });

  it('reports a failing nvidia-smi (no driver) as no GPUs, with its message', async () => {
    const dir = binDir({
      'nvidia-smi': `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."\nexit 9`,
    });
    const found = await detectCudaDevices({ env: { ...process.env, PATH: dir } });
    expect(found.devices).toEqual([]);
    expect(found.note).toMatch(/nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate/);
  });

  it('asks torch when nvidia-smi is absent but NVIDIA devices exist, unmasked and in PCI order', async () => {
    const dir = binDir({
      python3: [
        '[ "$1" = "-c" ] || exit 2',
        '[ -z "${CUDA_VISIBLE_DEVICES+set}" ] || exit 3',
        '[ "$CUDA_DEVICE_ORDER" = PCI_BUS_ID ] || exit 4',
        'echo "UserWarning: something torch says first" >&2',
        `echo 'some log line'`,
        `echo '[{"index": 0, "name": "NVIDIA A100-SXM4-40GB", "memory": 42298834944}]'`,
      ].join('\n'),
    });
    const found = await detectCudaDevices({
      hasDeviceNodes: () => true,
      env: { PATH: dir, CUDA_VISIBLE_DEVICES: '1' },
    });
    expect(found).toEqual({
      devices: [{ kind: 'cuda', index: 0, name: 'NVIDIA A100-SXM4-40GB', memory_bytes: 42298834944 }],
      source: 'torch',
      note: '',
    });
    const none = await detectCudaDevices({ hasDeviceNodes: () => true, env: { PATH: binDir({}) } });
    expect(none.devices).toEqual([]);
    expect(none.note).toMatch(/^no nvidia-smi, and python3 with torch did not list GPUs/);
  });

  it('the torch probe runs in the real python3 (no CUDA here: an empty list)', async (ctx) => {
    const path = (process.env['PATH'] ?? '')
      .split(':')
      .filter((d) => !onPath(`${d}/nvidia-smi`))
      .join(':');
    const found = await detectCudaDevices({
      hasDeviceNodes: () => true,
      env: { ...process.env, PATH: path },
    });
    if (/No module named 'torch'|not found|ENOENT/.test(found.note))
      ctx.skip(`python3 has no torch: ${found.note}`);
    expect(found).toEqual({ devices: [], source: 'torch', note: '' });
  }, 60_000);

  it('parses what the torch probe prints', () => {
    expect(TORCH_PROBE).toContain('get_device_properties');
    expect(parseTorchProbe('[]\n')).toEqual([]);
    expect(parseTorchProbe('warning\n[{"index": 1, "name": "X", "memory": 5}]')).toEqual([
      { kind: 'cuda', index: 1, name: 'X', memory_bytes: 5 },
    ]);
    expect(() => parseTorchProbe('{"not": "a list"}')).toThrow(/JSON list/);
  });
});

describe('choosing GPUs', () => {
  const two: Detection = {
    devices: parseNvidiaSmi('0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n').devices,
    source: 'nvidia-smi',
    note: '',
  };
  const nothing: Detection = { devices: [], source: 'none', note: 'no nvidia-smi and no NVIDIA devices' };

  it('parses --gpus', () => {
    expect(parseGpuSelection('auto')).toEqual({ kind: 'auto' });
    expect(parseGpuSelection('none')).toEqual({ kind: 'none' });
    expect(parseGpuSelection('1, 0,1')).toEqual({ kind: 'list', indices: [1, 0] });
    expect(() => parseGpuSelection('cuda:0')).toThrow(/--gpus: expected auto, none or GPU indices/);
    expect(() => parseGpuSelection('0,-1')).toThrow(/--gpus/);
  });

  it('takes every GPU found, none, or the ones listed (which must exist when any were found)', async () => {
    let asked = 0;
    const detect = (d: Detection) => () => {
      asked++;
      return Promise.resolve(d);
    };
    expect((await chooseCudaDevices({ kind: 'auto' }, detect(two))).devices).toHaveLength(2);
    expect(await chooseCudaDevices({ kind: 'none' }, detect(two))).toMatchObject({ devices: [] });
    expect(asked).toBe(1); // none does not even look
    const one = await chooseCudaDevices({ kind: 'list', indices: [1] }, detect(two));
    expect(one.devices.map((d) => [d.index, d.name])).toEqual([[1, 'NVIDIA H100 80GB HBM3']]);
    await expect(chooseCudaDevices({ kind: 'list', indices: [0, 3] }, detect(two))).rejects.toThrow(
      /--gpus: no GPU 3 on this machine \(nvidia-smi lists 0, 1\)/,
    );
    const trusted = await chooseCudaDevices({ kind: 'list', indices: [0, 1] }, detect(nothing));
    expect(trusted.devices).toEqual([
      { kind: 'cuda', index: 0, name: '', memory_bytes: 0 },
      { kind: 'cuda', index: 1, name: '', memory_bytes: 0 },
    ]);
    expect(trusted.note).toMatch(/taken as given/);
  });

  it("defaults to the worker's own CUDA_VISIBLE_DEVICES", () => {
    expect(gpuSelectionFromEnv({}).selection).toEqual({ kind: 'auto' });
    expect(gpuSelectionFromEnv({ CUDA_VISIBLE_DEVICES: '2,3' }).selection).toEqual({
      kind: 'list',
      indices: [2, 3],
    });
    expect(gpuSelectionFromEnv({ CUDA_VISIBLE_DEVICES: '' }).selection).toEqual({ kind: 'none' });
    expect(gpuSelectionFromEnv({ CUDA_VISIBLE_DEVICES: '-1' }).selection).toEqual({ kind: 'none' });
    const uuid = gpuSelectionFromEnv({ CUDA_VISIBLE_DEVICES: 'GPU-8f6e3c1a-0000' });
    expect(uuid.selection).toEqual({ kind: 'auto' });
    expect(uuid.note).toMatch(/ignored/);
  });

  it('describes devices for the log', () => {
    expect(describeDevices(two.devices.slice(0, 1))).toBe('cuda:0 NVIDIA H100 80GB HBM3 (79.6 GiB)');
    expect(describeDevices([{ kind: 'cuda', index: 3, name: '', memory_bytes: 0 }])).toBe('cuda:3');
  });
});

describe('webgpuDevices', () => {
  const engine = (backend: string) =>
    ({ info: { engine: backend, backend, simd: false, versions: {} } }) as unknown as Engine;

  it('looks only when the webgpu engine runs', async () => {
    let asked = false;
    const gpu = {
      requestAdapter: () => {
        asked = true;
        return Promise.resolve({ info: { vendor: 'nvidia', architecture: 'hopper', description: '' } });
      },
    };
    expect(await webgpuDevices(engine('wasm'), gpu)).toEqual([]);
    expect(asked).toBe(false);
    expect(await webgpuDevices(engine('webgpu'), gpu)).toEqual([
      { kind: 'webgpu', index: 0, name: 'nvidia hopper', memory_bytes: 0 },
    ]);
  });

  it('finds nothing when there is no adapter, or it does not answer', async () => {
    expect(await webgpuDevices(engine('webgpu'), { requestAdapter: () => Promise.resolve(null) })).toEqual(
      [],
    );
    expect(
      await webgpuDevices(engine('webgpu'), { requestAdapter: () => new Promise(() => {}) }, 20),
    ).toEqual([]);
    expect(await webgpuDevices(engine('webgpu'), undefined)).toEqual([]); // no navigator.gpu in this process
  });
});
