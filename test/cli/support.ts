import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdktf';
import { CliIo, run } from '../../lib/cli/main';

/** Synthesizes an example into a fresh directory; returns the directory. */
export function synthInto(build: (app: App) => unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-cli-'));
  const app = new App({ outdir: path.join(dir, 'cdktf.out') });
  build(app);
  app.synth();
  return dir;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the tool in-process in `cwd`. */
export async function cli(cwd: string, ...argv: string[]): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

export function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** A `kubectl get pods,namespaces,services -A -o yaml` List. */
export const STATE_YAML = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: payments
    labels: { kubernetes.io/metadata.name: payments }
- apiVersion: v1
  kind: Pod
  metadata: { name: checkout-7d9f-abcde, namespace: payments, labels: { app: checkout } }
  spec: { containers: [{ name: app, image: checkout }] }
  status:
    phase: Running
    podIP: 10.244.3.17
    podIPs: [{ ip: 10.244.3.17 }, { ip: "fd00:10:244::3:17" }]
- apiVersion: v1
  kind: Pod
  metadata: { name: comments-5c8-xyz, namespace: payments, labels: { app: comments }, deletionTimestamp: "2026-03-02T10:00:00Z" }
  spec: { containers: [{ name: app, image: comments }] }
  status: { phase: Running, podIPs: [{ ip: 10.244.3.18 }] }
- apiVersion: v1
  kind: Pod
  metadata: { name: batch-1, namespace: payments, labels: { app: batch } }
  spec: { containers: [{ name: app, image: batch }] }
  status: { phase: Pending }
- apiVersion: v1
  kind: Service
  metadata: { name: checkout, namespace: payments }
  spec: { selector: { app: checkout }, ports: [{ port: 443 }] }
- apiVersion: v1
  kind: Service
  metadata: { name: comments, namespace: payments }
  spec: { selector: { app: comments } }
- apiVersion: v1
  kind: Service
  metadata: { name: legacy-db, namespace: payments }
  spec: { type: ExternalName, externalName: db.example.net }
---
apiVersion: cdktf-ces.dev/v1
kind: DnsAnswers
answers:
  api.stripe.com: [203.0.113.10]
`;
