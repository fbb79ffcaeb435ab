/**
 * The HTML of the editor's pages. Shells only: the scripts they load do the rest. Every value put
 * into the markup is escaped, and asset links are relative so the pages work under a path prefix.
 */

/** Logical asset name to hashed file name, as written by editor/build.mjs into manifest.json. */
export type AssetManifest = Readonly<Record<string, string>>;

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A small pen on a round tile, inline so the pages need no extra request. */
const FAVICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%232f5bd3'/%3E%3Cpath d='M9 23l2-6 9-9 4 4-9 9z' fill='white'/%3E%3C/svg%3E";

function head(title: string, manifest: AssetManifest, root: string, script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light">
<link rel="icon" href="${FAVICON}">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${root}assets/${escapeHtml(asset(manifest, 'page.css'))}">
<script type="module" src="${root}assets/${escapeHtml(asset(manifest, script))}"></script>
</head>`;
}

/**
 * The document list and the open-or-create box, at `/`. The box checks a name against
 * `maxNameLength`, the server's longest document name, before opening it.
 */
export function homePage(manifest: AssetManifest, title: string, maxNameLength: number): string {
  if (!(Number.isSafeInteger(maxNameLength) && maxNameLength > 0)) throw new RangeError(`maxNameLength ${maxNameLength} is not a positive integer`);
  // No `maxlength`: it would cut a pasted name short (and so open another document), and it counts
  // UTF-16 units where the server counts characters. The page's script checks `data-max-length`.
  const maxLength = ` data-max-length="${maxNameLength}"`;
  return `${head(title, manifest, './', 'home.js')}
<body class="home-page">
<main>
<h1>${escapeHtml(title)}</h1>
<p class="lede">Write together, live. Open a document by name, or start a new one.</p>
<form id="open-form" class="open-form" autocomplete="off">
<input id="open-name" name="name" placeholder="Name, like team/notes" aria-label="Document name" required${maxLength} autocapitalize="off" spellcheck="false">
<button type="submit">Open</button>
</form>
<p id="open-message" class="open-message" role="alert"></p>
<h2>Recent documents</h2>
<div id="documents" aria-live="polite"><p class="muted">Loading…</p></div>
<noscript><p>This page needs JavaScript.</p></noscript>
</main>
</body>
</html>
`;
}

/** The editor on document `name`, at `/d/<name>`. */
export function editorPage(manifest: AssetManifest, title: string, name: string): string {
  // The page lives at /d/<name>: one `../` per path segment of the name leads back to the root.
  const root = '../'.repeat(name.split('/').length);
  return `${head(`${name} · ${title}`, manifest, root, 'page.js')}
<body class="editor-page">
<header class="page-header">
<a class="home" href="${root}">← ${escapeHtml(title)}</a>
<span class="crumb" aria-hidden="true">/</span>
<h1 title="${escapeHtml(name)}">${escapeHtml(name)}</h1>
</header>
<main id="editor" data-document="${escapeHtml(name)}">
<noscript><p class="noscript">The editor needs JavaScript.</p></noscript>
</main>
</body>
</html>
`;
}

/** A small page for a refused request (a bad document name, the editor not built). */
export function messagePage(manifest: AssetManifest | null, title: string, message: string): string {
  const style = manifest?.['page.css'] === undefined ? '' : `<link rel="stylesheet" href="/assets/${escapeHtml(manifest['page.css'])}">`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${style}
</head>
<body class="home-page">
<main>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
<p><a href="/">All documents</a></p>
</main>
</body>
</html>
`;
}

function asset(manifest: AssetManifest, name: string): string {
  const file = manifest[name];
  if (file === undefined) throw new RangeError(`the editor's manifest has no "${name}": rebuild with npm run build`);
  return file;
}
