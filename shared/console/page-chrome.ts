/**
 * The console's top bar, the same on every page the console serves (the model card's included). Its links are
 * relative, resolved against the page's `<base href>` (the app's mount path), like every other console link.
 */
export const CONSOLE_NAV =
  '<nav class="top"><span class="brand">textops</span><a href="./">Runs</a><a href="models">Models</a><a href="batch">Batch</a></nav>';

export const escapeHtml = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
