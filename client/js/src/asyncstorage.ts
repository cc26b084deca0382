import type { Storage } from "./storage.js";

/**
 * The part of React Native's AsyncStorage that AsyncStorageAdapter uses
 * (`@react-native-async-storage/async-storage` has this shape). The SDK
 * takes it as a parameter rather than importing it, so that it keeps no
 * runtime dependency and works wherever an object of this shape exists.
 */
export interface AsyncStorageLike {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

/**
 * AsyncStorageAdapter keeps the client's state (each channel's lastSeq,
 * the outbox) in React Native's AsyncStorage, so that an app killed in the
 * background resumes where it stopped and resends what was never acked.
 *
 * AsyncStorage is one flat namespace shared by the whole app, so every key
 * gets a prefix, "herald:" by default. The client adds its own
 * storagePrefix too; the adapter's prefix is what keeps the SDK's keys
 * apart from the app's even when the client's prefix is set to "".
 *
 * @example
 * ```ts
 * import AsyncStorage from "@react-native-async-storage/async-storage";
 * const client = new HeraldClient({ url, token, storage: new AsyncStorageAdapter(AsyncStorage) });
 * ```
 */
export class AsyncStorageAdapter implements Storage {
  /**
   * Wraps store; prefix is put before every key (default "herald:";
   * pass "" for none).
   */
  constructor(
    private readonly store: AsyncStorageLike,
    readonly prefix = "herald:",
  ) {
    if (!store || typeof store.getItem !== "function") throw new Error("herald: AsyncStorageAdapter needs an AsyncStorage object");
  }

  /** Returns the value stored under key, or null. */
  get(key: string): Promise<string | null> {
    return this.store.getItem(this.prefix + key);
  }

  /** Stores value under key. */
  set(key: string, value: string): Promise<void> {
    return this.store.setItem(this.prefix + key, value);
  }

  /** Removes key; a missing key is not an error. */
  delete(key: string): Promise<void> {
    return this.store.removeItem(this.prefix + key);
  }
}
