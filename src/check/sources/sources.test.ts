import { describe, expect, it } from 'vitest';
import { dockerfileSites } from './dockerfile.js';
import { extractYaml } from './yaml.js';
import { interpolatedVariables } from './compose.js';

const at = (text: string, s: { range: [number, number] | null }) => (s.range ? text.slice(s.range[0], s.range[1]) : null);

describe('Dockerfile', () => {
  it('finds FROM and COPY --from images with lines, skips stages, scratch and heredoc text', () => {
    const text = [
      '# syntax=docker/dockerfile:1',
      'ARG BASE=alpine:3.19',
      'ARG TAG',
      'from --platform=$BUILDPLATFORM golang:1.22 as Build',
      'RUN <<-EOT',
      '\tFROM heredoc:text',
      '\tEOT',
      'FROM scratch AS empty',
      'FROM ${BASE}',
      'COPY --from=build /app /app',
      'COPY --from=0 /a /a',
      'COPY --chown=1:1 --from=nginx:1.25 /etc/nginx /etc/nginx',
      'FROM build',
      'FROM registry.example.com/app:$TAG',
      'FROM \\',
      '  # a comment inside a continued line is dropped',
      '  ghcr.io/x/y:1.0.0 AS last',
      '',
    ].join('\n');
    const { sites } = dockerfileSites(text);
    expect(sites.map((s) => [s.line, s.column, s.value, s.context, s.unresolved ?? null])).toEqual([
      [4, 32, 'golang:1.22', 'FROM --platform=$BUILDPLATFORM (stage "Build")', null],
      [9, 6, '${BASE}', 'FROM (stage 2)', 'uses build arg BASE (default "alpine:3.19"); build args are not resolved'],
      [12, 25, 'nginx:1.25', 'COPY --from', null],
      [14, 6, 'registry.example.com/app:$TAG', 'FROM (stage 4)', 'uses build arg TAG (no default); build args are not resolved'],
      [17, 3, 'ghcr.io/x/y:1.0.0', 'FROM (stage "last")', null],
    ]);
    for (const s of sites) expect(at(text, s)).toBe(s.value);
  });

  it('honours the escape directive', () => {
    const text = '# escape=`\nFROM `\n  nginx:1.25\nRUN echo \\\n';
    const { sites } = dockerfileSites(text);
    expect(sites.map((s) => [s.line, s.value])).toEqual([[3, 'nginx:1.25']]);
  });

  it('reads CRLF files', () => {
    const text = 'FROM nginx:1.25 AS web\r\nFROM web\r\n';
    const { sites } = dockerfileSites(text);
    expect(sites.map((s) => [s.line, s.value, at(text, s)])).toEqual([[1, 'nginx:1.25', 'nginx:1.25']]);
  });
});

describe('Kubernetes YAML', () => {
  it('reads every workload kind and container list, across documents and Lists', () => {
    const text = `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata: {name: rs}
    spec: {template: {spec: {containers: [{name: a, image: "a:1"}]}}}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: tpl}
template:
  spec:
    containers: [{name: b, image: b:1}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec:
  template:
    spec:
      initContainers:
        - name: c
          image: c:1
          imagePullPolicy: Never
      ephemeralContainers:
        - name: d
          image: d:1
      containers:
        - name: no-image
`;
    const r = extractYaml(text);
    expect(r.problems).toEqual([]);
    expect(r.sites.map((s) => [s.context, s.value, s.line, s.pullPolicy])).toEqual([
      ['ReplicaSet/rs container "a"', 'a:1', 7, null],
      ['PodTemplate/tpl container "b"', 'b:1', 14, null],
      ['Job/job init container "c"', 'c:1', 24, 'Never'],
      ['Job/job ephemeral container "d"', 'd:1', 28, null],
    ]);
  });

  it('follows aliases to where the value is written, and says which values cannot be rewritten', () => {
    const text = `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: a
      image: &img registry.example.com/app:1.0.0
    - name: b
      image: *img
    - name: c
      image: >-
        registry.example.com/app:1.0.0
    - name: d
      image: {repository: x}
    - name: e
      image: 42
    - name: f
      image: "{{ .Values.image }}"
`;
    const { sites } = extractYaml(text);
    expect(sites.map((s) => [s.line, s.value, s.style, s.error ?? s.unresolved ?? null, s.context])).toEqual([
      [8, 'registry.example.com/app:1.0.0', 'plain', null, 'Pod/p container "a"'],
      [8, 'registry.example.com/app:1.0.0', 'plain', null, 'Pod/p container "b" (through alias *img)'],
      // A block scalar starts at its header (`>-`).
      [12, 'registry.example.com/app:1.0.0', null, null, 'Pod/p container "c"'],
      [15, '', null, 'image is a mapping, not a string', 'Pod/p container "d"'],
      [17, '42', null, 'image is a number, not a string', 'Pod/p container "e"'],
      [19, '{{ .Values.image }}', 'double-quoted', 'a template expression: render the chart first (helm template ... | tagledger check -)', 'Pod/p container "f"'],
    ]);
    expect(sites[0].range).toEqual(sites[1].range);
    expect(sites[2].range).toBeNull();
  });

  it('reports a broken document with its line and still reads the others', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: a, image: "a:1"}]}\n---\nkey: [unclosed\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: ok2}\nspec: {containers: [{name: b, image: b:2}]}\n';
    const r = extractYaml(text);
    expect(r.sites.map((s) => s.value)).toEqual(['a:1', 'b:2']);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0].line).toBeGreaterThanOrEqual(6);
    expect(r.problems[0].message).toMatch(/^YAML syntax error: /);
    expect(r.syntaxErrors).toBe(1);
  });
});

describe('Compose', () => {
  it('reads services.*.image through merge keys and reports interpolation as unresolved', () => {
    const text = `x-app: &app
  image: registry.example.com/app:1.0.0
services:
  a:
    <<: *app
  b:
    image: "\${REGISTRY:-r.example}/b:\${TAG}"
  c:
    build: .
  d:
    image: 'cost$$/x'
`;
    const { sites } = extractYaml(text, { compose: false });
    expect(sites.map((s) => [s.context, s.line, s.value, s.unresolved ?? null])).toEqual([
      ['service "a"', 2, 'registry.example.com/app:1.0.0', null],
      ['service "b"', 7, '${REGISTRY:-r.example}/b:${TAG}', 'uses variables REGISTRY, TAG (Compose interpolation, not resolved here)'],
      ['service "d"', 11, 'cost$$/x', null],
    ]);
  });

  it('lists interpolated variables, skipping $$', () => {
    expect(interpolatedVariables('$A/${B}:${C:-x}-$$D')).toEqual(['A', 'B', 'C']);
  });
});
