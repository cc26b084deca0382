/** The environment events the client reacts to. */
export type EnvironmentEvent = "online" | "offline" | "visibilitychange";

/** Why the client holds its connection closed: the app is hidden, or the device is offline. */
export type PauseReason = "hidden" | "offline";

/**
 * Environment is what the client needs of its host to reconnect at once
 * when the network comes back ("online") or the app is visible again
 * ("visibilitychange"), to close while the app is hidden, and to drop its
 * connection when the device goes offline ("offline"): a socket often
 * outlives the network in silence until the ping times out, and
 * attempts while offline only burn battery.
 */
export interface Environment {
  /** Calls listener on each event of type; may return a function that removes it. */
  addEventListener(type: EnvironmentEvent, listener: () => void): (() => void) | void;
  /** "visible" when the app is in the foreground; anything else counts as hidden. */
  visibilityState(): string;
  /** Whether the device has a network; without this method it is taken to have one. */
  online?(): boolean;
}

interface EventTargetLike {
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
}

/** The browser's environment (window and document), or undefined outside a browser. */
export function browserEnvironment(): Environment | undefined {
  const g = globalThis as {
    window?: EventTargetLike;
    document?: EventTargetLike & { visibilityState?: string };
    navigator?: { onLine?: boolean };
  };
  const win = g.window;
  const doc = g.document;
  if (!win?.addEventListener && !doc?.addEventListener) return undefined;
  return {
    addEventListener(type, fn) {
      const target = type === "visibilitychange" ? doc : win;
      if (!target?.addEventListener) return;
      target.addEventListener(type, fn);
      return () => target.removeEventListener(type, fn);
    },
    visibilityState: () => doc?.visibilityState ?? "visible",
    online: () => g.navigator?.onLine !== false,
  };
}

/** What an EnvironmentWatcher needs of the client it drives. */
export interface EnvironmentHooks {
  /** Whether the client is closed for good. */
  stopped(): boolean;
  /** Lifts the pause for reason and connects at once when no pause is left and the client waits to reconnect. */
  wake(reason: PauseReason): void;
  /** Closes the connection and keeps it closed until wake(reason). */
  pause(reason: PauseReason): void;
}

/**
 * EnvironmentWatcher listens to an environment: it pauses the client when
 * the device goes offline and once the app has been hidden for
 * hiddenGrace ms, and wakes it when the network comes back or the app is
 * visible again.
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
    const handlers = {
      online: () => this.hooks.wake("offline"),
      offline: () => this.onOffline(),
      visibilitychange: () => this.onVisibility(),
    };
    for (const type of ["online", "offline", "visibilitychange"] as const) {
      const off = env.addEventListener(type, handlers[type]);
      if (off) this.off.push(off);
    }
    if (env.online?.() === false) this.onOffline();
    if (env.visibilityState() !== "visible") this.onVisibility();
  }

  /** Stops listening and forgets a pending pause. */
  stop(): void {
    clearTimeout(this.hiddenTimer);
    for (const off of this.off) off();
    this.off = [];
  }

  private onOffline(): void {
    // Browsers fire offline only when no interface is up; a flaky link
    // that still reports online is left to the ping.
    if (!this.hooks.stopped() && this.env?.online?.() !== true) this.hooks.pause("offline");
  }

  private onVisibility(): void {
    if (this.hooks.stopped() || !this.env) return;
    if (this.env.visibilityState() === "visible") {
      clearTimeout(this.hiddenTimer);
      this.hiddenTimer = undefined;
      this.hooks.wake("hidden");
      return;
    }
    if (this.hiddenTimer) return;
    this.hiddenTimer = setTimeout(() => {
      this.hiddenTimer = undefined;
      if (this.env?.visibilityState() !== "visible") this.hooks.pause("hidden");
    }, this.hiddenGrace);
  }
}
