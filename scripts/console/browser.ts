/**
 * The browser the console's test and screenshot script drive: Debian's chromium (installed by
 * `node scripts/install-browser.mjs`; npm's browser downloads cannot be reached here), with flags
 * that keep it off the network it would otherwise try to reach on this closed one.
 */
export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
