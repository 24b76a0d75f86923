#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (built by `npm run build`).
import { main } from "../dist/src/cli/main.js";

const code = await main(process.argv);
process.exitCode = code;
// Redis clients and timers are closed by then; exit explicitly so nothing lingers.
process.exit(code);
