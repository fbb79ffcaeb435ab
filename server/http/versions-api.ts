/**
 * The history under `/api/documents/<name>/versions`:
 *
 *   GET    .../versions                 the versions, newest first
 *   POST   .../versions                 takes a named version now (`{ "label": "..." }`)
 *   GET    .../versions/<id>            a version's content, in any format the document has
 *   DELETE .../versions/<id>            removes a version (admin)
 *   POST   .../versions/<id>/restore    makes the document look like the version again (admin)
 *
 * A restore is a forward edit through the WebSocket path, between two versions of its own: one of
 * the document just before (restoring that one undoes the restore) and one just after.
 */
import type { UpdateScanner } from '../../protocol/yjs-internals.js';
import type { VersionInfo } from '../../persistence/versions.js';
import { authorize, authorizeAdmin } from '../auth/access.js';
import { HttpError } from '../errors.js';
import { UnknownVersionError } from '../history/history.js';
import { checkWritable, writeUpdate } from '../sync/request-write.js';
import { readJson } from './body.js';
import { contentResponse, docOf } from './content.js';
import { conversions } from './conversions.js';
import { allow, type DocumentRequest, type DocumentsApi, withDocument } from './document-request.js';

/** Longest label of a named version, in characters. */
const MAX_LABEL = 200;
/** Largest body of `POST .../versions`. */
const MAX_VERSION_BODY = 16 * 1024;

/** The handler of every path under `.../versions`. */
export function versionRoutes(api: DocumentsApi, scanner: UpdateScanner): (request: DocumentRequest) => Promise<Response> {
  const history = api.engine.history;
  return async ({ c, name, rest, grant, origin }) => {
    const [, id, action, ...more] = rest;
    if (id === undefined) {
      allow(c, ['GET', 'POST']);
      if (c.req.method === 'GET') {
        authorize(grant, name, 'ro');
        return withDocument(api, name, async () => c.json({ versions: (await history.list(name)).map(describe) }));
      }
      authorize(grant, name, 'rw');
      const label = labelOf(await readJson(c.req.raw, MAX_VERSION_BODY));
      return withDocument(api, name, async (room) => c.json(describe(await history.take(room, { kind: 'named', label })), 201));
    }
    if (!/^[0-9a-z]{1,32}$/.test(id) || more.length > 0 || (action !== undefined && action !== 'restore')) {
      throw new HttpError(404, 'not-found', `nothing at ${c.req.path}`);
    }
    if (action === undefined) {
      allow(c, ['GET', 'HEAD', 'DELETE']);
      if (c.req.method === 'DELETE') {
        authorizeAdmin(grant, name);
        return withDocument(api, name, async () => {
          await known(history.remove(name, id));
          return c.body(null, 204);
        });
      }
      authorize(grant, name, 'ro');
      return withDocument(api, name, async () => contentResponse(c, await known(history.read(name, id))));
    }
    allow(c, ['POST']);
    authorizeAdmin(grant, name);
    return withDocument(api, name, async (room) => {
      const target = await known(history.info(name, id));
      const state = await known(history.read(name, id));
      const when = new Date(target.takenAt).toISOString();
      const before = await history.take(room, { kind: 'before-restore', label: `Before restoring ${target.label ?? when}` });
      checkWritable(room, { create: false });
      const { restoreVersion } = await conversions();
      const update = restoreVersion(docOf((await room.snapshot()).state), docOf(state));
      if (update !== null) await writeUpdate(room, update, origin, { create: false }, scanner);
      const after = await history.take(room, { kind: 'restore', label: `Restored ${target.label ?? when}` });
      return c.json({ restored: describe(target), before: describe(before), version: describe(after) });
    });
  };
}

/** A version as the API shows it. */
export function describe(version: VersionInfo): Record<string, unknown> {
  return {
    id: version.id,
    time: new Date(version.takenAt).toISOString(),
    kind: version.kind,
    label: version.label,
    authors: version.authors,
    size: version.size,
  };
}

/** The label of a named version from its request body. */
function labelOf(body: unknown): string {
  const label = typeof body === 'object' && body !== null ? (body as { label?: unknown }).label : undefined;
  if (typeof label !== 'string' || label.trim() === '' || [...label].length > MAX_LABEL) {
    throw new HttpError(400, 'invalid-label', `send { "label": "..." }, a label of 1 to ${MAX_LABEL} characters`);
  }
  return label.trim();
}

/** `promise`, with an unknown version turned into 404. */
async function known<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof UnknownVersionError) throw new HttpError(404, 'no-version', error.message);
    throw error;
  }
}
