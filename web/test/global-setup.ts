// Builds the herald binary once for every test file, from this tree.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    heraldBin: string;
  }
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), "herald-web-"));
  const bin = join(dir, "herald");
  execFileSync("go", ["build", "-o", bin, "./cmd/herald"], { cwd: repo, stdio: "inherit" });
  project.provide("heraldBin", bin);
  return () => rmSync(dir, { recursive: true, force: true });
}
