/**
 * Kubernetes manifests: the containers of every workload kind that carries a pod template.
 *
 * Where each kind keeps its pod spec (https://kubernetes.io/docs/concepts/workloads/): a Pod's
 * `spec`; `spec.template.spec` for Deployment, StatefulSet, DaemonSet, ReplicaSet,
 * ReplicationController and Job; `spec.jobTemplate.spec.template.spec` for CronJob; a PodTemplate's
 * `template.spec`. A `List` (what `kubectl get -o yaml` prints) is read item by item.
 *
 * Each pod spec's `containers`, `initContainers` and `ephemeralContainers` name an `image` and maybe an
 * `imagePullPolicy`; an omitted policy is defaulted by the API server from the tag
 * (https://kubernetes.io/docs/concepts/containers/images/#imagepullpolicy-defaulting), which the
 * verdict takes into account.
 */
import { isMap, isSeq, type Node } from 'yaml';
import type { ImageSite } from './types.js';
import { imageSite, mapValue, resolve, stringValue, type YamlContext } from './yaml.js';

const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

const CONTAINER_LISTS = [
  ['containers', 'container'],
  ['initContainers', 'init container'],
  ['ephemeralContainers', 'ephemeral container'],
] as const;

/** Kinds this reader understands (others are skipped without a word: ConfigMaps, Services, CRDs). */
export const workloadKinds = Object.keys(POD_SPEC_PATHS);

export function kubernetesSites(ctx: YamlContext, resource: Node, depth = 0): ImageSite[] {
  const kind = stringValue(ctx, mapValue(ctx, resource, 'kind'));
  if (kind === 'List' && depth < 5) {
    const items = resolve(ctx, mapValue(ctx, resource, 'items'));
    if (!isSeq(items)) return [];
    return items.items.flatMap((item) => {
      const r = resolve(ctx, item as Node);
      return isMap(r) ? kubernetesSites(ctx, r, depth + 1) : [];
    });
  }
  const path = kind ? POD_SPEC_PATHS[kind] : undefined;
  if (!path) return [];
  let podSpec: Node | undefined = resource;
  for (const key of path) podSpec = resolve(ctx, mapValue(ctx, podSpec, key));
  if (!isMap(podSpec)) return [];

  const name = stringValue(ctx, mapValue(ctx, resolve(ctx, mapValue(ctx, resource, 'metadata')), 'name')) ?? '(unnamed)';
  const sites: ImageSite[] = [];
  for (const [list, label] of CONTAINER_LISTS) {
    const containers = resolve(ctx, mapValue(ctx, podSpec, list));
    if (!isSeq(containers)) continue;
    for (const item of containers.items) {
      const container = resolve(ctx, item as Node);
      if (!isMap(container)) continue;
      const containerName = stringValue(ctx, mapValue(ctx, container, 'name')) ?? '(unnamed)';
      const imageNode = mapValue(ctx, container, 'image');
      // A container without an image is not ours to judge (the API server rejects it anyway).
      if (imageNode === undefined) continue;
      const site = imageSite(ctx, imageNode, { source: 'kubernetes', context: `${kind}/${name} ${label} "${containerName}"` }, container.range?.[0] ?? 0);
      site.pullPolicy = stringValue(ctx, mapValue(ctx, container, 'imagePullPolicy')) ?? null;
      if (!site.error && site.value.includes('{{')) {
        site.unresolved = 'a template expression: render the chart first (helm template ... | tagledger check -)';
      }
      sites.push(site);
    }
  }
  return sites;
}
