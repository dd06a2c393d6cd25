/**
 * Compose files: `services.<name>.image` (https://docs.docker.com/reference/compose-file/services/#image),
 * merge keys included. A value using interpolation (`${TAG}`, `$REGISTRY/app`,
 * https://docs.docker.com/reference/compose-file/interpolation/) depends on the environment at
 * `docker compose up` time, so it is reported as unresolved rather than guessed; `$$` is a literal `$`.
 */
import type { Node } from 'yaml';
import type { ImageSite } from './types.js';
import { entries, imageSite, mapValue, resolve, type YamlContext } from './yaml.js';

export function composeSites(ctx: YamlContext, root: Node): ImageSite[] {
  const sites: ImageSite[] = [];
  for (const [service, value] of entries(ctx, mapValue(ctx, root, 'services'))) {
    const definition = resolve(ctx, value);
    const imageNode = mapValue(ctx, definition, 'image');
    // A service with only `build:` has no image to pull.
    if (imageNode === undefined) continue;
    const site = imageSite(ctx, imageNode, { source: 'compose', context: `service "${service}"` }, definition?.range?.[0] ?? 0);
    if (!site.error) {
      const variables = interpolatedVariables(site.value);
      if (variables.length) site.unresolved = `uses variable${variables.length > 1 ? 's' : ''} ${variables.join(', ')} (Compose interpolation, not resolved here)`;
    }
    sites.push(site);
  }
  return sites;
}

/** Names of the variables a Compose value interpolates; `$$` escapes a `$`. */
export function interpolatedVariables(value: string): string[] {
  const names: string[] = [];
  const re = /\$(?:\$|\{([^}:?+-]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const name = m[1] ?? m[2];
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}
