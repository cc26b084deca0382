/** A listener of an event whose argument is E. */
export type Listener<E> = (event: E) => void;

/**
 * Emitter is a small typed event emitter: Events maps each event name to
 * the type of its argument. A listener that throws does not stop the others.
 */
export class Emitter<Events> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds a listener and returns a function that removes it. */
  on<K extends keyof Events>(name: K, fn: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(fn as Listener<never>);
    return () => this.off(name, fn);
  }

  /** Removes a listener. */
  off<K extends keyof Events>(name: K, fn: Listener<Events[K]>): void {
    this.listeners.get(name)?.delete(fn as Listener<never>);
  }

  /** Calls every listener of name with event (used by the client). */
  emit<K extends keyof Events>(name: K, event: Events[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<Events[K]>)(event);
      } catch (err) {
        // A listener's bug must not break the client's state machine.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
