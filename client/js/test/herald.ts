// A real `herald serve` for end-to-end tests: built once from this
// repository per test file, started on a free port with a fresh secret,
// killed and restarted on the same data directory when a test says.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** HeraldServer is one herald process and its data directory. */
export class HeraldServer {
  readonly secret = randomBytes(32).toString("hex");
  port = 0;
  proc: ChildProcess | undefined;
  private tmp = "";
  private bin = "";

  /** extraArgs go to `herald serve` on every start. */
  constructor(private readonly extraArgs: string[] = []) {}

  /** build compiles herald into a temporary directory, picks a port and starts it. */
  async build(): Promise<void> {
    this.tmp = mkdtempSync(join(tmpdir(), "herald-js-"));
    this.bin = join(this.tmp, "herald");
    execFileSync("go", ["build", "-o", this.bin, "./cmd/herald"], { cwd: repo, stdio: "inherit" });
    this.port = await freePort();
    await this.start();
  }

  /** start runs the server and waits until it listens. */
  async start(): Promise<void> {
    const args = ["serve", "--addr", `127.0.0.1:${this.port}`, "--data", join(this.tmp, "data"), "--jwt-secret", this.secret, "--log-level", "warn"];
    this.proc = spawn(this.bin, [...args, ...this.extraArgs], { stdio: ["ignore", "inherit", "inherit"] });
    await waitListening(this.port);
  }

  /** kill ends the server with SIGKILL and waits for it to exit. */
  async kill(): Promise<void> {
    const s = this.proc;
    this.proc = undefined;
    if (!s || s.exitCode !== null) return;
    const exited = new Promise((r) => s.once("exit", r));
    s.kill("SIGKILL");
    await exited;
  }

  /** cleanup kills the server and removes its files. */
  async cleanup(): Promise<void> {
    await this.kill();
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }

  /** mint returns an HS256 JWT for sub, granting chat.>, valid for ttlSeconds. */
  mint(sub: string, ttlSeconds = 3600): string {
    const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const claims = b64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + ttlSeconds, channels: ["chat.>"] }));
    const sig = createHmac("sha256", this.secret).update(`${header}.${claims}`).digest("base64url");
    return `${header}.${claims}.${sig}`;
  }
}

/** until polls cond every 20 ms and throws after ms. */
export async function until(cond: () => boolean, ms = 10000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function b64url(v: string | Buffer): string {
  return Buffer.from(v).toString("base64url");
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
    s.on("error", rej);
  });
}

async function waitListening(p: number, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const c = tcpConnect(p, "127.0.0.1");
      c.on("connect", () => {
        c.destroy();
        res(true);
      });
      c.on("error", () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`herald did not listen on ${p}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
