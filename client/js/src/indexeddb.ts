import type { Storage } from "./storage.js";

// The SDK is compiled without the DOM library (it runs in Node and React
// Native too), so the few IndexedDB shapes it uses are written out here.
// The browser's own objects satisfy them.

/** The part of an IDBRequest that IndexedDBStorage uses. */
export interface IDBRequestLike<T = unknown> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** The part of an IDBOpenDBRequest that IndexedDBStorage uses. */
export interface IDBOpenRequestLike extends IDBRequestLike<IDBDatabaseLike> {
  onupgradeneeded: ((ev: unknown) => void) | null;
}

/** The part of an IDBDatabase that IndexedDBStorage uses. */
export interface IDBDatabaseLike {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: "readonly" | "readwrite"): IDBTransactionLike;
  close(): void;
  onversionchange: ((ev: unknown) => void) | null;
  onclose?: ((ev: unknown) => void) | null;
}

/** The part of an IDBTransaction that IndexedDBStorage uses. */
export interface IDBTransactionLike {
  readonly error: unknown;
  objectStore(name: string): IDBObjectStoreLike;
  oncomplete: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onabort: ((ev: unknown) => void) | null;
}

/** The part of an IDBObjectStore that IndexedDBStorage uses. */
export interface IDBObjectStoreLike {
  get(key: string): IDBRequestLike;
  put(value: unknown, key: string): IDBRequestLike;
  delete(key: string): IDBRequestLike;
}

/** The part of an IDBFactory (the global indexedDB) that IndexedDBStorage uses. */
export interface IDBFactoryLike {
  open(name: string, version?: number): IDBOpenRequestLike;
}

/** The one object store of the database; keys are out of line, values strings. */
const STORE = "kv";

/**
 * IndexedDBStorage keeps the client's state (each channel's lastSeq, the
 * outbox) in IndexedDB: unlike localStorage it is available in service
 * workers and web workers, does not block the page on writes, and is not
 * capped at a few megabytes, so a long offline outbox fits.
 *
 * It uses one database (default name "herald") with one object store. The
 * database is opened on first use, once; a failed open is tried again on
 * the next call. Every get, set and delete is its own transaction, and a
 * set or delete resolves only when its transaction has completed, so that
 * what the client counts as stored survives a reload. Another tab that
 * upgrades the database makes this one close it and open it again on the
 * next call.
 *
 * @example
 * ```ts
 * const client = new HeraldClient({ url, token, storage: new IndexedDBStorage() });
 * ```
 */
export class IndexedDBStorage implements Storage {
  private readonly factory: IDBFactoryLike;
  private db: Promise<IDBDatabaseLike> | undefined;

  /**
   * Uses the database called name in factory (default: the global
   * indexedDB); throws when there is no IndexedDB in this environment.
   */
  constructor(
    readonly name = "herald",
    factory?: IDBFactoryLike,
  ) {
    const f = factory ?? (globalThis as { indexedDB?: IDBFactoryLike }).indexedDB;
    if (!f) throw new Error("herald: no IndexedDB in this environment: pass an IDBFactory, or use another Storage");
    this.factory = f;
  }

  /** Returns the value stored under key, or undefined when there is none. */
  async get(key: string): Promise<string | undefined> {
    const db = await this.open();
    const tx = db.transaction(STORE, "readonly");
    const v = await request(tx.objectStore(STORE).get(key));
    return typeof v === "string" ? v : undefined;
  }

  /** Stores value under key; resolves once the write is committed. */
  async set(key: string, value: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(STORE, "readwrite");
    tx.objectStore(STORE).put(value, key);
    await completed(tx);
  }

  /** Removes key (a missing key is not an error); resolves once committed. */
  async delete(key: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(STORE, "readwrite");
    tx.objectStore(STORE).delete(key);
    await completed(tx);
  }

  /** Closes the database; the next call opens it again. */
  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }

  /** open opens the database once and creates the store the first time. */
  private open(): Promise<IDBDatabaseLike> {
    if (this.db) return this.db;
    const opened: Promise<IDBDatabaseLike> = new Promise((resolve, reject) => {
      // Version 1 is the only one: an upgrade happens only when the
      // database is created, so no other connection can block it.
      const req = this.factory.open(this.name, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
      };
      req.onsuccess = () => {
        const db = req.result;
        const forget = () => {
          if (this.db === opened) this.db = undefined;
        };
        // Another tab deletes or upgrades the database: let it, and open
        // again on the next call.
        db.onversionchange = () => {
          db.close();
          forget();
        };
        // The browser closed it (site data cleared, disk error).
        db.onclose = forget;
        resolve(db);
      };
      req.onerror = () => reject(asError(req.error, `open ${this.name}`));
    });
    this.db = opened;
    // A failed open is not kept: the next call tries again.
    opened.catch(() => {
      if (this.db === opened) this.db = undefined;
    });
    return opened;
  }
}

/** request resolves with req's result. */
function request<T>(req: IDBRequestLike<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(asError(req.error, "request"));
  });
}

/** completed resolves when tx has committed, and rejects when it fails or aborts. */
function completed(tx: IDBTransactionLike): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(asError(tx.error, "transaction"));
    tx.onabort = () => reject(asError(tx.error, "transaction aborted"));
  });
}

function asError(e: unknown, what: string): Error {
  if (e instanceof Error) return e;
  const msg = (e as { message?: string } | null)?.message;
  return new Error(`herald: IndexedDB ${what}${msg ? ": " + msg : ""}`);
}
