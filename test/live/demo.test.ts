/**
 * `npm run demo` is the README's front door: the whole migration against a throw-away
 * redis-server it seeds. Each step must end as the demo says it does.
 */
import { describe, it } from "vitest";
import { runDemo } from "../../tools/demo.js";
import { expectTheDemoWalk } from "../support/demoWalk.js";

describe("npm run demo", () => {
  it("walks backfill, verify, repair, flag, cleanup and restore with the exit statuses it explains, and prints no secret", async () => {
    expectTheDemoWalk(await runDemo({ print: false }));
  });
});
