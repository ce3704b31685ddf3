/**
 * Small helpers shared by the library, the controller and the tools.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/**
 * The folder holding this package's package.json, found by walking up from this file. Works
 * from the TypeScript sources (`lib/`) and from the compiled output (`dist/lib/`).
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate) && JSON.parse(fs.readFileSync(candidate, 'utf8')).name === 'cdktf-ces') {
      root = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cdktf-ces: cannot find the package root above ${__dirname}`);
    dir = parent;
  }
}

/** A small deterministic PRNG (mulberry32): uniform in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
