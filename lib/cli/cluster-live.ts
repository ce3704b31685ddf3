/**
 * Cluster state read from a live cluster (or the Kubernetes emulator) through the
 * controller's Kubernetes client: Pods, Namespaces and Services of every namespace, listed in
 * pages. The kubeconfig is read as kubectl reads it (./kubeconfig).
 */
import { KubeApiError, KubeClient } from '../clients/kube/client';
import { NAMESPACES, PODS, ResourceType, SERVICES } from '../clients/kube/resources';
import { ClusterState, stateFromObjects } from '../analysis/cluster-state';
import { KubeconfigRequest, loadKubeconfig } from './kubeconfig';
import { UsageError } from '../files/usage-error';

const PAGE = 500;

/** The client warns (a process warning) when TLS verification is off. */
export async function readLiveClusterState(request: KubeconfigRequest): Promise<ClusterState> {
  const kubeconfig = loadKubeconfig(request);
  const client = new KubeClient(kubeconfig.connection, { userAgent: 'cdktf-ces-cli' });
  const source = `the cluster of ${kubeconfig.source}`;
  try {
    const items: { item: unknown; where: string; kind: string }[] = [];
    for (const type of [NAMESPACES, PODS, SERVICES] as ResourceType[]) {
      let next: string | undefined;
      do {
        const page = await client.list(type, { limit: PAGE, ...(next ? { continue: next } : {}) });
        for (const item of page.items)
          items.push({
            item,
            where: `${type.kind} ${item.metadata.namespace ? `${item.metadata.namespace}/` : ''}${item.metadata.name}`,
            kind: type.kind,
          });
        next = page.metadata.continue || undefined;
      } while (next);
    }
    return { ...stateFromObjects(items, source), source };
  } catch (e) {
    if (e instanceof KubeApiError) {
      const fix =
        e.statusCode === 401 || e.statusCode === 403
          ? 'the credentials of the kubeconfig may not list pods, namespaces and services; use a context that can'
          : e.statusCode === 0
            ? 'the API server did not answer; check the server address of the kubeconfig and that the cluster is up'
            : 'check the cluster, or export the state with kubectl and pass --state';
      throw new UsageError(`cannot read ${source}`, JSON.stringify(e.message), fix);
    }
    throw e;
  } finally {
    await client.close();
  }
}
