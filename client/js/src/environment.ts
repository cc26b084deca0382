/** The environment events the client reacts to. */
export type EnvironmentEvent = "online" | "visibilitychange";

/**
 * Environment is what the client needs of its host to reconnect at once
 * when the network comes back ("online") or the app is visible again
 * ("visibilitychange"), and to close while the app is hidden.
 */
export interface Environment {
  /** Calls listener on each event of type; may return a function that removes it. */
  addEventListener(type: EnvironmentEvent, listener: () => void): (() => void) | void;
  /** "visible" when the app is in the foreground; anything else counts as hidden. */
  visibilityState(): string;
}

interface EventTargetLike {
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
}

/** The browser's environment (window and document), or undefined outside a browser. */
export function browserEnvironment(): Environment | undefined {
  const g = globalThis as { window?: EventTargetLike; document?: EventTargetLike & { visibilityState?: string } };
  const win = g.window;
  const doc = g.document;
  if (!win?.addEventListener && !doc?.addEventListener) return undefined;
  return {
    addEventListener(type, fn) {
      const target = type === "online" ? win : doc;
      if (!target?.addEventListener) return;
      target.addEventListener(type, fn);
      return () => target.removeEventListener(type, fn);
    },
    visibilityState: () => doc?.visibilityState ?? "visible",
  };
}

/** What an EnvironmentWatcher needs of the client it drives. */
export interface EnvironmentHooks {
  /** Whether the client is closed for good. */
  stopped(): boolean;
  /** Whether the client closed its connection because the app is hidden. */
  paused(): boolean;
  /** Connects at once when the client is paused or waiting to reconnect. */
  wake(): void;
  /** Closes the connection while the app is hidden. */
  pause(): void;
}

/**
 * EnvironmentWatcher listens to an environment: it wakes the client when
 * the network comes back or the app is visible again, and pauses it once
 * the app has been hidden for hiddenGrace ms.
 */
export class EnvironmentWatcher {
  private off: (() => void)[] = [];
  private hiddenTimer?: ReturnType<typeof setTimeout>;

  /** Watches env (nothing when undefined) on behalf of hooks. */
  constructor(
    private readonly env: Environment | undefined,
    private readonly hiddenGrace: number,
    private readonly hooks: EnvironmentHooks,
  ) {}

  /** Starts listening; pauses later if the app is already hidden. */
  start(): void {
    const env = this.env;
    if (!env) return;
    for (const type of ["online", "visibilitychange"] as const) {
      const off = env.addEventListener(type, () => (type === "online" ? this.onOnline() : this.onVisibility()));
      if (off) this.off.push(off);
    }
    if (env.visibilityState() !== "visible") this.onVisibility();
  }

  /** Stops listening and forgets a pending pause. */
  stop(): void {
    clearTimeout(this.hiddenTimer);
    for (const off of this.off) off();
    this.off = [];
  }

  private onOnline(): void {
    if (!this.hooks.paused()) this.hooks.wake();
  }

  private onVisibility(): void {
    if (this.hooks.stopped() || !this.env) return;
    if (this.env.visibilityState() === "visible") {
      clearTimeout(this.hiddenTimer);
      this.hiddenTimer = undefined;
      this.hooks.wake();
      return;
    }
    if (this.hiddenTimer || this.hooks.paused()) return;
    this.hiddenTimer = setTimeout(() => {
      this.hiddenTimer = undefined;
      if (this.env?.visibilityState() !== "visible") this.hooks.pause();
    }, this.hiddenGrace);
  }
}
