#!/usr/bin/env node
/**
 * Process entry of the controller: what the code ConfigMap's loader, the image and
 * `node dist/lib/controller/run.js` start. Anything that escapes is one line, not a trace.
 */
import { main } from './main';

main().catch((e: unknown) => {
  process.stderr.write(`cdktf-ces-controller: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
