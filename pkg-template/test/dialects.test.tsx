// @vitest-environment node
// The README's dialect configurations (test/dialects.ts, which the README contains verbatim)
// are exactly the ones the browser tests run against the real servers
// (tests/dialect-configs.json, read by tests/browser_dialects.rs).
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { ep080, phase7, story007, story1615 } from "./dialects.js";

const tested = JSON.parse(
  readFileSync(new URL("../../tests/dialect-configs.json", import.meta.url), "utf8"),
);

test("the README's configurations are the ones tested against the real servers", () => {
  expect(JSON.parse(JSON.stringify({ ep080, story1615, phase7, story007 }))).toEqual(tested);
});
