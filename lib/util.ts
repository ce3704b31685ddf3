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
