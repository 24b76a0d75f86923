#!/usr/bin/env node
// `npm run bundle`: the CLI, its dependencies and its Lua scripts in one ESM file that plain
// `node` runs with nothing beside it (for containers: no node_modules, no Lua read from disk).
// It bundles the compiled launcher (bin/ → dist/src/), so dist/src must be built first:
// `npm run bundle` does both. Usage: node scripts/bundle.mjs [--outfile <file>]
import { chmodSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { outfile: { type: "string" } } });
// The default is where deploy/Dockerfile copies it from.
const outfile = values.outfile ?? join(root, "dist", "bundle", "jobs-migrate.mjs");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** Every file under src/redis/lua, by its path there (`lib/jobKey.lua`). */
function luaSources() {
  const dir = join(root, "src", "redis", "lua");
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter(
    (e) => e.isFile() && e.name.endsWith(".lua"),
  );
  return Object.fromEntries(
    files.map((e) => {
      const path = join(e.parentPath, e.name);
      return [relative(dir, path).split(sep).join("/"), readFileSync(path, "utf8")];
    }),
  );
}

// The two modules that read files next to them at run time, each replaced by what it reads.
const EMBEDDED = {
  "luaFiles.js": `const FILES = ${JSON.stringify(luaSources())};
export function luaFile(name) {
  const text = FILES[name];
  if (text === undefined) throw new Error(\`no Lua file \${name} in this bundle\`);
  return text;
}`,
  "version.js": `export function toolVersion() { return ${JSON.stringify(version)}; }`,
};
const replaced = new Set();

await build({
  entryPoints: [join(root, "bin", "jobs-migrate.js")],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // The CommonJS dependencies (ioredis, commander…) call require() for Node's built-ins.
  banner: {
    js: 'import { createRequire as jobsMigrateRequire } from "node:module";\nconst require = jobsMigrateRequire(import.meta.url);',
  },
  logLevel: "warning",
  plugins: [
    {
      name: "embed-files",
      setup(b) {
        const filter = /[\\/]dist[\\/]src[\\/](redis[\\/]luaFiles|version)\.js$/;
        b.onLoad({ filter }, (args) => {
          const name = args.path.split(/[\\/]/).pop();
          replaced.add(name);
          return { contents: EMBEDDED[name], loader: "js" };
        });
      },
    },
  ],
});

// A renamed module would be bundled as it is, reading from disk: fail here instead.
const missing = Object.keys(EMBEDDED).filter((name) => !replaced.has(name));
if (missing.length > 0) throw new Error(`bundle: ${missing.join(", ")} not found to embed`);
chmodSync(outfile, 0o755);
console.log(`bundle: wrote ${outfile} (jobs-migrate ${version})`);
