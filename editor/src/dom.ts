/** A small helper to build DOM without a framework. Text is always set as text, never as HTML. */

type Attributes = Record<string, string | boolean | undefined>;

/**
 * Creates `<tag>` with `attributes` (`true` sets an empty attribute, `false`/`undefined` omit it)
 * and `children` (strings become text nodes).
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * An icon from trusted, static SVG markup (the `<svg>` body, drawn on a 24x24 grid with strokes).
 * Only for constants in this package: never pass user input.
 */
export function icon(body: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.innerHTML = body;
  return svg;
}

/** Adds `css` to the document once, identified by `id`. */
export function injectStyles(id: string, css: string): void {
  if (document.getElementById(id) !== null) return;
  const style = h('style', { id });
  style.textContent = css;
  document.head.append(style);
}
