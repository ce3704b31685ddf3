import { refusal } from './synthesized';
import { synthesized } from './synthesized';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TerraformStack, Testing } from 'cdktf';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import {
  AfmDevice,
  BigipCredentials,
  ClusterEgressRule,
  EgressAction,
  EgressDestination,
  EgressPort,
  ExternalService,
  NamespaceEgressRule,
  ServiceEgressRule,
} from '../../lib';
import { BigipAs3, BigipCommand, BigipProvider } from '../../providers/bigip';
import { as3Of, deviceStack, synthJson } from '../support/app';

describe('AfmDevice', () => {
  test('synthesizes the provider, the AS3 declaration and the global-context commands', () => {
    // GIVEN
    const { stack, device } = deviceStack();
    new ClusterEgressRule(stack, 'AllowDns', {
      device,
      action: EgressAction.ALLOW_FINAL,
      destinations: [EgressDestination.address('10.96.0.10')],
      ports: [EgressPort.DNS_UDP],
    });
    // WHEN
    const synth = Testing.synth(stack);
    // THEN
    expect(synth).toHaveProviderWithProperties(BigipProvider, {
      address: 'bigip.example.net',
      alias: 'k8s_prod',
      trusted_cert_path: '/etc/ssl/bigip-ca.pem',
      validate_certs_disable: false,
      token_auth: true,
      password: '${var.k8s_prod_password}',
    });
    expect(synth).toHaveResourceWithProperties(BigipAs3, { ignore_metadata: true });
    expect(synth).toHaveResourceWithProperties(BigipCommand, {
      commands: [
        'modify security firewall global-rules enforced-policy /Common/Shared/k8s_prod_global_policy staged-policy /Common/Shared/k8s_prod_global_policy_staged',
        'modify net route-domain /Common/0 fw-staged-policy /Common/Shared/k8s_prod_rd0_policy_staged',
        'save sys config',
      ],
    });
    expect(synth).toHaveResourceWithProperties(BigipCommand, {
      when: 'destroy',
      commands: ['modify security firewall global-rules enforced-policy none staged-policy none', 'save sys config'],
    });
    expect(synth).toHaveResourceWithProperties(BigipCommand, {
      when: 'destroy',
      commands: ['modify security firewall global-fqdn-policy dns-resolver none', 'save sys config'],
    });
    // One release per route domain: when the device leaves a route domain, Terraform destroys it first.
    expect(synth).toHaveResourceWithProperties(BigipCommand, {
      when: 'destroy',
      commands: ['modify net route-domain /Common/0 fw-staged-policy none', 'save sys config'],
    });
    const json = synthJson(stack);
    expect(json.variable.k8s_prod_password).toMatchObject({ sensitive: true, type: 'string' });
    // 1.28.0 is the first release whose diff keeps a declared Common and drops only the one AS3 adds.
    expect(json.terraform.required_providers.bigip).toEqual({ source: 'F5Networks/bigip', version: '>= 1.28.0, < 2.0.0' });
  });

  test('the CA bundle reaches the provider with username and password, the only login with which the provider loads it (W9)', () => {
    const provider = synthJson(deviceStack().stack).provider.bigip[0];
    expect(provider).toMatchObject({
      trusted_cert_path: '/etc/ssl/bigip-ca.pem',
      username: '${var.k8s_prod_username}',
      password: '${var.k8s_prod_password}',
      validate_certs_disable: false,
    });
    expect(provider.token_value).toBeUndefined();
  });

  test('credentials from the environment leave no credential in the configuration', () => {
    const { stack } = deviceStack({ credentials: BigipCredentials.fromEnvironment() });
    const json = synthJson(stack);
    expect(json.variable).toBeUndefined();
    expect(json.provider.bigip[0].password).toBeUndefined();
  });

  test('rules created after the device still land in its declaration', () => {
    const { stack, device } = deviceStack();
    new NamespaceEgressRule(stack, 'Late', {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.fqdn('sftp.bank.example')],
    });
    const rules = as3Of(stack).declaration.Common.Shared.k8s_prod_namespace_rules.rules;
    expect(rules.map((r: { name: string }) => r.name)).toEqual(['n_payments_late_any']);
  });

  test('the rule stack depends on the CRD stack', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-'));
    const { app, stack, crds } = deviceStack({}, Testing.app({ outdir } as any));
    expect(stack.dependencies).toContain(crds);
    app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    expect(manifest.stacks.egress.dependencies).toEqual(['crds']);
    expect(manifest.stacks.crds.dependencies).toEqual([]);
  });

  test('the CRD stack carries the four CRDs', () => {
    const { crds } = deviceStack();
    const names = Object.values(synthJson(crds).resource.kubernetes_manifest as Record<string, any>).map((m) => m.manifest.metadata.name);
    expect(names.sort()).toEqual([
      'clusteregressrules.egress.cdktf-ces.io',
      'externalservices.egress.cdktf-ces.io',
      'namespaceegressrules.egress.cdktf-ces.io',
      'serviceegressrules.egress.cdktf-ces.io',
    ]);
  });

  test.each([
    [{ tlsCaBundlePath: undefined }, /\[egress\/Bigip\] tlsCaBundlePath: TLS verification is on by default/],
    [{ address: 'https://bigip.example.net' }, /\[egress\/Bigip\] address: must be a host name or IP address without scheme/],
    [{ port: 0 }, /\[egress\/Bigip\] port: must be a whole number from 1 to 65535 \(got 0\)/],
    [{ clusterName: 'Prod_1' }, /\[egress\/Bigip\] clusterName: must be a DNS label/],
    [{ tenant: 'Common' }, /\[egress\/Bigip\] tenant: "Common" is reserved by AS3/],
    [{ tenant: 'bad-name' }, /tenant: must start with a letter and contain only letters, digits and "_"/],
    [{ podCidrs: ['10.244.0.1/16'] }, /podCidrs\[0\]: host bits are set after the \/16 prefix. Did you mean "10.244.0.0\/16"\?/],
    [{ routeDomain: 70000 }, /routeDomain: must be a whole number from 0 to 65534/],
    [{ vlans: ['internal'] }, /vlans\[0\]: must be a BIG-IP path such as "\/Common\/internal"/],
  ])('refuses bad device props %p', (props, message) => {
    expect(() => synthesized(() => deviceStack(props as any).device)).toThrow(message);
  });

  test('insecure TLS is a loud, explicit opt-out', () => {
    const { stack, device } = deviceStack({ tlsCaBundlePath: undefined, insecureSkipTlsVerify: true });
    expect(synthJson(stack).provider.bigip[0].validate_certs_disable).toBe(true);
    expect(device.node.metadata.map((m) => m.data)).toEqual([expect.stringMatching(/TLS verification .* is off/)]);
  });
});

describe('rules and external services', () => {
  test('each rule and external service is a custom resource', () => {
    const { stack, device } = deviceStack();
    const bank = new ExternalService(stack, 'Bank', { device, destinations: [EgressDestination.fqdn('sftp.bank.example')] });
    new ServiceEgressRule(stack, 'CheckoutToStripe', {
      device,
      namespace: 'payments',
      service: 'checkout',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.fqdn('api.stripe.com'), EgressDestination.externalService(bank)],
      ports: [EgressPort.HTTPS],
      owner: 'team-payments',
      ticket: 'SEC-42',
    });
    const synth = Testing.synth(stack);
    expect(synth).toHaveResourceWithProperties(Manifest, {
      manifest: {
        apiVersion: 'egress.cdktf-ces.io/v1alpha1',
        kind: 'ServiceEgressRule',
        metadata: expect.objectContaining({
          name: 'checkout-to-stripe',
          namespace: 'payments',
          annotations: expect.objectContaining({ 'egress.cdktf-ces.io/owner': 'team-payments', 'egress.cdktf-ces.io/ticket': 'SEC-42' }),
        }),
        spec: {
          action: 'Allow',
          priority: 500,
          service: 'checkout',
          destinations: [{ fqdn: 'api.stripe.com' }, { externalService: 'bank' }],
          ports: [{ protocol: 'tcp', port: 443 }],
        },
      },
    });
    expect(synth).toHaveResourceWithProperties(Manifest, {
      manifest: expect.objectContaining({ kind: 'ExternalService', spec: { destinations: [{ fqdn: 'sftp.bank.example' }] } }),
    });
  });

  test('bad rule props fail with the construct path, field, value and fix', () => {
    const { stack, device } = deviceStack();
    expect(() =>
      synthesized(
        () =>
          new NamespaceEgressRule(stack, 'Web', {
            device,
            namespace: 'web',
            action: EgressAction.ALLOW,
            destinations: [EgressDestination.cidr('10.0.0.1/8')],
            ports: [EgressPort.tcp(70000)],
          }),
      ),
    ).toThrow(
      /\[egress\/Web\] destinations\[0\]: host bits are set after the \/8 prefix. Did you mean "10.0.0.0\/8"\? \(got "10.0.0.1\/8"\)\n\[egress\/Web\] ports\[0\]: port 70000 is out of range/,
    );
  });

  test('a construct id that is not a DNS label needs an explicit name', () => {
    const { stack, device } = deviceStack();
    expect(() =>
      synthesized(
        () =>
          new ClusterEgressRule(stack, 'Allow_DNS!', { device, action: EgressAction.ALLOW, destinations: [EgressDestination.anyIpv4()] }),
      ),
    ).toThrow(
      '[egress/Allow_DNS!] name: is not set, and the construct id "Allow_DNS!" gives "allow-dns!", which cannot be a name: it must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit; set name, such as name: "allow-dns" (got "allow-dns!")',
    );
  });

  test('two rules with one name at one level fail, naming both', () => {
    const { stack, device } = deviceStack();
    new NamespaceEgressRule(stack, 'A', {
      device,
      name: 'web',
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.anyIpv4()],
    });
    new NamespaceEgressRule(stack, 'B', {
      device,
      name: 'web',
      namespace: 'dev',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.anyIpv4()],
    });
    new ClusterEgressRule(stack, 'C', { device, name: 'web', action: EgressAction.ALLOW, destinations: [EgressDestination.anyIpv4()] });
    expect(() =>
      synthesized(
        () =>
          new NamespaceEgressRule(stack, 'D', {
            device,
            name: 'web',
            namespace: 'web',
            action: EgressAction.DENY,
            destinations: [EgressDestination.anyIpv4()],
          }),
      ),
    ).toThrow(
      /\[egress\/D\] name: another namespace rule in namespace "web" on device egress\/Bigip has this name \(egress\/A\); give one of them a different name/,
    );
  });

  test('a rule cannot use a device of another stack', () => {
    const { app, device } = deviceStack();
    const other = new TerraformStack(app, 'other');
    expect(() =>
      synthesized(
        () => new ClusterEgressRule(other, 'R', { device, action: EgressAction.ALLOW, destinations: [EgressDestination.anyIpv4()] }),
      ),
    ).toThrow(
      /\[other\/R\] device: is in stack "egress", the rule in stack "other"; create the rule in the device's stack \(got "egress\/Bigip"\)/,
    );
  });

  test('a rule cannot use a device or external service of another app', () => {
    const first = deviceStack();
    const second = deviceStack();
    const bank = new ExternalService(first.stack, 'Bank', {
      device: first.device,
      destinations: [EgressDestination.fqdn('sftp.bank.example')],
    });
    expect(() =>
      synthesized(
        () =>
          new ClusterEgressRule(second.stack, 'R', {
            device: first.device,
            action: EgressAction.ALLOW,
            destinations: [EgressDestination.anyIpv4()],
          }),
      ),
    ).toThrow(/\[egress\/R\] device: belongs to another app/);
    expect(() =>
      synthesized(
        () =>
          new ClusterEgressRule(second.stack, 'S', {
            device: second.device,
            action: EgressAction.ALLOW,
            destinations: [EgressDestination.externalService(bank)],
          }),
      ),
    ).toThrow(/\[egress\/S\] destinations\[0\]: is an ExternalService of another app/);
  });

  test('a rule cannot use an external service of another stack or device', () => {
    const { app, stack, device, crds } = deviceStack();
    const otherStack = new TerraformStack(app, 'other');
    const otherDevice = refusal(
      () => new AfmDevice(otherStack, 'Bigip2', { clusterName: 'dev', address: '192.0.2.9', tlsCaBundlePath: '/ca.pem', crdStack: crds }),
    );
    const foreign = new ExternalService(otherStack, 'Bank', {
      device: otherDevice,
      destinations: [EgressDestination.fqdn('sftp.bank.example')],
    });
    expect(() =>
      synthesized(
        () =>
          new ClusterEgressRule(stack, 'R', {
            device,
            action: EgressAction.ALLOW,
            destinations: [EgressDestination.externalService(foreign)],
          }),
      ),
    ).toThrow(/\[egress\/R\] destinations\[0\]: is an ExternalService in stack "other"; create it in stack "egress" with the rule/);
    const sameStackOtherDevice = refusal(
      () => new AfmDevice(stack, 'Bigip3', { clusterName: 'qa', address: '192.0.2.10', tlsCaBundlePath: '/ca.pem', crdStack: crds }),
    );
    const es = new ExternalService(stack, 'Es', { device: sameStackOtherDevice, destinations: [EgressDestination.fqdn('a.example.com')] });
    expect(() =>
      synthesized(
        () =>
          new ClusterEgressRule(stack, 'S', { device, action: EgressAction.ALLOW, destinations: [EgressDestination.externalService(es)] }),
      ),
    ).toThrow(/belongs to device egress\/Bigip3, the rule to egress\/Bigip; attach both to the same device/);
  });

  test('a rule past its expiry no longer fails synth: it is not rendered and is named in a warning', () => {
    const { app, stack, device } = deviceStack();
    new ClusterEgressRule(stack, 'Old', {
      device,
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.anyIpv4()],
      expiresAt: '2021-03-01T00:00:00Z',
    });
    expect(() => app.synth()).not.toThrow();
    expect(JSON.stringify(as3Of(stack))).not.toMatch(/old/);
    const warnings =
      Testing.synth(stack) &&
      stack.node
        .findChild('Old')
        .node.metadata.filter((m) => m.type === '@cdktf/warn')
        .map((m) => m.data);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^expiresAt: expired at 2021-03-01T00:00:00Z and is no longer enforced .*; delete the rule, or set a later expiresAt if the exception was renewed$/,
      ),
    ]);
  });
});

describe('synthesis output', () => {
  function synthTo(dir: string) {
    const { app, stack, device } = deviceStack({}, Testing.app({ outdir: dir } as any));
    new ClusterEgressRule(stack, 'Dns', {
      device,
      action: EgressAction.ALLOW_FINAL,
      destinations: [EgressDestination.address('10.96.0.10')],
      ports: [EgressPort.DNS_UDP, EgressPort.DNS_TCP],
    });
    new NamespaceEgressRule(stack, 'Web', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.anyIpv4(), EgressDestination.fqdn('*.example.com')],
      ports: [EgressPort.HTTPS],
    });
    app.synth();
    const files: Record<string, string> = {};
    const walk = (d: string) => {
      for (const f of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, f.name);
        if (f.isDirectory()) walk(p);
        else files[path.relative(dir, p)] = fs.readFileSync(p, 'utf8');
      }
    };
    walk(dir);
    return files;
  }

  test('two runs give byte-identical output', () => {
    const a = synthTo(fs.mkdtempSync(path.join(os.tmpdir(), 'ces-a-')));
    const b = synthTo(fs.mkdtempSync(path.join(os.tmpdir(), 'ces-b-')));
    expect(Object.keys(a).sort()).toEqual([
      'manifest.json',
      'stacks/crds/cdk.tf.json',
      'stacks/egress/cdk.tf.json',
      'stacks/egress/cdktf-ces/k8s_prod.json',
    ]);
    for (const file of Object.keys(a)) if (file !== 'manifest.json') expect(b[file]).toEqual(a[file]);
  });

  test('the policy artifact matches the declaration it sits beside', () => {
    const files = synthTo(fs.mkdtempSync(path.join(os.tmpdir(), 'ces-c-')));
    const artifact = JSON.parse(files['stacks/egress/cdktf-ces/k8s_prod.json']);
    const tf = JSON.parse(files['stacks/egress/cdk.tf.json']);
    const as3Json = (Object.values(tf.resource.bigip_as3)[0] as { as3_json: string }).as3_json;
    expect(artifact.as3Sha256).toBe(require('node:crypto').createHash('sha256').update(as3Json).digest('hex'));
    expect(artifact.plan.lists.map((l: { taskId: string }) => l.taskId)).toEqual([
      '~Common~Shared~k8s_prod_src_cluster',
      '~Common~Shared~k8s_prod_src_ns_web',
    ]);
  });
});

test('credential variable names must be Terraform identifiers', () => {
  expect(() =>
    synthesized(() => deviceStack({ credentials: BigipCredentials.fromVariables({ passwordVariable: 'bigip password' }) }).device),
  ).toThrow(
    /\[egress\/Bigip\] credentials.passwordVariable: must be a Terraform variable name: a letter or "_", then letters, digits, "_" or "-" \(got "bigip password"\)/,
  );
});
