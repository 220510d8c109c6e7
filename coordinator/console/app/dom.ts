/**
 * Building the console's DOM. Every value from the server is put in with textContent or as an
 * attribute through setAttribute, never parsed as markup (no innerHTML anywhere in the console):
 * a reason or an account id holding `<img src=x onerror=...>` shows as those characters.
 */
type Child = Node | string | number | null | undefined | false;

export type Attrs = Record<string, string | number | boolean | undefined>;

function attach(node: Element, attrs: Attrs, children: readonly Child[]): void {
  for (const [name, value] of Object.entries(attrs))
    if (value !== undefined && value !== false)
      node.setAttribute(name, value === true ? "" : String(value));
  for (const child of children)
    if (child !== null && child !== undefined && child !== false)
      node.append(typeof child === "object" ? child : document.createTextNode(String(child)));
}

/** An HTML element with attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  attach(node, attrs, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element, the same way. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  attach(node, attrs, children);
  return node;
}

/** Empties a node and puts `children` in. */
export function fill(node: Element, ...children: Child[]): void {
  node.replaceChildren();
  attach(node, {}, children);
}

/** "4 s", "3 min", "2 h 5 min", "3 d": how long ago, for a glance. */
export function ageText(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const sec = Math.max(0, Math.round(ms / 1000));
  if (sec < 120) return `${sec} s`;
  const min = Math.floor(sec / 60);
  if (min < 120) return `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 48) return `${hours} h ${min % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}

/** A time as ISO-8601 with its age beside it ("… 12 s ago", "… in 40 s"); "—" when there is none. */
export function timeCell(iso: string | null | undefined, nowMs = Date.now()): Node {
  if (iso === null || iso === undefined || iso === "") return h("span", { class: "muted" }, "—");
  const ms = Date.parse(iso);
  return h(
    "span",
    { class: "mono", title: iso },
    iso,
    h(
      "span",
      { class: "age" },
      Number.isNaN(ms)
        ? ""
        : ms > nowMs
          ? `in ${ageText(ms - nowMs)}`
          : `${ageText(nowMs - ms)} ago`,
    ),
  );
}

/** A state, decision or log verdict as a coloured badge. */
export function badge(state: string | null | undefined): Node {
  const value = state ?? "—";
  const cls = /^[a-z-]+$/.test(value) ? `state state-${value}` : "state";
  return h("span", { class: cls }, value);
}

/** A table with a header row and one row per item. */
export function table(headers: readonly string[], rows: readonly Node[][]): HTMLTableElement {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...headers.map((name) => h("th", {}, name)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((c) => h("td", {}, c))))),
  );
}
