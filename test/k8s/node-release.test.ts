/**
 * One Node.js release line everywhere the controller runs or is built for: the construct's
 * default nodeImage, the Dockerfile's base images, the bundle's esbuild target and package.json
 * `engines`; and every installed package supports the lowest version `engines` admits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_NODE_IMAGE, NODE_MAJOR } from '../../lib/constructs/egress-controller';
import { packageRoot } from '../../lib/util';

const semver = require('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

const root = packageRoot();
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

test('the default nodeImage is a pinned release of the Node.js line the library names', () => {
  expect(DEFAULT_NODE_IMAGE).toMatch(new RegExp(`^node:${NODE_MAJOR}\\.[0-9]+\\.[0-9]+-alpine[0-9.]+$`));
});

test('package.json engines starts at that line', () => {
  const lowest = semver.minVersion(pkg.engines.node);
  expect(lowest && Number(lowest.version.split('.')[0])).toBe(NODE_MAJOR);
  // The pinned image satisfies engines.
  expect(semver.satisfies(DEFAULT_NODE_IMAGE.replace(/^node:([0-9.]+)-.*$/, '$1'), pkg.engines.node)).toBe(true);
});

test('the bundle is built for that line', () => {
  expect(pkg.scripts.bundle).toContain(`--target=node${NODE_MAJOR} `);
  expect(pkg.scripts.bundle.match(/--target=\S+/g)).toEqual([`--target=node${NODE_MAJOR}`]);
});

test('the Dockerfile builds and runs on the default nodeImage', () => {
  const dockerfile = fs.readFileSync(path.join(root, 'lib/controller/Dockerfile'), 'utf8');
  const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  expect(bases).toEqual([DEFAULT_NODE_IMAGE, DEFAULT_NODE_IMAGE]);
});

test('every installed package supports the lowest Node.js version engines admits', () => {
  const lowest = (semver.minVersion(pkg.engines.node) as { version: string }).version;
  const unsupported: string[] = [];
  let checked = 0;
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir)) {
      if (entry.startsWith('.')) continue;
      const at = path.join(dir, entry);
      if (entry.startsWith('@')) {
        visit(at);
        continue;
      }
      const file = path.join(at, 'package.json');
      if (!fs.existsSync(file)) continue;
      const dep = JSON.parse(fs.readFileSync(file, 'utf8'));
      const range = dep.engines?.node;
      if (typeof range !== 'string') continue;
      checked++;
      if (!semver.satisfies(lowest, range)) unsupported.push(`${dep.name}@${dep.version} needs node ${range}`);
    }
  };
  visit(path.join(root, 'node_modules'));
  expect(unsupported).toEqual([]);
  // undici, prom-client and the kubernetes provider bindings at least declare engines.
  expect(checked).toBeGreaterThan(3);
  for (const name of ['undici', 'prom-client', '@cdktf/provider-kubernetes']) {
    const range = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).engines.node;
    expect([name, semver.satisfies(lowest, range)]).toEqual([name, true]);
  }
});
