/** The console's session token: an HMAC over its expiry, keyed from the operator secret. */
import { expect } from "chai";
import {
  CONSOLE_SESSION_MS,
  cookieValue,
  mintConsoleSession,
  validConsoleSession,
} from "../../shared/console-session.js";

describe("console sessions", function () {
  const secret = "o".repeat(40);
  const now = Date.parse("2026-01-01T00:00:00.000Z");

  it("is valid for its secret until it expires", function () {
    const token = mintConsoleSession(secret, now);
    expect(validConsoleSession(token, secret, now + 1000)).to.equal(true);
    expect(validConsoleSession(token, secret, now + CONSOLE_SESSION_MS)).to.equal(false);
  });

  it("ends when the operator secret is rotated, and refuses forged or altered tokens", function () {
    const token = mintConsoleSession(secret, now);
    expect(validConsoleSession(token, "p".repeat(40), now + 1000), "rotated").to.equal(false);
    expect(validConsoleSession(token, undefined, now + 1000), "no operator secret").to.equal(false);
    const [expiry, mac] = token.split(".") as [string, string];
    const later = `${Number(expiry) + 1000}.${mac}`;
    expect(validConsoleSession(later, secret, now + 1000), "expiry moved").to.equal(false);
    expect(validConsoleSession(`${expiry}.${"A".repeat(43)}`, secret, now + 1000)).to.equal(false);
    expect(validConsoleSession("", secret, now)).to.equal(false);
    // A token that claims to last longer than a session was not minted here.
    const far = mintConsoleSession(secret, now + CONSOLE_SESSION_MS);
    expect(validConsoleSession(far, secret, now)).to.equal(false);
  });

  it("reads one cookie from a Cookie header", function () {
    expect(cookieValue("a=1; concord_console=x.y; b=2", "concord_console")).to.equal("x.y");
    expect(cookieValue("xconcord_console=z", "concord_console")).to.equal("");
    expect(cookieValue(undefined, "concord_console")).to.equal("");
  });
});
