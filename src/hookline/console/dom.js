// Builds DOM nodes. Text goes in as text nodes or textContent, never as HTML, so a name
// like "<script>" stays text.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "indeterminate", "type"]);

export function h(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) set(node, name, value);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function set(node, name, value) {
  if (value === null || value === undefined || value === false) return;
  if (name === "class") node.className = value;
  else if (name === "text") node.textContent = value;
  else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
  else if (PROPERTIES.has(name)) node[name] = value;
  else node.setAttribute(name, value === true ? "" : String(value));
}

const SVG = "http://www.w3.org/2000/svg";

// An SVG element: attributes as given, text as text nodes (a <title> says what it shows).
export function svg(tag, attributes = {}, children = []) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

let counter = 0;

export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

// kind: primary, secondary, ghost, danger or danger-outline (see style.css).
export function button(text, { kind = "secondary", small = false, type = "button", ...rest } = {}) {
  const size = small ? " button--small" : "";
  return h("button", { class: `button button--${kind}${size}`, type, text, ...rest });
}

export function visuallyHidden(text) {
  return h("span", { class: "visually-hidden", text });
}
