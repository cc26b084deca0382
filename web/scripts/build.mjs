// Builds the scripts of the pages that `herald serve` embeds: each
// page's main.ts under src/ is bundled with esbuild (the SDK comes from
// ../client/js/src) into assets/ (the HTML and CSS are embedded straight
// from src/). assets/ is committed, so that `go build` never needs Node;
// `--check` builds into a temporary directory and fails when the
// committed scripts differ from the sources.
import { build } from "esbuild";
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pages = ["demo", "admin"];
// Scripts of their own beside a page's main.ts: the demo's service worker.
const extra = [{ entry: join("demo", "sw.ts"), out: "demo-sw.js" }];
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "herald-web-")) : join(root, "assets");

if (!check) rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const bundle = (entry, outfile, format) =>
  build({
    entryPoints: [join(root, "src", entry)],
    bundle: true,
    format,
    target: "es2020",
    minify: true,
    legalComments: "none",
    outfile: join(out, outfile),
    logLevel: "warning",
  });
for (const e of extra) await bundle(e.entry, e.out, "iife");
for (const page of pages) {
  await bundle(join(page, "main.ts"), `${page}.js`, "esm");
}

if (check) {
  const committed = join(root, "assets");
  const list = (d) => readdirSync(d).sort();
  const a = list(out);
  const b = list(committed);
  const stale = [...new Set([...a, ...b])].filter(
    (f) => !a.includes(f) || !b.includes(f) || !readFileSync(join(out, f)).equals(readFileSync(join(committed, f))),
  );
  rmSync(out, { recursive: true, force: true });
  if (stale.length > 0) {
    console.error(`web/assets is out of date (${stale.join(", ")}): run \`npm run build\` in web/ and commit web/assets`);
    process.exit(1);
  }
  console.log("web/assets matches the sources");
}
