/**
 * Storage keeps the client's state across reloads: each channel's lastSeq
 * and the outbox of unacked publishes. Implement it over localStorage,
 * IndexedDB or React Native's AsyncStorage. Every method may be async.
 */
export interface Storage {
  /** Returns the value stored under key, or null/undefined when there is none. */
  get(key: string): Promise<string | null | undefined> | string | null | undefined;
  /** Stores value under key. */
  set(key: string, value: string): Promise<void> | void;
  /** Removes key; removing a missing key is not an error. */
  delete(key: string): Promise<void> | void;
}

/** MemoryStorage keeps values in a Map: state lives as long as the object. */
export class MemoryStorage implements Storage {
  /** The stored values, by key. */
  readonly data = new Map<string, string>();

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  set(key: string, value: string): void {
    this.data.set(key, value);
  }

  delete(key: string): void {
    this.data.delete(key);
  }
}

/** The part of the Web Storage API that LocalStorage uses. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * LocalStorage stores values in a Web Storage object, by default the
 * browser's localStorage, so that a page reload resumes where it stopped.
 */
export class LocalStorage implements Storage {
  private readonly store: WebStorageLike;

  constructor(store?: WebStorageLike) {
    const s = store ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
    if (!s) throw new Error("herald: no localStorage in this environment");
    this.store = s;
  }

  get(key: string): string | null {
    return this.store.getItem(key);
  }

  set(key: string, value: string): void {
    this.store.setItem(key, value);
  }

  delete(key: string): void {
    this.store.removeItem(key);
  }
}
