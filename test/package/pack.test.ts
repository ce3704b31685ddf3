/**
 * The package as a user gets it. The repository is packed (the `prepack` build runs in a copy,
 * so the working tree's dist/ is left alone while other suites use it), the tarball's file list
 * is checked against the allowlist, and the tarball is installed into fresh projects:
 *
 * - cdktf 0.21 with the tsconfig that `cdktf init --template=typescript` writes (CommonJS, so
 *   TypeScript resolves modules the classic "node10" way, which ignores `exports`), plus the
 *   same app type-checked under `node16` and `bundler` resolution;
 * - CDK Terrain (`cdktn`, the community fork) installed under the name `cdktf`, with the
 *   constructs range cdktn asks for.
 *
 * In each project an app using the public entry point synthesizes, and a Jest test using the
 * `cdktf-ces/testing` entry point (matchers, Pod Security checker, AS3 validator) passes.
 * The fresh projects' dependencies come from the npm registry (or a warm npm cache).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const AS3_SCHEMA = path.resolve(ROOT, '..', 'shared', 'conformance', 'as3', 'as3-schema-3.56.0-10.json');

function run(cmd: string, args: string[], cwd: string, timeoutMs = 600_000): string {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} in ${cwd} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

const installedVersion = (name: string): string =>
  (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

let work: string;
let tarball: string;
let packedFiles: string[];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-pack-'));
  const stage = path.join(work, 'stage');
  fs.mkdirSync(stage);
  for (const entry of [
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'README.md',
    'CHANGELOG.md',
    'lib',
    'providers',
    'examples',
    'test',
    'docs',
  ]) {
    if (fs.existsSync(path.join(ROOT, entry))) fs.cpSync(path.join(ROOT, entry), path.join(stage, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  const out = path.join(work, 'out');
  fs.mkdirSync(out);
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', out], stage)) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = path.join(out, packed[0].filename);
  packedFiles = packed[0].files.map((f) => f.path).sort();
}, 900_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the built library, its types, the controller bundle and the docs, and nothing else', () => {
  const allowed =
    /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|docs\/[a-z-]+\.md|dist\/controller\/controller\.js\.gz|dist\/(lib|providers)\/.+\.(js|d\.ts))$/;
  expect(packedFiles.filter((f) => !allowed.test(f))).toEqual([]);
  expect(packedFiles.filter((f) => /(^|\/)(test|tests|fixtures|examples|bench)\/|\.(key|pem|crt|tgz|map|tsbuildinfo)$/.test(f))).toEqual(
    [],
  );
  for (const entry of [
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/lib/testing/index.js',
    'dist/lib/testing/index.d.ts',
    'dist/lib/cli/main.js',
    'dist/providers/bigip/index.d.ts',
    'dist/controller/controller.js.gz',
    'CHANGELOG.md',
  ]) {
    expect(packedFiles).toContain(entry);
  }
});

const APP = `import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, ClusterEgressRule, EgressAction, EgressController, EgressCrdStack, EgressDestination, EgressPort, ServiceEgressRule } from 'cdktf-ces';

export function build(app: App): TerraformStack {
  const crds = new EgressCrdStack(app, 'egress-crds');
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'kubernetes', {});
  const device = new AfmDevice(stack, 'Bigip', {
    clusterName: 'prod-east',
    address: 'bigip-mgmt.example.net',
    tlsCaBundlePath: '/etc/ssl/certs/bigip-mgmt-ca.pem',
    crdStack: crds,
    podCidrs: ['10.244.0.0/16'],
  });
  new ClusterEgressRule(stack, 'AllowDns', {
    device, action: EgressAction.ALLOW_FINAL, priority: 100,
    destinations: [EgressDestination.address('10.96.0.10')], ports: [EgressPort.DNS_UDP],
  });
  new ServiceEgressRule(stack, 'CheckoutToPsp', {
    device, namespace: 'payments', service: 'checkout', action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('198.51.100.0/24')], ports: [EgressPort.HTTPS],
  });
  new EgressController(stack, 'Controller', { device, credentialsSecret: 'bigip-egress-login', caBundleConfigMap: 'bigip-mgmt-ca' });
  return stack;
}
`;

const MAIN = `import { App } from 'cdktf';
import { build } from './app';
const app = new App();
build(app);
app.synth();
`;

const TEST = `import * as fs from 'fs';
import { App, Testing } from 'cdktf';
import { As3Validator, restrictedProfileViolations, setupEgressMatchers } from 'cdktf-ces/testing';
import { build } from './app';

setupEgressMatchers();

test('the policy decides as written', () => {
  const stack = build(Testing.app());
  expect(stack).toAllowEgress('payments/checkout', '198.51.100.7:443');
  expect(stack).toDenyEgress('payments/comments', '198.51.100.7:443');
});

test('the Pod Security checker finds a privileged container', () => {
  expect(restrictedProfileViolations({ containers: [{ name: 'app', securityContext: { privileged: true } }] }).length).toBeGreaterThan(0);
});

const schema = process.env.AS3_SCHEMA;
(schema && fs.existsSync(schema) ? test : test.skip)('the validator loads F5 schema', () => {
  expect(typeof As3Validator.fromSchemaFile(schema as string).validate).toBe('function');
});
void App;
`;

/**
 * cdktf init's tsconfig (hashicorp/terraform-cdk packages/cdktf-cli/templates/typescript/tsconfig.json),
 * without its path aliases and `charset`, which TypeScript 5.5 and later refuse (TS5102).
 */
const CDKTF_INIT_TSCONFIG = {
  compilerOptions: {
    alwaysStrict: true,
    declaration: true,
    experimentalDecorators: true,
    inlineSourceMap: true,
    inlineSources: true,
    lib: ['es2018'],
    module: 'CommonJS',
    noEmitOnError: true,
    noFallthroughCasesInSwitch: true,
    noImplicitAny: true,
    noImplicitReturns: true,
    noImplicitThis: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    resolveJsonModule: true,
    strict: true,
    strictNullChecks: true,
    strictPropertyInitialization: true,
    stripInternal: true,
    target: 'ES2018',
    skipLibCheck: true,
    types: ['node', 'jest'],
    outDir: 'build',
  },
  include: ['**/*.ts'],
  exclude: ['node_modules', 'cdktf.out', 'build'],
};

function freshProject(name: string, runtime: Record<string, string>, npmrc: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  const pkg = {
    name: `fresh-${name}`,
    private: true,
    dependencies: { ...runtime, 'cdktf-ces': `file:${tarball}` },
    devDependencies: {
      typescript: installedVersion('typescript'),
      jest: installedVersion('jest'),
      'ts-jest': installedVersion('ts-jest'),
      '@types/jest': installedVersion('@types/jest'),
      '@types/node': installedVersion('@types/node'),
    },
  };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  if (npmrc) fs.writeFileSync(path.join(dir, '.npmrc'), npmrc);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(CDKTF_INIT_TSCONFIG, null, 2));
  const variant = (moduleKind: string, resolution: string) => ({
    extends: './tsconfig.json',
    compilerOptions: { module: moduleKind, moduleResolution: resolution, noEmit: true },
  });
  fs.writeFileSync(path.join(dir, 'tsconfig.node16.json'), JSON.stringify(variant('node16', 'node16')));
  fs.writeFileSync(path.join(dir, 'tsconfig.bundler.json'), JSON.stringify(variant('preserve', 'bundler')));
  fs.writeFileSync(path.join(dir, 'app.ts'), APP);
  fs.writeFileSync(path.join(dir, 'main.ts'), MAIN);
  fs.writeFileSync(path.join(dir, 'main.test.ts'), TEST);
  fs.writeFileSync(path.join(dir, 'setup.js'), "require('cdktf').Testing.setupJest();\n");
  fs.writeFileSync(
    path.join(dir, 'jest.config.js'),
    "module.exports = { testEnvironment: 'node', testMatch: ['**/*.test.ts'], testPathIgnorePatterns: ['/node_modules/', '/build/'], transform: { '^.+\\\\.ts$': 'ts-jest' }, setupFilesAfterEnv: ['<rootDir>/setup.js'] };\n",
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], dir);
  return dir;
}

function checkProject(dir: string): void {
  run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], dir);
  run('npx', ['tsc', '-p', 'tsconfig.node16.json'], dir);
  run('npx', ['tsc', '-p', 'tsconfig.bundler.json'], dir);
  run('npx', ['tsc', '-p', 'tsconfig.json'], dir);
  run('node', ['build/main.js'], dir);
  const synthesized = JSON.parse(fs.readFileSync(path.join(dir, 'cdktf.out', 'stacks', 'egress', 'cdk.tf.json'), 'utf8')) as {
    resource: Record<string, Record<string, { manifest?: { kind?: string } }>>;
  };
  expect(Object.keys(synthesized.resource)).toEqual(expect.arrayContaining(['bigip_as3', 'kubernetes_manifest']));
  const kinds = Object.values(synthesized.resource.kubernetes_manifest).map((r) => r.manifest?.kind);
  expect(kinds).toEqual(expect.arrayContaining(['ClusterEgressRule', 'ServiceEgressRule', 'Deployment', 'ServiceAccount']));
  const jestRun = spawnSync('npx', ['jest', '--ci', '--json', '--outputFile=jest-result.json'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, AS3_SCHEMA },
  });
  const result = JSON.parse(fs.readFileSync(path.join(dir, 'jest-result.json'), 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
  };
  expect({
    failed: result.numFailedTests,
    passedOrSkipped: result.numPassedTests + result.numPendingTests,
    status: jestRun.status,
  }).toEqual({ failed: 0, passedOrSkipped: 3, status: 0 });
  expect(result.numPassedTests).toBeGreaterThanOrEqual(fs.existsSync(AS3_SCHEMA) ? 3 : 2);
}

test('installs into a fresh cdktf 0.21 project: type-checks under node10, node16 and bundler resolution, synthesizes, and its Jest test passes', () => {
  const dir = freshProject(
    'cdktf',
    {
      cdktf: installedVersion('cdktf'),
      constructs: installedVersion('constructs'),
      '@cdktf/provider-kubernetes': installedVersion('@cdktf/provider-kubernetes'),
    },
    '',
  );
  checkProject(dir);
}, 900_000);

test('installs into a fresh CDK Terrain (cdktn) project the same way', () => {
  // @cdktf/provider-kubernetes declares a peer cdktf ^0.21.0, which cdktn 0.24 under the name
  // cdktf does not satisfy; CDK Terrain has no kubernetes binding of its own yet.
  const dir = freshProject(
    'cdktn',
    { cdktf: 'npm:cdktn@0.24.0', constructs: '~10.7.2', '@cdktf/provider-kubernetes': installedVersion('@cdktf/provider-kubernetes') },
    'legacy-peer-deps=true\n',
  );
  expect((JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'cdktf', 'package.json'), 'utf8')) as { name: string }).name).toBe(
    'cdktn',
  );
  checkProject(dir);
}, 900_000);
