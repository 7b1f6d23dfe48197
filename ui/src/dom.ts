// Small DOM helpers shared by the views.

/// The element for `selector`, which the page is known to have.
export function $<T extends Element = HTMLElement>(selector: string): T {
  const element = document.querySelector<T>(selector);
  if (!element) throw new Error(`the page has no ${selector}`);
  return element;
}

/// A stable hue per kind, so a kind has the same colour everywhere.
export const hue = (kind: string): string =>
  String([...kind].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7));

/// A form's named control.
export function field<T extends Element = HTMLInputElement>(form: HTMLFormElement, name: string): T {
  const control = form.elements.namedItem(name);
  if (!control) throw new Error(`the form has no ${name}`);
  return control as unknown as T;
}
