/** Stylesheets imported by the editor are bundled as text (esbuild's `text` loader, see editor/build.mjs). */
declare module '*.css' {
  const css: string;
  export default css;
}
