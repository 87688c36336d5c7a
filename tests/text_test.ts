import assert from "node:assert/strict";
import { bounded, escapeControls, LINE_MAX, quoted, safeLine, shown, SHOWN_MAX } from "../lib/text.ts";

Deno.test("escapeControls makes ANSI, OSC, newlines and bidi controls inert", () => {
  assert.equal(escapeControls("a\x1b[2Jb"), "a\\x1b[2Jb");
  assert.equal(escapeControls("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
  assert.equal(escapeControls("F1\nerror: forged"), "F1\\nerror: forged");
  assert.equal(escapeControls("x\u202ey\u2028z\x9b"), "x\\u202ey\\u2028z\\x9b");
  assert.equal(escapeControls("Cola Zéro 🥤"), "Cola Zéro 🥤");
});

Deno.test("bounded cuts by code points and says how much was left out", () => {
  assert.equal(bounded("abc", 3), "abc");
  assert.equal(bounded("a".repeat(10_000_000), 4), "aaaa…(+9,999,996 chars)");
  assert.equal(bounded("🥤🥤🥤", 2), "🥤🥤…(+1 chars)");
});

Deno.test("shown, quoted and safeLine bound and escape", () => {
  assert.equal(shown("x".repeat(500)).length < SHOWN_MAX + 30, true);
  assert.equal(shown({ a: 1 }), '{"a":1}');
  assert.equal(quoted("a\x1b"), '"a\\u001b"');
  const line = safeLine("y".repeat(LINE_MAX * 2) + "\n");
  assert.equal(line.includes("\n"), false);
  assert.equal(line.length < LINE_MAX + 30, true);
  // The bound holds after escaping: 2,000 escape characters do not become 8,000.
  const escaped = safeLine("\x1b".repeat(LINE_MAX * 3));
  assert.ok(escaped.length <= LINE_MAX + 30, `${escaped.length}`);
  assert.match(escaped, /^(\\x1b)+…\(\+5,500 chars\)$/);
  assert.equal(shown("\u202e".repeat(500)).length <= SHOWN_MAX + 20, true);
});
