#!/usr/bin/env node
// `npm run demo`: install and build when needed, then run tools/demo.ts (compiled).
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd) => execSync(cmd, { cwd: root, stdio: "inherit" });

if (!existsSync(join(root, "node_modules", ".package-lock.json"))) {
  // npm ci installs the committed lock as it is (npm install would rewrite it).
  console.log("demo: installing dependencies (npm ci)…");
  run("npm ci --no-audit --no-fund");
}
console.log("demo: building (npm run build)…");
run("npm run build --silent");
const { runDemo } = await import(join(root, "dist", "tools", "demo.js"));
await runDemo();
