// `npm run dashboards:gen`: writes every dashboard's JSON to dashboards/json/, which the
// Grafana provisioning in deploy/grafana/ loads. A unit test fails when the files are stale.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dashboardJson, DASHBOARDS, JSON_DIR } from './index.js';

async function main(): Promise<void> {
  const dir = process.argv[2] ?? JSON_DIR;
  await mkdir(dir, { recursive: true });
  for (const name of Object.keys(DASHBOARDS)) {
    const file = join(dir, `${name}.json`);
    await writeFile(file, dashboardJson(name));
    process.stdout.write(`${file}\n`);
  }
}

await main();
