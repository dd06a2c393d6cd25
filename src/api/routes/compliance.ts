/**
 * The compliance page of `tagledger serve`: the HTML view of `tagledger report --format html`, split
 * into an overview at `/`, a repository's drill-down at `/repositories/:id` and a tag's timeline at
 * `/repositories/:id/tags/:tag`. Server-rendered, no scripts, nothing loaded from elsewhere.
 *
 * A fastify plugin with its own token check, so the page stays behind the API token wherever it is
 * mounted (the server's hook checks the same token first): a browser gets the Basic challenge and
 * sends the token as the password (any user name).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Database } from '../../store/db.js';
import { severities, type Severity } from '../../notifiers/types.js';
import { buildReportModel, repositoryDetail, storedTargetIds, tagTimeline } from '../../reports/model.js';
import { pageLinks, renderMessagePage, renderOverview, renderRepositoryPage, renderTagPage } from '../../reports/html.js';
import { authorized } from '../auth.js';

export interface CompliancePageOptions {
  db: Database;
  /** Empty or undefined: no token (the server then listens on loopback only). */
  token?: string;
  /** Path prefix the pages link to ('' when registered at the root). */
  basePath?: string;
}

/** What the browser may do with the page: nothing but show it. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/**
 * Basic alone. The API's challenge names Bearer first and Basic second in one header line; Chromium
 * acts on the first challenge of a line only and, having no Bearer credentials, would show the 401
 * instead of asking for a password.
 */
const BROWSER_CHALLENGE = 'Basic realm="tagledger", charset="UTF-8"';

const UNAUTHORIZED_PAGE =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tagledger</title></head><body><p>This page needs the API token: sign in with any user name and the token as the password.</p></body></html>';

function html(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(body);
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** Repositories listed on the overview; the rest are a `?target=` away. */
const OVERVIEW_REPOSITORIES = 1000;

export const compliancePage: FastifyPluginAsync<CompliancePageOptions> = async (app, opts) => {
  const { db } = opts;
  const token = opts.token?.trim() ? opts.token : undefined;
  const links = pageLinks(opts.basePath ?? '');

  app.addHook('onRequest', async (req, reply) => {
    if (!token || authorized(token, req.headers.authorization)) return;
    return reply.code(401).send(UNAUTHORIZED_PAGE);
  });
  // Every 401 for these pages, this plugin's or the server's (whose onRequest hook answers first
  // and whose reply passes through the route's onSend hooks), leaves as a page with a challenge
  // browsers act on.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (reply.statusCode !== 401) return payload;
    reply.header('WWW-Authenticate', BROWSER_CHALLENGE).headers(SECURITY_HEADERS).type('text/html; charset=utf-8');
    return UNAUTHORIZED_PAGE;
  });

  app.get<{ Querystring: { target?: string | string[]; severity?: string } }>('/', { schema: { hide: true } }, async (req, reply) => {
    const targets = list(req.query.target);
    const severity = req.query.severity;
    if (severity !== undefined && !(severities as readonly string[]).includes(severity)) {
      return html(reply, 400, renderMessagePage('Bad request', `severity "${severity}" is not one of ${severities.join(', ')}`, links));
    }
    if (targets.length) {
      const known = await storedTargetIds(db);
      const unknown = targets.filter((t) => !known.includes(t));
      if (unknown.length) return html(reply, 404, renderMessagePage('Not found', `no target ${unknown.map((t) => `"${t}"`).join(', ')} in the database`, links));
    }
    const model = await buildReportModel(db, { targets, minSeverity: severity as Severity | undefined, repositoriesLimit: OVERVIEW_REPOSITORIES });
    return html(reply, 200, renderOverview(model, links, { embedRepositories: false }));
  });

  app.get<{ Params: { id: string } }>('/repositories/:id', { schema: { hide: true } }, async (req, reply) => {
    const id = Number(req.params.id);
    const detail = Number.isSafeInteger(id) && id > 0 ? await repositoryDetail(db, id) : null;
    if (!detail) return html(reply, 404, renderMessagePage('Not found', `no repository with id ${req.params.id}`, links));
    return html(reply, 200, renderRepositoryPage(detail, links));
  });

  app.get<{ Params: { id: string; tag: string } }>('/repositories/:id/tags/:tag', { schema: { hide: true } }, async (req, reply) => {
    const id = Number(req.params.id);
    const timeline = Number.isSafeInteger(id) && id > 0 ? await tagTimeline(db, id, req.params.tag) : null;
    if (!timeline) return html(reply, 404, renderMessagePage('Not found', `no repository with id ${req.params.id}`, links));
    if (!timeline.current && !timeline.events.length) {
      return html(reply, 404, renderMessagePage('Not found', `tagledger never saw tag "${req.params.tag}" in ${timeline.repository.target} / ${timeline.repository.repository}`, links));
    }
    return html(reply, 200, renderTagPage(timeline, links));
  });
};
